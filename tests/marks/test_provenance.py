"""Provenance fields in PNG text chunks: defaults, merging, hashes, parsing, determinism."""

import io
import zlib

import pytest
import torch
from PIL import Image, PngImagePlugin

import genlab
from genlab.data import save_grid, save_png
from genlab.errors import ConfigError
from genlab.marks.provenance import (
    STATEMENT,
    ProvenanceError,
    config_hash,
    fields_of,
    read_text_chunks,
    run_fields,
    run_id,
)
from genlab.runs.checkpoint import weights_hash

CONFIG = {"family": "gan", "model": {"hidden": 8}, "train": {"seed": 0}, "versions": {"genlab": "0.1.0"}}


def test_every_png_states_it_is_ai_generated(tmp_path, mnist_images):
    path = save_grid(
        tmp_path / "g.png", mnist_images[:4], provenance={"generator": "gan", "seed": 5, "sampler": {"steps": 10}}
    )
    chunks = read_text_chunks(path.read_bytes())
    fields = fields_of(chunks)
    assert chunks["Description"] == STATEMENT and chunks["Software"] == f"genlab {genlab.__version__}"
    assert fields == {
        "ai_generated": STATEMENT,
        "generator": "gan",
        "genlab_version": genlab.__version__,
        "invisible_watermark": "off",
        "sampler": '{"steps":10}',
        "seed": "5",
        "visible_watermark": "AI GENERATED",
    }
    with Image.open(path) as image:  # any PNG reader sees the same text
        assert image.text["genlab:generator"] == "gan"


def test_writer_states_the_watermark_itself(tmp_path, mnist_images):
    path = save_png(
        tmp_path / "p.png",
        mnist_images[0],
        watermark=None,
        provenance={"ai_generated": "no", "visible_watermark": "AI GENERATED"},
    )
    fields = fields_of(read_text_chunks(path.read_bytes()))
    assert fields["ai_generated"] == STATEMENT  # cannot be overridden
    assert fields["visible_watermark"] == "AI GENERATED"  # kept: an input that already carried the mark
    path = save_png(tmp_path / "q.png", mnist_images[0], watermark=None)
    assert fields_of(read_text_chunks(path.read_bytes()))["visible_watermark"] == "off"


def test_same_inputs_give_identical_files(tmp_path, mnist_images):
    a = save_grid(tmp_path / "a.png", mnist_images[:9], provenance={"seed": 1}).read_bytes()
    b = save_grid(tmp_path / "b.png", mnist_images[:9], provenance={"seed": 1}).read_bytes()
    assert a == b


def test_bad_field_names_are_rejected(tmp_path, mnist_images):
    with pytest.raises(ConfigError, match="lower_snake_case"):
        save_png(tmp_path / "x.png", mnist_images[0], provenance={"Bad Name": 1})


def test_hashes():
    assert config_hash(CONFIG) == config_hash({**CONFIG, "versions": {"genlab": "9"}})  # versions are not the config
    assert config_hash(CONFIG) != config_hash({**CONFIG, "model": {"hidden": 9}})
    longer = {**CONFIG, "train": {"seed": 0, "steps": 500}}
    assert (
        run_id(CONFIG) == run_id(longer) != run_id({**CONFIG, "train": {"seed": 1}})
    )  # resuming for more steps keeps the id
    assert run_id(CONFIG) == "gan-" + config_hash({**CONFIG, "train": {"seed": 0}})[7:19]
    watched = {**CONFIG, "train": {"seed": 0, "tracker": "tensorboard", "progress_every": 5.0}}
    assert config_hash(watched) == config_hash(CONFIG) and run_id(watched) == run_id(CONFIG)  # how it is watched
    assert (
        run_fields(CONFIG)["generator"] == "gan"
        and run_fields(longer)["config_hash"] != run_fields(CONFIG)["config_hash"]
    )
    state = {"nets": {"g": {"w": torch.ones(3), "b": torch.zeros(2, dtype=torch.bfloat16)}}, "step": 4}
    before = weights_hash(state)
    state["nets"]["g"]["w"][1] = 2.0
    assert weights_hash(state) != before and before.startswith("state-sha256:")


def test_reads_text_ztxt_and_compressed_itxt():
    info = PngImagePlugin.PngInfo()
    info.add_text("plain", "a")
    info.add_text("packed", "b" * 100, zip=True)
    info.add_itxt("intl", "ü" * 100, zip=True)
    buffer = io.BytesIO()
    Image.new("L", (2, 2)).save(buffer, format="PNG", pnginfo=info)
    assert read_text_chunks(buffer.getvalue()) == {"plain": "a", "packed": "b" * 100, "intl": "ü" * 100}


def test_unknown_compression_fails_closed():
    body = b"key\0\x01" + zlib.compress(b"x")  # zTXt with compression method 1 (undefined)
    chunk = len(body).to_bytes(4, "big") + b"zTXt" + body + zlib.crc32(b"zTXt" + body).to_bytes(4, "big")
    with pytest.raises(ProvenanceError, match="malformed zTXt"):
        read_text_chunks(b"\x89PNG\r\n\x1a\n" + chunk)
