"""The family contract: the only thing the trainer knows about a model.

A family bundles its networks, its losses and its sampler. The trainer calls
``train_step`` and ``sample``; checkpoints go through ``state_dict``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import defaultdict
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import torch
from torch import nn

from genlab.data import DataInfo
from genlab.errors import ConfigError
from genlab.models.shapes import ShapeSupport

Kind = Literal["gan", "vae", "diffusion", "translation"]


class Family(ABC):
    """Base class: networks in ``self.nets``, optimizers in ``self.opts``.

    Subclasses build both in ``__init__(cfg, info)`` and implement ``train_step`` and
    ``sample``. Images enter ``train_step`` scaled as ``data_scale`` says; ``sample``
    always returns images in [-1, 1], shape (N, C, H, W).
    """

    registry_name: ClassVar[str] = ""
    kind: ClassVar[Kind]  # which textbook family it belongs to; declared by every family (conformance-tested)
    data_scale: ClassVar[Literal["-1,1", "0,1"]] = "-1,1"
    conditional: bool = False  # a family may decide per config, in __init__
    batches_per_step: int = 1  # real batches per train_step, concatenated (a GAN's n_critic)
    monitor_losses: bool = True  # let the trainer warn on loss_d collapse / loss_g explosion (BCE games)
    device_types: ClassVar[tuple[str, ...]] = ("cpu", "cuda", "mps")  # where it can run (NumPy families: cpu)
    trains_in_torch: ClassVar[bool] = (
        True  # False: train_step runs NumPy, so autocast, channels-last and fused optimisers do not apply
    )
    shapes: ClassVar[ShapeSupport] = ShapeSupport()  # set by @register; a task-specific family is held to it

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        # A task-specific family says in one line which shapes it takes, before building anything.
        self.shapes.check(self.registry_name or type(self).__name__, info.channels, info.height, info.width)
        self.cfg = cfg
        self.info = info
        self.nets: dict[str, nn.Module] = {}
        self.opts: dict[str, torch.optim.Optimizer] = {}
        self.step = 0  # training steps, counted by families whose schedules depend on it; saved in checkpoints

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.info.channels, self.info.height, self.info.width)

    @abstractmethod
    def train_step(
        self, images: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator
    ) -> dict[str, float]:
        """One optimisation step on a batch; returns scalar metrics to log."""

    @abstractmethod
    def sample(self, n: int, *, labels: torch.Tensor | None = None, generator: torch.Generator) -> torch.Tensor:
        """``n`` images in [-1, 1], shape (n, C, H, W), drawn with ``generator`` only."""

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor | None) -> dict[str, float]:
        """Held-out metrics summed over a batch (the trainer averages per image); none by default."""
        return {}

    def summarise_evaluation(self, means: dict[str, float]) -> dict[str, float]:
        """Turn the per-image means of ``evaluate``'s sums into the metrics to log.

        The default logs them as they are; a family whose statistic is not a mean (a
        variance over the whole test set, say) returns the moments it needs from
        ``evaluate`` and finishes the statistic here."""
        return means

    @property
    def device(self) -> torch.device:
        """Where the networks live: the device of the first parameter (or buffer); cpu when there is none."""
        for net in self.nets.values():
            for tensor in (*net.parameters(), *net.buffers()):
                return tensor.device
        return torch.device("cpu")

    def to(self, device: str | torch.device) -> Family:
        """Move every network, and any optimizer state already there, to ``device``; returns self.

        Optimizer state follows through a load of its own state dict, which casts it to the
        parameters' device as torch does on resume (Adam's step counters stay on the CPU).
        A family that holds other tensors overrides this and calls it.
        """
        device = torch.device(device)
        if device.type not in self.device_types:
            raise ConfigError(
                f"{self.registry_name} runs on {' or '.join(self.device_types)} only, not {device}; use --device cpu"
            )
        before = [dict(net.named_parameters()) for net in self.nets.values()]
        for net in self.nets.values():
            net.to(device)
        # A move between devices whose tensors cannot share a type replaces the Parameter
        # objects themselves (torch's Module._apply); the optimizers must then hold the new ones.
        replaced = {
            id(old[name]): new
            for old, net in zip(before, self.nets.values())
            for name, new in net.named_parameters()
            if new is not old[name]
        }
        for opt in self.opts.values():
            if replaced:
                for group in opt.param_groups:
                    group["params"] = [replaced.get(id(p), p) for p in group["params"]]
                opt.state = defaultdict(dict, {replaced.get(id(p), p): s for p, s in opt.state.items()})
            if opt.state:
                opt.load_state_dict(opt.state_dict())
        return self

    def num_parameters(self) -> int:
        """Trainable weights: the values the optimisers update, each tensor counted once.

        The one definition every command uses (trainer, card, report, compare, eval --json).
        Frozen copies (EMA generators, a frozen autoencoder) are :meth:`num_frozen`, buffers
        (BatchNorm running statistics, counters) :meth:`num_buffers`. A family that trains
        without torch optimisers (the NumPy ones) counts every parameter of its networks.
        """
        return sum(p.numel() for p in self._trained())

    def num_frozen(self) -> int:
        """Parameter values of the networks that no optimiser updates (EMA copies, frozen encoders)."""
        trained = {id(p) for p in self._trained()}
        return sum(p.numel() for p in self._unique(self.nets.values(), "parameters") if id(p) not in trained)

    def num_buffers(self) -> int:
        """Buffer values of the networks (BatchNorm running statistics, EMA counters): saved, not trained."""
        return sum(b.numel() for b in self._unique(self.nets.values(), "buffers"))

    def parameter_counts(self) -> dict[str, int]:
        """``{"parameters", "frozen", "buffers"}``: what card, report, compare and eval --json state."""
        return {"parameters": self.num_parameters(), "frozen": self.num_frozen(), "buffers": self.num_buffers()}

    def _trained(self) -> list[torch.Tensor]:
        if not self.opts:
            return self._unique(self.nets.values(), "parameters")
        return self._unique_tensors(p for opt in self.opts.values() for g in opt.param_groups for p in g["params"])

    @classmethod
    def _unique(cls, nets, which: Literal["parameters", "buffers"]) -> list[torch.Tensor]:
        return cls._unique_tensors(
            t for net in nets for t in (net.parameters() if which == "parameters" else net.buffers())
        )

    @staticmethod
    def _unique_tensors(tensors) -> list[torch.Tensor]:
        seen: dict[int, torch.Tensor] = {}
        for t in tensors:
            seen.setdefault(id(t), t)
        return list(seen.values())

    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs: network weights/buffers and optimizer states."""
        return {
            "nets": {k: net.state_dict() for k, net in self.nets.items()},
            "opts": {k: opt.state_dict() for k, opt in self.opts.items()},
            "step": self.step,
        }

    def load_state_dict(self, state: dict[str, Any], *, weights_only: bool = False) -> None:
        for k, net in self.nets.items():
            net.load_state_dict(state["nets"][k])
        if not weights_only:
            for k, opt in self.opts.items():
                opt.load_state_dict(state["opts"][k])
        # Checkpoints from before the counter existed had no step-dependent schedules: 0 is exact.
        self.step = int(state.get("step", 0))

    def train(self, mode: bool = True) -> None:
        for net in self.nets.values():
            net.train(mode)


# What a family can do beyond the contract above, declared by the methods it defines and
# checked with ``isinstance(family, Protocol)`` (never ``hasattr``). The conformance suite
# asserts that each family's declaration matches its ``kind`` and that the methods work.


@runtime_checkable
class LatentLikelihood(Protocol):
    """An encoder q(z | x) and a decoder likelihood log p(x | z): the VAEs (ELBO, IWAE NLL, anomaly scores).

    Shapes: ``encode(x (B, C, H, W)) -> (mu, logvar)``, each (B, D);
    ``log_px_given_z(x (B, C, H, W), z (S, B, D)) -> (S, B)`` in nats, for S latent samples per image.
    """

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]: ...

    def log_px_given_z(self, x: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class VariationalBound(Protocol):
    """A diffusion model's variational bound -log p(x) <= L_T + sum_{t>1} L_{t-1} + L_0 (Ho et al. 2020, eq. 5),
    in nats per image, one term at a time so that an evaluator can sum all T of them or a stratified sample.

    ``bound_steps()`` is T. ``prior_term(x)`` is L_T. ``bound_terms(x, i, labels, generator=)`` is, per image,
    L_0 (the discretised decoder) where the 0-based step ``i`` is 0 and L_i = KL(q(x_i | x_{i+1}, x_0) ||
    p(x_i | x_{i+1})) where it is 1..T-1, each at one x_{i+1} ~ q drawn with ``generator``.
    Shapes: x (B, C, H, W) on the 256 grey levels of [-1, 1], i (B,) long, labels (B,) or None -> (B,) float64.
    """

    def bound_steps(self) -> int: ...

    def prior_term(self, x: torch.Tensor) -> torch.Tensor: ...

    def bound_terms(
        self, x: torch.Tensor, i: torch.Tensor, labels: torch.Tensor | None, *, generator: torch.Generator
    ) -> torch.Tensor: ...


@runtime_checkable
class ClassLikelihood(Protocol):
    """A class-conditional likelihood: log p(x | y), or a lower bound on it, with any label y put in — what a
    Bayes-rule classifier log P(y | x) = log p(x | y) + log P(y) - log Z needs (``genlab classify``).

    ``likelihood_classes()`` is K: the likelihood takes the labels 0..K-1 (0 for a model built unconditional).
    The estimator comes from the family's other declaration: a :class:`LatentLikelihood` (the IWAE bound, the
    label going to ``encode`` and ``log_px_given_z``) or a :class:`VariationalBound` (the label going to
    ``bound_terms``).
    """

    def likelihood_classes(self) -> int: ...


@runtime_checkable
class GuidedDiffusion(Protocol):
    """Sampled by a diffusion sampler through a (guided) noise predictor; its config has the
    sampling keys ``sampler``, ``sample_steps``, ``eta`` and ``guidance``."""

    def eps_fn(self, labels: Any, guidance: float, *args: Any) -> Any: ...


@runtime_checkable
class TextConditioned(Protocol):
    """Draws images of captions (``genlab sample --prompt``). Shapes: ``(len(captions), C, H, W)`` in [-1, 1]."""

    def sample_captions(
        self, captions: list[str], *, generator: torch.Generator, guidance: float | None = None
    ) -> torch.Tensor: ...


@runtime_checkable
class Truncatable(Protocol):
    """A style-based generator with the truncation trick: ``styles(z, psi=...)`` pulls w towards its mean;
    its config has the ``truncation`` key."""

    def styles(self, z: torch.Tensor, *, psi: float | None = None) -> torch.Tensor: ...


# The sampling-time config keys each capability brings (web sampler, genlab sample, export).
SAMPLING_KEYS: dict[type, tuple[str, ...]] = {
    GuidedDiffusion: ("sampler", "sample_steps", "eta", "guidance"),
    Truncatable: ("truncation",),
}


def sampling_keys(family: Family) -> tuple[str, ...]:
    """The sampling-time config keys ``family`` takes, from the capabilities it declares."""
    return tuple(key for protocol, keys in SAMPLING_KEYS.items() if isinstance(family, protocol) for key in keys)
