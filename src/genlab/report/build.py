"""Measure runs and write the report folder: index.html, compare.md, figures, per-run files.

Layout (everything relative, so the folder opens from disk and can be moved)::

    index.html  compare.md  figures/*.png  mode-collapse/*.png
    runs/<name>/  eval.json metrics.jsonl config.yaml card.md final.png interpolation.png step_*.png
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import jinja2
import torch

from genlab.atomic import atomic_write_text
from genlab.config import TrainConfig
from genlab.errors import CheckpointError, GenlabError
from genlab.eval.evaluate import Evaluator, default_extractor, run_reference
from genlab.eval.extractors import get_extractor
from genlab.files import read_json
from genlab.report.figures import curves_figure, metrics_figure
from genlab.report.markdown import markdown_report
from genlab.report.measure import MeasureConfig, measure_run, training_grids
from genlab.report.measures import laplacian_variance
from genlab.report.table import NO_CLAIMS, Group, axis_table, claims_apply, fmt, group_runs, verdicts
from genlab.report.templates import PAGE
from genlab.runs.rundir import find_checkpoint, read_config, read_metrics

LEGEND = (
    "Arrows: the better direction. KID (x1e3): the eval JSON's raw eval.kid times 1000. FID and KID depend on n "
    "and the extractor, stated in the n · extractor row. sharpness = variance of the Laplacian of the samples over "
    "that of "
    "the real test images (1 = as sharp as the data, lower = blurrier). interp. step = mean distance between "
    "consecutive "
    "frames' extractor features along spherical interpolations between prior latents (lower = smoother). probe acc. = "
    "held-out accuracy of a logistic-regression probe reading the class from the latent (what it reads is stated per "
    "run "
    "below). NLL = importance-sampled test NLL (VAEs only). Stability = std / mean of FID over the seeds."
)


def check_run_dirs(run_dirs: list[Path]) -> None:
    """Fail early, with one clear message, on a path that is not a trained run directory."""
    if not run_dirs:
        raise CheckpointError("name at least one run directory, or train some with --train")
    for d in run_dirs:
        if not Path(d).is_dir():
            raise CheckpointError(f"{d} is not a run directory (it does not exist)")
        read_config(d)
        find_checkpoint(d)


def _names(run_dirs: list[Path]) -> list[str]:
    names: list[str] = []
    for d in run_dirs:
        base = Path(d).resolve().name
        name, k = base, 1
        while name in names:
            k += 1
            name = f"{base}-{k}"
        names.append(name)
    return names


class Evaluators:
    """One evaluator (and real-data sharpness) per data set, built on first use."""

    def __init__(self, data_dir, seed: int, ref_n: int = 0) -> None:
        self.data_dir, self.seed, self.ref_n = data_dir, seed, ref_n
        self._cache: dict[str, tuple[Evaluator, float]] = {}

    def __call__(self, train: TrainConfig) -> tuple[Evaluator, float]:
        """The evaluator of a run's data: its test split, prepared with the run's own data options."""
        key = f"{train.dataset} {train.data_options()}"
        if key not in self._cache:
            reference = run_reference(train, self.data_dir, n=self.ref_n or None)
            extractor = get_extractor(default_extractor(train.dataset, reference.images.shape[1:], "digits"))
            self._cache[key] = (
                Evaluator(reference, extractor, seed=self.seed),
                laplacian_variance(reference.images),
            )
        return self._cache[key]


def measure_all(
    run_dirs: list[Path], out: Path, cfg: MeasureConfig, data_dir=None, log=print, stage=lambda _: None
) -> dict[str, dict[str, Any]]:
    """Measure each run into ``out/runs/<name>/eval.json`` (with copies of its metrics, config and card).
    ``stage`` is told what is measured now (the command's progress line)."""
    check_run_dirs(run_dirs)
    evaluators = Evaluators(data_dir, cfg.seed, cfg.ref_n)
    measured = {}
    for i, (name, run_dir) in enumerate(zip(_names(run_dirs), run_dirs), 1):
        where = f"{name} (run {i} of {len(run_dirs)})"
        run_dir = Path(run_dir)
        folder = out / "runs" / name
        folder.mkdir(parents=True, exist_ok=True)
        for file in ("metrics.jsonl", "config.yaml", "card.md"):
            if (run_dir / file).is_file():
                shutil.copyfile(run_dir / file, folder / file)
        grids = []
        for step, png in training_grids(run_dir):
            shutil.copyfile(png, folder / png.name)
            grids.append({"step": step, "file": png.name})
        key = _measurement_key(run_dir, cfg)
        m = _earlier(folder / "eval.json", key)
        if m is not None:
            log(f"reusing the measurement of {run_dir} in {folder}/eval.json (same checkpoint and settings)")
        else:
            train = read_config(run_dir).train
            stage(f"{where}: features of the {train.dataset} test split")
            evaluator, sharpness = evaluators(train)
            log(f"measuring {run_dir} ...")
            m = measure_run(
                run_dir,
                folder,
                evaluator,
                cfg,
                reference_sharpness=sharpness,
                data_dir=data_dir,
                stage=lambda what: stage(f"{where}: {what}"),
            )
            m.update(grids=grids, has_card=(folder / "card.md").is_file(), key=key)
            atomic_write_text(folder / "eval.json", json.dumps(m, indent=1) + "\n")
            log(
                f"  {name}: fid {m['eval']['fid']:.2f}, {m['compute']['sampling']['images_per_s']:.1f} images/s "
                f"({m['measure']['seconds']:.0f} s)"
            )
        measured[name] = m
    return measured


def _measurement_key(run_dir: Path, cfg: MeasureConfig) -> dict[str, Any]:
    """What a measurement depends on: the run's newest checkpoint (name and time) and the settings."""
    ckpt = find_checkpoint(run_dir)
    return {
        "run": str(run_dir),
        "checkpoint": ckpt.name,
        "mtime_ns": ckpt.stat().st_mtime_ns,
        "settings": dataclasses.asdict(cfg),
    }


def _earlier(path: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """An eval JSON written for the same key (re-running a report re-renders without re-measuring)."""
    if not path.exists():
        return None
    try:
        m = read_json(path, what="eval record")
    except GenlabError:
        return None
    return m if isinstance(m, dict) and m.get("key") == key else None


def machine_line() -> str:
    return (
        f"{os.cpu_count()} CPU cores visible, torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"Python {platform.python_version()}."
    )


def write_report(
    measured: dict[str, dict[str, Any]],
    out: Path,
    *,
    title: str,
    command: str,
    settings: str,
    markdown: Path | None = None,
) -> Path:
    """Write index.html and compare.md (and ``markdown`` if given) into/for the report folder ``out``."""
    groups = group_runs(measured)
    figures = out / "figures"
    metrics_png = metrics_figure(groups, figures / "metrics.png")
    rows = axis_table(groups)
    claims = verdicts(groups) if claims_apply(groups) else []
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    page_groups = [_page_group(g, i, out) for i, g in enumerate(groups)]
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(PAGE).render(
        title=title,
        command=command,
        made=made,
        machine=machine_line(),
        settings=settings,
        labels=[g.label for g in groups],
        rows=rows,
        legend=LEGEND,
        verdicts=claims,
        no_claims=NO_CLAIMS,
        metrics_png=metrics_png.relative_to(out).as_posix(),
        groups=page_groups,
    )
    atomic_write_text(out / "index.html", html)
    doc = dict(
        title=title,
        command=command,
        made=made,
        machine=machine_line(),
        settings=settings,
        groups=groups,
        claims=claims,
        legend=LEGEND,
    )
    atomic_write_text(out / "compare.md", markdown_report(**doc, report=out, where=out))
    if markdown is not None:
        atomic_write_text(markdown, markdown_report(**doc, report=out, where=markdown.parent))
    return out / "index.html"


def _page_group(g: Group, index: int, out: Path) -> dict[str, Any]:
    histories = {name: read_metrics(out / "runs" / name) for name in g.names}
    loss = curves_figure(
        f"{g.label}: training losses (metrics.jsonl)", histories, out / "figures" / f"losses-{index}.png"
    )
    held = curves_figure(
        f"{g.label}: held-out metrics (metrics.jsonl)",
        histories,
        out / "figures" / f"heldout-{index}.png",
        prefix="test_",
    )
    evals = curves_figure(
        f"{g.label}: in-training FID (metrics.jsonl)", histories, out / "figures" / f"eval-{index}.png", prefix="eval_"
    )
    runs = []
    for name, m in zip(g.names, g.runs):
        d = f"runs/{name}"
        grids = [(f"{d}/{x['file']}", f"training grid, step {x['step']}") for x in m["grids"]]
        grids.append((f"{d}/final.png", f"final samples, step {m['step']}"))
        strip = f"{d}/interpolation.png" if (out / d / "interpolation.png").is_file() else None
        runs.append(
            {
                "name": name,
                "dir": d,
                "seed": m["seed"],
                "step": m["step"],
                "grids": grids,
                "strip": strip,
                "step_text": fmt(m["latent"].get("interp_mean_step"), ".3f"),
                "n": m["eval"]["n"],
                "histogram": _histogram(m["eval"]),
            }
        )
    first = g.runs[0]["latent"]
    return {
        "label": g.label,
        "kind": g.kind,
        "runs": runs,
        "loss_png": loss.relative_to(out).as_posix() if loss else None,
        "metric_png": next((p.relative_to(out).as_posix() for p in (evals, held) if p), None),
        "probe_what": first.get("probe_what") or first.get("why", "n/a"),
        "latent_what": first.get("latent") or "none",
    }


def _histogram(result: dict[str, Any]) -> str:
    counts = result.get("class_histogram")
    return (
        "n/a (no classifier for these images)"
        if counts is None
        else "  ".join(f"{k}: {c}" for k, c in enumerate(counts))
    )
