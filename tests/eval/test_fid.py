import ast
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from genlab.errors import DataError
from genlab.eval.metrics import feature_statistics, frechet_distance


@pytest.fixture(scope="module")
def reference_fid():
    """pytorch-fid's ``calculate_frechet_distance``, loaded without torchvision.

    ``pytorch_fid.fid_score`` imports torchvision (not installed, and it would pull another
    torch build) at import time, but the function we compare with needs only numpy and
    scipy.linalg. So we read the installed package's own ``fid_score.py``, take that one
    function definition out of its syntax tree unchanged, and execute it with exactly those
    two globals. Nothing is imported from the package and sys.modules is never touched.
    """
    pytest.importorskip("scipy")
    spec = importlib.util.find_spec("pytorch_fid")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pytorch-fid is not installed (pip install --no-deps pytorch-fid)")
    source = (Path(spec.submodule_search_locations[0]) / "fid_score.py").read_text()
    [node] = [
        n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "calculate_frechet_distance"
    ]
    from scipy import linalg

    namespace = {"np": np, "linalg": linalg}
    exec(compile(ast.Module(body=[node], type_ignores=[]), "pytorch_fid/fid_score.py", "exec"), namespace)

    def fid(*stats):
        with warnings.catch_warnings():  # it passes sqrtm(disp=False), deprecated in SciPy 1.16
            warnings.simplefilter("ignore", DeprecationWarning)
            return float(namespace["calculate_frechet_distance"](*stats))

    return fid


def gaussian_features(seed: int, n: int, d: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mixing + shift  # (n, d), correlated dimensions


def test_feature_statistics_are_mean_and_unbiased_covariance():
    x = gaussian_features(0, 40, 5)
    mu, sigma = feature_statistics(x.astype(np.float32))
    assert mu.dtype == sigma.dtype == np.float64
    assert mu.shape == (5,) and sigma.shape == (5, 5)
    centred = x.astype(np.float32).astype(np.float64) - mu
    np.testing.assert_allclose(sigma, centred.T @ centred / 39, rtol=1e-12)
    assert feature_statistics(x[:, :1])[1].shape == (1, 1)


def test_identical_sets_give_zero():
    stats = feature_statistics(gaussian_features(1, 500, 8))
    assert abs(frechet_distance(*stats, *stats)) < 1e-8


def test_equal_covariances_give_squared_mean_difference():
    mu, sigma = feature_statistics(gaussian_features(2, 300, 6))
    delta = np.linspace(-1.0, 2.0, 6)
    assert frechet_distance(mu, sigma, mu + delta, sigma) == pytest.approx(delta @ delta, rel=1e-9)


def test_diagonal_covariances_match_closed_form():
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    mu1, mu2 = np.zeros(3), np.array([1.0, 0.0, -2.0])
    expected = 5.0 + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()  # commuting covariances: sqrt(ab) per entry
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("seed", "n", "d"),
    [(0, 200, 16), (1, 500, 32), (2, 100, 8), (3, 30, 64), (4, 50, 100)],  # the last two: singular covariances
)
def test_matches_pytorch_fid(reference_fid, seed, n, d):
    s1 = feature_statistics(gaussian_features(seed, n, d))
    s2 = feature_statistics(gaussian_features(seed + 100, n, d, shift=0.3))
    expected = reference_fid(*s1, *s2)
    assert frechet_distance(*s1, *s2) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stable_with_fewer_samples_than_dimensions(seed):
    a, b = gaussian_features(seed, 50, 100), gaussian_features(seed + 10, 50, 100)
    s1, s2 = feature_statistics(a), feature_statistics(b)
    fd = frechet_distance(*s1, *s2)
    assert np.isfinite(fd) and fd > 0
    same = frechet_distance(*s1, *s1)  # the singular product's square root is only accurate to ~1e-8 relative
    assert 0.0 <= same <= 1e-6 * np.trace(s1[1])


def test_non_finite_square_root_is_retried_with_eps_like_pytorch_fid(reference_fid, monkeypatch):
    from scipy import linalg

    s1 = feature_statistics(gaussian_features(5, 100, 6))
    s2 = feature_statistics(gaussian_features(6, 100, 6, shift=1.0))
    sqrtm, unshifted = linalg.sqrtm, s1[1] @ s2[1]

    def flaky_sqrtm(a, disp=True):  # the product "too singular for sqrtm", the eps-shifted one fine
        root = np.full_like(a, np.nan) if np.array_equal(a, unshifted) else sqrtm(a)
        return root if disp else (root, 0.0)  # pytorch-fid calls sqrtm(..., disp=False) first

    monkeypatch.setattr(linalg, "sqrtm", flaky_sqrtm)
    ours = frechet_distance(*s1, *s2, eps=0.1)
    assert ours == pytest.approx(reference_fid(*s1, *s2, 0.1), rel=1e-9)
    monkeypatch.undo()
    assert ours != pytest.approx(frechet_distance(*s1, *s2), rel=1e-6)  # the offset did change the result


def test_non_psd_covariance_is_reported():
    with pytest.raises(DataError, match="imaginary"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), np.diag([1.0, -1.0]))


features = hnp.arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 4)), elements=st.floats(-10, 10))


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # "Matrix is singular": expected here
@settings(max_examples=60, deadline=None)
@given(features, st.data())
def test_symmetric_and_non_negative(a, data):
    b = data.draw(
        hnp.arrays(np.float64, st.tuples(st.integers(2, 12), st.just(a.shape[1])), elements=st.floats(-10, 10))
    )
    s1, s2 = feature_statistics(a), feature_statistics(b)
    ab, ba = frechet_distance(*s1, *s2), frechet_distance(*s2, *s1)
    scale = 1.0 + np.trace(s1[1]) + np.trace(s2[1]) + float(np.sum((s1[0] - s2[0]) ** 2))
    assert ab >= 0.0 and ba >= 0.0
    # sqrtm of a singular (possibly defective) product is accurate only to ~1e-5 of the scale;
    # with well-conditioned covariances both orders agree to round-off.
    conditioned = all(np.linalg.eigvalsh(s)[0] > 1e-3 * np.linalg.eigvalsh(s)[-1] for s in (s1[1], s2[1]))
    assert ab == pytest.approx(ba, abs=(1e-9 if conditioned else 1e-3) * scale)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: feature_statistics(np.zeros(5)), "2-D"),
        (lambda: feature_statistics(np.zeros((1, 3))), "at least 2"),
        (lambda: feature_statistics(np.array([[0.0, 1.0], [np.nan, 2.0]])), "NaN"),
        (lambda: frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4)), "equal length"),
        (lambda: frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), np.eye(2)), "covariances"),
        (lambda: frechet_distance(np.zeros(2), np.eye(2), np.array([0.0, np.inf]), np.eye(2)), "NaN"),
    ],
)
def test_bad_input_raises_data_error(call, message):
    with pytest.raises(DataError, match=message):
        call()
