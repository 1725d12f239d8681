"""``ddpm-consistency``: consistency distillation of a trained ddpm/ldm (Song et al. 2023, Algorithm 2).

A consistency model f(x_t, t) maps any point of a probability-flow ODE trajectory to its
start, the data. Distillation discretises the teacher's ODE at ``ode_steps`` + 1 indices
t_N > ... > t_0 = 0; each step draws x_{t_n+1} ~ q(x | x_0), moves it one deterministic
DDIM step (the Euler step of the PF-ODE) of the guided teacher to x^_{t_n}, and pulls
f_theta(x_{t_n+1}) towards f_theta-(x^_{t_n}) of a target network theta- that follows the
student as an EMA with rate ``target_decay`` (mu); samples come from a separate, slower EMA.

The parameterisation is the paper's: in the variance-exploding view x / alpha with noise
level sigma = sqrt((1 - a) / a), f = c_skip(sigma) x + c_out(sigma) F with
c_skip(sigma_min) = 1 and c_out(sigma_min) = 0 (so f is the identity at t_0), and F the
network read as EDM reads a denoiser, so the student, a copy of the teacher's network,
starts close to the teacher's own denoiser (``distill_maths.consistency_function``).
Sampling: one step, x_0 = f(x_T, T); or k steps (Algorithm 1), re-noising the estimate to
each of k - 1 lower times on the grid and applying f again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.distill_base import DistilledDiffusion, check_distill_fields, frozen_copy
from genlab.models.distill_maths import (
    at,
    consistency_function,
    consistency_grid,
    ddim_step,
    multistep_times,
    ve_sigma,
)
from genlab.models.registry import register
from genlab.nn.noise import randn


@dataclass(frozen=True)
class ConsistencyConfig:
    teacher: str = ""  # the teacher run directory (a ddpm or ldm run); "untrained"/"untrained-ldm" for tests
    teacher_checkpoint: str = "latest"  # its checkpoint; `genlab distill` pins the step number
    teacher_hash: str = ""  # its weights hash, checked on every build ("" = unchecked)
    teacher_run_id: str = ""  # its run id, for provenance (`genlab distill` records it)
    # What the student's output means: v (Salimans & Ho; the copy re-learns high noise), or "teacher" (an exact copy
    # of its parameterisation), eps or x0. An eps student diverged here (docs/results/few-step.md)
    student_prediction: Literal["teacher", "eps", "v", "x0"] = "v"
    ode_steps: int = 12  # N: intervals of the teacher's PF-ODE the consistency is enforced across
    target_decay: float = 0.95  # mu: EMA rate of the target network theta- (Song et al.: 0.95 for distillation)
    sigma_data: float = 0.5  # the data's standard deviation in c_skip / c_out
    label_dropout: float = 0.1  # share of each batch that learns the teacher's unconditional prediction
    ema_decay: float = 0.999  # the EMA that samples
    lr: float = 5e-4
    sampler: Literal["consistency"] = "consistency"  # one-step or multistep consistency sampling
    sample_steps: int = 1  # 1 = one step; k > 1 = multistep (k evaluations of f)
    eta: float = 0.0  # must be 0 (multistep sampling re-noises by construction)
    guidance: float = 1.0  # the teacher's classifier-free guidance w the student learns (and samples at)

    def check(self) -> None:
        check_distill_fields(self)
        if self.ode_steps < 1 or self.sample_steps > self.ode_steps:
            raise ConfigError(
                f"ode_steps must be >= 1 and sample_steps at most ode_steps, got {self.ode_steps} and "
                f"{self.sample_steps}"
            )
        if not 0.0 <= self.target_decay < 1.0 or self.sigma_data <= 0:
            raise ConfigError("target_decay must be in [0, 1) and sigma_data > 0")


@register(
    "ddpm-consistency",
    config=ConsistencyConfig,
    description="Consistency distillation of a ddpm/ldm run for one- or few-step sampling (Song et al. 2023); made "
    "by `genlab distill RUN --method consistency`",
    tiny={"teacher": "untrained", "ode_steps": 4, "sample_steps": 1},
)
class ConsistencyDistillation(DistilledDiffusion):
    def __init__(self, cfg: ConsistencyConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        self.grid = consistency_grid(self.teacher.num_train_steps, cfg.ode_steps)  # N + 1 indices, last 0
        self.sigma_min = float(((1 - self.alpha_bar[0]) / self.alpha_bar[0]).sqrt())  # sigma at t_0
        self.target = frozen_copy(self.nets["student"])  # theta-, updated by EMA only

    def extra_modules(self) -> dict[str, nn.Module]:
        return {"target": self.target}

    def x0_fn(self, net, x, i, y):
        """f(x_t, t): the consistency function at per-sample indices ``i``, in the diffusion space."""
        denoised = self.student_x0(net, x, i, y).float()
        sigma = ve_sigma(self.alpha_bar, i, denoised)
        x_ve = x / at(self.alpha_bar, i, denoised).sqrt()
        return consistency_function(x_ve, denoised, sigma, self.sigma_min, self.cfg.sigma_data)

    def train_step(self, images, labels, generator):
        x0, y, classes, dropped = self.batch(images, labels, generator)
        # 1. Adjacent grid points t_{n+1} > t_n per sample, and x_{t_{n+1}} ~ q(x | x_0).
        grid = torch.tensor(self.grid, device=x0.device)
        n = self.pick(self.cfg.ode_steps, x0.shape[0], generator, x0.device)
        hi, lo = grid[n], grid[n + 1]
        x_hi = self.noisy(x0, hi, generator)
        # 2. One deterministic DDIM (Euler) step of the guided teacher, then the target network there (float32).
        with torch.no_grad(), torch.autocast(x0.device.type, enabled=False):
            x0_teacher = self.teacher.guided_x0(x_hi, hi, classes, self.cfg.guidance, dropped)
            x_lo = ddim_step(x_hi, x0_teacher, hi, lo, self.alpha_bar, clip_x0=self.teacher.clip_x0)
            target = self.x0_fn(self.target, x_lo, lo, y)
        # 3. The consistency loss (squared L2, lambda = 1), then theta- <- mu theta- + (1 - mu) theta.
        loss = F.mse_loss(self.x0_fn(self.nets["student"], x_hi, hi, y), target)
        self.optimise(loss)
        with torch.no_grad():
            for p_target, p in zip(self.target.parameters(), self.nets["student"].parameters()):
                p_target.lerp_(p, 1 - self.cfg.target_decay)
        return {"loss": loss.item()}

    def sample_space(self, x, y, generator, x0_fn):
        x0 = x
        for m, t in enumerate(multistep_times(self.grid, self.cfg.sample_steps)):
            i = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
            if m > 0:  # re-noise the current estimate to time t (Algorithm 1)
                a = at(self.alpha_bar, i, x0)
                x = a.sqrt() * x0 + (1 - a).sqrt() * randn(x0.shape, generator, x0.device)
            x0 = x0_fn(x, i, y)
            if self.teacher.clip_x0:
                x0 = x0.clamp(-1, 1)
        return x0
