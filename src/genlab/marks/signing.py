"""Ed25519 signatures over a PNG's provenance and pixels.

The signed message is ``DOMAIN || SHA-256(canonical JSON of every other text chunk) ||
SHA-256(mode, size and decoded pixel bytes)``: editing a pixel, editing, adding or
removing any text chunk, or swapping the signature all break it. Verification fails
closed: anything it does not understand is a failure, never a pass.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from PIL import Image, UnidentifiedImageError

from genlab.errors import DataError
from genlab.files import MIB, loads_json, read_bytes
from genlab.marks.keys import fingerprint, public_bytes
from genlab.marks.provenance import SIGNATURE_KEY, ProvenanceError, canonical_json, fields_of, read_text_chunks

ALGORITHM = "ed25519"
DOMAIN = b"genlab-provenance/1\n"


@dataclass(frozen=True)
class Verified:
    """A valid signature: who signed (key fingerprint) and what (the fields)."""

    fingerprint: str
    trusted: bool  # the signer is the key passed to verify_png, not just the key the file names
    fields: dict[str, str]


def pixel_digest(image: Image.Image) -> bytes:
    """SHA-256 of an image's mode, size and decoded pixel bytes."""
    header = f"{image.mode} {image.size[0]}x{image.size[1]}\n".encode()
    return hashlib.sha256(header + image.tobytes()).digest()


def signed_message(chunks: dict[str, str], pixels: bytes) -> bytes:
    return DOMAIN + hashlib.sha256(canonical_json(chunks).encode("utf-8")).digest() + pixels


def signature_text(key: Ed25519PrivateKey, chunks: dict[str, str], image: Image.Image) -> str:
    """The ``genlab:signature`` chunk for ``chunks`` (without a signature) and ``image``."""
    signature = key.sign(signed_message(chunks, pixel_digest(image)))
    return signature_json(public_bytes(key.public_key()), signature)


def verify_png(path: str | os.PathLike, trusted: Ed25519PublicKey | None = None) -> Verified:
    """Check the signature of a PNG genlab wrote; raise :class:`ProvenanceError` unless it holds.

    With ``trusted``, the file must also be signed by that key. A missing file or a file
    that is not a PNG raises :class:`DataError` (bad input rather than a failed check).
    """
    path = Path(path)
    data = read_bytes(path, 256 * MIB, "image", DataError)  # a regular file: never /dev/zero or a FIFO
    chunks = read_text_chunks(data, str(path))
    if SIGNATURE_KEY not in chunks:
        raise ProvenanceError(f"{path} is not signed (no {SIGNATURE_KEY} chunk)")
    public, signature = _parse_signature(chunks.pop(SIGNATURE_KEY), path)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            digest = pixel_digest(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise ProvenanceError(f"{path}: the pixel data cannot be decoded ({e})") from None
    if trusted is not None and public_bytes(public) != public_bytes(trusted):
        raise ProvenanceError(
            f"{path} is signed by {fingerprint(public)}, not by the trusted key {fingerprint(trusted)}"
        )
    try:
        public.verify(signature, signed_message(chunks, digest))
    except InvalidSignature:
        raise ProvenanceError(
            f"{path}: the signature does not match; its pixels or metadata were changed after signing"
        ) from None
    return Verified(fingerprint(public), trusted is not None, fields_of(chunks))


def _parse_signature(text: str, path: Path) -> tuple[Ed25519PublicKey, bytes]:
    try:
        doc = loads_json(text)
    except json.JSONDecodeError:
        raise ProvenanceError(f"{path}: the signature chunk is not valid JSON") from None
    if not isinstance(doc, dict) or set(doc) != {"algorithm", "public_key", "signature"}:
        raise ProvenanceError(f"{path}: the signature chunk must hold exactly algorithm, public_key and signature")
    if doc["algorithm"] != ALGORITHM:
        raise ProvenanceError(
            f"{path}: unknown signature algorithm {doc['algorithm']!r} (only {ALGORITHM} is accepted)"
        )
    try:
        raw_key = base64.b64decode(doc["public_key"], validate=True)
        signature = base64.b64decode(doc["signature"], validate=True)
        public = Ed25519PublicKey.from_public_bytes(raw_key)
    except (TypeError, ValueError, binascii.Error):
        raise ProvenanceError(f"{path}: the signature chunk holds a malformed key or signature") from None
    if len(signature) != 64:
        raise ProvenanceError(f"{path}: an Ed25519 signature has 64 bytes, this one {len(signature)}")
    if text != signature_json(raw_key, signature):  # one spelling only: the chunk is not itself signed
        raise ProvenanceError(f"{path}: the signature chunk is not in canonical form (was it edited?)")
    return public, signature


def signature_json(raw_public_key: bytes, signature: bytes) -> str:
    """The text of a ``genlab:signature`` chunk: canonical JSON, standard base64."""
    return canonical_json(
        {
            "algorithm": ALGORITHM,
            "public_key": base64.b64encode(raw_public_key).decode(),
            "signature": base64.b64encode(signature).decode(),
        }
    )
