"""The suite on real data: real vs real is near the floor, noise and collapse are caught."""

import numpy as np
import pytest

from genlab.data import load_dataset
from genlab.errors import ConfigError, DataError
from genlab.eval.evaluate import Evaluator, Reference, load_reference
from genlab.eval.extractors import RandomProjectionExtractor, get_extractor


@pytest.fixture(scope="module")
def mnist():
    train_images, train_labels, _ = load_dataset("mnist", "train")
    return train_images[:1000], train_labels[:1000]


@pytest.fixture(scope="module")
def evaluator():
    return Evaluator(load_reference("mnist-test", n=1000))


def test_real_data_scores_near_the_floor(evaluator, mnist):
    images, labels = mnist
    r = evaluator(images, labels)
    assert r["fid"] < 5 and abs(r["kid"]) < 0.1  # train vs test writers: close, not identical
    assert r["modes_covered"] == 10 and r["inception_score"] > 9
    assert r["precision"] > 0.6 and r["recall"] > 0.6 and r["coverage"] > 0.8
    assert r["conditional_accuracy"] > 0.99  # the labels of real digits


def test_noise_and_collapse_are_caught(evaluator, mnist):
    images, labels = mnist
    noise = np.random.default_rng(0).integers(0, 256, images.shape, dtype=np.uint8)
    collapsed = np.repeat(images[labels == 3][:1], 1000, axis=0)
    real, bad, single = evaluator(images), evaluator(noise), evaluator(collapsed)
    assert bad["fid"] > 10 * real["fid"] and bad["kid"] > 10 * abs(real["kid"]) and bad["precision"] < 0.1
    assert single["modes_covered"] == 1 and single["recall"] < 0.05 and single["inception_score"] < 1.5
    assert single["fid"] > 10 * real["fid"] and single["kid"] > 10 * abs(real["kid"])


def test_extractors_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))  # no fetched weights
    assert get_extractor("random-projection").feature_dim == 128
    with pytest.raises(ConfigError, match="known: digits"):
        get_extractor("vgg")
    with pytest.raises(ConfigError, match="fetch-weights"):
        get_extractor("inception")
    with pytest.raises(ConfigError, match="inception extractor only"):
        get_extractor("digits", resize="clean")
    with pytest.raises(ConfigError, match="takes no"):
        get_extractor("random-projection", "w.pt")


def test_random_projection_is_fixed_and_pixel_based(mnist):
    images = mnist[0][:50]
    a, b = RandomProjectionExtractor().features(images), RandomProjectionExtractor().features(images)
    assert np.array_equal(a, b) and a.shape == (50, 128)
    evaluator = Evaluator(Reference("train", mnist[0]), RandomProjectionExtractor())
    assert evaluator(mnist[0][:500])["fid"] < evaluator(np.zeros((500, 1, 28, 28), np.uint8))["fid"]


def test_other_sizes_and_modes_are_conformed_by_the_stated_rule(evaluator, mnist):
    """Digits take 1x28x28: 14x14 or RGB samples are brought there by PIL bicubic / luma, not refused."""
    from genlab.eval.resize import conform

    small = conform(mnist[0][:200], (1, 14, 14))  # (200, 1, 14, 14)
    rgb = np.repeat(mnist[0][:200], 3, axis=1)  # (200, 3, 28, 28)
    assert evaluator(small)["fid"] == evaluator(conform(small, (1, 28, 28)))["fid"]
    assert evaluator(rgb)["fid"] == evaluator(mnist[0][:200])["fid"]  # luma of equal R, G, B is the grey level


def test_unknown_reference():
    with pytest.raises(DataError, match="unknown reference"):
        load_reference("mnist-val")


def test_format_metric():
    from genlab.eval.evaluate import format_metric

    r = {
        "fid": 7.2049,
        "kid": 0.01234,
        "kid_std": 0.0021,
        "inception_score": 7.81,
        "inception_score_std": 0.05,
        "modes_covered": 10,
        "precision": 0.6912,
    }
    assert format_metric("fid", r) == "7.20" and format_metric("precision", r) == "0.691"
    assert format_metric("kid", r) == "12.34" and format_metric("kid", r, kid_std=True) == "12.34 ± 2.10"
    assert (
        format_metric("inception_score", r, is_std=True) == "7.810 ± 0.050"
        and format_metric("modes_covered", r) == "10/10"
    )
    assert format_metric("recall", r) == "–"
