"""`genlab sample RUN --prompt ...` for the text-conditioned families, and its errors."""

import numpy as np
import pytest
from cli_helpers import one_line_error, run

from genlab.data import DataInfo, datasets
from genlab.data.captions import NUM_CODES, attributes_to_code, render_attributes

TINY = {
    "text-ddpm": [
        "--set",
        "base_channels=4",
        "--set",
        "channel_mults=1,2",
        "--set",
        "attention=false",
        "--set",
        "text_dim=8",
        "--set",
        "text_heads=2",
        "--set",
        "diffusion_steps=20",
        "--set",
        "sample_steps=4",
    ],
    "attr-gan": ["--set", "base_channels=2", "--set", "z_dim=4", "--set", "attribute_dim=3"],
}


def small_captions32(split, data_dir):
    """16 real captions32 images of two attribute tuples: the data set's layout at test size."""
    attributes = [(1, 0, 0, 0), (2, 5, 1, 2)]
    images = np.concatenate([render_attributes(a, 8, seed=i) for i, a in enumerate(attributes)])
    codes = np.repeat(attributes_to_code(np.array(attributes)), 8)
    return images, codes, DataInfo(3, 32, 32, NUM_CODES)


@pytest.fixture(scope="module", params=["text-ddpm", "attr-gan"])
def text_run(request, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp(request.param) / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(datasets.LOADERS, "captions32", small_captions32)
        argv = [
            "train",
            request.param,
            "--steps",
            "2",
            "--batch-size",
            "8",
            "--out",
            str(run_dir),
            "--quiet",
            "--set",
            "grid_size=4",
            *TINY[request.param],
        ]
        from genlab.cli import main

        assert main(argv) == 0
    return run_dir


def test_sample_a_prompt_into_npz_and_grid(text_run, tmp_path, capsys):
    out, grid = tmp_path / "p.npz", tmp_path / "p.png"
    code, stdout, _ = run(
        capsys,
        "sample",
        text_run,
        "--prompt",
        "a red star motif on a cream background",
        "-n",
        "5",
        "-o",
        out,
        "--grid",
        grid,
    )
    assert code == 0 and "wrote 5 samples" in stdout
    images = np.load(out)["images"]
    assert images.shape == (5, 3, 32, 32) and images.dtype == np.uint8 and grid.stat().st_size > 0
    run(
        capsys,
        "sample",
        text_run,
        "--prompt",
        "a red star motif on a cream background",
        "-n",
        "5",
        "-o",
        tmp_path / "q.npz",
    )
    assert (np.load(tmp_path / "q.npz")["images"] == images).all()


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--prompt", "a red unicorn"], ["unknown word 'unicorn'", "motifs"]),
        (["--prompt", "a red blue star"], ["two values of the colour"]),
        (["--prompt", "a red star", "--labels", "3"], ["--prompt and --labels"]),
    ],
)
def test_bad_prompts_are_one_line_errors(text_run, tmp_path, capsys, extra, words):
    code, _, err = run(capsys, "sample", text_run, "-n", "2", "-o", tmp_path / "x.npz", *extra)
    one_line_error(code, err, *words)


def test_prompt_on_a_family_without_text(tmp_path, capsys):
    run_dir = tmp_path / "gan"
    assert (
        run(
            capsys,
            "train",
            "gan",
            "--steps",
            "1",
            "--set",
            "hidden=4",
            "--set",
            "z_dim=2",
            "--out",
            run_dir,
            "--quiet",
        )[0]
        == 0
    )
    code, _, err = run(capsys, "sample", run_dir, "--prompt", "a red star", "-o", tmp_path / "x.npz")
    one_line_error(code, err, "text-conditioned")
