"""`genlab eval nll` on a diffusion run: the variational bound, as a user types it."""

import json
import math

import pytest
from cli_helpers import one_line_error, recording_progress, run

TINY_DDPM = ["--set", "base_channels=4", "--set", "channel_mults=1,2", "--set", "attention=false"]
TINY_DDPM += ["--set", "diffusion_steps=20", "--set", "sample_steps=4"]


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    from genlab.cli import main

    run_dir = tmp_path_factory.mktemp("nll") / "ddpm"
    args = ["train", "ddpm", *TINY_DDPM, "--steps", "3", "--batch-size", "8", "--out", str(run_dir), "--quiet"]
    assert main(args) == 0
    return run_dir


@pytest.mark.trains
def test_eval_nll_of_a_ddpm_run_gives_the_bound(ddpm_run, capsys):
    code, out, _ = run(capsys, "eval", "nll", ddpm_run, "-n", "4", "--timesteps", "5", "--json", "--quiet")
    assert code == 0
    result = json.loads(out)
    assert result["n"] == 4 and result["steps"] == 20 and result["timesteps"] == 5 and not result["exact"]
    assert math.isfinite(result["nll"]) and result["nll"] > 0
    assert result["nll"] == pytest.approx(result["prior"] + result["decoder"] + result["diffusion"], rel=1e-9)
    assert result["bits_per_dim"] == pytest.approx(result["nll"] / (784 * math.log(2)))
    assert "log p(x | y)" in result["what"] and "256 levels" in result["what"]  # class-conditional by default
    code, again, _ = run(capsys, "eval", "nll", ddpm_run, "-n", "4", "--timesteps", "5", "--json", "--quiet")
    assert json.loads(again)["nll"] == result["nll"]


@pytest.mark.trains
def test_eval_nll_table_of_a_ddpm_run_is_exact_by_default(ddpm_run, capsys, monkeypatch):
    seen = recording_progress(monkeypatch)
    code, out, err = run(capsys, "eval", "nll", ddpm_run, "-n", "2")
    assert code == 0 and seen and seen[-1][1] == 2
    assert all(w in out for w in ("bits/dim", "L_T", "L_0", "all T - 1 KL terms", "nats"))


@pytest.mark.trains
def test_bad_timesteps_is_one_line(ddpm_run, capsys):
    one_line_error(*run(capsys, "eval", "nll", ddpm_run, "--timesteps", "-1")[::2], "--timesteps")
