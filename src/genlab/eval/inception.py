"""Inception-v3 as FID and the Inception Score use it, without torchvision (optional extractor).

The network is pytorch-fid's ``fid_inception_v3()`` (Seitzer, src/pytorch_fid/inception.py):
torchvision's ``Inception3`` (torchvision/models/inception.py; Szegedy et al. 2016) with 1008
classes, no auxiliary head, and four blocks patched to match the TensorFlow graph that
Heusel et al. 2017 used for FID:

- Mixed_5b/5c/5d, 6b..6e, 7b: the pooling branch averages over real pixels only
  (``count_include_pad=False``), as TensorFlow's average pool does;
- Mixed_7c: the pooling branch takes a 3x3 *max* pool (a quirk of that graph).

Parameter and buffer names equal that model's ``state_dict``, so the standard FID weights
``pt_inception-2015-12-05-6726825d.pth`` load with ``strict=True``. Nothing is downloaded here:
``genlab eval fetch-weights`` (``genlab.eval.weights``) fetches, checks and converts them once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn

from genlab.errors import ConfigError, DataError

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS_FILE}"
HOW_TO_GET_WEIGHTS = (
    f"get the standard FID weights {FID_WEIGHTS_FILE} (pytorch-fid's) with `genlab eval fetch-weights` (or a copy "
    "obtained elsewhere with `genlab eval fetch-weights --from FILE`)"
)
INPUT_SIZE = 299


class BasicConv2d(nn.Module):
    """Conv (no bias) + BatchNorm (eps 0.001) + ReLU: torchvision's ``BasicConv2d``."""

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool_real_pixels(x: Tensor) -> Tensor:
    # TensorFlow's average pool ignores the zero padding (pytorch-fid's patch). Shape kept.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block (pytorch-fid ``FIDInceptionA``). Shapes: (B, C, H, W) -> (B, 224 + pool_features, H, W)."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)  # (B, 64, H, W)
        b5 = self.branch5x5_2(self.branch5x5_1(x))  # (B, 64, H, W)
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))  # (B, 96, H, W)
        bp = self.branch_pool(_avg_pool_real_pixels(x))  # (B, pool_features, H, W)
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17 (torchvision ``InceptionB``). Shapes: (B, C, 35, 35) -> (B, 480 + C, 17, 17)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3(x)  # (B, 384, 17, 17)
        b3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))  # (B, 96, 17, 17)
        bp = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, C, 17, 17)
        return torch.cat([b3, b3dbl, bp], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convs (pytorch-fid ``FIDInceptionC``). Shapes: (B, C, H, W) -> (B, 768, H,
    W)."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)  # (B, 192, H, W)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))  # (B, 192, H, W)
        b7dbl = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            b7dbl = conv(b7dbl)  # ends (B, 192, H, W)
        bp = self.branch_pool(_avg_pool_real_pixels(x))  # (B, 192, H, W)
        return torch.cat([b1, b7, b7dbl, bp], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8 (torchvision ``InceptionD``). Shapes: (B, C, 17, 17) -> (B, 512 + C, 8, 8)."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))  # (B, 320, 8, 8)
        b7 = self.branch7x7x3_1(x)
        for conv in (self.branch7x7x3_2, self.branch7x7x3_3, self.branch7x7x3_4):
            b7 = conv(b7)  # ends (B, 192, 8, 8)
        bp = F.max_pool2d(x, kernel_size=3, stride=2)  # (B, C, 8, 8)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    """8x8 block with split 3x3 convs (pytorch-fid ``FIDInceptionE_1`` / ``_2``).

    Shapes: (B, C, H, W) -> (B, 2048, H, W). ``pool="avg"`` is Mixed_7b (average over real pixels), ``pool="max"`` is
    Mixed_7c.
    """

    def __init__(self, in_channels: int, pool: Literal["avg", "max"]) -> None:
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)  # (B, 320, H, W)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)  # (B, 768, H, W)
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3dbl = torch.cat([self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl)], 1)  # (B, 768, H, W)
        if self.pool == "max":
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _avg_pool_real_pixels(x)
        bp = self.branch_pool(pooled)  # (B, 192, H, W)
        return torch.cat([b1, b3, b3dbl, bp], 1)


class FIDInceptionV3(nn.Module):
    """The FID Inception-v3 (pytorch-fid ``fid_inception_v3``), returning features and logits.

    Shapes: x float (N, 3, H, W) at the network's scale (about [-1, 1]; see ``genlab.eval.resize``
    for how each reference tool makes it), resized to 299x299 bilinearly (align_corners=False, as
    pytorch-fid's ``resize_input``) unless it is already 299x299 -> features (N, dims), logits
    (N, 1008) or None. ``dims`` picks pytorch-fid's feature block (its ``--dims``): 64 (after the
    first max pool), 192 (the second), 768 (Mixed_6e, the aux classifier's input) or 2048
    (pool3); all but 2048 are averaged over space, as pytorch-fid and torch-fidelity do, and
    only pool3 has logits.

    The logits leave out fc's bias: the Inception Score of Salimans et al. 2016 multiplies pool3
    by the softmax weights alone (their inception_score/model.py), as torch-fidelity's
    ``logits_unbiased`` does.
    """

    feature_dim = 2048
    num_classes = 1008
    BLOCK_DIMS = (64, 192, 768, 2048)

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        # torchvision's dropout before fc is omitted: it is the identity in eval mode.
        self.fc = nn.Linear(2048, self.num_classes)

    def forward(self, x: Tensor, dims: int = 2048) -> tuple[Tensor, Tensor | None]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise DataError(f"FIDInceptionV3 needs a (N, 3, H, W) batch, got shape {tuple(x.shape)}.")
        if dims not in self.BLOCK_DIMS:
            raise ConfigError(f"Inception feature dims must be one of {self.BLOCK_DIMS}, got {dims!r}")
        if x.shape[2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = self.Conv2d_1a_3x3(x)  # (N, 32, 149, 149)
        x = self.Conv2d_2a_3x3(x)  # (N, 32, 147, 147)
        x = self.Conv2d_2b_3x3(x)  # (N, 64, 147, 147)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (N, 64, 73, 73): block 0
        if dims == 64:
            return F.adaptive_avg_pool2d(x, 1).flatten(1), None  # (N, 64)
        x = self.Conv2d_3b_1x1(x)  # (N, 80, 73, 73)
        x = self.Conv2d_4a_3x3(x)  # (N, 192, 71, 71)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (N, 192, 35, 35): block 1
        if dims == 192:
            return F.adaptive_avg_pool2d(x, 1).flatten(1), None  # (N, 192)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # (N, 288, 35, 35)
        x = self.Mixed_6a(x)  # (N, 768, 17, 17)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))  # (N, 768, 17, 17): block 2
        if dims == 768:
            return F.adaptive_avg_pool2d(x, 1).flatten(1), None  # (N, 768)
        x = self.Mixed_7a(x)  # (N, 1280, 8, 8)
        x = self.Mixed_7c(self.Mixed_7b(x))  # (N, 2048, 8, 8)
        features = F.adaptive_avg_pool2d(x, 1).flatten(1)  # (N, 2048): pytorch-fid's "pool3" (block 3)
        return features, features @ self.fc.weight.T  # (N, 2048), (N, 1008) without fc.bias


MAX_WEIGHTS_BYTES = 256 * 2**20  # the FID weights are 95.6 MB (about 91 MiB)


def regular_weights_file(path: Path) -> int:
    """The size of ``path``, which must be a regular file of at most MAX_WEIGHTS_BYTES; else DataError."""
    if not path.is_file():
        raise DataError(f"Inception weights {path} not found (or not a regular file); {HOW_TO_GET_WEIGHTS}.")
    size = path.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise DataError(
            f"Inception weights {path} hold {size} bytes, more than the {MAX_WEIGHTS_BYTES} an Inception-v3 needs; "
            f"{HOW_TO_GET_WEIGHTS}."
        )
    return size


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    """Tensors from a .safetensors file; a pickle-based .pth/.pt is refused (convert it once instead)."""
    regular_weights_file(path)  # missing, not a regular file, or too large: said first
    suffix = path.suffix.lower()
    if suffix in (".pth", ".pt"):
        raise DataError(
            f"Inception weights {path} are a pickle-based PyTorch file; genlab loads weights only as safetensors: "
            f"convert it once with `genlab eval fetch-weights --from {path}`."
        )
    if suffix != ".safetensors":
        raise DataError(
            f"Inception weights {path} must be a .safetensors file, got {suffix or 'no suffix'!r}; "
            f"{HOW_TO_GET_WEIGHTS}."
        )
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises several types for damaged files
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(
            f"Inception weights {path} are unreadable or corrupt ({reason}); {HOW_TO_GET_WEIGHTS} again."
        ) from None


def _check_matches(state: dict[str, Tensor], expected: dict[str, Tensor], path: Path) -> None:
    """Raise DataError naming a few missing, unexpected and mis-shaped entries."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(v.shape)})"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    if not (missing or unexpected or wrong_shape):
        return

    def few(names: list[str]) -> str:
        return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")

    problems = [
        f"{len(names)} {what}: {few(names)}"
        for what, names in (("missing", missing), ("unexpected", unexpected), ("with the wrong shape", wrong_shape))
        if names
    ]
    hint = ""
    if "fc.weight" in state and state["fc.weight"].shape[0] == 1000:
        hint = " (1000 classes: these look like torchvision's ImageNet weights, not the FID weights)"
    raise DataError(
        f"Inception weights {path} do not match the FID Inception-v3{hint}: {'; '.join(problems)}. "
        f"Expected {FID_WEIGHTS_FILE} or a safetensors copy of it; {HOW_TO_GET_WEIGHTS}."
    )


def checked_state(state: object, path: Path) -> dict[str, Tensor]:
    """``state`` as a complete, finite FID Inception-v3 state dict; DataError naming what is wrong."""
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise DataError(
            f"Inception weights {path} hold a {type(state).__name__}, not a state dict of tensors; "
            f"{HOW_TO_GET_WEIGHTS}."
        )
    expected = FIDInceptionV3().state_dict()
    state = dict(state)
    # BatchNorm's step counter is unused in eval mode and absent from older files: fill it in.
    for key, value in expected.items():
        if key.endswith(".num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
    _check_matches(state, expected, path)
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise DataError(
            f"Inception weights {path} contain NaN or infinite values (in {', '.join(bad[:3])}); the file is "
            f"damaged: {HOW_TO_GET_WEIGHTS} again."
        )
    return state


def load_fid_inception(path: str | Path) -> FIDInceptionV3:
    """The FID Inception-v3 with weights from the .safetensors file ``path``, in eval mode.

    Raises DataError if the file is missing, too large, a pickle, unreadable, non-finite, or its keys or
    shapes differ.
    """
    path = Path(path)
    state = checked_state(_read_safetensors(path), path)
    model = FIDInceptionV3()
    model.load_state_dict(state, strict=True)
    return model.eval()
