"""What every diffusion sampler shares: the schedule, ``add_noise`` and the sampling loop.

Contract (diffusers' schedulers): ``set_timesteps(n)``, ``timesteps``, ``step(eps, i, x,
generator) -> x_prev`` and ``add_noise(x0, noise, i)``. Samplers are not modules and hold
no network; ``eps`` is the model's noise prediction at 0-based step index ``i``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from genlab.math.diffusion import q_sample
from genlab.math.schedules import alpha_bar


def schedule_on(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A float64 schedule (T,) cast to ``like``'s dtype, then moved to its device.

    The closed forms of genlab.math.diffusion cast the schedule to the data's dtype before
    any arithmetic, so casting first changes no number; it also keeps float64 off devices
    without it (MPS). On the CPU in float64 this is the schedule itself.
    """
    return values.to(like.dtype).to(like.device)


class Sampler:
    """Schedule bookkeeping for a sampler over ``T = len(betas)`` steps."""

    def __init__(self, betas: np.ndarray, clip_x0: bool = True) -> None:
        self.betas = torch.from_numpy(np.asarray(betas, dtype=np.float64))
        self.alpha_bar = torch.from_numpy(alpha_bar(betas))
        self.num_train_steps = len(betas)
        self.clip_x0 = clip_x0
        self.timesteps: list[int] = list(range(self.num_train_steps - 1, -1, -1))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
        """A sample of q(x_t | x_0) at 0-based step indices ``i`` (B,)."""
        return q_sample(x0, i, noise, schedule_on(self.alpha_bar, x0))


EpsFn = Callable[[torch.Tensor, int], torch.Tensor]  # (x_t, step index) -> predicted noise


def run_sampler(
    sampler, eps_fn: EpsFn, x: torch.Tensor, generator: torch.Generator, trajectory: list | None = None
) -> torch.Tensor:
    """Run the reverse process from x_T = ``x`` over ``sampler.timesteps``; returns x_0.

    With ``trajectory`` (a list), (step index, x_t) pairs are appended along the way.
    """
    for i in sampler.timesteps:
        if trajectory is not None:
            trajectory.append((i, x.clone()))
        x = sampler.step(eps_fn(x, i), i, x, generator)
    if trajectory is not None:
        trajectory.append((-1, x.clone()))
    return x
