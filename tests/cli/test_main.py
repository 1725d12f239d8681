"""The command line as a user types it: results on success, one line and exit 2 on bad input."""

import subprocess
import sys

import numpy as np
import pytest

from genlab.cli import main
from genlab.data import load_image
from genlab.marks.visible import VisibleWatermark, band_height

TINY_GAN = ["--set", "hidden=8", "--set", "z_dim=4", "--batch-size", "16", "--quiet"]


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, *words):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genlab: error:"), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cli") / "gan"
    assert main(["train", "gan", "--steps", "3", "--out", str(run_dir), *TINY_GAN]) == 0
    return run_dir


def test_list_shows_every_family(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0 and all(name in out for name in ("gan", "dcgan", "vae"))
    assert "sizes" in out and "small-128" in out and "1|3 ch" in out  # the sizes column and the size presets


def test_sample_writes_uint8_images_and_a_grid(trained, tmp_path, capsys):
    out_file, grid = tmp_path / "s.npz", tmp_path / "s.png"
    code, _, _ = run(
        capsys, "sample", str(trained), "-n", "7", "-o", str(out_file), "--grid", str(grid), "--seed", "3"
    )
    assert code == 0
    images = np.load(out_file)["images"]
    assert images.shape == (7, 28, 28) and images.dtype == np.uint8
    band = band_height(92, VisibleWatermark())  # the visible "AI GENERATED" band under the grid
    assert load_image(grid, grayscale=True).shape == (92 + band, 92)  # 3 x 3 cells of 28 + 2 px padding
    again = tmp_path / "t.npz"
    run(capsys, "sample", str(trained), "-n", "7", "-o", str(again), "--seed", "3")
    assert np.array_equal(np.load(again)["images"], images)  # same seed, same samples


def test_a_large_grid_is_capped_with_a_warning(trained, tmp_path, capsys):
    out_file, grid = tmp_path / "many.npz", tmp_path / "many.png"
    code, _, err = run(capsys, "sample", str(trained), "-n", "300", "-o", str(out_file), "--grid", str(grid))
    assert code == 0 and np.load(out_file)["images"].shape[0] == 300  # every sample in the .npz
    assert "--grid shows the first 256 of the 300 samples" in err and len(err.strip().splitlines()) == 1
    side = 16 * 30 + 2  # 16 x 16 cells of 28 + 2 px padding
    assert load_image(grid, grayscale=True).shape == (side + band_height(side, VisibleWatermark()), side)


def test_resume_from_the_cli_extends_the_run(trained, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    code, _, _ = run(capsys, "train", "--resume", str(copy), "--steps", "5", "--quiet")
    assert code == 0
    assert (copy / "checkpoints" / "step_00000005.json").is_file()


def test_config_file_reuses_a_runs_config(trained, tmp_path, capsys):
    code, _, _ = run(
        capsys,
        "train",
        "--config",
        str(trained / "config.yaml"),
        "--steps",
        "1",
        "--out",
        str(tmp_path / "r"),
        "--quiet",
    )
    assert code == 0 and (tmp_path / "r" / "checkpoints" / "step_00000001.json").is_file()


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["train", "nope"], ["unknown model family", "dcgan"]),
        (["train", "vae", "--set", "latnt_dim=3"], ["unknown config key", "latent_dim"]),
        (["train", "vae", "--set", "lr=fast"], ["lr"]),
        (["train", "vae", "--set", "likelihood=poisson"], ["likelihood", "bernoulli"]),
        (["train", "vae", "--steps", "-3"], ["steps"]),
        (["train", "vae", "--batch-size", "0"], ["batch_size"]),
        (["train", "vae", "--steps", "two"], ["--steps"]),
        (["train", "vae", "--preset", "huge"], ["preset"]),
        (["train", "vae", "--config", "/no/such.yaml"], ["does not exist"]),
        (["train", "vae", "--dataset", "cifar"], ["unknown data set"]),
        (["train", "--resume", "/no/such/run"], ["no checkpoints"]),
        (["train", "--bogus"], ["--bogus"]),
        (["train"], ["family"]),
        (["sample", "/no/such/run", "-o", "x.npz"], ["does not exist"]),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(capsys, argv, words):
    code, _, err = run(capsys, *argv)
    assert_one_line_error(code, err, *words)


def test_bad_sample_arguments(trained, tmp_path, capsys):
    assert_one_line_error(*run(capsys, "sample", str(trained), "-n", "0", "-o", str(tmp_path / "x.npz"))[::2], "-n")
    assert_one_line_error(*run(capsys, "sample", str(trained), "-o", str(tmp_path / "x.png"))[::2], ".npz")
    assert_one_line_error(
        *run(capsys, "sample", str(trained), "--checkpoint", "99", "-o", str(tmp_path / "x.npz"))[::2], "available"
    )
    assert_one_line_error(
        *run(capsys, "sample", str(trained), "--labels", "3", "-o", str(tmp_path / "x.npz"))[::2], "conditional"
    )


def test_existing_run_is_never_overwritten(trained, capsys):
    before = sorted(p.name for p in (trained / "checkpoints").iterdir())
    assert_one_line_error(*run(capsys, "train", "gan", "--out", str(trained), *TINY_GAN)[::2], "already holds a run")
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == before


@pytest.mark.parametrize("damage", ["truncate", "json"])
def test_corrupt_checkpoint_gives_one_line_and_exit_2(trained, tmp_path, capsys, damage):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    ckpt = copy / "checkpoints" / "step_00000003"
    if damage == "truncate":
        data = ckpt.with_suffix(".safetensors").read_bytes()
        ckpt.with_suffix(".safetensors").write_bytes(data[: len(data) // 2])
    else:
        ckpt.with_suffix(".json").write_text("{")
    for argv in (["sample", str(copy), "-o", str(tmp_path / "x.npz")], ["train", "--resume", str(copy)]):
        assert_one_line_error(*run(capsys, *argv)[::2], "corrupt")
    assert not (tmp_path / "x.npz").exists()


def test_demo_at_smoke_size_is_idempotent(tmp_path, capsys):
    out = tmp_path / "demo"
    code, stdout, _ = run(capsys, "demo", "--out", str(out), "--steps", "2", "--quiet")
    assert code == 0
    for family in ("dcgan", "vae"):
        assert (out / family / "samples" / "step_00000002.png").is_file()
    assert "genlab sample" in stdout
    first = (out / "vae" / "checkpoints" / "step_00000002.safetensors").read_bytes()
    assert run(capsys, "demo", "--out", str(out), "--steps", "2", "--quiet")[0] == 0
    assert (out / "vae" / "checkpoints" / "step_00000002.safetensors").read_bytes() == first


def test_console_entry_point_reports_bad_input_without_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "genlab", "train", "nope"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("genlab: error: unknown model family") and "Traceback" not in proc.stderr


def test_resume_with_an_edited_config_that_no_longer_matches(trained, tmp_path, capsys):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    config = copy / "config.yaml"
    config.write_text(config.read_text().replace("hidden: 8", "hidden: 16"))
    assert_one_line_error(*run(capsys, "train", "--resume", str(copy))[::2], "does not match")
