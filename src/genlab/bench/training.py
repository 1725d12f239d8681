"""Training throughput: the trainer's in-memory Batcher vs the textbook Dataset + DataLoader loop.

Both sides train the same network (same seed, same optimiser) on the same examples in the
same order: the reference DataLoader shuffles with the generator the Batcher uses for its
first epoch, and each side keeps its own copy of torch's global random state (dropout), so
their loss curves agree to float rounding. Rounds alternate which side goes first; round 0
is a warm-up and is not timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from genlab.data import Batcher, DataInfo
from genlab.data.batcher import SCALES, SEED_STRIDE
from genlab.models.base import Family
from genlab.models.registry import get_family
from genlab.training import speed

BENCH_FAMILIES = ("gan", "dcgan", "vae", "conv-vae", "ddpm")


class TensorPerItem(Dataset):
    """The textbook data set: ``__getitem__`` returns one float image (C, H, W) and its label."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, scale: str) -> None:
        self.images = torch.tensor(images)  # uint8 (N, C, H, W)
        self.labels = None if labels is None else torch.tensor(labels, dtype=torch.int64)
        self.divisor, self.offset = SCALES[scale]

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        x = self.images[i].to(torch.float32) / self.divisor + self.offset  # (C, H, W)
        return x if self.labels is None else (x, self.labels[i])


def reference_batches(
    images: np.ndarray, labels: np.ndarray | None, *, batch_size: int, seed: int, scale: str
) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
    """(images, labels) batches from ``DataLoader(shuffle=True, drop_last=True)``, default collate, in the Batcher's
    epoch-0 order."""
    data = TensorPerItem(images, labels, scale)
    # shuffle=True spelled out: the sampler gets the generator of Batcher.epoch_order(0); the loader's
    # own seed draw gets another one, so that neither it nor the sampler touches the global stream.
    order = RandomSampler(data, generator=torch.Generator().manual_seed(seed * SEED_STRIDE))
    loader = DataLoader(
        data, batch_size=batch_size, sampler=order, drop_last=True, generator=torch.Generator().manual_seed(seed)
    )
    for batch in loader:
        yield (batch, None) if labels is None else (batch[0], batch[1])


def build_family(name: str, preset: str | None, info: DataInfo, seed: int = 0, **overrides: Any) -> Family:
    """A freshly initialised family (weights seeded with ``seed``), at a preset's size."""
    spec = get_family(name)
    cfg = spec.config_cls(**{**spec.presets.get(preset or "", {}), **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.family_cls(cfg, info)


@dataclass
class Side:
    """One of the two training loops being compared."""

    family: Family
    next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor | None]]
    generator: torch.Generator
    rng_state: torch.Tensor
    seconds: float = 0.0  # timed rounds: whole steps, data included
    data_seconds: float = 0.0  # timed rounds: fetching batches only
    images: int = 0
    step_seconds: list[float] = field(default_factory=list)  # timed rounds, one per step, data included
    metrics: list[dict[str, float]] = field(default_factory=list)
    precision: str = "float32"  # bfloat16: each step under autocast (genlab.training.speed)


def run_round(side: Side, steps: int, timed: bool) -> None:
    torch.set_rng_state(side.rng_state)  # each side has its own dropout stream
    start = time.perf_counter()
    data = 0.0
    for _ in range(steps):
        t = time.perf_counter()
        x, y = side.next_batch()
        data += time.perf_counter() - t
        with speed.step_context(side.precision):
            side.metrics.append(side.family.train_step(x, y, side.generator))
        if timed:
            side.images += x.shape[0]
            side.step_seconds.append(time.perf_counter() - t)
    if timed:
        side.seconds += time.perf_counter() - start
        side.data_seconds += data
    side.rng_state = torch.get_rng_state()


# TrainConfig's speed options for the 'ours fast' side. channels_last is left out: under bfloat16 it
# speeds DCGAN's step but slows the DDPM U-Net's (genlab bench variants, bf16+channels_last+fused).
FAST_OPTIONS = {"precision": "bfloat16", "fused_optimizer": True}


def compare_training(
    name: str,
    images: np.ndarray,
    labels: np.ndarray | None,
    info: DataInfo,
    *,
    preset: str | None = "small",
    batch_size: int = 64,
    rounds: int = 3,
    steps_per_round: int = 5,
    seed: int = 0,
    fast: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Images/s of ours and of the reference on family ``name``, interleaved, and both loss curves.

    The rate is images per step over the median step time (data included): on a shared machine
    the median shrugs off the steps another job interrupted; the mean-based rate is kept too.
    ``fast`` (TrainConfig speed options, e.g. FAST_OPTIONS) adds a third side: ours with those
    options, whose loss curve then agrees with the reference's to bfloat16 rounding, not float32's.

    Shapes: images uint8 (N, C, H, W), labels (N,) or None. Needs N >= batch_size * rounds * steps_per_round.
    """
    names = ("ours", "reference", "fast") if fast else ("ours", "reference")
    with torch.random.fork_rng(devices=[]):
        sides: dict[str, Side] = {}
        for side in names:
            family = build_family(name, preset, info, seed)
            k = max(1, int(family.batches_per_step))
            if side == "reference":
                fetch = concat_batches(
                    reference_batches(
                        images, labels, batch_size=batch_size, seed=seed, scale=family.data_scale
                    ).__next__,
                    k,
                )
            else:
                batcher = Batcher(images, labels, batch_size=batch_size, seed=seed, scale=family.data_scale)
                fetch = concat_batches(batcher.next_batch, k)
            if side == "fast":
                speed.prepare(
                    family,
                    channels_last=bool(fast.get("channels_last")),
                    fused_optimizer=bool(fast.get("fused_optimizer")),
                )
                fetch = in_layout(fetch, bool(fast.get("channels_last")))
            torch.manual_seed(seed)
            sides[side] = Side(
                family,
                fetch,
                torch.Generator().manual_seed(seed),
                torch.get_rng_state(),
                precision=(fast or {}).get("precision", "float32") if side == "fast" else "float32",
            )
        for r in range(rounds):
            for side in names[r % len(names) :] + names[: r % len(names)]:  # each round starts with the next side
                run_round(sides[side], steps_per_round, timed=r > 0)
    ours, ref = sides["ours"], sides["reference"]
    per_step = ours.images / len(ours.step_seconds)  # k * batch_size
    keys = sorted(ours.metrics[0])
    loss_key = next((k for k in ("loss", "loss_d") if k in keys), keys[0])  # the curve to plot
    diff = max(abs(a[k] - b[k]) for a, b in zip(ours.metrics, ref.metrics) for k in keys)
    scale = max(abs(a[k]) for a in ours.metrics for k in keys) or 1.0
    return {
        "family": name,
        "preset": preset,
        "batch_size": batch_size,
        "timed_steps": (rounds - 1) * steps_per_round,
        "ours_images_per_s": per_step / float(np.median(ours.step_seconds)),
        "reference_images_per_s": per_step / float(np.median(ref.step_seconds)),
        "ratio": float(np.median(ref.step_seconds) / np.median(ours.step_seconds)),
        "ratio_of_totals": (ours.images / ours.seconds) / (ref.images / ref.seconds),
        "ours_data_ms_per_batch": 1e3 * ours.data_seconds / max(1, (rounds - 1) * steps_per_round),
        "reference_data_ms_per_batch": 1e3 * ref.data_seconds / max(1, (rounds - 1) * steps_per_round),
        "loss_key": loss_key,
        "ours_losses": [m[loss_key] for m in ours.metrics],
        "reference_losses": [m[loss_key] for m in ref.metrics],
        "max_metric_difference": diff,
        "relative_difference": diff / scale,
        **(_fast_row(sides["fast"], ref, fast, loss_key, per_step) if fast else {}),
    }


def _fast_row(side: Side, ref: Side, fast: dict[str, Any], loss_key: str, per_step: float) -> dict[str, Any]:
    """The speed-options side: its rate, ratio to the reference and loss agreement (relative to the reference's
    largest |loss|)."""
    losses = [m[loss_key] for m in side.metrics]
    ref_losses = [m[loss_key] for m in ref.metrics]
    diff = max(abs(a - b) for a, b in zip(losses, ref_losses))
    return {
        "fast_options": dict(fast),
        "fast_images_per_s": per_step / float(np.median(side.step_seconds)),
        "fast_ratio": float(np.median(ref.step_seconds) / np.median(side.step_seconds)),
        "fast_losses": losses,
        "fast_relative_difference": diff / (max(abs(v) for v in ref_losses) or 1.0),
    }


def in_layout(fetch: Callable[[], tuple[torch.Tensor, torch.Tensor | None]], channels_last: bool):
    """``fetch`` whose image batches come in channels-last memory when asked."""
    if not channels_last:
        return fetch

    def laid_out():
        x, y = fetch()
        return speed.batch_layout(x, channels_last), y

    return laid_out


def concat_batches(fetch: Callable[[], tuple[torch.Tensor, torch.Tensor | None]], k: int):
    """k consecutive batches as one, as the trainer hands a family that asks for k per step."""
    if k == 1:
        return fetch

    def both():
        xs, ys = zip(*(fetch() for _ in range(k)))
        return torch.cat(xs), None if ys[0] is None else torch.cat(ys)

    return both
