"""Both detectors: they separate real MNIST from procedurally 'generated' MNIST, they give
AUC ~ 0.5 on real vs real, they save and load to identical scores, and they are seeded."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from genlab.detect import evaluate_detector, load_detector, save_detector, spectral_features, train_detector
from genlab.detect.data import labelled, split_training
from genlab.errors import ConfigError, DataError

from .conftest import blurred, checkerboard

FAST_CNN = {"epochs": "2"}
# Real vs real: the spread of the test AUC over 20 seeded draws of these sizes (600 + 600 train, 300 + 300 test images
# drawn at random from MNIST train/test) is measured by benchmarks/detector.py ("Control" in docs/results/detector.md):
# a standard deviation of about 0.025 for both detectors, as the Mann-Whitney null std for 300 + 300 predicts (0.024).
# The margin is 4 such standard deviations: a detector that finds a difference between the halves, or an evaluation
# that leaks labels, lands outside it, while a chance-level detector stays inside.
CONTROL_MARGIN = 0.1


def overrides(kind):
    return FAST_CNN if kind == "cnn" else None


@pytest.mark.trains
@pytest.mark.parametrize(
    "kind, make_fake", [("spectral", checkerboard), ("spectral", blurred), ("cnn", checkerboard), ("cnn", blurred)]
)
def test_detector_separates_real_from_procedural_fakes(mnist, kind, make_fake):
    """Over training seeds 0..19 with 1 and 2 threads, all four cases: AUC and AP 1.000, TPR 1.00. The FPR on
    unseen real images at the threshold set for 1 % on the held-out fit images: 0.00 .. 0.083 (medians 0.03 ..
    0.06: 300 test images, and a threshold from a small hold-out), so the bound is 0.15; it was 0.1, 0.017 from
    the worst seed."""
    detector, info = train_detector(
        kind, mnist["fit"], make_fake(mnist["fake_src"]), seed=0, overrides=overrides(kind)
    )
    result = evaluate_detector(
        detector, info["threshold_logit"], mnist["test"], make_fake(mnist["test_fake_src"]), n_resamples=100
    )
    assert result.auc.value > 0.9 and result.ap.value > 0.9
    assert result.auc.low <= result.auc.value <= result.auc.high
    assert result.fpr < 0.15 and result.tpr > 0.3  # the 1 % threshold roughly carries over to unseen real images


@pytest.mark.trains
@pytest.mark.parametrize("kind", ["spectral", "cnn"])
def test_real_vs_real_control_gives_chance(mnist, kind):
    """Over training seeds 0..19 with 1 and 2 threads (these sets): AUC 0.499 .. 0.523 (spectral), 0.482 ..
    0.548 (cnn), inside 0.5 +- CONTROL_MARGIN. The bootstrap interval is no longer asked to contain 0.5: a 95 %
    interval misses the true value for 1 seed in 20 by construction, and the CNN's missed 0.5 for seeds 1, 4
    and 14 with either thread count (low 0.502 .. 0.507); seed 0, used here, had low 0.481."""
    # Train: MNIST train 0..600 labelled real vs 600..1200 labelled "generated"; test: MNIST test 0..300 vs 300..600.
    detector, info = train_detector(kind, mnist["fit"], mnist["fake_src"], seed=0, overrides=overrides(kind))
    result = evaluate_detector(
        detector, info["threshold_logit"], mnist["test"], mnist["test_fake_src"], n_resamples=200
    )
    assert abs(result.auc.value - 0.5) < CONTROL_MARGIN, result.auc
    assert result.auc.low <= result.auc.value <= result.auc.high, result.auc


@pytest.mark.parametrize(
    "kind, settings", [("spectral", None), ("cnn", {"epochs": "1"}), ("cnn", {"epochs": "1", "batch_norm": "false"})]
)
def test_save_load_round_trip_gives_identical_scores(mnist, kind, settings, tmp_path):
    fake = checkerboard(mnist["fake_src"][:200])
    detector, info = train_detector(kind, mnist["fit"][:200], fake, seed=1, overrides=settings)
    settings = info.pop("settings")
    save_detector(tmp_path / "det", detector, settings, info)
    loaded, meta = load_detector(tmp_path / "det")
    assert meta["kind"] == kind and meta["threshold_logit"] == info["threshold_logit"] and meta["settings"] == settings
    np.testing.assert_array_equal(loaded.logits(mnist["test"]), detector.logits(mnist["test"]))
    assert sorted(p.name for p in (tmp_path / "det").iterdir()) == ["detector.json", "detector.safetensors"]


def test_spectral_scores_match_a_scikit_learn_pipeline(mnist):
    real, fake = mnist["fit"], blurred(mnist["fake_src"])
    split = split_training(real, fake, seed=0)
    detector, _ = train_detector("spectral", real, fake, seed=0)
    images, labels = labelled(split.real_fit, split.fake)
    reference = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced"))
    reference.fit(spectral_features(images), labels)
    np.testing.assert_allclose(
        detector.score(mnist["test"]),
        reference.predict_proba(spectral_features(mnist["test"]))[:, 1],
        rtol=1e-9,
        atol=1e-12,
    )


def test_cnn_is_deterministic_under_a_seed(mnist):
    real, fake = mnist["fit"][:100], checkerboard(mnist["fake_src"][:100])
    a, _ = train_detector("cnn", real, fake, seed=3, overrides={"epochs": "1"})
    torch.manual_seed(123)  # global state must not matter
    b, _ = train_detector("cnn", real, fake, seed=3, overrides={"epochs": "1"})
    c, _ = train_detector("cnn", real, fake, seed=4, overrides={"epochs": "1"})
    np.testing.assert_array_equal(a.logits(mnist["test"]), b.logits(mnist["test"]))
    assert not np.allclose(a.logits(mnist["test"]), c.logits(mnist["test"]))


def test_bad_input_is_an_error_for_people(mnist):
    with pytest.raises(ConfigError, match="known: spectral, cnn"):
        train_detector("svm", mnist["fit"], mnist["fake_src"])
    with pytest.raises(ConfigError, match="unknown config key"):
        train_detector("cnn", mnist["fit"], mnist["fake_src"], overrides={"depth": "3"})
    detector, info = train_detector("spectral", mnist["fit"][:50], mnist["fake_src"][:50])
    small = np.zeros((4, 1, 14, 14), np.uint8)
    with pytest.raises(DataError, match="trained on"):
        evaluate_detector(detector, info["threshold_logit"], small, small)
    with pytest.raises(DataError, match="must match"):
        train_detector("spectral", mnist["fit"], small)
