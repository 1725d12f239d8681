"""DDIM sampling with any number of steps and eta in [0, 1] (Song et al. 2021, eq. 12)."""

from __future__ import annotations

import numpy as np
import torch

from genlab.errors import ConfigError
from genlab.math.diffusion import eps_from_x0, x0_from_eps
from genlab.nn.noise import randn
from genlab.samplers.base import Sampler, schedule_on


class DDIMSampler(Sampler):
    """eta = 0 is deterministic (an ODE sampler); eta = 1 matches DDPM's noise level."""

    def __init__(self, betas: np.ndarray, eta: float = 0.0, clip_x0: bool = True) -> None:
        super().__init__(betas, clip_x0)
        if not 0.0 <= eta <= 1.0:
            raise ConfigError(f"DDIM's eta must be in [0, 1], got {eta}")
        self.eta = eta
        self._prev: dict[int, int] = {}
        self.set_timesteps(min(50, self.num_train_steps))

    def set_timesteps(self, n: int) -> None:
        """``n`` step indices evenly spread from T-1 down to 0 (one step starts at T-1)."""
        if not 1 <= n <= self.num_train_steps:
            raise ConfigError(f"DDIM steps must be in 1..{self.num_train_steps}, got {n}")
        steps = np.unique(np.round(np.linspace(self.num_train_steps - 1, 0, n)).astype(int))[::-1]
        self.timesteps = [int(s) for s in steps]
        self._prev = {s: p for s, p in zip(self.timesteps, self.timesteps[1:] + [-1])}

    def step(self, eps: torch.Tensor, i: int, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        idx = torch.full((x.shape[0],), i, dtype=torch.long, device=x.device)
        alpha_bar = schedule_on(self.alpha_bar, x)
        a_t = self.alpha_bar[i].item()
        prev = self._prev[i]
        a_prev = self.alpha_bar[prev].item() if prev >= 0 else 1.0
        # 1. Predicted x_0 (clipped), and the noise consistent with it.
        x0 = x0_from_eps(x, idx, eps, alpha_bar)
        if self.clip_x0:
            x0 = x0.clamp(-1, 1)
            eps = eps_from_x0(x, idx, x0, alpha_bar)
        # 2. sigma_t(eta) of eq. 16, then eq. 12: x_prev = sqrt(a_prev) x0 + direction + noise.
        sigma = self.eta * ((1 - a_prev) / (1 - a_t)) ** 0.5 * (1 - a_t / a_prev) ** 0.5
        x_prev = a_prev**0.5 * x0 + max(1 - a_prev - sigma**2, 0.0) ** 0.5 * eps
        if sigma > 0:
            x_prev = x_prev + sigma * randn(x.shape, generator, x.device, x.dtype)
        return x_prev

    def invert(self, eps_fn, x0: torch.Tensor) -> torch.Tensor:
        """DDIM inversion (eta = 0 run backwards): image x_0 -> latent x_T along the same steps."""
        x = x0
        for i in reversed(self.timesteps):  # 0 ... T-1
            prev = self._prev[i]
            a_t, a_prev = self.alpha_bar[i].item(), (self.alpha_bar[prev].item() if prev >= 0 else 1.0)
            eps = eps_fn(x, prev if prev >= 0 else i)  # the noise estimate at the lower level
            x0_hat = (x - (1 - a_prev) ** 0.5 * eps) / a_prev**0.5
            x = a_t**0.5 * x0_hat + (1 - a_t) ** 0.5 * eps
        return x
