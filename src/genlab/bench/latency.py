"""``genlab bench latency``: batch-1 latency and throughput of a run's main graph in four runtimes.

Runtimes: PyTorch eager, TorchScript (traced), ONNX Runtime float32 and ONNX Runtime INT8, each
at 1 and 2 threads. Per (runtime, threads): batch-1 latency percentiles (p50/p95/p99) over
``calls`` timed calls after ``warmup`` untimed ones, and images/s at batches 1, 8 and 64. Per
runtime: the model file's size, and the peak resident memory of a worker process that loads
only that model and runs the measurements, above the resident memory its imports (Python,
torch, genlab) left (Linux: the peak is reset after the imports through /proc/self/clear_refs).
Each runtime runs in its own worker so the peaks do not mix.
The graph timed is the one a sampler calls most: the generator (GANs, VAE decoders,
translators), StyleGAN's synthesis, a diffusion denoiser (one call of a DDIM step).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.export.graphs import Exportable
from genlab.export.run import export_run, load_exportable
from genlab.export.runtime import torchscript_module

RUNTIMES = ("pytorch", "torchscript", "onnx-fp32", "onnx-int8")
MAIN_GRAPHS = ("generator", "synthesis", "denoiser", "g_ab")


def main_graph(ex: Exportable) -> str:
    return next(name for name in MAIN_GRAPHS if name in ex.graphs)


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1e3
    return {f"p{q}_ms": round(float(np.percentile(ms, q)), 3) for q in (50, 95, 99)}


def _callable(runtime: str, ex: Exportable, name: str, files: dict[str, Path], threads: int):
    """A function of the graph's inputs (dict of arrays) for ``runtime`` at ``threads`` threads."""
    names = [s.name for s in ex.graphs[name].inputs]
    torch.set_num_threads(threads)
    if runtime in ("pytorch", "torchscript"):
        module = ex.graphs[name].module if runtime == "pytorch" else torchscript_module(files[name])

        def call(inputs):
            with torch.inference_mode():
                return module(*(torch.from_numpy(inputs[k]) for k in names))

        return call
    from genlab.export.runtime import onnx_sessions

    session = onnx_sessions({name: files[name]}, threads)[name]
    return lambda inputs: session.run(None, inputs)  # type: ignore[attr-defined]


def measure(
    ex: Exportable,
    runtime: str,
    files: dict[str, Path],
    *,
    threads: tuple[int, ...],
    calls: int,
    warmup: int,
    batches: tuple[int, ...],
    seconds_per_batch: float,
) -> dict[str, Any]:
    """Latency and throughput of ``ex``'s main graph in ``runtime``, at each thread count."""
    name = main_graph(ex)
    out: dict[str, Any] = {"graph": name, "threads": {}}
    for t in threads:
        call = _callable(runtime, ex, name, files, t)
        one = ex.example_inputs(name, 1, torch.Generator().manual_seed(0))
        for _ in range(warmup):
            call(one)
        times = []
        for _ in range(calls):
            start = time.perf_counter()
            call(one)
            times.append(time.perf_counter() - start)
        result: dict[str, Any] = {**percentiles(times), "calls": calls, "images_per_s": {}}
        for b in batches:
            inputs = ex.example_inputs(name, b, torch.Generator().manual_seed(1))
            call(inputs)  # warm-up at this shape
            n, start = 0, time.perf_counter()
            while n < 3 or time.perf_counter() - start < seconds_per_batch:
                call(inputs)
                n += 1
            result["images_per_s"][str(b)] = round(b * n / (time.perf_counter() - start), 2)
        out["threads"][str(t)] = result
    return out


def export_all(
    run_dir: Path, folder: Path, runtimes: tuple[str, ...], parity: dict[str, float] | None = None
) -> dict[str, dict[str, Path]]:
    """The export files each runtime needs, made once into ``folder``; ``parity`` collects each float32
    export's largest difference from PyTorch (over its graphs)."""
    files: dict[str, dict[str, Path]] = {"pytorch": {}}
    plan = {"torchscript": ("torchscript", False), "onnx-fp32": ("onnx", False), "onnx-int8": ("onnx", True)}
    for runtime in runtimes:
        if runtime in plan:
            fmt, int8 = plan[runtime]
            result = export_run(run_dir, folder / runtime, fmt=fmt, int8=int8)
            files[runtime] = {k: folder / runtime / g["file"] for k, g in result.manifest["graphs"].items()}
            if parity is not None and not int8:
                parity[runtime] = max(g["parity_max_abs_vs_pytorch"] for g in result.manifest["graphs"].values())
    return files


def _status_mb(key: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MB; 0 where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return 0.0


def _reset_peak() -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS (Linux: clear_refs 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _worker(args: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process, after the imports: load the run, measure one runtime, and report the peak RSS
    reached meanwhile, above the RSS the imports left (Python, torch, genlab)."""
    reset = _reset_peak()
    base = _status_mb("VmRSS")
    ex, *_ = load_exportable(Path(args["run_dir"]), args["checkpoint"])
    files = {k: Path(v) for k, v in args["files"].items()}
    result = measure(
        ex,
        args["runtime"],
        files,
        threads=tuple(args["threads"]),
        calls=args["calls"],
        warmup=args["warmup"],
        batches=tuple(args["batches"]),
        seconds_per_batch=args["seconds_per_batch"],
    )
    peak = _status_mb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["peak_rss_mb_over_baseline"] = round(peak - base, 1)
    result["baseline_rss_mb"] = round(base, 1)
    return result


def _spawn(args: dict[str, Any]) -> dict[str, Any]:
    code = (
        "import json, sys; from genlab.bench.latency import _worker; "
        "print(json.dumps(_worker(json.loads(sys.argv[1]))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True, check=False, timeout=3600
    )
    if proc.returncode != 0:
        raise RuntimeError(f"latency worker failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_run(
    run_dir: Path,
    *,
    runtimes: tuple[str, ...] = RUNTIMES,
    threads: tuple[int, ...] = (1, 2),
    calls: int = 200,
    warmup: int = 20,
    batches: tuple[int, ...] = (1, 8, 64),
    seconds_per_batch: float = 1.0,
    checkpoint: str = "latest",
) -> dict[str, Any]:
    """Every runtime's numbers for one run, each measured in its own worker process."""
    ex, family, run, _ = load_exportable(run_dir, checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        parity: dict[str, float] = {}
        files = export_all(run_dir, Path(tmp), runtimes, parity)
        common = {
            "run_dir": str(run_dir),
            "checkpoint": checkpoint,
            "threads": list(threads),
            "calls": calls,
            "warmup": warmup,
            "batches": list(batches),
            "seconds_per_batch": seconds_per_batch,
        }
        results = {}
        for runtime in runtimes:
            r = _spawn({**common, "runtime": runtime, "files": {k: str(v) for k, v in files[runtime].items()}})
            graph = r["graph"]
            size = (
                files[runtime][graph].stat().st_size
                if runtime != "pytorch"
                else sum(p.numel() * p.element_size() for p in ex.graphs[graph].module.parameters())
            )
            r["model_mb"] = round(size / 1e6, 3)
            baseline = r.pop("baseline_rss_mb")
            results[runtime] = r
    return {
        "run_dir": str(run_dir),
        "family": run.family,
        "config": {k: v for k, v in run.to_dict()["model"].items() if k in _SIZE_KEYS},
        "image_shape": list(ex.image_shape),
        "graph": main_graph(ex),
        "baseline_rss_mb": round(baseline, 1),
        "parity_max_abs_vs_pytorch": parity,
        "runtimes": results,
    }


_SIZE_KEYS = (
    "arch",
    "base_channels",
    "channel_mults",
    "depth",
    "hidden",
    "width",
    "latent_dim",
    "z_dim",
    "channel_base",
    "max_channels",
    "resolution",
    "n_blocks",
    "attention",
)
