"""The Inception extractors: FID-Inception features of uint8 images, prepared as a reference tool prepares them.

``InceptionExtractor`` (pool3, 2048-d) is also a classifier: its 1008 softmax probabilities
(fc without bias, see ``FIDInceptionV3``) give the Inception Score. ``InceptionBlockFeatures``
stops at an earlier block (``dims`` 64, 192 or 768, pytorch-fid's ``--dims``) and gives only
features. Both take any image size, grey or RGB, and resize by ``genlab.eval.resize``'s rule.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genlab.errors import ConfigError, DataError
from genlab.eval.extractors import ClassifierExtractor
from genlab.eval.inception import FIDInceptionV3, load_fid_inception
from genlab.eval.resize import ResizeRule, check_rule, inception_input
from genlab.eval.weights import weights_sha256


class InceptionBlockFeatures:
    """Features of one FID-Inception block (spatially averaged below pool3), no class probabilities."""

    name = "inception"

    def __init__(
        self, weights_path: str | Path, *, dims: int = 2048, resize: str = "pytorch-fid", batch_size: int = 50
    ) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}.")
        if dims not in FIDInceptionV3.BLOCK_DIMS:
            raise ConfigError(f"--dims must be one of {', '.join(map(str, FIDInceptionV3.BLOCK_DIMS))}, got {dims}")
        self.resize: ResizeRule = check_rule(resize)
        self.model = load_fid_inception(weights_path)
        self.weights_sha256 = weights_sha256(weights_path)
        self.feature_dim = dims
        self.batch_size = batch_size

    @property
    def settings(self) -> dict[str, object]:
        """What a number measured with this extractor depends on (recorded in statistics files)."""
        return {
            "extractor": self.name,
            "dims": self.feature_dim,
            "resize": self.resize,
            "weights": self.weights_sha256,
        }

    @torch.no_grad()
    def _run(self, images: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Shapes: uint8 (N, H, W) or (N, C, H, W), C in {1, 3} -> float64 (N, dims), (N, 1008) or None."""
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise DataError(f"the Inception extractor needs uint8 images (0..255), got {images.dtype}")
        if images.ndim == 3:
            images = images[:, None]  # (N, H, W) -> (N, 1, H, W)
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise DataError(
                f"the Inception extractor needs 1 or 3 channels first, (N, C, H, W), got shape {images.shape}; "
                "transpose channels-last images with images.transpose(0, 3, 1, 2)."
            )
        feats, logits = [], []
        for start in range(0, images.shape[0], self.batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[start : start + self.batch_size]))
            f, z = self.model(inception_input(batch, self.resize), dims=dims)
            feats.append(f.double().numpy())
            if z is not None:
                logits.append(z.double().numpy())
        features = np.concatenate(feats)
        if not np.isfinite(features).all():
            raise DataError("the Inception extractor produced NaN or infinite features; check the weights file")
        return features, np.concatenate(logits) if logits else None

    def features(self, images: np.ndarray) -> np.ndarray:
        """Shapes: uint8 (N, C, H, W) -> float64 (N, dims)."""
        return self._run(images, self.feature_dim)[0]


class InceptionExtractor(InceptionBlockFeatures, ClassifierExtractor):
    """Pool3 features (FID, KID, PRDC) and class probabilities (Inception Score) of uint8 images."""

    num_classes = FIDInceptionV3.num_classes

    def __init__(self, weights_path: str | Path, *, resize: str = "pytorch-fid", batch_size: int = 50) -> None:
        super().__init__(weights_path, dims=2048, resize=resize, batch_size=batch_size)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Pool3 features (B, 2048) and the 1008 bias-free logits of a batch already at the network's scale."""
        features, logits = self.model(x.expand(-1, 3, -1, -1))
        assert logits is not None  # pool3 always has logits
        return features, logits

    def features_and_probs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shapes: uint8 (N, C, H, W) -> float64 (N, 2048), (N, 1008); softmax in float64 as torch-fidelity."""
        features, logits = self._run(images, 2048)
        assert logits is not None
        return features, torch.softmax(torch.from_numpy(logits), 1).numpy()  # float32 logits, float64 softmax
