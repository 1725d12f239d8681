"""Checkpoints as safetensors + JSON: never a pickle.

A nested state (dicts, lists, tuples, tensors, numbers, strings) is split into a flat
``{key: tensor}`` map saved with safetensors and a JSON skeleton in which every tensor is
replaced by ``{"__tensor__": key}``. The JSON is written last and records the SHA-256 of
the tensor file, so a half-written or altered checkpoint is detected on load.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from genlab.atomic import atomic_write_bytes, atomic_write_text
from genlab.errors import CheckpointError
from genlab.files import GIB, MAX_JSON_BYTES, loads_json, read_bytes

FORMAT = "genlab-checkpoint/1"
MAX_TENSOR_BYTES = 16 * GIB  # the largest family here saves ~200 MiB; a bound, not a budget
_STEP_RE = re.compile(r"^step_(\d{8})\.json$")


def flatten_state(obj: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """Split ``obj`` into a JSON-able skeleton and a flat tensor map of CPU copies.

    Tensors on a GPU are copied to the CPU (safetensors and hashes read host memory), so a
    state saves, and hashes, the same wherever it lives.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(x: Any, path: str) -> Any:
        if isinstance(x, torch.Tensor):
            tensors[path] = x.detach().cpu().contiguous().clone()
            return {"__tensor__": path}
        if isinstance(x, dict):
            if all(isinstance(k, str) for k in x):
                return {k: walk(v, f"{path}/{k}") for k, v in x.items()}
            return {"__items__": [[k, walk(v, f"{path}/{k}")] for k, v in x.items()]}
        if isinstance(x, tuple):
            return {"__tuple__": [walk(v, f"{path}/{i}") for i, v in enumerate(x)]}
        if isinstance(x, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(x)]
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise TypeError(f"cannot checkpoint a value of type {type(x).__name__} at {path or '/'}")

    return walk(obj, ""), tensors


def weights_hash(state: Any) -> str:
    """Hash of every tensor in a (nested) state dict, by path: the weights an image came from.

    For a saved checkpoint, its JSON's ``sha256`` of the tensor file serves the same purpose.
    """
    _, tensors = flatten_state(state)
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name]
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return "state-sha256:" + digest.hexdigest()


def unflatten_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    if isinstance(skeleton, dict):
        if "__tensor__" in skeleton:
            key = skeleton["__tensor__"]
            if key not in tensors:
                raise CheckpointError(f"checkpoint is missing tensor {key!r}")
            return tensors[key]
        if "__items__" in skeleton:
            return {k: unflatten_state(v, tensors) for k, v in skeleton["__items__"]}
        if "__tuple__" in skeleton:
            return tuple(unflatten_state(v, tensors) for v in skeleton["__tuple__"])
        return {k: unflatten_state(v, tensors) for k, v in skeleton.items()}
    return skeleton


def save_checkpoint(path_stem: Path, state: Any, meta: dict[str, Any]) -> Path:
    """Write ``<stem>.safetensors`` then ``<stem>.json`` atomically; returns the JSON path."""
    skeleton, tensors = flatten_state(state)
    blob = st_save(tensors)
    tensor_path = path_stem.with_suffix(".safetensors")
    atomic_write_bytes(tensor_path, blob)
    doc = {
        "format": FORMAT,
        **meta,
        "tensors": tensor_path.name,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "state": skeleton,
    }
    return atomic_write_text(path_stem.with_suffix(".json"), json.dumps(doc, indent=1))


def load_checkpoint(json_path: Path) -> tuple[Any, dict[str, Any]]:
    """Read a checkpoint; returns (state, meta). Any damage raises :class:`CheckpointError`."""
    json_path = Path(json_path)
    data = read_bytes(json_path, MAX_JSON_BYTES, "checkpoint", CheckpointError)  # a FIFO or /dev/zero: refused
    try:
        doc = loads_json(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"checkpoint {json_path} is corrupt (unreadable JSON: {e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"{json_path} is not a genlab checkpoint (expected format {FORMAT})")
    name = doc.get("tensors")
    if name != json_path.with_suffix(".safetensors").name:  # never a path elsewhere (../x, /dev/zero)
        raise CheckpointError(
            f"{json_path} is corrupt: its tensors must be {json_path.with_suffix('.safetensors').name!r} beside it, "
            f"got {name!r}"
        )
    tensor_path = json_path.parent / name
    blob = read_bytes(
        tensor_path,
        MAX_TENSOR_BYTES,
        "checkpoint tensors",
        CheckpointError,
        missing=f"checkpoint tensors {tensor_path} are missing",
    )
    if hashlib.sha256(blob).hexdigest() != doc.get("sha256"):
        raise CheckpointError(
            f"checkpoint tensors {tensor_path} are corrupt (SHA-256 does not match {json_path.name})"
        )
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError) as e:
        raise CheckpointError(f"checkpoint tensors {tensor_path} are corrupt ({e})") from None
    try:
        state = unflatten_state(doc.pop("state"), tensors)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CheckpointError(
            f"{json_path} is corrupt: its state skeleton is malformed ({type(e).__name__}: {e})"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{json_path} is corrupt: its state must be a mapping, got {type(state).__name__}")
    return state, doc


def step_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """(step, json path) of every ``step_<8 digits>.json`` in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_RE.match(p.name))]
    return sorted(found)


def prune_checkpoints(folder: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` step checkpoints (JSON first, then tensors)."""
    for _, json_path in step_checkpoints(folder)[:-keep_last]:
        json_path.unlink(missing_ok=True)
        json_path.with_suffix(".safetensors").unlink(missing_ok=True)
