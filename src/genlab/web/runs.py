"""The runs the web app shows: discovery under ``--runs``, safe name lookup, gallery rows.

A run is named by its path relative to the runs folder (``dcgan`` or ``gan-bench/dcgan``,
up to :data:`MAX_DEPTH` levels; spaces and non-ASCII letters are fine). Names are looked
up in the set found by scanning, never joined onto a path as given, so ``../`` or an
absolute path cannot reach outside the folder. A folder that cannot be shown is listed
with the reason (:func:`discover`), never dropped silently.

Every file the app reads from a run (config.yaml, metrics.jsonl, card.md, grids,
checkpoints) must be a regular file whose real path lies inside the runs folder
(:func:`run_file`): a symlink to a file elsewhere, to ``/dev/zero`` or a FIFO is refused.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.errors import CheckpointError, ConfigError, GenlabError, short_repr
from genlab.files import is_inside, loads_json, open_regular
from genlab.runs.checkpoint import step_checkpoints
from genlab.runs.rundir import RunConfig, read_config

MAX_DEPTH = 4  # runs/<name> ... runs/<a>/<b>/<c>/<name>
MAX_NAME = 200
MAX_FOLDERS = 10_000  # folders looked at per scan of --runs
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
    if name.startswith(("/", "\\")) or "\\" in name or any(p in ("..", ".", "") for p in parts):
        raise ConfigError(
            "run names are folders relative to --runs; '..', '.', '\\' and absolute paths are refused, got "
            f"{short_repr(name)}"
        )
    problem = name_problem(name)
    if problem:
        raise ConfigError(f"run name {short_repr(name)}: {problem}")
    return name


def name_problem(name: str) -> str:
    """Why ``name`` cannot name a run in the app ("" when it can): too long, control
    characters, undecodable bytes (shown as surrogates), a backslash, a hidden part."""
    if len(name) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if any("\ud800" <= c <= "\udfff" for c in name):
        return "is not valid UTF-8"
    if not name.isprintable():
        return "holds control characters"
    if "\\" in name:
        return "holds a backslash"
    if any(part != part.strip() for part in name.split("/")):
        return "starts or ends with a space"
    return ""


def discover_runs(root: Path) -> dict[str, Path]:
    """Name -> folder of every run (a folder with config.yaml) under ``root``, up to
    :data:`MAX_DEPTH` levels deep (see :func:`discover` for what is left out and why)."""
    return discover(root)[0]


def discover(root: Path) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """(name -> folder of every run under ``root``; (folder, why it is left out) for the rest).

    Hidden folders are skipped. Left out, with the reason: a folder whose real path lies
    outside ``root`` (a symlink pointing elsewhere), a run whose name the app cannot carry
    (:func:`name_problem`), and a folder at :data:`MAX_DEPTH` levels with subfolders, which
    are not searched (the scan stays bounded, at most :data:`MAX_FOLDERS` folders).
    """
    root = Path(root)
    if not root.is_dir():
        return {}, []
    real_root = root.resolve()
    found: dict[str, Path] = {}
    skipped: list[tuple[str, str]] = []
    budget = [MAX_FOLDERS]

    def subfolders(folder: Path) -> list[Path]:
        try:
            with os.scandir(folder) as entries:
                names = sorted(e.name for e in entries if not e.name.startswith(".") and e.is_dir())
        except OSError:
            return []
        budget[0] -= len(names)
        return [folder / n for n in names]

    def walk(folder: Path, depth: int) -> None:
        for child in subfolders(folder):
            name = child.relative_to(root).as_posix()
            shown = name.encode("utf-8", "replace").decode("utf-8")  # undecodable bytes as "?" on the page
            if budget[0] < 0:
                skipped.append((shown, f"not scanned: more than {MAX_FOLDERS} folders under --runs"))
                return
            if not is_inside(child, real_root):
                skipped.append((shown, "its real path lies outside --runs (a symlink)"))
                continue
            if (child / "config.yaml").exists():
                problem = name_problem(name)
                if problem:
                    skipped.append((shown, f"its name {problem}"))
                else:
                    found[name] = child
            elif depth < MAX_DEPTH:
                walk(child, depth + 1)
            elif subfolders(child):
                skipped.append((shown, f"not searched: deeper than {MAX_DEPTH} levels (point --runs at it)"))

    walk(root, 1)
    return found, skipped


def resolve_run(root: Path, name: str) -> Path:
    """The folder of run ``name`` under ``root``; a bad or unknown name raises (400 / 404)."""
    check_run_name(name)
    runs = discover_runs(root)
    if name not in runs:
        raise UnknownRun(f"unknown run {name!r}: not a run folder under {root} (the gallery at / lists them)")
    return runs[name]


def run_file(run_dir: Path, relative: str) -> Path:
    """``run_dir / relative`` if its real path lies inside the run's folder; a symlink that
    leads elsewhere (another folder, ``/etc/passwd``, ``/dev/zero``) raises :class:`OutsideRun`.
    Whether it is a regular file is checked when it is opened (:func:`genlab.files.open_regular`)."""
    path = Path(run_dir) / relative
    if not is_inside(path, run_dir):
        raise OutsideRun(f"{relative} of run {Path(run_dir).name!r} lies outside the run's folder (a symlink)")
    return path


class OutsideRun(CheckpointError):
    """A file of a run whose real path is elsewhere: never served."""

    status = 403


def last_metrics(run_dir: Path) -> dict[str, Any]:
    """The last complete record of ``metrics.jsonl`` (read from the file's tail), or {}.

    ``genlab.runs.rundir.read_metrics`` parses every line; a gallery of long runs only
    needs the last one, so this reads the final 64 KiB, of a regular file inside the run.
    """
    try:
        with open_regular(run_file(run_dir, "metrics.jsonl"), "metrics file", CheckpointError) as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read(_TAIL_BYTES).decode("utf-8", errors="replace")
    except (GenlabError, OSError):
        return {}
    for line in reversed(tail.splitlines()):
        try:
            record = loads_json(line)
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
    path = run_file(run_dir, "config.yaml")
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
    """The newest sample grid ``samples/step_*.png`` of a run (inside its folder), or None."""
    grids = sorted((Path(run_dir) / "samples").glob("step_*.png"))
    inside = [g for g in grids if is_inside(g, run_dir)]
    return inside[-1] if inside else None


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
    return gallery_and_left_out(root)[0]


def gallery_and_left_out(root: Path) -> tuple[list[RunSummary], list[tuple[str, str]]]:
    """:func:`gallery`'s rows, and (folder, why) for each folder under ``root`` left out of it."""
    found, skipped = discover(root)
    return [summarise_run(name, path) for name, path in sorted(found.items())], skipped


def format_metric_value(value: Any) -> str:
    """A metrics.jsonl value for people: 4 significant digits for floats."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)
