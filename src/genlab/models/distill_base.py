"""What both few-step students share: the teacher, the student network, labels, guidance, state.

A student is a copy of the teacher's EMA network (same architecture and parameterisation),
trained by the generic trainer through ``train_step``; its EMA samples. The teacher is
rebuilt from its run on every construction (training, resume, sampling) and checked against
the weights hash the config pins; its weights also travel in every checkpoint, so a resume
continues from exactly the teacher the run started with.

Guidance: the student learns the teacher's classifier-free-guided prediction at the config's
w (guided distillation, Meng et al. 2023), so it samples with one network pass per step and
no w; a share ``label_dropout`` of each batch learns the teacher's unconditional prediction
under the null class, so the student also samples unconditionally (w = 0). Any other w is
a ConfigError: the student cannot honour it.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.base import Family
from genlab.models.ddpm import EMA
from genlab.models.distill_maths import eps_from_x0
from genlab.models.distill_teacher import Teacher, build_teacher, check_teacher_hash
from genlab.nn.noise import rand, randint, randn

# (x_t, per-sample step indices i, student labels y or None) -> the student's x_0 estimate, (B, ...) -> (B, ...).
X0 = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def check_distill_fields(cfg: Any) -> None:
    """Checks both student configs share (the teacher's own limits are checked once it is built)."""
    if not cfg.teacher:
        raise ConfigError("a student needs its teacher: --set teacher=RUN_DIR (a trained ddpm or ldm run)")
    if cfg.lr <= 0 or cfg.guidance < 0:
        raise ConfigError("lr must be > 0 and guidance >= 0")
    if not 0.0 <= cfg.label_dropout < 1.0 or not 0.0 <= cfg.ema_decay < 1.0:
        raise ConfigError("label_dropout and ema_decay must be in [0, 1)")
    if cfg.eta != 0:
        raise ConfigError(
            f"a distilled student follows the teacher's deterministic (eta 0) path; eta must be 0, got {cfg.eta}"
        )
    if cfg.sample_steps < 1:
        raise ConfigError(f"sample_steps must be >= 1, got {cfg.sample_steps}")


def frozen_copy(net: nn.Module) -> nn.Module:
    """A copy of ``net`` that takes no gradients, in eval mode (a round teacher, a target network)."""
    return copy.deepcopy(net).requires_grad_(False).eval()


class DistilledDiffusion(Family):
    """Base of ``ddpm-progressive`` and ``ddpm-consistency``: nets ``student`` and ``ema`` (+ subclass extras)."""

    kind = "diffusion"

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        cfg.check()
        where = f"run {cfg.teacher} (checkpoint {cfg.teacher_checkpoint})"
        self.teacher = Teacher(build_teacher(cfg.teacher, cfg.teacher_checkpoint, info))
        check_teacher_hash(self.teacher, cfg.teacher_hash, where)
        if cfg.sample_steps > self.teacher.num_train_steps:
            raise ConfigError(f"sample_steps must be in 1..{self.teacher.num_train_steps}, got {cfg.sample_steps}")
        self.conditional = self.teacher.conditional
        self.num_classes = self.teacher.num_classes
        self.alpha_bar = self.teacher.alpha_bar  # (T,) float64, the teacher's schedule
        self.data_scale = self.teacher.family.data_scale  # pixels in [-1, 1] for ddpm, [0, 1] for ldm's encoder
        # What the student's output means: the teacher's parameterisation, or another one (the copy then starts
        # wrong where the two differ, at high noise, and round 0 / the first steps re-learn it).
        self.prediction = self.teacher.prediction if cfg.student_prediction == "teacher" else cfg.student_prediction
        self.distilled_guidance = float(cfg.guidance)  # the w the weights learned (a checkpoint's, once loaded)
        student = copy.deepcopy(self.teacher.net).requires_grad_(True).train()
        self.nets: dict[str, nn.Module] = {"student": student, "ema": EMA(student, cfg.ema_decay)}
        self.opts = {"adam": torch.optim.Adam(student.parameters(), lr=cfg.lr)}

    # ---- training helpers -------------------------------------------------------------------------------------

    def batch(self, images: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator):
        """(x_0 in the diffusion space, student labels y, class labels, dropped mask) for a training batch.

        Each label is replaced by the null class with p = label_dropout (its target is then the
        teacher's unconditional prediction). Shapes: images (B, C, H, W) -> x0 (B, *shape), y (B,) or None.
        """
        x0 = self.teacher.encode(images)
        b = x0.shape[0]
        dropped = rand((b,), generator, x0.device) < self.cfg.label_dropout
        if not self.conditional or labels is None:
            return x0, None, None, torch.zeros(b, dtype=torch.bool, device=x0.device)
        y = torch.where(dropped, torch.full_like(labels, self.num_classes), labels)
        return x0, y, labels, dropped

    def noisy(self, x0: torch.Tensor, i: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A sample of q(x_t | x_0) at per-sample indices ``i``."""
        a = self.teacher.alpha_bar_at(i, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * randn(x0.shape, generator, x0.device)

    def pick(self, choices: int, b: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        """``b`` uniform draws from 0..choices-1. Shapes: -> (b,) int64."""
        return randint(0, choices, (b,), generator, device)

    def optimise(self, loss: torch.Tensor) -> None:
        """One Adam step of the student on ``loss``, then the sampling EMA."""
        self.opts["adam"].zero_grad(set_to_none=True)
        loss.backward()
        self.opts["adam"].step()
        self.nets["ema"].update(self.nets["student"])
        self.step += 1

    # ---- sampling ---------------------------------------------------------------------------------------------

    def sampling_labels(self, labels: torch.Tensor | None, guidance: float, n: int) -> torch.Tensor | None:
        """The labels the student sees for guidance ``guidance``: the classes at the distilled w, the null
        class at w = 0 (or without labels), nothing for an unconditional teacher."""
        if not self.conditional:
            return None
        if labels is None or guidance == 0:
            return self.teacher.null_labels(n, self.device)
        if guidance != self.distilled_guidance:
            raise ConfigError(
                f"this student was distilled at guidance w = {self.distilled_guidance:g}; it samples at that w or "
                f"unconditionally (w = 0), not at w = {guidance:g} (distil again with --guidance {guidance:g})"
            )
        return labels.to(self.device)

    def student_x0(self, net: nn.Module, x: torch.Tensor, i: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The clean-data estimate of a student-shaped ``net`` (student, EMA, round teacher, target network)."""
        return self.teacher.x0_of(net, x, i, y, self.prediction)

    @abstractmethod
    def x0_fn(self, net: nn.Module, x: torch.Tensor, i: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The student's clean-data estimate from x_t at per-sample indices ``i``. Shapes: (B, ...) -> (B, ...)."""

    def eps_fn(self, labels: torch.Tensor | None, guidance: float, net: nn.Module | None = None):
        """(x_t, i) -> the noise consistent with the student's clean-data estimate (the GuidedDiffusion view).

        ``guidance`` must be the distilled w or 0 (see :meth:`sampling_labels`); the student needs
        one pass per call whatever w it learned.
        """
        net = self.nets["ema"].net if net is None else net

        def eps(x: torch.Tensor, i: int) -> torch.Tensor:
            idx = torch.full((x.shape[0],), i, dtype=torch.long, device=x.device)
            y = self.sampling_labels(labels, guidance, x.shape[0])
            return eps_from_x0(x, self.x0_fn(net, x, idx, y), idx, self.alpha_bar)

        return eps

    @abstractmethod
    def sample_space(
        self, x: torch.Tensor, y: torch.Tensor | None, generator: torch.Generator, x0_fn: X0
    ) -> torch.Tensor:
        """The student's sampler from x_T = ``x`` to x_0 in the diffusion space; ``x0_fn(x_t, i, y)`` is the
        student's clean-data estimate (:meth:`x0_fn` of its EMA here, an exported graph in genlab.export)."""

    @torch.inference_mode()
    def sample(self, n, *, labels=None, generator):
        if self.conditional and labels is None:
            labels = torch.arange(n, device=self.device) % self.num_classes
        y = self.sampling_labels(labels, self.cfg.guidance, n)
        x = randn((n, *self.teacher.shape), generator, self.device)
        ema = self.nets["ema"]
        ema.eval()
        try:
            x0_fn = partial(self.x0_fn, ema.net)
            return self.teacher.decode(self.sample_space(x, y, generator, x0_fn)).float().clamp(-1, 1)
        finally:
            ema.train()

    # ---- state ------------------------------------------------------------------------------------------------

    def extra_modules(self) -> dict[str, nn.Module]:
        """Frozen networks a subclass keeps beside ``nets`` (saved, moved, never trained directly)."""
        return {}

    def to(self, device: str | torch.device) -> DistilledDiffusion:
        super().to(device)
        self.teacher.to(torch.device(device))
        for module in self.extra_modules().values():
            module.to(device)
        return self

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["teacher"] = self.teacher.state_dict()
        state["extra"] = {k: m.state_dict() for k, m in self.extra_modules().items()}
        state["distilled_guidance"] = self.distilled_guidance
        return state

    def load_state_dict(self, state: dict[str, Any], *, weights_only: bool = False) -> None:
        super().load_state_dict(state, weights_only=weights_only)
        self.teacher.load_state_dict(state["teacher"])
        check_teacher_hash(self.teacher, self.cfg.teacher_hash, "saved in this checkpoint")
        for k, module in self.extra_modules().items():
            module.load_state_dict(state["extra"][k])
        self.distilled_guidance = float(state["distilled_guidance"])
