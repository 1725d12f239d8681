"""Anomaly scores of a VAE and their detection metrics, against closed forms and the training loss."""

import numpy as np
import pytest
import torch

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.eval.anomaly import anomaly_scores, class_means, detection, model_input, score_images
from genlab.math.likelihoods import bernoulli_nll
from genlab.models.registry import get_family

INFO = DataInfo(1, 28, 28, 10)


def tiny_vae(**options):
    spec = get_family("vae")
    torch.manual_seed(0)
    family = spec.family_cls(spec.config_cls(**{**spec.tiny, **options}), INFO)
    family.train(False)
    return family


def images(n=6, seed=0):
    return torch.bernoulli(torch.full((n, 1, 28, 28), 0.3), generator=torch.Generator().manual_seed(seed))


def test_perfectly_separated_scores_give_auroc_and_ap_one():
    labels = np.array([0, 0, 3, 0, 3])
    result = detection(np.array([1.0, 2.0, 9.0, 3.0, 8.0]), labels, [3])
    assert result.auroc == 1.0 and result.average_precision == 1.0 and result.positive_share == pytest.approx(0.4)


def test_reversed_scores_give_auroc_zero_and_ties_give_one_half():
    labels = np.array([0, 0, 3, 0, 3])
    assert detection(-np.array([1.0, 2.0, 9.0, 3.0, 8.0]), labels, [3]).auroc == 0.0
    tied = detection(np.ones(5), labels, [3])
    assert tied.auroc == 0.5 and tied.average_precision == pytest.approx(
        0.4
    )  # AP of an uninformative score = positive share


def test_auroc_counts_correctly_ordered_pairs():
    # Positives 2 and 4 against negatives 1, 3, 5: pairs (2>1), (4>1), (4>3) of 6 are ordered -> 3/6.
    assert detection(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), np.array([0, 7, 0, 7, 0]), [7]).auroc == pytest.approx(0.5)
    assert detection(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 7, 0, 7]), [7]).auroc == pytest.approx(0.75)


def test_several_held_out_classes_are_all_positive():
    assert detection(np.array([5.0, 6.0, 1.0, 2.0]), np.array([3, 4, 0, 1]), [3, 4]).auroc == 1.0


@pytest.mark.parametrize(
    ("scores", "labels"),
    [(np.ones(3), np.array([0, 0, 0])), (np.ones(3), np.array([3, 3, 3])), (np.ones(2), np.array([0, 3, 1]))],
)
def test_detection_needs_both_classes_and_one_score_per_label(scores, labels):
    with pytest.raises(ConfigError):
        detection(scores, labels, [3])


def test_class_means():
    means = class_means(np.array([1.0, 3.0, 10.0, 2.0]), np.array([0, 0, 5, 0]))
    assert means == {0: (3, 2.0), 5: (1, 10.0)}


def test_nelbo_with_one_sample_is_the_training_loss_recon_plus_kl():
    family, x = tiny_vae(), images()
    with torch.no_grad():
        parts = family.losses(x, None, torch.Generator().manual_seed(5))
    scores = anomaly_scores(family, x, k=1, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(scores["nelbo"], (parts["recon"] + parts["kl"]).double(), rtol=1e-6, atol=1e-4)


def test_recon_is_the_bernoulli_nll_at_the_posterior_mean():
    family, x = tiny_vae(), images()
    with torch.no_grad():
        mu, _ = family.encode(x)
        expected = bernoulli_nll(family.nets["decoder"](mu), x)
    scores = anomaly_scores(family, x, k=3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(scores["recon"], expected.double(), rtol=1e-6, atol=1e-4)
    assert scores["nelbo"].shape == scores["recon"].shape == (6,)


def test_scores_are_deterministic_under_a_seed_and_recon_needs_none():
    family, x = tiny_vae(), images(7)
    a, b, c = (score_images(family, x, k=4, seed=s, batch_size=3) for s in (0, 0, 1))
    np.testing.assert_array_equal(a["nelbo"], b["nelbo"])
    assert not np.allclose(a["nelbo"], c["nelbo"])
    np.testing.assert_allclose(a["recon"], c["recon"])
    np.testing.assert_allclose(a["recon"], score_images(family, x, k=1, seed=0, batch_size=5)["recon"], rtol=1e-6)


def test_more_samples_reduce_the_spread_of_the_nelbo_estimate():
    family, x = tiny_vae(), images(1)
    spread = {k: np.std([score_images(family, x, k=k, seed=s)["nelbo"][0] for s in range(12)]) for k in (1, 64)}
    assert spread[64] < spread[1]


def test_bad_k_and_batch_size():
    family, x = tiny_vae(), images(2)
    with pytest.raises(ConfigError, match="k must be"):
        anomaly_scores(family, x, k=0, generator=torch.Generator())
    with pytest.raises(ConfigError, match="batch size"):
        score_images(family, x, k=1, seed=0, batch_size=0)


def test_model_input_binarises_only_dynamically_binarised_runs():
    grey = np.full((4, 1, 28, 28), 128, dtype=np.uint8)
    x, binarised = model_input(tiny_vae(binarize="dynamic"), grey, binarize_seed=0)
    assert binarised and set(torch.unique(x).tolist()) == {0.0, 1.0}
    torch.testing.assert_close(x, model_input(tiny_vae(binarize="dynamic"), grey, binarize_seed=0)[0])
    x, binarised = model_input(tiny_vae(), grey, binarize_seed=0)
    assert not binarised and torch.all(x == 128 / 255)


def test_model_input_refuses_images_of_another_size():
    with pytest.raises(ConfigError, match="28x28"):
        model_input(tiny_vae(), np.zeros((2, 1, 8, 8), dtype=np.uint8), binarize_seed=0)
