"""A run's publishing settings: what its PNGs carry, from its TrainConfig and run directory.

The trainer and ``genlab sample`` both call :func:`png_options`, so a run's sample grids
and the images sampled from it later carry the same marks and the same fields.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from genlab.config import TrainConfig, to_dict
from genlab.marks.invisible import InvisibleMark, pack_payload
from genlab.marks.keys import load_private_key, load_watermark_key
from genlab.marks.provenance import run_fields
from genlab.marks.visible import VisibleWatermark, warn_if_off


def short_id(text: str) -> int:
    """16-bit id of a name (first two bytes of its SHA-256), for the invisible payload."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:2], "big")


def payload_for(family: str, run_id: str) -> int:
    """The invisible mark's 32-bit payload: 16-bit model id (of the family) and run id."""
    return pack_payload(short_id(family), short_id(run_id))


def png_options(
    tc: TrainConfig,
    config: Mapping[str, Any],
    *,
    fields: Mapping[str, Any] | None = None,
    where: str = "sample grids",
) -> dict[str, Any]:
    """Keyword arguments for :func:`genlab.data.save_grid` / ``save_png`` for one run.

    ``config`` is the run's config as a dict (``RunConfig.to_dict()``); ``fields`` adds
    per-image provenance (checkpoint hash, seed, sampler settings). Prints the warning
    when the run has the visible mark off.
    """
    provenance = {**run_fields(config), **(fields or {})}
    watermark = VisibleWatermark(text=tc.watermark_text) if tc.visible_watermark else None
    warn_if_off(watermark, where)
    invisible = None
    if tc.watermark_key:
        invisible = InvisibleMark(
            load_watermark_key(tc.watermark_key), payload_for(str(config["family"]), provenance["run_id"])
        )
    sign_key = load_private_key(tc.sign_key) if tc.sign_key else None
    return {"watermark": watermark, "provenance": provenance, "invisible": invisible, "sign_key": sign_key}


SAMPLER_KEYS = ("sampler", "sample_steps", "guidance", "eta", "truncation", "sample_dtype", "sample_compile")


def sample_fields(
    model: Any, meta: Mapping[str, Any], checkpoint: str, seed: int, n: int, labels: Any, **extra: Any
) -> dict[str, Any]:
    """The provenance fields of images sampled from a checkpoint (``genlab sample`` and the web app).

    ``model`` is the run's model config (its sampler settings are recorded), ``meta`` the
    checkpoint's JSON (its step and SHA-256), ``extra`` more sampler fields (e.g. a prompt).
    """
    settings = {k: v for k, v in to_dict(model).items() if k in SAMPLER_KEYS}
    return {
        "checkpoint": f"step {meta['step']} ({checkpoint})",
        "checkpoint_hash": f"sha256:{meta['sha256']}",
        "seed": seed,
        "sampler": {**settings, "n": n, "labels": labels, **extra},
    }
