"""`genlab train text-ldm` / `genlab sample RUN --prompt ...` through the CLI, and its bad inputs."""

import numpy as np
import pytest
from cli_helpers import one_line_error, run

from genlab.data import DataInfo, datasets
from genlab.data.captions import NUM_CODES, attributes_to_code, render_attributes

TINY_NET = [
    *("--set", "base_channels=4", "--set", "channel_mults=1,2"),
    *("--set", "attention=false", "--set", "text_dim=8", "--set", "text_heads=2", "--set", "text_layers=1"),
    *("--set", "diffusion_steps=20", "--set", "sample_steps=4"),
]
TINY = ["--set", "autoencoder=untrained", *TINY_NET]
PROMPT = "a red star motif on a cream background"


def small_captions32(split, data_dir):
    """16 real captions32 images of two attribute tuples: the data set's layout at test size."""
    attributes = [(1, 0, 0, 0), (2, 5, 1, 2)]
    images = np.concatenate([render_attributes(a, 8, seed=i) for i, a in enumerate(attributes)])
    codes = np.repeat(attributes_to_code(np.array(attributes)), 8)
    return images, codes, DataInfo(3, 32, 32, NUM_CODES)


def train(capsys, run_dir, *extra):
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(datasets.LOADERS, "captions32", small_captions32)
        return run(
            capsys, "train", "text-ldm", "--steps", "2", "--batch-size", "8", "--out", run_dir, "--quiet",
            "--set", "grid_size=4", *extra,
        )  # fmt: skip


@pytest.fixture(scope="module")
def ldm_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("text-ldm") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(datasets.LOADERS, "captions32", small_captions32)
        from genlab.cli import main

        argv = ["train", "text-ldm", "--steps", "2", "--batch-size", "8", "--out", str(run_dir), "--quiet"]
        assert main([*argv, "--set", "grid_size=4", *TINY]) == 0
    return run_dir


@pytest.mark.trains
def test_sample_a_prompt_with_guidance(ldm_run, tmp_path, capsys):
    out = tmp_path / "p.npz"
    code, stdout, _ = run(capsys, "sample", ldm_run, "--prompt", PROMPT, "-n", "3", "--guidance", "3", "-o", out)
    assert code == 0 and "wrote 3 samples" in stdout
    images = np.load(out)["images"]
    assert images.shape == (3, 3, 32, 32) and images.dtype == np.uint8
    # The same seed gives the same images (the checkpoint and its latent scale are reloaded).
    assert run(capsys, "sample", ldm_run, "--prompt", PROMPT, "-n", "3", "--guidance", "3", "-o", tmp_path / "q.npz")[
        0
    ] == 0 and np.array_equal(np.load(tmp_path / "q.npz")["images"], images)


@pytest.mark.trains
def test_resume_continues_the_run(ldm_run, capsys, monkeypatch):
    monkeypatch.setitem(datasets.LOADERS, "captions32", small_captions32)
    code, _, err = run(capsys, "train", "--resume", ldm_run, "--steps", "3", "--quiet")
    assert code == 0, err
    assert '"step": 3' in (ldm_run / "metrics.jsonl").read_text()


@pytest.mark.trains
@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--prompt", ""], ["prompt"]),
        (["--prompt", "a red unicorn"], ["unknown word 'unicorn'"]),
        (["--prompt", "a red blue star"], ["two values of the colour"]),
    ],
)
def test_bad_prompts_are_one_line_errors(ldm_run, tmp_path, capsys, extra, words):
    code, _, err = run(capsys, "sample", ldm_run, "-n", "2", "-o", tmp_path / "x.npz", *extra)
    one_line_error(code, err, *words)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--set", "text_encoder=clip"], ["text_encoder"]),
        (["--set", "autoencoder="], ["genlab train spatial-vae"]),
        (["--set", "autoencoder=/nonexistent/run"], ["/nonexistent/run"]),
        (["--set", "guidance=-1"], ["guidance"]),
    ],
)
def test_bad_training_inputs_are_one_line_errors(tmp_path, capsys, extra, words):
    base = TINY_NET if extra[1].startswith("autoencoder=") else TINY
    code, _, err = train(capsys, tmp_path / "run", *base, *extra)
    one_line_error(code, err, *words)
