"""Cross-attention from image positions to a text context (Rombach et al. 2022, sec. 3.3).

Each pixel of a feature map is a query; the caption's context vectors are keys and values:
Attention(Q, K, V) = softmax(Q K^T / sqrt(d)) V with Q = W_Q norm(x), K = W_K c, V = W_V c
(Vaswani et al. 2017, eq. 1). Padding tokens are masked out. The output projection starts
at zero, so a block is the identity until training gives the text a say.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genlab.nn.unet import _groups


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Masked multi-head scaled dot-product attention.

    Shapes: q (B, h, N, d), k and v (B, h, L, d), mask bool (B, L) (True = attend) -> (B, h, N, d).
    """
    attn_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, L), broadcast over heads and queries
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)


class CrossAttention(nn.Module):
    """x + W_O Attention(norm(x), context). Shapes: x (B, C, H, W), context (B, L, D), mask (B, L) -> (B, C, H, W).

    Every caption must keep at least one unmasked token (the captions' start token does).
    """

    def __init__(self, channels: int, context_dim: int, heads: int = 4) -> None:
        super().__init__()
        if channels % heads:
            heads = 1  # narrow test-sized networks: one head
        self.heads = heads
        self.norm = nn.GroupNorm(_groups(channels), channels)
        self.to_q = nn.Linear(channels, channels, bias=False)
        self.to_k = nn.Linear(context_dim, channels, bias=False)
        self.to_v = nn.Linear(context_dim, channels, bias=False)
        self.to_out = nn.Linear(channels, channels)
        nn.init.zeros_(self.to_out.weight)
        nn.init.zeros_(self.to_out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, c, h, w = x.shape
        seq = self.norm(x).flatten(2).transpose(1, 2)  # (B, C, H, W) -> (B, H*W, C)

        def split(t: torch.Tensor) -> torch.Tensor:  # (B, N, C) -> (B, heads, N, C / heads)
            return t.reshape(t.shape[0], t.shape[1], self.heads, -1).transpose(1, 2)

        out = attend(split(self.to_q(seq)), split(self.to_k(context)), split(self.to_v(context)), mask)
        out = self.to_out(out.transpose(1, 2).reshape(b, h * w, c))  # (B, heads, HW, d) -> (B, HW, C)
        return x + out.transpose(1, 2).reshape(b, c, h, w)
