"""One definition per quantity: train, card, report, compare and eval --json state the same numbers of one run.

Parameters are the trainable weights (``Family.num_parameters``), with buffers and frozen copies
apart; KID is raw in every JSON and x1e3 in every table that says so; FID comes with n and the extractor.
"""

import json
import re

import pytest
from cli_helpers import run

from genlab.data import load_dataset, save_samples
from genlab.eval.evaluate import KID_LABEL
from genlab.runs.loading import load_family

SMALL = ["--ref-n", "300", "-n", "50", "--probe-n", "40", "--nll-k", "2", "--nll-n", "50", "--quiet"]


@pytest.fixture(scope="module")
def dcgan(tmp_path_factory):
    """A tiny DCGAN: BatchNorm buffers make 'all tensors' and 'trainable weights' differ."""
    run_dir = tmp_path_factory.mktemp("quantities") / "dcgan"
    from genlab.cli import main

    tiny = ["--set", "base_channels=2", "--set", "z_dim=4"]
    args = ["train", "dcgan", *tiny, "--steps", "2", "--batch-size", "8", "--set", "sample_every=2", "--out", run_dir]
    assert main([str(a) for a in args]) == 0
    return run_dir


def table_row(markdown: str, name: str) -> list[str]:
    """The cells of the five-axis row called ``name`` in a compare.md."""
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 3 and cells[1] == name:
            return cells
    raise AssertionError(f"no row {name!r}")


def test_card_report_compare_and_eval_state_the_same_numbers(dcgan, tmp_path, capsys):
    family, _, _ = load_family(dcgan)
    params, buffers = family.num_parameters(), family.num_buffers()
    assert buffers > 0  # BatchNorm running statistics: the number `card` used to add in

    card = (dcgan / "card.md").read_text()
    assert f"Parameters: {params:,} trainable weights" in card and f"{buffers:,} buffer values" in card
    assert f"{params + buffers:,}" not in card

    images, _, _ = load_dataset("mnist", "test")
    ref = save_samples(tmp_path / "ref.npz", images[:300])  # a small reference keeps the test quick
    code, stdout, _ = run(capsys, "eval", dcgan, "-n", "100", "--ref", ref, "--json")
    assert code == 0
    scored = json.loads(stdout)
    assert scored["parameters"] == params and scored["buffers"] == buffers

    code, stdout, _ = run(
        capsys, "eval", dcgan, "-n", "100", "--ref", ref
    )  # the same samples and KID subsets, as a table
    assert code == 0 and KID_LABEL in stdout and "FID (n=100, digits)" in stdout
    assert f"{1000 * scored['kid']:.2f} ± {1000 * scored['kid_std']:.2f}" in stdout  # --json raw, the table x1e3
    assert f"{params:,} trainable weights" in stdout

    for command, folder in (("report", tmp_path / "report"), ("compare", tmp_path / "compare")):
        code, _, _ = run(capsys, command, dcgan, "-o", folder, *SMALL)
        assert code == 0, command
        measured = json.loads((folder / "runs" / "dcgan" / "eval.json").read_text())
        assert measured["compute"]["parameters"] == params and measured["compute"]["buffers"] == buffers
        markdown = (folder / "compare.md").read_text()
        assert table_row(markdown, "params (trainable)")[3] == f"{params:,}", command
        kid_cell = table_row(markdown, f"{KID_LABEL} ↓")[3]
        assert kid_cell == f"{1000 * measured['eval']['kid']:.1f}", command  # the JSON is raw, the table x1e3
        assert table_row(markdown, "n · extractor")[3] == "50 · digits"
        html = (folder / "index.html").read_text()
        assert "KID (x1e3)" in html and not re.search(r"KID\s*(×|x)\s*1000", html)


def test_the_trainer_prints_the_same_count(dcgan, tmp_path, capsys):
    from genlab.cli import main

    resumed = tmp_path / "again"
    args = ["train", "dcgan", "--set", "base_channels=2", "--set", "z_dim=4", "--steps", "1", "--batch-size", "8"]
    code = main([*args, "--out", str(resumed)])
    assert code == 0
    printed = capsys.readouterr().out
    family, _, _ = load_family(dcgan)
    assert f"({family.num_parameters():,} parameters)" in " ".join(printed.split())
