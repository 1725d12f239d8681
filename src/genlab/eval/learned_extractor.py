"""The learned extractor on disk and in use: ``--extractor learned [--extractor-weights FILE]``.

A weights file is safetensors (never a pickle): the encoder's tensors, with the manifest of
``genlab.eval.learned.train_learned`` in its metadata (and as JSON beside it), including
``weights_sha256``, a hash of the tensors that loading checks. Trained extractors live in
``$GENLAB_CACHE/extractors`` (else ``~/.cache/genlab/extractors``) as ``<data sha256>.safetensors``,
so the extractor of a reference set is found from the reference's images alone.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from genlab.atomic import atomic_write, atomic_write_text
from genlab.data import iterate_batches
from genlab.errors import ConfigError, DataError
from genlab.eval.learned import FeatureNet, data_hash
from genlab.eval.resize import conform

MAX_BYTES = 64 * 2**20  # the 64 px encoder is about 2 MB
FORMAT = "genlab-learned-extractor"


def cache_dir() -> Path:
    """$GENLAB_CACHE/extractors, else ~/.cache/genlab/extractors."""
    root = os.environ.get("GENLAB_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "genlab") / "extractors"


def cached_path(data_sha256: str) -> Path:
    return cache_dir() / f"{data_sha256}.safetensors"


def tensors_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the tensors in name order: name, dtype, shape, then the bytes of each."""
    digest = hashlib.sha256()
    for name in sorted(state):
        t = state[name].contiguous()
        digest.update(f"{name}|{t.dtype}|{list(t.shape)}|".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def save_learned(net: FeatureNet, manifest: dict, path: str | Path) -> Path:
    """Write the encoder (safetensors) and its manifest (JSON beside it), both atomically; returns the path."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ConfigError(f"the weights file must end in .safetensors, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    manifest = {**manifest, "weights_sha256": tensors_sha256(state)}
    meta = {"manifest": json.dumps(manifest)}
    atomic_write(path, lambda tmp: save_file(state, str(tmp), metadata=meta))
    atomic_write_text(path.with_suffix(".json"), json.dumps(manifest, indent=1) + "\n")
    return path


def _manifest_of(path: Path) -> dict[str, Any]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        manifest = json.loads(meta["manifest"])
    except Exception as e:  # not safetensors, no manifest, bad JSON: all one line
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(
            f"{path} is not a learned-extractor weights file ({why[:200]}); "
            "make one with `genlab eval train-extractor --data PATH`"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DataError(f"{path} holds no learned-extractor manifest; make one with `genlab eval train-extractor`")
    return manifest


def load_learned(path: str | Path) -> tuple[FeatureNet, dict[str, Any]]:
    """The encoder (eval mode) and manifest of a weights file; DataError (one line) when the file is missing, too
    big, not such a file, its tensors do not match the manifest's hash, or their shapes not its network."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"learned-extractor weights {path} not found (or not a regular file)")
    if path.stat().st_size > MAX_BYTES:
        raise DataError(f"{path} holds {path.stat().st_size} bytes, more than a learned extractor's {MAX_BYTES}")
    manifest = _manifest_of(path)
    state = load_file(str(path))
    if tensors_sha256(state) != manifest.get("weights_sha256"):
        raise DataError(
            f"{path}: the tensors do not match the manifest's weights_sha256 (damaged or altered); "
            "retrain with `genlab eval train-extractor --data PATH`"
        )
    try:
        shape = tuple(int(s) for s in manifest["input_shape"])
        net = FeatureNet(shape, int(manifest["width"]), int(manifest["feature_dim"]))  # type: ignore[arg-type]
        net.load_state_dict(state)
    except Exception as e:  # wrong shapes, missing keys, a bad manifest
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"{path}: the weights do not fit the network its manifest describes ({first[:200]})") from None
    return net.eval(), manifest


def find_cached(images: np.ndarray, how: str) -> Path:
    """The cached extractor trained on exactly ``images``; else a ConfigError that says how to train one."""
    digest = data_hash(images)
    path = cached_path(digest)
    if not path.is_file():
        raise ConfigError(
            f"no learned extractor for this reference (data sha256 {digest[:12]}) in {cache_dir()}: train one with "
            f"`genlab eval train-extractor --data {how}`, or pass --extractor-weights FILE"
        )
    return path


def find_by_weights(weights_sha256: str) -> Path:
    """The cached extractor whose tensors hash to ``weights_sha256`` (statistics files record it)."""
    folder = cache_dir()
    for manifest_path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            manifest = json.loads(manifest_path.read_text()[:1_000_000])
        except (OSError, ValueError):
            continue
        path = manifest_path.with_suffix(".safetensors")
        if isinstance(manifest, dict) and manifest.get("weights_sha256") == weights_sha256 and path.is_file():
            return path
    raise ConfigError(
        f"the statistics were measured with learned-extractor weights {weights_sha256[:12]}, not in {folder}: "
        "pass them with --extractor-weights FILE"
    )


class LearnedExtractor:
    """Standardised encoder features of images brought to the encoder's input by ``conform`` (channels, then
    PIL's anti-aliased bicubic resize), as the digits and shapes extractors do."""

    name = "learned"

    def __init__(self, path: str | Path, batch_size: int = 500) -> None:
        self.path = Path(path)
        self.net, self.manifest = load_learned(self.path)
        self.feature_dim = int(self.manifest["feature_dim"])
        self.input_shape: tuple[int, int, int] = tuple(int(s) for s in self.manifest["input_shape"])  # type: ignore
        self.batch_size = batch_size

    @property
    def settings(self) -> dict[str, Any]:
        """What the features depend on (for statistics files): the weights' tensor hash identifies the network."""
        return {
            "extractor": self.name,
            "dims": self.feature_dim,
            "resize": "conform",
            "weights": self.manifest["weights_sha256"],
        }

    @torch.no_grad()
    def features(self, images: np.ndarray) -> np.ndarray:
        """Shapes: uint8 (N, C, H, W) -> float64 (N, feature_dim)."""
        images = conform(images, self.input_shape)
        feats = [
            self.net.standardised(x).double().numpy()
            for x, _ in iterate_batches(images, None, self.batch_size, scale="-1,1")
        ]
        return np.concatenate(feats)
