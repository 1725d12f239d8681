"""``genlab eval train-extractor --data PATH``: a feature network trained on the user's own images."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genlab.cli.app import out
from genlab.errors import ConfigError


def _named_labels(spec: str, data_dir, n: int) -> np.ndarray | None:
    """The labels of a named set (``genlab.eval.sources.resolve`` gives its images only)."""
    from genlab.data import load_dataset
    from genlab.eval.evaluate import NAMED_REFERENCES

    if spec not in NAMED_REFERENCES:
        return None
    name, split = spec.split("-", 1)
    return np.asarray(load_dataset(name, split, data_dir)[1][:n])


def train_learned_command(
    data: str, epochs: int, steps: int, seed: int, output: Path | None, self_supervised: bool, data_dir, quiet: bool
) -> Path:
    """Read ``data`` as images, train (supervised with labels, else SimCLR), save; returns the weights path."""
    from genlab.eval.learned import LearnedTraining, choose_method, train_learned
    from genlab.eval.learned_extractor import cached_path, save_learned
    from genlab.eval.sources import resolve
    from genlab.eval.stats import FeatureStats

    if output is not None and output.suffix != ".safetensors":
        raise ConfigError(f"--out must name a .safetensors file, got {output}")
    source = resolve(data, data_dir=data_dir)
    if isinstance(source, FeatureStats):
        raise ConfigError(f"{data} holds statistics; a learned extractor trains on images")
    images = np.ascontiguousarray(source.images)
    labels = source.labels if source.labels is not None else _named_labels(data, data_dir, images.shape[0])
    method = choose_method(labels, self_supervised)
    # Batches of 128 (SimCLR's negatives: 2 x 128 - 2 per anchor), or the whole set when it is smaller.
    batch_size = min(LearnedTraining.batch_size, images.shape[0])
    opts = LearnedTraining(method=method, epochs=epochs, steps=steps, seed=seed, batch_size=batch_size)
    net, manifest = train_learned(
        opts, images, labels, source.description, log=(lambda _: None) if quiet else out.print
    )
    path = save_learned(net, manifest, output or cached_path(manifest["data_sha256"]))
    out.print(
        f"{method} extractor on {source.description}: loss {manifest['first_loss']:.3f} -> "
        f"{manifest['final_loss']:.3f} after {manifest['steps_run']} steps ({manifest['train_seconds']:.0f} s) -> "
        f"{path}"
    )
    return path
