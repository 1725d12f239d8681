"""The collapse signs (genlab.training.collapse) and the pinned-discriminator warning of the monitor."""

import pytest

from genlab.training.collapse import GAN_FIX, RECALL_FLOOR, accuracy_estimate, collapse_signs, dominant_class
from genlab.training.monitor import DivergenceMonitor


@pytest.mark.parametrize(
    ("histogram", "expected"),
    [([6, 1, 1, 1, 1], (0, 0.6)), ([1, 9], (1, 0.9)), ([5, 5], None), ([1, 1, 1], None), ([0, 0], None)],
)
def test_dominant_class_is_strictly_over_half(histogram, expected):
    assert dominant_class(histogram) == expected


def test_a_collapsed_gan_gets_both_signs_and_the_fix():
    signs = collapse_signs({"class_histogram": [90, 10, 0], "recall": 0.004}, gan=True)
    assert len(signs) == 2
    assert signs[0].startswith("class 0 takes 90% of the 100 evaluation samples")
    assert signs[1].startswith("recall 0.004 is below") and signs[1].endswith(GAN_FIX)
    assert "--set r1=10" in GAN_FIX and "--set ema=0.999" in GAN_FIX


def test_recall_is_a_sign_for_gans_only_and_a_healthy_run_has_none():
    blurry = {"class_histogram": [10] * 10, "recall": RECALL_FLOOR / 2}
    assert collapse_signs(blurry, gan=False) == []
    assert len(collapse_signs(blurry, gan=True)) == 1
    assert collapse_signs({"class_histogram": [10] * 10, "recall": 0.6}, gan=True) == []
    one_class_vae = collapse_signs({"class_histogram": [8, 2]}, gan=False)
    assert len(one_class_vae) == 1 and GAN_FIX not in one_class_vae[0]


def test_accuracy_estimate_closed_forms():
    assert accuracy_estimate(1.0, 0.0) == 1.0
    assert accuracy_estimate(0.5, 0.5) == 0.5
    assert accuracy_estimate(0.0, 1.0) == 0.0
    assert accuracy_estimate(0.9, 0.1) == pytest.approx(0.9)


def feed(monitor, d_real, d_fake, steps):
    return [
        m
        for _ in range(steps)
        for m in monitor.update({"loss_d": 0.5, "loss_g": 1.0, "d_real": d_real, "d_fake": d_fake})
    ]


def test_a_pinned_discriminator_is_said_once_after_the_warmup():
    monitor = DivergenceMonitor()
    assert feed(monitor, 0.999, 0.001, monitor.warmup_steps - 1) == []  # not before the warm-up
    fired = feed(monitor, 0.999, 0.001, 100)
    assert len(fired) == 1 and "accuracy is pinned at 1" in fired[0] and GAN_FIX in fired[0]
    again = DivergenceMonitor()
    again.load_state_dict(monitor.state_dict())  # a resumed run does not say it twice
    assert feed(again, 0.999, 0.001, 50) == []


def test_a_balanced_game_is_not_pinned():
    assert feed(DivergenceMonitor(), 0.7, 0.3, 1000) == []  # accuracy estimate 0.7
