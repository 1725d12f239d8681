"""Compose a PNG for people: visible mark, invisible mark, provenance chunks, signature.

:func:`genlab.data.save_png` and :func:`genlab.data.save_grid` call this, so every PNG
genlab writes goes through one path.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, PngImagePlugin

from genlab.marks.invisible import SCHEME, InvisibleMark, embed
from genlab.marks.keys import load_private_key
from genlab.marks.provenance import SIGNATURE_KEY, merge_fields, text_chunks
from genlab.marks.signing import signature_text
from genlab.marks.visible import VisibleWatermark, apply_visible

SignKey = Ed25519PrivateKey | str | os.PathLike


def publish_png(
    array: np.ndarray,
    *,
    watermark: VisibleWatermark | None,
    provenance: Mapping[str, Any] | None = None,
    invisible: InvisibleMark | None = None,
    sign_key: SignKey | None = None,
) -> bytes:
    """PNG bytes of uint8 ``array`` (H, W) or (H, W, 3) with the marks and metadata asked for.

    Order matters: the visible mark changes the pixels, the invisible one is embedded in
    the final pixels, and the signature covers the pixels and every text chunk as written.
    """
    picture = np.ones(array.shape[:2], bool)
    if watermark is not None:
        array = apply_visible(array, watermark)
        picture = np.arange(array.shape[0])[:, None] < picture.shape[0]  # (H + band, 1): the band stays clean
        picture = np.broadcast_to(picture, array.shape[:2])
    if invisible is not None:
        array = embed(array, invisible.key, invisible.payload, invisible.strength, editable=picture)
    chunks = text_chunks(
        merge_fields(provenance or {}, None if watermark is None else watermark.text, SCHEME if invisible else None)
    )
    image = Image.fromarray(np.ascontiguousarray(array))
    if sign_key is not None:
        key = sign_key if isinstance(sign_key, Ed25519PrivateKey) else load_private_key(sign_key)
        chunks[SIGNATURE_KEY] = signature_text(key, chunks, image)
    info = PngImagePlugin.PngInfo()
    for keyword, text in chunks.items():
        info.add_itxt(keyword, text)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()
