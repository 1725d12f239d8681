"""The trainer: one loop, one training state, fault guards, monitors, speed options.

Only the CLI and the benchmarks import this package; everything else reads runs through
:mod:`genlab.runs`.
"""

from genlab.training.trainer import StepClock, TrainResult, train

__all__ = ["StepClock", "TrainResult", "train"]
