"""The sampler page and the latent explorer: requests in, watermarked PNG grids out.

Sampling goes through the functions ``genlab sample`` uses (``load_family`` with the
sampling-time overrides, ``sample_in_batches``, ``png_options``), so an image from the
web app carries the same marks and provenance fields as one from the command line.
Loaded families and finished PNGs are kept in :class:`genlab.web.cache.ModelCache`.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genlab.data import make_grid, to_uint8
from genlab.errors import ConfigError
from genlab.marks.png import publish_png
from genlab.math.interpolate import slerp
from genlab.models.base import sampling_keys
from genlab.models.latent import codec_labels, latent_codec
from genlab.runs.loading import grid_labels, sample_in_batches
from genlab.runs.marks import png_options, sample_fields
from genlab.runs.rundir import find_checkpoint
from genlab.web import forms
from genlab.web.cache import ModelCache
from genlab.web.runs import cached_config

MAX_N = 64  # images per request: the page shows one grid, and sampling holds the model lock
MAX_SEED = 2**32 - 1
MAX_FRAMES = 16
MIN_WIDTH = 112  # pixels: narrower grids are enlarged so "AI GENERATED" fits the band on one line
# form field -> the model-config key it overrides, when the family's config has that key
KNOBS = {
    "steps": "sample_steps",
    "guidance": "guidance",
    "truncation": "truncation",
    "sampler": "sampler",
    "eta": "eta",
}
_CHECKPOINT_RE = re.compile(r"^(latest|best|\d{1,9})$")


@dataclass(frozen=True)
class SampleRequest:
    """What the sampler form asks for; None means "the run's own setting"."""

    run: str
    n: int = 16
    seed: int = 0
    label: int | None = None
    steps: int | None = None
    guidance: float | None = None
    truncation: float | None = None
    sampler: str | None = None
    eta: float | None = None
    checkpoint: str = "latest"


@dataclass(frozen=True)
class ExploreRequest:
    """Two seeds and where to stand between them: one frame at ``t``, or ``frames`` evenly spaced."""

    run: str
    a: int = 0
    b: int = 1
    t: float = 0.5
    frames: int | None = None
    label: int | None = None
    checkpoint: str = "latest"


@dataclass(frozen=True)
class Rendered:
    """A finished PNG and what the page says about it."""

    png: bytes
    family: str
    fields: dict[str, Any]  # the provenance fields written into the PNG
    notes: tuple[str, ...] = ()  # settings that were ignored, and why


def _checkpoint(form: Mapping[str, str]) -> str:
    value = forms.text(form, "checkpoint") or "latest"
    if not _CHECKPOINT_RE.match(value):
        raise ConfigError(f"checkpoint must be latest, best or a step number, got {value!r}")
    return value


def parse_sample_request(form: Mapping[str, str]) -> SampleRequest:
    """A :class:`SampleRequest` from form/query fields; a bad field raises ConfigError naming it."""
    return SampleRequest(
        run=forms.text(form, "run") or "",
        n=forms.integer(form, "n", 1, MAX_N, 16),
        seed=forms.integer(form, "seed", 0, MAX_SEED, 0),
        label=forms.integer(form, "label", 0, 9999),
        steps=forms.integer(form, "steps", 1, 100_000),
        guidance=forms.number(form, "guidance", 0.0, 100.0),
        truncation=forms.number(form, "truncation", 0.0, 10.0),
        sampler=forms.choice(form, "sampler", ("ddim", "ddpm")),
        eta=forms.number(form, "eta", 0.0, 1.0),
        checkpoint=_checkpoint(form),
    )


def parse_explore_request(form: Mapping[str, str]) -> ExploreRequest:
    """An :class:`ExploreRequest` from form/query fields."""
    return ExploreRequest(
        run=forms.text(form, "run") or "",
        a=forms.integer(form, "a", 0, MAX_SEED, 0),
        b=forms.integer(form, "b", 0, MAX_SEED, 1),
        t=forms.number(form, "t", 0.0, 1.0, 0.5),
        frames=forms.integer(form, "frames", 2, MAX_FRAMES),
        label=forms.integer(form, "label", 0, 9999),
        checkpoint=_checkpoint(form),
    )


def knobs_of(family) -> dict[str, bool]:
    """Which sampler-form fields apply to a loaded family (guidance needs a conditional one)."""
    takes = sampling_keys(family)
    available = {name: key in takes for name, key in KNOBS.items()}
    available["guidance"] = available["guidance"] and bool(family.conditional)
    available["label"] = bool(family.conditional)
    return available


def split_request(req: SampleRequest, family) -> tuple[dict[str, Any], list[str]]:
    """(model-config overrides, notes on the fields this family ignores)."""
    knobs, overrides, notes = knobs_of(family), {}, []
    for name, key in KNOBS.items():
        value = getattr(req, name)
        if value is None:
            continue
        if knobs[name]:
            overrides[key] = value
        else:
            notes.append(f"{name} ignored: {family.registry_name} has no {name} setting")
    if req.label is not None and not knobs["label"]:
        notes.append(f"class ignored: {family.registry_name} is unconditional")
    return overrides, notes


def _cache_key(kind: str, run_dir: Path, req: Any) -> tuple:
    path = find_checkpoint(run_dir, req.checkpoint)
    return (kind, str(run_dir), str(path), path.stat().st_mtime_ns, dataclasses.astuple(req))


def enlarge(grid: np.ndarray, min_width: int = MIN_WIDTH) -> tuple[np.ndarray, int]:
    """(grid repeated k times along both axes, k), k the smallest integer making it ``min_width`` wide.

    Nearest-neighbour, so every model pixel becomes a k x k block. Shapes: (H, W) or
    (H, W, 3) -> (kH, kW) or (kH, kW, 3).
    """
    k = max(1, math.ceil(min_width / grid.shape[1]))
    return (grid.repeat(k, axis=0).repeat(k, axis=1), k) if k > 1 else (grid, 1)


def _publish(run_dir: Path, run, grid: np.ndarray, fields: dict[str, Any], where: str) -> bytes:
    """The grid as a PNG with the run's visible mark, provenance (and key-based marks if configured).

    A grid narrower than :data:`MIN_WIDTH` (one or two 28-pixel images) is enlarged first, so
    the mark's text fits on one line; the metadata records the factor as ``pixel_scale``."""
    grid, k = enlarge(grid)
    if k > 1:
        fields["pixel_scale"] = k
    return publish_png(grid, **png_options(run.train, cached_config(run_dir).to_dict(), fields=fields, where=where))


def render_samples(cache: ModelCache, run_dir: Path, req: SampleRequest) -> Rendered:
    """``req.n`` samples of the run as one watermarked PNG grid with provenance."""

    def make() -> Rendered:
        with cache.lock:
            base, _, _ = cache.family(run_dir, req.checkpoint)
            overrides, notes = split_request(req, base)
            family, run, meta = cache.family(run_dir, req.checkpoint, overrides)
            labels, nrow = None, None
            if family.conditional:
                k = family.info.num_classes
                if req.label is not None and not 0 <= req.label < k:
                    raise ConfigError(f"class must be in 0..{k - 1} for {run.family}, got {req.label}")
                labels = torch.full((req.n,), req.label) if req.label is not None else grid_labels(req.n, k)
                nrow = None if req.label is not None else min(k, req.n)  # one column per class
            images = sample_in_batches(family, req.n, labels=labels, seed=req.seed)  # (N, C, H, W) uint8
        fields = sample_fields(run.model, meta, req.checkpoint, req.seed, req.n, req.label)
        png = _publish(run_dir, run, make_grid(images, nrow=nrow), fields, "web sampler images")
        return Rendered(png, run.family, fields, tuple(notes))

    return cache.render(_cache_key("sample", run_dir, req), make)


def render_interpolation(cache: ModelCache, run_dir: Path, req: ExploreRequest) -> Rendered:
    """The image at ``t`` on the spherical path between the latents of seeds ``a`` and ``b``
    (or ``frames`` images along it), watermarked, with provenance."""

    def make() -> Rendered:
        with cache.lock:
            family, run, meta = cache.family(run_dir, req.checkpoint)
            codec = latent_codec(family)
            z0 = codec.draw(1, torch.Generator().manual_seed(req.a))  # (1, ...) from the prior
            z1 = codec.draw(1, torch.Generator().manual_seed(req.b))
            t = torch.tensor([req.t]) if req.frames is None else torch.linspace(0, 1, req.frames)
            notes = []
            labels = codec_labels(family, codec, req.label, len(t), name="class")
            if labels is None and req.label is not None:
                notes.append(
                    f"class ignored: {run.family} "
                    f"{'is unconditional' if not family.conditional else 'decodes without a class'}"
                )
            images = to_uint8(codec.decode(slerp(z0[0], z1[0], t), labels))  # (S, C, H, W)
        fields = {
            "checkpoint": f"step {meta['step']} ({req.checkpoint})",
            "checkpoint_hash": f"sha256:{meta['sha256']}",
            "interpolation": {
                "path": "slerp",
                "from_seed": req.a,
                "to_seed": req.b,
                "t": [round(float(v), 6) for v in t],
                "label": req.label,
            },
        }
        png = _publish(run_dir, run, make_grid(images, nrow=len(t)), fields, "web latent explorer images")
        return Rendered(png, run.family, fields, tuple(notes))

    return cache.render(_cache_key("explore", run_dir, req), make)
