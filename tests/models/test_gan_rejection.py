"""Discriminator Rejection Sampling: the acceptance formula, the sampler loop, the option."""

import math

import pytest
import torch

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.gan_rejection import discriminator_rejection_sample, drs_acceptance, drs_scores
from genlab.models.registry import get_family

TOY = DataInfo(2, 1, 1, 0)


def build(seed=0, **overrides):
    spec = get_family("gan")
    cfg = spec.config_cls(**{**spec.tiny, "hidden": 8, "dropout": 0.0, **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.family_cls(cfg, TOY)


def test_ungamma_shifted_acceptance_is_the_ideal_density_ratio():
    # Azadi et al. 2019 with gamma = 0: sigmoid(F) = exp(l - M) up to O(eps).
    logits = torch.tensor([-7.0, -2.0, -0.5, 0.0, 1.5, 3.0])
    accept = drs_acceptance(logits, max_logit=3.0, gamma=0.0)
    assert torch.allclose(accept, torch.exp(logits.double() - 3.0), atol=1e-5)
    assert accept[-1].item() == pytest.approx(1.0, abs=1e-5)
    # gamma shifts F: sigmoid(F - gamma) is the logistic of the shifted score.
    shifted = drs_acceptance(logits, max_logit=3.0, gamma=2.0)
    assert torch.allclose(shifted, torch.sigmoid(drs_scores(logits, 3.0) - 2.0))
    assert torch.all(shifted < accept)
    assert drs_scores(torch.tensor([1.0]), 1.0).item() == pytest.approx(-math.log(-math.expm1(-1e-6)), rel=1e-6)


def test_rejection_returns_exactly_n_accepted_samples_deterministically():
    def generate(m, gen):
        return torch.randn(m, 2, generator=gen)

    def logit(x):
        return torch.where(x[:, 0] > 0, 0.0, -60.0)  # D says: the left half plane is off the data

    a, rate = discriminator_rejection_sample(
        generate, logit, 300, generator=torch.Generator().manual_seed(1), burn_in=500, batch_size=100
    )
    b, _ = discriminator_rejection_sample(
        generate, logit, 300, generator=torch.Generator().manual_seed(1), burn_in=500, batch_size=100
    )
    c, _ = discriminator_rejection_sample(
        generate, logit, 300, generator=torch.Generator().manual_seed(2), burn_in=500, batch_size=100
    )
    assert a.shape == (300, 2)
    assert torch.all(a[:, 0] > 0)  # only accepted samples come back
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert 0.0 < rate < 0.5  # at most the right half is accepted


def test_rejection_refuses_a_sampler_that_accepts_too_little():
    def generate(m, gen):
        return torch.randn(m, 1, generator=gen)

    with pytest.raises(Exception, match="lower drs_quantile"):
        discriminator_rejection_sample(
            generate,
            lambda x: x[:, 0],
            500,
            generator=torch.Generator().manual_seed(0),
            burn_in=10,
            batch_size=10,
            max_batches=3,
        )


def test_drs_option_samples_through_its_own_critic():
    plain, drs = build(), build(rejection="drs")
    assert drs.cfg.rejection == "drs" and drs.cfg.drs_quantile == 0.95
    for name in ("generator", "discriminator"):  # the extra critic does not change how G and D start
        assert all(torch.equal(a, b) for a, b in zip(plain.nets[name].parameters(), drs.nets[name].parameters()))
    x = drs.sample(7, generator=torch.Generator().manual_seed(0))
    assert x.shape == (7, 2, 1, 1)
    assert torch.equal(x, drs.sample(7, generator=torch.Generator().manual_seed(0)))
    assert not torch.equal(x, plain.sample(7, generator=torch.Generator().manual_seed(0)))
    assert drs.nets["generator"].training and drs.nets["drs_critic"].training  # modes restored


def test_drs_critic_trains_beside_the_game_without_touching_it():
    plain, drs = build(pack=2), build(pack=2, rejection="drs")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 2, 1, 1, generator=g)
    critic_before = [p.detach().clone() for p in drs.nets["drs_critic"].parameters()]
    m_plain = plain.train_step(x, None, torch.Generator().manual_seed(1))
    m_drs = drs.train_step(x, None, torch.Generator().manual_seed(1))
    assert m_drs.pop("loss_drs") > 0 and m_drs == m_plain  # same game, same numbers
    for name in ("generator", "discriminator"):
        assert all(torch.equal(a, b) for a, b in zip(plain.nets[name].parameters(), drs.nets[name].parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(critic_before, drs.nets["drs_critic"].parameters()))
    assert drs.nets["drs_critic"](x).shape == (8,)  # one score per sample, although D packs pairs


def test_drs_keeps_the_samples_the_critic_prefers():
    family = build(seed=3, rejection="drs", drs_quantile=0.5)
    critic = family.nets["drs_critic"].eval()
    x = family.sample(2000, generator=torch.Generator().manual_seed(0))
    plain = build(seed=3).sample(2000, generator=torch.Generator().manual_seed(0))  # same G weights
    with torch.no_grad():
        assert critic(x).mean() > critic(plain).mean()


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"rejection": "drs", "conditional": True}, "unconditionally"),
        ({"rejection": "mh"}, "rejection must be"),
        ({"drs_quantile": 1.0}, "drs_quantile"),
    ],
)
def test_bad_drs_options_are_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        build(**bad)
