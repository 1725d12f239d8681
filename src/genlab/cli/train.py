"""``genlab train``, ``sample``, ``list`` and ``demo``."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
import typer
from rich.table import Table

from genlab.api import extend, run_config, train_and_publish
from genlab.cli.app import SEED_RANGE, DataDir, Quiet, app, out
from genlab.cli.data import CacheDir, use_cache_dir, warn_no_license
from genlab.config import BUDGET_ONLY_STEPS, parse_sets
from genlab.console import Progress
from genlab.data import is_named, save_grid
from genlab.data.samples import save_samples_stream
from genlab.errors import ConfigError, short_repr
from genlab.files import is_inside
from genlab.models.registry import family_names, get_family
from genlab.models.text_ddpm import sample_prompt
from genlab.runs import RunConfig
from genlab.runs.device import resolve_device, resolve_device_for
from genlab.runs.loading import iter_sample_batches, load_family
from genlab.runs.lock import run_lock
from genlab.runs.marks import png_options, sample_fields
from genlab.runs.rundir import find_checkpoint, read_config
from genlab.training import distributed

MAX_PROMPT_IMAGES = 10_000  # prompt sampling holds its images in memory (genlab.models.text_ddpm.sample_prompt)
GRID_MAX = 256  # images in a --grid PNG at most (16 x 16): more would be an unreadable, huge picture


@app.command("list")
def list_families() -> None:
    """List the registered model families, the image sizes each builds at and its presets."""
    table = Table("family", "description", "sizes", "presets")
    for name in family_names():
        spec = get_family(name)
        table.add_row(name, spec.description, spec.shapes.summary(), ", ".join(spec.presets) or "-")
    out.print(table)


@app.command()
def train(
    ctx: typer.Context,
    family: Annotated[str | None, typer.Argument(help="Model family (see `genlab list`); omit with --resume.")] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--data",
            "--dataset",
            help="What to train on: a data set name (mnist, shapes64, ...; default the family's own) or a path: a "
            "folder of images (PNG, JPEG, WebP, BMP, GIF; class sub-folders are labels; train/ and test/ give the "
            "splits), a .zip or .tar(.gz) of one, a folder of IDX files (Fashion-MNIST, KMNIST, EMNIST...), the "
            "CIFAR-10/100 binary version, or a .npz/.npy of uint8 images. Prepared once into the cache "
            "(`genlab data prepare`).",
        ),
    ] = None,
    image_size: Annotated[
        int | None,
        typer.Option(
            "--image-size", help="Square side the data is prepared at (default: its own, rounded to 28/32/64/128)."
        ),
    ] = None,
    channels: Annotated[
        int | None, typer.Option("--channels", help="1 (grey) or 3 (RGB) (default: the data's own).")
    ] = None,
    crop: Annotated[
        str | None,
        typer.Option("--crop", help="center: the centre square (default); none: pad to a square with --background."),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            "--labels",
            help="auto: class folders are labels when every image sits in one (default); folders: require them; none.",
        ),
    ] = None,
    test_fraction: Annotated[
        float | None,
        typer.Option("--test-fraction", help="Held out (seeded) when the data has no test split (default 0.1)."),
    ] = None,
    background: Annotated[
        str | None,
        typer.Option("--background", help="Colour for transparent pixels and padding (default white, or #rrggbb)."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="A corrupt or unreadable image is an error (default: skipped, counted).")
    ] = False,
    pairs: Annotated[
        str | None,
        typer.Option(
            "--pairs",
            help="Image pairs for pix2pix/cyclegan: auto (default: pix2pix paired, cyclegan unpaired), paired (A/ and "
            "B/ folders with matching file names, else side-by-side A|B images), ab, side-by-side, unpaired (two "
            "domain folders A/ B/ or trainA/ trainB/ testA/ testB/), none.",
        ),
    ] = None,
    data_license: Annotated[
        str | None,
        typer.Option("--data-license", help="The licence of your data, quoted in the model card (e.g. CC-BY-4.0)."),
    ] = None,
    cache_dir: CacheDir = None,
    steps: Annotated[int | None, typer.Option(help="Total optimisation steps (overrides --epochs).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Total epochs (default 1).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Batch size (default 128).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).", **SEED_RANGE)] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Run directory (default runs/FAMILY, numbered if taken).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="YAML with family/model/train keys (a run's config.yaml works).")
    ] = None,
    preset: Annotated[
        str | None, typer.Option(help="Named size preset of the family, e.g. small (CPU-sized).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override any config key: --set key=value (repeatable).")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue the run in this directory from its latest checkpoint.")
    ] = None,
    nproc: Annotated[
        int,
        typer.Option(
            "--nproc",
            help="Data-parallel processes on this machine (torch.distributed DDP, gloo; see docs/distributed.md).",
        ),
    ] = 1,
    device: Annotated[
        str, typer.Option("--device", help="auto (CUDA if present, else MPS, else CPU), cpu, cuda, cuda:N or mps.")
    ] = "auto",
    progress_every: Annotated[
        float | None,
        typer.Option(
            "--progress-every",
            help="Seconds between plain progress lines when stderr is not a terminal (default 30; "
            "train.progress_every). Also with --resume.",
        ),
    ] = None,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    """Train a model family; writes a run directory (config, checkpoints, sample grids, metrics).
    `--set tracker=tensorboard` also logs to RUN/tensorboard/ (pip install -e ".[track]")."""
    resolve_device(device)  # an unknown or missing device fails here, before anything starts
    use_cache_dir(cache_dir)
    if nproc != 1:
        return distributed.launch(nproc, argv_of(ctx, without=("nproc",)))
    if resume is not None:
        data_flags = (dataset, image_size, channels, crop, labels, test_fraction, background, pairs, data_license)
        if family is not None or config is not None or preset is not None or set_ or strict:
            raise ConfigError("--resume continues a run as configured; only --steps/--epochs may change")
        if any(v is not None for v in data_flags):
            raise ConfigError("--resume trains on the data in the run's config.yaml; drop --data and its options")
        if not (resume / "config.yaml").is_file():
            find_checkpoint(resume)  # fail early, with a clear message, when there is nothing to resume
        run = extend(read_config(resume), steps, epochs)
        if progress_every is not None:  # how the run is watched, not what it trains (not in its id)
            run = dataclasses.replace(run, train=dataclasses.replace(run.train, progress_every=progress_every))
            run.train.check()
    else:
        if dataset is not None and not is_named(dataset) and Path(dataset).expanduser().exists():
            dataset = str(Path(dataset).expanduser().resolve())  # config.yaml then works from any folder
        data = {
            "image_size": image_size,
            "channels": channels,
            "crop": crop,
            "labels": labels,
            "test_fraction": test_fraction,
            "background": background,
            "strict": True if strict else None,
            "pair_layout": pairs,
            "data_license": data_license,
        }
        sets = [*(set_ or []), *([f"progress_every={progress_every}"] if progress_every is not None else [])]
        run = _resolve_run(
            family,
            config,
            preset,
            sets,
            dataset=dataset,
            steps=steps,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            **data,
        )
    source = run.train.dataset
    if not is_named(source) and Path(source).expanduser().exists() and not run.train.data_license:
        warn_no_license(source)
    where = resolve_device_for(
        device, get_family(run.family).family_cls.device_types
    )  # auto: the CPU for NumPy families
    quiet = distributed.join_from_env(where) > 0 or quiet  # under torchrun: join the ranks; rank 0 alone talks
    if resume is not None:
        result = train_and_publish(
            run, resume, resume=True, data_dir=data_dir, quiet=quiet, evaluate=_evaluator(run, data_dir), device=where
        )
    else:
        run_dir = _fresh_run_dir(out_dir, run.family)
        distributed.barrier()  # every rank has chosen the run directory before rank 0 creates it
        result = train_and_publish(
            run, run_dir, data_dir=data_dir, quiet=quiet, evaluate=_evaluator(run, data_dir), device=where
        )
    _report(result, quiet)


@app.command()
def sample(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `genlab train`.")],
    n: Annotated[int, typer.Option("-n", help="Number of images.")] = 64,
    output: Annotated[
        Path,
        typer.Option(
            "-o",
            "--output",
            help="Output .npz (images uint8 N x H x W, labels for conditional models), or with --format png a new "
            "or empty folder (default: samples/).",
        ),
    ] = Path("samples.npz"),
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="npz (one array) or png (a folder of numbered PNG files, one per sample, that pytorch-fid, "
            "torch-fidelity and clean-fid read directly). Both are the copy for metrics: unmarked pixels, no visible "
            "or invisible mark; the PNGs carry only the provenance text chunks (AI-generated, model, seed).",
        ),
    ] = "npz",
    grid: Annotated[
        Path | None, typer.Option(help="Also save a PNG grid of the samples (the first 256 at most).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.", **SEED_RANGE)] = 0,
    checkpoint: Annotated[
        str, typer.Option(help="Which checkpoint: latest, best (lowest in-training FID) or a step number.")
    ] = "latest",
    labels: Annotated[str | None, typer.Option(help="Class labels for conditional models, e.g. 7 or 0,1,2.")] = None,
    prompt: Annotated[
        str | None,
        typer.Option(
            help='Text-conditioned families (text-ddpm, attr-gan): what to draw, e.g. "a red star motif on a cream '
            'background".'
        ),
    ] = None,
    sampler: Annotated[str | None, typer.Option(help="Diffusion sampler: ddim or ddpm (all T steps).")] = None,
    steps: Annotated[int | None, typer.Option(help="Diffusion: number of DDIM steps.")] = None,
    guidance: Annotated[
        float | None,
        typer.Option(help="Diffusion: classifier-free guidance w (0 unconditional, 1 conditional, >1 guided)."),
    ] = None,
    truncation: Annotated[
        float | None, typer.Option(help="StyleGAN: truncation psi in [0, 1] around the mean w (1 = none).")
    ] = None,
    eta: Annotated[float | None, typer.Option(help="Diffusion: DDIM eta in [0, 1] (0 deterministic).")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override a sampling-time config key: --set key=value.")
    ] = None,
    watermark_text: Annotated[
        str | None,
        typer.Option(
            "--watermark-text", help="Text of the grid's visible mark (default: the run's, \"AI GENERATED\")."
        ),
    ] = None,
    no_visible_watermark: Annotated[
        bool,
        typer.Option(
            "--no-visible-watermark",
            help="Leave the visible mark off the grid (prints a warning; the PNG metadata records it).",
        ),
    ] = False,
    sign_key: Annotated[
        Path | None,
        typer.Option(
            "--sign-key",
            help="Sign the grid's provenance with this Ed25519 private key (PEM, from `genlab keys new`).",
        ),
    ] = None,
    watermark_key: Annotated[
        Path | None,
        typer.Option(
            "--watermark-key", help="Embed the invisible mark in the grid with this key file (watermark.key)."
        ),
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="auto (CUDA if present, else MPS, else CPU), cpu, cuda, cuda:N or mps.")
    ] = "auto",
) -> None:
    """Draw samples from a trained run into an .npz (unmarked, for metrics) and optionally a PNG grid (marked, for
    people)."""
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    if fmt not in ("npz", "png"):
        raise ConfigError(f"--format must be npz or png, got {fmt!r}")
    if fmt == "png":
        output = Path("samples") if output == Path("samples.npz") else output
        if output.suffix == ".npz" or (output.exists() and (not output.is_dir() or any(output.iterdir()))):
            raise ConfigError(f"with --format png, -o must name a new or empty folder, got {output}")
    elif output.suffix != ".npz":
        raise ConfigError(f"-o must name a .npz file, got {output}")
    if prompt is not None and not prompt.strip():
        raise ConfigError('--prompt is empty: say what to draw, e.g. "a red star motif on a cream background"')
    if prompt is not None and n > MAX_PROMPT_IMAGES:
        raise ConfigError(f"--prompt draws at most {MAX_PROMPT_IMAGES} images per command, got -n {n}")
    options = {"sampler": sampler, "sample_steps": steps, "guidance": guidance, "eta": eta, "truncation": truncation}
    overrides = {**{k: v for k, v in options.items() if v is not None}, **parse_sets(set_ or [])}
    family, run, meta = load_family(run_dir, checkpoint, overrides, device=device)
    if prompt is not None and labels is not None:
        raise ConfigError("--prompt and --labels exclude each other: a prompt says what to draw")
    label_tensor = None if prompt is not None else _parse_labels(labels, n, family)
    publishing = {"visible_watermark": False} if no_visible_watermark else {}
    publishing.update(
        {
            k: str(v)
            for k, v in (("watermark_text", watermark_text), ("sign_key", sign_key), ("watermark_key", watermark_key))
            if v is not None
        }
    )
    tc = dataclasses.replace(run.train, **publishing)
    tc.check()
    if grid is not None and n > GRID_MAX:
        print(
            f"genlab: warning: --grid shows the first {GRID_MAX} of the {n} samples (all {n} are in {output})",
            file=sys.stderr,
        )
    fields = sample_fields(
        run.model, meta, checkpoint, seed, n, labels, **({"prompt": prompt} if prompt is not None else {})
    )
    # Writing into the run's own folder: wait for no one, but never write beside a training of it.
    inside = any(p is not None and is_inside(p, run_dir) for p in (output, grid))
    with (
        run_lock(run_dir, "genlab sample") if inside else contextlib.nullcontext(),
        Progress(f"sample: {n} images of {run_dir}", n, unit="images") as progress,
    ):
        if prompt is not None:
            batches = iter([sample_prompt(family, prompt, n, seed=seed)])  # an unknown word is a one-line error
        else:
            batches = iter_sample_batches(family, n, labels=label_tensor, seed=seed)  # (b, C, H, W) uint8 each
        kept: list[np.ndarray] = []  # the first GRID_MAX images, for the grid

        def keep(stream):
            done = 0
            for batch in stream:
                if grid is not None and done < GRID_MAX:
                    kept.append(batch[: GRID_MAX - done])
                done += len(batch)
                progress.update(done)
                yield batch

        if fmt == "png":  # one unmarked PNG per image, numbered, for pytorch-fid / torch-fidelity / clean-fid
            from genlab.eval.inputs import write_image_folder

            write_image_folder(output, np.concatenate(list(keep(batches))), provenance=fields)
        else:
            save_samples_stream(output, n, keep(batches), None if label_tensor is None else label_tensor.numpy())
        if grid is not None:
            options = png_options(tc, read_config(run_dir).to_dict(), fields=fields, where=str(grid))
            save_grid(grid, np.concatenate(kept), **options)
    out.print(f"wrote {n} samples of {run.family} ({run_dir}) to {output}" + (f" and {grid}" if grid else ""))


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the demo runs go.")] = Path("runs/demo"),
    steps: Annotated[
        int | None, typer.Option(help="Train each model this many steps instead of the demo's epochs (smoke tests).")
    ] = None,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    """Train a small DCGAN and a small VAE on the embedded MNIST (a few minutes on 2 cores)."""
    plan = [("dcgan", {"epochs": 3}), ("vae", {"epochs": 10})]
    for family, sizes in plan:
        run_dir = out_dir / family
        target = {"steps": steps} if steps else sizes
        if (run_dir / "config.yaml").is_file():
            saved = read_config(run_dir)
            if not quiet:
                out.print(f"[bold]{family}[/]: continuing the demo run in {run_dir}")
            result = train_and_publish(
                extend(saved, target.get("steps"), target.get("epochs")),
                run_dir,
                resume=True,
                data_dir=data_dir,
                quiet=quiet,
            )
        else:
            run = _resolve_run(
                family,
                None,
                "small",
                [],
                dataset=None,
                steps=target.get("steps"),
                epochs=target.get("epochs"),
                batch_size=None,
                seed=None,
            )
            if not quiet:
                out.print(f"[bold]{family}[/] (preset small): training into {run_dir}")
            result = train_and_publish(run, run_dir, data_dir=data_dir, quiet=quiet)
        _report(result, quiet)
    out.print(
        f"\nDone. Sample grids (same noise every epoch, the last is the final model):\n  {out_dir}/dcgan/samples/\n  "
        f"{out_dir}/vae/samples/"
    )
    out.print(
        f"Losses per step: {out_dir}/*/metrics.jsonl.  Fresh samples: genlab sample {out_dir}/dcgan -n 64 -o "
        "dcgan.npz --grid dcgan.png"
    )


def _resolve_run(family, config, preset, sets, *, dataset, steps, epochs, batch_size, seed, **data) -> RunConfig:
    """defaults <- preset <- --config file <- flags <- --set, in that order (see genlab.api.run_config)."""
    flags = {"dataset": dataset, "batch_size": batch_size, "seed": seed, "epochs": epochs, "steps": steps, **data}
    return run_config(family, preset=preset, config_file=config, sets=parse_sets(sets), **flags)


def _evaluator(run: RunConfig, data_dir: Path | None):
    """The suite's scorer for in-training FID (``--set eval_every=N``), against the test split."""
    if not run.train.eval_every:
        return None
    from genlab.eval.evaluate import Evaluator, default_extractor, run_reference
    from genlab.eval.extractors import get_extractor

    reference = run_reference(run.train, data_dir)
    extractor = get_extractor(default_extractor(run.train.dataset, reference.images.shape[1:], "digits"))
    return Evaluator(reference, extractor)


def argv_of(ctx: typer.Context, *, without: tuple[str, ...] = ()) -> list[str]:
    """The running command's invocation as arguments (less the options named in ``without``),
    e.g. what each rank of ``genlab train --nproc N`` runs, or the command a results page names."""
    argv = [ctx.info_name or ""]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if param.name in without or value is None or value is False:
            continue
        if param.param_type_name == "argument":
            argv.append(str(value))
        elif getattr(param, "is_flag", False):
            argv.append(param.opts[0])
        else:
            argv += [
                a for v in (value if getattr(param, "multiple", False) else [value]) for a in (param.opts[0], str(v))
            ]
    return argv


def _fresh_run_dir(out_dir: Path | None, family: str) -> Path:
    if out_dir is not None:
        try:
            taken = (out_dir / "config.yaml").exists()
        except OSError as e:  # a name over 255 bytes, a file where a folder should be, ...
            raise ConfigError(f"--out {short_repr(str(out_dir))} cannot be a run directory: {e.strerror}") from None
        if taken:
            raise ConfigError(
                f"{out_dir} already holds a run; continue it with --resume {out_dir} or choose another --out"
            )
        return out_dir
    base = Path("runs") / family
    candidate, k = base, 1
    while candidate.exists():
        k += 1
        candidate = base.with_name(f"{family}-{k}")
    return candidate


def _parse_labels(labels: str | None, n: int, family) -> torch.Tensor | None:
    if labels is None:
        return torch.arange(n) % family.info.num_classes if family.conditional else None
    if not family.conditional:
        raise ConfigError(f"--labels needs a conditional family; {family.registry_name} is unconditional")
    try:
        values = [int(v) for v in labels.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--labels must be integers like 7 or 0,1,2; got {labels!r}") from None
    if not values or any(not 0 <= v < family.info.num_classes for v in values):
        raise ConfigError(f"--labels must lie in 0..{family.info.num_classes - 1}; got {labels!r}")
    return torch.tensor(values).repeat(n // len(values) + 1)[:n]


def _report(result, quiet: bool) -> None:
    if result.budget_reached:
        cap = "" if result.total_steps >= BUDGET_ONLY_STEPS else f"/{result.total_steps}"  # the budget sized the run
        out.print(
            f"time budget reached at step {result.step}{cap} ({result.wall_seconds:.0f} s this session) -> "
            f"{result.run_dir}"
        )
        return
    if result.interrupted:
        out.print(
            f"stopped at step {result.step}/{result.total_steps}; checkpoint saved. Continue with: genlab train "
            f"--resume {result.run_dir}"
        )
        raise typer.Exit(130)
    if not quiet:
        metrics = "  ".join(f"{k} {v:.4g}" for k, v in result.last_metrics.items())
        out.print(
            f"finished {result.total_steps} steps in {result.wall_seconds:.0f} s ({result.num_parameters:,} "
            f"parameters) -> {result.run_dir}  ({metrics})"
        )
