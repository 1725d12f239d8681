"""The trainer, checkpoints, run directories and training monitors."""

from genlab.train.rundir import RunConfig, find_checkpoint, read_config, read_metrics
from genlab.train.trainer import TrainResult, train

__all__ = ["RunConfig", "TrainResult", "find_checkpoint", "read_config", "read_metrics", "train"]
