"""The machine a benchmark ran on, and the float32 matmul FLOP/s it can reach."""

from __future__ import annotations

import datetime
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import torch


def machine_info() -> dict[str, Any]:
    """Cores, torch version and threads, the UTC date and the load average (1, 5, 15 min)."""
    return {
        "cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


def best_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """The fastest of ``repeats`` timed calls of ``fn`` (after one untimed warm-up): the least disturbed one."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_flops(n: int = 1024, repeats: int = 5) -> float:
    """FLOP/s of an (n, n) @ (n, n) float32 matmul, 2 n^3 operations, on the current threads."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    out = torch.empty(n, n)
    return 2.0 * n**3 / best_seconds(lambda: torch.mm(a, b, out=out), repeats)
