"""`genlab sample` with the diffusion options, as the issue spells them."""

import numpy as np
import pytest

from genlab.cli import main

TINY = [
    "--set",
    "base_channels=4",
    "--set",
    "channel_mults=1,2",
    "--set",
    "attention=false",
    "--set",
    "diffusion_steps=20",
    "--set",
    "sample_steps=4",
]


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ddpm") / "run"
    assert main(["train", "ddpm", "--steps", "2", "--batch-size", "8", "--out", str(run_dir), "--quiet", *TINY]) == 0
    return run_dir


def test_sample_with_sampler_steps_guidance_and_labels(ddpm_run, tmp_path, capsys):
    out = tmp_path / "s.npz"
    argv = [
        "sample",
        str(ddpm_run),
        "--sampler",
        "ddim",
        "--steps",
        "5",
        "--guidance",
        "3",
        "--labels",
        "7",
        "-n",
        "6",
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    data = np.load(out)
    assert data["images"].shape == (6, 28, 28) and list(data["labels"]) == [7] * 6


def test_ddpm_sampler_with_eta_and_set(ddpm_run, tmp_path):
    assert main(["sample", str(ddpm_run), "--sampler", "ddpm", "-n", "2", "-o", str(tmp_path / "a.npz")]) == 0
    assert (
        main(["sample", str(ddpm_run), "--eta", "1", "--set", "guidance=0", "-n", "2", "-o", str(tmp_path / "b.npz")])
        == 0
    )


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--sampler", "euler"], ["sampler", "ddim"]),
        (["--steps", "500"], ["sample_steps"]),
        (["--eta", "2"], ["eta"]),
        (["--guidance", "-1"], ["guidance"]),
        (["--set", "base_channels=8"], ["does not match"]),
    ],
)
def test_bad_sampling_options(ddpm_run, tmp_path, capsys, extra, words):
    code = main(["sample", str(ddpm_run), "-n", "2", "-o", str(tmp_path / "x.npz"), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and all(w in err[0] for w in words), err


def test_sampling_options_on_a_gan_are_refused(tmp_path, capsys):
    run_dir = tmp_path / "gan"
    assert (
        main(
            ["train", "gan", "--steps", "1", "--set", "hidden=4", "--set", "z_dim=2", "--out", str(run_dir), "--quiet"]
        )
        == 0
    )
    code = main(["sample", str(run_dir), "--steps", "5", "-o", str(tmp_path / "x.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown config key" in err and "sample_steps" in err
