"""The runs the web app shows: discovery under ``--runs``, safe name lookup, gallery rows.

A run is named by its path relative to the runs folder (``dcgan`` or ``gan-bench/dcgan``).
Names are looked up in the set found by scanning, never joined onto a path as given, so
``../`` or an absolute path cannot reach outside the folder.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.errors import CheckpointError, ConfigError, GenlabError
from genlab.runs.checkpoint import step_checkpoints
from genlab.runs.rundir import RunConfig, read_config

MAX_DEPTH = 2  # runs/<name> and runs/<group>/<name>
MAX_NAME = 200
_NAME_RE = re.compile(r"^[A-Za-z0-9._\-]+(/[A-Za-z0-9._\-]+)*$")
_TAIL_BYTES = 65_536  # the last metrics record is looked for in this many bytes at the end


class UnknownRun(CheckpointError):
    """A run name that is not a run under ``--runs``."""

    status = 404


@dataclass(frozen=True)
class RunSummary:
    """One gallery row: what a run is and how far it got."""

    name: str
    path: Path
    family: str
    dataset: str
    steps: int  # the newest checkpoint's step; 0 without checkpoints
    metrics: dict[str, Any] = field(default_factory=dict)  # the last record of metrics.jsonl
    grid: Path | None = None  # the newest samples/step_*.png
    has_card: bool = False
    problem: str = ""  # why the run cannot be sampled ("" when it can)

    @property
    def can_sample(self) -> bool:
        return not self.problem


def check_run_name(name: str) -> str:
    """``name`` if it has the shape of a run name; traversal and absolute paths are a ConfigError."""
    if not isinstance(name, str) or not name:
        raise ConfigError("choose a run: the run parameter is empty")
    if len(name) > MAX_NAME:
        raise ConfigError(f"run names are at most {MAX_NAME} characters, got {len(name)}")
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or ":" in name or any(p in ("..", ".", "") for p in parts):
        raise ConfigError(
            f"run names are folders relative to --runs; '..', '.' and absolute paths are refused, got {name!r}"
        )
    if not _NAME_RE.match(name):
        raise ConfigError(f"run names may hold letters, digits, '.', '_', '-' and '/', got {name!r}")
    return name


def discover_runs(root: Path) -> dict[str, Path]:
    """Name -> folder of every run (a folder with config.yaml) under ``root``, up to two levels deep.

    Hidden folders are skipped, and so is anything whose real path lies outside ``root``
    (a symlink pointing elsewhere).
    """
    root = Path(root)
    if not root.is_dir():
        return {}
    real_root = root.resolve()
    found: dict[str, Path] = {}

    def walk(folder: Path, depth: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            if not child.resolve().is_relative_to(real_root):
                continue
            if (child / "config.yaml").is_file():
                name = child.relative_to(root).as_posix()
                if _NAME_RE.match(name):
                    found[name] = child
            elif depth < MAX_DEPTH:
                walk(child, depth + 1)

    walk(root, 1)
    return found


def resolve_run(root: Path, name: str) -> Path:
    """The folder of run ``name`` under ``root``; a bad or unknown name raises (400 / 404)."""
    check_run_name(name)
    runs = discover_runs(root)
    if name not in runs:
        raise UnknownRun(f"unknown run {name!r}: not a run folder under {root} (the gallery at / lists them)")
    return runs[name]


def last_metrics(run_dir: Path) -> dict[str, Any]:
    """The last complete record of ``metrics.jsonl`` (read from the file's tail), or {}.

    ``genlab.runs.rundir.read_metrics`` parses every line; a gallery of long runs only
    needs the last one, so this reads the final 64 KiB.
    """
    path = Path(run_dir) / "metrics.jsonl"
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read().decode("utf-8", errors="replace")
    except OSError:
        return {}
    for line in reversed(tail.splitlines()):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line, or the first partial line of the tail
        if isinstance(record, dict):
            return record
    return {}


_configs: dict[Path, tuple[int, RunConfig]] = {}
_configs_lock = threading.Lock()


def cached_config(run_dir: Path) -> RunConfig:
    """``read_config(run_dir)``, parsed again only when config.yaml changes (YAML parsing
    dominates a gallery of many runs and each survey draw)."""
    path = Path(run_dir) / "config.yaml"
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return read_config(run_dir)  # raises the missing-config error
    with _configs_lock:
        hit = _configs.get(path)
    if hit is not None and hit[0] == mtime:
        return hit[1]
    run = read_config(run_dir)
    with _configs_lock:
        _configs[path] = (mtime, run)
    return run


def latest_grid(run_dir: Path) -> Path | None:
    """The newest sample grid ``samples/step_*.png`` of a run, or None."""
    grids = sorted((Path(run_dir) / "samples").glob("step_*.png"))
    return grids[-1] if grids else None


def summarise_run(name: str, run_dir: Path) -> RunSummary:
    """A gallery row for one run; a run with a broken config is shown with the reason."""
    try:
        run = cached_config(run_dir)
    except GenlabError as e:
        return RunSummary(name, run_dir, "?", "?", 0, problem=str(e))
    steps = step_checkpoints(run_dir / "checkpoints")
    problem = "" if steps else "no checkpoints yet"
    return RunSummary(
        name,
        run_dir,
        run.family,
        run.train.dataset,
        steps[-1][0] if steps else 0,
        last_metrics(run_dir),
        latest_grid(run_dir),
        (run_dir / "card.md").is_file(),
        problem,
    )


def gallery(root: Path) -> list[RunSummary]:
    """Every run under ``root`` as a gallery row, sorted by name."""
    return [summarise_run(name, path) for name, path in sorted(discover_runs(root).items())]


def format_metric_value(value: Any) -> str:
    """A metrics.jsonl value for people: 4 significant digits for floats."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)
