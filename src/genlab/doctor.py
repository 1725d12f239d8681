"""``genlab doctor``: what a user pastes into a bug report.

Versions, threads and cores, where the data comes from and whether its checksums
pass, the compute device, and which optional extras are installed. Every check is
read-only and never raises for a broken setup: a problem becomes a ``status`` string
in the report, so the report can always be printed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
from pathlib import Path
from typing import Any

import torch

from genlab.data.mnist import CANONICAL_MD5, ENV_VAR, SPLIT_FILES, find_file, resolve_data_dir, verified_bytes
from genlab.errors import DataError
from genlab.runs.rundir import versions

# Pinned dependencies whose versions matter for reproducing a number.
CORE_PACKAGES = ("scipy", "scikit-learn", "pillow", "safetensors", "matplotlib", "cryptography")

# extra name -> (what it enables, [(import name, distribution name)]).
EXTRAS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "iwm": (
        'genlab watermark --method dwtDctSvd (pip install -e ".[iwm]")',
        [("imwatermark", "invisible-watermark"), ("cv2", "opencv-python"), ("pywt", "PyWavelets")],
    ),
    "text": ("text conditioning with a sentence encoder", [("sentence_transformers", "sentence-transformers")]),
    "browser": ("the headless-browser tests of the web app", [("selenium", "selenium")]),
}
TEXT_MODEL = "all-minilm-l6-v2"  # the sentence encoder text conditioning uses, looked for in the Hugging Face cache
BROWSER_PROGRAMS = ("chromium", "chromedriver")


def collect(data_dir: str | Path | None = None, *, checksums: bool = True) -> dict[str, Any]:
    """The whole report as a JSON-ready dict: versions, threads, data, device, extras.

    ``checksums=False`` skips decompressing and hashing the MNIST files (about a second).
    """
    return {
        "versions": {**versions(), **{name: package_version(name) or "not installed" for name in CORE_PACKAGES}},
        "threads": thread_report(),
        "data": data_report(data_dir, checksums=checksums),
        "device": device_report(),
        "extras": extras_report(),
    }


def package_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def thread_report() -> dict[str, Any]:
    """Torch's intra/inter-op threads, the cores this process may use, MKL and oneDNN (MKL-DNN)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "cpu_count": os.cpu_count(),
        "usable_cores": usable,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
        "MKL_NUM_THREADS": os.environ.get("MKL_NUM_THREADS", "unset"),
        "mkl": torch.backends.mkl.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
    }


def data_report(data_dir: str | Path | None = None, *, checksums: bool = True) -> dict[str, Any]:
    """Where MNIST is read from and, per file, ``ok`` / ``missing`` / ``bad checksum`` / ``not checked``."""
    source = "--data-dir" if data_dir is not None else (ENV_VAR if os.environ.get(ENV_VAR) else "embedded copy")
    try:
        folder = resolve_data_dir(data_dir)
    except DataError as e:
        return {
            "source": source,
            "folder": str(data_dir or os.environ.get(ENV_VAR)),
            "status": "missing",
            "problem": str(e),
            "files": {},
        }
    files: dict[str, str] = {}
    for stems in SPLIT_FILES.values():
        for stem in stems:
            files[stem] = _file_status(folder, stem, checksums)
    bad = [s for s in files.values() if s not in ("ok", "not checked")]
    status = "ok" if not bad else "problem"
    if not checksums and not bad:
        status = "present (checksums not checked)"
    return {
        "source": source,
        "folder": str(folder),
        "status": status,
        "checksum": "MD5 of the uncompressed bytes",
        "files": files,
    }


def _file_status(folder: Path, stem: str, checksums: bool) -> str:
    try:
        path = find_file(folder, stem)
    except DataError:
        return "missing"
    if not checksums:
        return "not checked"
    try:
        verified_bytes(path, stem)
    except DataError:
        return f"bad checksum (expected MD5 {CANONICAL_MD5[stem]})"
    except OSError as e:  # unreadable or not gzip at all
        return f"unreadable ({e.__class__.__name__})"
    return "ok"


def device_report() -> dict[str, Any]:
    """genlab trains on the CPU; CUDA and MPS are reported for completeness."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None)
    return {
        "device": "cpu",
        "cuda_available": cuda,
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "mps_available": bool(mps is not None and mps.is_available()),
        "processor": platform.processor() or platform.machine(),
    }


def extras_report() -> dict[str, Any]:
    """Each optional extra: installed or not, with the version of each of its packages."""
    report: dict[str, Any] = {}
    for extra, (purpose, modules) in EXTRAS.items():
        packages = {
            dist: (package_version(dist) or "installed") if importlib.util.find_spec(mod) else "not installed"
            for mod, dist in modules
        }
        report[extra] = {"for": purpose, "packages": packages}
    report["text"]["packages"][TEXT_MODEL] = "cached" if _hf_model_cached(TEXT_MODEL) else "not cached"
    report["browser"]["packages"].update({prog: shutil.which(prog) or "not found" for prog in BROWSER_PROGRAMS})
    for entry in report.values():
        entry["installed"] = not any(
            v in ("not installed", "not found", "not cached") for v in entry["packages"].values()
        )
    return report


def _hf_model_cached(name: str) -> bool:
    """Whether a Hugging Face cache folder names the model (offline check; nothing is downloaded)."""
    roots = [
        os.environ.get("HF_HOME"),
        os.environ.get("SENTENCE_TRANSFORMERS_HOME"),
        str(Path.home() / ".cache" / "huggingface"),
    ]
    for root in filter(None, roots):
        base = Path(root)
        if base.is_dir() and any(
            name in p.name.lower() for sub in (base, base / "hub") if sub.is_dir() for p in sub.iterdir()
        ):
            return True
    return False


def format_report(report: dict[str, Any]) -> str:
    """The report as plain text, one ``key: value`` line per item under a heading per section."""
    lines: list[str] = []
    for section, values in report.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if section == "extras":
                state = "installed" if value["installed"] else "not installed"
                parts = ", ".join(f"{k} {v}" for k, v in value["packages"].items())
                lines.append(f"  {key}: {state} ({parts}) - {value['for']}")
            elif isinstance(value, dict):
                lines.append(f"  {key}:")
                lines.extend(f"    {k}: {v}" for k, v in value.items())
            elif isinstance(value, list):
                lines.append(f"  {key}: {', '.join(map(str, value)) or 'none'}")
            else:
                lines.append(f"  {key}: {value}")
    return "\n".join(lines)
