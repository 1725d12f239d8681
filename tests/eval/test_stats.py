"""Reference statistics: saved once, reused with --ref, readable by pytorch-fid, refused when settings differ."""

import numpy as np
import pytest
from parity_helpers import needs_tool

from genlab.data import load_dataset
from genlab.errors import DataError
from genlab.eval.evaluate import Evaluator, Reference
from genlab.eval.extractors import get_extractor
from genlab.eval.sources import stats_fid
from genlab.eval.stats import is_stats_file, load_stats, save_stats, settings_of, stats_of


@pytest.fixture(scope="module")
def digits():
    images, _, _ = load_dataset("mnist", "train")
    return images[:400]


def test_round_trip_and_same_fid_as_images(tmp_path, digits):
    extractor = get_extractor("digits")
    ref, samples = digits[:200], digits[200:]
    stats = stats_of(extractor.features(ref), settings_of(extractor), "ref")
    path = save_stats(tmp_path / "ref.npz", stats)
    assert is_stats_file(path)
    loaded = load_stats(path)
    assert loaded.n == 200 and loaded.settings == {
        "extractor": "digits",
        "dims": 128,
        "resize": "conform",
        "weights": "",
    }
    np.testing.assert_array_equal(loaded.sigma, stats.sigma)
    by_images = Evaluator(Reference("ref", ref), extractor)(samples)
    by_stats = Evaluator(loaded, extractor)(samples)
    assert by_stats["fid"] == pytest.approx(by_images["fid"], rel=1e-12)
    assert "kid" not in by_stats and "precision" not in by_stats and by_stats["modes_covered"] == 10


def test_pytorch_fid_reads_our_file_and_we_read_its(tmp_path, digits):
    needs_tool("pytorch_fid")
    from pytorch_fid.fid_score import compute_statistics_of_path

    extractor = get_extractor("digits")
    stats = stats_of(extractor.features(digits[:200]), settings_of(extractor), "ref")
    path = save_stats(tmp_path / "ref.npz", stats)
    mu, sigma = compute_statistics_of_path(str(path), None, 50, 128, "cpu")  # pytorch-fid's own reader
    np.testing.assert_array_equal(mu, stats.mu)
    np.testing.assert_array_equal(sigma, stats.sigma)
    np.savez_compressed(tmp_path / "theirs.npz", mu=mu, sigma=sigma)  # what pytorch-fid --save-stats writes
    theirs = load_stats(tmp_path / "theirs.npz")
    assert not theirs.checked and theirs.settings["extractor"] == "inception" and "unchecked" in theirs.description


def test_other_settings_are_refused(tmp_path, digits):
    extractor = get_extractor("digits")
    stats = stats_of(extractor.features(digits[:200]), settings_of(extractor), "ref")
    path = save_stats(tmp_path / "ref.npz", stats)
    with pytest.raises(DataError, match="measured with digits, this evaluation uses random-projection"):
        Evaluator(load_stats(path), get_extractor("random-projection"))
    other = stats_of(np.random.default_rng(0).normal(size=(300, 128)), {**stats.settings, "resize": "x"}, "o")
    with pytest.raises(DataError, match="measured with"):
        Evaluator(other, extractor)
    with pytest.raises(DataError, match="different settings"):
        stats_fid(load_stats(path), other, None)
    assert stats_fid(load_stats(path), load_stats(path), None)["fid"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    ("arrays", "words"),
    [
        ({"mu": np.zeros(3), "sigma": np.zeros((2, 2))}, "sigma"),
        ({"mu": np.array([np.nan, 0.0]), "sigma": np.eye(2)}, "NaN"),
        ({"mu": np.zeros(2), "sigma": np.eye(2), "extractor": np.str_("digits")}, "incomplete"),
    ],
)
def test_bad_statistics_files(tmp_path, arrays, words):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=words):
        load_stats(tmp_path / "bad.npz")
