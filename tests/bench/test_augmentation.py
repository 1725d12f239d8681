"""The rare-class augmentation benchmark's pieces (genlab.bench.augmentation) and its --tiny path end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genlab.bench.augmentation import (
    ClassifierSettings,
    augment_affine,
    median_count,
    oversample_indices,
    predict,
    reduce_class,
    score_predictions,
    train_classifier,
)
from genlab.errors import ConfigError

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def labelled(per_class: int = 30, classes: int = 10, side: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 images (N, 1, side, side) whose first pixel is their index, labels cycling 0..classes-1."""
    rng = np.random.default_rng(0)
    n = per_class * classes
    images = rng.integers(0, 256, (n, 1, side, side), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(n) % 256
    return images, np.arange(n, dtype=np.int64) % classes


def test_reduce_class_keeps_the_stated_rare_count_and_every_other_image() -> None:
    images, labels = labelled()
    for fraction, expected in [(0.1, 3), (0.5, 15), (1.0, 30), (0.001, 1)]:
        xr, yr = reduce_class(images, labels, 5, fraction, seed=0)
        assert int((yr == 5).sum()) == expected
        others = labels != 5
        np.testing.assert_array_equal(xr[yr != 5], images[others])  # untouched, in order
        np.testing.assert_array_equal(yr[yr != 5], labels[others])
        kept = xr[yr == 5]
        assert all(any((k == im).all() for im in images[labels == 5]) for k in kept)  # real rare images
    a, _ = reduce_class(images, labels, 5, 0.1, seed=0)
    b, _ = reduce_class(images, labels, 5, 0.1, seed=0)
    c, _ = reduce_class(images, labels, 5, 0.1, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("fraction", [0.0, -0.1, 1.5, float("nan")])
def test_reduce_class_refuses_a_fraction_outside_0_1(fraction: float) -> None:
    images, labels = labelled()
    with pytest.raises(ConfigError, match=r"rare fraction must be in \(0, 1\]"):
        reduce_class(images, labels, 5, fraction, seed=0)


def test_reduce_class_refuses_an_unknown_class() -> None:
    images, labels = labelled()
    with pytest.raises(ConfigError, match="class 12 is not in the data"):
        reduce_class(images, labels, 12, 0.1, seed=0)


def test_median_count_and_oversampling_arithmetic() -> None:
    labels = np.concatenate([np.full(c, k) for k, c in enumerate([10, 20, 30, 40, 3])])
    assert median_count(labels, rare=4) == 25  # median of 10, 20, 30, 40
    idx = oversample_indices(3, 25, torch.Generator().manual_seed(0))
    counts = np.bincount(idx.numpy(), minlength=3)
    assert counts.sum() == 25 and sorted(counts.tolist()) == [8, 8, 9]  # 25 = 3 * 8 + 1
    np.testing.assert_array_equal(oversample_indices(5, 5, torch.Generator()).numpy(), np.arange(5))
    with pytest.raises(ConfigError):
        oversample_indices(6, 5, torch.Generator())


def test_affine_augmentation_is_seeded_and_the_identity_is_exact() -> None:
    images, _ = labelled(per_class=2, side=28)
    a = augment_affine(images, 50, torch.Generator().manual_seed(3))
    b = augment_affine(images, 50, torch.Generator().manual_seed(3))
    c = augment_affine(images, 50, torch.Generator().manual_seed(4))
    assert a.shape == (50, 1, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    same = augment_affine(
        images, 20, torch.Generator().manual_seed(0), max_rotation=0.0, max_shift=0.0, scale=(1.0, 1.0)
    )
    pick = torch.randint(0, len(images), (20,), generator=torch.Generator().manual_seed(0)).numpy()
    np.testing.assert_array_equal(same, images[pick])  # no rotation, shift or zoom: the picked images exactly


def test_shift_moves_pixels_by_whole_pixels() -> None:
    image = np.zeros((1, 1, 28, 28), np.uint8)
    image[0, 0, 10, 12] = 200
    out = augment_affine(image, 40, torch.Generator().manual_seed(0), max_rotation=0.0, scale=(1.0, 1.0))
    centres = [np.unravel_index(o[0].argmax(), (28, 28)) for o in out]
    assert all(abs(r - 10) <= 2 and abs(c - 12) <= 2 for r, c in centres)  # within +-2 px
    assert len(set(centres)) > 1


def test_scores_against_hand_counts() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 1])
    s = score_predictions(predicted, labels, rare=1)
    assert s["rare_recall"] == pytest.approx(2 / 3)  # 2 of the 3 ones found
    assert s["rare_precision"] == pytest.approx(2 / 4)  # 4 said one, 2 right
    assert s["accuracy"] == pytest.approx(3 / 6)
    assert s["other_recall"] == pytest.approx((1 / 2 + 0 / 1) / 2)
    assert score_predictions(np.zeros(6, int), labels, rare=1)["rare_precision"] == 0.0


@pytest.mark.trains
def test_classifier_is_seeded_and_learns_a_separable_set() -> None:
    images, labels = labelled(per_class=20, classes=2)
    images[labels == 1] //= 4  # dark class 1, bright-ish class 0 on average
    settings = ClassifierSettings(steps=60, batch_size=16, lr=3e-3)
    a = train_classifier(images, labels, 2, settings, seed=0)
    b = train_classifier(images, labels, 2, settings, seed=0)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)
    assert (predict(a, images) == labels).mean() > 0.9  # measured 1.0


def load_benchmark():
    spec = importlib.util.spec_from_file_location("augmentation_benchmark", BENCHMARKS / "augmentation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def benchmark(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the script imports its page module beside it
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))  # the prepared .npz goes here, not in ~/.cache
    yield load_benchmark()
    sys.modules.pop("augmentation_page", None)


@pytest.mark.trains
def test_tiny_benchmark_runs_end_to_end_and_renders(benchmark, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert benchmark.main(["--tiny", "--out", str(out)]) == 0
    result = json.loads((out / "augmentation.json").read_text())
    (f,) = result["fractions"]
    assert (f["fraction"], f["rare_count"], f["target"], f["train_size"]) == (0.1, 4, 40, 364)
    assert [g["family"] for g in f["generators"]] == ["cdcgan", "ddpm", "cvae"]
    assert all(g["steps"] == 4 and 0.0 <= g["follows_label"] <= 1.0 for g in f["generators"])
    assert set(f["arms"]) == {"none", "oversample", "affine", "cdcgan", "ddpm", "cvae"}
    for arm, runs in f["arms"].items():
        assert [r["seed"] for r in runs] == [0, 1]
        assert runs[0]["train_size"] == (364 if arm == "none" else 400)
        assert all(0.0 <= r["rare_recall"] <= 1.0 for r in runs)
    assert (out / "augmentation-rare5-f0.1.png").is_file()
    page = (out / "augmentation.md").read_text()
    assert "| (f) + CVAE samples | 400 |" in page
    (out / "augmentation.md").unlink()
    assert benchmark.main(["--render", "--out", str(out)]) == 0
    assert (out / "augmentation.md").read_text() == page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fractions", "0"], "a rare fraction must be in (0, 1], got 0"),
        (["--fractions", "1.5"], "a rare fraction must be in (0, 1], got 1.5"),
        (["--fractions", "x"], "--fractions must be comma-separated numbers"),
        (["--rare", "12"], "--rare must be an MNIST class 0..9, got 12"),
        (["--seeds", "0"], "--seeds must be >= 1"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(benchmark, tmp_path: Path, capsys, args, message) -> None:
    assert benchmark.main([*args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "out").exists()  # nothing written


def test_render_without_results_exits_2(benchmark, tmp_path: Path, capsys) -> None:
    assert benchmark.main(["--render", "--out", str(tmp_path)]) == 2
    assert "augmentation.json" in capsys.readouterr().err
