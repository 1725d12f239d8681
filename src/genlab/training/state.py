"""One training state: everything a checkpoint holds and a resume or a rollback puts back.

The checkpoint writer, ``train(resume=True)`` and the ``nonfinite=rollback`` guard all go
through :meth:`TrainingState.state_dict` and :meth:`TrainingState.load_state_dict`, so
each field is saved in one place and restored in one place.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import torch

from genlab.data import Batcher
from genlab.errors import CheckpointError
from genlab.models.base import Family
from genlab.runs import versions
from genlab.training.monitor import DivergenceMonitor


@dataclass
class GuardCounts:
    """What the non-finite guard counts over the whole run (every session): bad steps, rollbacks."""

    nonfinite_total: int = 0
    rollbacks: int = 0


@dataclass
class TrainingState:
    """The mutable state of a run in training.

    ``family`` (weights and optimisers), ``generator`` (the trainer's noise stream; torch's
    global stream, used by dropout, is saved beside it), ``batcher`` (data position),
    ``monitor`` (divergence warnings), ``window`` (metrics since the last log line),
    ``best_fid``, ``seconds_before`` (training time of earlier sessions) and ``guard``.
    """

    family: Family
    generator: torch.Generator
    batcher: Batcher
    device: torch.device
    monitor: DivergenceMonitor = field(default_factory=DivergenceMonitor)
    window: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    best_fid: float | None = None
    seconds_before: float = 0.0
    guard: GuardCounts = field(default_factory=GuardCounts)

    def state_dict(self, step: int, steps_per_epoch: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(tensor state, JSON metadata) of a checkpoint at ``step``, without the run's
        config, metrics or timing, which the writer adds (see ``Loop.checkpoint``)."""
        rng = {"generator": self.generator.get_state(), "torch": torch.get_rng_state()}
        if self.device.type == "cuda":  # dropout draws from the GPU's own stream
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        state = {"family": self.family.state_dict(), "rng": rng}
        meta: dict[str, Any] = {
            "step": step,
            "epoch": step / steps_per_epoch,
            "batcher": self.batcher.state_dict(),
            "data_info": dataclasses.asdict(self.family.info),
            "monitor": self.monitor.state_dict(),
            "versions": versions(self.device),
            "log_window": dict(self.window),
            "best_fid": self.best_fid,
            **dataclasses.asdict(self.guard),
        }
        return state, meta

    def load_state_dict(
        self, state: dict[str, Any], meta: dict[str, Any], *, rollback: bool = False, where: str = "the checkpoint"
    ) -> int:
        """Put a checkpoint back; returns its step.

        A resume restores everything. A rollback (``rollback=True``) keeps what must keep
        counting across it: the training time so far and the guard's counts (else a run
        could roll back forever). Damage is a :class:`CheckpointError` naming ``where``.
        """
        try:
            self.family.load_state_dict(state["family"])
            self.generator.set_state(state["rng"]["generator"])
            torch.set_rng_state(state["rng"]["torch"])
            if self.device.type == "cuda" and "cuda" in state["rng"]:  # dropout's stream on the GPU
                torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
            self.batcher.load_state_dict(meta["batcher"])
            self.monitor.load_state_dict(meta["monitor"])
            step = int(meta["step"])
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise CheckpointError(f"{where} does not match its config.yaml ({first})") from None
        self.window.clear()
        self.window.update({k: list(v) for k, v in meta.get("log_window", {}).items()})
        self.best_fid = meta.get("best_fid")
        if not rollback:
            self.seconds_before = float(meta.get("train_seconds", 0.0))
            # Counts from checkpoints written before they were saved are 0.
            self.guard.nonfinite_total = int(meta.get("nonfinite_total", 0))
            self.guard.rollbacks = int(meta.get("rollbacks", 0))
        return step
