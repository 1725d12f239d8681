"""Ex-post density estimation for a VAE's samples (``--set sample_prior=gmm``).

A VAE trained with a N(0, I) prior leaves "holes": regions the prior gives mass but that no
training image's posterior covers, which decode to blurred in-between images. Fitting a
Gaussian mixture to the aggregate posterior after (or during) training and drawing z from it
instead is the ex-post density estimation of Ghosh et al. 2020 ("From Variational to
Deterministic Autoencoders", sec. 4; the two-stage VAE of Dai & Wipf 2019 is the same idea
with a second VAE): training is unchanged, only where z is drawn from at sampling time.

The posterior means of the most recent training images are kept in a ring buffer
(:class:`PosteriorBank`, a buffers-only module, so checkpoints hold it and a resumed run
continues bit-exactly); the mixture is fitted to them with scikit-learn's
``GaussianMixture`` (k-means initialisation, ``random_state=0``: the same bank gives the same
mixture) when samples are first asked for, and refitted after more training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from genlab.nn.noise import randn


class PosteriorBank(nn.Module):
    """The last ``size`` posterior means seen in training, (size, dim); ``count`` how many were ever added."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.register_buffer("bank", torch.zeros(size, dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def add(self, mu: torch.Tensor) -> None:
        """Write a batch of means (B, dim) over the oldest ones."""
        size = self.bank.shape[0]
        mu = mu.detach()[-size:].to(self.bank.dtype)
        idx = (int(self.count) + torch.arange(mu.shape[0], device=self.bank.device)) % size
        self.bank[idx] = mu
        self.count += mu.shape[0]

    def filled(self) -> torch.Tensor:
        """The stored means, (min(count, size), dim)."""
        return self.bank[: min(int(self.count), self.bank.shape[0])]


def fit_gmm(z: torch.Tensor, components: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(weights (K,), means (K, D), Cholesky factors of the covariances (K, D, D)) of a full-covariance
    Gaussian mixture fitted by EM to ``z`` (N, D); deterministic for a given ``z``."""
    from sklearn.mixture import GaussianMixture

    data = z.detach().cpu().double().numpy()
    gmm = GaussianMixture(components, covariance_type="full", reg_covar=1e-6, random_state=0).fit(data)
    chol = np.linalg.cholesky(gmm.covariances_)
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return as_t(gmm.weights_), as_t(gmm.means_), as_t(chol)


def sample_gmm(
    weights: torch.Tensor, means: torch.Tensor, chol: torch.Tensor, n: int, generator: torch.Generator
) -> torch.Tensor:
    """``n`` draws (n, D) of the mixture: a component k ~ Cat(weights), then z = mean_k + L_k eps, eps ~ N(0, I)."""
    k = torch.multinomial(weights.cpu(), n, replacement=True, generator=generator)
    eps = randn((n, means.shape[1]), generator, torch.device("cpu"))
    return means[k] + torch.einsum("nij,nj->ni", chol[k], eps)
