"""The standard FID Inception weights: fetched once on request, checked, kept as safetensors.

``genlab eval fetch-weights`` is the only code that downloads anything, and only when run.
The file is the one pytorch-fid (``pt_inception-2015-12-05-6726825d.pth``) and torch-fidelity
(``weights-inception-2015-12-05-6726825d.pth``) publish: the same 95,628,359 bytes under two
names. Its SHA-256 below starts with the 8 hex digits in the name (torch hub's naming rule,
``check_hash``); the full value is the one several public projects pin for both URLs.

A download (or ``--from FILE``) is streamed into the cache folder with a size bound, its
SHA-256 compared with that constant, loaded once with ``torch.load(weights_only=True)`` (tensors
only, no code), checked against the network, written as safetensors with the source hash in
its metadata, and the pickle is deleted. Evaluation then loads only the safetensors file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from genlab.atomic import atomic_write
from genlab.errors import DataError
from genlab.eval.inception import MAX_WEIGHTS_BYTES, checked_state, regular_weights_file

FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
FID_WEIGHTS_BYTES = 95_628_359
SOURCE_URLS = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
)
CACHED_NAME = "fid-inception-2015-12-05-6726825d.safetensors"
_CHUNK = 1 << 20

Opener = Callable[..., BinaryIO]


def cache_dir() -> Path:
    """Where fetched weights live: $GENLAB_CACHE/weights, else ~/.cache/genlab/weights."""
    root = os.environ.get("GENLAB_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "genlab") / "weights"


def cached_weights() -> Path | None:
    """The fetched FID Inception weights (safetensors), or None when `genlab eval fetch-weights` has not run."""
    path = cache_dir() / CACHED_NAME
    return path if path.is_file() else None


def weights_sha256(path: str | Path) -> str:
    """The identity of a weights file: the source .pth's SHA-256 recorded at conversion, else the file's own."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            source = (f.metadata() or {}).get("source_sha256")
    except Exception:  # not a readable safetensors file: its loader reports that, one line
        source = None
    return source or file_sha256(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_bounded(src: BinaryIO, dst: BinaryIO, limit: int, what: str) -> str:
    """Copy at most ``limit`` bytes; returns the SHA-256 of what was copied. More is a DataError."""
    digest, total = hashlib.sha256(), 0
    while chunk := src.read(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise DataError(f"{what} is larger than the {limit} bytes the FID weights have; not the right file")
        digest.update(chunk)
        dst.write(chunk)
    return digest.hexdigest()


def read_pth_tensors(pth: Path, source: str | None = None) -> dict:
    """The one torch.load in genlab: a .pth state dict, tensors only (weights_only=True never runs code)."""
    try:
        state = torch.load(pth, map_location="cpu", weights_only=True)
    except Exception as e:  # zipfile and the restricted unpickler raise their own types
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(f"{source or pth} is not a readable PyTorch state dict ({reason})") from None
    if not isinstance(state, dict):
        raise DataError(f"{source or pth} holds a {type(state).__name__}, not a state dict of tensors")
    return state


def _convert(pth: Path, sha256: str, source: str, expected_sha256: str) -> Path:
    """Check the hash, load the .pth tensors-only once, write the cached safetensors; the .pth is the caller's."""
    if sha256 != expected_sha256:
        raise DataError(
            f"{source} has SHA-256 {sha256[:16]}..., not the FID Inception weights' {expected_sha256[:16]}...; "
            "refused (a different or damaged file)"
        )
    state = {k: v.contiguous() for k, v in checked_state(read_pth_tensors(pth, source), Path(source)).items()}
    target = cache_dir() / CACHED_NAME
    metadata = {"source_sha256": sha256, "source": source.rsplit("/", 1)[-1]}
    atomic_write(target, lambda tmp: save_file(state, str(tmp), metadata=metadata))
    return target


def import_weights(path: str | Path, *, expected_sha256: str = FID_WEIGHTS_SHA256) -> Path:
    """``genlab eval fetch-weights --from FILE``: check and convert a local copy into the cache."""
    path = Path(path)
    regular_weights_file(path)
    cache_dir().mkdir(parents=True, exist_ok=True)
    return _convert(path, file_sha256(path), str(path), expected_sha256)


def fetch_weights(
    urls: tuple[str, ...] = SOURCE_URLS,
    *,
    opener: Opener = urllib.request.urlopen,
    timeout: float = 60.0,
    expected_sha256: str = FID_WEIGHTS_SHA256,
    limit: int = MAX_WEIGHTS_BYTES,
) -> Path:
    """Download the FID weights from the first of ``urls`` that answers; returns the cached safetensors path.

    Every URL failing is one DataError line that says where to put a copy obtained elsewhere.
    """
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    reasons = []
    for url in urls:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".download-", suffix=".pth") as tmp:
            try:
                with opener(url, timeout=timeout) as response:
                    sha256 = _copy_bounded(response, tmp, limit, url)
            except (urllib.error.URLError, OSError, ValueError) as e:
                reasons.append(f"{url}: {getattr(e, 'reason', None) or e}")
                continue
            tmp.flush()
            return _convert(Path(tmp.name), sha256, url, expected_sha256)
    raise DataError(
        f"could not download the FID Inception weights ({'; '.join(reasons)}); on a machine without internet, "
        f"copy {SOURCE_URLS[0].rsplit('/', 1)[-1]} (SHA-256 {expected_sha256}) here by other means and run "
        f"`genlab eval fetch-weights --from FILE`, which checks it and puts it in {folder}"
    )
