"""Model cards from a tiny run: required sections, real numbers from the run, watermark settings."""

import numpy as np
import pytest
import yaml

from genlab.cli import main
from genlab.publish.card import UNBALANCED, render_card, write_card
from genlab.runs.rundir import read_config

SECTIONS = [
    "## Model details",
    "## Intended use",
    "## Misuse scenarios",
    "## Training data",
    "## Metrics",
    "## Known biases and limitations",
    "## Watermark and provenance",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("card") / "gan"
    argv = [
        "train",
        "gan",
        "--steps",
        "4",
        "--out",
        str(run_dir),
        "--set",
        "hidden=8",
        "--set",
        "z_dim=4",
        "--batch-size",
        "16",
        "--set",
        "log_every=2",
        "--quiet",
    ]
    assert main(argv) == 0
    return run_dir


def test_card_has_every_section_and_the_runs_facts(tiny_run):
    text = write_card(tiny_run).read_text()
    positions = [text.index(s) for s in SECTIONS]
    assert positions == sorted(positions)
    assert "CC BY-SA 3.0" in text and "LeCun" in text  # the data and its licence
    assert "Trained 4 steps" in text and "Forging handwritten numbers" in text
    last = [line for line in (tiny_run / "metrics.jsonl").read_text().splitlines() if '"epoch"' in line][-1]
    loss = yaml.safe_load(last)["loss_g"]
    assert f"loss_g {loss:.4g}" in text  # numbers come from metrics.jsonl
    assert "Visible watermark on sample grids: on" in text and "unsigned" in text
    assert "genlab card RUN --evaluate" in text


def test_card_reports_per_class_balance_from_an_evaluation(tiny_run):
    histogram = [300, 0, 100, 100, 100, 100, 100, 100, 100, 0]
    evaluation = {
        "n": 1000,
        "seed": 0,
        "step": 4,
        "fid": 12.5,
        "kid": 0.01,
        "kid_std": 0.001,
        "class_histogram": histogram,
        "per_class_accuracy": [0.9] * 9 + [0.2],
    }
    text = render_card(tiny_run, read_config(tiny_run), evaluation)
    low, high = UNBALANCED
    shares = np.array(histogram) / sum(histogram)
    outside = [k for k, s in enumerate(shares) if not low <= s <= high]
    assert outside == [0, 1, 9]
    assert "Classes outside 5%..15%: 0: 30.0%, 1: 0.0%, 9: 0.0%." in text
    assert "weakest: 9" in text and "fid 12.50" in text


def test_card_records_a_run_without_the_visible_mark(tmp_path, capsys):
    run_dir = tmp_path / "off"
    argv = [
        "train",
        "gan",
        "--steps",
        "2",
        "--out",
        str(run_dir),
        "--set",
        "hidden=8",
        "--set",
        "z_dim=4",
        "--batch-size",
        "16",
        "--set",
        "visible_watermark=false",
        "--quiet",
    ]
    assert main(argv) == 0
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["visible_watermark"] is False
    assert "Visible watermark on sample grids: OFF" in write_card(run_dir).read_text()


def test_card_command(tiny_run, capsys):
    (tiny_run / "card.md").unlink(missing_ok=True)
    assert main(["card", str(tiny_run)]) == 0
    assert (tiny_run / "card.md").is_file() and "card.md" in capsys.readouterr().out


@pytest.mark.slow
def test_card_with_the_evaluation_suite(tiny_run):
    from genlab.publish.card import evaluate_for_card

    result = evaluate_for_card(tiny_run, n=200)
    assert sum(result["class_histogram"]) == 200
    text = write_card(tiny_run, result).read_text()
    assert "Class balance of samples by the digit classifier" in text
    assert f"FID (n=200, {result['extractor']}) {result['fid']:.2f}" in text  # one definition: FID with n, extractor
