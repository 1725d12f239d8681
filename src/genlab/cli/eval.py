"""``genlab eval``: score samples or a run; ``eval baseline``; ``eval train-extractor``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from genlab.cli.app import DataDir, Quiet, app, out
from genlab.console import Progress
from genlab.data import load_samples
from genlab.errors import ConfigError, DataError
from genlab.eval.evaluate import KID_LABEL, METRICS, Evaluator, format_metric, load_reference, metric_label
from genlab.eval.extractors import EXTRACTORS, get_extractor
from genlab.publish.card import parameter_line
from genlab.runs.device import resolve_device
from genlab.runs.loading import load_family, sample_in_batches


class _ScoreByDefault(TyperGroup):
    """``genlab eval PATH ...`` means ``genlab eval score PATH ...``."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["score", *args]
        return super().resolve_command(ctx, args)


HELP = (
    "Score samples against a reference set: `genlab eval SAMPLES.npz|RUN_DIR` (short for `genlab eval score`). "
    "Lower is better for fid and kid; higher for every other number. fid, kid and precision/recall/density/coverage "
    "depend on the extractor, the reference and the number of samples: compare numbers only when all three match "
    "(`genlab eval baseline` gives real data's numbers for the same setting).\n\n"
) + "\n\n".join(f"{name} ({better} is better): {meaning}" for name, (better, meaning) in METRICS.items())
eval_app = typer.Typer(cls=_ScoreByDefault, no_args_is_help=True, help=HELP)
app.add_typer(eval_app, name="eval")

Extractor = Annotated[
    str, typer.Option(help=f"Feature extractor for fid/kid/precision/recall: {', '.join(EXTRACTORS)}.")
]
ExtractorWeights = Annotated[
    Path | None, typer.Option("--extractor-weights", help="Weights file for the inception extractor (you supply it).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@eval_app.command(help="Score SAMPLES.npz or a RUN_DIR (sampled now) against a reference.\n\n" + HELP)
def score(
    path: Annotated[
        Path, typer.Argument(help="A samples .npz (images uint8 N x H x W, optional labels) or a run directory.")
    ],
    ref: Annotated[
        str | None,
        typer.Option(
            help="Reference: mnist-test, mnist-train, shapes64-test, shapes64-train or a samples .npz (default: the "
            "test split of the images' data set)."
        ),
    ] = None,
    n: Annotated[int, typer.Option("-n", help="Number of samples to score (and to draw from a run).")] = 10_000,
    extractor: Annotated[
        str | None,
        typer.Option(
            help=f"Feature extractor: {', '.join(EXTRACTORS)} (default: digits for 28x28, shapes for 64x64 RGB)."
        ),
    ] = None,
    extractor_weights: ExtractorWeights = None,
    checkpoint: Annotated[str, typer.Option(help="For a run: latest, best or a step number.")] = "latest",
    seed: Annotated[int, typer.Option(help="Seed for sampling a run and for KID's subsets.")] = 0,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            help="Where a run samples: auto (CUDA if present, else MPS, else CPU), cpu, cuda, cuda:N or mps (features "
            "are always computed on the CPU).",
        ),
    ] = "auto",
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    resolve_device(device)  # a bad or missing device is one line, also when PATH is a samples file
    stage = f"eval: sampling {n} images from {path}" if path.is_dir() else f"eval: reading {path}"
    with Progress(stage, n, unit="images") as progress:
        images, labels, what, counts = _images_of(path, n, checkpoint, seed, device, progress=progress.update)
        shapes = images.shape[1:] == (3, 64, 64)
        ref = ref or ("shapes64-test" if shapes else "mnist-test")
        extractor = extractor or ("shapes" if shapes else "digits")
        reference = load_reference(ref, data_dir)
        _check_scorable(images, reference.images)  # bad input fails before the slow reference features
        progress.stage(f"eval: features of the reference {ref}")
        evaluator = Evaluator(reference, get_extractor(extractor, extractor_weights), seed=seed)
        progress.stage(f"eval: scoring {images.shape[0]} samples")
        result = evaluator(images, labels)
    _show({**result, **counts}, what, as_json)


@eval_app.command(
    help="Score real data: n MNIST train images against the test set, the floor every model is compared with."
)
def baseline(
    n: Annotated[int, typer.Option("-n", help="Number of train images to score.")] = 10_000,
    extractor: Extractor = "digits",
    extractor_weights: ExtractorWeights = None,
    seed: Annotated[int, typer.Option(help="Seed for KID's subsets.")] = 0,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    train = load_reference("mnist-train", data_dir, n=n)
    with Progress("eval baseline: features of the reference mnist-test"):
        evaluator = Evaluator(
            load_reference("mnist-test", data_dir), get_extractor(extractor, extractor_weights), seed=seed
        )
        result = evaluator(train.images)
    _show(result, f"real data: {train.description}", as_json)


@eval_app.command(
    "train-extractor", help="Train the digit classifier used as the default extractor (seeded, deterministic on CPU)."
)
def train_extractor(
    epochs: Annotated[int, typer.Option(help="Training epochs over MNIST train.")] = 4,
    steps: Annotated[int, typer.Option(help="Stop after this many steps instead (smoke tests).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    output: Annotated[Path | None, typer.Option("--out", help="Weights file (default: the one genlab ships).")] = None,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    from genlab.eval.features import WEIGHTS, ExtractorTraining, save_digit_cnn, train_digit_cnn

    if epochs < 1 or steps < 0:
        raise ConfigError(f"--epochs must be >= 1 and --steps >= 0, got {epochs} and {steps}")
    model, report = train_digit_cnn(
        ExtractorTraining(epochs=epochs, seed=seed, steps=steps),
        data_dir,
        log=(lambda _: None) if quiet else out.print,
    )
    save_digit_cnn(model, report, output or WEIGHTS)
    out.print(
        f"test accuracy {report['test_accuracy']:.4f} after {steps or epochs} {'steps' if steps else 'epochs'} "
        f"({report['train_seconds']:.0f} s) -> {output or WEIGHTS}"
    )


NLL_HELP = (
    "Test negative log-likelihood of a VAE run (vae, conv-vae, cvae) by importance sampling: the IWAE bound "
    "log (1/k) sum_i p(x, z_i) / q(z_i | x) with k samples per image (Burda et al. 2016), in nats per image and "
    "bits/dim, beside the ELBO (k = 1) and the posterior-collapse diagnostics (KL per latent dimension, active "
    "units). "
    "A Bernoulli model is scored on the test set binarised once with --binarize-seed (the dynamically binarised "
    "MNIST protocol); a Gaussian one on grey levels in [0, 1] (a density, not comparable). A conditional model gives "
    "log p(x | y) with the true labels. Lower is better."
)


@eval_app.command(help=NLL_HELP)
def nll(
    run_dir: Annotated[Path, typer.Argument(help="A VAE run directory.")],
    k: Annotated[int, typer.Option("--k", help="Importance samples per image (the literature uses 5000).")] = 5000,
    n: Annotated[int | None, typer.Option("-n", help="Score only the first n test images (default: all).")] = None,
    binarize_seed: Annotated[
        int, typer.Option("--binarize-seed", help="Seed of the one binarisation of the test set.")
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the importance samples.")] = 0,
    checkpoint: Annotated[str, typer.Option(help="latest, best or a step number.")] = "latest",
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Test images per batch (memory: batch x chunk decoder rows).")
    ] = 100,
    as_json: AsJson = False,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    from genlab.report.run_scores import run_nll

    with Progress(f"eval nll (k={k})", n, unit="images", quiet=quiet) as bar:

        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.stage(f"eval nll (k={k})", total)
            bar.update(done)

        result, what = run_nll(
            run_dir,
            k=k,
            n=n,
            binarize_seed=binarize_seed,
            seed=seed,
            checkpoint=checkpoint,
            batch_size=batch_size,
            data_dir=data_dir,
            progress=progress,
        )
    if as_json:
        print(json.dumps({"what": what, **dataclasses.asdict(result)}, indent=1))
        return
    table = Table("metric", "value", "meaning", title=escape(what))
    table.add_row(
        "nll",
        f"{result.nll:.2f} nats",
        f"-log (1/k) sum_i p(x, z_i)/q(z_i|x), k = {k}: upper bound on -log p(x), tightens with k",
    )
    table.add_row("bits/dim", f"{result.bits_per_dim:.4f}", f"nll / ({result.dims} ln 2)")
    table.add_row(
        "-elbo",
        f"{result.elbo_nll:.2f} nats",
        escape(f"-E_q[log p(x, z) / q(z|x)] (k = 1); gap to nll {result.elbo_nll - result.nll:.2f}"),
    )
    table.add_row(
        "active units",
        f"{result.active_units} / {len(result.kl_per_dim)}",
        escape("latent dims with Var_x(E_q[z_u|x]) > 0.01 (Burda et al. 2016)"),
    )
    table.add_row("kl", f"{sum(result.kl_per_dim):.2f} nats", "KL(q(z|x) || N(0, I)), averaged over the images")
    out.print(table)
    out.print(
        "KL per latent dimension (nats): " + "  ".join(f"{j:02d}:{v:.2f}" for j, v in enumerate(result.kl_per_dim))
    )


DISENTANGLE_HELP = (
    "Disentanglement of a VAE run's representation: the posterior means of the test images of a data set with "
    "known generating factors (shapes64: motif, hue, background, x, y, size, count), scored with MIG (Chen et al. "
    "2018), "
    "DCI (Eastwood & Williams 2018, random forests) and the FactorVAE score (Kim & Mnih 2018). Higher is better; all "
    "in [0, 1]."
)
DISENTANGLE_MEANING = {
    "mig": "mutual information gap: per factor, (top - second) MI with a latent / H(factor), averaged",
    "dci_disentanglement": "each latent predicts one factor (1 - entropy of its importance row)",
    "dci_completeness": "each factor is captured by one latent",
    "dci_informativeness": "factor classification accuracy from the codes (held-out quarter)",
    "factorvae": "majority-vote accuracy of 'least-varying latent -> fixed factor'",
}


@eval_app.command(help=DISENTANGLE_HELP)
def disentangle(
    run_dir: Annotated[Path, typer.Argument(help="A VAE run trained on shapes64.")],
    n: Annotated[
        int | None, typer.Option("-n", help="Score only the first n test images (default: all 5 000).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the DCI forests and the FactorVAE votes.")] = 0,
    checkpoint: Annotated[str, typer.Option(help="latest, best or a step number.")] = "latest",
    as_json: AsJson = False,
) -> None:
    from genlab.eval.factors import score_disentanglement

    family, run, meta = load_family(run_dir, checkpoint)
    result = score_disentanglement(family, run.train.dataset, n=n, seed=seed)
    what = f"{run.family} run {run_dir}, step {meta['step']}, {result['n']} {run.train.dataset} test images"
    if as_json:
        print(json.dumps({"what": what, **result}, indent=1))
        return
    table = Table("metric", "value", "meaning", title=escape(what))
    for name, meaning in DISENTANGLE_MEANING.items():
        table.add_row(name, f"{result[name]:.3f}", escape(meaning))
    out.print(table)


MIN_SCORED = 6  # the k-NN metrics (precision, recall, density, coverage; k = 5) need k + 1 samples


def _check_scorable(images: np.ndarray, reference: np.ndarray) -> None:
    """One clear line for samples the suite cannot score against ``reference``, before any slow work."""
    if images.shape[1:] != reference.shape[1:]:
        raise DataError(f"samples are {images.shape[1:]} images but the reference holds {reference.shape[1:]}")
    if images.shape[0] < MIN_SCORED:
        raise DataError(
            f"{images.shape[0]} samples: the k-NN metrics (precision, recall, density, coverage) need at least "
            f"{MIN_SCORED}; pass more samples"
        )


def _images_of(
    path: Path, n: int, checkpoint: str, seed: int, device: str = "cpu", progress=None
) -> tuple[np.ndarray, np.ndarray | None, str, dict[str, int]]:
    """(images, labels, what they are, the run's parameter counts (none for a samples file))."""
    if path.is_dir():
        family, run, meta = load_family(path, checkpoint, device=device)
        labels = None
        if family.conditional:
            import torch

            labels = torch.arange(n) % family.info.num_classes
        images = sample_in_batches(family, n, labels=labels, seed=seed, progress=progress)
        return (
            images,
            None if labels is None else labels.numpy(),
            f"{run.family} run {path}, step {meta['step']}, {n} samples (seed {seed})",
            family.parameter_counts(),
        )
    images, labels = load_samples(path)
    if images.shape[0] > n:
        images, labels = images[:n], None if labels is None else labels[:n]
    return images, labels, f"samples {path} ({images.shape[0]} images)", {}


def _show(result: dict[str, Any], what: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"what": what, **result}, indent=1))
        return
    table = Table(
        "metric",
        "value",
        "better",
        "meaning",
        title=what,
        caption=f"extractor: {result['extractor']}; reference: {result['reference']}; n = {result['n']} samples; "
        f"{KID_LABEL}: the raw kid x 1000 (--json holds the raw value)",
    )
    for name, (better, meaning) in METRICS.items():
        if name in result:
            table.add_row(
                escape(metric_label(name, result)),
                format_metric(name, result, kid_std=True, is_std=True),
                better,
                meaning,
            )
    out.print(table)
    if "parameters" in result:
        out.print(parameter_line(result))
    if "class_histogram" in result:
        out.print(
            "class histogram (the extractor's classifier): "
            + "  ".join(f"{k}:{c}" for k, c in enumerate(result["class_histogram"]))
        )
