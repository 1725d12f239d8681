"""The publishing commands as a user types them: keys, marked and signed samples, verify, detect, card."""

import json

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from genlab.cli import main
from genlab.data import load_image, save_png
from genlab.marks.provenance import fields_of, read_text_chunks

TINY_GAN = ["--set", "hidden=8", "--set", "z_dim=4", "--batch-size", "16", "--quiet"]
BAND = 15  # one line of text: 11 px + 2 x 2 px padding (genlab.marks.visible.band_height)


def run(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # "no" answers of verify / detect (see genlab.cli.publish)
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line(err, prefix, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix) and "Traceback" not in err, err
    for w in words:
        assert w in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("pub") / "gan"
    assert main(["train", "gan", "--steps", "3", "--out", str(run_dir), *TINY_GAN]) == 0
    return run_dir


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    assert main(["keys", "new", "--out", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def signed_grid(trained, keys, tmp_path_factory):
    grid = tmp_path_factory.mktemp("grid") / "g.png"
    argv = [
        "sample",
        trained,
        "-n",
        "9",
        "-o",
        grid.with_suffix(".npz"),
        "--grid",
        grid,
        "--sign-key",
        keys / "signing-key.pem",
        "--watermark-key",
        keys / "watermark.key",
        "--watermark-text",
        "AI GENERATED — NOT LEGAL TENDER",
    ]
    assert main([str(a) for a in argv]) == 0
    return grid


def test_keys_new_writes_the_files_once(keys, capsys):
    assert sorted(p.name for p in keys.iterdir()) == ["signing-key.pem", "signing-key.pub.pem", "watermark.key"]
    code, _, err = run(capsys, "keys", "new", "--out", keys)
    assert code == 2
    assert_one_line(err, "genlab: error:", "never overwritten")


def test_signed_and_marked_sample_grid_verifies_and_detects(signed_grid, keys, trained, capsys):
    code, out, _ = run(capsys, "verify", signed_grid, "--key", keys / "signing-key.pub.pem")
    assert code == 0 and "valid signature by SHA256:" in out and "the trusted key" in out
    assert (
        "generator: gan" in out
        and "visible_watermark: AI GENERATED — NOT LEGAL TENDER" in out
        and "checkpoint_hash: sha256:" in out
    )
    code, out, _ = run(capsys, "watermark", "detect", signed_grid, "--key", keys / "watermark.key", "--json")
    result = json.loads(out)
    assert code == 0 and result["detected"] and result["model"] == "gan" and result["matches_metadata_run_id"] is True
    npz = np.load(signed_grid.with_suffix(".npz"))["images"]
    assert npz.shape == (9, 28, 28)  # the arrays for metrics stay unmarked: exactly what sampling gave
    assert main(["sample", str(trained), "-n", "9", "-o", str(signed_grid.with_name("again.npz"))]) == 0
    np.testing.assert_array_equal(np.load(signed_grid.with_name("again.npz"))["images"], npz)


def test_verify_fails_with_exit_1_on_tampering_and_unsigned_files(signed_grid, tmp_path, capsys):
    with Image.open(signed_grid) as image:
        pixels = np.asarray(image).copy()
    pixels[0, 0] ^= 1
    png_info = PngImagePlugin.PngInfo()
    for k, v in read_text_chunks(signed_grid.read_bytes()).items():
        png_info.add_itxt(k, v)
    Image.fromarray(pixels).save(tmp_path / "t.png", pnginfo=png_info)
    code, _, err = run(capsys, "verify", tmp_path / "t.png")
    assert code == 1
    assert_one_line(err, "genlab: verify FAILED:", "changed after signing")
    unsigned = save_png(tmp_path / "u.png", pixels)
    code, _, err = run(capsys, "verify", unsigned)
    assert code == 1
    assert_one_line(err, "genlab: verify FAILED:", "not signed")


def test_default_grid_is_marked_and_the_flag_turns_it_off_with_a_warning(trained, tmp_path, capsys):
    code, _, err = run(capsys, "sample", trained, "-n", "9", "-o", tmp_path / "a.npz", "--grid", tmp_path / "a.png")
    assert code == 0 and err == ""
    assert load_image(tmp_path / "a.png", grayscale=True).shape == (92 + BAND, 92)
    code, _, err = run(
        capsys,
        "sample",
        trained,
        "-n",
        "9",
        "-o",
        tmp_path / "b.npz",
        "--grid",
        tmp_path / "b.png",
        "--no-visible-watermark",
    )
    assert code == 0 and "warning" in err and "WITHOUT the visible" in err
    assert load_image(tmp_path / "b.png", grayscale=True).shape == (92, 92)
    assert fields_of(read_text_chunks((tmp_path / "b.png").read_bytes()))["visible_watermark"] == "off"


def test_embed_then_detect_a_png(tmp_path, capsys):
    key = tmp_path / "fixed.key"
    key.write_text(bytes(range(32)).hex())  # a fixed key: the unmarked image's z-score is then fixed too
    picture = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    plain = save_png(tmp_path / "plain.png", picture, watermark=None)
    code, out, _ = run(
        capsys, "watermark", "embed", plain, "-o", tmp_path / "marked.png", "--key", key, "--payload", "c0ffee01"
    )
    assert code == 0 and "0xc0ffee01" in out
    code, out, _ = run(capsys, "watermark", "detect", tmp_path / "marked.png", "--key", key)
    assert code == 0 and "DETECTED" in out and "payload 0xc0ffee01" in out
    code, out, _ = run(capsys, "watermark", "detect", plain, "--key", key)
    assert code == 1 and "not detected" in out
    fields = fields_of(read_text_chunks((tmp_path / "marked.png").read_bytes()))
    assert fields["invisible_watermark"] == "genlab-dct-ss/1" and fields["visible_watermark"] == "off"


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["verify", "{tmp}/missing.png"], ["does not exist"]),
        (["verify", "{tmp}/not.png"], ["not a PNG"]),
        (["verify", "{tmp}/plain.png", "--key", "{tmp}/junk.pem"], ["not a PEM public key"]),
        (["watermark", "detect", "{tmp}/plain.png", "--key", "{tmp}/junk.pem"], ["not a watermark key file"]),
        (["watermark", "detect", "{tmp}/missing.png", "--key", "{keys}/watermark.key"], ["does not exist"]),
        (
            ["watermark", "detect", "{tmp}/junk.pem", "--key", "{keys}/watermark.key"],
            ["could not be read as an image"],
        ),
        (["watermark", "detect", "{tmp}/tiny.png", "--key", "{keys}/watermark.key"], ["16x16"]),
        (["watermark", "embed", "{tmp}/plain.png", "-o", "{tmp}/out.jpg", "--key", "{keys}/watermark.key"], [".png"]),
        (
            [
                "watermark",
                "embed",
                "{tmp}/plain.png",
                "-o",
                "{tmp}/out.png",
                "--key",
                "{keys}/watermark.key",
                "--payload",
                "xyz",
            ],
            ["hex"],
        ),
        (["card", "{tmp}"], ["not a run directory"]),
        (["watermark", "detect", "{tmp}/plain.png"], ["needs --key"]),
        (["watermark", "detect", "{tmp}/plain.png", "--method", "lsb"], ["--method must be one of"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(keys, tmp_path, capsys, argv, words):
    (tmp_path / "junk.pem").write_text("junk")
    (tmp_path / "not.png").write_bytes(b"GIF89a not a png")
    save_png(tmp_path / "plain.png", np.zeros((32, 32), np.uint8), watermark=None)
    save_png(tmp_path / "tiny.png", np.zeros((8, 8), np.uint8), watermark=None)
    code, _, err = run(capsys, *[a.format(tmp=tmp_path, keys=keys) for a in argv])
    assert code == 2
    assert_one_line(err, "genlab: error:", *words)


def test_sample_rejects_a_bad_watermark_text(trained, tmp_path, capsys):
    code, _, err = run(
        capsys, "sample", trained, "-o", tmp_path / "s.npz", "--grid", tmp_path / "s.png", "--watermark-text", " "
    )
    assert code == 2
    assert_one_line(err, "genlab: error:", "watermark text")
