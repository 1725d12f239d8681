"""One evaluation for every model: the same code scores a GAN, a VAE, a diffusion model or real data.

An :class:`Evaluator` holds the reference set's features (computed once) and turns a set
of uint8 images into every metric of the suite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genlab.config import TrainConfig
from genlab.data import is_named, load_dataset
from genlab.data.cache import open_prepared
from genlab.errors import DataError
from genlab.eval.extractors import ClassifierExtractor, Extractor, get_extractor
from genlab.eval.inception_features import InceptionBlockFeatures
from genlab.eval.inputs import read_images
from genlab.eval.learned_extractor import LearnedExtractor
from genlab.eval.metrics import (
    class_histogram,
    conditional_accuracy,
    feature_statistics,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    kth_neighbour_sq_radii,
    modes_covered,
    precision_recall_density_coverage,
)
from genlab.eval.resize import conform
from genlab.eval.stats import FeatureStats, describe, settings_of

# name -> (better direction, what it means); the order is the table's order.
METRICS: dict[str, tuple[str, str]] = {
    "fid": (
        "lower",
        "Frechet distance between Gaussian fits of sample and reference features (0 = same mean and covariance)",
    ),
    "kid": (
        "lower",
        "kernel (MMD^2, cubic polynomial) distance, unbiased: about 0 for samples of the reference distribution",
    ),
    "inception_score": (
        "higher",
        "exp E KL(p(y|x) || p(y)) with the classifier (digits, shapes64 motifs, or Inception's 1008 classes): "
        "confident and varied; max = classes",
    ),
    "modes_covered": (
        "higher",
        "classes receiving >= 2% of the samples, by the same classifier (of 10 digits / 6 motifs)",
    ),
    "precision": ("higher", "share of samples inside the reference manifold (k-NN balls, k=5): fidelity"),
    "recall": ("higher", "share of reference images inside the sample manifold: diversity"),
    "density": ("higher", "how many reference neighbourhoods contain a sample, on average; about 1 for real data"),
    "coverage": ("higher", "share of reference images with a sample among their 5 nearest neighbours"),
    "conditional_accuracy": ("higher", "share of samples the classifier assigns to the label they were asked for"),
}


# KID is stored raw (``kid``, ``kid_std`` in every JSON: an MMD^2 of features) and shown x 1e3 in
# tables, whose header says so; one unit, one label, for eval, card, report and compare.
KID_SCALE = 1000.0
KID_LABEL = "KID (x1e3)"


def metric_label(name: str, result: dict[str, Any] | None = None) -> str:
    """A metric's table header: KID with its scale, FID with its n and extractor (when ``result`` has them)."""
    if name == "kid":
        return KID_LABEL
    if name == "fid" and result and "n" in result and "extractor" in result:
        return f"FID (n={result['n']}, {result['extractor']})"
    return name


def format_metric(name: str, result: dict[str, Any], *, kid_std: bool = False, is_std: bool = False) -> str:
    """One metric of an evaluation result as table text; KID is shown x 1e3 (:data:`KID_LABEL`), "–" when
    absent."""
    if name not in result:
        return "–"
    if name == "kid":
        return f"{KID_SCALE * result['kid']:.2f}" + (f" ± {KID_SCALE * result['kid_std']:.2f}" if kid_std else "")
    if name == "inception_score" and is_std:
        return f"{result[name]:.3f} ± {result['inception_score_std']:.3f}"
    if name == "modes_covered":
        return f"{result[name]}/{result.get('num_classes', 10)}"
    return f"{result[name]:.2f}" if name == "fid" else f"{result[name]:.3f}"


NAMED_REFERENCES = ("mnist-test", "mnist-train", "shapes64-test", "shapes64-train")
# The fixed input of the shipped extractors; samples and reference are brought to it by ``conform``.
INPUT_SHAPES = {"digits": (1, 28, 28), "shapes": (3, 64, 64)}


@dataclass
class Reference:
    description: str
    images: np.ndarray  # uint8 (N, C, H, W)


def load_reference(ref: str, data_dir: str | Path | None = None, n: int | None = None) -> Reference:
    """A named set (``mnist-test``, ``mnist-train``, ``shapes64-test``, ``shapes64-train``), a run directory (the
    test split of the data it trained on, prepared as it was), a prepared data folder from the cache (its test split;
    ``FOLDER:train`` for the train split) or image files (a folder of PNG/JPEG, a samples .npz, a .npy; see
    ``genlab.eval.inputs``); its first ``n`` images."""
    if ref in NAMED_REFERENCES:
        name, split = ref.split("-", 1)
        images, _, _ = load_dataset(name, split, data_dir)
        note = ""
    elif ref.startswith(("mnist-", "shapes64-")) and not Path(ref).exists():
        raise DataError(
            f"unknown reference {ref!r}; use {', '.join(NAMED_REFERENCES)}, a run directory, a prepared data folder, "
            "a folder of images, a .npz or a .npy"
        )
    elif (Path(ref) / "config.yaml").is_file():
        from genlab.runs import read_config

        return run_reference(read_config(Path(ref)).train, data_dir, n)
    elif (prepared := prepared_reference(ref, n)) is not None:
        return prepared
    else:
        images, _, note = read_images(ref)
    if n is not None:
        images = images[:n]
    described = f"{ref} ({images.shape[0]} images{'; ' + note if note else ''})"
    return Reference(described, np.ascontiguousarray(images))


def input_shape(extractor: Extractor, reference_shape: tuple[int, ...] | None) -> tuple[int, int, int] | None:
    """The (C, H, W) both sides are conformed to: the shipped extractors' input, the reference's for
    random-projection (pixels), None for inception (it resizes by its own rule)."""
    if extractor.name in INPUT_SHAPES:
        return INPUT_SHAPES[extractor.name]
    if isinstance(extractor, InceptionBlockFeatures):
        return None
    if isinstance(extractor, LearnedExtractor):
        return extractor.input_shape
    if reference_shape is None:
        raise DataError(
            f"the {extractor.name} extractor compares pixels, so it needs reference images, not statistics"
        )
    return tuple(reference_shape)  # type: ignore[return-value]


def prepared_reference(ref: str, n: int | None = None) -> Reference | None:
    """The test split of a prepared data folder (``genlab data prepare``), or ``FOLDER:train`` / ``FOLDER:test``;
    None when ``ref`` names no prepared folder."""
    folder, _, split = ref.rpartition(":") if ref.endswith((":train", ":test")) else (ref, "", "test")
    prepared = open_prepared(Path(folder))
    if prepared is None:
        return None
    images, _ = prepared.split(split)
    images = images[:n] if n is not None else images
    description = f"{prepared.manifest.get('source', folder)} ({split} split, prepared; {images.shape[0]} images)"
    return Reference(description, np.ascontiguousarray(images))


def run_reference(
    train: TrainConfig, data_dir: str | Path | None = None, n: int | None = None, split: str = "test"
) -> Reference:
    """The ``split`` of the data a run trained on, prepared with the run's own options (a named set: NAME-split)."""
    if is_named(train.dataset):
        return load_reference(f"{train.dataset}-{split}", data_dir, n)
    images, _, _ = load_dataset(train.dataset, split, data_dir, train.data_options())
    images = images[:n] if n is not None else images
    return Reference(f"{train.dataset} ({split} split, {images.shape[0]} images)", np.ascontiguousarray(images))


def default_extractor(dataset: str | None, shape: tuple[int, ...], other: str = "inception") -> str:
    """The extractor used when none is named: for a user's own data (``dataset`` a path) the training-free random
    projection -- both classifiers only know their own data; else the digit classifier for 28x28 grey images, the
    shapes64 classifier for 64x64 RGB ones and ``other`` for any other shape (``genlab eval``: Inception, whose
    weights are fetched once; the API and reports: digits, which needs no download)."""
    if dataset is not None and not is_named(dataset):
        return "random-projection"
    return {(1, 28, 28): "digits", (3, 64, 64): "shapes"}.get(tuple(shape), other)


def classifier_for(shape: tuple[int, ...], extractor: Extractor) -> ClassifierExtractor | None:
    """The classifier behind IS, class histograms and conditional accuracy for images of ``shape``:
    the extractor itself when it is a classifier, else the shipped one for that image size."""
    if isinstance(extractor, ClassifierExtractor):
        return extractor
    if isinstance(extractor, InceptionBlockFeatures):
        return None  # an early Inception block: no class probabilities
    if tuple(shape) == (1, 28, 28):
        return get_extractor("digits")  # type: ignore[return-value]
    if tuple(shape) == (3, 64, 64):
        return get_extractor("shapes")  # type: ignore[return-value]
    return None


def singular_warning(n: int, n_ref: int, dims: int) -> str | None:
    """A note when either set has no more images than feature dimensions: the covariance is singular."""
    few = min(n, n_ref) if n_ref else n
    if few > dims:
        return None
    return (
        f"fid from {few} images in {dims} feature dimensions: the covariance is singular, so FID is biased and "
        f"unstable (pytorch-fid's eps=1e-6 fallback applies); use at least {dims + 1} images on each side"
    )


class Evaluator:
    """Reference features (or statistics) computed once; ``__call__`` scores a set of images against them.

    Both sides are brought to the extractor's input by one rule (``genlab.eval.resize``). With a
    statistics reference only FID (and the classifier's numbers) can be computed: KID and
    precision/recall/density/coverage need the reference's features.
    """

    def __init__(
        self,
        reference: Reference | FeatureStats,
        extractor: Extractor | None = None,
        *,
        seed: int = 0,
        nearest_k: int = 5,
    ) -> None:
        if isinstance(reference, Reference) and reference.images.shape[0] <= nearest_k:
            raise DataError(
                f"the reference {reference.description} has too few images for precision/recall with k={nearest_k} "
                f"nearest neighbours (needs more than {nearest_k}); use a larger test split (--test-fraction)"
            )
        self.reference = reference
        self.extractor = extractor or get_extractor("digits")
        self.settings = settings_of(self.extractor)
        self.seed, self.nearest_k = seed, nearest_k
        self._ref_radii: np.ndarray | None = None  # k-NN radii of the reference, computed on first use
        if isinstance(reference, FeatureStats):
            reference.check_compatible(self.settings, reference.description)
            self.shape = input_shape(self.extractor, None)
            self.ref_features = None
            self.ref_stats = (reference.mu, reference.sigma)
            self.ref_n = reference.n
        else:
            self.shape = input_shape(self.extractor, reference.images.shape[1:])
            ref_images = reference.images if self.shape is None else conform(reference.images, self.shape)
            self.ref_features = self.extractor.features(ref_images)
            self.ref_stats = feature_statistics(self.ref_features)
            self.ref_n = int(ref_images.shape[0])
        # The digit classifier gives IS and the class metrics; when it is also the extractor, one pass gives both.
        self.classifier = classifier_for(self.shape or (0, 0, 0), self.extractor)

    def __call__(self, images: np.ndarray, labels: np.ndarray | None = None) -> dict[str, Any]:
        images = images if self.shape is None else conform(images, self.shape)
        if self.classifier is self.extractor:
            feats, probs = self.classifier.features_and_probs(images)
        else:
            feats = self.extractor.features(images)
            probs = None if self.classifier is None else self.classifier.probs(images)
        result: dict[str, Any] = {
            "n": int(images.shape[0]),
            "reference": self.reference.description,
            "extractor": describe(self.settings),
            "fid": frechet_distance(*feature_statistics(feats), *self.ref_stats),
        }
        warning = singular_warning(result["n"], self.ref_n, self.extractor.feature_dim)
        if warning:
            result["fid_warning"] = warning
        if self.ref_features is not None:
            result["kid"], result["kid_std"] = kernel_inception_distance(feats, self.ref_features, seed=self.seed)
        if probs is not None:
            is_mean, is_std = inception_score(probs, seed=self.seed)
            counts = class_histogram(probs, probs.shape[1])
            result.update(
                inception_score=is_mean,
                inception_score_std=is_std,
                modes_covered=modes_covered(counts),
                num_classes=int(probs.shape[1]),
                class_histogram=[int(c) for c in counts],
            )
            if labels is not None:
                result["conditional_accuracy"] = conditional_accuracy(probs, labels)
        if self.ref_features is not None:
            if self._ref_radii is None:
                self._ref_radii = kth_neighbour_sq_radii(self.ref_features, self.nearest_k)
            result.update(
                precision_recall_density_coverage(
                    self.ref_features, feats, nearest_k=self.nearest_k, real_sq_radii=self._ref_radii
                )
            )
        return result
