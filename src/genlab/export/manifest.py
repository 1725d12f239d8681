"""``manifest.json`` of an export directory: what a runtime needs to run the graphs without genlab.

Top-level keys: ``format`` ("genlab-export"), ``version`` (1), ``family``, ``kind``, ``runtime``
(onnx / torchscript), ``int8``, ``source`` (run id, checkpoint file, SHA-256 of its weights
file, step), ``image`` (C, H, W and range), ``graphs`` (per graph: file, SHA-256, bytes, inputs
and outputs with name, shape, dtype, range and meaning, parity against PyTorch), ``conventions``
(labels, guidance, truncation...), ``diffusion`` (alpha-bar as a list, step spacing, eta, clipping,
guidance; null for the other kinds), ``quantization`` (null unless int8), ``card`` and ``versions``.
:func:`check_manifest` refuses a file edited into another shape, in one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genlab.errors import ConfigError

FORMAT, VERSION = "genlab-export", 1
MAX_BYTES = 8 * 1024 * 1024
DTYPES = ("float32", "int64", "bool")
REQUIRED = {
    "format": str,
    "version": int,
    "family": str,
    "kind": str,
    "runtime": str,
    "int8": bool,
    "source": dict,
    "image": dict,
    "graphs": dict,
    "conventions": dict,
}


def _bad(path: Path, what: str) -> ConfigError:
    return ConfigError(f"{path} is not a valid genlab export manifest: {what}")


def _check_tensor(path: Path, where: str, spec: Any) -> None:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise _bad(path, f"{where} needs a name")
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all((isinstance(d, int) and d > 0) or d == "batch" for d in shape):
        raise _bad(path, f"{where} {spec['name']!r} has shape {shape!r}; expected a list of positive ints or 'batch'")
    if spec.get("dtype") not in DTYPES:
        raise _bad(path, f"{where} {spec['name']!r} has dtype {spec.get('dtype')!r}; expected one of {DTYPES}")


def check_manifest(data: Any, path: Path) -> dict[str, Any]:
    """``data`` if it has the manifest's shape (keys, types, graphs, diffusion schedule), else a ConfigError."""
    if not isinstance(data, dict):
        raise _bad(path, "the top level must be a JSON object")
    for key, kind in REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise _bad(path, f"{key!r} must be a {kind.__name__}, got {type(data.get(key)).__name__}")
    if data["format"] != FORMAT or data["version"] != VERSION:
        raise _bad(path, f"format {data['format']!r} version {data['version']} (this genlab reads {FORMAT} {VERSION})")
    if data["runtime"] not in ("onnx", "torchscript"):
        raise _bad(path, f"runtime {data['runtime']!r} is neither onnx nor torchscript")
    if not data["graphs"]:
        raise _bad(path, "it lists no graphs")
    for name, graph in data["graphs"].items():
        if not isinstance(graph, dict) or not isinstance(graph.get("file"), str) or "/" in graph["file"]:
            raise _bad(path, f"graph {name!r} needs a file name inside the export directory")
        for side in ("inputs", "outputs"):
            if not isinstance(graph.get(side), list) or not graph[side]:
                raise _bad(path, f"graph {name!r} needs a non-empty {side} list")
            for spec in graph[side]:
                _check_tensor(path, f"graph {name!r} {side[:-1]}", spec)
    diffusion = data.get("diffusion")
    if diffusion is not None:
        ab = diffusion.get("alpha_bar") if isinstance(diffusion, dict) else None
        steps = diffusion.get("diffusion_steps") if isinstance(diffusion, dict) else None
        if not isinstance(ab, list) or not isinstance(steps, int) or len(ab) != steps:
            raise _bad(path, "diffusion.alpha_bar must be a list of diffusion_steps numbers")
        if not all(isinstance(a, (int, float)) and 0.0 < a < 1.0 for a in ab):
            raise _bad(path, "diffusion.alpha_bar values must lie in (0, 1)")
        if any(b > a for a, b in zip(ab, ab[1:])):
            raise _bad(path, "diffusion.alpha_bar must decrease with the step index")
    return data


def read_manifest(export_dir: Path) -> dict[str, Any]:
    """The checked manifest of an export directory (read with a size bound)."""
    path = Path(export_dir) / "manifest.json"
    if not path.is_file():
        raise ConfigError(f"{export_dir} has no manifest.json: make it with `genlab export RUN -o {export_dir}`")
    if path.stat().st_size > MAX_BYTES:
        raise _bad(path, f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _bad(path, f"not JSON ({e})") from None
    return check_manifest(data, path)
