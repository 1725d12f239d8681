"""A run's publishing settings, as the trainer and `genlab sample` use them."""

import dataclasses
import hashlib

from genlab.config import TrainConfig
from genlab.marks.invisible import unpack_payload
from genlab.marks.keys import new_keys
from genlab.runs.marks import payload_for, png_options, short_id

CONFIG = {"family": "dcgan", "model": {}, "train": {}}


def test_default_run_gets_the_visible_mark_and_its_fields(tmp_path, capsys):
    options = png_options(TrainConfig(), CONFIG, fields={"seed": 1})
    assert options["watermark"].text == "AI GENERATED" and options["invisible"] is None and options["sign_key"] is None
    assert options["provenance"]["generator"] == "dcgan" and options["provenance"]["seed"] == 1
    assert options["provenance"]["run_id"].startswith("dcgan-")
    assert capsys.readouterr().err == ""


def test_mark_off_warns_and_keys_are_loaded(tmp_path, capsys):
    keys = new_keys(tmp_path / "keys")
    tc = dataclasses.replace(
        TrainConfig(), visible_watermark=False, watermark_key=str(keys.watermark), sign_key=str(keys.private)
    )
    options = png_options(tc, CONFIG, where="sample grids of run")
    assert options["watermark"] is None
    assert "WITHOUT the visible" in capsys.readouterr().err
    model_id, run16 = unpack_payload(options["invisible"].payload)
    assert model_id == short_id("dcgan") and run16 == short_id(options["provenance"]["run_id"])
    assert options["sign_key"] is not None


def test_payload_ids_are_stable():
    assert payload_for("dcgan", "a") == payload_for("dcgan", "a") != payload_for("vae", "a")
    assert short_id("dcgan") == int.from_bytes(hashlib.sha256(b"dcgan").digest()[:2], "big")
