"""DDPM ancestral sampling over all T steps (Ho et al. 2020, Algorithm 2)."""

from __future__ import annotations

import torch

from genlab.errors import ConfigError
from genlab.math.diffusion import posterior_mean_variance, x0_from_eps
from genlab.nn.noise import randn
from genlab.samplers.base import Sampler, schedule_on


class DDPMSampler(Sampler):
    """x_{t-1} = posterior mean given the predicted x_0, plus sigma_t z with sigma_t^2 = beta_t."""

    def set_timesteps(self, n: int) -> None:
        if n != self.num_train_steps:
            raise ConfigError(
                f"DDPM ancestral sampling runs all {self.num_train_steps} steps; for {n} steps use the ddim sampler"
            )
        self.timesteps = list(range(n - 1, -1, -1))

    def step(self, eps: torch.Tensor, i: int, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        idx = torch.full((x.shape[0],), i, dtype=torch.long, device=x.device)
        alpha_bar, betas = schedule_on(self.alpha_bar, x), schedule_on(self.betas, x)
        # 1. Predicted x_0, clipped to the data range (the usual stabiliser, Ho et al.'s code).
        x0 = x0_from_eps(x, idx, eps, alpha_bar)
        if self.clip_x0:
            x0 = x0.clamp(-1, 1)
        # 2. Mean of q(x_{t-1} | x_t, x_0) (eq. 7); equals eq. 11's mu_theta when x_0 is not clipped.
        mean, _ = posterior_mean_variance(x0, x, idx, betas, alpha_bar)
        if i == 0:
            return mean
        # 3. Add noise with sigma_t^2 = beta_t (section 3.2).
        sigma = self.betas[i].to(x.dtype).sqrt()
        return mean + sigma * randn(x.shape, generator, x.device, x.dtype)
