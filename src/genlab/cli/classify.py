"""``genlab classify RUN``: a class-conditional generative model used as a classifier by Bayes' rule."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from genlab.atomic import atomic_write_text
from genlab.cli.app import SEED_RANGE, DataDir, Quiet, app, out
from genlab.console import Progress
from genlab.errors import ConfigError

CLASSIFY_HELP = (
    "Classify images with a class-conditional generative run by Bayes' rule: log P(y | x) = log p(x | y) + log P(y) "
    "- log sum_y' p(x | y') P(y'), with log p(x | y) estimated for every class y. A cvae run uses its IWAE bound with "
    "--iwae-k importance samples per class (1: a one-sample ELBO; cost per image: K encoder, K * k decoder passes); "
    "a class-conditional ddpm run its variational bound with --timesteps of the T - 1 KL terms per class, a "
    "stratified sample (0: all; cost per image: K * (timesteps + 1) U-Net passes, K * T when exact: slow on a CPU). "
    "Prints accuracy, expected calibration error (15 equal-width bins of the top-class probability), the NLL of the "
    "true labels and the accuracy per class."
)


@app.command(help=CLASSIFY_HELP)
def classify(
    run_dir: Annotated[Path, typer.Argument(help="A cvae or class-conditional ddpm run directory.")],
    data: Annotated[
        str | None, typer.Option("--data", help="Data set to classify (default: the run's own data set).")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="train or test.")] = "test",
    n: Annotated[int | None, typer.Option("-n", help="Classify only the first n images (default: all).")] = None,
    prior: Annotated[
        str, typer.Option("--prior", help="train: the training labels' frequencies; uniform: 1/K each.")
    ] = "train",
    iwae_k: Annotated[int, typer.Option("--iwae-k", help="VAE: importance samples per image and class.")] = 10,
    timesteps: Annotated[
        int, typer.Option("--timesteps", help="Diffusion: KL terms per image and class, stratified (0: all T).")
    ] = 20,
    noise: Annotated[
        float, typer.Option("--noise", help="Std of Gaussian noise added to the [0, 1] pixels (clipped) first.")
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the Monte-Carlo draws and of the noise.", **SEED_RANGE)] = 0,
    checkpoint: Annotated[str, typer.Option(help="latest, best or a step number.")] = "latest",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per batch.")] = 100,
    output: Annotated[Path | None, typer.Option("--out", help="Also write the results to this .json file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    from genlab.eval.bayes_classifier import classify_run

    if n is not None and n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    if output is not None and output.suffix != ".json":
        raise ConfigError(f"--out must name a .json file, got {output}")
    with Progress("classify: log p(x | y) for every class", n, unit="images", quiet=quiet) as bar:

        def progress(done: int, total: int) -> None:
            if bar.total != total:
                bar.stage("classify: log p(x | y) for every class", total)
            bar.update(done)

        result = classify_run(
            run_dir,
            data=data,
            split=split,
            n=n,
            prior=prior,
            iwae_k=iwae_k,
            timesteps=timesteps,
            noise=noise,
            seed=seed,
            checkpoint=checkpoint,
            data_dir=data_dir,
            batch_size=batch_size,
            progress=progress,
        )
    text = json.dumps(result, indent=1)
    if output is not None:
        atomic_write_text(output, text + "\n")
    if as_json:
        print(text)
        return
    _show(result)
    if output is not None:
        out.print(f"results -> {output}")


def _show(result: dict) -> None:
    table = Table(
        title=f"{result['family']} run {result['run']}, step {result['step']}: Bayes-rule classifier on {result['n']} "
        f"{result['data']} {result['split']} images"
        + (f" with noise sigma {result['noise']}" if result["noise"] else "")
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("how")
    table.add_row("accuracy", f"{result['accuracy']:.4f}", "argmax_y P(y | x) = true label")
    table.add_row("ECE", f"{result['ece']:.4f}", f"{result['ece_bins']} equal-width bins of max_y P(y | x)")
    table.add_row("label NLL", f"{result['nll']:.4f} nats", "mean -log P(y_true | x)")
    per_class = "  ".join(
        f"{c}: {'-' if a is None else f'{a:.3f}'}" for c, a in enumerate(result["per_class_accuracy"])
    )
    table.add_row("per class", per_class, "accuracy over each true class")
    table.add_row("log p(x | y)", result["estimator"], f"{result['network_passes_per_image']} network passes / image")
    table.add_row("prior", result["prior"], "P(y)")
    out.print(table)
