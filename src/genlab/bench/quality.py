"""Quality per CPU-minute: training time until the digit classifier sees every class in the samples.

The bar (issue 11): all 10 classes each hold >= 2 % of the samples and >= 80 % of the
samples are classified with confidence > 0.9. The real trainer trains the run with
in-training evaluation every ``check_every`` steps. Training time is the trainer's
StepClock: the training steps alone (batch fetch + ``train_step``), so drawing the check's
samples, scoring them, sample grids and checkpoints are not counted. CPU time is this
process's (all its threads), which a shared machine disturbs much less than wall time;
both are reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genlab.config import BUDGET_ONLY_STEPS, TrainConfig, apply_overrides, from_dict
from genlab.errors import ConfigError, GenlabError
from genlab.eval.evaluate import load_reference
from genlab.eval.extractors import get_extractor
from genlab.eval.metrics import class_histogram, feature_statistics, frechet_distance
from genlab.models.registry import get_family
from genlab.runs import RunConfig
from genlab.training import StepClock, train

MIN_CLASS_FRACTION = 0.02
MIN_CONFIDENT_FRACTION = 0.8
CONFIDENCE = 0.9


def quality_bar(probs: np.ndarray) -> dict[str, Any]:
    """The bar's two numbers for classifier probabilities (N, K), and whether both are met."""
    counts = class_histogram(probs, probs.shape[1])
    smallest = float(counts.min() / counts.sum())
    confident = float((probs.max(axis=1) > CONFIDENCE).mean())
    return {
        "smallest_class_fraction": smallest,
        "confident_fraction": confident,
        "met": smallest >= MIN_CLASS_FRACTION and confident >= MIN_CONFIDENT_FRACTION,
    }


class _Stop(GenlabError):
    """Raised from the evaluation callback to end training: the bar is met or the budget used."""


def time_to_quality(
    family: str,
    run_dir: str | Path,
    *,
    preset: str | None = "small",
    budget_minutes: float = 1.0,
    check_every: int = 100,
    samples: int = 1000,
    reference_n: int = 10_000,
    data_dir: str | Path | None = None,
    sets: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Train ``family`` until the bar is met or a check finds ``budget_minutes`` of training
    wall time used. FID is against the first ``reference_n`` test images (digits features).
    ``sets`` overrides model or training config keys (the recipe), as ``--set`` does.

    Returns the checks made (step, training wall/CPU seconds, the bar's numbers, FID) and,
    when met, the first check that met it; ``label`` names the family and its overrides.
    """
    sets = dict(sets or {})
    owned = sorted(set(sets) & {"steps", "epochs", "eval_every", "eval_samples", "max_minutes"})
    if owned:
        raise ConfigError(f"the quality benchmark sets {', '.join(owned)} itself; leave it out of --set")
    spec = get_family(family)
    if preset is not None and preset not in spec.presets:
        raise ConfigError(f"{family} has no preset {preset!r}; presets: {', '.join(spec.presets) or 'none'}")
    model = spec.config_cls(**spec.presets.get(preset or "", {}))
    tc = from_dict(
        TrainConfig,
        {"dataset": spec.dataset, "steps": BUDGET_ONLY_STEPS, "eval_every": check_every, "eval_samples": samples},
    )
    tc, model = apply_overrides([tc, model], sets)
    tc.check()
    model.check()
    run = RunConfig(spec.name, model, tc)
    extractor = get_extractor("digits")
    ref_stats = feature_statistics(
        extractor.features(load_reference(f"{tc.dataset}-test", data_dir, n=reference_n).images)
    )
    clock = StepClock()
    checks: list[dict[str, Any]] = []

    def evaluate(images: np.ndarray, labels: np.ndarray | None) -> dict[str, Any]:
        wall = clock.wall
        features, probs = extractor.features_and_probs(images)
        fid = frechet_distance(*feature_statistics(features), *ref_stats)
        bar = quality_bar(probs)
        checks.append(
            {
                "step": (len(checks) + 1) * check_every,
                "train_wall_s": wall,
                "train_cpu_s": clock.cpu,
                "fid": fid,
                **bar,
            }
        )
        if bar["met"] or wall >= budget_minutes * 60:
            raise _Stop("quality bar met" if bar["met"] else "budget used")
        return {"fid": fid}

    try:
        train(run, run_dir, quiet=True, data_dir=data_dir, evaluate=evaluate, clock=clock)
    except _Stop:
        pass
    reached = next((c for c in checks if c["met"]), None)
    label = family + (f" ({', '.join(f'{k}={v}' for k, v in sets.items())})" if sets else "")
    return {
        "label": label,
        "family": family,
        "preset": preset,
        "sets": sets,
        "batch_size": tc.batch_size,
        "budget_minutes": budget_minutes,
        "check_every": check_every,
        "samples": samples,
        "checks": checks,
        "reached": reached,
    }
