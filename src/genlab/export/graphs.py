"""What an export is made of: graphs (one network each, with named, typed inputs and outputs)
and the family's sampling path written around them.

A family's adapter (:mod:`genlab.export.adapters`) turns a trained family into an
:class:`Exportable`: the graphs to write, the conventions a runtime needs (labels, guidance,
the diffusion schedule), random inputs to check parity on, a calibration set drawn from the
run's data for INT8, and :meth:`Exportable.generate`, the family's sampling path driven by
*any* runner — the PyTorch modules, ONNX Runtime, TorchScript — so every runtime is compared
on the same inputs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

BATCH = "batch"  # the name of the dynamic batch axis in shapes and in the ONNX graphs

# (graph name, inputs by name) -> outputs in the graph's output order, all NumPy.
Runner = Callable[[str, dict[str, np.ndarray]], list[np.ndarray]]


@dataclass(frozen=True)
class TensorSpec:
    """One input or output: name, shape (``"batch"`` marks the dynamic axis), dtype, value range, meaning."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str  # float32, int64 or bool
    range: str  # e.g. "[-1, 1]", "N(0, 1)", "0..9", "{0, 1}"
    meaning: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "range": self.range,
            "meaning": self.meaning,
        }


@dataclass
class Graph:
    """One network to export: a module whose ``forward`` takes the inputs in order, positionally."""

    module: nn.Module
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    int8: bool = True  # False: this graph stays float32 in an --int8 export (say why in ``note``)
    note: str = ""


@dataclass
class Exportable(ABC):
    """A trained family, ready to export. Subclasses implement the three hooks below."""

    family_name: str
    kind: str
    image_shape: tuple[int, int, int]
    graphs: dict[str, Graph]
    conventions: dict[str, Any] = field(default_factory=dict)
    diffusion: dict[str, Any] | None = None

    @abstractmethod
    def example_inputs(self, name: str, n: int, generator: torch.Generator) -> dict[str, np.ndarray]:
        """Random valid inputs of graph ``name`` with batch ``n`` (parity checks, tracing)."""

    @abstractmethod
    def calibration(self, name: str, n: int, generator: torch.Generator) -> list[dict[str, np.ndarray]]:
        """``n`` single-image inputs of graph ``name`` drawn from the run's data (INT8 calibration)."""

    @abstractmethod
    def generate(self, runner: Runner, n: int, generator: torch.Generator) -> np.ndarray:
        """The family's sampling path around the graphs: float32 images in [-1, 1], (n, C, H, W).

        With the PyTorch runner and the same ``generator`` it draws what ``family.sample`` draws
        (translators: held-out inputs translated, without the test-time dropout).
        """


def torch_runner(graphs: dict[str, Graph]) -> Runner:
    """Run the graphs' PyTorch modules (eager, float32, no gradients)."""

    def run(name: str, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        graph = graphs[name]
        args = [torch.from_numpy(np.ascontiguousarray(inputs[spec.name])) for spec in graph.inputs]
        with torch.inference_mode():
            out = graph.module(*args)
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return [o.detach().cpu().numpy() for o in outs]

    return run


def normal(shape: tuple[int, ...], generator: torch.Generator) -> np.ndarray:
    """N(0, 1) float32 noise from ``generator`` (the same numbers ``genlab.nn.noise.randn`` draws on the CPU)."""
    return torch.randn(shape, generator=generator).numpy()


def integers(high: int, shape: tuple[int, ...], generator: torch.Generator) -> np.ndarray:
    """int64 in [0, high) from ``generator``."""
    return torch.randint(0, high, shape, generator=generator).numpy()


def concrete(shape: tuple[int | str, ...], n: int) -> tuple[int, ...]:
    """A spec's shape with the batch axis set to ``n``."""
    return tuple(n if d == BATCH else int(d) for d in shape)
