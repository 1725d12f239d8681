"""``genlab anomaly fit`` (a VAE on all digits but one) and ``genlab anomaly score`` (AUROC of -ELBO and recon
error)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from genlab.api import train_and_publish
from genlab.atomic import atomic_write_bytes
from genlab.cli.app import SEED_RANGE, DataDir, Quiet, app, out
from genlab.cli.train import _evaluator, _fresh_run_dir, _report, _resolve_run
from genlab.config import parse_sets
from genlab.console import Progress
from genlab.errors import ConfigError, DataError

FAMILIES = ("vae", "conv-vae")  # unconditional VAEs: a conditional one would be told the class

anomaly_app = typer.Typer(
    no_args_is_help=True,
    help="Anomaly detection with a VAE: `fit --holdout D` trains on every class but D; `score RUN` ranks test images "
    "by negative ELBO and by reconstruction error and reports how well each finds the held-out class (AUROC, AP).",
)
app.add_typer(anomaly_app, name="anomaly")


@anomaly_app.command(
    help="Train a VAE on the train split without class --holdout (the test split stays whole); same options as "
    "`genlab train`. "
    "Continue an interrupted fit with `genlab train --resume RUN`."
)
def fit(
    holdout: Annotated[int, typer.Option("--holdout", help="The class (digit) left out of training: the anomaly.")],
    family: Annotated[str, typer.Option(help=f"VAE family: {', '.join(FAMILIES)}.")] = "vae",
    preset: Annotated[str | None, typer.Option(help="Named preset of the family, e.g. binarized or small.")] = None,
    dataset: Annotated[str, typer.Option(help="Data set name.")] = "mnist",
    steps: Annotated[int | None, typer.Option(help="Total optimisation steps (overrides --epochs).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Total epochs (default 1).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Batch size (default 128).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).", **SEED_RANGE)] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Override any config key: --set key=value (repeatable).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Run directory (default runs/anomaly-FAMILY-holdout-D).")
    ] = None,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    if family not in FAMILIES:
        raise ConfigError(f"anomaly fit trains an unconditional VAE ({', '.join(FAMILIES)}), not {family!r}")
    if "exclude_classes" in parse_sets(set_ or []):
        raise ConfigError("anomaly fit sets exclude_classes from --holdout; leave it out of --set")
    sets = [*(set_ or []), f"exclude_classes={holdout}"]
    run = _resolve_run(
        family, None, preset, sets, dataset=dataset, steps=steps, epochs=epochs, batch_size=batch_size, seed=seed
    )
    run_dir = _fresh_run_dir(out_dir or Path("runs") / f"anomaly-{family}-holdout-{holdout}", family)
    result = train_and_publish(run, run_dir, data_dir=data_dir, quiet=quiet, evaluate=_evaluator(run, data_dir))
    _report(result, quiet)
    if not quiet:
        out.print(f"score it: genlab anomaly score {run_dir}")


@anomaly_app.command(
    help="Score images with a VAE run, higher = more anomalous: nelbo = -ELBO (k posterior samples, closed-form KL) "
    "and "
    "recon = -log p(x | z) at the posterior mean, in nats per image. Bernoulli runs trained with binarize=dynamic "
    "score "
    "the images binarised once with --binarize-seed. With labels (the default MNIST test split, or a labelled .npz) "
    "it "
    "prints the mean score per class and, for a run trained by `anomaly fit`, the AUROC and average precision of each "
    "score for the held-out class (positive) against the rest."
)
def score(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory of vae or conv-vae (from `genlab anomaly fit` or `genlab train`).")
    ],
    k: Annotated[
        int, typer.Option("--k", help="Posterior samples per image for -ELBO's expected reconstruction term.")
    ] = 10,
    n: Annotated[int | None, typer.Option("-n", help="Score only the first n images (default: all).")] = None,
    images: Annotated[
        Path | None,
        typer.Option(
            "--images",
            help="Score these instead of the test split: a samples .npz (images, optional labels), a PNG, or a folder "
            "of PNGs.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the posterior samples.", **SEED_RANGE)] = 0,
    binarize_seed: Annotated[
        int,
        typer.Option(
            "--binarize-seed",
            help="Seed of the one binarisation of the images (binarize=dynamic runs).",
            **SEED_RANGE,
        ),
    ] = 0,
    checkpoint: Annotated[str, typer.Option(help="latest, best or a step number.")] = "latest",
    output: Annotated[
        Path | None, typer.Option("--out", help="Also write the per-image scores to this .npz (nelbo, recon, labels).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    data_dir: DataDir = None,
) -> None:
    from genlab.report.run_scores import score_run

    if k < 1:
        raise ConfigError(f"--k must be >= 1, got {k}")
    if output is not None and output.suffix != ".npz":
        raise ConfigError(f"--out must name a .npz file, got {output}")
    pixels, labels = _read_images(images) if images is not None else (None, None)
    what = f"{pixels.shape[0]} images of {images}" if pixels is not None else "the test split"
    with Progress(f"anomaly score: -ELBO (k={k}) and recon of {what}"):
        summary, arrays = score_run(
            run_dir,
            k=k,
            n=n,
            seed=seed,
            binarize_seed=binarize_seed,
            images=pixels,
            labels=labels,
            source=str(images),
            checkpoint=checkpoint,
            data_dir=data_dir,
        )
    if output is not None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        atomic_write_bytes(output, buffer.getvalue())
    if as_json:
        print(json.dumps(summary, indent=1))
    else:
        _show(summary)
    if output is not None and not as_json:
        out.print(f"per-image scores -> {output}")


def _read_images(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """uint8 (N, C, H, W) (+ labels) from a samples .npz, one PNG or a folder of PNGs (grey, as MNIST)."""
    from genlab.data import load_image, load_samples

    if path.suffix == ".npz":
        return load_samples(path)
    files = sorted(path.glob("*.png")) if path.is_dir() else [path]
    if not files or not all(f.suffix.lower() == ".png" for f in files):
        raise DataError(f"--images needs a .npz, a .png or a folder holding .png files; got {path}")
    pictures = [load_image(f, grayscale=True) for f in files]
    if len({p.shape for p in pictures}) > 1:
        raise DataError(f"the PNGs in {path} differ in size; score images of one size at a time")
    return np.stack(pictures)[:, None], None  # (N, H, W) -> (N, 1, H, W)


def _show(summary: dict) -> None:
    names = {"nelbo": "-ELBO", "recon": "recon error"}
    detection = summary.get("detection")
    held_out = summary["excluded_classes"]
    title = f"{summary['family']} run {summary['run']}, step {summary['step']}: {summary['images']}"
    table = Table("score", "mean (nats)", *(("AUROC", "AP") if detection else ()), title=escape(title))
    for name, label in names.items():
        cells = [f"{detection[name]['auroc']:.4f}", f"{detection[name]['average_precision']:.4f}"] if detection else []
        table.add_row(label, f"{summary['mean'][name]:.2f}", *cells)
    out.print(table)
    settings = f"-ELBO from k = {summary['k']} posterior samples (seed {summary['seed']}), recon at the posterior mean"
    if summary["binarize_seed"] is not None:
        settings += f"; images binarised once with seed {summary['binarize_seed']}"
    out.print(settings)
    if detection:
        share = detection["nelbo"]["positive_share"]
        out.print(
            f"positive = held-out class {held_out} ({100 * share:.1f} % of the images; AP of a random score = that "
            "share; AUROC 0.5 = chance)"
        )
    elif "class_means" in summary and not held_out:
        out.print(
            "the run excluded no class from training, so there is no AUROC (train one with `genlab anomaly fit "
            "--holdout D`)"
        )
    elif "class_means" in summary:
        out.print(f"no AUROC: the images need both the held-out class {held_out} and other classes")
    if "class_means" in summary:
        per_class = Table(
            "class", "images", "mean -ELBO", "mean recon", title="mean score per class (* = held out of training)"
        )
        for c, (count, nelbo) in summary["class_means"]["nelbo"].items():
            mark = " *" if int(c) in held_out else ""
            per_class.add_row(f"{c}{mark}", str(count), f"{nelbo:.2f}", f"{summary['class_means']['recon'][c][1]:.2f}")
        out.print(per_class)
