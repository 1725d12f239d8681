"""Layers that let a discriminator see statistics of the whole batch, against mode collapse.

Both act on flat features (B, F) just before the discriminator's last layer.
"""

from __future__ import annotations

import torch
from torch import nn


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016, section 3.2: append B closeness features per sample.

    M_i = f(x_i) T reshaped to (B, C); c_b(i, j) = exp(-||M_i,b - M_j,b||_1);
    o(x_i)_b = sum_{j != i} c_b(i, j). A collapsed batch (all x_i alike) has large o.
    Shapes: (N, F) -> (N, F + kernels).
    """

    def __init__(self, in_features: int, kernels: int = 16, kernel_dim: int = 8) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        m = (h @ self.T).view(-1, self.kernels, self.kernel_dim)  # (N, B, C)
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)  # (N, N, B)
        o = torch.exp(-l1).sum(dim=1) - 1.0  # drop the j = i term, exp(0) = 1
        return torch.cat([h, o], dim=1)


class MinibatchStdDev(nn.Module):
    """Karras et al. 2018 (ProGAN), section 3: append the mean over features of the
    per-feature standard deviation across each group of ``group_size`` samples.

    Shapes: (N, F) -> (N, F + 1). Groups are consecutive samples; when N is not a
    multiple of the group size, the whole batch is one group.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        n = h.shape[0]
        g = self.group_size if n % self.group_size == 0 and n >= self.group_size else n
        grouped = h.view(n // g, g, -1)  # (groups, g, F)
        std = (grouped.var(dim=1, unbiased=False) + 1e-8).sqrt().mean(dim=1)  # (groups,)
        return torch.cat([h, std.repeat_interleave(g).unsqueeze(1)], dim=1)
