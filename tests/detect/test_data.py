"""Image sources, the named edits, and the training split."""

import numpy as np
import pytest

from genlab.data import save_samples
from genlab.detect.data import apply_attack, labelled, load_images, load_many, parse_attack, split_training
from genlab.errors import ConfigError, DataError
from genlab.marks.attacks import blur, jpeg, resize


def test_sources(tmp_path):
    assert load_images("mnist-test").shape == (10_000, 1, 28, 28)
    path = tmp_path / "s.npz"
    save_samples(path, np.zeros((5, 28, 28), np.uint8))
    assert load_many([path, path]).shape == (10, 1, 28, 28)
    with pytest.raises(DataError, match="mnist-train or mnist-test or a samples .npz"):
        load_images("cifar")
    with pytest.raises(DataError, match="does not exist"):
        load_images(tmp_path / "missing.npz")
    other = tmp_path / "o.npz"
    save_samples(other, np.zeros((5, 14, 14), np.uint8))
    with pytest.raises(DataError, match="different shapes"):
        load_many([path, other])


@pytest.mark.parametrize(
    "name, edit",
    [("jpeg70", lambda x: jpeg(x, 70)), ("resize0.5", lambda x: resize(x, 0.5)), ("blur1", lambda x: blur(x, 1.0))],
)
def test_attacks_are_the_publish_edits_applied_per_image(name, edit):
    images = load_images("mnist-test")[:3]
    edited = apply_attack(images, name)
    assert edited.shape == images.shape and edited.dtype == np.uint8
    np.testing.assert_array_equal(edited[1, 0], edit(np.ascontiguousarray(images[1, 0])))
    assert not np.array_equal(edited, images)
    rgb = np.random.default_rng(0).integers(0, 256, (2, 3, 16, 16), dtype=np.uint8)
    assert apply_attack(rgb, name).shape == rgb.shape
    assert apply_attack(images, "none") is images


@pytest.mark.parametrize("name", ["jpeg", "jpeg0", "jpeg96", "resize1.5", "blur0", "sharpen", ""])
def test_unknown_or_out_of_range_attacks(name):
    with pytest.raises(ConfigError):
        parse_attack(name)


def test_split_is_disjoint_seeded_and_sized():
    real = np.arange(100, dtype=np.uint8).reshape(100, 1, 1, 1).repeat(2, 2)
    fake = np.zeros((30, 1, 2, 1), np.uint8)
    a, b = split_training(real, fake, seed=0), split_training(real, fake, seed=0)
    assert a.real_fit.shape[0] == 30 and a.real_holdout.shape[0] == 70
    assert not set(a.real_fit[:, 0, 0, 0]) & set(a.real_holdout[:, 0, 0, 0])
    np.testing.assert_array_equal(a.real_fit, b.real_fit)
    assert not np.array_equal(a.real_fit, split_training(real, fake, seed=1).real_fit)
    few = split_training(real[:10], fake, seed=0)  # fewer real than fake: 80 % fit, 20 % held out
    assert few.real_fit.shape[0] == 8 and few.real_holdout.shape[0] == 2
    images, labels = labelled(real[:3], fake[:2])
    assert images.shape[0] == 5 and labels.tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(DataError):
        split_training(real[:1], fake, seed=0)
