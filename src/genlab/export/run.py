"""``export_run``: a trained run -> a directory of model files, ``manifest.json`` and ``card.md``.

Every graph is checked against PyTorch on fresh random inputs (batch 3, so the dynamic batch
axis is exercised) before anything is written: a float32 export that differs by more than
``PARITY_TOL`` fails. An ``int8`` export also runs the family's whole sampling path in float32
and in INT8 from the same noise and records the cost as PSNR between the two; below
``COLLAPSE_PSNR_DB`` the export is refused with the measured number.
The directory appears atomically: it is built beside the target and renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from genlab.atomic import atomic_write_text
from genlab.data import load_dataset
from genlab.errors import ConfigError
from genlab.export.adapters import exportable
from genlab.export.graphs import Exportable, Runner, torch_runner
from genlab.export.manifest import FORMAT, VERSION
from genlab.export.quantize import METHOD, quantize_int8
from genlab.export.runtime import (
    OPSET,
    Exporter,
    onnx_runner,
    require_onnxruntime,
    torchscript_runner,
    write_onnx,
    write_torchscript,
)
from genlab.marks.provenance import run_id
from genlab.publish.card import render_card
from genlab.runs import find_checkpoint, load_family

Format = Literal["onnx", "torchscript"]
FORMATS: tuple[str, ...] = ("onnx", "torchscript")
PARITY_TOL = 1e-4  # float32 outputs of the runtime vs PyTorch, same inputs
COLLAPSE_PSNR_DB = 20.0  # INT8 vs float32 samples from the same noise: below this the export is refused
QUALITY_SAMPLES = 16
SEED = 0


@dataclass
class ExportResult:
    out_dir: Path
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def max_abs(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    return max(float(np.abs(x.astype(np.float64) - y.astype(np.float64)).max()) for x, y in zip(a, b))


def psnr_db(reference: np.ndarray, other: np.ndarray) -> float:
    """PSNR of images in [-1, 1] (peak-to-peak 2): 10 log10(4 / MSE); inf when equal."""
    mse = float(np.mean((reference.astype(np.float64) - other.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(4.0 / mse)


def runtime_runner(fmt: str, files: dict[str, Path], ex: Exportable, threads: int = 1) -> Runner:
    if fmt == "onnx":
        return onnx_runner(files, threads)
    return torchscript_runner(files, {k: [s.name for s in g.inputs] for k, g in ex.graphs.items()})


def load_exportable(run_dir: Path, which: str = "latest", data_dir: str | Path | None = None):
    """(Exportable, family, run, meta) of a run; the calibration data is loaded on first use."""
    family, run, meta = load_family(run_dir, which)

    @lru_cache(maxsize=1)
    def data() -> tuple[np.ndarray, np.ndarray]:
        images, labels, _ = load_dataset(run.train.dataset, "train", data_dir)
        return images, labels

    return exportable(family, data), family, run, meta


def export_run(
    run_dir: str | Path,
    out_dir: str | Path,
    *,
    fmt: str = "onnx",
    int8: bool = False,
    force: bool = False,
    which: str = "latest",
    calibration: int = 64,
    exporter: Exporter = "legacy",
    data_dir: str | Path | None = None,
) -> ExportResult:
    """Export the sampling path of run ``run_dir`` into ``out_dir`` (see the module docstring)."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    if int8 and fmt != "onnx":
        raise ConfigError("--int8 quantises with ONNX Runtime: use it with --format onnx")
    if out_dir.exists() and not force:
        raise ConfigError(f"{out_dir} already exists; pass --force to replace it or choose another -o")
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} exists and is not a directory")
    if calibration < 1:
        raise ConfigError(f"--calibration must be >= 1, got {calibration}")
    if fmt == "onnx":
        require_onnxruntime()
    ex, family, run, meta = load_exportable(run_dir, which, data_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        manifest, warnings = _build(ex, run_dir, which, run, meta, work, fmt, int8, calibration, exporter)
        atomic_write_text(work / "manifest.json", json.dumps(manifest, indent=1) + "\n")
        atomic_write_text(work / "card.md", _card(run_dir, run, manifest))
        _move_into_place(work, out_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return ExportResult(out_dir, manifest, warnings)


def _build(ex, run_dir, which, run, meta, work, fmt, int8, calibration, exporter):
    suffix = ".onnx" if fmt == "onnx" else ".pt"
    files: dict[str, Path] = {}
    for name, graph in ex.graphs.items():
        files[name] = work / f"{name}{suffix}"
        example = ex.example_inputs(name, 2, torch.Generator().manual_seed(SEED))
        if fmt == "onnx":
            write_onnx(graph, example, files[name], exporter)
        else:
            write_torchscript(graph, example, files[name])
    reference, runner = torch_runner(ex.graphs), runtime_runner(fmt, files, ex)
    parity = {}
    for name in ex.graphs:
        inputs = ex.example_inputs(name, 3, torch.Generator().manual_seed(SEED + 1))
        parity[name] = max_abs(reference(name, inputs), runner(name, inputs))
        if not parity[name] <= PARITY_TOL:
            raise ConfigError(
                f"the {fmt} graph {name!r} differs from PyTorch by {parity[name]:.3g} > {PARITY_TOL:g}; not exported"
            )
    graphs = {name: _graph_entry(ex, name, files[name], parity[name]) for name in ex.graphs}
    warnings: list[str] = []
    quantization = None
    if int8:
        quantization, warnings = _quantize(ex, files, graphs, work, calibration, run)
    ckpt = find_checkpoint(run_dir, which)
    weights = ckpt.with_suffix(".safetensors")
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "family": run.family,
        "kind": ex.kind,
        "runtime": fmt,
        "int8": int8,
        "source": {
            "run_id": run_id(run.to_dict()),
            "run_dir": str(run_dir),
            "checkpoint": ckpt.name,
            "checkpoint_sha256": sha256_file(weights) if weights.is_file() else None,
            "step": int(meta.get("step", 0)),
        },
        "image": {
            "channels": ex.image_shape[0],
            "height": ex.image_shape[1],
            "width": ex.image_shape[2],
            "range": "[-1, 1]; uint8 = round((x + 1) * 127.5)",
        },
        "graphs": graphs,
        "conventions": ex.conventions,
        "diffusion": ex.diffusion,
        "quantization": quantization,
        "card": "card.md",
        "exporter": f"torch.onnx.export (dynamo), opset {max(OPSET, 18)}"
        if fmt == "onnx" and exporter == "dynamo"
        else f"torch.onnx.export (TorchScript-based), opset {OPSET}"
        if fmt == "onnx"
        else "torch.jit.trace",
        "versions": _versions(),
    }
    return manifest, warnings


def _graph_entry(ex: Exportable, name: str, path: Path, parity: float) -> dict[str, Any]:
    graph = ex.graphs[name]
    return {
        "file": path.name,
        "sha256": sha256_file(path),
        "bytes": path.stat().st_size,
        "inputs": [s.to_dict() for s in graph.inputs],
        "outputs": [s.to_dict() for s in graph.outputs],
        "parity_max_abs_vs_pytorch": parity,
        **({"note": graph.note} if graph.note else {}),
    }


def _quantize(ex, files, graphs, work, calibration, run):
    float_files = dict(files)
    int8_files = {}
    for name, graph in ex.graphs.items():
        rows = ex.calibration(name, calibration, torch.Generator().manual_seed(SEED + 2))
        int8_files[name] = work / f"{name}.int8.onnx"
        quantize_int8(files[name], int8_files[name], rows)
    fp32 = ex.generate(onnx_runner(float_files), QUALITY_SAMPLES, torch.Generator().manual_seed(SEED + 3))
    q8 = ex.generate(onnx_runner(int8_files), QUALITY_SAMPLES, torch.Generator().manual_seed(SEED + 3))
    cost = psnr_db(fp32, q8)
    if not cost >= COLLAPSE_PSNR_DB:
        raise ConfigError(
            f"--int8 refused for this {run.family} run: its INT8 samples reach only {cost:.1f} dB PSNR against the "
            f"float32 ones from the same noise (< {COLLAPSE_PSNR_DB:g} dB); export it without --int8"
        )
    for name in ex.graphs:  # the INT8 files replace the float32 ones under the manifest's names
        size_fp32 = files[name].stat().st_size
        files[name].unlink()
        target = work / f"{name}.onnx"
        int8_files[name].rename(target)
        graphs[name].update(
            file=target.name, sha256=sha256_file(target), bytes=target.stat().st_size, bytes_float32=size_fp32
        )
        graphs[name]["parity_max_abs_vs_pytorch"] = None  # INT8 is measured by the quality cost below
    quantization = {
        "method": METHOD,
        "calibration": {"n": calibration, "source": f"train split of {run.train.dataset} (see each adapter)"},
        "quality": {
            "psnr_db_vs_float32": round(cost, 2),
            "max_abs_vs_float32": float(np.abs(fp32 - q8).max()),
            "samples": QUALITY_SAMPLES,
            "what": "the whole sampling path in INT8 and in float32 ONNX from the same noise",
        },
    }
    return quantization, []


def _versions() -> dict[str, str]:
    found = {"torch": str(torch.__version__), "numpy": np.__version__, "python": platform.python_version()}
    try:
        import onnx
        import onnxruntime

        found.update(onnx=onnx.__version__, onnxruntime=onnxruntime.__version__)
    except ImportError:
        pass
    return found


def _card(run_dir: Path, run, manifest: dict[str, Any]) -> str:
    """The run's model card (genlab.publish.card), with a section on this export."""
    lines = [
        "",
        "## Export",
        f"- Runtime: {manifest['runtime']}{' INT8' if manifest['int8'] else ' float32'}; graphs: "
        + ", ".join(f"`{g['file']}`" for g in manifest["graphs"].values())
        + "; inputs, outputs and conventions in `manifest.json`.",
    ]
    if manifest["quantization"]:
        q = manifest["quantization"]["quality"]
        lines.append(f"- INT8 cost: {q['psnr_db_vs_float32']} dB PSNR against the float32 export's samples.")
    else:
        worst = max(g["parity_max_abs_vs_pytorch"] for g in manifest["graphs"].values())
        lines.append(f"- Parity: outputs within {worst:.2g} of PyTorch's on the same inputs (tolerance 1e-4).")
    return render_card(run_dir, run) + "\n".join(lines) + "\n"


def _move_into_place(work: Path, out_dir: Path) -> None:
    """Rename the finished directory onto ``out_dir``; an old one (``--force``) is moved aside first."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(work, 0o777 & ~umask)  # mkdtemp makes 0700: give the directory normal permissions
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
    os.replace(work, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
