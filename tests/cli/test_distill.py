"""`genlab distill`: a student run that `genlab sample` draws from in K steps; bad input is one line, exit 2."""

import shutil

import numpy as np
import pytest
import torch
import yaml
from cli_helpers import one_line_error, run

from genlab.cli import main
from genlab.runs import find_checkpoint, load_family, weights_hash

TINY_DDPM = ["--set", "base_channels=4", "--set", "channel_mults=1,2", "--set", "attention=false"]
TINY_DDPM += ["--set", "diffusion_steps=64", "--set", "sample_steps=4", "--set", "guidance=2"]
STUDENT = ["--batch-size", "8", "--quiet", "--set", "grid_size=4"]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny conditional ddpm teacher (64 diffusion steps, guidance 2) and a tiny vae (not a diffusion run)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("distill")
    base = ["--steps", "2", "--batch-size", "8", "--quiet", "--set", "grid_size=4"]
    assert main(["train", "ddpm", *base, "--out", str(root / "teacher"), *TINY_DDPM]) == 0
    assert (
        main(["train", "vae", *base, "--out", str(root / "vae"), "--set", "hidden=16", "--set", "latent_dim=2"]) == 0
    )
    torch.set_num_threads(threads)
    return root


def test_progressive_student_is_a_run_that_samples_in_k_steps_and_names_its_teacher(runs, tmp_path, capsys):
    out = tmp_path / "student"
    code, stdout, err = run(
        capsys, "distill", runs / "teacher", "--method", "progressive", "--steps", "8", "--out", out,
        *STUDENT, "--set", "round_steps=1",
    )  # fmt: skip
    assert code == 0, err
    config = yaml.safe_load((out / "config.yaml").read_text())
    model = config["model"]
    teacher, _, meta = load_family(runs / "teacher")
    assert config["family"] == "ddpm-progressive" and model["rounds"] == [32, 16, 8] and model["sample_steps"] == 8
    assert model["teacher_checkpoint"] == str(meta["step"]) and model["guidance"] == 2.0  # the teacher's own w
    assert model["teacher_hash"] == weights_hash(teacher.state_dict()["nets"])
    assert model["teacher_run_id"].startswith("ddpm-") and config["train"]["steps"] == 3  # 3 rounds x 1 step
    card = (out / "card.md").read_text()
    assert model["teacher_run_id"] in card and model["teacher_hash"] in card
    code, _, err = run(capsys, "sample", out, "-n", "5", "-o", tmp_path / "s.npz", "--seed", "3")
    assert code == 0, err
    again = run(capsys, "sample", out, "-n", "5", "-o", tmp_path / "t.npz", "--seed", "3")
    assert again[0] == 0
    a, b = np.load(tmp_path / "s.npz"), np.load(tmp_path / "t.npz")
    assert a["images"].shape[0] == 5 and np.array_equal(a["images"], b["images"])
    one_line_error(*refused(capsys, "sample", out, "-n", "2", "-o", tmp_path / "u.npz", "--guidance", "1"), "w = 2")
    student, _, _ = load_family(out)
    assert find_checkpoint(out).name == "step_00000003.json" and student.teacher.hash() == model["teacher_hash"]


def test_consistency_student_defaults_to_one_step(runs, tmp_path, capsys):
    out = tmp_path / "cm"
    code, _, err = run(
        capsys, "distill", runs / "teacher", "--method", "consistency", "--out", out, "--guidance", "0",
        *STUDENT, "--set", "steps=2", "--set", "ode_steps=8",
    )  # fmt: skip
    assert code == 0, err
    model = yaml.safe_load((out / "config.yaml").read_text())["model"]
    assert model["sample_steps"] == 1 and model["guidance"] == 0.0
    code, _, err = run(capsys, "sample", out, "-n", "3", "-o", tmp_path / "c.npz", "--steps", "4")
    assert code == 0, err


def refused(capsys, *argv):
    """(exit code, stderr) of ``genlab ARGV``, for one_line_error."""
    code, _, err = run(capsys, *argv)
    return code, err


def corrupt_copy(runs, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(runs / "teacher", damaged)
    tensors = find_checkpoint(damaged).with_suffix(".safetensors")
    tensors.write_bytes(tensors.read_bytes()[:-7] + b"garbage")
    return damaged


@pytest.mark.parametrize(
    "case, argv, words",
    [
        ("vae", ["--method", "progressive"], ["vae run", "not a diffusion run"]),
        ("empty", ["--method", "consistency"], ["not a run directory"]),
        ("teacher", ["--method", "progressive", "--checkpoint", "999"], ["no checkpoint '999'"]),
        ("damaged", ["--method", "consistency"], ["corrupt"]),
        ("teacher", ["--method", "progressive", "--steps", "3"], ["--steps must be one of", "32, 16, 8, 4, 2, 1"]),
        ("teacher", ["--method", "consistency", "--steps", "19"], ["at most ode_steps"]),
        ("teacher", ["--method", "progressive", "--steps", "2", "--set", "rounds=8,4"], ["rounds end at 4"]),
        ("teacher", ["--method", "pix2pix"], ["--method"]),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_run_directory(runs, tmp_path, capsys, case, argv, words):
    paths = {"vae": runs / "vae", "teacher": runs / "teacher", "empty": tmp_path}
    teacher = corrupt_copy(runs, tmp_path) if case == "damaged" else paths[case]
    out = tmp_path / "student"
    one_line_error(*refused(capsys, "distill", teacher, *argv, "--out", out, *STUDENT), *words)
    assert not out.exists()


def test_an_existing_run_is_not_overwritten(runs, capsys):
    one_line_error(
        *refused(capsys, "distill", runs / "teacher", "--method", "progressive", "--out", runs / "vae"),
        "already holds a run",
    )
