"""Which GAN when, measured: every GAN family on its task at one equal CPU budget, several seeds (issue 30, part 2).

    nohup python benchmarks/gan_variants.py > gan-variants.log 2>&1 &    # ~30 min: 10 families x 3 seeds, 2 at a time
    python benchmarks/gan_variants.py --render                            # rebuild the page from the JSON
    python benchmarks/gan_variants.py --tiny --out /tmp/gv.json           # seconds: the test path

MNIST (gan, cgan, dcgan, cdcgan, wgan, wgan-gp) and shapes64 (dcgan64, stylegan-lite) families train and are
scored by ``genlab.bench.recipes.run_recipe`` (their ``small`` presets); pix2pix (digits-outline) and cyclegan
(digits-thickness) train through ``genlab.training.train`` and are scored with benchmarks/translation.py's L1 / SSIM
against the true target and the copy-the-input baseline. Each run is one fresh process with one torch thread (so
its peak memory is its own); ``--workers`` run at once. Every run is stored in the JSON as soon as it ends, and a
run already stored (same family, seed and budget) is kept, so a stopped benchmark resumes. The rules and the page
live in benchmarks/gan_variants_page.py.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, NoReturn

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import torch  # noqa: E402
from gan_variants_page import FAMILIES, TRANSLATION, render  # noqa: E402

from genlab.atomic import atomic_write_text  # noqa: E402
from genlab.bench.recipes import Recipe, run_recipe  # noqa: E402
from genlab.config import TrainConfig, from_dict  # noqa: E402
from genlab.errors import GenlabError  # noqa: E402
from genlab.models.registry import get_family  # noqa: E402
from genlab.runs import RunConfig, load_family, read_metrics  # noqa: E402
from genlab.training import StepClock, train  # noqa: E402

ROOT = BENCHMARKS.parent
DEFAULT_OUT = ROOT / "docs" / "results" / "gan-variants.json"
TRANSLATION_BATCH = {"pix2pix": 32, "cyclegan": 8}  # as benchmarks/translation.py trains them
MAX_JSON_BYTES = 20 * 2**20


class ArgumentError(ValueError):
    """A bad command-line argument: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage + error
        raise ArgumentError(message)


def nonfinite_loss(records: list[dict[str, Any]]) -> bool:
    """Whether any logged number of a training record is NaN or infinite."""
    return any(isinstance(v, float) and not math.isfinite(v) for rec in records if "step" in rec for v in rec.values())


def cost(run_dir: Path) -> dict[str, Any]:
    """Median ms per step over the logged windows, the largest peak RSS, non-finite losses, from metrics.jsonl."""
    records = read_metrics(run_dir)
    steps = sorted(rec["step_s"] for rec in records if "step_s" in rec)
    peaks = [rec["peak_rss_mb"] for rec in records if "peak_rss_mb" in rec]
    median = (steps[(len(steps) - 1) // 2] + steps[len(steps) // 2]) / 2 if steps else math.nan
    return {
        "step_ms": 1000 * median,
        "peak_mb": max(peaks, default=math.nan),
        "nonfinite_loss": nonfinite_loss(records),
    }


def score_translation(family_name: str, run_dir: Path, n: int) -> dict[str, float]:
    """L1 / PSNR / SSIM of the translations of the first ``n`` test pairs against the truth, and of the input copied
    (cyclegan: the mean of its two directions)."""
    from translation import DROPOUT_SEED, as_float, batched, quality

    from genlab.data.translation import translation_ground_truth

    family, _, _ = load_family(run_dir)
    a, b, _ = translation_ground_truth(FAMILIES[family_name][0])
    x, y = as_float(a[:n]), as_float(b[:n])
    if family_name == "pix2pix":
        g = torch.Generator().manual_seed(DROPOUT_SEED)
        pairs = [(batched(lambda v: family.translate(v, g), x), y, x)]
    else:
        pairs = [
            (batched(lambda v: family.translate(v, "a2b"), x), y, x),
            (batched(lambda v: family.translate(v, "b2a"), y), x, y),
        ]
    out: dict[str, float] = {}
    for prefix, index in (("", 0), ("copy_", 2)):
        qs = [quality(p[index], p[1]) for p in pairs]
        out |= {f"{prefix}{k}": sum(q[k] for q in qs) / len(qs) for k in ("l1", "psnr", "ssim")}
    return out


def train_translation(family_name: str, seed: int, run_dir: Path, minutes: float, log_every: int) -> None:
    spec = get_family(family_name)
    model = spec.config_cls(**spec.presets["small"])
    tc = from_dict(
        TrainConfig,
        {
            "dataset": spec.dataset,
            "steps": 10**7,
            "seed": seed,
            "max_minutes": minutes,
            "batch_size": TRANSLATION_BATCH[family_name],
            "log_every": log_every,
        },
    )
    train(RunConfig(spec.name, model, tc), run_dir, quiet=True, clock=StepClock())


def recipe_of(family: str, minutes: float, log_every: int) -> Recipe:
    """The family's ``small`` preset at ``minutes``, logging step time and memory every ``log_every`` steps."""
    sets = {"batch_size": str(TRANSLATION_BATCH[family])} if family in TRANSLATION else {}
    return Recipe(family, minutes, sets=sets | {"log_every": str(log_every)})


def measure_run(
    family: str, seed: int, run_dir: str, minutes: float, n: int, reference_n: int, log_every: int
) -> dict[str, Any]:
    """Train and score one (family, seed) on one thread; a run that diverged is recorded, not raised."""
    from genlab.training.faults import TrainingDiverged

    torch.set_num_threads(1)
    path = Path(run_dir)
    start = time.perf_counter()
    recipe = recipe_of(family, minutes, log_every)
    row: dict[str, Any] = {"family": family, "seed": seed, "minutes": minutes, "command": recipe.command(seed)}
    try:
        if family in TRANSLATION:
            train_translation(family, seed, path, minutes, log_every)
            row["scores"] = score_translation(family, path, n)
        else:
            result = run_recipe(recipe, seed, path, n=n, reference_n=reference_n)
            row["scores"] = result["scores"]
        fam, _, meta = load_family(path)
        row["steps"], row["params"] = int(meta["step"]), fam.num_parameters()
    except TrainingDiverged as e:
        row["scores"], row["diverged"] = {"fid": math.nan, "l1": math.nan}, str(e).splitlines()[0]
        row["steps"], row["params"] = 0, 0
    row |= cost(path)
    if row.get("diverged"):
        row["nonfinite_loss"] = True
    row["wall_s"] = time.perf_counter() - start
    row["load_after"] = [round(v, 2) for v in os.getloadavg()]
    return row


def parse_list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items or len(set(items)) != len(items):
        raise ArgumentError(f"{what} must be a comma-separated list of distinct values, got {text!r}")
    return items


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = Parser(description=__doc__.splitlines()[0])
    p.add_argument("--families", default=",".join(FAMILIES), help="comma-separated (default: all ten)")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--minutes", type=float, default=1.5, help="wall-clock training budget of every run")
    p.add_argument("--workers", type=int, default=2, help="runs at a time, one process and one thread each")
    p.add_argument("-n", type=int, default=1000, help="samples scored (translation: test pairs)")
    p.add_argument("--reference-n", type=int, default=5000)
    p.add_argument("--runs", type=Path, default=ROOT / "runs" / "gan-variants")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON; the page is written next to it (.md)")
    p.add_argument("--log-every", type=int, default=10, help="steps between step-time / memory records")
    p.add_argument("--render", action="store_true", help="rebuild the page from the JSON only")
    p.add_argument("--tiny", action="store_true", help="one family (gan), seed 0, ~1 s of training: the test path")
    args = p.parse_args(argv)
    if args.tiny:
        args.families, args.seeds, args.minutes, args.workers = (
            args.families if "--families" in argv else "gan",
            "0",
            0.01,
            1,
        )
        args.n, args.reference_n, args.log_every = 60, 60, 2
    args.families = parse_list(args.families, "--families")
    unknown = [f for f in args.families if f not in FAMILIES]
    if unknown:
        raise ArgumentError(f"--families: unknown {', '.join(unknown)}; choose from {', '.join(FAMILIES)}")
    try:
        args.seeds = [int(s) for s in parse_list(args.seeds, "--seeds")]
    except ValueError as e:
        raise ArgumentError(f"--seeds must be distinct integers, got {args.seeds!r}") from e
    for name, value in (
        ("--minutes", args.minutes),
        ("--workers", args.workers),
        ("-n", args.n),
        ("--log-every", args.log_every),
    ):
        if not value > 0:
            raise ArgumentError(f"{name} must be > 0, got {value}")
    if args.reference_n < 2:
        raise ArgumentError(f"--reference-n must be >= 2, got {args.reference_n}")
    return args


def read_json(path: Path) -> dict[str, Any]:
    if not path.is_file() or path.stat().st_size > MAX_JSON_BYTES:
        raise ArgumentError(f"{path} is not a regular file under {MAX_JSON_BYTES >> 20} MiB; run the benchmark first")
    return json.loads(path.read_text())


def write(path: Path, result: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(result, indent=1))
    atomic_write_text(path.with_suffix(".md"), render(result))


def run(args: argparse.Namespace, argv: list[str]) -> None:
    start = time.perf_counter()
    header = {
        "command": shlex.join(["python", "benchmarks/gan_variants.py", *argv]),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip()
        + f", Python {platform.python_version()}",
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "workers": args.workers,
        "families": args.families,
        "seeds": args.seeds,
        "minutes": args.minutes,
        "log_every": args.log_every,
        "n": args.n,
        "reference_n": args.reference_n,
        "translation_n": args.n,
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_start": [round(v, 2) for v in os.getloadavg()],
    }
    kept = []
    if args.out.is_file():
        old = read_json(args.out)
        kept = [r for r in old["runs"] if r["minutes"] == args.minutes and "error" not in r]
    done = {(r["family"], r["seed"]) for r in kept}
    result = {"header": header, "runs": kept}
    # seed-major order: a stopped benchmark leaves whole seeds of every family rather than all seeds of a few
    jobs = [(f, s) for s in args.seeds for f in args.families if (f, s) not in done]
    print(f"{len(jobs)} runs to do, {len(kept)} kept", flush=True)

    def finish(job: tuple[str, int], row: dict[str, Any]) -> None:
        result["runs"].append(row)
        header["wall_s"] = time.perf_counter() - start
        header["load_end"] = [round(v, 2) for v in os.getloadavg()]
        write(args.out, result)
        print(f"{job[0]} seed {job[1]}: {json.dumps(row.get('scores'))} steps {row.get('steps')}", flush=True)

    def call(f: str, s: int) -> tuple:
        return (f, s, str(args.runs / f"{f}-s{s}"), args.minutes, args.n, args.reference_n, args.log_every)

    if args.workers == 1:
        for job in jobs:
            finish(job, measure_run(*call(*job)))
    else:
        os.environ["OMP_NUM_THREADS"] = "1"
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=ctx, max_tasks_per_child=1) as pool:
            futures = {pool.submit(measure_run, *call(*job)): job for job in jobs}
            for fut in as_completed(futures):
                job = futures[fut]
                try:
                    row = fut.result()
                except Exception as e:  # one broken run is reported on the page; the others go on
                    row = {"family": job[0], "seed": job[1], "minutes": args.minutes, "error": repr(e)[:300]}
                finish(job, row)
    header["wall_s"] = time.perf_counter() - start
    header["load_end"] = [round(v, 2) for v in os.getloadavg()]
    write(args.out, result)
    print(f"wrote {args.out.with_suffix('.md')}", flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
        if args.render:
            write(args.out, read_json(args.out))
            print(f"wrote {args.out.with_suffix('.md')}")
        else:
            run(args, argv)
    except (ArgumentError, GenlabError) as e:
        print(f"gan_variants: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
