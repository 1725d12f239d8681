"""Tests for genlab.data.toy: shapes, reproducibility, mode coverage and exact moments."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genlab.data.toy import (
    bimodal_1d,
    bimodal_1d_pdf,
    grid25,
    grid25_centres,
    ring8,
    ring8_centres,
)
from genlab.errors import DataError

# name -> (sampler, centres (K, D), std)
MIXTURES = {
    "ring8": (ring8, ring8_centres(), 0.02),
    "grid25": (grid25, grid25_centres(), 0.05),
    "bimodal_1d": (bimodal_1d, torch.tensor([[-2.0], [2.0]]), 0.5),
}
# (means, std, weights) for the 1-D mixture: the default and an asymmetric one.
MIXTURE_1D_CASES = [((-2.0, 2.0), 0.5, (0.5, 0.5)), ((-1.0, 3.0), 0.7, (0.3, 0.7))]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def nearest_mode(x: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (distance to nearest centre, its index) for each row of x. (n, D) -> (n,), (n,)."""
    distances = torch.cdist(x, centres)  # (n, K)
    return distances.min(dim=1)


@pytest.mark.parametrize("name", MIXTURES)
def test_shape_dtype_and_empty(name: str) -> None:
    sampler, centres, _ = MIXTURES[name]
    x = sampler(17, gen(0))
    assert x.shape == (17, centres.shape[1]) and x.dtype == torch.float32
    assert sampler(0, gen(0)).shape == (0, centres.shape[1])


@pytest.mark.parametrize("name", MIXTURES)
def test_same_seed_same_samples_other_seed_different(name: str) -> None:
    sampler = MIXTURES[name][0]
    assert torch.equal(sampler(100, gen(7)), sampler(100, gen(7)))
    assert not torch.allclose(sampler(100, gen(7)), sampler(100, gen(8)))


@pytest.mark.parametrize("name", MIXTURES)
def test_every_sample_is_near_a_centre(name: str) -> None:
    sampler, centres, std = MIXTURES[name]
    distance, _ = nearest_mode(sampler(20_000, gen(1)), centres)
    assert distance.max() < 6 * std


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_all_modes_hit_with_near_uniform_frequency(name: str) -> None:
    sampler, centres, _ = MIXTURES[name]
    k = centres.shape[0]
    n = 4000 * k
    _, mode = nearest_mode(sampler(n, gen(2)), centres)
    freq = torch.bincount(mode, minlength=k).double() / n
    # Binomial standard error sqrt(p(1-p)/n) is < 0.0016 here; 0.01 is > 6 of them.
    assert freq.min() > 0 and (freq - 1 / k).abs().max() < 0.01


def test_ring8_centres_are_evenly_spaced_on_the_circle() -> None:
    centres = ring8_centres(radius=3.0).double()
    assert centres.shape == (8, 2)
    torch.testing.assert_close(centres.norm(dim=1), torch.full((8,), 3.0, dtype=torch.float64))
    angles = torch.atan2(centres[:, 1], centres[:, 0]) % (2 * math.pi)
    expected = torch.arange(8, dtype=torch.float64) * math.pi / 4
    torch.testing.assert_close(angles, expected, atol=1e-6, rtol=0)


def test_grid25_centres_are_the_5x5_lattice() -> None:
    centres = grid25_centres()
    assert centres.shape == (25, 2)
    points = {(float(x), float(y)) for x, y in centres}
    axis = (-4.0, -2.0, 0.0, 2.0, 4.0)
    assert points == {(x, y) for x in axis for y in axis}


@pytest.mark.parametrize(("means", "std", "weights"), MIXTURE_1D_CASES)
def test_bimodal_pdf_integrates_to_one(means, std, weights) -> None:
    x = np.linspace(-15, 15, 200_001)
    area = np.trapezoid(bimodal_1d_pdf(x, means, std, weights), x)
    assert abs(area - 1.0) < 1e-8


def test_bimodal_pdf_matches_hand_computed_value() -> None:
    # At x = 2: 0.5 * N(0; 0, 0.5) + 0.5 * N(4; 0, 0.5) = 0.5 * 0.797884... + 0.5 * 1.0104e-14
    expected = 0.5 / (0.5 * math.sqrt(2 * math.pi)) * (1 + math.exp(-32))
    assert bimodal_1d_pdf(np.array([2.0]))[0] == pytest.approx(expected, rel=1e-12)
    assert bimodal_1d_pdf(np.zeros((3, 4))).shape == (3, 4)


@pytest.mark.parametrize(("means", "std", "weights"), MIXTURE_1D_CASES)
def test_bimodal_sample_moments_match_closed_form(means, std, weights) -> None:
    n = 200_000
    x = bimodal_1d(n, gen(3), means, std, weights).double().squeeze(1).numpy()
    mu, w = np.array(means), np.array(weights)
    mean = (w * mu).sum()  # E[x] = sum_k w_k mu_k
    var = (w * (std**2 + mu**2)).sum() - mean**2  # E[x^2] - E[x]^2
    assert abs(x.mean() - mean) < 5 * math.sqrt(var / n)
    assert x.var() == pytest.approx(var, rel=0.02)
    split = (means[0] + means[1]) / 2
    assert (x < split).mean() == pytest.approx(weights[0], abs=0.01)


@pytest.mark.parametrize(
    "kwargs",
    [{"std": 0.0}, {"weights": (0.2, 0.2)}, {"weights": (1.0,)}, {"means": (), "weights": ()}],
)
def test_bad_mixture_parameters_raise(kwargs) -> None:
    with pytest.raises(DataError):
        bimodal_1d(10, gen(0), **kwargs)


def test_negative_n_raises() -> None:
    with pytest.raises(DataError, match="non-negative"):
        ring8(-1, gen(0))
