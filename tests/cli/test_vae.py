"""`genlab eval nll` and the VAE options, as a user types them."""

import json

import pytest
from cli_helpers import recording_progress

from genlab.cli import main

TINY = ["--set", "hidden=8", "--set", "latent_dim=3"]


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("vae") / "run"
    argv = [
        "train",
        "vae",
        "--steps",
        "3",
        "--batch-size",
        "16",
        "--out",
        str(run_dir),
        "--quiet",
        *TINY,
        "--set",
        "binarize=dynamic",
        "--set",
        "kl_anneal=linear",
        "--set",
        "kl_warmup_steps=2",
        "--set",
        "hidden_layers=2",
    ]
    assert main(argv) == 0
    return run_dir


def test_training_logs_the_kl_weight_and_the_collapse_diagnostics(vae_run):
    records = [json.loads(line) for line in (vae_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kl_weight"] for r in records if "kl_weight" in r] == [0.5]  # one log line: mean of 0, 0.5, 1
    held_out = [r for r in records if "test_nelbo" in r][-1]
    assert {"test_active_units", "test_kl_dim_00", "test_kl_dim_02"} <= set(
        held_out
    ) and "test_kl_dim_03" not in held_out


def test_eval_nll_json(vae_run, capsys):
    code = main(["eval", "nll", str(vae_run), "-n", "7", "--k", "4", "--json", "--quiet"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["n"] == 7 and result["k"] == 4 and result["binarize_seed"] == 0
    assert result["nll"] <= result["elbo_nll"] and result["bits_per_dim"] > 0
    assert len(result["kl_per_dim"]) == 3 and 0 <= result["active_units"] <= 3


def test_eval_nll_table_names_the_protocol(vae_run, capsys, monkeypatch):
    seen = recording_progress(monkeypatch)
    code = main(["eval", "nll", str(vae_run), "-n", "5", "--k", "3", "--binarize-seed", "11"])
    captured = capsys.readouterr()
    assert code == 0
    for words in (
        "binarised once with seed 11",
        "k = 3",
        "nll",
        "bits/dim",
        "-elbo",
        "active units",
        "KL per latent dimension",
    ):
        assert words in captured.out, words
    assert seen and {stage for stage, _ in seen} == {"eval nll (k=3)"} and seen[-1][1] == 5


def test_eval_nll_is_reproducible_and_depends_on_the_seed(vae_run, capsys):
    def nll(*extra):
        assert main(["eval", "nll", str(vae_run), "-n", "4", "--k", "5", "--json", "--quiet", *extra]) == 0
        return json.loads(capsys.readouterr().out)["nll"]

    assert nll() == nll() != nll("--seed", "1")


def test_eval_nll_of_a_cvae_is_conditional(tmp_path, capsys):
    run_dir = tmp_path / "cvae"
    assert main(["train", "cvae", "--steps", "2", "--batch-size", "8", "--out", str(run_dir), "--quiet", *TINY]) == 0
    assert main(["eval", "nll", str(run_dir), "-n", "3", "--k", "2", "--json", "--quiet"]) == 0
    assert "log p(x | y)" in json.loads(capsys.readouterr().out)["what"]
    assert main(["sample", str(run_dir), "--labels", "7", "-n", "3", "-o", str(tmp_path / "s.npz")]) == 0


@pytest.mark.parametrize(
    ("extra", "words"), [(["--k", "0"], ["--k"]), (["-n", "0"], ["-n"]), (["--checkpoint", "best"], ["best"])]
)
def test_bad_nll_options(vae_run, capsys, extra, words):
    code = main(["eval", "nll", str(vae_run), *extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error:") and all(w in err[0] for w in words), err


def test_eval_nll_refuses_a_gan_run(tmp_path, capsys):
    run_dir = tmp_path / "gan"
    assert (
        main(
            ["train", "gan", "--steps", "1", "--set", "hidden=4", "--set", "z_dim=2", "--out", str(run_dir), "--quiet"]
        )
        == 0
    )
    code = main(["eval", "nll", str(run_dir), "--k", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "needs a run with a likelihood" in err[0] and "ddpm" in err[0]


def test_bad_vae_option_from_the_command_line(capsys):
    code = main(["train", "vae", "--steps", "1", "--set", "kl_anneal=cyclical"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "kl_warmup_steps" in err[0]


def test_eval_disentangle_scores_a_shapes64_vae(tmp_path, capsys):
    run_dir = tmp_path / "shapes"
    argv = [
        "train",
        "conv-vae",
        "--dataset",
        "shapes64",
        "--steps",
        "2",
        "--batch-size",
        "8",
        "--out",
        str(run_dir),
        "--quiet",
        "--set",
        "width=4",
        "--set",
        "hidden=8",
        "--set",
        "latent_dim=3",
    ]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["eval", "disentangle", str(run_dir), "-n", "400", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 400
    for key in ("mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "factorvae"):
        assert 0.0 <= result[key] <= 1.0, key


def test_eval_disentangle_needs_a_data_set_with_factors(vae_run, capsys):
    assert main(["eval", "disentangle", str(vae_run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no ground-truth factors" in err
