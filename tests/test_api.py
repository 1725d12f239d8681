"""The public Python API: ``import genlab`` trains, loads, samples and evaluates in a line or two."""

import os
import pydoc
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import genlab
from genlab.config import BUDGET_ONLY_STEPS
from genlab.errors import CheckpointError, ConfigError

ROOT = Path(__file__).resolve().parents[1]


def readme_script() -> str:
    """The API script the README shows (between its ``<!-- api-script -->`` markers)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- api-script -->")[1]
    return re.search(r"```python\n(.*?)```", block, re.S).group(1)


def test_the_readme_api_script_runs(tmp_path):
    script = readme_script()
    assert 5 <= len(script.strip().splitlines()) <= 12
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "fid" in done.stdout and (tmp_path / "runs" / "api-vae" / "card.md").is_file()


def test_help_shows_the_api():
    text = pydoc.render_doc(genlab, renderer=pydoc.plaintext)
    for name in ("train", "load", "Run", "run_config", "families"):
        assert name in text
    assert callable(genlab.train) and set(genlab.__all__) >= {"train", "load", "Run", "RunConfig"}


def test_api_docs_are_generated_from_the_docstrings():
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "api_docs.py"), "--check"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_train_sample_load_and_resume(tmp_path):
    run = genlab.train("vae", steps=6, out=tmp_path / "vae", latent_dim=4, hidden=16, log_every=2)
    assert run.result.step == 6 and run.config.model.latent_dim == 4
    images = run.sample(5, seed=3)
    assert images.shape == (5, 1, 28, 28) and images.dtype == np.uint8
    again = genlab.load(tmp_path / "vae")
    np.testing.assert_array_equal(again.sample(5, seed=3), images)
    assert [r["step"] for r in again.metrics() if "loss" in r] == [2, 4, 6]
    longer = genlab.train("vae", out=tmp_path / "vae", resume=True, steps=8)
    assert longer.result.step == 8


def test_conditional_labels_and_a_run_config(tmp_path):
    cfg = genlab.run_config("cvae", steps=2, latent_dim=2)
    run = genlab.train(cfg, out=tmp_path / "cvae", seed=1)
    assert run.config.train.seed == 1 and run.sample(3, labels=[7, 7, 7]).shape == (3, 1, 28, 28)
    with pytest.raises(ConfigError, match="labels must be 3 values in 0..9"):
        run.sample(3, labels=[1, 2, 10])


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda p: genlab.train("vae", out=p, laten_dim=3), "unknown config key"),
        (lambda p: genlab.train("no-such-family", out=p), "unknown model family"),
        (lambda p: genlab.train("vae", out=p, preset="huge"), "no preset 'huge'"),
        (lambda p: genlab.load(p), "not a run directory"),
    ],
)
def test_bad_calls_are_one_clear_error(tmp_path, call, words):
    with pytest.raises((ConfigError, CheckpointError), match=words):
        call(tmp_path / "nothing-here")


def test_an_unconditional_run_refuses_labels(tmp_path):
    run = genlab.train("vae", steps=1, out=tmp_path / "v", latent_dim=2, hidden=8)
    with pytest.raises(ConfigError, match="unconditional"):
        run.sample(2, labels=[0, 1])
    with pytest.raises(ConfigError, match="already holds a run"):
        genlab.train("vae", steps=1, out=tmp_path / "v")


def test_a_budget_alone_sizes_the_run(tmp_path):
    """max_minutes with no steps or epochs named trains until the budget; naming a size keeps the size."""
    assert genlab.run_config("dcgan", preset="small", sets={"max_minutes": "10"}).train.steps == BUDGET_ONLY_STEPS
    assert genlab.run_config("dcgan", preset="small", sets={"max_minutes": "10"}).train.budget_only
    assert genlab.run_config("dcgan", max_minutes=10.0).train.steps == BUDGET_ONLY_STEPS
    assert genlab.run_config("dcgan", sets={"max_minutes": "10", "steps": "5"}).train.steps == 5
    sized = genlab.run_config("dcgan", epochs=2, sets={"max_minutes": "10"}).train
    assert (sized.steps, sized.epochs, sized.budget_only) == (0, 2, False)
    assert genlab.run_config("dcgan").train.steps == 0 and not genlab.run_config("dcgan").train.budget_only
    config = tmp_path / "c.yaml"
    config.write_text("train:\n  steps: 30\n")
    assert genlab.run_config("dcgan", config_file=config, sets={"max_minutes": "10"}).train.steps == 30
