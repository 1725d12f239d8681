"""Training-step variants: what PyTorch offers on a CPU (channels-last memory, bfloat16 autocast,
``torch.compile``) against the plain float32 step, on the same network, batches and seeds.

Every variant's family is built from the same seed, reads the same Batcher stream and draws
with the same generator, and keeps its own copy of torch's global random state (dropout), so
the loss trajectories are comparable step by step. Each variant first runs
``max(warmup, agree_steps)`` untimed steps from that common start, one variant after another:
the first ``agree_steps`` losses are compared with eager's, and the first ``warmup`` step times
of a compiled variant, less as many of its timed steps, are its one-off compile cost. Then
``rounds`` rounds of ``steps_per_round`` timed steps per variant follow, interleaved (each round
starts at the next variant), so that a busy machine slows every variant alike.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genlab.bench.training import Side, build_family, concat_batches, in_layout, run_round
from genlab.data import Batcher, DataInfo
from genlab.errors import ConfigError
from genlab.models.base import Family
from genlab.training import speed
from genlab.training.speed import bf16_supported

SPEEDUP_TO_WIN = 1.10  # a variant wins when its median step is >= 1.10x eager's ...
LOSS_TOLERANCE = 0.02  # ... and its loss stays within 2 % of eager's (relative to eager's largest |loss|)
VARIANT_FAMILIES = ("dcgan", "conv-vae", "ddpm")  # the conv models; gan and vae may be asked for too


@dataclass(frozen=True)
class Variant:
    """One way to run the same training step."""

    name: str
    channels_last: bool = False  # nets and input batch in torch.channels_last
    bf16: bool = False  # train_step inside torch.autocast("cpu", dtype=torch.bfloat16)
    compile: bool = False  # net.compile() (inductor) on every net in family.nets
    fused: bool = False  # the fused kernel of every optimiser that has one (Adam, AdamW, SGD)

    def describe(self) -> str:
        parts = [
            p
            for p, on in (
                ("nets and batch in channels-last memory format", self.channels_last),
                ('each train_step under torch.autocast("cpu", bfloat16, cache_enabled=False)', self.bf16),
                ("fused optimiser kernels", self.fused),
                ("every net compiled in place (net.compile(), inductor)", self.compile),
            )
            if on
        ]
        return " + ".join(parts) or "float32, contiguous (the baseline)"


VARIANTS = {
    v.name: v
    for v in (
        Variant("eager"),
        Variant("channels_last", channels_last=True),
        Variant("bf16", bf16=True),
        Variant("compile", compile=True),
        Variant("compile+channels_last", channels_last=True, compile=True),
        Variant("fused", fused=True),
        Variant("bf16+fused", bf16=True, fused=True),
        Variant("bf16+channels_last+fused", bf16=True, channels_last=True, fused=True),
        Variant("compile+bf16+channels_last+fused", bf16=True, channels_last=True, fused=True, compile=True),
    )
}
DEFAULT_VARIANTS = ("eager", "channels_last", "bf16", "compile")


def offered(variants: list[Variant]) -> tuple[list[Variant], dict[str, str]]:
    """The variants this machine can run, and why each other one is skipped (bfloat16 without native support)."""
    if bf16_supported():
        return variants, {}
    skipped = {
        v.name: "no native bfloat16 on this CPU (torch.ops.mkldnn._is_mkldnn_bf16_supported() is False)"
        for v in variants
        if v.bf16
    }
    return [v for v in variants if v.name not in skipped], skipped


class _Probe(torch.nn.Module):
    """A conv and a ReLU. Its own class: dynamo does not compile a torch.nn container's forward as the top frame."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x))  # (B, 1, H, W) -> (B, 2, H-2, W-2)


@contextlib.contextmanager
def fresh_compile_cache() -> Iterator[None]:
    """Point inductor at a new, empty on-disk cache for the duration (removed afterwards), so that
    compile times are a first run's: a warm cache from an earlier run turns tens of seconds into one."""
    from torch._inductor.runtime.cache_dir_utils import temporary_cache_dir  # no public switch in torch 2.13

    with tempfile.TemporaryDirectory(prefix="genlab-inductor-") as folder, temporary_cache_dir(folder):
        yield


def compiler_startup_seconds() -> float:
    """Seconds to compile (inductor) and run one small conv net's forward and backward: the once-per-process
    start-up (imports, compile workers) paid before any family is timed, so that it is not charged to the first one."""
    net = _Probe()
    net.compile()
    start = time.perf_counter()
    net(torch.ones(2, 1, 6, 6)).sum().backward()
    seconds = time.perf_counter() - start
    torch.compiler.reset()
    return seconds


def parse_variants(names: list[str] | tuple[str, ...]) -> list[Variant]:
    """The named variants, eager (the baseline) first and always; an unknown name lists the known ones."""
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown training-step variant {unknown[0]!r}; known variants: {', '.join(VARIANTS)}")
    return [VARIANTS["eager"], *(VARIANTS[n] for n in dict.fromkeys(names) if n != "eager")]


def prepare(family: Family, variant: Variant) -> None:
    """Lay out, fuse (genlab.training.speed.prepare, as the trainer does) and compile ``family``'s nets in place."""
    speed.prepare(family, channels_last=variant.channels_last, fused_optimizer=variant.fused)
    if variant.compile:
        for net in family.nets.values():
            net.compile()  # default backend: inductor


def _fetch(batcher: Batcher, k: int, channels_last: bool):
    return in_layout(concat_batches(batcher.next_batch, k), channels_last)


def step_context(variant: Variant):
    """What one training step of ``variant`` runs inside: the trainer's (genlab.training.speed.step_context)."""
    return speed.step_context("bfloat16" if variant.bf16 else "float32")


def compare_variants(
    name: str,
    images: np.ndarray,
    labels: np.ndarray | None,
    info: DataInfo,
    *,
    variants: list[Variant],
    preset: str | None = "small",
    batch_size: int = 128,
    warmup: int = 3,
    rounds: int = 4,
    steps_per_round: int = 5,
    agree_steps: int = 20,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Median ms per training step, images/s and loss agreement of each variant of family ``name``.

    ``variants`` starts with eager (see :func:`parse_variants`). ``overrides`` are config fields
    on top of the preset (tests pass the family's tiny size).

    Shapes: images uint8 (N, C, H, W), labels (N,) or None; N >= batch_size (the Batcher wraps epochs).
    """
    if variants[0].name != "eager":
        raise ConfigError("the first variant must be eager: the others are compared with it")
    if min(batch_size, warmup, rounds, steps_per_round, agree_steps) < 1:
        raise ConfigError(
            f"batch_size, warmup, rounds, steps_per_round and agree_steps must be >= 1, got {batch_size}, {warmup}, "
            f"{rounds}, {steps_per_round}, {agree_steps}"
        )
    if any(v.compile for v in variants):
        # a fresh dynamo cache per family: earlier families' graphs do not count against the recompile limit
        torch.compiler.reset()
    first_steps: dict[str, list[float]] = {}
    graphs: dict[str, int] = {}
    with torch.random.fork_rng(devices=[]):
        sides: dict[str, Side] = {}
        for v in variants:
            family = build_family(name, preset, info, seed, **(overrides or {}))
            prepare(family, v)
            batcher = Batcher(images, labels, batch_size=batch_size, seed=seed, scale=family.data_scale)
            torch.manual_seed(seed)
            sides[v.name] = Side(
                family,
                _fetch(batcher, max(1, int(family.batches_per_step)), v.channels_last),
                torch.Generator().manual_seed(seed),
                torch.get_rng_state(),
            )
        # 1. From the common start, one variant at a time: agreement losses, warm-up and compile.
        for v in variants:
            first_steps[v.name], graphs_before = [], _graphs_built()
            for _ in range(max(warmup, agree_steps)):
                start = time.perf_counter()
                with step_context(v):
                    run_round(sides[v.name], 1, timed=False)
                first_steps[v.name].append(time.perf_counter() - start)
            graphs[v.name] = _graphs_built() - graphs_before
        # 2. Timed rounds, interleaved; round r starts at variant r (mod the number of variants).
        for r in range(rounds):
            for v in variants[r % len(variants) :] + variants[: r % len(variants)]:
                for _ in range(steps_per_round):  # each step times itself (batch fetch + train_step)
                    with step_context(v):
                        run_round(sides[v.name], 1, timed=True)
    eager = sides["eager"]
    keys = sorted(eager.metrics[0])
    loss_key = next((k for k in ("loss", "loss_d") if k in keys), keys[0])
    eager_losses = [m[loss_key] for m in eager.metrics[:agree_steps]]
    eager_ms = 1e3 * float(np.median(eager.step_seconds))
    scale = max(abs(v) for v in eager_losses) or 1.0
    rows = []
    for v in variants:
        side = sides[v.name]
        ms = 1e3 * float(np.median(side.step_seconds))
        losses = [m[loss_key] for m in side.metrics[:agree_steps]]
        diff = max(abs(a - b) for a, b in zip(losses, eager_losses))
        row = {
            "variant": v.name,
            "description": v.describe(),
            "ms_per_step": ms,
            "images_per_s": side.images / len(side.step_seconds) / (ms / 1e3),
            "vs_eager": eager_ms / ms,
            "losses": losses,
            "max_loss_difference": diff,
            "max_relative_difference": diff / scale,
            "final_relative_difference": abs(losses[-1] - eager_losses[-1]) / (abs(eager_losses[-1]) or 1.0),
            "compile_seconds": None,
            "break_even_steps": None,
        }
        if v.compile:
            row["compile_seconds"] = max(0.0, sum(first_steps[v.name][:warmup]) - warmup * ms / 1e3)
            row["graphs"] = graphs[v.name]
            row["break_even_steps"] = break_even_steps(row["compile_seconds"], eager_ms, ms)
        rows.append(row)
    return {
        "family": name,
        "preset": preset,
        "batch_size": batch_size,
        "images_per_step": eager.images // len(eager.step_seconds),
        "warmup": warmup,
        "agree_steps": agree_steps,
        "timed_steps": rounds * steps_per_round,
        "loss_key": loss_key,
        "variants": rows,
    }


def _graphs_built() -> int:
    """FX graphs dynamo has built in this process so far (graph breaks and recompiles add more)."""
    from torch._dynamo.utils import counters  # no public counter in torch 2.13

    return int(counters["stats"]["unique_graphs"])


def break_even_steps(compile_seconds: float, eager_ms: float, compiled_ms: float) -> float | None:
    """Training steps after which a one-off compile has paid for itself: compile s / (eager s - compiled s)
    per step; None when the compiled step is not faster (it never pays back)."""
    gain = (eager_ms - compiled_ms) / 1e3
    return compile_seconds / gain if gain > 0 else None


def verdict(result: dict[str, Any]) -> dict[str, list[str]]:
    """Which variants of one family's result win: >= SPEEDUP_TO_WIN x eager's speed with the loss
    within LOSS_TOLERANCE (relative) of eager's over the agreement steps; the rest do not."""
    wins, loses = [], []
    for row in result["variants"]:
        if row["variant"] == "eager":
            continue
        ok = row["vs_eager"] >= SPEEDUP_TO_WIN and row["max_relative_difference"] <= LOSS_TOLERANCE
        (wins if ok else loses).append(row["variant"])
    return {"wins": wins, "does_not_win": loses}
