"""``genlab distill RUN --method progressive|consistency [--steps K] --out RUN2``: a few-step student.

The student is a new run (``ddpm-progressive`` or ``ddpm-consistency``) trained by the one
trainer, so it is budgeted (``--set max_minutes=``), checkpointed, resumable bit-exactly
(``genlab train --resume RUN2``), carded, and sampled with ``genlab sample RUN2``. Its config
pins the teacher: run directory, checkpoint step, weights hash and run id. Everything a user
can get wrong is checked before the run directory exists.
"""

from __future__ import annotations

import shutil
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from genlab.api import run_config, train_and_publish
from genlab.cli.app import DataDir, Quiet, app, out
from genlab.config import parse_sets
from genlab.errors import ConfigError, GenlabError
from genlab.marks.provenance import run_id
from genlab.models.ddpm import DDPM
from genlab.models.ldm import LatentDiffusion
from genlab.runs import RunConfig, find_checkpoint, load_checkpoint, read_config, weights_hash
from genlab.runs.device import resolve_device, resolve_device_for
from genlab.runs.loading import load_family

PROGRESSIVE_START = 64  # progressive rounds halve from the teacher's DDIM with this many steps, unless rounds= is set
CONSISTENCY_STEPS = 2000  # default optimisation steps of consistency distillation (--set steps= changes it)
FAMILIES = {"progressive": "ddpm-progressive", "consistency": "ddpm-consistency"}


class Method(str, Enum):
    progressive = "progressive"
    consistency = "consistency"


def progressive_rounds(k: int, start: int = PROGRESSIVE_START) -> tuple[int, ...]:
    """The rounds that halve the teacher's ``start`` DDIM steps down to ``k``: (start/2, start/4, ..., k)."""
    halvings, n = [], start
    while n % 2 == 0 and n >= 2:
        n //= 2
        halvings.append(n)
    if k not in halvings:
        raise ConfigError(
            f"progressive distillation halves the teacher's {start} DDIM steps, so --steps must be one of "
            f"{', '.join(map(str, halvings)) or 'none (--teacher-steps is odd)'}; got {k}"
        )
    return tuple(halvings[: halvings.index(k) + 1])


def teacher_fields(teacher: Path, checkpoint: str) -> tuple[dict[str, Any], Any]:
    """The config fields that pin the teacher (dir, checkpoint, weights hash, run id), and its run config.

    A directory that is not a run, a run that is not a ddpm/ldm, a missing or damaged
    checkpoint: one CheckpointError/ConfigError, before anything is written.
    """
    teacher_run = read_config(teacher)  # not a run directory: one line
    path = find_checkpoint(teacher, checkpoint)  # no such checkpoint: one line
    family, run, meta = load_family(teacher, checkpoint)  # damaged tensors or JSON: one line
    if not isinstance(family, (DDPM, LatentDiffusion)):
        raise ConfigError(
            f"{teacher} is a {run.family} run, not a diffusion run: distil a ddpm or ldm run (genlab train ddpm)"
        )
    load_checkpoint(path)  # the exact file pinned below loads too
    pinned = str(meta["step"]) if checkpoint == "latest" else checkpoint
    fields = {
        "teacher": str(teacher),
        "teacher_checkpoint": pinned,
        "teacher_hash": weights_hash(family.state_dict()["nets"]),
        "teacher_run_id": run_id(teacher_run.to_dict()),
    }
    return fields, family


def student_config(
    teacher: Path,
    method: Method,
    *,
    steps: int | None = None,
    checkpoint: str = "latest",
    guidance: float | None = None,
    teacher_steps: int = PROGRESSIVE_START,
    sets: dict[str, Any] | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
) -> RunConfig:
    """The student's checked RunConfig: the teacher pinned, K reachable, the length every round needs.

    Raises a one-line GenlabError for every bad input; writes nothing. ``sets`` are ``--set``
    keys of the student or the trainer; without ``steps``/``epochs`` there, progressive runs
    ``len(rounds) * round_steps`` steps and consistency ``CONSISTENCY_STEPS``.
    """
    if steps is not None and steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    sets = dict(sets or {})
    pinned, family = teacher_fields(teacher, checkpoint)
    name = FAMILIES[method.value]
    base: dict[str, Any] = {**pinned, "guidance": family.cfg.guidance if guidance is None else guidance}
    if method is Method.progressive and "rounds" not in sets:
        base["rounds"] = progressive_rounds(4 if steps is None else steps, teacher_steps)  # K unreachable: one line
    if steps is not None or method is Method.consistency:
        base["sample_steps"] = 1 if steps is None else steps
    base.update(sets)
    flags = {"dataset": read_config(teacher).train.dataset, "batch_size": batch_size, "seed": seed}
    flags = {k: v for k, v in flags.items() if v is not None}
    probe = run_config(name, sets=base, **flags)
    if method is Method.progressive:
        if steps is None and "sample_steps" not in sets:
            base["sample_steps"] = probe.model.rounds[-1]
        elif probe.model.rounds[-1] != probe.model.sample_steps:
            raise ConfigError(
                f"rounds end at {probe.model.rounds[-1]} steps but --steps is {probe.model.sample_steps}: make "
                "them agree"
            )
    if "steps" not in sets and "epochs" not in sets:  # the default length: every round, or the consistency budget
        rounds = probe.model.rounds if method is Method.progressive else ()
        base["steps"] = len(rounds) * probe.model.round_steps if rounds else CONSISTENCY_STEPS
    return run_config(name, sets=base, **flags)


@app.command()
def distill(
    teacher: Annotated[Path, typer.Argument(help="A trained ddpm or ldm run directory (the teacher).")],
    method: Annotated[Method, typer.Option("--method", help="progressive (Salimans & Ho) or consistency (Song).")],
    out_dir: Annotated[Path, typer.Option("--out", help="The student's new run directory.")],
    steps: Annotated[
        int | None,
        typer.Option(
            help="Sampling steps K of the student (progressive: --teacher-steps halved, default 4; consistency: "
            "1..ode_steps, default 1)."
        ),
    ] = None,
    teacher_steps: Annotated[
        int,
        typer.Option(
            "--teacher-steps", help="Progressive: the teacher's DDIM steps the rounds halve from (a power of 2 x K)."
        ),
    ] = PROGRESSIVE_START,
    checkpoint: Annotated[str, typer.Option(help="The teacher's checkpoint: latest, best or a step.")] = "latest",
    guidance: Annotated[
        float | None, typer.Option(help="Classifier-free guidance w to distil (default: the teacher's own).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Batch size (default 128).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any student or trainer key: --set round_steps=300, --set max_minutes=20, ..."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    """Distil a trained diffusion run into a student that samples in a few steps (a new run)."""
    resolve_device(device)
    if (out_dir / "config.yaml").exists():
        raise ConfigError(f"{out_dir} already holds a run; continue it with `genlab train --resume {out_dir}`")
    run = student_config(
        teacher,
        method,
        steps=steps,
        checkpoint=checkpoint,
        guidance=guidance,
        teacher_steps=teacher_steps,
        sets=parse_sets(set_ or []),
        batch_size=batch_size,
        seed=seed,
    )
    where = resolve_device_for(device, ("cpu", "cuda", "mps"))
    existed = out_dir.exists()
    try:
        result = train_and_publish(
            run, out_dir, data_dir=data_dir, quiet=quiet, device=where, evaluate=_evaluator(run, data_dir)
        )
    except GenlabError:
        if not existed and out_dir.is_dir() and not (out_dir / "checkpoints").exists():
            shutil.rmtree(out_dir)  # a run that failed before its first checkpoint leaves nothing behind
        raise
    if result.interrupted and not result.budget_reached:
        out.print(
            f"stopped at step {result.step}/{result.total_steps}; continue with: genlab train --resume {out_dir}"
        )
        raise typer.Exit(130)
    out.print(
        f"distilled {teacher} ({method.value}, w = {run.model.guidance:g}) into {out_dir} in {result.step} steps "
        f"({result.wall_seconds:.0f} s); sample it in {run.model.sample_steps} step(s): genlab sample {out_dir}"
    )


def _evaluator(run, data_dir: Path | None):
    """The suite's scorer for in-training FID when ``--set eval_every=N`` asks for it (as ``genlab train``)."""
    if not run.train.eval_every:
        return None
    from genlab.eval.evaluate import Evaluator, load_reference
    from genlab.eval.extractors import get_extractor

    extractor = get_extractor("shapes" if run.train.dataset == "shapes64" else "digits")
    return Evaluator(load_reference(f"{run.train.dataset}-test", data_dir), extractor)
