"""fetch-weights: download (a file:// URL here), hash check, safetensors conversion, offline message, --from."""

import hashlib

import pytest
import torch
from safetensors import safe_open

from genlab.errors import ConfigError, DataError
from genlab.eval import weights
from genlab.eval.extractors import get_extractor
from genlab.eval.inception import FID_WEIGHTS_FILE, FIDInceptionV3
from genlab.eval.parity import random_fid_inception


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "weights"


@pytest.fixture(scope="module")
def pth(tmp_path_factory):
    """A random FID Inception state dict as a .pth, and its SHA-256 (the real file cannot be fetched here)."""
    path = tmp_path_factory.mktemp("w") / FID_WEIGHTS_FILE
    torch.save(random_fid_inception(0).state_dict(), path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_recorded_hash_matches_the_file_names():
    """torch hub names a file by the first 8 hex digits of its SHA-256: both URLs carry ours."""
    assert len(weights.FID_WEIGHTS_SHA256) == 64
    for url in weights.SOURCE_URLS:
        assert url.endswith(f"-2015-12-05-{weights.FID_WEIGHTS_SHA256[:8]}.pth")


def test_download_checks_converts_and_keeps_no_pickle(cache, pth):
    path, sha = pth
    assert weights.cached_weights() is None
    cached = weights.fetch_weights((path.as_uri(),), expected_sha256=sha)
    assert cached == cache / weights.CACHED_NAME == weights.cached_weights()
    assert [p.name for p in cache.iterdir()] == [weights.CACHED_NAME]  # the .pth is gone
    with safe_open(str(cached), framework="pt") as f:
        assert f.metadata()["source_sha256"] == sha and f.metadata()["source"] == FID_WEIGHTS_FILE
    assert weights.weights_sha256(cached) == sha
    extractor = get_extractor("inception")  # found in the cache, no --extractor-weights
    expected = random_fid_inception(0).state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in extractor.model.state_dict().items())


def test_first_url_failing_falls_back_to_the_next(cache, pth, tmp_path):
    path, sha = pth
    cached = weights.fetch_weights(((tmp_path / "absent.pth").as_uri(), path.as_uri()), expected_sha256=sha)
    assert cached.is_file()


def test_offline_is_one_line_saying_where_to_put_a_copy(cache):
    with pytest.raises(DataError) as err:
        weights.fetch_weights(("http://127.0.0.1:9/pt_inception.pth",), timeout=2)
    message = str(err.value)
    assert "\n" not in message and "--from FILE" in message and weights.FID_WEIGHTS_SHA256 in message
    assert str(cache) in message and not list(cache.iterdir())  # no partial file left


def test_wrong_hash_is_refused(cache, pth):
    path, _ = pth
    with pytest.raises(DataError, match="not the FID Inception weights"):
        weights.fetch_weights((path.as_uri(),))  # the real hash: a random file does not match it
    with pytest.raises(DataError, match="not the FID Inception weights"):
        weights.import_weights(path)
    assert weights.cached_weights() is None


def test_import_from_file_checks_shapes_and_size(cache, pth, tmp_path, monkeypatch):
    path, sha = pth
    assert weights.import_weights(path, expected_sha256=sha) == weights.cached_weights()
    state = FIDInceptionV3().state_dict()
    state["fc.weight"] = torch.zeros(1000, 2048)
    wrong = tmp_path / "wrong.pth"
    torch.save(state, wrong)
    with pytest.raises(DataError, match="wrong shape"):
        weights.import_weights(wrong, expected_sha256=hashlib.sha256(wrong.read_bytes()).hexdigest())
    with pytest.raises(DataError, match="larger than"):
        weights.fetch_weights((path.as_uri(),), expected_sha256=sha, limit=1000)
    with pytest.raises(DataError, match="not found"):
        weights.import_weights(tmp_path / "absent.pth")


def test_no_weights_anywhere_says_how_to_get_them(cache):
    with pytest.raises(ConfigError, match="genlab eval fetch-weights"):
        get_extractor("inception")
