"""The public Python API: train a family, load a run, sample, evaluate, each in a line or two.

Shaped like the libraries people already use — a diffusers pipeline's ``from_pretrained``
then call, pythae's ``TrainingPipeline``, scikit-learn's fit-then-score::

    import genlab

    run = genlab.train("vae", steps=50, out="runs/vae-api", latent_dim=8)   # any config key
    images = run.sample(16, seed=1)                # uint8 (16, 1, 28, 28)
    scores = run.evaluate(n=500)                   # fid, kid, precision, recall, ...
    same = genlab.load("runs/vae-api")             # a run trained earlier (or by the CLI)

Everything here is what ``genlab train``, ``sample`` and ``eval`` do, in Python.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.config import BUDGET_ONLY_STEPS, TrainConfig, apply_overrides, from_dict, load_yaml
from genlab.data import is_named, save_grid
from genlab.errors import ConfigError
from genlab.models.base import Family
from genlab.models.registry import family_names, get_family
from genlab.models.translate_parts import data_pairs
from genlab.publish.card import write_card
from genlab.runs import RunConfig, load_family, read_config, read_metrics, sample_in_batches
from genlab.training import StepClock, TrainResult
from genlab.training import train as run_trainer

__all__ = ["Run", "evaluate", "extend", "families", "load", "run_config", "save_grid", "train", "train_and_publish"]


def families() -> list[str]:
    """The registered model family names (``genlab list``)."""
    return family_names()


def run_config(
    family: str | None = None,
    *,
    preset: str | None = None,
    config_file: str | Path | None = None,
    sets: dict[str, Any] | None = None,
    **overrides: Any,
) -> RunConfig:
    """A checked :class:`RunConfig`: defaults <- ``preset`` <- ``config_file`` <- ``overrides`` <- ``sets``.

    ``overrides`` and ``sets`` name any model or trainer field (``steps=50``, ``lr=2e-4``,
    ``latent_dim=8``); an unknown name is a :class:`ConfigError` that lists the known ones.
    ``epochs`` without ``steps`` means "train for epochs" (steps 0), as on the command line.
    ``max_minutes`` with neither ``steps`` nor ``epochs`` named (here or in the config file)
    means "train until the budget": steps become the :data:`BUDGET_ONLY_STEPS` cap, so a
    recipe's ``--set max_minutes=10`` trains for 10 minutes, not one epoch.
    """
    file_data = load_yaml(str(config_file)) if config_file else {}
    name = family or file_data.get("family")
    if name is None:
        raise ConfigError("name a model family (see `genlab list`), or pass --resume DIR")
    if family and file_data.get("family") not in (None, family):
        raise ConfigError(f"--config is for family {file_data['family']!r}, not {family!r}")
    spec = get_family(name)
    if preset is not None and preset not in spec.presets:
        raise ConfigError(f"{name} has no preset {preset!r}; presets: {', '.join(spec.presets) or 'none'}")
    model = from_dict(spec.config_cls, {**spec.presets.get(preset or "", {}), **(file_data.get("model") or {})})
    tc = from_dict(TrainConfig, {"dataset": spec.dataset, **(file_data.get("train") or {})})
    flags = {k: v for k, v in overrides.items() if v is not None}
    if "epochs" in flags and "steps" not in flags:
        flags["steps"] = 0
    tc, model = apply_overrides([tc, model], flags)
    tc, model = apply_overrides([tc, model], dict(sets or {}))
    named = {**(file_data.get("train") or {}), **flags, **dict(sets or {})}
    if tc.max_minutes > 0 and "steps" not in named and "epochs" not in named:
        tc = dataclasses.replace(tc, steps=BUDGET_ONLY_STEPS)
    tc.check()
    model.check()
    layout = data_pairs(spec.family_cls, tc.pair_layout, not is_named(tc.dataset), spec.name)  # auto -> what it reads
    return RunConfig(spec.name, model, dataclasses.replace(tc, pair_layout=layout))


def train(
    family: str | RunConfig,
    *,
    out: str | Path,
    preset: str | None = None,
    resume: bool = False,
    quiet: bool = True,
    device: str | torch.device = "cpu",
    data_dir: str | Path | None = None,
    clock: StepClock | None = None,
    **overrides: Any,
) -> Run:
    """Train a family (a name plus config overrides, or a :class:`RunConfig`) into ``out``; the :class:`Run`.

    ``genlab.train("dcgan", steps=200, out="runs/d", base_channels=16)`` is
    ``genlab train dcgan --steps 200 --out runs/d --set base_channels=16``. With
    ``resume=True`` the run in ``out`` continues (``steps``/``epochs`` may extend it).
    The model card is written when the run completes.
    """
    out = Path(out)
    if resume:
        run = extend(read_config(out), **_length(overrides))
    elif isinstance(family, RunConfig):
        run = _with(family, overrides)
    else:
        run = run_config(family, preset=preset, **overrides)
    if not resume and (out / "config.yaml").exists():
        raise ConfigError(f"{out} already holds a run; continue it with resume=True or choose another out")
    result = train_and_publish(run, out, resume=resume, quiet=quiet, device=device, data_dir=data_dir, clock=clock)
    return Run(out, result=result)


def train_and_publish(run: RunConfig | None, run_dir: str | Path, **kwargs: Any) -> TrainResult:
    """:func:`genlab.training.train`, then the model card once the run is complete (on the main rank)."""
    result = run_trainer(run, run_dir, **kwargs)
    if result.complete and result.main_process:
        write_card(result.run_dir)
    return result


def load(run_dir: str | Path, checkpoint: str = "latest") -> Run:
    """A run trained earlier (by :func:`train` or ``genlab train``); nothing is read until used."""
    run_dir = Path(run_dir)
    read_config(run_dir)  # a path that is not a run fails here, in one clear line
    return Run(run_dir, checkpoint=checkpoint)


@dataclass
class Run:
    """A run directory: its config, metrics, trained family, samples and scores."""

    path: Path
    checkpoint: str = "latest"
    result: TrainResult | None = None  # set when this object trained it
    _family: Family | None = field(default=None, init=False, repr=False)

    @property
    def config(self) -> RunConfig:
        """The run's config (``config.yaml``)."""
        return read_config(self.path)

    @property
    def family(self) -> Family:
        """The trained family at :attr:`checkpoint`, loaded on first use (on the CPU, in eval mode)."""
        if self._family is None:
            self._family, _, _ = load_family(self.path, self.checkpoint)
        return self._family

    def metrics(self) -> list[dict[str, Any]]:
        """Every record of ``metrics.jsonl``: losses, held-out metrics, in-training FID."""
        return read_metrics(self.path)

    def sample(
        self,
        n: int,
        *,
        labels: list[int] | np.ndarray | torch.Tensor | None = None,
        seed: int = 0,
        batch_size: int = 500,
        **sampling: Any,
    ) -> np.ndarray:
        """``n`` images as uint8 (n, C, H, W), seeded; a conditional family takes ``labels``
        (default: 0, 1, ..., K-1 repeated), the same as ``genlab sample``.

        ``sampling`` changes sampling-time config keys for this call only, e.g. a diffusion
        run's ``sampler="ddim", sample_steps=50, guidance=3.0`` or StyleGAN's ``truncation=0.7``.
        """
        if n < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        family = load_family(self.path, self.checkpoint, sampling)[0] if sampling else self.family
        if labels is None and family.conditional:
            labels = torch.arange(n) % family.info.num_classes
        if labels is not None:
            if not family.conditional:
                raise ConfigError(f"labels need a conditional family; {family.registry_name} is unconditional")
            labels = torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1)
            if labels.numel() != n or (labels < 0).any() or (labels >= family.info.num_classes).any():
                raise ConfigError(f"labels must be {n} values in 0..{family.info.num_classes - 1}")
        return sample_in_batches(family, n, labels=labels, seed=seed, batch_size=batch_size)

    def evaluate(
        self, n: int = 2000, *, seed: int = 0, reference: str | None = None, data_dir: str | Path | None = None
    ) -> dict[str, Any]:
        """FID, KID, IS, modes and precision/recall/density/coverage of ``n`` fresh samples
        against the test split of the run's data (``genlab eval RUN -n N --json``)."""
        from genlab.eval.evaluate import Evaluator, default_extractor, load_reference, run_reference
        from genlab.eval.extractors import get_extractor

        train = self.config.train
        images = self.sample(n, seed=seed)
        labels = (torch.arange(n) % self.family.info.num_classes).numpy() if self.family.conditional else None
        extractor = get_extractor(default_extractor(train.dataset, images.shape[1:], "digits"))
        ref = load_reference(reference, data_dir) if reference else run_reference(train, data_dir)
        evaluator = Evaluator(ref, extractor, seed=seed)
        return evaluator(images, labels)

    def classify(
        self,
        n: int | None = None,
        *,
        prior: str = "train",
        iwae_k: int = 10,
        timesteps: int = 20,
        noise: float = 0.0,
        seed: int = 0,
        split: str = "test",
        data: str | None = None,
        data_dir: str | Path | None = None,
    ) -> dict[str, Any]:
        """A class-conditional run (cvae, conditional ddpm) as a classifier by Bayes' rule on the first ``n``
        images of ``split``: accuracy, ECE, label NLL, per-class accuracy (``genlab classify RUN --json``)."""
        from genlab.eval.bayes_classifier import classify_run

        return classify_run(
            self.path,
            data=data,
            split=split,
            n=n,
            prior=prior,
            iwae_k=iwae_k,
            timesteps=timesteps,
            noise=noise,
            seed=seed,
            checkpoint=self.checkpoint,
            data_dir=data_dir,
        )


def extend(run: RunConfig, steps: int | None = None, epochs: int | None = None) -> RunConfig:
    """``run`` with a new length (``steps``, or ``epochs`` with steps 0), to continue it further."""
    if steps is None and epochs is None:
        return run
    length = {"steps": steps if steps is not None else 0, **({"epochs": epochs} if epochs is not None else {})}
    return RunConfig(run.family, run.model, apply_overrides([run.train], length)[0])


def evaluate(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    reference: str = "mnist-test",
    extractor: str | None = None,
    seed: int = 0,
    data_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Score uint8 images (N, C, H, W) against a reference (``genlab eval SAMPLES.npz --json``):
    FID, KID, IS, modes, precision/recall/density/coverage; ``labels`` add conditional accuracy.
    ``extractor`` defaults to the digit classifier for 28x28 grey images, the shapes one for 64x64 RGB."""
    from genlab.eval.evaluate import Evaluator, default_extractor, load_reference
    from genlab.eval.extractors import get_extractor

    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ConfigError(f"images must be uint8 (N, C, H, W), got {images.dtype} {images.shape}")
    name = extractor or default_extractor(None, images.shape[1:], "digits")
    return Evaluator(load_reference(reference, data_dir), get_extractor(name), seed=seed)(images, labels)


def _with(run: RunConfig, overrides: dict[str, Any]) -> RunConfig:
    """``run`` with model or trainer fields changed (checked)."""
    if not overrides:
        return run
    tc, model = apply_overrides([run.train, run.model], overrides)
    tc.check()
    model.check()
    return RunConfig(run.family, model, tc)


def _length(overrides: dict[str, Any]) -> dict[str, Any]:
    """The only changes a resume takes: ``steps`` / ``epochs``."""
    extra = set(overrides) - {"steps", "epochs"}
    if extra:
        raise ConfigError(f"a resume continues a run as configured; only steps/epochs may change, not {sorted(extra)}")
    return {k: v for k, v in overrides.items() if v is not None}
