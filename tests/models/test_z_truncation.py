"""The truncation trick for GANs (``--set z_truncation=``): the truncated normal and what ``sample`` feeds G."""

import math

import pytest
import torch

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.registry import get_family
from genlab.nn.noise import truncated_randn

INFO = DataInfo(1, 28, 28, 10)


def build(name, **overrides):
    spec = get_family(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return spec.family_cls(spec.config_cls(**{**spec.tiny, **overrides}), INFO)


@pytest.mark.parametrize("a", [0.5, 1.0, 2.0])
def test_truncated_normal_has_the_closed_form_variance(a):
    z = truncated_randn((200_000,), a, torch.Generator().manual_seed(0), torch.device("cpu"))
    phi = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(a / math.sqrt(2))  # P(|z| <= a) = 2 Phi(a) - 1
    variance = 1 - 2 * a * phi / mass  # Var(z | |z| <= a) for a standard normal
    assert z.abs().max() <= a
    assert abs(float(z.mean())) < 4 * math.sqrt(variance / 200_000)
    assert float(z.var()) == pytest.approx(variance, rel=0.01)
    again = truncated_randn((200_000,), a, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert torch.equal(again, z)


def test_a_threshold_must_be_positive():
    with pytest.raises(ValueError, match="threshold"):
        truncated_randn((3,), 0.0, torch.Generator(), torch.device("cpu"))


@pytest.mark.parametrize("name", ["gan", "dcgan", "cgan"])
def test_sample_feeds_g_truncated_latents(name):
    seen = []
    full, cut, loose = build(name), build(name, z_truncation=0.5), build(name, z_truncation=50.0)
    for family in (full, cut, loose):
        net = family.nets["generator"]
        net.register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
        family.sample(64, generator=torch.Generator().manual_seed(3))
    assert seen[0].abs().max() > 1.5 and seen[1].abs().max() <= 0.5
    assert torch.equal(seen[2], seen[0])  # a threshold no draw reaches leaves the stream as it was
    images = cut.sample(4, labels=torch.tensor([1, 2, 3, 4]), generator=torch.Generator().manual_seed(0))
    assert images.shape == (4, 1, 28, 28) and torch.isfinite(images).all()


@pytest.mark.parametrize("value", [-1.0, 0.05])
def test_bad_thresholds_are_config_errors(value):
    with pytest.raises(ConfigError, match="z_truncation"):
        build("gan", z_truncation=value)
