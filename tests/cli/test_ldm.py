"""`genlab train ldm` on a tiny conv-vae run, then `genlab sample` as the issue spells it."""

import numpy as np
import pytest

from genlab.cli import main

TINY_VAE = ["--set", "width=4", "--set", "hidden=8", "--set", "latent_dim=4"]
TINY_LDM = ["--set", "width=16", "--set", "depth=1", "--set", "diffusion_steps=100", "--set", "sample_steps=10"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ldm")
    assert (
        main(
            [
                "train",
                "conv-vae",
                "--steps",
                "2",
                "--batch-size",
                "8",
                "--out",
                str(root / "vae"),
                "--quiet",
                *TINY_VAE,
            ]
        )
        == 0
    )
    argv = [
        "train",
        "ldm",
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--set",
        f"autoencoder={root / 'vae'}",
        "--out",
        str(root / "ldm"),
        "--quiet",
        *TINY_LDM,
    ]
    assert main(argv) == 0
    return root


def one_line_error(capsys, argv, *words):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), err


def sample(run_dir, out, *extra):
    assert main(["sample", str(run_dir), "-n", "6", "-o", str(out), *extra]) == 0
    return np.load(out)


def test_sample_with_ddim_steps_guidance_and_labels(runs, tmp_path):
    data = sample(
        runs / "ldm",
        tmp_path / "s.npz",
        "--sampler",
        "ddim",
        "--steps",
        "50",
        "--guidance",
        "3",
        "--labels",
        "7",
        "--grid",
        str(tmp_path / "g.png"),
    )
    assert data["images"].shape == (6, 28, 28) and data["images"].dtype == np.uint8 and list(data["labels"]) == [7] * 6
    assert (tmp_path / "g.png").stat().st_size > 0


def test_sampling_is_reproducible_under_the_seed(runs, tmp_path):
    a = sample(runs / "ldm", tmp_path / "a.npz", "--seed", "3")["images"]
    b = sample(runs / "ldm", tmp_path / "b.npz", "--seed", "3")["images"]
    c = sample(runs / "ldm", tmp_path / "c.npz", "--seed", "4", "--sampler", "ddpm")["images"]
    assert np.array_equal(a, b) and c.shape == a.shape


def test_the_checkpoint_keeps_its_autoencoder_when_the_vae_run_trains_on(runs, tmp_path):
    before = sample(runs / "ldm", tmp_path / "before.npz", "--seed", "1")["images"]
    assert (
        main(["train", "--resume", str(runs / "vae"), "--steps", "4", "--quiet"]) == 0
    )  # a new "latest" VAE checkpoint
    after = sample(runs / "ldm", tmp_path / "after.npz", "--seed", "1")["images"]
    assert np.array_equal(before, after)


def test_a_missing_vae_run_is_one_clear_error_at_sampling(runs, tmp_path, capsys):
    moved = runs / "vae-moved"
    (runs / "vae").rename(moved)
    try:
        one_line_error(
            capsys, ["sample", str(runs / "ldm"), "-n", "2", "-o", str(tmp_path / "x.npz")], "vae", "does not exist"
        )
    finally:
        moved.rename(runs / "vae")


@pytest.mark.parametrize(
    ("autoencoder", "words"),
    [
        ("", ["autoencoder=RUN_DIR"]),
        ("{tmp}/no-such-run", ["no-such-run", "does not exist"]),
        ("{runs}/ldm", ["is a ldm run, not a VAE"]),
    ],
)
def test_bad_autoencoder_is_one_line_and_exit_2(runs, tmp_path, capsys, autoencoder, words):
    value = autoencoder.format(tmp=tmp_path, runs=runs)
    argv = [
        "train",
        "ldm",
        "--steps",
        "1",
        "--batch-size",
        "8",
        "--set",
        f"autoencoder={value}",
        "--out",
        str(tmp_path / "bad"),
        "--quiet",
        *TINY_LDM,
    ]
    one_line_error(capsys, argv, *words)


def test_latent_interpolation_runs_through_the_autoencoder_space(runs, tmp_path, capsys):
    out = tmp_path / "i.png"
    assert (
        main(["latent", "interpolate", str(runs / "ldm"), "--from", "3", "--to", "7", "--steps", "4", "-o", str(out)])
        == 0
    )
    assert "autoencoder" in capsys.readouterr().out and out.stat().st_size > 0
