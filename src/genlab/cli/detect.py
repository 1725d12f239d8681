"""``genlab detect train|eval|score``: detectors of generated images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table
from scipy.special import expit

from genlab.cli.app import SEED_RANGE, DataDir, Quiet, app, out
from genlab.config import parse_sets
from genlab.console import Progress
from genlab.data import load_image
from genlab.detect.data import ATTACK_HELP, load_images, load_many, parse_attack
from genlab.detect.detector import THRESHOLD_FPR, check_shape, evaluate_detector, train_detector
from genlab.detect.io import KINDS, load_detector, save_detector
from genlab.errors import ConfigError, DataError

detect_app = typer.Typer(
    no_args_is_help=True,
    help="Detect generated images: train a spectral (log power spectrum + DCT statistics, logistic regression) "
    "or CNN detector on real vs generated images, measure it (AUC, AP with bootstrap 95 % intervals, "
    "optionally after JPEG/resize/blur), score images.",
)
app.add_typer(detect_app, name="detect")

Real = Annotated[str, typer.Option(help="Real images: mnist-train, mnist-test or a samples .npz.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@detect_app.command(
    help="Train a detector on real vs generated images; writes OUT/detector.safetensors + detector.json."
)
def train(
    fake: Annotated[
        list[str], typer.Option(help="Generated images: a samples .npz from `genlab sample` (repeat for several).")
    ],
    output: Annotated[Path, typer.Option("--out", help="Folder for detector.safetensors and detector.json.")],
    kind: Annotated[str, typer.Option(help=f"Detector: {', '.join(KINDS)}.")] = "spectral",
    real: Real = "mnist-train",
    seed: Annotated[
        int,
        typer.Option(help="Seed of the real-image split and of the CNN's initialisation and batches.", **SEED_RANGE),
    ] = 0,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Training setting key=value (spectral: c, max_iter; cnn: width, batch_norm, epochs, batch_size, lr).",
        ),
    ] = None,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    if kind not in KINDS:
        raise ConfigError(f"unknown detector kind {kind!r}; known: {', '.join(KINDS)}")
    overrides = parse_sets(set_ or [])
    real_images, fake_images = load_images(real, data_dir), load_many(fake, data_dir)
    with Progress(f"detect train: fitting the {kind} detector", quiet=quiet):
        detector, info = train_detector(
            kind,
            real_images,
            fake_images,
            seed=seed,
            overrides=overrides,
            log=(lambda _: None) if quiet else out.print,
        )
    info["trained_on"] = {"real": real, "fake": fake}
    path = save_detector(output, detector, info.pop("settings"), info)
    if not quiet:
        out.print(
            f"{kind} detector: {info['n_real_fit']} real + {info['n_fake']} generated images, train accuracy "
            f"{info['train_accuracy']:.3f}, "
            f"threshold p > {expit(info['threshold_logit']):.4g} (flags {THRESHOLD_FPR:.0%} of "
            f"{info['n_real_holdout']} held-out real images) -> {escape(str(path))}"
        )


@detect_app.command(
    "eval",
    help="Measure a detector on real vs generated test images: AUC and average precision with bootstrap 95 % "
    "intervals, and TPR/FPR at its 1 % FPR threshold.",
)
def eval_(
    detector_dir: Annotated[Path, typer.Argument(help="A folder made by `genlab detect train`.")],
    fake: Annotated[list[str], typer.Option(help="Generated test images: samples .npz (repeat for several).")],
    real: Real = "mnist-test",
    attack: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Edit applied to real and generated test images first (repeat for a row each): {ATTACK_HELP}."
        ),
    ] = None,
    n: Annotated[
        int | None, typer.Option("-n", help="Use at most n real and n generated images (default: all).")
    ] = None,
    resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.", **SEED_RANGE)] = 0,
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    attacks = attack or ["none"]
    for name in attacks:
        parse_attack(name)  # every name checked before the slow part
    if resamples < 1 or (n is not None and n < 2):
        raise ConfigError(f"--resamples must be >= 1 and -n >= 2, got {resamples} and {n}")
    detector, meta = load_detector(detector_dir)
    real_images, fake_images = load_images(real, data_dir)[:n], load_many(fake, data_dir)[:n]
    results = []
    with Progress("detect eval: attacks", len(attacks), unit="attacks") as progress:
        for a in attacks:
            progress.update(info=f"{a} ({resamples} bootstrap resamples)")
            results.append(
                evaluate_detector(
                    detector,
                    meta["threshold_logit"],
                    real_images,
                    fake_images,
                    attack=a,
                    n_resamples=resamples,
                    seed=seed,
                )
            )
            progress.advance()
    what = (
        f"{meta['kind']} detector {detector_dir}: {real_images.shape[0]} real ({real}) vs {fake_images.shape[0]} "
        f"generated ({', '.join(fake)})"
    )
    if as_json:
        print(
            json.dumps(
                {"what": what, "threshold_logit": meta["threshold_logit"], "results": [r.to_dict() for r in results]},
                indent=1,
            )
        )
        return
    table = Table("attack", "AUC [95 % CI]", "AP [95 % CI]", "TPR @ threshold", "FPR @ threshold", title=escape(what))
    for r in results:
        table.add_row(r.attack, str(r.auc), str(r.ap), f"{r.tpr:.3f}", f"{r.fpr:.3f}")
    out.print(table)
    out.print(
        f"threshold p > {expit(meta['threshold_logit']):.4g} (logit {meta['threshold_logit']:.3f}): flagged "
        f"{THRESHOLD_FPR:.0%} of held-out real training images; intervals: paired percentile bootstrap, {resamples} "
        f"resamples, seed {seed}."
    )


@detect_app.command(help="Probability that each image is generated: PNG files or a samples .npz.")
def score(
    detector_dir: Annotated[Path, typer.Argument(help="A folder made by `genlab detect train`.")],
    images: Annotated[list[Path], typer.Argument(help="PNG files, or one samples .npz.")],
    as_json: AsJson = False,
) -> None:
    detector, meta = load_detector(detector_dir)
    with Progress(f"detect score: {len(images)} file(s)"):
        names, pixels = _read_images(images, detector.image_shape)
        check_shape(detector, pixels, "the images")
        logits = detector.logits(pixels)
    probabilities, flagged = expit(logits), logits > meta["threshold_logit"]
    if as_json:
        print(
            json.dumps(
                [
                    {"image": name, "p_generated": float(p), "flagged": bool(f)}
                    for name, p, f in zip(names, probabilities, flagged)
                ],
                indent=1,
            )
        )
        return
    table = Table("image", "p(generated)", f"above threshold (p > {expit(meta['threshold_logit']):.4g})")
    for name, p, f in zip(names, probabilities, flagged):
        table.add_row(escape(name), f"{p:.4f}", "yes" if f else "no")
    out.print(table)


def _read_images(paths: list[Path], shape: tuple[int, int, int]) -> tuple[list[str], np.ndarray]:
    """Names and uint8 (N, C, H, W) pixels of one .npz or of image files (read grey for a grey detector)."""
    if len(paths) == 1 and paths[0].suffix == ".npz":
        pixels = load_images(paths[0])
        return [f"{paths[0]}[{i}]" for i in range(pixels.shape[0])], pixels
    if any(p.suffix == ".npz" for p in paths):
        raise DataError("give either one samples .npz or image files, not both")
    grey = shape[0] == 1
    read = [load_image(p, grayscale=grey) for p in paths]
    sizes = {r.shape[:2] for r in read}
    if len(sizes) > 1:
        raise DataError(f"the images have different sizes: {', '.join(f'{h}x{w}' for h, w in sorted(sizes))}")
    stacked = np.stack(read)
    # (N, H, W) -> (N, 1, H, W); (N, H, W, 3) -> (N, 3, H, W)
    return [str(p) for p in paths], stacked[:, None] if grey else stacked.transpose(0, 3, 1, 2)
