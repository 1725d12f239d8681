"""``ddpm-progressive``: progressive distillation of a trained ddpm/ldm to few DDIM steps (Salimans & Ho 2022).

The student starts as a copy of the teacher. Round r trains it to do in one DDIM step what
its teacher does in two (Algorithm 2): from x_t on the student's grid, two deterministic
DDIM steps of the teacher reach x_t''; the student regresses the x-target
x~ = (x_t'' - (sigma_t''/sigma_t) x_t) / (alpha_t'' - (sigma_t''/sigma_t) alpha_t), the
clean-data prediction whose single DDIM step lands on x_t'', under the truncated-SNR weight
max(alpha^2 / sigma^2, 1). Round 0's teacher is the trained run (classifier-free guided at
``guidance``, on ``2 * rounds[0]`` steps); each later round's teacher is the previous
round's student (its EMA), the student restarting from it with fresh Adam moments. The
``rounds`` tuple is the step count after each round, halving (e.g. 32, 16, 8, 4, 2, 1);
each round lasts ``round_steps`` optimisation steps and the last round keeps training for
any steps beyond. The time grids are "trailing" (``distill_maths.trailing_grid``) so that
halving keeps every other time point. Every DDIM step, the teacher's and the student's, clips
the predicted x_0 to [-1, 1] for a pixel teacher, as the teacher's own DDIM does (latents are
not clipped). ``student_prediction``: the student's output is read as the teacher's
parameterisation (an exact copy at the start) or as v/x0/eps; Salimans & Ho use v (or x0)
because an eps student must get x_t's noise right to within alpha_t of the signal at the
first step, where alpha_t is 0.006 for the linear schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.distill_base import DistilledDiffusion, check_distill_fields, frozen_copy
from genlab.models.distill_maths import ddim_step, progressive_target, trailing_grid, truncated_snr_weight
from genlab.models.registry import register


@dataclass(frozen=True)
class ProgressiveConfig:
    teacher: str = ""  # the teacher run directory (a ddpm or ldm run); "untrained"/"untrained-ldm" for tests
    teacher_checkpoint: str = "latest"  # its checkpoint; `genlab distill` pins the step number
    teacher_hash: str = ""  # its weights hash, checked on every build ("" = unchecked)
    teacher_run_id: str = ""  # its run id, for provenance (`genlab distill` records it)
    # What the student's output means: v (Salimans & Ho; the copy re-learns high noise), or "teacher" (an exact copy
    # of its parameterisation), eps or x0. An eps student diverged here (docs/results/few-step.md)
    student_prediction: Literal["teacher", "eps", "v", "x0"] = "v"
    rounds: tuple[int, ...] = (32, 16, 8, 4)  # DDIM steps after each round, halving; round 0 learns 2 x rounds[0]
    round_steps: int = 400  # optimisation steps per round (the last round keeps any beyond)
    label_dropout: float = 0.1  # share of each batch that learns the teacher's unconditional prediction
    ema_decay: float = 0.999
    lr: float = 5e-4
    sampler: Literal["ddim"] = "ddim"  # the student's deterministic DDIM on the trailing grid
    sample_steps: int = 4  # DDIM steps when sampling (the last round's count is what it was trained for)
    eta: float = 0.0  # must be 0: the student learned the deterministic path
    guidance: float = 1.0  # the teacher's classifier-free guidance w the student learns (and samples at)

    def check(self) -> None:
        check_distill_fields(self)
        if not self.rounds or self.rounds[-1] < 1:
            raise ConfigError(f"rounds must list the steps after each round, down to >= 1, got {list(self.rounds)}")
        halving = all(a == 2 * b for a, b in zip(self.rounds, self.rounds[1:]))
        if not halving:
            raise ConfigError(f"each round halves the steps: rounds like 32,16,8,4; got {list(self.rounds)}")
        if self.round_steps < 1:
            raise ConfigError(f"round_steps must be >= 1, got {self.round_steps}")


@register(
    "ddpm-progressive",
    config=ProgressiveConfig,
    description="Progressive distillation of a ddpm/ldm run to few DDIM steps (Salimans & Ho 2022); made by "
    "`genlab distill RUN --method progressive`",
    tiny={"teacher": "untrained", "rounds": (2, 1), "round_steps": 1, "sample_steps": 1},
)
class ProgressiveDistillation(DistilledDiffusion):
    def __init__(self, cfg: ProgressiveConfig, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if 2 * cfg.rounds[0] > self.teacher.num_train_steps:
            raise ConfigError(
                f"round 0 needs {2 * cfg.rounds[0]} teacher steps but the teacher has {self.teacher.num_train_steps}"
            )
        # The previous round's student, frozen: the teacher of rounds 1, 2, ...
        self.round_teacher = frozen_copy(self.nets["student"])
        self.round = 0

    def extra_modules(self) -> dict[str, nn.Module]:
        return {"round_teacher": self.round_teacher}

    def x0_fn(self, net, x, i, y):
        return self.student_x0(net, x, i, y)

    def round_of(self, step: int) -> int:
        return min(step // self.cfg.round_steps, len(self.cfg.rounds) - 1)

    @torch.no_grad()
    def enter_round(self, r: int) -> None:
        """Start round ``r``: the EMA of the round before becomes the round teacher and the student's start."""
        while self.round < r:
            self.round += 1
            weights = self.nets["ema"].net.state_dict()
            self.round_teacher.load_state_dict(weights)
            self.nets["student"].load_state_dict(weights)
            self.nets["ema"].num_updates.zero_()
            self.opts["adam"].state.clear()

    @torch.no_grad()
    def teacher_step(self, x, i, j, y, classes, dropped) -> torch.Tensor:
        """One deterministic DDIM step of this round's teacher from ``i`` to ``j`` (per sample), in float32."""
        with torch.autocast(x.device.type, enabled=False):
            if self.round == 0:
                x0 = self.teacher.guided_x0(x, i, classes, self.cfg.guidance, dropped)
                return ddim_step(x, x0, i, j, self.alpha_bar, clip_x0=self.teacher.clip_x0)
            return ddim_step(x, self.x0_fn(self.round_teacher, x, i, y), i, j, self.alpha_bar, self.teacher.clip_x0)

    def train_step(self, images, labels, generator):
        self.enter_round(self.round_of(self.step))
        x0, y, classes, dropped = self.batch(images, labels, generator)
        n = self.cfg.rounds[self.round]
        # 1. The teacher's grid of 2n steps (+ the data, -1); the student steps from point 2k to 2k + 2.
        grid = torch.tensor([*trailing_grid(self.teacher.num_train_steps, 2 * n), -1], device=x0.device)
        k = self.pick(n, x0.shape[0], generator, x0.device)
        i, mid, j = grid[2 * k], grid[2 * k + 1], grid[2 * k + 2]
        x_t = self.noisy(x0, i, generator)
        # 2. Two teacher steps, and the x-target that one student step must predict to land on the same point.
        x_end = self.teacher_step(self.teacher_step(x_t, i, mid, y, classes, dropped), mid, j, y, classes, dropped)
        target = progressive_target(x_t, x_end, i, j, self.alpha_bar)
        # 3. The student's clean-data estimate under the truncated-SNR weight (Salimans & Ho, section 4).
        x0_hat = self.x0_fn(self.nets["student"], x_t, i, y).float()
        loss = (truncated_snr_weight(self.alpha_bar, i, x_t) * (x0_hat - target) ** 2).mean()
        self.optimise(loss)
        return {"loss": loss.item(), "round": float(self.round)}

    def sample_space(self, x, y, generator, x0_fn):
        grid = [*trailing_grid(self.teacher.num_train_steps, self.cfg.sample_steps), -1]
        for a, b in zip(grid, grid[1:]):
            i = torch.full((x.shape[0],), a, dtype=torch.long, device=x.device)
            j = torch.full_like(i, b)
            x = ddim_step(x, x0_fn(x, i, y), i, j, self.alpha_bar, self.teacher.clip_x0)
        return x

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "round": self.round}

    def load_state_dict(self, state: dict[str, Any], *, weights_only: bool = False) -> None:
        super().load_state_dict(state, weights_only=weights_only)
        self.round = int(state["round"])
