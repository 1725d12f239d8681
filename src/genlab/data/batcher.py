"""In-memory batching that keeps images as uint8 and scales each batch on the fly.

The only iteration state is (epoch, position). The order of epoch ``e`` is a pure
function of (seed, e), so a run resumed from ``state_dict()`` sees exactly the
batches it would have seen without stopping. No per-example Python code runs per
batch: a batch is one tensor index plus one divide-add. Memory-mapped images (a prepared data
set from the cache) stay on disk: each batch reads its own rows, nothing else is copied.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from genlab.errors import DataError

Scale = Literal["-1,1", "0,1"]
# scale -> (divisor, offset): x_float = x_uint8 / divisor + offset. We divide rather
# than multiply by 1/divisor so the endpoints are exact: 0 -> -1 or 0, 255 -> 1.
SCALES: dict[str, tuple[float, float]] = {"-1,1": (127.5, -1.0), "0,1": (255.0, 0.0)}
SEED_STRIDE = 1_000_003  # epoch e of seed s uses generator seed s * SEED_STRIDE + e


class Batcher:
    """Serve shuffled, scaled mini-batches from uint8 images, resumable from (epoch, position).

    Shapes: images uint8 (N, H, W) or (N, C, H, W), stored as (N, C, H, W); labels
    integer (N,) or None. ``next_batch`` returns float32 (B, C, H, W) and int64 (B,).
    """

    def __init__(
        self,
        images: np.ndarray | Tensor,
        labels: np.ndarray | Tensor | None = None,
        *,
        batch_size: int,
        seed: int,
        scale: Scale = "-1,1",
        shuffle: bool = True,
        drop_last: bool = True,
    ) -> None:
        self._images = as_uint8_nchw(images)
        n = self._images.shape[0]
        self._labels = None if labels is None else as_int64_labels(labels, n)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise DataError(f"batch_size must be a positive int, got {batch_size!r}.")
        if drop_last and batch_size > n:
            raise DataError(
                f"batch_size {batch_size} is larger than the {n} examples, so drop_last "
                "would drop everything; use a smaller batch_size or drop_last=False."
            )
        if scale not in SCALES:
            raise DataError(f"unknown scale {scale!r}; use one of: {', '.join(SCALES)}.")
        if not isinstance(seed, int) or seed < 0:
            raise DataError(f"seed must be a non-negative int, got {seed!r}.")
        self.batch_size, self.seed, self.scale = batch_size, seed, scale
        self.shuffle, self.drop_last = shuffle, drop_last
        self._epoch, self._position = 0, 0
        self._order: tuple[int, Tensor] | None = None  # cache of (epoch, permutation)

    @property
    def num_examples(self) -> int:
        """Number of examples N."""
        return self._images.shape[0]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """Shape (C, H, W) of one image."""
        c, h, w = self._images.shape[1:]
        return c, h, w

    @property
    def steps_per_epoch(self) -> int:
        """Number of batches in one epoch (the remainder is skipped with drop_last)."""
        n, b = self.num_examples, self.batch_size
        return n // b if self.drop_last else math.ceil(n / b)

    @property
    def _epoch_end(self) -> int:
        return self.steps_per_epoch * self.batch_size if self.drop_last else self.num_examples

    def epoch_order(self, epoch: int) -> Tensor:
        """Return the example order of ``epoch``: a pure function of (seed, epoch). Shapes: (N,)."""
        if not self.shuffle:
            return torch.arange(self.num_examples)
        generator = torch.Generator().manual_seed(self.seed * SEED_STRIDE + epoch)
        return torch.randperm(self.num_examples, generator=generator)

    def next_batch(self) -> tuple[Tensor, Tensor | None]:
        """Return the next (images, labels) batch and advance, rolling over at epoch end.

        Shapes: images float32 (B, C, H, W) in the chosen scale, labels int64 (B,) or None.
        """
        if self._order is None or self._order[0] != self._epoch:
            self._order = (self._epoch, self.epoch_order(self._epoch))
        index = self._order[1][self._position : self._position + self.batch_size]  # (B,)
        self._position += index.shape[0]
        if self._position >= self._epoch_end:
            self._epoch, self._position = self._epoch + 1, 0
        return self._take(index)

    def _take(self, index: Tensor) -> tuple[Tensor, Tensor | None]:
        divisor, offset = SCALES[self.scale]
        if isinstance(self._images, np.ndarray):  # memory-mapped: read just these rows
            batch = torch.from_numpy(np.ascontiguousarray(self._images[index.numpy()]))
        else:
            batch = self._images[index]
        x = batch.to(torch.float32) / divisor + offset  # (B, C, H, W)
        y = None if self._labels is None else self._labels[index]  # (B,)
        return x, y

    def state_dict(self) -> dict[str, int]:
        """Return the whole iteration state: {"epoch": int, "position": int}."""
        return {"epoch": self._epoch, "position": self._position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore the iteration state saved by :meth:`state_dict`."""
        try:
            epoch, position = int(state["epoch"]), int(state["position"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"batcher state must be {{'epoch': int, 'position': int}}, got {state!r}.") from None
        if epoch < 0 or not 0 <= position < self._epoch_end:
            raise DataError(
                f"batcher state epoch={epoch}, position={position} is out of range for "
                f"{self.num_examples} examples (position must be in [0, {self._epoch_end})); "
                "was it saved with a different data set or batch_size?"
            )
        self._epoch, self._position = epoch, position


def iterate_batches(
    images: np.ndarray | Tensor,
    labels: np.ndarray | Tensor | None,
    batch_size: int,
    scale: Scale = "-1,1",
) -> Iterator[tuple[Tensor, Tensor | None]]:
    """Yield one pass over the data in order, last batch possibly short (for evaluation).

    Shapes: yields float32 (B, C, H, W) and int64 (B,) or None.
    """
    batcher = Batcher(images, labels, batch_size=batch_size, seed=0, scale=scale, shuffle=False, drop_last=False)
    for _ in range(batcher.steps_per_epoch):
        yield batcher.next_batch()


def as_uint8_nchw(images: np.ndarray | Tensor) -> Tensor | np.memmap:
    """Check images are uint8 (N, H, W) or (N, C, H, W) and return a uint8 (N, C, H, W) tensor.

    A memory-mapped array (np.load with mmap_mode) is checked and returned as it is, not read.
    """
    if isinstance(images, np.memmap):
        return _checked_memmap(images)
    if isinstance(images, np.ndarray):
        images = torch.tensor(images)  # copies: works for read-only arrays, no aliasing
    if not isinstance(images, Tensor):
        kind = type(images).__name__
        raise DataError(f"images must be a NumPy array or torch tensor, got {kind}.")
    if images.dtype != torch.uint8:
        raise DataError(
            f"images must be uint8 (0..255), got {images.dtype}; convert them first, e.g. "
            "with genlab.data.to_uint8 for floats in [-1, 1]."
        )
    if images.ndim == 3:
        images = images.unsqueeze(1)  # (N, H, W) -> (N, 1, H, W)
    if images.ndim != 4:
        shape = tuple(images.shape)
        raise DataError(f"images must be (N, H, W) or (N, C, H, W), got shape {shape}.")
    if images.shape[0] == 0:
        raise DataError("images is empty (N = 0); there is nothing to batch.")
    return images.detach().cpu().contiguous()


def _checked_memmap(images: np.memmap) -> np.memmap:
    if images.dtype != np.uint8:
        raise DataError(f"images must be uint8 (0..255), got {images.dtype}.")
    if images.ndim == 3:
        images = images[:, None]  # (N, H, W) -> (N, 1, H, W), still a memory map
    if images.ndim != 4 or images.shape[0] == 0:
        raise DataError(f"images must be a non-empty (N, H, W) or (N, C, H, W), got shape {images.shape}.")
    return images


def as_int64_labels(labels: np.ndarray | Tensor, n: int) -> Tensor:
    """Check labels are integers of shape (n,) and return them as an int64 tensor."""
    if isinstance(labels, np.ndarray):
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(f"labels must be integers, got {labels.dtype}.")
        labels = torch.from_numpy(labels.astype(np.int64))  # astype copies: writable
    if not isinstance(labels, Tensor):
        kind = type(labels).__name__
        raise DataError(f"labels must be a NumPy array or torch tensor, got {kind}.")
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise DataError(f"labels must be integers, got {labels.dtype}.")
    if tuple(labels.shape) != (n,):
        raise DataError(f"labels must have shape ({n},) to match the {n} images, got {tuple(labels.shape)}.")
    return labels.detach().cpu().to(torch.int64)
