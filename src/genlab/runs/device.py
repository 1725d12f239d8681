"""Where a family runs: ``--device auto|cpu|cuda|cuda:N|mps``.

Families draw their noise from the caller's CPU generator on every device (see
:mod:`genlab.nn.noise`), so a run's random numbers do not depend on where it runs.
"""

from __future__ import annotations

import torch

from genlab.errors import ConfigError

DEVICE_TYPES = ("cpu", "cuda", "mps")
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"


def resolve_device(name: str | torch.device) -> torch.device:
    """The torch device ``name`` asks for: ``auto`` is cuda when present, else mps, else cpu.

    An unknown name, or a device this machine lacks, is a one-line ConfigError.
    """
    if isinstance(name, torch.device):
        name = str(name)
    text = str(name).strip().lower()
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {name}: unknown device; use one of {DEVICE_CHOICES}") from None
    if device.type not in DEVICE_TYPES:
        raise ConfigError(f"--device {name}: unknown device; use one of {DEVICE_CHOICES}")
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = (
                f"torch {torch.__version__} was built without CUDA"
                if torch.version.cuda is None
                else "none is visible to this process"
            )
            raise ConfigError(f"--device {name}: no CUDA device here ({why}); use --device cpu or auto")
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ConfigError(f"--device {name}: this machine has {count} CUDA device(s), numbered 0..{count - 1}")
        return device
    if not _mps_available():
        raise ConfigError(f"--device {name}: no MPS device here (Apple-silicon macOS only); use --device cpu or auto")
    return device


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device_for(name: str | torch.device, device_types: tuple[str, ...]) -> torch.device:
    """:func:`resolve_device` for a family that runs on ``device_types`` only: ``auto`` falls
    back to the CPU for a CPU-only (NumPy) family; an explicit other device stays an error
    (``Family.to`` says which)."""
    device = resolve_device(name)
    if device.type not in device_types and str(name).strip().lower() == "auto":
        return torch.device("cpu")
    return device
