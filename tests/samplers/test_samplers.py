"""Samplers with an oracle: for a single data point x*, eps(x_t) = (x_t - sqrt(ab) x*) / sqrt(1 - ab) exactly."""

import numpy as np
import pytest
import torch

from genlab.errors import ConfigError
from genlab.math.schedules import linear_betas
from genlab.samplers import DDIMSampler, DDPMSampler, run_sampler

BETAS = linear_betas(1000)
TARGET = torch.linspace(-0.9, 0.9, 16).view(1, 1, 4, 4)


def oracle(sampler):
    def eps(x, i):
        a = sampler.alpha_bar[i].item()
        return (x - a**0.5 * TARGET) / (1 - a) ** 0.5

    return eps


def start(seed=0, n=3):
    return torch.randn(n, 1, 4, 4, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("steps", [1, 10, 50, 1000])
def test_ddim_lands_on_the_data_point(steps):
    sampler = DDIMSampler(BETAS)
    sampler.set_timesteps(steps)
    out = run_sampler(sampler, oracle(sampler), start(), torch.Generator().manual_seed(1))
    assert torch.allclose(out, TARGET.expand(3, -1, -1, -1), atol=1e-3)  # float32 over up to 1000 steps


def test_ddpm_lands_on_the_data_point():
    sampler = DDPMSampler(BETAS)
    sampler.set_timesteps(1000)
    out = run_sampler(sampler, oracle(sampler), start(), torch.Generator().manual_seed(1))
    assert torch.allclose(out, TARGET.expand(3, -1, -1, -1), atol=1e-3)  # float32 over up to 1000 steps


def test_ddim_eta_0_is_deterministic_and_eta_1_is_not():
    def eps_fn(x, i):
        return 0.5 * x  # any fixed function of x

    outs = {}
    for eta in (0.0, 1.0):
        sampler = DDIMSampler(BETAS, eta=eta)
        sampler.set_timesteps(20)
        outs[eta] = [run_sampler(sampler, eps_fn, start(), torch.Generator().manual_seed(s)) for s in (1, 2)]
    assert torch.equal(*outs[0.0])
    assert not torch.equal(*outs[1.0])


def test_ddim_timesteps():
    sampler = DDIMSampler(BETAS)
    sampler.set_timesteps(10)
    assert sampler.timesteps[0] == 999 and sampler.timesteps[-1] == 0 and len(sampler.timesteps) == 10
    assert np.all(np.diff(sampler.timesteps) < 0)
    with pytest.raises(ConfigError, match="1..1000"):
        sampler.set_timesteps(0)
    with pytest.raises(ConfigError, match="eta"):
        DDIMSampler(BETAS, eta=1.5)


def test_ddpm_runs_all_steps_only():
    with pytest.raises(ConfigError, match="use the ddim sampler"):
        DDPMSampler(BETAS).set_timesteps(50)


def test_ddim_inversion_round_trip_with_the_oracle():
    sampler = DDIMSampler(BETAS)
    sampler.set_timesteps(50)
    latent = sampler.invert(oracle(sampler), TARGET.clone())
    back = run_sampler(sampler, oracle(sampler), latent, torch.Generator().manual_seed(0))
    assert torch.allclose(back, TARGET, atol=1e-4)


def test_trajectory_is_recorded():
    sampler = DDIMSampler(BETAS)
    sampler.set_timesteps(5)
    trajectory = []
    run_sampler(sampler, oracle(sampler), start(n=1), torch.Generator(), trajectory)
    assert [i for i, _ in trajectory] == [999, 749, 500, 250, 0, -1]
