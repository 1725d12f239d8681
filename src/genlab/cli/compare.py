"""``genlab compare`` (several runs, or families trained under one budget) and ``genlab report`` (one run)."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.app import DataDir, Quiet, app, out
from genlab.console import Progress
from genlab.errors import ConfigError
from genlab.report.build import check_run_dirs, measure_all, write_report
from genlab.report.measure import MeasureConfig

Samples = Annotated[int, typer.Option("-n", help="Samples per run scored by the evaluation suite and timed.")]
NllK = Annotated[int, typer.Option("--nll-k", help="Importance samples per test image for the VAE NLL.")]
NllN = Annotated[int, typer.Option("--nll-n", help="Test images for the VAE and diffusion NLL.")]
NllT = Annotated[
    int,
    typer.Option("--nll-timesteps", help="Diffusion bound: KL terms per image, stratified over t (0 = all T)."),
]
ProbeN = Annotated[int, typer.Option("--probe-n", help="Latents for the linear probe.")]
Seed = Annotated[int, typer.Option(help="Seed of the evaluation samples, interpolation paths and probe split.")]
RefN = Annotated[
    int, typer.Option("--ref-n", help="Reference images from the test split (0 = all; fewer only for quick looks).")
]


def _measure_config(
    n: int, nll_k: int, nll_n: int, probe_n: int, seed: int, ref_n: int, nll_timesteps: int = 50
) -> MeasureConfig:
    cfg = MeasureConfig(
        n_samples=n, seed=seed, nll_k=nll_k, nll_n=nll_n, nll_timesteps=nll_timesteps, probe_n=probe_n, ref_n=ref_n
    )
    cfg.check()
    return cfg


def _settings(cfg: MeasureConfig) -> str:
    return (
        f"Each run: {cfg.n_samples} samples (seed {cfg.seed}; conditional families get labels cycling over the "
        "classes) scored "
        f"against {f'the first {cfg.ref_n} images of' if cfg.ref_n else 'all of'} the test split of its data set by "
        "genlab's evaluation suite (digits extractor for MNIST, shapes for shapes64); "
        "sampling timed in a fresh process (images/s and its peak RSS); VAE NLL by importance sampling with k = "
        f"{cfg.nll_k} on the "
        f"first {cfg.nll_n} test images (diffusion: the variational bound, "
        + (f"{cfg.nll_timesteps} steps per image stratified over t" if cfg.nll_timesteps else "all T steps")
        + "; nats of different data: binarised or grey levels for a VAE, the 256 levels for diffusion)"
        f"; linear probe on {cfg.probe_n} latents (70/30 split); {cfg.interp_paths} "
        "interpolation paths "
        f"of {cfg.interp_frames} frames. Training time, steps and peak training RSS come from each run's "
        "metrics.jsonl."
    )


@app.command()
def compare(
    run_dirs: Annotated[
        list[Path] | None, typer.Argument(help="Run directories to compare (made by `genlab train`).")
    ] = None,
    train: Annotated[
        str | None,
        typer.Option("--train", help="Train these families first, e.g. gan,vae,ddpm, each under --budget-minutes."),
    ] = None,
    budget_minutes: Annotated[
        float | None,
        typer.Option(
            "--budget-minutes",
            help="Training wall-clock budget per run in minutes (with RUN_DIRs: flag runs that trained longer).",
        ),
    ] = None,
    seeds: Annotated[
        int, typer.Option(help="With --train: seeds 0..seeds-1 per family (FID spread = stability).")
    ] = 3,
    preset: Annotated[
        str, typer.Option(help="With --train: size preset of every family (small = CPU-sized; tiny = the test size).")
    ] = "small",
    steps: Annotated[
        int | None, typer.Option(help="With --train: also stop at this many steps (smoke tests).")
    ] = None,
    runs_dir: Annotated[
        Path,
        typer.Option(
            "--runs-dir", help="With --train: where the trained runs go (reused when re-run with the same settings)."
        ),
    ] = Path("runs/compare"),
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="With --train: override a config key of every run: --set key=value."),
    ] = None,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Report folder (index.html, compare.md, figures, per-run files).")
    ] = Path("report"),
    markdown: Annotated[
        Path | None,
        typer.Option("--markdown", help="Also write the comparison as Markdown here (links relative to it)."),
    ] = None,
    n: Samples = 1000,
    nll_k: NllK = 100,
    nll_n: NllN = 1000,
    nll_timesteps: NllT = 50,
    probe_n: ProbeN = 1000,
    seed: Seed = 0,
    ref_n: RefN = 0,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    """Measure runs on five axes (quality, diversity, stability, latent structure, compute) and write an HTML
    report."""
    if budget_minutes is not None and not budget_minutes >= 0:
        raise ConfigError(f"--budget-minutes must be >= 0, got {budget_minutes}")
    cfg = _measure_config(n, nll_k, nll_n, probe_n, seed, ref_n, nll_timesteps)
    given = list(run_dirs or [])
    if given:
        check_run_dirs(given)
    elif train is None:
        raise ConfigError("name run directories to compare, or families to train with --train gan,vae,ddpm")
    log = (lambda _: None) if quiet else out.print
    start = time.perf_counter()
    trained: list[Path] = []
    if train is not None:
        from genlab.report.train import parse_families, train_families

        families = parse_families(train)
        if budget_minutes is None:
            raise ConfigError("--train needs --budget-minutes M (every family trains for the same M minutes)")
        trained = train_families(
            families,
            seeds=seeds,
            budget_minutes=budget_minutes,
            preset=preset,
            runs_root=runs_dir,
            steps=steps,
            sets=set_,
            data_dir=data_dir,
            log=log,
        )
    with Progress("compare", quiet=quiet) as progress:
        measured = measure_all(trained + given, output, cfg, data_dir, log=log, stage=progress.stage)
    settings = _settings(cfg)
    if train is not None:
        settings += (
            f" Trained here: {train} with the {preset} preset, {seeds} seed(s), {budget_minutes:g} min of "
            "training each."
        )
    elif budget_minutes:
        over = [name for name, m in measured.items() if (m["compute"]["train_seconds"] or 0) > 60 * budget_minutes]
        settings += f" Budget {budget_minutes:g} min per run: " + (
            f"over it: {', '.join(over)}." if over else "every run is within it."
        )
    command = _command_line(given, train, budget_minutes, seeds, preset, steps, runs_dir, set_, output, markdown, cfg)
    measuring = sum(m["measure"]["seconds"] for m in measured.values())
    settings += (
        f" Measuring took {measuring:.0f} s wall time in all (measure.seconds in the eval JSON); this invocation took "
        f"{time.perf_counter() - start:.0f} s (finished runs and measurements with the same settings are reused)."
    )
    title = "genlab compare: " + ", ".join(sorted({m["family"] for m in measured.values()}))
    index = write_report(measured, output, title=title, command=command, settings=settings, markdown=markdown)
    out.print(f"wrote {index}" + (f" and {markdown}" if markdown else ""))


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory made by `genlab train`.")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Report folder (default RUN_DIR/report).")
    ] = None,
    n: Samples = 1000,
    nll_k: NllK = 100,
    nll_n: NllN = 1000,
    nll_timesteps: NllT = 50,
    probe_n: ProbeN = 1000,
    seed: Seed = 0,
    ref_n: RefN = 0,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    """One run's report: the same measurements, curves, grids and interpolations as `genlab compare`, as HTML."""
    cfg = _measure_config(n, nll_k, nll_n, probe_n, seed, ref_n, nll_timesteps)
    check_run_dirs([run_dir])
    folder = output or run_dir / "report"
    with Progress("report", quiet=quiet) as progress:
        log = (lambda _: None) if quiet else out.print
        measured = measure_all([run_dir], folder, cfg, data_dir, log=log, stage=progress.stage)
    command = f"genlab report {shlex.quote(str(run_dir))} -o {shlex.quote(str(folder))}" + _measure_flags(cfg)
    (m,) = measured.values()
    index = write_report(
        measured, folder, title=f"genlab report: {m['family']} run {run_dir}", command=command, settings=_settings(cfg)
    )
    out.print(f"wrote {index}")


def _measure_flags(cfg: MeasureConfig) -> str:
    defaults = MeasureConfig()
    flags = {
        "-n": "n_samples",
        "--nll-k": "nll_k",
        "--nll-n": "nll_n",
        "--nll-timesteps": "nll_timesteps",
        "--probe-n": "probe_n",
        "--seed": "seed",
        "--ref-n": "ref_n",
    }
    return "".join(
        f" {flag} {getattr(cfg, key)}" for flag, key in flags.items() if getattr(cfg, key) != getattr(defaults, key)
    )


def _command_line(given, train, budget, seeds, preset, steps, runs_dir, sets, output, markdown, cfg) -> str:
    """The command as typed (canonical order), for the report's header."""
    parts = ["genlab", "compare", *map(str, given)]
    if train is not None:
        parts += ["--train", train, "--seeds", str(seeds), "--preset", preset, "--runs-dir", str(runs_dir)]
        parts += ["--steps", str(steps)] if steps else []
        for s in sets or []:
            parts += ["--set", s]
    parts += ["--budget-minutes", f"{budget:g}"] if budget is not None else []
    parts += ["-o", str(output)] + (["--markdown", str(markdown)] if markdown else [])
    return " ".join(shlex.quote(p) for p in parts) + _measure_flags(cfg)
