"""The trainer, checkpoints, run directories and training monitors."""

from genlab.train.rundir import RunConfig, find_checkpoint, read_config, read_metrics
from genlab.train.trainer import StepClock, TrainResult, train

__all__ = ["RunConfig", "StepClock", "TrainResult", "find_checkpoint", "read_config", "read_metrics", "train"]
