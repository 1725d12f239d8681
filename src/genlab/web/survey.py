"""Drawing survey items: a real MNIST test image or a fresh sample of a trained run, at random.

Survey images carry no visible mark, real or generated alike, or the "AI GENERATED" band
would answer the question the survey asks. Generated ones keep their provenance (and the
run's invisible mark and signature, when it has keys) in the PNG metadata; real ones are
plain PNGs. Which is which is stored in the database, never sent to the browser.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genlab.data import load_dataset
from genlab.errors import ConfigError
from genlab.marks.png import publish_png
from genlab.runs.loading import sample_in_batches
from genlab.runs.marks import png_options
from genlab.web.cache import ModelCache
from genlab.web.runs import cached_config, gallery
from genlab.web.sampling import MAX_SEED
from genlab.web.survey_db import SurveyItem

REAL_SOURCE = "real"
SURVEY_DATASET = "mnist"  # generated images are compared with this data set's test split
PURPOSE = "blind human-rating survey item (visible mark left off so the test is blind)"


def plain_png(array: np.ndarray) -> bytes:
    """PNG bytes of a uint8 (H, W) or (H, W, 3) real image, without any genlab metadata."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array)).save(buffer, format="PNG")
    return buffer.getvalue()


def _hwc(image: np.ndarray) -> np.ndarray:
    """(C, H, W) uint8 -> (H, W) for one channel, (H, W, 3) for three."""
    return image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)


class SurveySource:
    """Where survey images come from: ``runs_root``'s MNIST runs (all, or ``run_names``) and
    the MNIST test split; ``real_share`` of the items are real."""

    def __init__(
        self,
        runs_root: Path,
        cache: ModelCache,
        *,
        run_names: list[str] | None = None,
        data_dir: str | Path | None = None,
        real_share: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        if not 0.0 < real_share < 1.0:
            raise ConfigError(f"real_share must lie in (0, 1), got {real_share}")
        self.runs_root, self.cache, self.data_dir, self.real_share = Path(runs_root), cache, data_dir, real_share
        self.run_names = list(run_names) if run_names else None
        self.rng = rng or random.SystemRandom()
        self._real: np.ndarray | None = None
        if self.run_names:
            have = {r.name for r in self._eligible(None)}
            missing = [n for n in self.run_names if n not in have]
            if missing:
                raise ConfigError(
                    f"--survey-runs {', '.join(missing)}: not MNIST runs with checkpoints under {self.runs_root}; "
                    f"candidates: {', '.join(sorted(have)) or 'none'}"
                )

    def _eligible(self, names: list[str] | None):
        rows = [r for r in gallery(self.runs_root) if r.can_sample and r.dataset == SURVEY_DATASET]
        return [r for r in rows if names is None or r.name in names]

    def models(self) -> list[str]:
        """Names of the runs the survey samples from."""
        return [r.name for r in self._eligible(self.run_names)]

    def real_images(self) -> np.ndarray:
        if self._real is None:
            self._real = load_dataset(SURVEY_DATASET, "test", self.data_dir)[0]  # (N, 1, 28, 28) uint8
        return self._real

    def draw(self) -> tuple[SurveyItem, bytes]:
        """One item and its PNG; real with probability ``real_share`` (always real without runs)."""
        runs = self._eligible(self.run_names)
        if not runs or self.rng.random() < self.real_share:
            images = self.real_images()
            index = self.rng.randrange(images.shape[0])
            return SurveyItem(REAL_SOURCE, True, image_index=index), plain_png(_hwc(images[index]))
        row = runs[self.rng.randrange(len(runs))]
        seed = self.rng.randrange(MAX_SEED + 1)
        with self.cache.lock:
            family, run, meta = self.cache.family(row.path, "latest")
            label = self.rng.randrange(family.info.num_classes) if family.conditional else None
            labels = None if label is None else torch.tensor([label])
            image = sample_in_batches(family, 1, labels=labels, seed=seed)[0]  # (C, H, W) uint8
        fields = {
            "checkpoint": f"step {meta['step']} (latest)",
            "checkpoint_hash": f"sha256:{meta['sha256']}",
            "seed": seed,
            "purpose": PURPOSE,
        }
        options = png_options(run.train, cached_config(row.path).to_dict(), fields=fields, where="survey images")
        png = publish_png(_hwc(image), **{**options, "watermark": None})
        item = SurveyItem(
            row.name, False, family=run.family, checkpoint_step=int(meta["step"]), seed=seed, label=label
        )
        return item, png
