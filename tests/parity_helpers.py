"""Shared by the parity tests: skip (saying why) when a reference tool of the [parity] extra is missing."""

import importlib.util

import pytest


def needs_tool(module: str) -> None:
    """Skip unless ``module`` (pytorch_fid, torch_fidelity) and torchvision are installed; then import torchvision."""
    for name in (module, "torchvision"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed (pip install --no-deps -e '.[parity]')")
    from genlab.eval.parity import import_torchvision

    import_torchvision()
