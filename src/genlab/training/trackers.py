"""Experiment trackers: sinks fed by the records the trainer appends to metrics.jsonl.

``metrics.jsonl`` stays the source of truth; a tracker shows the same numbers in a viewer.
``train.tracker`` picks one: ``none`` (the default) or ``tensorboard``, which writes
``RUN/tensorboard/`` (``tensorboard --logdir RUN/tensorboard``) with
:class:`torch.utils.tensorboard.SummaryWriter`: every numeric field of every record as a
scalar at its step (losses under ``train/``, learning rates under ``lr/``, held-out metrics
under ``test/``, FID/KID/precision/recall under ``eval/``), each sample grid as an image, warnings
as text, and the config as hyper-parameters.

A resumed run continues the same folder and step axis: the writer appends a new event file
that starts with a purge marker at the first step it will write, so the steps a crashed
session logged after its last checkpoint (and that metrics.jsonl dropped) are discarded by
TensorBoard's reader instead of appearing twice. A rollback (``nonfinite=rollback``) does
the same from the step it returns to.

MLflow and Weights & Biases are not offered: ``mlflow`` 3.18.0 does not resolve on the
package index this project uses (its ``mlflow-tracing`` pin is missing) and ``mlflow-skinny``
pulls a cloud SDK stack and sends usage telemetry by default; a W&B offline run can only be
viewed after ``wandb sync`` to a server with an account.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from genlab.errors import ConfigError

TRACKERS = ("none", "tensorboard")


class Tracker(Protocol):
    """What the training loop tells a tracker."""

    def log_record(self, record: dict[str, Any]) -> None:
        """One record as appended to metrics.jsonl (it has a ``step``)."""

    def log_image(self, step: int, tag: str, image: np.ndarray) -> None:
        """A uint8 picture (H, W) or (H, W, 3), e.g. a sample grid, at ``step``."""

    def close(self) -> None: ...


class NoTracker:
    """``tracker=none``: metrics.jsonl only."""

    def log_record(self, record: dict[str, Any]) -> None:
        pass

    def log_image(self, step: int, tag: str, image: np.ndarray) -> None:
        pass

    def close(self) -> None:
        pass


def scalar_tag(key: str) -> str:
    """The TensorBoard tag of a metrics.jsonl field: ``eval_fid`` -> ``eval/fid``, ``loss_d`` -> ``train/loss_d``."""
    for prefix in ("eval_", "test_", "lr_"):
        if key.startswith(prefix):
            return f"{prefix[:-1]}/{key[len(prefix) :]}"
    return f"train/{key}"


NOT_SCALARS = {"step", "from_step", "lr_factor"}  # bookkeeping of a record, not a measurement


def scalars_of(record: dict[str, Any]) -> dict[str, float]:
    """The numeric fields of a record (booleans, strings, lists and bookkeeping left out), by tag."""
    return {
        scalar_tag(k): float(v)
        for k, v in record.items()
        if k not in NOT_SCALARS and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def flat_hparams(config: dict[str, Any]) -> dict[str, Any]:
    """A run config as TensorBoard hyper-parameters: ``model.lr``, ``train.batch_size``, ... with lists as text."""
    flat: dict[str, Any] = {"family": config["family"]}
    for section in ("model", "train"):
        for k, v in (config.get(section) or {}).items():
            flat[f"{section}.{k}"] = v if isinstance(v, (bool, int, float, str)) else str(v)
    return flat


class TensorBoardTracker:
    """Writes ``log_dir`` with torch's SummaryWriter; ``start_step`` is the step the session resumes from."""

    def __init__(self, log_dir: Path, start_step: int, config: dict[str, Any], metric_tags: tuple[str, ...]) -> None:
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package: checked by make_tracker

        self.log_dir, self._writer_cls = Path(log_dir), SummaryWriter
        self.last_step = start_step
        self.writer = self._open(start_step)
        if start_step == 0:  # hyper-parameters once per run, at its start
            self._write_hparams(config, metric_tags)

    def _open(self, after_step: int):
        # purge_step: TensorBoard's reader drops earlier sessions' events from this step on
        return self._writer_cls(str(self.log_dir), purge_step=after_step + 1 if after_step else None)

    def _write_hparams(self, config: dict[str, Any], metric_tags: tuple[str, ...]) -> None:
        import yaml
        from torch.utils.tensorboard.summary import hparams

        experiment, start, end = hparams(flat_hparams(config), {tag: 0.0 for tag in metric_tags})
        for summary in (experiment, start, end):  # into this folder (add_hparams would make a new one)
            self.writer.file_writer.add_summary(summary)
        self.writer.add_text("config", "```\n" + yaml.safe_dump(config, sort_keys=False) + "```", 0)

    def log_record(self, record: dict[str, Any]) -> None:
        step = int(record["step"])
        if step < self.last_step:  # a rollback: the steps after ``step`` are trained again
            self.writer.close()
            self.writer = self._open(step)
        self.last_step = step
        for tag, value in scalars_of(record).items():
            self.writer.add_scalar(tag, value, step)
        for key in ("warning", "skipped_nonfinite", "stopped"):
            if isinstance(record.get(key), str):
                self.writer.add_text(key, record[key], step)
        self.writer.flush()

    def log_image(self, step: int, tag: str, image: np.ndarray) -> None:
        picture = image[:, :, None] if image.ndim == 2 else image  # (H, W) -> (H, W, 1)
        self.writer.add_image(tag, picture, step, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def check_tracker(name: str) -> None:
    """Fail in one line, before training starts, when the tracker is unknown or its package is missing."""
    if name not in TRACKERS:
        raise ConfigError(f"tracker must be one of {', '.join(TRACKERS)}; got {name!r}")
    if name == "tensorboard":
        try:
            import tensorboard  # noqa: F401  (torch.utils.tensorboard needs it)
        except ImportError:
            raise ConfigError(
                'tracker=tensorboard needs the tensorboard package: pip install -e ".[track]" (or use tracker=none)'
            ) from None


def make_tracker(name: str, run_dir: Path, start_step: int, config: dict[str, Any]) -> Tracker:
    """The tracker ``train.tracker`` names, writing into ``run_dir``; a missing package is a ConfigError."""
    check_tracker(name)
    if name == "none":
        return NoTracker()
    if name == "tensorboard":
        metric_tags = ("eval/fid", "eval/kid") if config["train"].get("eval_every") else ()
        return TensorBoardTracker(Path(run_dir) / "tensorboard", start_step, config, metric_tags)
    raise ConfigError(f"tracker must be one of {', '.join(TRACKERS)}; got {name!r}")
