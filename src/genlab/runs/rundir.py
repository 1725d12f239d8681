"""The run directory: config.yaml, checkpoints/, samples/, metrics.jsonl.

Everything downstream of training (sample, eval, report) reads a run through here.
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.atomic import atomic_write_text, write_error
from genlab.config import TrainConfig, from_dict, parse_yaml, to_dict
from genlab.errors import CheckpointError, ConfigError, short_repr
from genlab.files import MAX_CONFIG_BYTES, MIB, dumps_yaml, loads_json, read_text
from genlab.models.registry import get_family
from genlab.runs.checkpoint import load_checkpoint, step_checkpoints
from genlab.version import __version__

MAX_METRICS_BYTES = 256 * MIB  # metrics.jsonl: ~200 bytes a record, one record every log_every steps
_ATOMIC_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # tempfile.mkstemp(prefix=".<name>.", suffix=".tmp")


@dataclass(frozen=True)
class RunConfig:
    """What a run directory's config.yaml holds: family name, model and train configs."""

    family: str
    model: Any
    train: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "model": to_dict(self.model), "train": to_dict(self.train)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        if not isinstance(data, dict) or "family" not in data:
            raise ConfigError("a run config needs a 'family' key (and optional 'model' and 'train' mappings)")
        if not isinstance(data["family"], str) or len(data["family"]) > 100:
            raise ConfigError(f"family must be a family name (see `genlab list`), got {short_repr(data['family'])}")
        spec = get_family(data["family"])
        return cls(
            spec.name,
            from_dict(spec.config_cls, data.get("model") or {}),
            from_dict(TrainConfig, data.get("train") or {}),
        )


def versions(device: torch.device | str | None = None) -> dict[str, str]:
    """Versions and commit that produced a run, saved beside its outputs; with ``device``,
    also where it ran (``cpu``, ``cuda:0``, ``mps``; CUDA runs add the GPU's name)."""
    found = {
        "genlab": __version__,
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": _git_commit(),
    }
    if device is not None:
        device = torch.device(device)
        found["device"] = str(device)
        if device.type == "cuda":
            found["gpu"] = torch.cuda.get_device_name(device)
    return found


def write_config(run_dir: Path, run: RunConfig, device: torch.device | str | None = None) -> None:
    doc = {**run.to_dict(), "versions": versions(device)}
    atomic_write_text(run_dir / "config.yaml", dumps_yaml(doc))


def read_config(run_dir: Path) -> RunConfig:
    """The run's config.yaml, read through :mod:`genlab.files` (a regular file of at most
    1 MiB, no YAML aliases); anything else is a :class:`CheckpointError`."""
    return RunConfig.from_dict(read_config_doc(run_dir))


def read_config_doc(run_dir: Path) -> Any:
    """The YAML document in the run's config.yaml, as read by :func:`read_config` (versions included)."""
    path = Path(run_dir) / "config.yaml"
    missing = f"{run_dir} is not a run directory (no config.yaml)"
    text = read_text(path, MAX_CONFIG_BYTES, "run config", CheckpointError, missing=missing)
    return parse_yaml(text, f"{path} (it is corrupt)", CheckpointError)


def find_checkpoint(run_dir: Path, which: str = "latest") -> Path:
    """JSON path of a run's checkpoint: ``latest`` (the newest step), ``best`` (lowest FID) or a step number."""
    steps = step_checkpoints(Path(run_dir) / "checkpoints")
    if which == "best":
        best = Path(run_dir) / "checkpoints" / "best.json"
        if not best.is_file():
            raise CheckpointError(f"{run_dir} has no best checkpoint: train with --set eval_every=N to keep one")
        return best
    if not steps:
        raise CheckpointError(f"{run_dir} has no checkpoints yet")
    if which == "latest":
        return steps[-1][1]
    by_step = {str(step): path for step, path in steps}
    key = str(int(which)) if which.isdigit() else which
    if key not in by_step:
        have = ", ".join(["latest"] + list(by_step))
        raise CheckpointError(f"{run_dir} has no checkpoint {which!r}; available: {have}")
    return by_step[key]


def load_resumable_checkpoint(run_dir: Path, warn: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(state, meta) of the newest step checkpoint that loads; a damaged one is reported with
    ``warn`` (one line) and the one before it is tried (a crash can leave the newest torn).
    What a killed writer left behind is removed first (:func:`remove_write_debris`)."""
    remove_write_debris(Path(run_dir))
    steps = step_checkpoints(Path(run_dir) / "checkpoints")
    if not steps:
        raise CheckpointError(f"{run_dir} has no checkpoints yet")
    skipped: list[str] = []
    for step, path in reversed(steps):
        try:
            loaded = load_checkpoint(path)
        except CheckpointError as e:
            skipped.append(f"skipping damaged checkpoint at step {step}: {e}")
            continue
        for line in skipped:
            warn(line)
        return loaded
    raise CheckpointError(
        f"every checkpoint of {run_dir} is damaged ({len(steps)} tried; the newest: {skipped[0].split(': ', 1)[1]})"
    )


def remove_write_debris(run_dir: Path) -> list[Path]:
    """Delete what a process killed mid-write leaves in a run directory, and return it:
    temp files of :mod:`genlab.atomic` (``.<name>.<8 random chars>.tmp``) in the run, its
    checkpoints and its samples, and checkpoint tensors whose JSON was never written (or
    whose JSON was pruned first). Only the trainer writes there, and it is not running."""
    removed = []
    for folder in (run_dir, run_dir / "checkpoints", run_dir / "samples"):
        if folder.is_dir():
            removed += [p for p in folder.iterdir() if _ATOMIC_TEMP.match(p.name) and p.is_file()]
    if (run_dir / "checkpoints").is_dir():
        removed += [p for p in (run_dir / "checkpoints").glob("*.safetensors") if not p.with_suffix(".json").exists()]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    """Add one line to metrics.jsonl; a failed write (disk full, ...) is a :class:`WriteError`
    (a torn line it may leave is skipped by :func:`read_metrics` and dropped on resume)."""
    path = Path(run_dir) / "metrics.jsonl"
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    except OSError as e:
        raise write_error(path, e) from None


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete record of metrics.jsonl (a torn last line from a crash is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    text = read_text(path, MAX_METRICS_BYTES, "metrics file", CheckpointError, errors="replace")
    records = []
    for line in text.splitlines():
        try:
            record = loads_json(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):  # a stray value on a line of its own is not a record
            records.append(record)
    return records


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Keep only records up to ``step`` (a resumed run logs the rest again)."""
    kept = [r for r in read_metrics(run_dir) if r.get("step", 0) <= step]
    atomic_write_text(Path(run_dir) / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in kept))


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() if out.returncode == 0 else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
