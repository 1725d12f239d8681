import numpy as np
import pytest

from genlab.errors import ConfigError
from genlab.math.schedules import alpha_bar, cosine_betas, linear_betas, named_betas, snr


def test_linear_schedule_textbook_values_with_t_counted_from_1():
    ab = alpha_bar(linear_betas(1000, 1e-4, 0.02))
    assert round(ab[500 - 1], 4) == 0.0786  # alpha-bar_500
    assert f"{ab[1000 - 1]:.2e}" == "4.04e-05"  # alpha-bar_1000, exact product (not 4.35e-5)
    assert ab.dtype == np.float64


def test_schedule_endpoints_and_monotonicity():
    betas = linear_betas()
    assert betas[0] == 1e-4 and betas[-1] == pytest.approx(0.02)
    for b in (linear_betas(), cosine_betas()):
        ab = alpha_bar(b)
        assert np.all(np.diff(ab) < 0) and 0 < ab[-1] < ab[0] < 1
        assert np.all(np.diff(snr(ab)) < 0)
    assert cosine_betas().max() <= 0.999


def test_cosine_schedule_matches_its_closed_form():
    ab = alpha_bar(cosine_betas(1000))
    f = lambda t: np.cos((t / 1000 + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
    t = np.array([1, 250, 500, 750])
    assert np.allclose(ab[t - 1], f(t) / f(0), rtol=1e-9)


def test_named_schedules():
    assert np.array_equal(named_betas("linear", 1000), linear_betas(1000))
    with pytest.raises(ConfigError, match="known: linear, cosine"):
        named_betas("quadratic", 10)
