"""Data-parallel training on ``torch.distributed``: DistributedDataParallel, one process per rank.

Launched by ``torchrun`` (or ``genlab train --nproc N``, which calls torchrun's own entry
point). Each rank holds a full replica; the trainer's global batch of B images is cut into
W slices of B/W rows, rank r training on slice r, and DDP averages the gradients. Because
every family's loss is a mean over its batch, the average of the W slice gradients is the
gradient of the full batch, so W processes take the same steps as one process would.

Randomness is what makes that exact rather than approximate: a family draws its noise
(z, t, eps, dropout masks) for the batch it is given, so a rank that drew for B/W rows
would see different noise than the single process. :class:`ShardedRandomness` makes every
random draw whose leading dimension is the slice size draw the whole batch's tensor (all
ranks hold the same generator states) and keep this rank's rows: rank r sees exactly rows
r*B/W ... (r+1)*B/W - 1 of the single-process draw. What stays different: BatchNorm
statistics are per rank (SyncBatchNorm is GPU-only), and minibatch discrimination looks at
the slice only.

Rank 0 writes the run directory; the other ranks write into a scratch folder that is
removed at the end, so every rank runs the same code (and consumes the same random
streams) as the single process does.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from genlab.errors import ConfigError, GenlabError

# Random functions whose first argument is a size (varargs ints, a tuple, or size=).
SIZE_FACTORIES = {torch.randn, torch.rand, torch.randint}
# Random functions whose output has the shape of their first tensor argument.
INPUT_SHAPED = {
    torch.randn_like,
    torch.rand_like,
    torch.randint_like,
    torch.bernoulli,
    F.dropout,
    F.dropout1d,
    F.dropout2d,
    F.dropout3d,
    F.alpha_dropout,
}
# In-place random fills of a tensor.
IN_PLACE = {Tensor.normal_, Tensor.uniform_, Tensor.bernoulli_, Tensor.random_, Tensor.exponential_}


def backend_for(device: torch.device) -> str:
    """The collective backend for a device: nccl for CUDA, gloo otherwise (CPU)."""
    return "nccl" if device.type == "cuda" else "gloo"


def rank_device(device: torch.device) -> torch.device:
    """This process's device: under torchrun (WORLD_SIZE > 1) a CUDA run puts each rank on
    ``cuda:LOCAL_RANK``, one GPU per process; otherwise ``device`` as it is."""
    if device.type == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def join_from_env(device: torch.device = torch.device("cpu")) -> int:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR/PORT in the
    environment) and return this process's rank; a single process (no WORLD_SIZE, or 1) is rank 0.
    The backend follows ``device`` (nccl for CUDA, each rank on its own GPU; gloo otherwise).
    The group is left when the process exits."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(rank_device(device))
        dist.init_process_group(backend=backend_for(device))
        atexit.register(_leave)
    return dist.get_rank()


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def launch(nproc: int, argv: list[str]) -> None:
    """Run ``genlab ARGV`` in ``nproc`` processes on this machine, as
    ``torchrun --standalone --nproc-per-node NPROC -m genlab ARGV`` would."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    if nproc < 1:
        raise ConfigError(f"--nproc must be >= 1, got {nproc}")
    args = get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}", "--module", "genlab", *argv])
    try:
        run(args)
    except ChildFailedError as e:
        first = next(iter(e.failures.values()), None)
        code = first.exitcode if first is not None else "?"
        raise GenlabError(
            f"a training process of the {nproc} failed (exit status {code}); its error is printed above"
        ) from None


class ShardedRandomness(TorchFunctionMode):
    """Inside a rank's ``train_step``: draw random tensors for the global batch, keep this rank's rows.

    A draw is sharded when its leading dimension equals ``rows`` (the slice size B/W): it is
    drawn with leading dimension ``rows * world`` and rows ``rank*rows : (rank+1)*rows`` are
    returned. Input-shaped draws (``bernoulli(p)``, dropout, ``*_like``) pad their input with
    zeros to the global shape first; each element's draw depends only on its position in the
    stream, so the rank's rows come out as in the single process. Other calls pass through.
    """

    def __init__(self, rows: int, rank: int, world: int) -> None:
        super().__init__()
        self.rows, self.rank, self.world = rows, rank, world

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in SIZE_FACTORIES:
            return self._factory(func, args, kwargs)
        if func in INPUT_SHAPED and args and self._is_slice(args[0]):
            return self._keep(func(self._pad(args[0]), *args[1:], **kwargs))
        if func in IN_PLACE and args and self._is_slice(args[0]):
            full = args[0].new_empty((self.rows * self.world, *args[0].shape[1:]))
            func(full, *args[1:], **kwargs)
            with torch.no_grad():
                return args[0].copy_(self._keep(full))
        return func(*args, **kwargs)

    def _is_slice(self, x: Any) -> bool:
        return isinstance(x, Tensor) and x.ndim > 0 and x.shape[0] == self.rows

    def _keep(self, full: Tensor) -> Tensor:
        return full[self.rank * self.rows : (self.rank + 1) * self.rows]  # (W*b, ...) -> (b, ...)

    def _pad(self, x: Tensor) -> Tensor:
        before = x.new_zeros((self.rank * self.rows, *x.shape[1:]))
        after = x.new_zeros(((self.world - 1 - self.rank) * self.rows, *x.shape[1:]))
        return torch.cat([before, x, after])  # (b, ...) -> (W*b, ...), differentiable in x

    def _factory(self, func, args: tuple, kwargs: dict) -> Tensor:
        if "size" in kwargs:
            size, rebuild = tuple(kwargs["size"]), lambda s: (args, {**kwargs, "size": s})
        elif func is torch.randint:
            size, rebuild = tuple(args[-1]), lambda s: ((*args[:-1], s), kwargs)
        elif len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)):
            size, rebuild = tuple(args[0]), lambda s: ((s,), kwargs)
        else:
            size, rebuild = tuple(args), lambda s: (tuple(s), kwargs)
        if not size or size[0] != self.rows or "out" in kwargs:
            return func(*args, **kwargs)
        new_args, new_kwargs = rebuild((self.rows * self.world, *size[1:]))
        return self._keep(func(*new_args, **new_kwargs))


class Replicas:
    """This process's place among the data-parallel replicas (one replica when not distributed).

    ``train_step`` is the family's, data-parallel: it cuts the global batch, runs the step
    with the family's networks wrapped in DistributedDataParallel, and averages the metrics.
    """

    def __init__(self) -> None:
        on = dist.is_available() and dist.is_initialized()
        self.world = dist.get_world_size() if on else 1
        self.rank = dist.get_rank() if on else 0
        # nccl reduces CUDA tensors only; gloo CPU ones (the metrics and flags below are tiny).
        nccl = on and dist.get_backend() == "nccl"
        self.device = torch.device("cuda", torch.cuda.current_device()) if nccl else torch.device("cpu")
        self._wrapped: dict[int, dict[str, nn.Module]] = {}  # id(family) -> DDP wrappers, built once

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @contextlib.contextmanager
    def output_dir(self, run_dir: Path) -> Iterator[Path]:
        """Where this rank writes: the run directory on rank 0, a scratch folder elsewhere."""
        if self.is_main:
            yield run_dir
            return
        with tempfile.TemporaryDirectory(prefix=f"genlab-rank{self.rank}-") as scratch:
            yield Path(scratch)

    def train_step(
        self, family, images: Tensor, labels: Tensor | None, generator: torch.Generator
    ) -> dict[str, float]:
        """``family.train_step`` on this rank's rows of each of the family's k batches.

        Shapes: images (k*B, C, H, W), labels (k*B,) or None -> this rank's (k*B/W, C, H, W).
        """
        if self.world == 1:
            return family.train_step(images, labels, generator)
        k = max(1, int(family.batches_per_step))
        batch = images.shape[0] // k
        if batch % self.world:
            raise ConfigError(
                f"batch_size {batch} must be a multiple of the {self.world} processes (each takes an equal slice)"
            )
        rows = batch // self.world
        mine = torch.cat(
            [
                torch.arange(j * batch + self.rank * rows, j * batch + (self.rank + 1) * rows, device=images.device)
                for j in range(k)
            ]
        )
        x, y = images[mine], None if labels is None else labels[mine]
        originals = dict(family.nets)
        family.nets.update(self._ddp_modules(family))
        try:
            with ShardedRandomness(rows, self.rank, self.world):
                metrics = family.train_step(x, y, generator)
        finally:
            family.nets.update(originals)
        return self.mean_metrics(metrics)

    def _ddp_modules(self, family) -> dict[str, nn.Module]:
        """DDP wrappers of the family's trainable networks (EMA copies have no gradients to share)."""
        key = id(family)
        if key not in self._wrapped:
            trainable = {k: net for k, net in family.nets.items() if any(p.requires_grad for p in net.parameters())}
            self._wrapped[key] = {k: nn.parallel.DistributedDataParallel(net) for k, net in trainable.items()}
        return self._wrapped[key]

    def mean_metrics(self, metrics: dict[str, float]) -> dict[str, float]:
        """Average each metric over the ranks: a mean over equal slices is the mean over the batch."""
        if self.world == 1 or not metrics:
            return metrics
        keys = sorted(metrics)
        values = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(values)
        return {k: float(v) / self.world for k, v in zip(keys, values.tolist())}

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any rank (stop requests, time budgets)."""
        if self.world == 1:
            return bool(flag)
        value = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def checkpoint_meta(self, family) -> dict[str, Any]:
        """For the checkpoint's JSON: the world size and every rank's weights hash (they must agree)."""
        if self.world == 1:
            return {}
        from genlab.runs.checkpoint import weights_hash

        hashes: list[Any] = [None] * self.world
        dist.all_gather_object(hashes, weights_hash(family.state_dict()["nets"]))
        return {"world_size": self.world, "replica_weights": hashes}
