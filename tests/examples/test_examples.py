"""Every script in examples/ runs at tiny size, in a fresh process, and does what its docstring says."""

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from genlab.marks.provenance import fields_of, read_text_chunks

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name, tmp_path, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GENLAB_TINY": "1"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--tiny", *map(str, args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_example_is_tested():
    tested = {"train_vae.py", "sample_ddim_guidance.py", "score_folder.py", "watermark_verify.py"}
    tested.add("onnx_sample.py")  # tested in tests/export/test_example.py (torch made unimportable)
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_train_vae_writes_a_run_and_a_marked_grid_and_never_overwrites_it(tmp_path):
    out = run_example("train_vae.py", tmp_path, "--out", "vae")
    assert "trained 5 steps" in out
    grid = tmp_path / "vae" / "example-samples.png"
    assert (tmp_path / "vae" / "config.yaml").is_file() and grid.is_file()
    assert fields_of(read_text_chunks(grid.read_bytes()))["ai_generated"]
    again = subprocess.run(
        [sys.executable, str(EXAMPLES / "train_vae.py"), "--tiny", "--out", "vae"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 1 and "already holds a run" in again.stderr


def test_ddim_guidance_writes_one_grid_per_scale(tmp_path):
    out = run_example("sample_ddim_guidance.py", tmp_path, "--guidance", "0", "2", "--per-class", "2", "--out", "g")
    assert out.count("ms/image") == 2
    for w in ("0", "2"):
        with Image.open(tmp_path / "g" / f"guidance-{w}.png") as image:
            assert image.size[0] > 2 * 28 and image.size[1] > 10 * 28  # 2 columns, 10 rows, plus the band


def test_score_folder_scores_real_digits_like_real_data(tmp_path):
    out = run_example("score_folder.py", tmp_path, "--out", "s")
    assert "100 images" in out
    scores = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert scores["modes_covered"] == "10/10"
    assert float(scores["inception_score"]) > 5 and float(scores["precision"]) > 0.5


def test_score_folder_without_a_folder_is_a_usage_error(tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "score_folder.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GENLAB_TINY": "0"},
    )
    assert done.returncode == 2 and "name a folder" in done.stderr


def test_watermark_example_catches_the_tampered_copy(tmp_path):
    out = run_example("watermark_verify.py", tmp_path, "--out", "w")
    assert "by the trusted key: True" in out
    assert "signature rejected as expected" in out
    assert "invisible mark still detected: True" in out
    assert (tmp_path / "w" / "keys" / "signing-key.pem").is_file()
