"""``genlab classify``: a tiny cvae classified end to end by Bayes' rule; bad inputs exit 2 with one line."""

import json

import pytest

from tests.cli_helpers import one_line_error, run

TINY_CVAE = ["--set", "hidden=64", "--set", "latent_dim=8", "--batch-size", "64", "--quiet"]
KEYS = {
    "run", "family", "step", "data", "split", "n", "prior", "log_prior", "noise", "seed", "estimator",
    "network_passes_per_image", "accuracy", "ece", "ece_bins", "nll", "per_class_accuracy",
}  # fmt: skip


@pytest.fixture(scope="module")
def cvae_run(tmp_path_factory):
    from genlab.cli import main

    run_dir = tmp_path_factory.mktemp("classify") / "cvae"
    assert main(["train", "cvae", "--steps", "150", "--seed", "0", "--out", str(run_dir), *TINY_CVAE]) == 0
    return run_dir


@pytest.mark.trains
def test_a_tiny_cvae_classifies_by_bayes_rule(cvae_run, tmp_path, capsys):
    out = tmp_path / "results.json"
    code, stdout, _ = run(capsys, "classify", cvae_run, "-n", 100, "--iwae-k", 2, "--out", out)
    assert code == 0 and "accuracy" in stdout and "ECE" in stdout
    got = json.loads(out.read_text())
    assert set(got) == KEYS and got["n"] == 100 and got["ece_bins"] == 15 and got["family"] == "cvae"
    # 150 steps reach 0.52 on these 100 images (measured); chance is 0.10
    assert got["accuracy"] > 0.3 and 0 <= got["ece"] <= 1 and got["nll"] > 0
    assert len(got["per_class_accuracy"]) == 10 and got["network_passes_per_image"] == 10 * (1 + 2)
    # uniform priors and noise are recorded; heavy noise costs accuracy
    code, stdout, _ = run(
        capsys, "classify", cvae_run, "-n", 100, "--iwae-k", 2, "--prior", "uniform", "--noise", "0.5", "--json"
    )
    noisy = json.loads(stdout)
    assert code == 0 and noisy["prior"] == "uniform" and noisy["noise"] == 0.5
    assert noisy["accuracy"] < got["accuracy"]
    # the Python API gives what the command gives
    import genlab

    same = genlab.load(cvae_run).classify(n=100, iwae_k=2)
    assert {k: v for k, v in same.items() if k != "run"} == {k: v for k, v in got.items() if k != "run"}


@pytest.mark.trains
@pytest.mark.parametrize(
    "args, words",
    [
        (["-n", "0"], ["-n"]),
        (["--prior", "flat"], ["--prior"]),
        (["--noise", "-0.1"], ["--noise"]),
        (["--iwae-k", "0"], ["--iwae-k"]),
        (["--split", "valid"], ["--split"]),
        (["--out", "x.txt"], ["--out"]),
        (["--data", "shapes64"], ["classes"]),
    ],
)
def test_bad_inputs_exit_2_with_one_line(cvae_run, capsys, args, words):
    code, _, err = run(capsys, "classify", cvae_run, *args)
    one_line_error(code, err, *words)


@pytest.mark.trains
def test_missing_and_unconditional_runs_exit_2(tmp_path, capsys):
    code, _, err = run(capsys, "classify", tmp_path / "nope")
    one_line_error(code, err, "does not exist")
    run_dir = tmp_path / "vae"
    assert run(capsys, "train", "vae", "--steps", "1", "--set", "hidden=4", "--set", "latent_dim=2", "--out", run_dir,
               "--quiet")[0] == 0  # fmt: skip
    code, _, err = run(capsys, "classify", run_dir)
    one_line_error(code, err, "no class-conditional likelihood")
