"""Pieces every GAN family shares: the critic wrapper (packing, minibatch layers,
projection conditioning), spectral normalisation, and the generator's weight EMA."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from genlab.nn.minibatch import MinibatchDiscrimination, MinibatchStdDev


class Critic(nn.Module):
    """D(x, y) = head(phi(x)) [+ <embed(y), phi(x)>]: a feature network ``net`` and a linear head.

    ``net`` maps (B/m, m*C, H, W) to features (B/m, feat_dim); m = ``pack`` samples are
    concatenated along channels (PacGAN). ``minibatch`` appends batch statistics to the
    features. With ``num_classes`` > 0 the label enters by projection (Miyato & Koyama 2018).
    Shapes: x (B, C, H, W), labels (B,) or None -> scores (B/m,).
    """

    def __init__(
        self,
        net: nn.Module,
        feat_dim: int,
        *,
        num_classes: int = 0,
        minibatch: str = "none",
        minibatch_kernels: int = 16,
        pack: int = 1,
    ) -> None:
        super().__init__()
        self.net, self.pack = net, pack
        if minibatch == "discrimination":
            self.minibatch: nn.Module = MinibatchDiscrimination(feat_dim, minibatch_kernels)
            feat_dim += minibatch_kernels
        elif minibatch == "stddev":
            self.minibatch = MinibatchStdDev()
            feat_dim += 1
        else:
            self.minibatch = nn.Identity()
        self.head = nn.Linear(feat_dim, 1)
        self.embed = nn.Embedding(num_classes, feat_dim) if num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.pack > 1:
            b, c, h, w = x.shape
            x = x.reshape(b // self.pack, self.pack * c, h, w)  # consecutive samples form a pack
        feats = self.minibatch(self.net(x))  # (B/m, F)
        scores = self.head(feats).squeeze(1)
        if self.embed is not None:
            if labels is None:
                raise ValueError("a conditional critic needs labels")
            scores = scores + (self.embed(labels) * feats).sum(dim=1)
        return scores


class LabelInput(nn.Module):
    """Concatenate a learned label embedding to the noise: (B, z), (B,) -> (B, z + e)."""

    def __init__(self, num_classes: int, embed_dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.cat([z, self.embed(labels)], dim=1)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral-normalise every Linear, Conv2d and Embedding weight in ``module`` (in place)."""
    for child in list(module.modules()):
        if isinstance(child, (nn.Linear, nn.Conv2d, nn.Embedding)) and not hasattr(child, "parametrizations"):
            spectral_norm(child)
    return module


@torch.no_grad()
def ema_update_(ema: nn.Module, net: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * net for parameters; buffers (BatchNorm stats) are copied."""
    for p_ema, p in zip(ema.parameters(), net.parameters()):
        p_ema.lerp_(p, 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), net.buffers()):
        b_ema.copy_(b)


def clip_weights_(module: nn.Module, c: float) -> None:
    """WGAN (Arjovsky et al. 2017): clamp every parameter to [-c, c] after each critic step."""
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-c, c)
