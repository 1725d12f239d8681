"""What a run *is*: its config, its directory's files, its checkpoints, and a family loaded from it.

Training writes runs through this layer; evaluation, reports, the web app, publishing,
detection and export read them through it. It never imports the trainer.

- :mod:`~genlab.runs.rundir` — ``config.yaml``, ``metrics.jsonl``, finding checkpoints, versions.
- :mod:`~genlab.runs.checkpoint` — the safetensors + JSON checkpoint format.
- :mod:`~genlab.runs.loading` — a trained family from a run; sampling in batches; grid labels.
- :mod:`~genlab.runs.device` — ``--device`` names resolved to torch devices.
- :mod:`~genlab.runs.marks` — the marks and provenance fields a run's images carry.
"""

from genlab.runs.checkpoint import load_checkpoint, save_checkpoint, step_checkpoints, weights_hash
from genlab.runs.loading import grid_labels, load_family, sample_in_batches
from genlab.runs.rundir import RunConfig, find_checkpoint, read_config, read_metrics, versions, write_config

__all__ = [
    "RunConfig",
    "find_checkpoint",
    "grid_labels",
    "load_checkpoint",
    "load_family",
    "read_config",
    "read_metrics",
    "sample_in_batches",
    "save_checkpoint",
    "step_checkpoints",
    "versions",
    "weights_hash",
    "write_config",
]
