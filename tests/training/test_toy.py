"""GANs on the 2-D mixtures: the toy trainer is seeded, shaped right, and learns."""

import numpy as np
import pytest

from genlab.errors import ConfigError
from genlab.training.toy import score_toy, toy_samples, train_toy_gan

TINY = {"hidden": 8, "z_dim": 4, "dropout": 0.0}


@pytest.mark.parametrize("dataset", ["ring8", "grid25"])
def test_toy_training_is_seeded_and_scores_every_mode(dataset):
    a, _ = train_toy_gan(dataset, {**TINY, "pack": 2}, seed=3, steps=5, batch_size=16)
    b, _ = train_toy_gan(dataset, {**TINY, "pack": 2}, seed=3, steps=5, batch_size=16)
    pts = toy_samples(a, dataset, n=100)
    assert pts.shape == (100, 2)
    np.testing.assert_array_equal(pts, toy_samples(b, dataset, n=100))
    score = score_toy(a, dataset, n=100)
    assert len(score["histogram"]) == (8 if dataset == "ring8" else 25)


def test_wasserstein_critic_steps_draw_k_batches():
    model, _ = train_toy_gan(
        "ring8", {**TINY, "loss": "wasserstein", "gp": 10.0, "n_critic": 3}, steps=2, batch_size=8
    )
    d_state = model.opts["discriminator"].state_dict()["state"]
    assert {int(s["step"]) for s in d_state.values()} == {6}


def test_unknown_toy_data_is_refused():
    with pytest.raises(ConfigError, match="unknown toy data set"):
        train_toy_gan("spiral", TINY, steps=1)


@pytest.mark.slow
@pytest.mark.trains
def test_a_packed_gan_learns_most_of_the_ring():
    """3000 steps of PacGAN (pack 4) reach most modes of the ring, where the untrained G reaches none; its
    samples are still spread (a few % high quality: docs/results/mode-collapse.md).

    A GAN's outcome moves with the seed and with anything that changes its float sums (CPU kernels, thread
    count where an op is split): modes_20 >= 3 failed on a fresh clone with 2 (issue 23). Measured at 3000
    steps over seeds 0..19 with 1 thread: modes min 7, median 8; high_quality min 0.016, median 0.043, max
    0.076; modes_20 0 .. 4 (median 3), so it is not asserted. With 2 threads the runs are bit-identical (G
    and D weights after 100 steps, seeds 0..19; all scores of seed 0's full run): torch does not split these
    small ops. Untrained G, every seed: modes 0, high_quality 0. This test's seed 0: modes 8, high_quality
    0.055. The bounds sit well inside the trained distribution and fail for the untrained G.
    """
    opts = {"hidden": 64, "z_dim": 16, "dropout": 0.0, "pack": 4}
    untrained = score_toy(train_toy_gan("ring8", opts, seed=0, steps=0, batch_size=128)[0], "ring8")
    score = score_toy(train_toy_gan("ring8", opts, seed=0, steps=3000, batch_size=128)[0], "ring8")

    def learned(s):
        # 2 modes under the worst seed's 7; high_quality about half the worst seed's 0.016 (20 of 2 500 samples)
        return s["modes"] >= 5 and s["high_quality"] >= 0.008

    assert learned(score), score
    assert untrained["modes"] <= 2 and untrained["high_quality"] < 0.01 and not learned(untrained), untrained


def test_rejection_sampling_scores_through_the_toy_trainer():
    model, _ = train_toy_gan(
        "ring8", {**TINY, "rejection": "drs", "output": "identity"}, seed=1, steps=3, batch_size=16
    )
    pts = toy_samples(model, "ring8", n=50)
    assert pts.shape == (50, 2) and 0.0 < model.drs_acceptance < 1.0
    np.testing.assert_array_equal(pts, toy_samples(model, "ring8", n=50))
