"""The frozen teacher of a distillation: a trained ``ddpm`` or ``ldm`` run seen as one guided denoiser.

The teacher run is read through the registry's run loader (``registry.load_run``, installed
by :mod:`genlab.runs`), as ``ldm`` reads its autoencoder, so models never import upward.
:class:`Teacher` hides the difference between the two: ``ddpm`` diffuses pixels (its DDIM
clips the predicted x_0 to [-1, 1]), ``ldm`` diffuses the scaled latents of its frozen
autoencoder (no clipping; images come from its decoder). ``untrained`` and
``untrained-ldm`` build a tiny random teacher in place: for tests only.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import nn

from genlab.data import DataInfo
from genlab.errors import CheckpointError, ConfigError
from genlab.models.ddpm import DDPM
from genlab.models.distill_maths import at, x0_from_output
from genlab.models.ldm import LatentDiffusion
from genlab.models.registry import get_family, load_run

UNTRAINED = "untrained"  # teacher= value for a tiny random ddpm (tests only)
UNTRAINED_LDM = "untrained-ldm"  # teacher= value for a tiny random ldm on a random autoencoder (tests only)


def nets_hash(nets: dict[str, nn.Module]) -> str:
    """SHA-256 of every tensor of ``nets`` by path: ``genlab.runs.weights_hash`` of ``{name: state_dict}``.

    The same string the teacher's own sample grids carry as ``checkpoint_hash``, so a student's
    config names exactly the weights those grids came from.
    """
    digest = hashlib.sha256()
    tensors = {f"/{k}/{name}": t for k, net in nets.items() for name, t in net.state_dict().items()}
    for path in sorted(tensors):
        tensor = tensors[path].detach().cpu().contiguous()
        digest.update(f"{path}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return "state-sha256:" + digest.hexdigest()


def build_teacher(path: str, which: str, info: DataInfo) -> DDPM | LatentDiffusion:
    """The trained ddpm/ldm family of run ``path`` at checkpoint ``which`` (or a tiny random one), frozen."""
    if path in (UNTRAINED, UNTRAINED_LDM):  # the registry's tiny sizes; ldm's on an untrained autoencoder
        spec = get_family("ddpm" if path == UNTRAINED else "ldm")
        family: Any = spec.family_cls(spec.config_cls(**spec.tiny), info)
    else:
        family, name = load_run(path, which)
        if not isinstance(family, (DDPM, LatentDiffusion)):
            raise ConfigError(
                f"teacher {path} is a {name} run, not a diffusion run: distil a `ddpm` or `ldm` run "
                "(train one with `genlab train ddpm --preset small`)"
            )
        if family.image_shape != (info.channels, info.height, info.width) or (
            family.conditional and family.info.num_classes != info.num_classes
        ):
            raise ConfigError(
                f"teacher {path} was trained on {family.image_shape} images of {family.info.num_classes} classes but "
                f"the data are {(info.channels, info.height, info.width)} with {info.num_classes}: distil on the "
                "teacher's data set"
            )
    for net in family.nets.values():
        net.requires_grad_(False).eval()
    if isinstance(family, LatentDiffusion):
        for net in family.autoencoder.nets.values():
            net.requires_grad_(False).eval()
    return family


class Teacher:
    """A frozen diffusion family as a guided denoiser over per-sample step indices.

    ``net`` is the teacher's EMA network (what it samples with); ``shape`` is one sample in
    the diffusion space: (C, H, W) pixels or (D,) latents.
    """

    def __init__(self, family: DDPM | LatentDiffusion) -> None:
        self.family = family
        self.net: nn.Module = family.nets["ema"].net
        self.latent = isinstance(family, LatentDiffusion)
        self.prediction = "eps" if isinstance(family, LatentDiffusion) else family.cfg.prediction
        self.clip_x0 = not self.latent  # as the teacher's own DDIM does
        self.alpha_bar: torch.Tensor = family.alpha_bar  # (T,) float64
        self.num_train_steps = int(family.cfg.diffusion_steps)
        self.conditional = bool(family.conditional)
        self.num_classes = int(family.num_classes)
        self.shape: tuple[int, ...] = (
            (family.latent_dim,) if isinstance(family, LatentDiffusion) else family.image_shape
        )

    def hash(self) -> str:
        """The teacher's weights hash (its nets, as its sample grids record it)."""
        return nets_hash(self.family.nets)

    def to(self, device: torch.device) -> None:
        self.family.to(device)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Training images (in [-1, 1] for ddpm, [0, 1] for ldm) -> the diffusion space. Shapes: -> (B, *shape)."""
        return self.family.encode_latents(images) if isinstance(self.family, LatentDiffusion) else images

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Diffusion space -> images in [-1, 1]. Shapes: (B, *shape) -> (B, C, H, W)."""
        if isinstance(self.family, LatentDiffusion):
            return self.family.decode_latents(x)
        return x.clamp(-1, 1)

    def null_labels(self, n: int, device: torch.device) -> torch.Tensor | None:
        """The null class (unconditional prediction) for ``n`` samples, or None for an unconditional teacher."""
        return torch.full((n,), self.num_classes, dtype=torch.long, device=device) if self.conditional else None

    def x0_of(
        self, net: nn.Module, x: torch.Tensor, i: torch.Tensor, y: torch.Tensor | None, prediction: str | None = None
    ) -> torch.Tensor:
        """The clean-data estimate of ``net`` (the teacher's architecture) at indices ``i``, its output read as
        ``prediction`` (eps, v or x0; default the teacher's own)."""
        return x0_from_output(net(x, i, y), x, i, self.alpha_bar, prediction or self.prediction)

    @torch.no_grad()
    def guided_x0(
        self, x: torch.Tensor, i: torch.Tensor, labels: torch.Tensor | None, guidance: float, dropped: torch.Tensor
    ) -> torch.Tensor:
        """The teacher's clean-data estimate with classifier-free guidance w = ``guidance``.

        Guidance acts on the noise prediction, as the teacher samples: eps = eps_u + w (eps_c - eps_u);
        samples whose label was ``dropped`` (B,) bool get the unconditional prediction. With w = 1
        only the conditional pass runs; otherwise one batched call gives both. Shapes: (B, ...) -> (B, ...).
        """
        null = self.null_labels(x.shape[0], x.device)
        if labels is None or null is None:
            return self.x0_of(self.net, x, i, null)
        if guidance == 1 and not bool(dropped.any()):
            return self.x0_of(self.net, x, i, labels)
        both = self.x0_of(self.net, torch.cat([x, x]), torch.cat([i, i]), torch.cat([labels, null]))
        x0_c, x0_u = both.chunk(2)
        # eps is affine in x0 at fixed x_t, so guidance on eps is the same combination of the x0's.
        guided = x0_u + guidance * (x0_c - x0_u)
        keep = dropped.view(-1, *([1] * (x.ndim - 1)))
        return torch.where(keep, x0_u, guided)

    def alpha_bar_at(self, i: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return at(self.alpha_bar, i, like)

    def state_dict(self) -> dict[str, Any]:
        """The weights the student depends on: the teacher's EMA net (and an ldm's autoencoder and scale)."""
        state: dict[str, Any] = {"net": self.net.state_dict()}
        if isinstance(self.family, LatentDiffusion):
            state["autoencoder"] = {k: net.state_dict() for k, net in self.family.autoencoder.nets.items()}
            state["latent_scale"] = self.family.latent_scale.clone()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        if isinstance(self.family, LatentDiffusion):
            for k, net in self.family.autoencoder.nets.items():
                net.load_state_dict(state["autoencoder"][k])
            self.family.latent_scale = state["latent_scale"].clone().float().reshape(()).to(self.family.device)


def check_teacher_hash(teacher: Teacher, expected: str, where: str) -> None:
    """A CheckpointError when the teacher's weights are not those ``expected`` (the run moved on or was altered)."""
    if expected and teacher.hash() != expected:
        raise CheckpointError(
            f"the teacher {where} is not the one this student was distilled from (weights {teacher.hash()[:26]}..., "
            f"expected {expected[:26]}...): restore that checkpoint or distil again"
        )
