"""The reference tools, run on weights we choose: for the parity tests and ``benchmarks/fid_parity.py``.

pytorch-fid 0.3.0 and torch-fidelity 0.4.0 (the ``[parity]`` extra) each load the FID weights
from a URL; here both are pointed at a local file instead, so that they and genlab score the
same image folders with the same network, the standard weights or random ones.

Both import torchvision. PyPI's torchvision 0.28.0 wheel is built against CUDA torch, so on
the CPU torch its C++ extension does not load, and its import then stops at registering
meta kernels for the missing ``torchvision::nms``/``qnms`` operators (the rest of torchvision,
the Inception code included, is pure Python). :func:`import_torchvision` declares those two
operator schemas first when, and only when, that happens.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from safetensors.torch import save_file

from genlab.errors import ConfigError
from genlab.eval.inception import FIDInceptionV3

_SCHEMAS: list[torch.library.Library] = []  # kept alive: a Library deregisters its operators when collected


def import_torchvision() -> ModuleType:
    """``import torchvision``, on a CPU torch with a CUDA-built torchvision wheel too."""
    try:
        import torchvision

        return torchvision
    except RuntimeError as e:
        if "torchvision::nms" not in str(e):
            raise
    except ImportError:
        raise ConfigError(
            "the reference tools need torchvision: pip install --no-deps -e '.[parity]' (see pyproject.toml)"
        ) from None
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]  # the half-done import
    lib = torch.library.Library("torchvision", "DEF")
    for op in ("nms", "qnms"):
        lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _SCHEMAS.append(lib)
    import torchvision

    return torchvision


def random_fid_inception(seed: int) -> FIDInceptionV3:
    """He-initialised weights and random BatchNorm statistics, so activations keep their scale (not 0 or inf)."""
    model = FIDInceptionV3().eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            noise = torch.randn(t.shape, generator=g)
            if name.endswith("conv.weight") or name == "fc.weight":
                t.copy_(noise * (2.0 / t[0].numel()) ** 0.5)
            elif name.endswith("running_var"):
                t.copy_(0.75 + 0.5 * torch.rand(t.shape, generator=g))
            elif name.endswith("bn.weight"):
                t.copy_(1.0 + 0.1 * noise)
            else:  # bn.bias, running_mean, fc.bias
                t.copy_(0.1 * noise)
    return model


def save_both_formats(model: FIDInceptionV3, folder: Path) -> tuple[Path, Path]:
    """The same weights as genlab's safetensors and as the reference tools' .pth (a state dict)."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    safetensors, pth = folder / "inception.safetensors", folder / "inception.pth"
    save_file(state, str(safetensors))
    torch.save(state, pth)
    return safetensors, pth


@contextlib.contextmanager
def _pytorch_fid_weights(pth: Path) -> Iterator[ModuleType]:
    """pytorch-fid's ``fid_inception_v3`` loading ``pth`` instead of downloading."""
    import_torchvision()
    import pytorch_fid.inception as pfi

    original = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda url, *a, **k: torch.load(pth, map_location="cpu", weights_only=True)
    try:
        yield pfi
    finally:
        pfi.load_state_dict_from_url = original


def pytorch_fid_features(pth: Path, folder: Path, dims: int = 2048, batch_size: int = 50) -> Any:
    """pytorch-fid's ``get_activations`` on the image files of ``folder`` (its own file list): float64 (N, dims)."""
    with _pytorch_fid_weights(pth) as pfi:
        from pytorch_fid import fid_score

        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[dims]])
        files = sorted(p for ext in fid_score.IMAGE_EXTENSIONS for p in Path(folder).glob(f"*.{ext}"))
        return fid_score.get_activations(files, model, batch_size, dims, "cpu", num_workers=0)


def pytorch_fid_fid(pth: Path, folder_a: Path, folder_b: Path, dims: int = 2048, batch_size: int = 50) -> float:
    """pytorch-fid's ``calculate_fid_given_paths``: its whole pipeline, folders to number."""
    with _pytorch_fid_weights(pth):
        from pytorch_fid import fid_score

        paths = [str(folder_a), str(folder_b)]
        return float(fid_score.calculate_fid_given_paths(paths, batch_size, "cpu", dims, num_workers=0))


def torch_fidelity_metrics(pth: Path, folder_a: Path, folder_b: Path | None = None, **kwargs: Any) -> dict:
    """torch-fidelity's ``calculate_metrics`` on folders with the weights ``pth``; ``kwargs`` are its options."""
    import_torchvision()
    import torch_fidelity

    options = {"cuda": False, "cache": False, "verbose": False, "save_cpu_ram": True, **kwargs}
    inputs = {"input1": str(folder_a)} | ({"input2": str(folder_b)} if folder_b is not None else {})
    return torch_fidelity.calculate_metrics(**inputs, feature_extractor_weights_path=str(pth), **options)


def torch_fidelity_features(pth: Path, images_uint8: torch.Tensor, layers: tuple[str, ...]) -> dict:
    """torch-fidelity's ``FeatureExtractorInceptionV3`` on a uint8 (N, 3, H, W) batch: {layer: float32 (N, D)}."""
    import_torchvision()
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    extractor = FeatureExtractorInceptionV3("inception-v3-compat", list(layers), feature_extractor_weights_path=pth)
    with torch.no_grad():
        return dict(zip(layers, extractor(images_uint8), strict=True))
