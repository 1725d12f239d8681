"""Key files: an Ed25519 key pair for signing provenance, a secret key for the invisible mark.

Private files are written with 0600 permissions from the start (never readable by others,
not even for a moment) and are never overwritten.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from genlab.atomic import atomic_write_bytes
from genlab.errors import ConfigError
from genlab.files import MAX_KEY_BYTES, read_bytes

PRIVATE_NAME = "signing-key.pem"
PUBLIC_NAME = "signing-key.pub.pem"
WATERMARK_NAME = "watermark.key"
WATERMARK_KEY_BYTES = 32


@dataclass(frozen=True)
class KeyFiles:
    private: Path
    public: Path
    watermark: Path
    fingerprint: str


def new_keys(out_dir: str | os.PathLike) -> KeyFiles:
    """Make a fresh signing key pair and watermark key in ``out_dir``; refuses to overwrite."""
    out = Path(out_dir)
    files = KeyFiles(out / PRIVATE_NAME, out / PUBLIC_NAME, out / WATERMARK_NAME, "")
    taken = [p.name for p in (files.private, files.public, files.watermark) if p.exists()]
    if taken:
        raise ConfigError(f"{out} already holds {', '.join(taken)}; choose another --out (keys are never overwritten)")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_secret(files.private, pem)
    write_secret(files.watermark, (secrets.token_bytes(WATERMARK_KEY_BYTES).hex() + "\n").encode())
    public = private.public_key()
    atomic_write_bytes(
        files.public, public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return KeyFiles(files.private, files.public, files.watermark, fingerprint(public))


def write_secret(path: Path, data: bytes) -> Path:
    """Write ``data`` atomically with permissions 0600 (the umask is tightened for the write)."""
    previous = os.umask(0o077)
    try:
        return atomic_write_bytes(path, data)
    finally:
        os.umask(previous)


def load_private_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    """An Ed25519 private key from a PEM file (as ``genlab keys new`` writes)."""
    key = _load(path, "private", lambda data: serialization.load_pem_private_key(data, password=None))
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: str | os.PathLike) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file."""
    key = _load(path, "public", serialization.load_pem_public_key)
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


def load_watermark_key(path: str | os.PathLike) -> bytes:
    """The secret of the invisible watermark: a file of hex digits (``watermark.key``)."""
    data = read_bytes(
        path,
        MAX_KEY_BYTES,
        "watermark key file",
        ConfigError,
        missing=f"watermark key file {path} does not exist (make one with genlab keys new)",
    )  # a regular file of at most 64 KiB: never /dev/zero or a FIFO
    try:
        key = bytes.fromhex(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise ConfigError(
            f"{path} is not a watermark key file (expected {2 * WATERMARK_KEY_BYTES} hex digits)"
        ) from None
    if len(key) < 16:
        raise ConfigError(f"{path} holds a {len(key)}-byte watermark key; at least 16 bytes are needed")
    return key


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """``SHA256:<base64>`` of the raw public key, the form OpenSSH prints."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(public_bytes(key)).digest()).decode().rstrip("=")


def _load(path, kind: str, parse):
    data = read_bytes(path, MAX_KEY_BYTES, f"{kind} key file", ConfigError)
    try:
        return parse(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(f"{path} is not a PEM {kind} key (make a key pair with genlab keys new)") from None
