"""Disentanglement of a trained model's representation against a data set's known factors.

Only data sets generated with recorded factors qualify (``shapes64``); the representation
is the model's encoder output (a VAE's posterior mean) on the test split, scored with the
pure metrics of :mod:`genlab.eval.disentangle`.
"""

from __future__ import annotations

import numpy as np
import torch

from genlab.data import load_dataset
from genlab.data.shapes64 import shapes64_factors
from genlab.errors import ConfigError, DataError
from genlab.eval.disentangle import dci, factorvae_score, mig
from genlab.models.base import Family
from genlab.models.latent import latent_codec

FACTOR_DATASETS = {"shapes64": shapes64_factors}


def dataset_factors(dataset: str, split: str = "test") -> tuple[np.ndarray, tuple[str, ...]]:
    """Ground-truth factors (N, F) of ``dataset``'s split and their names."""
    if dataset not in FACTOR_DATASETS:
        raise DataError(
            f"data set {dataset!r} has no ground-truth factors; disentanglement needs one of: "
            f"{', '.join(FACTOR_DATASETS)}"
        )
    factors, names, _ = FACTOR_DATASETS[dataset](split)
    return np.asarray(factors), names


@torch.no_grad()
def encode_dataset(
    family: Family, dataset: str, split: str = "test", n: int | None = None, batch_size: int = 500
) -> np.ndarray:
    """The representation of the first ``n`` images of a split (all when None). Shape (n, D).

    Uses the family's latent codec (a VAE's posterior mean); families without an encoder raise ConfigError."""
    codec = latent_codec(family)
    if codec.encode is None:
        raise ConfigError(
            f"{family.registry_name} has no encoder: disentanglement scores an inference network's codes (train a VAE)"
        )
    images, labels, _ = load_dataset(dataset, split)
    n = images.shape[0] if n is None else min(n, images.shape[0])
    codes = []
    for i in range(0, n, batch_size):
        x = torch.from_numpy(np.array(images[i : min(n, i + batch_size)]))  # uint8; the codec rescales
        y = torch.from_numpy(labels[i : min(n, i + batch_size)]) if family.conditional else None
        codes.append(codec.encode(x, y).reshape(x.shape[0], -1).double().numpy())
    return np.concatenate(codes)


def score_disentanglement(family: Family, dataset: str, n: int | None = None, seed: int = 0) -> dict[str, float]:
    """MIG, DCI (random forests) and the FactorVAE score of ``family``'s test-set codes."""
    factors, _ = dataset_factors(dataset)
    codes = encode_dataset(family, dataset, n=n)
    factors = factors[: codes.shape[0]]
    d = dci(codes, factors, seed=seed)
    return {
        "n": int(codes.shape[0]),
        "mig": mig(codes, factors),
        "dci_disentanglement": d.disentanglement,
        "dci_completeness": d.completeness,
        "dci_informativeness": d.informativeness,
        "factorvae": factorvae_score(codes, factors, seed=seed),
    }
