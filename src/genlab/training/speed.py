"""Training-step speed options of :class:`~genlab.config.TrainConfig`: what PyTorch offers on a CPU.

- ``precision="bfloat16"``: each training step runs under ``torch.autocast`` with bfloat16
  (matmuls and convolutions in bfloat16; weights, gradients and optimiser state stay float32,
  so no loss scaling is needed). Sampling and evaluation stay float32.
- ``channels_last=True``: the nets' 4-D weights and each 4-D batch in channels-last memory.
- ``fused_optimizer=True``: the fused kernel of every optimiser that has one (Adam, AdamW, SGD).

``genlab bench variants`` and ``genlab bench run`` measure what each buys per family, and
``genlab bench quality --set precision=bfloat16 ...`` checks that quality does not drop
(docs/results/performance.md).
"""

from __future__ import annotations

import contextlib

import torch

from genlab.errors import ConfigError
from genlab.models.base import Family


def bf16_supported() -> bool:
    """Whether oneDNN runs bfloat16 natively on this CPU (``torch.ops.mkldnn._is_mkldnn_bf16_supported()``)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and check is not None and check())


def step_context(precision: str, device_type: str = "cpu") -> contextlib.AbstractContextManager:
    """What one training step runs inside: bfloat16 autocast, or nothing for float32.

    Entered anew for every step, with autocast's weight-cast cache off: the cache keeps the
    bfloat16 copy of a weight for the whole region without noticing in-place updates, so a
    GAN's generator step would otherwise see its discriminator as it was before that step's
    update (and every later step in the region its weights as they were at the first).
    """
    if precision == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device_type, dtype=torch.bfloat16, cache_enabled=False)


def batch_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` in channels-last memory when asked and it is a 4-D image batch; else ``x`` itself."""
    return x.contiguous(memory_format=torch.channels_last) if channels_last and x.dim() == 4 else x


def check_applicable(family: Family, precision: str, channels_last: bool, fused_optimizer: bool) -> None:
    """A speed option on a family without PyTorch nets (the NumPy teaching models) is a ConfigError."""
    asked = [
        name
        for name, on in (
            ("precision=bfloat16", precision != "float32"),
            ("channels_last", channels_last),
            ("fused_optimizer", fused_optimizer),
        )
        if on
    ]
    if asked and not family.trains_in_torch:
        raise ConfigError(
            f"the speed options ({', '.join(asked)}) apply only to PyTorch families; {type(family).__name__} trains "
            "in NumPy"
        )


def prepare(family: Family, *, channels_last: bool, fused_optimizer: bool) -> None:
    """Put ``family``'s nets in channels-last memory and switch its optimisers to fused kernels.

    ``Module.to(memory_format=...)`` swaps each 4-D parameter's data, not the Parameter, so the
    optimisers keep training the same tensors. Call it after loading any checkpoint, so that the
    loaded optimiser state is laid out like its parameters too (:func:`match_state_layout`).
    """
    if channels_last:
        for net in family.nets.values():
            net.to(memory_format=torch.channels_last)
    for opt in family.opts.values():
        if fused_optimizer and "fused" in opt.defaults:
            for group in opt.param_groups:
                group["fused"], group["foreach"] = True, False
        match_state_layout(opt)


def match_state_layout(opt: torch.optim.Optimizer) -> None:
    """Give each per-parameter state tensor (Adam's moments, ...) its parameter's memory layout."""
    for p, state in opt.state.items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.shape == p.shape and value.stride() != p.stride():
                state[key] = torch.empty_like(p, dtype=value.dtype).copy_(value)
