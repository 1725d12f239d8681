"""The Bayes-rule classifier (genlab.eval.bayes_classifier): a model whose class likelihoods are known gives the
exact posterior; a cvae's class columns are the IWAE estimates of genlab.eval.nll; a ddpm's are its bound."""

import math

import numpy as np
import pytest
import torch

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.eval.bayes_classifier import (
    add_noise,
    as_levels,
    check_classifier,
    class_log_likelihoods,
    describe_estimator,
    prior_log_probs,
    scores,
)
from genlab.eval.diffusion_nll import as_model_range
from genlab.eval.nll import batch_sums
from genlab.models.base import ClassLikelihood
from genlab.models.registry import get_family

INFO = DataInfo(1, 28, 28, 10)
MEANS = torch.tensor([-0.5, 0.0, 0.5], dtype=torch.float64)  # class y's images have pixel mean MEANS[y]
SCALE = 20.0


class KnownClassBound:
    """A class-conditional VariationalBound with T = 1: -log p(x | y) = SCALE (m(x) - MEANS[y])^2, m the pixel mean."""

    def likelihood_classes(self):
        return 3

    def bound_steps(self):
        return 1

    def prior_term(self, x):
        return torch.zeros(x.shape[0], dtype=torch.float64)

    def bound_terms(self, x, i, labels, *, generator):
        assert (i == 0).all() and labels is not None
        return SCALE * (x.flatten(1).double().mean(1) - MEANS[labels]) ** 2

    def train(self, mode=True):
        pass


def build(name, **overrides):
    spec = get_family(name)
    torch.manual_seed(0)
    return spec.family_cls(spec.config_cls(**{**spec.tiny, **overrides}), INFO)


def test_known_likelihoods_give_the_exact_posterior():
    grey = torch.tensor([60, 128, 200, 90, 250])  # constant images: pixel mean on [-1, 1] is grey / 127.5 - 1
    x = (grey[:, None, None, None] / 255.0).expand(5, 1, 4, 4).contiguous()
    labels = torch.tensor([0, 1, 2, 1, 2])
    ll = class_log_likelihoods(KnownClassBound(), x, batch_size=2)
    m = grey.double() / 127.5 - 1
    expected = -SCALE * (m[:, None] - MEANS[None, :]) ** 2  # (5, 3)
    assert torch.allclose(ll, expected)
    prior = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    got = scores(ll, labels, prior.log(), bins=15)
    joint = expected.exp() * prior  # Bayes' rule by hand
    posterior = joint / joint.sum(1, keepdim=True)
    assert got["accuracy"] == pytest.approx(float((posterior.argmax(1) == labels).double().mean()))
    assert got["nll"] == pytest.approx(float(-posterior[torch.arange(5), labels].log().mean()))
    assert got["ece_bins"] == 15 and len(got["per_class_accuracy"]) == 3


def test_cvae_columns_are_the_iwae_estimates_of_eval_nll():
    family = build("cvae")
    assert isinstance(family, ClassLikelihood) and check_classifier(family) == 10
    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    ll = class_log_likelihoods(family, x, iwae_k=4, seed=3, batch_size=6)
    assert ll.shape == (6, 10) and torch.isfinite(ll).all()
    for c in (0, 7):
        iwae_sum, _ = batch_sums(family, x, torch.full((6,), c), k=4, seed=3, batch_index=0)
        assert float(ll[:, c].sum()) == pytest.approx(iwae_sum, rel=1e-9)
    # another seed draws other z: the estimates move
    assert not torch.equal(ll, class_log_likelihoods(family, x, iwae_k=4, seed=4, batch_size=6))


def test_ddpm_bound_per_class_and_unconditional_refused():
    family = build("ddpm")
    x = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    ll = class_log_likelihoods(family, x, timesteps=1, batch_size=2)
    assert ll.shape == (2, 10) and torch.isfinite(ll).all() and (ll < 0).all()
    text, passes = describe_estimator(family, iwae_k=1, timesteps=1)
    assert passes == 10 * 2 and "stratified sample of 1" in text
    with pytest.raises(ConfigError, match="no class-conditional likelihood"):
        check_classifier(build("ddpm", class_conditional=False))
    with pytest.raises(ConfigError, match="no class-conditional likelihood"):
        check_classifier(build("vae"))


def test_levels_priors_and_noise():
    grey = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)  # every level, as eval nll scales them
    assert torch.allclose(as_levels(torch.from_numpy(grey / np.float32(255))), as_model_range(grey), atol=1e-6)
    assert torch.allclose(
        as_levels(torch.tensor([-0.2, 1.3, 0.5001])), torch.tensor([-1.0, 1.0, 128 / 127.5 - 1]), atol=1e-6
    )
    counts = np.array([0, 0, 1, 2, 2, 2])  # class 0: 2, class 1: 1, class 2: 3 of 6
    assert torch.allclose(prior_log_probs("train", 3, counts).exp(), torch.tensor([2, 1, 3]).double() / 6)
    assert torch.allclose(prior_log_probs("uniform", 4), torch.full((4,), -math.log(4), dtype=torch.float64))
    with pytest.raises(ConfigError, match="uniform"):
        prior_log_probs("train", 4, counts)  # class 3 never seen
    with pytest.raises(ConfigError):
        prior_log_probs("flat", 3)
    x = torch.full((2, 1, 8, 8), 0.5)
    noisy = add_noise(x, 0.3, torch.Generator().manual_seed(0))
    assert noisy.min() >= 0 and noisy.max() <= 1 and 0.2 < float((noisy - x).std()) < 0.35
    assert add_noise(x, 0.0, torch.Generator()) is x
    with pytest.raises(ConfigError):
        add_noise(x, -0.1, torch.Generator())
