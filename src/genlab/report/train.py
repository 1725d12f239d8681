"""Train families under one equal wall-clock budget (``genlab compare --train``).

Each run is ``genlab train`` in its own process with ``train.max_minutes`` = the budget,
so every family gets the same minutes on the same machine and the peak memory the
trainer logs (``peak_rss_mb``) is that run's alone. Sample grids and their held-out
evaluation happen inside the budget for every family alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from genlab.config import BUDGET_ONLY_STEPS, TrainConfig, apply_overrides, from_dict, parse_sets
from genlab.errors import ConfigError, GenlabError
from genlab.models.registry import get_family
from genlab.runs.rundir import RunConfig, find_checkpoint, read_config

GRID_EVERY = {"ddpm": 50, "ldm": 50}  # steps between sample grids: diffusion steps are slow, grids too
DEFAULT_GRID_EVERY = 500
COMPARE_TRAIN = {"log_every": 10, "grid_size": 36}  # finer loss curves, small grids for the report


def parse_families(text: str) -> list[str]:
    """``gan,vae,ddpm`` -> registered names, each checked (an unknown one lists the known)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError("--train needs a comma-separated list of families, e.g. gan,vae,ddpm")
    if len(set(names)) != len(names):
        raise ConfigError(f"--train names a family twice: {text}")
    return [get_family(n).name for n in names]


def budget_run(
    family: str, seed: int, budget_minutes: float, preset: str, steps: int | None, sets: list[str]
) -> RunConfig:
    """The RunConfig of one budgeted run: the preset (``tiny`` = the registry's test size), the budget, --set."""
    spec = get_family(family)
    if preset == "tiny":
        model_keys = spec.tiny
    elif preset in spec.presets:
        model_keys = spec.presets[preset]
    else:
        raise ConfigError(f"{family} has no preset {preset!r}; presets: {', '.join([*spec.presets, 'tiny'])}")
    train: dict[str, Any] = {
        "dataset": spec.dataset,
        **COMPARE_TRAIN,
        "seed": seed,
        "steps": steps or BUDGET_ONLY_STEPS,  # the budget, not the step count, ends a budgeted run
        "max_minutes": budget_minutes,
        "sample_every": GRID_EVERY.get(family, DEFAULT_GRID_EVERY),
    }
    tc, model = from_dict(TrainConfig, train), from_dict(spec.config_cls, dict(model_keys))
    tc, model = apply_overrides([tc, model], parse_sets(sets))
    tc.check()
    model.check()
    return RunConfig(spec.name, model, tc)


def train_families(
    families: list[str],
    *,
    seeds: int,
    budget_minutes: float,
    preset: str,
    runs_root: Path,
    steps: int | None = None,
    sets: list[str] | None = None,
    data_dir: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Train every family with seeds 0..seeds-1 into ``runs_root/<family>-s<seed>``; returns the run directories.

    A directory that already holds the same finished run is reused (re-running the
    command re-measures without retraining); one holding another run is an error.
    """
    if budget_minutes <= 0:
        raise ConfigError(f"--budget-minutes must be > 0 with --train (the equal budget), got {budget_minutes}")
    if seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {seeds}")
    plan = [
        (f, s, budget_run(f, s, budget_minutes, preset, steps, sets or [])) for f in families for s in range(seeds)
    ]
    run_dirs = []
    for family, seed, run in plan:
        run_dir = Path(runs_root) / f"{family}-s{seed}"
        run_dirs.append(run_dir)
        if (run_dir / "config.yaml").is_file():
            if read_config(run_dir).to_dict() != run.to_dict():
                raise ConfigError(f"{run_dir} holds another run; remove it or choose another --runs-dir")
            find_checkpoint(run_dir)
            log(f"reusing {run_dir} (same config, already trained)")
            continue
        log(f"training {family} seed {seed} for {budget_minutes:g} min -> {run_dir}")
        _train_in_process_of_its_own(run, run_dir, data_dir)
    return run_dirs


def _train_in_process_of_its_own(run: RunConfig, run_dir: Path, data_dir: str | Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(yaml.safe_dump(run.to_dict(), sort_keys=False), encoding="utf-8")
        cmd = [sys.executable, "-m", "genlab", "train", "--config", str(config), "--out", str(run_dir), "--quiet"]
        if data_dir is not None:
            cmd += ["--data-dir", str(data_dir)]
        done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise GenlabError(f"training {run.family} into {run_dir} failed (exit {done.returncode}): {last}")
