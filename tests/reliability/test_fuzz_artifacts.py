"""Bad input, continued: checkpoints and PNG provenance metadata (see test_fuzz_inputs.py).

A damaged checkpoint gives one ``genlab: error:`` line from the CLI; a damaged PNG never
verifies (``genlab verify`` exits 1, or 2 for a file that is not a PNG), never a traceback.
"""

import hashlib
import json
import shutil
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import one_line_error, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability.helpers import peak_bytes, tiny_run

from genlab.errors import DataError, GenlabError
from genlab.marks.provenance import ProvenanceError
from genlab.marks.signing import verify_png
from genlab.runs.checkpoint import load_checkpoint
from genlab.runs.rundir import find_checkpoint
from genlab.training import train

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEW = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- checkpoints ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_vae_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ckpt") / "run"
    train(tiny_run("vae", steps=2, keep_last=1), run_dir, quiet=True)
    return run_dir


def damaged_copy(run_dir: Path, folder: Path) -> tuple[Path, Path, dict]:
    copy = folder / "run"
    shutil.copytree(run_dir, copy)
    json_path = find_checkpoint(copy)
    return copy, json_path, json.loads(json_path.read_text())


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=4), c, max_size=3)),
    max_leaves=6,
)
SIDECAR_KEYS = ["step", "config", "data_info", "state", "tensors", "sha256", "format", "batcher"]


@FEW
@given(key=st.sampled_from(SIDECAR_KEYS), value=JSON_VALUES)
def test_checkpoint_sidecar_with_wrong_types_is_one_line(key, value, tiny_vae_run, capsys):
    with tempfile.TemporaryDirectory() as folder:
        copy, json_path, doc = damaged_copy(tiny_vae_run, Path(folder))
        json_path.write_text(json.dumps({**doc, key: value}))
        code, _, err = run(capsys, "sample", copy, "-n", "2", "-o", Path(folder) / "s.npz")
        if code == 0:  # a harmless value (a step number, say) still samples
            assert key in ("step", "batcher") and not err, err
            return
        one_line_error(code, err)


@FEW
@given(header_len=st.one_of(st.integers(0, 2**64 - 1), st.just(2**63)), junk=st.binary(max_size=64))
def test_checkpoint_safetensors_garbage_header_is_one_line(header_len, junk, tiny_vae_run, capsys):
    """Garbage tensors with a matching SHA-256 in the JSON, so that safetensors itself must refuse them."""
    with tempfile.TemporaryDirectory() as folder:
        copy, json_path, doc = damaged_copy(tiny_vae_run, Path(folder))
        blob = struct.pack("<Q", header_len) + junk
        json_path.with_suffix(".safetensors").write_bytes(blob)
        json_path.write_text(json.dumps({**doc, "sha256": hashlib.sha256(blob).hexdigest()}))
        outcome, peak = peak_bytes(load_checkpoint, json_path)
        assert isinstance(outcome, GenlabError) and peak < 1 << 20
        code, _, err = run(capsys, "sample", copy, "-n", "2", "-o", Path(folder) / "s.npz")
    one_line_error(code, err, "corrupt")


@pytest.mark.parametrize("tensors", ["../../../etc/hostname", "/dev/zero", "step_00000001.safetensors", 7])
def test_checkpoint_sidecar_cannot_point_at_other_files(tensors, tiny_vae_run, tmp_path, capsys):
    copy, json_path, doc = damaged_copy(tiny_vae_run, tmp_path)
    json_path.write_text(json.dumps({**doc, "tensors": tensors}))
    code, _, err = run(capsys, "sample", copy, "-n", "2", "-o", tmp_path / "s.npz")
    one_line_error(code, err, "its tensors must be")


# -- PNG provenance ------------------------------------------------------------------
@pytest.fixture(scope="module")
def signed_png(tmp_path_factory):
    from genlab.data import save_png
    from genlab.marks.keys import new_keys

    folder = tmp_path_factory.mktemp("png")
    keys = new_keys(folder / "keys")
    path = save_png(
        folder / "signed.png", np.zeros((8, 8), np.uint8), provenance={"generator": "vae"}, sign_key=keys.private
    )
    return path.read_bytes(), keys


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def png_bytes(parts) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        struct.pack(">I4s", len(b), k) + b + struct.pack(">I", zlib.crc32(k + b)) for k, b in parts
    )


def verify_fails_closed(capsys, path: Path, *extra) -> str:
    """``genlab verify``: exit 1 (did not verify) or 2 (not a PNG at all), one line, no traceback."""
    try:
        code, out, err = run(capsys, "verify", path, *extra)
    except SystemExit as e:  # verify's "no" is SystemExit(1) (see genlab.cli.publish)
        captured = capsys.readouterr()
        code, out, err = e.code, captured.out, captured.err
    lines = err.strip().splitlines()
    assert code in (1, 2) and len(lines) == 1 and "Traceback" not in err, (code, out, err)
    assert lines[0].startswith("genlab: verify FAILED:" if code == 1 else "genlab: error:"), lines[0]
    return lines[0]


@FUZZ
@given(data=st.data())
def test_png_with_any_text_chunk_damage_fails_closed(data, signed_png):
    """Flip a byte, cut, replace, retype or repeat any text chunk (CRC fixed, so the parser
    reads it): verification never passes."""
    parts = png_chunks(signed_png[0])
    i = data.draw(st.sampled_from([i for i, (k, _) in enumerate(parts) if k in (b"tEXt", b"zTXt", b"iTXt")]))
    kind, body = parts[i]
    how = data.draw(st.sampled_from(["flip", "cut", "replace", "kind", "duplicate"]))
    if how == "flip":
        pos = data.draw(st.integers(0, len(body) - 1))
        body = body[:pos] + bytes([body[pos] ^ data.draw(st.integers(1, 255))]) + body[pos + 1 :]
    elif how == "cut":
        body = body[: data.draw(st.integers(0, len(body) - 1))]
    elif how == "replace":
        body = body.partition(b"\0")[0] + b"\0" + data.draw(st.binary(max_size=40))
    elif how == "kind":
        kind = data.draw(st.sampled_from([k for k in (b"tEXt", b"zTXt", b"iTXt") if k != kind]))
    copies = 2 if how == "duplicate" else 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.png"
        path.write_bytes(png_bytes(parts[:i] + [(kind, body)] * copies + parts[i + 1 :]))
        with pytest.raises((ProvenanceError, DataError)):
            verify_png(path)


def test_png_oversized_compressed_text_is_refused_without_inflating_it(signed_png, tmp_path, capsys):
    parts = png_chunks(signed_png[0])
    bomb = (b"zTXt", b"genlab:note\0\0" + zlib.compress(bytes(64 << 20), 9))  # 64 MiB of zeros in ~64 kB
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(parts[:1] + [bomb] + parts[1:]))
    outcome, peak = peak_bytes(verify_png, path)
    assert "inflates to over" in str(outcome) and peak < 8 << 20
    assert "inflates to over" in verify_fails_closed(capsys, path)


@pytest.mark.parametrize(
    "signature",
    [
        "not json",
        "[]",
        '{"algorithm": "ed25519"}',
        '{"algorithm": "rsa", "public_key": "", "signature": ""}',
        '{"algorithm": "ed25519", "public_key": 5, "signature": 6}',
        '{"algorithm": "ed25519", "public_key": "!!", "signature": "AA=="}',
    ],
)
def test_png_bad_signatures_fail_closed(signature, signed_png, tmp_path, capsys):
    parts = [
        (
            k,
            b"genlab:signature\0\0\0\0\0" + signature.encode()
            if k == b"iTXt" and b.startswith(b"genlab:signature\0")
            else b,
        )
        for k, b in png_chunks(signed_png[0])
    ]
    (tmp_path / "x.png").write_bytes(png_bytes(parts))
    assert "signature" in verify_fails_closed(capsys, tmp_path / "x.png")


def test_png_truncated_or_not_a_png_fails_closed(signed_png, tmp_path, capsys):
    (tmp_path / "cut.png").write_bytes(signed_png[0][: len(signed_png[0]) // 2])
    verify_fails_closed(capsys, tmp_path / "cut.png")
    (tmp_path / "text.png").write_text("hello")
    verify_fails_closed(capsys, tmp_path / "text.png")


def test_png_signature_in_another_base64_spelling_fails_closed(signed_png, tmp_path, capsys):
    """The same signature bytes, spelled with different unused base64 padding bits: the file
    still "means" the same, but the chunk was edited, so it fails (found by the fuzz test above)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    parts = png_chunks(signed_png[0])
    i = next(i for i, (k, b) in enumerate(parts) if b.startswith(b"genlab:signature\0"))
    doc = json.loads(parts[i][1].split(b"\0", 5)[5])
    last = doc["signature"].rstrip("=")[-1]
    doc["signature"] = (
        doc["signature"].rstrip("=")[:-1] + alphabet[alphabet.index(last) ^ 1] + "=="
    )  # 4 unused low bits
    parts[i] = (
        b"iTXt",
        b"genlab:signature\0\0\0\0\0" + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode(),
    )
    (tmp_path / "x.png").write_bytes(png_bytes(parts))
    assert "canonical form" in verify_fails_closed(capsys, tmp_path / "x.png")
