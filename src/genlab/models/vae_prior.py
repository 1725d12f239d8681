"""Ex-post density estimation for a VAE's samples (``--set sample_prior=gmm`` or ``class-gmm``).

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

``class-gmm`` (conditional VAEs) keeps each mean's label beside it and fits one mixture per
class: a sample for label y draws z from where images of y put their posteriors. A cvae
trained with a small KL weight lets z carry part of the class, so a z from the pooled
mixture (or N(0, I)) can contradict the label the decoder is given; the per-class mixture
cannot.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from genlab.nn.noise import randn


class PosteriorBank(nn.Module):
    """The last ``size`` posterior means seen in training, (size, dim); ``count`` how many were ever added.
    ``labelled`` keeps each mean's class label too (``labels``, (size,))."""

    def __init__(self, size: int, dim: int, labelled: bool = False) -> None:
        super().__init__()
        self.register_buffer("bank", torch.zeros(size, dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self.labels: torch.Tensor | None
        if labelled:
            self.register_buffer("labels", torch.zeros(size, dtype=torch.long))
        else:
            self.labels = None

    @torch.no_grad()
    def add(self, mu: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """Write a batch of means (B, dim), and their labels (B,) in a labelled bank, over the oldest ones."""
        if (labels is None) != (self.labels is None):
            raise ValueError("a labelled bank takes labels with its means, an unlabelled one none")
        size = self.bank.shape[0]
        mu = mu.detach()[-size:].to(self.bank.dtype)
        idx = (int(self.count) + torch.arange(mu.shape[0], device=self.bank.device)) % size
        self.bank[idx] = mu
        if self.labels is not None and labels is not None:
            self.labels[idx] = labels.detach()[-size:].to(self.labels)
        self.count += mu.shape[0]

    def filled(self) -> torch.Tensor:
        """The stored means, (min(count, size), dim)."""
        return self.bank[: min(int(self.count), self.bank.shape[0])]

    def filled_labels(self) -> torch.Tensor:
        """The stored means' labels, (min(count, size),); a labelled bank only."""
        if self.labels is None:
            raise ValueError("this bank keeps no labels")
        return self.labels[: min(int(self.count), self.bank.shape[0])]


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


Mixture = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def fit_class_gmms(z: torch.Tensor, labels: torch.Tensor, classes: int, components: int) -> list[Mixture | None]:
    """One ``fit_gmm`` mixture per class c in 0..classes-1, fitted to the rows of ``z`` (N, D) whose label (N,) is c;
    None for a class with fewer than 2 x ``components`` rows (it samples N(0, I))."""
    out: list[Mixture | None] = []
    for c in range(classes):
        rows = z[labels == c]
        out.append(fit_gmm(rows, components) if rows.shape[0] >= 2 * components else None)
    return out


def sample_class_gmms(
    mixtures: list[Mixture | None], labels: torch.Tensor, dim: int, generator: torch.Generator
) -> torch.Tensor:
    """z (n, dim) for ``labels`` (n,): row i from the mixture of class labels[i] (N(0, I) where it is None). The
    classes draw in ascending order, each for all its rows at once, so the generator and the labels fix the result."""
    labels = labels.cpu().long()
    z = torch.empty(labels.shape[0], dim)
    for c in labels.unique().tolist():  # sorted
        rows = (labels == c).nonzero().squeeze(1)
        mixture = mixtures[c] if 0 <= c < len(mixtures) else None
        if mixture is None:
            z[rows] = randn((rows.shape[0], dim), generator, torch.device("cpu"))
        else:
            z[rows] = sample_gmm(*mixture, rows.shape[0], generator)
    return z
