"""Tests for genlab.eval.shapes_features: the shipped shapes64 classifier and the ``shapes`` extractor."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genlab.data import load_shapes64, shapes64_factors
from genlab.data.shapes64 import FACTOR_NAMES, FACTOR_SIZES
from genlab.errors import ConfigError, DataError
from genlab.eval.evaluate import Evaluator, load_reference
from genlab.eval.extractors import get_extractor
from genlab.eval.shapes_features import (
    WEIGHTS,
    ShapesCNN,
    ShapesExtractor,
    ShapesTraining,
    factor_accuracy,
    fit_shapes_cnn,
    load_shapes_cnn,
)


@pytest.fixture(scope="module")
def extractor() -> ShapesExtractor:
    return get_extractor("shapes")  # type: ignore[return-value]


def test_shapes() -> None:
    features, logits = ShapesCNN()(torch.zeros(3, 3, 64, 64))
    assert features.shape == (3, 128) and logits.shape == (3, sum(FACTOR_SIZES))
    assert [t.shape[1] for t in ShapesCNN.split_logits(logits)] == list(FACTOR_SIZES)


def test_training_is_deterministic_on_cpu() -> None:
    a = fit_shapes_cnn(ShapesTraining(steps=2, batch_size=16), log=lambda _: None)
    b = fit_shapes_cnn(ShapesTraining(steps=2, batch_size=16), log=lambda _: None)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    with pytest.raises(ConfigError, match="epochs"):
        fit_shapes_cnn(ShapesTraining(epochs=0))


def test_shipped_classifier_is_small_and_accurate() -> None:
    assert WEIGHTS.stat().st_size < 2_000_000
    report = json.loads(WEIGHTS.with_suffix(".json").read_text())
    images, factors = load_shapes64("test")[0][:500], shapes64_factors("test")[0][:500]
    accuracy = factor_accuracy(load_shapes_cnn(), images, factors)
    # Chance is 1/6 for the motif and at best 1/4 for any factor; a broken model is far below.
    assert accuracy["motif"] >= 0.98
    assert min(accuracy.values()) >= 0.9, accuracy
    assert set(report["factor_accuracy"]) == set(FACTOR_NAMES) and report["test_accuracy"] >= 0.98


def test_shipped_features_are_standardised_on_shapes64_train(extractor) -> None:
    feats = extractor.features(load_shapes64("train")[0][:3000])
    assert feats.shape == (3000, 128)
    assert np.abs(feats.mean(0)).max() < 0.15
    assert np.abs(feats.std(0) - 1).max() < 0.15


def test_features_do_not_depend_on_the_batch_size(extractor) -> None:
    images = load_shapes64("test")[0][:200]
    f1, p1 = extractor.features_and_probs(images)
    f2, p2 = ShapesExtractor(batch_size=7).features_and_probs(images)
    assert np.allclose(f1, f2, rtol=1e-5, atol=1e-5) and np.allclose(p1, p2, atol=1e-6)
    assert p1.shape == (200, FACTOR_SIZES[0]) and np.allclose(p1.sum(1), 1.0)


def test_wrong_image_shape_is_refused(extractor) -> None:
    with pytest.raises(DataError, match="64x64 RGB"):
        extractor.features(np.zeros((4, 1, 28, 28), np.uint8))


def test_shapes64_reference_scores_real_data_near_the_floor(extractor) -> None:
    reference = load_reference("shapes64-test", n=500)
    assert reference.images.shape == (500, 3, 64, 64) and "shapes64-test" in reference.description
    evaluator = Evaluator(reference, extractor)
    real = evaluator(load_shapes64("train")[0][:500])
    blank = evaluator(np.full((500, 3, 64, 64), 230, np.uint8))
    assert real["extractor"] == "shapes" and real["fid"] < 0.1 * blank["fid"]
    assert real["coverage"] > 0.8 > blank["coverage"]
    with pytest.raises(DataError, match="unknown reference"):
        load_reference("shapes64-val")


def test_damaged_weights_are_a_clear_error(tmp_path) -> None:
    with pytest.raises(DataError, match="missing"):
        load_shapes_cnn(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(DataError, match="unreadable"):
        load_shapes_cnn(bad)
