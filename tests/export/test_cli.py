"""``genlab export``: what it writes, and every bad input as one line on stderr with exit status 2."""

import json
import shutil

import pytest
from cli_helpers import one_line_error, run

import genlab
from genlab.export import read_manifest
from genlab.export import run as export_module
from genlab.models import get_family

# Exports, tiny trainings and subprocesses: minutes on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(900)


def test_export_writes_model_manifest_and_card(capsys, tiny_run, tmp_path):
    code, out, err = run(capsys, "export", tiny_run("vae"), "-o", tmp_path / "vae")
    assert code == 0 and "wrote" in out and not err
    assert sorted(p.name for p in (tmp_path / "vae").iterdir()) == [
        "card.md",
        "encoder.onnx",
        "generator.onnx",
        "manifest.json",
    ]
    manifest = read_manifest(tmp_path / "vae")
    assert manifest["source"]["run_id"].startswith("vae-") and manifest["int8"] is False
    assert [s["name"] for s in manifest["graphs"]["encoder"]["outputs"]] == ["mu", "logvar"]


def test_existing_output_is_refused_unless_forced(capsys, tiny_run, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    code, _, err = run(capsys, "export", tiny_run("gan"), "-o", target)
    one_line_error(code, err, "already exists", "--force")
    assert (target / "keep.txt").read_text() == "mine"
    code, _, _ = run(capsys, "export", tiny_run("gan"), "-o", target, "--force")
    assert code == 0 and not (target / "keep.txt").exists() and (target / "manifest.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no work directory left behind


def test_unknown_format_is_one_line(capsys, tiny_run, tmp_path):
    code, _, err = run(capsys, "export", tiny_run("gan"), "-o", tmp_path / "x", "--format", "tflite")
    one_line_error(code, err, "unknown export format", "onnx, torchscript")


def test_int8_needs_onnx(capsys, tiny_run, tmp_path):
    code, _, err = run(capsys, "export", tiny_run("gan"), "-o", tmp_path / "x", "--format", "torchscript", "--int8")
    one_line_error(code, err, "--int8", "--format onnx")


def test_run_without_checkpoint_is_one_line(capsys, tiny_run, tmp_path):
    bare = tmp_path / "bare"
    shutil.copytree(tiny_run("gan"), bare)
    shutil.rmtree(bare / "checkpoints")
    code, _, err = run(capsys, "export", bare, "-o", tmp_path / "x")
    one_line_error(code, err, "no checkpoints")
    code, _, err = run(capsys, "export", tmp_path / "missing", "-o", tmp_path / "x")
    one_line_error(code, err, "does not exist")


def test_numpy_family_says_why_it_cannot_be_exported(capsys, tmp_path):
    spec = get_family("numpy-gan")
    genlab.train("numpy-gan", out=tmp_path / "np", steps=1, batch_size=4, grid_size=4, **spec.tiny)
    code, _, err = run(capsys, "export", tmp_path / "np", "-o", tmp_path / "x")
    one_line_error(code, err, "cannot export numpy-gan", "NumPy")
    assert not (tmp_path / "x").exists()


def test_rejection_sampling_run_says_why(capsys, tiny_run, tmp_path):
    code, _, err = run(capsys, "export", tiny_run("gan", rejection="drs"), "-o", tmp_path / "x")
    one_line_error(code, err, "cannot export this gan run", "rejection")


def test_int8_export_records_its_cost_and_a_collapse_is_refused(capsys, tiny_run, tmp_path, monkeypatch):
    code, out, _ = run(capsys, "export", tiny_run("dcgan"), "-o", tmp_path / "q", "--int8", "--calibration", "8")
    assert code == 0 and "INT8 cost" in out
    manifest = json.loads((tmp_path / "q" / "manifest.json").read_text())
    quality = manifest["quantization"]["quality"]
    assert manifest["int8"] and quality["psnr_db_vs_float32"] >= export_module.COLLAPSE_PSNR_DB
    assert "quantize_static" in manifest["quantization"]["method"]
    # A bar no INT8 model reaches stands for a family whose quantised samples collapse: refused, with the number.
    monkeypatch.setattr(export_module, "COLLAPSE_PSNR_DB", 1e9)
    code, _, err = run(capsys, "export", tiny_run("dcgan"), "-o", tmp_path / "r", "--int8", "--calibration", "8")
    one_line_error(code, err, "--int8 refused", "dB PSNR")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda m: m.pop("graphs"), ["'graphs' must be a dict"]),
        (lambda m: m.update(version=7), ["version 7"]),
        (lambda m: m["graphs"]["generator"]["inputs"][0].update(shape=[-1, 4]), ["shape"]),
        (lambda m: m["graphs"]["generator"]["inputs"][0].update(dtype="float16"), ["dtype"]),
        (lambda m: m["graphs"]["generator"].update(file="../../etc/passwd"), ["file name"]),
    ],
)
def test_hand_edited_manifest_is_refused_in_one_line(capsys, tiny_run, tmp_path, edit, words):
    export_dir = tmp_path / "e"
    assert run(capsys, "export", tiny_run("gan"), "-o", export_dir)[0] == 0
    manifest = json.loads((export_dir / "manifest.json").read_text())
    edit(manifest)
    (export_dir / "manifest.json").write_text(json.dumps(manifest))
    frames = tmp_path / "frames"
    frames.mkdir()
    code, _, err = run(capsys, "filter", export_dir, "--input", frames, "-o", tmp_path / "o")
    one_line_error(code, err, *words)


def test_text_ddpm_with_the_frozen_minilm_encoder_says_why():
    from torch import nn

    from genlab.data import DataInfo
    from genlab.errors import ConfigError
    from genlab.export import exportable
    from genlab.models.text_ddpm import TextDDPM, TextDDPMConfig

    family = TextDDPM(TextDDPMConfig(**get_family("text-ddpm").tiny), DataInfo(3, 16, 16, 576))
    family.nets["ema"].net.encoder = nn.Identity()  # stands in for MiniLMEncoder (the text extra is optional)
    with pytest.raises(ConfigError, match="cannot export this text-ddpm run: .*MiniLM.*text_encoder=builtin"):
        exportable(family, lambda: None)
