"""Signed provenance: valid on untouched files, invalid after any change to pixels or metadata."""

import io
import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from genlab.data import save_png
from genlab.errors import ConfigError, DataError
from genlab.marks.keys import load_private_key, load_public_key, load_watermark_key, new_keys
from genlab.marks.provenance import SIGNATURE_KEY, ProvenanceError, read_text_chunks
from genlab.marks.signing import verify_png


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return new_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def signed(tmp_path, keys, mnist_images):
    return save_png(
        tmp_path / "signed.png", mnist_images[0], provenance={"generator": "dcgan", "seed": 3}, sign_key=keys.private
    )


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def rebuild(parts: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(struct.pack(">I4s", len(b), k) + b + struct.pack(">I", zlib.crc32(k + b)) for k, b in parts)
    return b"\x89PNG\r\n\x1a\n" + body


def itxt(keyword: str, text: str) -> bytes:
    return keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8")


def edit_text(data: bytes, keyword: str, text: str) -> bytes:
    return rebuild(
        [
            (k, itxt(keyword, text) if k == b"iTXt" and b.startswith(keyword.encode() + b"\0") else b)
            for k, b in chunks(data)
        ]
    )


def test_untouched_file_verifies_and_names_its_signer(signed, keys):
    result = verify_png(signed, load_public_key(keys.public))
    assert result.trusted and result.fingerprint == keys.fingerprint
    assert result.fields["generator"] == "dcgan" and result.fields["seed"] == "3"
    assert (
        result.fields["ai_generated"].startswith("AI-generated")
        and result.fields["visible_watermark"] == "AI GENERATED"
    )
    assert not verify_png(signed).trusted  # without --key: the key the file names


def test_one_changed_pixel_is_caught(signed, tmp_path):
    with Image.open(signed) as image:
        pixels = np.asarray(image).copy()
        text = read_text_chunks(signed.read_bytes())
    pixels[5, 5] ^= 1
    info = PngImagePlugin.PngInfo()
    for k, v in text.items():
        info.add_itxt(k, v)
    Image.fromarray(pixels).save(tmp_path / "pixel.png", pnginfo=info)
    with pytest.raises(ProvenanceError, match="pixels or metadata were changed"):
        verify_png(tmp_path / "pixel.png")


@pytest.mark.parametrize(
    ("keyword", "text"), [("genlab:seed", "4"), ("genlab:generator", "vae"), ("Description", "a photo")]
)
def test_one_edited_metadata_field_is_caught(signed, tmp_path, keyword, text):
    (tmp_path / "edited.png").write_bytes(edit_text(signed.read_bytes(), keyword, text))
    with pytest.raises(ProvenanceError, match="changed after signing"):
        verify_png(tmp_path / "edited.png")


def test_an_added_chunk_is_caught(signed, tmp_path):
    parts = chunks(signed.read_bytes())
    parts.insert(-1, (b"tEXt", b"genlab:extra\0claim"))
    (tmp_path / "added.png").write_bytes(rebuild(parts))
    with pytest.raises(ProvenanceError, match="changed after signing"):
        verify_png(tmp_path / "added.png")


def test_stripped_signature_fails_closed(signed, tmp_path):
    parts = [(k, b) for k, b in chunks(signed.read_bytes()) if not b.startswith(SIGNATURE_KEY.encode())]
    (tmp_path / "stripped.png").write_bytes(rebuild(parts))
    with pytest.raises(ProvenanceError, match="not signed"):
        verify_png(tmp_path / "stripped.png")


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d: {**d, "algorithm": "rsa"}, "unknown signature algorithm"),
        (lambda d: {k: v for k, v in d.items() if k != "public_key"}, "exactly"),
        (lambda d: {**d, "public_key": "not base64!"}, "malformed"),
        (lambda d: {**d, "signature": d["signature"][:40]}, "malformed|64 bytes"),
    ],
)
def test_malformed_signature_chunks_fail_closed(signed, tmp_path, mutate, words):
    doc = json.loads(read_text_chunks(signed.read_bytes())[SIGNATURE_KEY])
    (tmp_path / "bad.png").write_bytes(edit_text(signed.read_bytes(), SIGNATURE_KEY, json.dumps(mutate(doc))))
    with pytest.raises(ProvenanceError, match=words):
        verify_png(tmp_path / "bad.png")


def test_wrong_trusted_key_fails(signed, tmp_path):
    other = new_keys(tmp_path / "other")
    with pytest.raises(ProvenanceError, match="not by the trusted key"):
        verify_png(signed, load_public_key(other.public))


def test_corrupt_chunk_and_duplicate_keyword_fail(signed, tmp_path):
    data = bytearray(signed.read_bytes())
    data[-20] ^= 0xFF  # inside the last chunks: its CRC no longer matches
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(ProvenanceError, match="corrupt"):
        verify_png(tmp_path / "crc.png")
    parts = chunks(signed.read_bytes())
    seed = next(p for p in parts if p[1].startswith(b"genlab:seed\0"))
    (tmp_path / "dup.png").write_bytes(rebuild([*parts[:-1], seed, parts[-1]]))
    with pytest.raises(ProvenanceError, match="twice"):
        verify_png(tmp_path / "dup.png")


def test_missing_file_and_non_png_are_bad_input(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        verify_png(tmp_path / "missing.png")
    buffer = io.BytesIO()
    Image.new("L", (4, 4)).save(buffer, format="JPEG")
    (tmp_path / "x.png").write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match="not a PNG"):
        verify_png(tmp_path / "x.png")


def test_key_files(keys, tmp_path):
    assert os.stat(keys.private).st_mode & 0o777 == 0o600
    assert os.stat(keys.watermark).st_mode & 0o777 == 0o600
    assert len(load_watermark_key(keys.watermark)) == 32
    load_private_key(keys.private)
    with pytest.raises(ConfigError, match="never overwritten"):
        new_keys(keys.private.parent)
    (tmp_path / "junk.pem").write_text("junk")
    for loader in (load_private_key, load_public_key):
        with pytest.raises(ConfigError, match="not a PEM"):
            loader(tmp_path / "junk.pem")
    with pytest.raises(ConfigError, match="not an Ed25519 private"):
        load_private_key(_ec_pem(tmp_path))
    with pytest.raises(ConfigError, match="hex digits"):
        load_watermark_key(tmp_path / "junk.pem")
    with pytest.raises(ConfigError, match="does not exist"):
        load_watermark_key(tmp_path / "nope.key")


def _ec_pem(tmp_path):
    """A PEM private key of another algorithm (ECDSA P-256)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path
