"""Inception-v3 as FID and the Inception Score use it, without torchvision (optional extractor).

The network is pytorch-fid's ``fid_inception_v3()`` (Seitzer, src/pytorch_fid/inception.py):
torchvision's ``Inception3`` (torchvision/models/inception.py; Szegedy et al. 2016) with 1008
classes, no auxiliary head, and four blocks patched to match the TensorFlow graph that
Heusel et al. 2017 used for FID:

- Mixed_5b/5c/5d, 6b..6e, 7b: the pooling branch averages over real pixels only
  (``count_include_pad=False``), as TensorFlow's average pool does;
- Mixed_7c: the pooling branch takes a 3x3 *max* pool (a quirk of that graph).

Parameter and buffer names equal that model's ``state_dict``, so the standard FID weights
``pt_inception-2015-12-05-6726825d.pth`` load with ``strict=True``. Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor, nn

from genlab.errors import ConfigError, DataError
from genlab.eval.extractors import ClassifierExtractor

FID_WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS_FILE}"
HOW_TO_GET_WEIGHTS = (
    f"download the standard FID weights {FID_WEIGHTS_FILE} of the pytorch-fid project "
    f"yourself ({FID_WEIGHTS_URL}) and pass its path"
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
    """The FID Inception-v3 (pytorch-fid ``fid_inception_v3``), returning pool3 features and logits.

    Shapes: x float (N, 3, H, W) in [-1, 1], resized to 299x299 bilinearly (align_corners=False,
    as pytorch-fid's ``resize_input``) -> features (N, 2048), logits (N, 1008).
    """

    feature_dim = 2048
    num_classes = 1008

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

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise DataError(f"FIDInceptionV3 needs a (N, 3, H, W) batch, got shape {tuple(x.shape)}.")
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = self.Conv2d_1a_3x3(x)  # (N, 32, 149, 149)
        x = self.Conv2d_2a_3x3(x)  # (N, 32, 147, 147)
        x = self.Conv2d_2b_3x3(x)  # (N, 64, 147, 147)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (N, 64, 73, 73)
        x = self.Conv2d_3b_1x1(x)  # (N, 80, 73, 73)
        x = self.Conv2d_4a_3x3(x)  # (N, 192, 71, 71)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # (N, 192, 35, 35)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # (N, 288, 35, 35)
        x = self.Mixed_6a(x)  # (N, 768, 17, 17)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))  # (N, 768, 17, 17)
        x = self.Mixed_7a(x)  # (N, 1280, 8, 8)
        x = self.Mixed_7c(self.Mixed_7b(x))  # (N, 2048, 8, 8)
        features = F.adaptive_avg_pool2d(x, 1).flatten(1)  # (N, 2048): pytorch-fid's "pool3" (block 3)
        return features, self.fc(features)  # (N, 2048), (N, 1008)


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    """Tensors from a .safetensors or .pth/.pt file; never unpickles anything but tensors."""
    suffix = path.suffix.lower()
    if suffix not in (".safetensors", ".pth", ".pt"):
        raise DataError(
            f"Inception weights {path} must be a .safetensors, .pth or .pt file, got {suffix or 'no suffix'!r}; "
            f"{HOW_TO_GET_WEIGHTS}."
        )
    try:
        if suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # safetensors, zipfile and the unpickler each raise their own types
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise DataError(
            f"Inception weights {path} are unreadable or corrupt ({reason}); {HOW_TO_GET_WEIGHTS} again."
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise DataError(
            f"Inception weights {path} hold a {type(state).__name__}, not a state dict of tensors; "
            f"{HOW_TO_GET_WEIGHTS}."
        )
    return state


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


def load_fid_inception(path: str | Path) -> FIDInceptionV3:
    """The FID Inception-v3 with weights from ``path`` (.safetensors, or .pth/.pt loaded weights-only), in eval mode.

    Raises DataError if the file is missing, unreadable, or its keys or shapes differ.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"Inception weights {path} not found; {HOW_TO_GET_WEIGHTS}.")
    state = _read_state_dict(path)
    model = FIDInceptionV3()
    expected = model.state_dict()
    # BatchNorm's step counter is unused in eval mode and absent from older files: fill it in.
    for key, value in expected.items():
        if key.endswith(".num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
    _check_matches(state, expected, path)
    model.load_state_dict(state, strict=True)
    return model.eval()


class InceptionExtractor(ClassifierExtractor):
    """FID-Inception pool3 features (FID, KID, PRDC) and class probabilities (Inception Score) of uint8 images.

    Needs the user-supplied FID weights (see ``load_fid_inception``); any image size, grey or RGB.
    """

    name = "inception"
    feature_dim = FIDInceptionV3.feature_dim
    num_classes = FIDInceptionV3.num_classes

    def __init__(self, weights_path: str | Path, batch_size: int = 50) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}.")
        self.model = load_fid_inception(weights_path)
        self.batch_size = batch_size

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Pool3 features (B, 2048) and the 1008 logits of a [-1, 1] batch, grey or RGB."""
        if x.shape[1] not in (1, 3):
            raise DataError(
                f"the Inception extractor needs 1 or 3 channels first, (N, C, H, W), got shape "
                f"{tuple(x.shape)}; transpose channels-last images with images.transpose(0, 3, 1, 2)."
            )
        return self.model(x.expand(-1, 3, -1, -1))  # grey (B, 1, H, W) -> (B, 3, H, W); RGB unchanged
