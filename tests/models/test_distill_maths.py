"""The closed forms of few-step distillation (genlab.models.distill_maths) against their definitions."""

import numpy as np
import pytest
import torch

from genlab.errors import ConfigError
from genlab.math.diffusion import eps_from_v, q_sample, v_target
from genlab.math.schedules import alpha_bar, named_betas
from genlab.models.distill_maths import (
    consistency_function,
    consistency_grid,
    consistency_scalings,
    ddim_step,
    eps_from_x0,
    multistep_times,
    progressive_target,
    trailing_grid,
    truncated_snr_weight,
    ve_sigma,
    x0_from_output,
)
from genlab.samplers import DDIMSampler

BETAS = named_betas("linear", 1000)
AB = torch.from_numpy(alpha_bar(BETAS))


def data(seed=0, n=6):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(n, 1, 4, 4, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(n, 1, 4, 4, generator=g, dtype=torch.float64)
    i = torch.randint(1, 1000, (n,), generator=g)
    return x0, eps, i


@pytest.mark.parametrize("t", [1000, 20, 64])
def test_the_trailing_grid_of_n_steps_is_every_other_point_of_2n(t):
    for n in (1, 2, 4, 8, 10):
        if 2 * n <= t:
            assert trailing_grid(t, n) == trailing_grid(t, 2 * n)[::2]
            assert trailing_grid(t, n)[0] == t - 1 and len(trailing_grid(t, n)) == n
    assert trailing_grid(1000, 4) == [999, 749, 499, 249]
    with pytest.raises(ConfigError):
        trailing_grid(20, 21)


def test_a_ddim_step_with_the_true_x0_stays_on_the_noise_trajectory():
    x0, eps, i = data()
    j = (i * 0.4).long() - 1  # some reach -1, the data itself
    x_j = ddim_step(q_sample(x0, i, eps, AB), x0, i, j, AB)
    expected = torch.where((j < 0).view(-1, 1, 1, 1), x0, q_sample(x0, j.clamp(min=0), eps, AB))
    torch.testing.assert_close(x_j, expected)


def test_a_ddim_step_matches_genlabs_ddim_sampler_at_eta_0():
    sampler = DDIMSampler(BETAS, eta=0.0, clip_x0=True)
    sampler.set_timesteps(10)
    x0, eps, _ = data(1)
    x = q_sample(x0, torch.full((6,), 999), eps, AB)
    for a, b in zip(sampler.timesteps, [*sampler.timesteps[1:], -1]):
        i, j = torch.full((6,), a), torch.full((6,), b)
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(a), dtype=torch.float64)
        expected = sampler.step(noise, a, x, torch.Generator())
        got = ddim_step(x, x0_from_output(noise, x, i, AB, "eps"), i, j, AB, clip_x0=True)
        torch.testing.assert_close(got, expected)
        x = expected


def test_one_student_step_to_the_progressive_target_lands_where_two_teacher_steps_do():
    x0, eps, i = data(2)
    mid, j = i // 2, i // 4 - 1
    x_t = q_sample(x0, i, eps, AB)
    g = torch.Generator().manual_seed(3)
    guess1, guess2 = (torch.rand(x0.shape, generator=g, dtype=torch.float64) * 2 - 1 for _ in range(2))
    x_end = ddim_step(ddim_step(x_t, guess1, i, mid, AB), guess2, mid, j, AB)  # any two teacher steps
    target = progressive_target(x_t, x_end, i, j, AB)
    torch.testing.assert_close(ddim_step(x_t, target, i, j, AB), x_end)
    last = j < 0
    torch.testing.assert_close(target[last], x_end[last])  # to the data, the target is where the teacher ends


def test_prediction_conversions_invert_the_training_targets():
    x0, eps, i = data(4)
    x_t = q_sample(x0, i, eps, AB)
    torch.testing.assert_close(x0_from_output(eps, x_t, i, AB, "eps"), x0)
    torch.testing.assert_close(x0_from_output(v_target(x0, i, eps, AB), x_t, i, AB, "v"), x0)
    torch.testing.assert_close(x0_from_output(x0, x_t, i, AB, "x0"), x0)
    torch.testing.assert_close(eps_from_x0(x_t, x0, i, AB), eps)
    torch.testing.assert_close(eps_from_v(x_t, i, v_target(x0, i, eps, AB), AB), eps)
    with pytest.raises(ConfigError):
        x0_from_output(eps, x_t, i, AB, "score")


def test_truncated_snr_weight_and_ve_sigma():
    i = torch.tensor([0, 500, 999])
    a = AB[i].view(-1, 1)
    like = torch.zeros(3, 1, dtype=torch.float64)
    torch.testing.assert_close(truncated_snr_weight(AB, i, like), torch.maximum(a / (1 - a), torch.ones_like(a)))
    assert truncated_snr_weight(AB, i, like)[2].item() == 1.0  # SNR(T) = 4e-5 is truncated to 1
    torch.testing.assert_close(ve_sigma(AB, i, like), ((1 - a) / a).sqrt())


def test_consistency_scalings_make_f_the_identity_at_sigma_min_and_the_denoiser_far_from_it():
    sigma = torch.tensor([0.01, 0.5, 3.0, 150.0], dtype=torch.float64).view(-1, 1)
    c_skip, c_out = consistency_scalings(sigma, 0.01, 0.5)
    assert c_skip[0].item() == 1.0 and c_out[0].item() == 0.0
    np.testing.assert_allclose(c_skip[1:, 0], 0.25 / ((sigma[1:, 0] - 0.01) ** 2 + 0.25))
    np.testing.assert_allclose(c_out[1:, 0], (sigma[1:, 0] - 0.01) * 0.5 / (0.25 + sigma[1:, 0] ** 2).sqrt())
    g = torch.Generator().manual_seed(5)
    x, d = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.randn(4, 3, generator=g, dtype=torch.float64)
    f = consistency_function(x, d, sigma, 0.01, 0.5)
    torch.testing.assert_close(f[0], x[0])  # boundary condition f(x, sigma_min) = x
    torch.testing.assert_close(consistency_function(x, d, sigma, 0.0, 0.5), d)  # sigma_min = 0: f is the denoiser


def test_consistency_grid_and_multistep_times():
    grid = consistency_grid(1000, 18)
    assert len(grid) == 19 and grid[0] == 999 and grid[-1] == 0 and grid == sorted(grid, reverse=True)
    assert multistep_times(grid, 1) == [999]
    assert multistep_times(grid, 2) == [999, grid[9]]
    assert len(set(multistep_times(grid, 18))) == 18 and 0 not in multistep_times(grid, 18)
    with pytest.raises(ConfigError, match="1..18"):
        multistep_times(grid, 19)
    with pytest.raises(ConfigError):
        consistency_grid(20, 20)
