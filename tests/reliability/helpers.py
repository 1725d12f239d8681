"""Helpers for the reliability tests: tiny runs and state comparison."""

import json
import tracemalloc
from pathlib import Path

import torch

from genlab.config import TrainConfig
from genlab.errors import GenlabError
from genlab.models.registry import get_family
from genlab.runs import RunConfig, read_metrics

TIMING = {"images_per_s", "step_s", "elapsed_s", "peak_rss_mb", "train_seconds"}  # wall-clock fields: vary


def tiny_run(name, steps=8, model=None, **train_overrides):
    """``name`` at its tiny size on 16-image batches, logging and checkpointing every 2 steps."""
    spec = get_family(name)
    fields = {
        "dataset": spec.dataset,
        "steps": steps,
        "batch_size": 16,
        "log_every": 2,
        "sample_every": 4,
        "checkpoint_every": 2,
        "grid_size": 4,
    }
    return RunConfig(
        name, spec.config_cls(**{**spec.tiny, **(model or {})}), TrainConfig(**{**fields, **train_overrides})
    )


def tensors_of(state):
    """Every tensor of a nested state, in a fixed order."""
    if isinstance(state, torch.Tensor):
        yield state
    elif isinstance(state, dict):
        for k in sorted(state, key=str):
            yield from tensors_of(state[k])
    elif isinstance(state, (list, tuple)):
        for v in state:
            yield from tensors_of(v)


def same_tensors(a, b) -> bool:
    pairs = list(zip(tensors_of(a), tensors_of(b), strict=True))
    return bool(pairs) and all(x.dtype == y.dtype and torch.equal(x, y) for x, y in pairs)


def without_timing(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def assert_same_run(whole: Path, split: Path) -> None:
    """Everything a run leaves, apart from wall-clock fields, is identical."""
    names = sorted(p.relative_to(whole).as_posix() for p in whole.rglob("*") if p.is_file() and p.name != "card.md")
    assert names == sorted(
        p.relative_to(split).as_posix() for p in split.rglob("*") if p.is_file() and p.name != "card.md"
    )  # no debris left
    assert any(n.endswith(".json") for n in names) and any(n.endswith(".png") for n in names)
    for name in names:
        a, b = whole / name, split / name
        if name.startswith("checkpoints/") and name.endswith(".json"):
            doc_a, doc_b = json.loads(a.read_text()), json.loads(b.read_text())
            assert {k: v for k, v in doc_a.items() if k not in TIMING} == {
                k: v for k, v in doc_b.items() if k not in TIMING
            }, name
        elif name == "metrics.jsonl":
            assert without_timing(read_metrics(whole)) == without_timing(read_metrics(split))
        else:  # tensors (also covered by the JSON's SHA-256), sample grids, config.yaml
            assert a.read_bytes() == b.read_bytes(), name


def peak_bytes(fn, *args):
    """(what fn raised or returned, peak Python-heap bytes allocated while it ran)."""
    tracemalloc.start()
    try:
        try:
            outcome = fn(*args)
        except GenlabError as e:
            outcome = e
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
