"""Where a training step's time goes: top operators, achieved FLOP/s, cost vs batch and image size.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` over one whole
``train_step`` (forward and backward of every network it touches: matmuls and
convolutions; elementwise work is not counted, so the achieved rate is a lower bound).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode

from genlab.bench.training import build_family
from genlab.data import DataInfo
from genlab.errors import ConfigError


def random_batch(info: DataInfo, batch_size: int, scale: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of uniform random pixels in ``scale`` and random labels (step cost ignores content).

    Shapes: (B, C, H, W) float32, (B,) int64.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (batch_size, info.channels, info.height, info.width), generator=g).to(torch.float32)
    x = x / 255.0 if scale == "0,1" else x / 127.5 - 1.0
    return x, torch.randint(0, info.num_classes, (batch_size,), generator=g)


def step_seconds(family, x: torch.Tensor, y: torch.Tensor, repeats: int = 3) -> float:
    """The fastest of ``repeats`` training steps on (x, y) after one warm-up step."""
    k = max(1, int(family.batches_per_step))
    x, y = x.repeat(k, 1, 1, 1), y.repeat(k)
    g = torch.Generator().manual_seed(0)
    family.train_step(x, y, g)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        family.train_step(x, y, g)
        best = min(best, time.perf_counter() - start)
    return best


def profile_step(
    name: str,
    info: DataInfo,
    *,
    preset: str | None = "small",
    batch_size: int = 64,
    top: int = 6,
    peak_flops: float | None = None,
) -> dict[str, Any]:
    """One training step of ``name``: its top operators by self CPU time, its FLOPs and FLOP/s,
    and (given the matmul peak) the fraction of that peak it reaches."""
    family = build_family(name, preset, info)
    x, y = random_batch(info, batch_size, family.data_scale)
    seconds = step_seconds(family, x, y)
    k = max(1, int(family.batches_per_step))
    xk, yk = x.repeat(k, 1, 1, 1), y.repeat(k)
    with FlopCounterMode(display=False) as counter:
        family.train_step(xk, yk, torch.Generator().manual_seed(1))
    flops = counter.get_total_flops()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        family.train_step(xk, yk, torch.Generator().manual_seed(2))
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    ops = [
        {"op": e.key, "self_ms": e.self_cpu_time_total / 1e3, "share": e.self_cpu_time_total / total, "calls": e.count}
        for e in events[:top]
    ]
    result = {
        "family": name,
        "batch_size": batch_size,
        "step_ms": 1e3 * seconds,
        "gflop_per_step": flops / 1e9,
        "gflop_per_s": flops / seconds / 1e9,
        "top_ops": ops,
    }
    if peak_flops:
        result["fraction_of_matmul_peak"] = flops / seconds / peak_flops
    return result


def step_time_grid(
    name: str,
    *,
    batch_sizes: tuple[int, ...] = (16, 32, 64, 128),
    image_sizes: tuple[int, ...] = (28, 32, 64),
    batch_for_sizes: int = 32,
    preset: str | None = "small",
) -> dict[str, Any]:
    """Training step time (ms) of ``name`` vs batch size at 28x28 and vs image size at a fixed batch.

    A family whose architecture is fixed to one size gets None at the others.
    """
    info = DataInfo(1, 28, 28, 10)
    by_batch = {}
    for b in batch_sizes:
        family = build_family(name, preset, info)
        by_batch[b] = 1e3 * step_seconds(family, *random_batch(info, b, family.data_scale))
    by_size: dict[int, float | None] = {}
    for s in image_sizes:
        sized = DataInfo(1, s, s, 10)
        try:
            family = build_family(name, preset, sized)
            by_size[s] = 1e3 * step_seconds(family, *random_batch(sized, batch_for_sizes, family.data_scale))
        except (ConfigError, RuntimeError):  # e.g. a task-specific family (numpy-gan takes only 1x28x28)
            by_size[s] = None
    return {"family": name, "ms_by_batch": by_batch, "batch_for_sizes": batch_for_sizes, "ms_by_size": by_size}
