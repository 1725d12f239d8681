"""``genlab filter``: a translation model as an image filter over a stream of files, with its frame rate.

The model is an export directory (``manifest.json``) or a run, exported on the fly to a
temporary directory (INT8 ONNX by default, the real-time filter of docs/results/deploy.md).
Frames are read one at a time in name order, resized to the model's input size when they
differ, run at batch 1 and written as PNGs of the same names. Frames per second are reported
twice: of the model calls alone, and end to end (reading, converting, writing included).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genlab.data import load_image, save_png
from genlab.errors import ConfigError, DataError
from genlab.export.manifest import read_manifest
from genlab.export.run import export_run
from genlab.export.runtime import onnx_runner, require_onnxruntime, torchscript_runner

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
MAX_IMAGE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class FilterReport:
    frames: int
    model_seconds: list[float]  # per frame
    total_seconds: float

    @property
    def model_fps(self) -> float:
        return len(self.model_seconds) / sum(self.model_seconds)

    @property
    def end_to_end_fps(self) -> float:
        return self.frames / self.total_seconds

    def percentile_ms(self, q: float) -> float:
        return float(np.percentile(self.model_seconds, q) * 1e3)


def frames_in(folder: Path) -> list[Path]:
    """The image files of ``folder`` in name order; a missing or empty folder is a DataError."""
    if not folder.is_dir():
        raise DataError(f"--input {folder} is not a directory of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise DataError(f"--input {folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    for p in files:
        if p.stat().st_size > MAX_IMAGE_BYTES:
            raise DataError(f"{p} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    return files


def _graph(manifest: dict) -> str:
    if manifest["kind"] != "translation":
        raise ConfigError(
            f"genlab filter needs a translation model (pix2pix, cyclegan); this export is a {manifest['family']}"
        )
    return manifest["conventions"].get("sample_graph", "generator")


def filter_images(
    source: Path, input_dir: Path, out_dir: Path, *, int8: bool = True, threads: int = 2
) -> FilterReport:
    """Translate every image of ``input_dir`` into ``out_dir`` with the model of ``source``."""
    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    exported = (source / "manifest.json").is_file()
    if exported:
        _graph(read_manifest(source))  # a bad manifest or a non-translation model is refused before any frame
    frames = frames_in(input_dir)
    if exported:
        return _run(source, frames, out_dir, threads)
    require_onnxruntime()
    with tempfile.TemporaryDirectory() as tmp:
        export_dir = Path(tmp) / "export"
        export_run(source, export_dir, fmt="onnx", int8=int8)
        return _run(export_dir, frames, out_dir, threads)


def _run(export_dir: Path, frames: list[Path], out_dir: Path, threads: int) -> FilterReport:
    manifest = read_manifest(export_dir)
    name = _graph(manifest)
    graph = manifest["graphs"][name]
    files = {name: export_dir / graph["file"]}
    if manifest["runtime"] == "onnx":
        require_onnxruntime()
        runner = onnx_runner(files, threads)
    else:
        runner = torchscript_runner(files, {name: [s["name"] for s in graph["inputs"]]})
    _, c, h, w = graph["inputs"][0]["shape"]
    input_name = graph["inputs"][0]["name"]
    out_dir.mkdir(parents=True, exist_ok=True)
    times: list[float] = []
    start = time.perf_counter()
    for path in frames:
        rgb = load_image(path, size=(h, w), grayscale=c == 1)  # (H, W) or (H, W, 3) uint8
        x = rgb[None, None] if c == 1 else rgb.transpose(2, 0, 1)[None]  # -> (1, C, H, W)
        x = x.astype(np.float32) / 127.5 - 1.0
        t0 = time.perf_counter()
        (y,) = runner(name, {input_name: x})
        times.append(time.perf_counter() - t0)
        image = ((np.clip(y[0], -1, 1) + 1) * 127.5).round().astype(np.uint8)  # (C, H, W)
        save_png(out_dir / f"{path.stem}.png", image[0] if c == 1 else image.transpose(1, 2, 0))
    return FilterReport(len(frames), times, time.perf_counter() - start)
