"""A text-conditioned U-Net: :mod:`genlab.nn.unet`'s blocks plus cross-attention to a caption.

The layout is :class:`genlab.nn.unet.UNet`'s (residual blocks with the time embedding,
skip connections, self-attention in the middle). Two text paths, as in Imagen (Saharia et
al. 2022, sec. 2.2): the masked mean of the context is added to the time embedding (global
attributes such as colour), and a :class:`CrossAttention` block follows every residual
block below full resolution and in the middle (where, and next to what, things go).
"""

from __future__ import annotations

import torch
from torch import nn

from genlab.nn.cross_attention import CrossAttention
from genlab.nn.embeddings import sinusoidal_embedding
from genlab.nn.unet import ResBlock, SelfAttention, _groups


class TextUNet(nn.Module):
    """eps_theta(x_t, t, c). Shapes: x (B, C, H, W), t (B,), context (B, L, D), mask (B, L) -> (B, C, H, W).

    ``channel_mults`` gives one level per entry (32 -> 16 -> 8 for three levels); levels
    after the first get cross-attention (``cross_attention=False`` keeps only the pooled path).
    """

    def __init__(
        self,
        in_channels: int,
        context_dim: int,
        base: int = 32,
        channel_mults: tuple[int, ...] = (1, 2, 2),
        attention: bool = True,
        cross_attention: bool = True,
    ) -> None:
        super().__init__()
        emb_dim = 4 * base
        self.base = base
        self.time_mlp = nn.Sequential(nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.pooled = nn.Sequential(nn.LayerNorm(context_dim), nn.Linear(context_dim, emb_dim))
        widths = [base * m for m in channel_mults]

        def cross(level: int, channels: int) -> nn.Module:
            return CrossAttention(channels, context_dim) if cross_attention and level > 0 else _NoCross()

        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1)
        self.down, self.down_cross, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        c = widths[0]
        for level, w in enumerate(widths):
            self.down.append(ResBlock(c, w, emb_dim))
            self.down_cross.append(cross(level, w))
            c = w
            last = level == len(widths) - 1
            self.downsample.append(nn.Identity() if last else nn.Conv2d(c, c, 3, stride=2, padding=1))
        self.mid1 = ResBlock(c, c, emb_dim)
        self.mid_cross = cross(len(widths), c)
        self.mid_attn = SelfAttention(c) if attention else nn.Identity()
        self.mid2 = ResBlock(c, c, emb_dim)
        self.up, self.up_cross, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for level, w in reversed(list(enumerate(widths))):
            self.up.append(ResBlock(c + w, w, emb_dim))  # concatenated skip connection
            self.up_cross.append(cross(level, w))
            c = w
            self.upsample.append(nn.Identity() if level == 0 else nn.Upsample(scale_factor=2, mode="nearest"))
        self.out = nn.Sequential(nn.GroupNorm(_groups(c), c), nn.SiLU(), nn.Conv2d(c, in_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        assert context.shape[:2] == mask.shape and context.shape[0] == x.shape[0], (context.shape, mask.shape, x.shape)
        weights = mask.float()[:, :, None]  # (B, L, 1)
        pooled = (context * weights).sum(1) / weights.sum(1).clamp_min(1.0)  # masked mean, (B, D)
        emb = self.time_mlp(sinusoidal_embedding(t, self.base)) + self.pooled(pooled)  # (B, E)
        h = self.stem(x)
        skips = []
        for block, cross, down in zip(self.down, self.down_cross, self.downsample):
            h = cross(block(h, emb), context, mask)
            skips.append(h)  # (B, w, H_l, W_l)
            h = down(h)  # -> (B, w, H_l / 2, W_l / 2), except at the last level
        h = self.mid2(self.mid_attn(self.mid_cross(self.mid1(h, emb), context, mask)), emb)
        for block, cross, up in zip(self.up, self.up_cross, self.upsample):
            h = cross(block(torch.cat([h, skips.pop()], dim=1), emb), context, mask)
            h = up(h)
        return self.out(h)


class _NoCross(nn.Module):
    """The full-resolution levels: no cross-attention (its cost grows with H*W)."""

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x
