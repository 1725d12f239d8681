"""Few-step diffusion: DDIM, progressive and consistency distillation at 1, 2, 4 and 8 steps.

    python benchmarks/few_step.py --stage train     # teacher, DCGAN, both distillations (resumable)
    python benchmarks/few_step.py --stage score     # writes docs/results/few-step.md (+ .json, figures)

Placeholder header: the full benchmark is written below once the distillation families exist.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from genlab.api import train as api_train
from genlab.atomic import atomic_write_text
from genlab.bench.machine import machine_info
from genlab.training import StepClock

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "few-step"
CLOCKS = RUNS / "clocks.json"
TEACHER_STEPS = 2000
TEACHER_RECIPE = {"precision": "bfloat16", "fused_optimizer": True}


def _clocks() -> dict:
    return json.loads(CLOCKS.read_text()) if CLOCKS.is_file() else {}


def _record(name: str, clock: StepClock, extra: dict) -> None:
    clocks = _clocks()
    clocks[name] = {"wall_s": clock.wall, "cpu_s": clock.cpu, "machine": machine_info(), **extra}
    atomic_write_text(CLOCKS, json.dumps(clocks, indent=1))


def train_teacher() -> Path:
    out = RUNS / "teacher"
    if "teacher" in _clocks():
        return out
    clock, start = StepClock(), time.time()
    api_train("ddpm", out=out, preset="small", steps=TEACHER_STEPS, clock=clock, **TEACHER_RECIPE)
    _record("teacher", clock, {"steps": TEACHER_STEPS, "seconds": time.time() - start})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["teacher"], default="teacher")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(RUNS, exist_ok=True)
    train_teacher()


if __name__ == "__main__":
    main()
