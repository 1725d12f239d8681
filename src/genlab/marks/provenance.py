"""Provenance metadata: what made an image, as PNG text chunks any PNG tool can read.

Each field becomes an iTXt chunk ``genlab:<field>``; ``Software`` and ``Description``
repeat the version and the AI-generated statement under the keywords image viewers
show. Nothing here depends on the clock, so the same inputs give byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from collections.abc import Mapping
from typing import Any

from genlab.errors import ConfigError, DataError, GenlabError
from genlab.version import __version__

STATEMENT = "AI-generated: this image was made by a generative model with genlab and does not show a real scene."
PREFIX = "genlab:"
SIGNATURE_KEY = "genlab:signature"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,60}$")
MAX_TEXT_BYTES = 1 << 20  # a text chunk over 1 MiB (after inflating) is refused: genlab writes a few kB


class ProvenanceError(GenlabError):
    """A PNG's provenance is missing, malformed or does not verify."""


def canonical_json(value: Any) -> str:
    """One spelling for one value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


# train keys that change how a run is watched, never what it trains: left out of its hashes, so adding them
# kept older runs' ids, and changing them on a resume keeps the run's id
WATCHING_KEYS = ("tracker", "progress_every")


def config_hash(config: Mapping[str, Any]) -> str:
    """Hash of a run's resolved config (family, model and train sections, as in config.yaml; the
    ``WATCHING_KEYS`` of train left out)."""
    kept = {k: config[k] for k in ("family", "model", "train") if k in config}
    if isinstance(kept.get("train"), Mapping):
        kept["train"] = {k: v for k, v in kept["train"].items() if k not in WATCHING_KEYS}
    return sha256_text(canonical_json(kept))


def run_id(config: Mapping[str, Any]) -> str:
    """A run's name for images and payloads: family plus 12 hex digits of its config without steps/epochs.

    Training is deterministic, so the same config is the same run wherever it lives (a copy,
    a renamed folder), and resuming it for more steps or epochs keeps its id.
    """
    train = {k: v for k, v in (config.get("train") or {}).items() if k not in ("steps", "epochs")}
    return f"{config['family']}-{config_hash({**config, 'train': train}).removeprefix('sha256:')[:12]}"


def run_fields(config: Mapping[str, Any]) -> dict[str, str]:
    """The fields every image of a run carries: generator family, run id, config hash; a distilled
    student's also name its teacher (run id and weights hash, from its config)."""
    fields = {"generator": str(config["family"]), "run_id": run_id(config), "config_hash": config_hash(config)}
    model = config.get("model") or {}
    if model.get("teacher_run_id"):
        fields.update(teacher_run_id=str(model["teacher_run_id"]), teacher_hash=str(model.get("teacher_hash", "")))
    return fields


def merge_fields(fields: Mapping[str, Any], visible_text: str | None, invisible_scheme: str | None) -> dict[str, Any]:
    """A caller's fields plus those the writer states itself, which win over the caller's.

    ``visible_watermark`` is the text this writer drew; when it drew none, a caller's
    value is kept (an input that already carried the mark), else it reads "off".
    """
    visible = visible_text if visible_text is not None else str(fields.get("visible_watermark", "off"))
    return {
        **fields,
        "ai_generated": STATEMENT,
        "genlab_version": __version__,
        "visible_watermark": visible,
        "invisible_watermark": invisible_scheme or str(fields.get("invisible_watermark", "off")),
    }


def text_chunks(fields: Mapping[str, Any]) -> dict[str, str]:
    """Keyword -> text of every chunk to write (without the signature)."""
    chunks = {"Software": f"genlab {__version__}", "Description": STATEMENT}
    for name, value in sorted(fields.items()):
        if not _FIELD_NAME.match(name):
            raise ConfigError(f"provenance field names must be lower_snake_case (a-z, 0-9, _), got {name!r}")
        chunks[PREFIX + name] = value if isinstance(value, str) else canonical_json(value)
    return chunks


def fields_of(chunks: Mapping[str, str]) -> dict[str, str]:
    """The ``genlab:<field>`` chunks as a field -> text dict."""
    return {k.removeprefix(PREFIX): v for k, v in chunks.items() if k.startswith(PREFIX) and k != SIGNATURE_KEY}


def read_text_chunks(data: bytes, name: str = "the file") -> dict[str, str]:
    """Every tEXt/zTXt/iTXt chunk of PNG bytes, by keyword.

    Fails closed: a chunk with a bad CRC or length, a keyword seen twice, an unknown
    compression or undecodable text raises :class:`ProvenanceError`; bytes that are not
    a PNG at all raise :class:`DataError`.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise DataError(f"{name} is not a PNG file")
    chunks: dict[str, str] = {}
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 12 > len(data):
            raise ProvenanceError(f"{name} is truncated (a chunk header is cut off)")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body, crc = data[pos + 8 : pos + 8 + length], data[pos + 8 + length : pos + 12 + length]
        if len(body) != length or len(crc) != 4 or zlib.crc32(kind + body) != int.from_bytes(crc, "big"):
            raise ProvenanceError(f"{name} has a corrupt {kind.decode('latin-1')!r} chunk (bad length or CRC)")
        if kind in TEXT_CHUNKS:
            key, text = _parse_text_chunk(kind, body, name)
            if key in chunks:
                raise ProvenanceError(f"{name} has the text chunk {key!r} twice")
            chunks[key] = text
        pos += 12 + length
        if kind == b"IEND":
            break
    return chunks


def _parse_text_chunk(kind: bytes, body: bytes, name: str) -> tuple[str, str]:
    """(keyword, text) of one text chunk (PNG spec, sections 11.3.4.3 - 11.3.4.5)."""
    try:
        key, _, rest = body.partition(b"\0")
        if kind == b"tEXt":
            return key.decode("latin-1"), _capped(rest).decode("latin-1")
        if kind == b"zTXt":
            if rest[:1] != b"\0":
                raise ValueError("unknown compression method")
            return key.decode("latin-1"), _inflate(rest[1:]).decode("latin-1")
        flag, method, rest = rest[0], rest[1], rest[2:]
        language, _, rest = rest.partition(b"\0")
        translated, _, text = rest.partition(b"\0")
        if flag not in (0, 1) or method != 0:
            raise ValueError("unknown compression")
        if key.startswith(PREFIX.encode()) and (
            language or translated
        ):  # not signed, so genlab's own chunks carry none
            raise ValueError("a genlab field with a language tag or translated keyword")
        return key.decode("latin-1"), (_inflate(text) if flag else _capped(text)).decode("utf-8")
    except (ValueError, IndexError, zlib.error) as e:
        raise ProvenanceError(f"{name} has a malformed {kind.decode()} chunk ({e})") from None


def _capped(text: bytes) -> bytes:
    if len(text) > MAX_TEXT_BYTES:
        raise ValueError(f"its text is over {MAX_TEXT_BYTES} bytes")
    return text


def _inflate(data: bytes) -> bytes:
    """zlib-decompress ``data``, stopping (and failing) past MAX_TEXT_BYTES: no decompression bomb."""
    stream = zlib.decompressobj()
    text = stream.decompress(data, MAX_TEXT_BYTES + 1)
    if len(text) > MAX_TEXT_BYTES:
        raise ValueError(f"its text inflates to over {MAX_TEXT_BYTES} bytes")
    if not stream.eof:
        raise ValueError("its compressed text is truncated")
    return text
