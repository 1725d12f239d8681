"""Export a trained run's sampling path to ONNX or TorchScript (``genlab export``), optionally INT8.

- :mod:`~genlab.export.graphs` — graphs, tensor specs, runners, the :class:`Exportable` contract.
- :mod:`~genlab.export.adapters` — which adapter exports which family (generators, diffusion,
  translation modules hold them).
- :mod:`~genlab.export.runtime` — ONNX / TorchScript files and running them back.
- :mod:`~genlab.export.quantize` — INT8 with ONNX Runtime's static and dynamic quantisers.
- :mod:`~genlab.export.manifest` — ``manifest.json``: its shape and its check.
- :mod:`~genlab.export.run` — :func:`export_run`, the directory, parity and the INT8 cost.
"""

from genlab.export.adapters import exportable, exportable_families
from genlab.export.graphs import Exportable, Graph, TensorSpec, torch_runner
from genlab.export.manifest import check_manifest, read_manifest
from genlab.export.run import FORMATS, ExportResult, export_run, load_exportable

__all__ = [
    "FORMATS",
    "ExportResult",
    "Exportable",
    "Graph",
    "TensorSpec",
    "check_manifest",
    "export_run",
    "exportable",
    "exportable_families",
    "load_exportable",
    "read_manifest",
    "torch_runner",
]
