import json

import numpy as np
import pytest
import torch

from genlab.data import load_dataset
from genlab.errors import DataError
from genlab.eval.features import (
    WEIGHTS,
    DigitCNN,
    DigitExtractor,
    ExtractorTraining,
    classifier_accuracy,
    fit_digit_cnn,
    load_digit_cnn,
    random_shift,
)


def test_shapes():
    features, logits = DigitCNN()(torch.zeros(3, 1, 28, 28))
    assert features.shape == (3, 128) and logits.shape == (3, 10)


def test_random_shift_moves_whole_images():
    x = torch.zeros(4, 1, 8, 8)
    x[:, :, 3, 3] = 1.0
    shifted = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape
    assert torch.equal(shifted.sum((1, 2, 3)), torch.ones(4))  # the dot moves, it is never lost (|shift| <= 2)
    positions = {tuple(torch.nonzero(s[0])[0].tolist()) for s in shifted}
    assert all(1 <= r <= 5 and 1 <= c <= 5 for r, c in positions)


def test_training_is_deterministic_on_cpu():
    a = fit_digit_cnn(ExtractorTraining(steps=3, batch_size=32), log=lambda _: None)
    b = fit_digit_cnn(ExtractorTraining(steps=3, batch_size=32), log=lambda _: None)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_shipped_classifier_is_small_and_accurate():
    assert WEIGHTS.stat().st_size < 5_000_000
    report = json.loads(WEIGHTS.with_suffix(".json").read_text())
    accuracy = classifier_accuracy(load_digit_cnn())
    assert accuracy >= 0.993
    assert accuracy == pytest.approx(report["test_accuracy"], abs=1e-4)  # the recorded number is reproduced


def test_shipped_features_are_standardised_on_mnist_train():
    feats = DigitExtractor().features(load_dataset("mnist", "train")[0][:5000])
    assert np.abs(feats.mean(0)).max() < 0.15
    assert np.abs(feats.std(0) - 1).max() < 0.15


def test_features_do_not_depend_on_the_batch_size():
    images = load_dataset("mnist", "test")[0][:300]
    f1, p1 = DigitExtractor(batch_size=1000).features_and_probs(images)
    f2, p2 = DigitExtractor(batch_size=7).features_and_probs(images)
    assert np.allclose(f1, f2, rtol=1e-5, atol=1e-5) and np.allclose(p1, p2, atol=1e-6)


def test_damaged_weights_are_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="missing"):
        load_digit_cnn(tmp_path / "none.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(DataError, match="unreadable"):
        load_digit_cnn(bad)
