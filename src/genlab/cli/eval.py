"""``genlab eval``: score samples or a run; ``eval baseline``; ``eval train-extractor``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from genlab.cli.app import SEED_RANGE, DataDir, Quiet, app, out
from genlab.console import Progress, stderr_console
from genlab.data import is_named
from genlab.errors import ConfigError, DataError
from genlab.eval.evaluate import (
    KID_LABEL,
    METRICS,
    NAMED_REFERENCES,
    Evaluator,
    Reference,
    default_extractor,
    format_metric,
    load_reference,
    metric_label,
    run_reference,
)
from genlab.eval.extractors import EXTRACTORS, get_extractor
from genlab.eval.inputs import ImageSet
from genlab.eval.resize import RESIZE_RULES
from genlab.publish.card import parameter_line
from genlab.runs.device import resolve_device
from genlab.runs.loading import load_family
from genlab.runs.rundir import read_config

MIN_SCORED = 10  # samples: the inception score's 10 splits need one each (the k-NN metrics need k + 1 = 6)


class _ScoreByDefault(TyperGroup):
    """``genlab eval PATH ...`` means ``genlab eval score PATH ...``."""

    def resolve_command(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["score", *args]
        return super().resolve_command(ctx, args)


HELP = (
    "Score images against a reference set: `genlab eval A [--ref B]` (short for `genlab eval score`). A and B are "
    "each a run directory (sampled now), a folder of PNG/JPEG files, a samples .npz or .npy (channels first or last), "
    f"a statistics .npz (`genlab eval stats`, or pytorch-fid's), or a named set ({', '.join(NAMED_REFERENCES)}). "
    "Lower is better for fid and kid; higher for every other number. fid, kid and precision/recall/density/coverage "
    "depend on the extractor, its resize rule, the reference and the number of images: compare numbers only when all "
    "match (`genlab eval baseline` gives real data's numbers). Resize rules: digits (1x28x28) and shapes (3x64x64) "
    "bring both sides to their input by PIL's anti-aliased bicubic on uint8 (colour to grey by PIL's luma); "
    "random-projection brings the samples to the reference's size; inception reproduces the tool named by --resize: "
    "pytorch-fid (bilinear F.interpolate of x/255, then 2x-1), torch-fidelity (TensorFlow 1.x bilinear, then "
    "(x-128)/128) or clean (clean-fid: PIL bicubic on float32 per channel). FID from no more images than feature "
    "dimensions is flagged: its covariance is singular.\n\n"
) + "\n\n".join(f"{name} ({better} is better): {meaning}" for name, (better, meaning) in METRICS.items())
eval_app = typer.Typer(cls=_ScoreByDefault, no_args_is_help=True, help=HELP)
app.add_typer(eval_app, name="eval")

Extractor = Annotated[
    str, typer.Option(help=f"Feature extractor for fid/kid/precision/recall: {', '.join(EXTRACTORS)}.")
]
ExtractorOption = Annotated[
    str | None,
    typer.Option(
        "--extractor",
        help=f"Feature extractor: {', '.join(EXTRACTORS)} (default: digits for 28x28 grey, shapes for 64x64 RGB, "
        "inception otherwise). inception needs `genlab eval fetch-weights` once, or --extractor-weights; learned (a "
        "network trained on the reference itself, no external weights) needs "
        "`genlab eval train-extractor --data REF`.",
    ),
]
ExtractorWeights = Annotated[
    Path | None,
    typer.Option(
        "--extractor-weights",
        help="Inception weights as .safetensors (default: the ones `genlab eval fetch-weights` put in the cache); "
        "for --extractor learned, the file `genlab eval train-extractor --data` wrote (default: the one cached for "
        "the reference's images).",
    ),
]
Resize = Annotated[
    str | None,
    typer.Option(
        help=f"Inception only: whose preprocessing to reproduce, {'|'.join(RESIZE_RULES)} (default pytorch-fid)."
    ),
]
Dims = Annotated[
    int | None,
    typer.Option(help="Inception only: feature block as pytorch-fid's --dims, 64|192|768|2048 (default 2048, pool3)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Checkpoint = Annotated[str, typer.Option(help="For a run: latest, best or a step number.")]
Device = Annotated[
    str,
    typer.Option(
        "--device",
        help="Where a run samples: auto (CUDA if present, else MPS, else CPU), cpu, cuda, cuda:N or mps (features "
        "are always computed on the CPU).",
    ),
]


@eval_app.command(help="Score A against a reference B (`genlab eval A --ref B`).\n\n" + HELP)
def score(
    path: Annotated[
        str,
        typer.Argument(help="What to score: a run directory, a folder of images, a .npz/.npy, or a named set."),
    ],
    ref: Annotated[
        str | None,
        typer.Option(
            help="Reference: a named set, a folder of images, a .npz/.npy, a run directory (sampled now), a prepared "
            "data folder (`genlab data prepare`; FOLDER:train for its train split) or a statistics .npz (default: the "
            "test split of A's data set: for a run on your own data, that data's test split as the run prepared it; "
            "for other images, mnist-test for 28x28 grey and shapes64-test for 64x64 RGB)."
        ),
    ] = None,
    n: Annotated[int, typer.Option("-n", help="Number of images of A to score (and to draw from a run).")] = 10_000,
    extractor: ExtractorOption = None,
    extractor_weights: ExtractorWeights = None,
    resize: Resize = None,
    dims: Dims = None,
    checkpoint: Checkpoint = "latest",
    seed: Annotated[
        int,
        typer.Option(
            help="Seed for sampling a run, KID's subsets and IS's shuffle (torch-fidelity uses 2020).", **SEED_RANGE
        ),
    ] = 0,
    device: Device = "auto",
    as_json: AsJson = False,
    data_dir: DataDir = None,
) -> None:
    from genlab.eval.sources import is_run_dir, resolve, stats_fid
    from genlab.eval.stats import FeatureStats

    if n < 1:
        raise ConfigError(f"-n must be >= 1, got {n}")
    resolve_device(device)  # a bad or missing device is one line, also when PATH is a samples file
    if ref is None and is_run_dir(Path(path)) and _own_pairs(read_config(Path(path))):
        return _score_translation(Path(path), n, checkpoint, seed, device, extractor, as_json)
    with Progress(f"eval: reading {path}", n, unit="images") as progress:
        sample = resolve(
            path, n=n, checkpoint=checkpoint, seed=seed, device=device, data_dir=data_dir, run_n=n, progress=progress
        )
        if ref is not None:
            progress.stage(f"eval: reading the reference {ref}")
        reference = (
            None if ref is None else resolve(ref, checkpoint=checkpoint, seed=seed, device=device, data_dir=data_dir)
        )
    if isinstance(sample, FeatureStats):
        if reference is None:
            raise ConfigError(f"{path} holds statistics: give what to compare them with, --ref B")
        chosen = None
        if isinstance(reference, ImageSet):
            chosen = _extractor(None, sample, extractor, extractor_weights, resize, dims, ref_spec=ref)
        _show(stats_fid(sample, reference, chosen), as_json)
        return
    if sample.images.shape[0] < MIN_SCORED:  # before the slow reference features
        raise DataError(
            f"{sample.description}: {sample.images.shape[0]} samples, but the scores need at least {MIN_SCORED} "
            "(the inception score's 10 splits; precision/recall/density/coverage need k + 1 = 6); pass more samples"
        )
    shape = sample.images.shape[1:]
    trained = read_config(Path(path)).train if is_run_dir(Path(path)) else None  # a run's training settings
    if reference is None and trained is not None and not is_named(trained.dataset):
        own = run_reference(trained, data_dir)  # a run on the user's own data: its own test split, prepared alike
        reference = ImageSet(own.images, None, own.description)
    elif reference is None:
        if shape not in ((1, 28, 28), (3, 64, 64)):
            raise ConfigError(
                f"{path} holds {shape[1]}x{shape[2]} images with {shape[0]} channels: give the reference with --ref"
            )
        ref = "shapes64-test" if shape == (3, 64, 64) else "mnist-test"
        named = load_reference(ref, data_dir)
        reference = ImageSet(named.images, None, named.description)
    chosen = _extractor(
        sample.images,
        reference,
        extractor,
        extractor_weights,
        resize,
        dims,
        None if trained is None else trained.dataset,
        ref_spec=ref,
    )
    if isinstance(reference, ImageSet):
        reference = Reference(reference.description, reference.images)
    with Progress(f"eval: features of the reference ({reference.description})") as progress:
        evaluator = Evaluator(reference, chosen, seed=seed)
        progress.stage(f"eval: scoring {sample.images.shape[0]} samples")
        result = evaluator(sample.images, sample.labels)
    _show({"what": sample.description, **result, **sample.counts}, as_json)


def _own_pairs(run) -> bool:
    """Whether a run is a translation family trained on the user's own image pairs (scored A -> B, not sampled)."""
    from genlab.models.registry import get_family
    from genlab.models.translate_parts import TranslationFamily

    return issubclass(get_family(run.family).family_cls, TranslationFamily) and not is_named(run.train.dataset)


def _score_translation(run_dir: Path, n, checkpoint, seed, device, extractor, as_json) -> None:
    """``genlab eval RUN`` for pix2pix / cyclegan on own pairs: genlab.eval.translation."""
    from genlab.eval.translation import score_translation, translation_lines

    family, run, _ = load_family(run_dir, checkpoint, device=device)
    shape = (family.info.channels, family.info.height, family.info.height)
    chosen = extractor or default_extractor(run.train.dataset, shape)
    with Progress(f"eval: translating the test split of {run.train.dataset}"):
        result = score_translation(family, run.train.dataset, n, seed, chosen)
    if as_json:
        print(json.dumps(result, indent=1))
        return
    for line in translation_lines(result):
        out.print(escape(line), soft_wrap=True)


def _extractor(
    images,
    reference,
    name: str | None,
    weights: Path | None,
    resize: str | None,
    dims: int | None,
    dataset: str | None = None,
    ref_spec: str | None = None,
):
    """The extractor asked for; unnamed: the statistics' own (their resize and dims too), else by the data set of a
    run (``dataset``) and the image shape (``genlab.eval.evaluate.default_extractor``). ``learned`` without
    weights: the cached one trained on the reference's images (``images`` when there is no reference), or the one
    whose hash statistics record."""
    from genlab.eval.learned_extractor import find_by_weights, find_cached
    from genlab.eval.stats import FeatureStats

    if isinstance(reference, FeatureStats) and (name is None or name == reference.settings["extractor"]):
        name = reference.settings["extractor"]
        if name == "inception":
            resize, dims = resize or reference.settings["resize"], dims or reference.settings["dims"]
    if name == "learned" and weights is None:
        if isinstance(reference, FeatureStats):
            weights = find_by_weights(str(reference.settings["weights"]))
        else:
            weights = find_cached(images if reference is None else reference.images, ref_spec or "REF")
    if name is None:
        name = default_extractor(dataset, images.shape[1:])
    return get_extractor(name, weights, resize=resize, dims=dims)


@eval_app.command(
    "stats",
    help="Save reference statistics (mean and covariance of the features) to reuse with --ref: the .npz holds mu and "
    "sigma (pytorch-fid reads it), n, and the extractor, dims, resize rule and weights hash they depend on.",
)
def stats(
    path: Annotated[str, typer.Argument(help="Images: a folder, a .npz/.npy, a run directory or a named set.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The statistics .npz to write.")],
    n: Annotated[
        int | None, typer.Option("-n", help="Use the first n images (a run: draw n; default 10 000).")
    ] = None,
    extractor: ExtractorOption = None,
    extractor_weights: ExtractorWeights = None,
    resize: Resize = None,
    dims: Dims = None,
    checkpoint: Checkpoint = "latest",
    seed: Annotated[int, typer.Option(help="Seed for sampling a run.", **SEED_RANGE)] = 0,
    device: Device = "auto",
    data_dir: DataDir = None,
) -> None:
    from genlab.eval.evaluate import singular_warning
    from genlab.eval.sources import features_of, resolve
    from genlab.eval.stats import FeatureStats, save_stats, settings_of, stats_of

    if output.suffix != ".npz":
        raise ConfigError(f"-o must name a .npz file, got {output}")
    if n is not None and n < 2:
        raise ConfigError(f"-n must be >= 2 (a covariance needs two images), got {n}")
    resolve_device(device)
    source = resolve(path, n=n, checkpoint=checkpoint, seed=seed, device=device, data_dir=data_dir)
    if isinstance(source, FeatureStats):
        raise ConfigError(f"{path} already holds statistics; give images")
    chosen = _extractor(source.images, None, extractor, extractor_weights, resize, dims, ref_spec=path)
    result = stats_of(features_of(source.images, chosen), settings_of(chosen), source.description)
    save_stats(output, result)
    warning = singular_warning(result.n, 0, result.mu.shape[0])
    if warning:
        stderr_console.print(f"warning: {warning}")
    out.print(f"wrote statistics of {source.description} ({result.n} images, {chosen.feature_dim}-d) to {output}")


@eval_app.command(
    "fetch-weights",
    help="Download the standard FID Inception weights (pytorch-fid's pt_inception-2015-12-05-6726825d.pth, also "
    "published by torch-fidelity) once into the cache ($GENLAB_CACHE/weights, else ~/.cache/genlab/weights), check "
    "their SHA-256 and convert them to safetensors; the pickle is not kept. Never runs by itself. Offline, copy the "
    "file here by other means and import it with --from FILE (same check).",
)
def fetch_weights(
    source: Annotated[
        Path | None, typer.Option("--from", help="Import a local copy of the .pth instead of downloading.")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Download from this URL (a mirror) instead.")] = None,
) -> None:
    from genlab.eval import weights

    if source is not None and url is not None:
        raise ConfigError("--from and --url exclude each other")
    path = (
        weights.import_weights(source)
        if source is not None
        else weights.fetch_weights((url,) if url else weights.SOURCE_URLS)
    )
    out.print(f"FID Inception weights (SHA-256 {weights.FID_WEIGHTS_SHA256[:16]}...) ready: {path}")


@eval_app.command(
    help="Score real data: n MNIST train images against the test set, the floor every model is compared with."
)
def baseline(
    n: Annotated[int, typer.Option("-n", help="Number of train images to score.")] = 10_000,
    extractor: Extractor = "digits",
    extractor_weights: ExtractorWeights = None,
    seed: Annotated[int, typer.Option(help="Seed for KID's subsets.", **SEED_RANGE)] = 0,
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
    _show({"what": f"real data: {train.description}", **result}, as_json)


@eval_app.command(
    "train-extractor",
    help="Train the digit classifier used as the default extractor (seeded, deterministic on CPU). With --data, "
    "train a feature network on those images instead (`--extractor learned`): supervised when they have labels, "
    "else self-supervised by SimCLR (two augmented views, NT-Xent, temperature 0.5; genlab.eval.learned says why). "
    "It is written as safetensors + a JSON manifest (data sha256, method, epochs, seed, feature statistics) to "
    "$GENLAB_CACHE/extractors (else ~/.cache/genlab/extractors), keyed by the data's hash, or to --out.",
)
def train_extractor(
    epochs: Annotated[int, typer.Option(help="Training epochs over MNIST train (or the --data images).")] = 4,
    steps: Annotated[int, typer.Option(help="Stop after this many steps instead (smoke tests).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.", **SEED_RANGE)] = 0,
    output: Annotated[Path | None, typer.Option("--out", help="Weights file (default: the one genlab ships).")] = None,
    data: Annotated[
        str | None,
        typer.Option(help="Train a learned extractor on these images: a folder, a .npz/.npy or a named set."),
    ] = None,
    self_supervised: Annotated[
        bool, typer.Option("--self-supervised", help="With --data: SimCLR even when the data has labels.")
    ] = False,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    from genlab.eval.features import WEIGHTS, ExtractorTraining, save_digit_cnn, train_digit_cnn

    if epochs < 1 or steps < 0:
        raise ConfigError(f"--epochs must be >= 1 and --steps >= 0, got {epochs} and {steps}")
    if data is not None:
        from genlab.cli.learned import train_learned_command

        train_learned_command(data, epochs, steps, seed, output, self_supervised, data_dir, quiet)
        return
    if self_supervised:
        raise ConfigError("--self-supervised applies with --data only")
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


def _show(result: dict[str, Any], as_json: bool) -> None:
    if "fid_warning" in result:
        stderr_console.print(f"warning: {result['fid_warning']}")
    if as_json:
        print(json.dumps(result, indent=1))
        return
    what = result["what"]
    caption = f"extractor: {result['extractor']}; reference: {result['reference']}"
    if "n" in result:
        caption += f"; n = {result['n']} samples"
    if "kid" in result:
        caption += f"; {KID_LABEL}: the raw kid x 1000 (--json holds the raw value)"
    elif "inception_score" not in result or "precision" not in result:
        caption += "; kid and precision/recall/density/coverage need reference images (statistics hold only mu, sigma)"
    table = Table("metric", "value", "better", "meaning", title=escape(what), caption=escape(caption))
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
    if "class_histogram" in result and len(result["class_histogram"]) <= 20:
        out.print(
            "class histogram (the extractor's classifier): "
            + "  ".join(f"{k}:{c}" for k, c in enumerate(result["class_histogram"]))
        )
