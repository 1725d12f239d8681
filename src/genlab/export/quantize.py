"""INT8 post-training quantisation of an exported ONNX graph with ONNX Runtime's tools.

Two passes (``onnxruntime.quantization``):

1. ``quantize_static`` on the convolutions (Conv, ConvTranspose): int8 weights per output
   channel and uint8 activations whose ranges come from a calibration set drawn from the run's
   data (MinMax over the set, fed by a :class:`CalibrationDataReader`), in the QDQ format.
2. ``quantize_dynamic`` on the linear layers (MatMul, Gemm): int8 weights, activations
   quantised per call from their own range.

Why ONNX Runtime and not ``torch.ao``: the deployed runtime is ONNX Runtime, a torch.ao
quantised module neither exports to ONNX nor runs outside PyTorch (and ``torch.ao.quantization``
is deprecated in torch 2.13), and its eager static mode needs QuantStub/DeQuantStub edits
inside every network. For the linear layers, where torch.ao's dynamic mode needs no edits,
``benchmarks/deploy.py --torch-ao`` measures both (docs/results/deploy.md): ONNX Runtime INT8
was faster and closer to float32 there. The static convolution variant of torch.ao was not built.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from pathlib import Path

import numpy as np

CONV_OPS = ["Conv", "ConvTranspose"]
LINEAR_OPS = ["MatMul", "Gemm"]
METHOD = (
    "onnxruntime.quantization: quantize_static (QDQ, per-channel int8 weights, uint8 activations, MinMax "
    f"calibration) on {'/'.join(CONV_OPS)}, then quantize_dynamic (int8 weights) on {'/'.join(LINEAR_OPS)}"
)


def _reader(rows: list[dict[str, np.ndarray]]):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        """Feeds the calibration rows one by one (each a full input dict of batch 1)."""

        def __init__(self) -> None:
            self.rows = iter(rows)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.rows, None)

        def rewind(self) -> None:
            self.rows = iter(rows)

    return Reader()


def _ops(path: Path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


def quantize_int8(src: Path, dst: Path, calibration: list[dict[str, np.ndarray]]) -> dict[str, int]:
    """Write the INT8 model of ``src`` to ``dst``; returns how many nodes each pass targeted."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    counts = {"conv": 0, "linear": 0}
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()), _quiet_logs():
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        ops = _ops(pre)
        current = pre
        if ops & set(CONV_OPS):
            counts["conv"] = 1
            static = Path(tmp) / "static.onnx"
            quantize_static(
                str(current),
                str(static),
                _reader(calibration),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=CONV_OPS,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                extra_options={"ForceQuantizeNoInputCheck": False},
            )
            current = static
        if ops & set(LINEAR_OPS):
            counts["linear"] = 1
            quantize_dynamic(str(current), str(dst), op_types_to_quantize=LINEAR_OPS, weight_type=QuantType.QInt8)
        else:
            dst.write_bytes(current.read_bytes())
    return counts


@contextlib.contextmanager
def _quiet_logs():
    """The quantiser logs each skipped node at WARNING; keep the CLI's stderr to its one line."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
