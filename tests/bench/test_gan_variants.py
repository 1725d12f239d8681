"""benchmarks/gan_variants.py: the failure rule, the computed stability / best-for / requirement columns, --tiny."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import gan_variants  # noqa: E402
from gan_variants_page import (  # noqa: E402
    FAMILIES,
    best_for,
    failure_reasons,
    key_requirement,
    render,
    stability,
    summarise,
)


def mnist_run(seed: int = 0, family: str = "dcgan", **scores) -> dict:
    base = {"fid": 50.0, "recall": 0.3, "classes_covered": 10, "num_classes": 10}
    return {
        "family": family,
        "seed": seed,
        "scores": base | scores,
        "steps": 100,
        "step_ms": 20.0,
        "peak_mb": 500.0,
        "params": 1000,
        "nonfinite_loss": False,
    }


def row(family: str, fids: list[float], failed: int = 0, **extra) -> dict:
    runs = [mnist_run(i, family, fid=f) for i, f in enumerate(fids)]
    for r in runs[:failed]:
        r["scores"]["recall"] = 0.0
    return summarise(family, runs) | extra


def test_failure_rule_diverged_and_collapsed_cases():
    assert failure_reasons(mnist_run()) == []
    assert failure_reasons(mnist_run() | {"nonfinite_loss": True}) == ["diverged: non-finite loss"]
    assert failure_reasons(mnist_run(fid=math.nan)) == ["diverged: FID not finite"]
    assert failure_reasons(mnist_run(classes_covered=5)) == []  # half the classes is not "fewer than half"
    assert failure_reasons(mnist_run(classes_covered=4)) == ["collapsed: 4 of 10 classes covered"]
    assert failure_reasons(mnist_run(recall=0.049)) == ["collapsed: recall 0.049 < 0.05"]
    assert failure_reasons(mnist_run(recall=0.05)) == []
    shapes = mnist_run(family="dcgan64", classes_covered=2, num_classes=6)
    assert failure_reasons(shapes) == ["collapsed: 2 of 6 classes covered"]
    tr = {"family": "pix2pix", "seed": 0, "scores": {"l1": 0.10, "copy_l1": 0.15}}
    assert failure_reasons(tr) == []
    tr["scores"]["l1"] = 0.15
    assert failure_reasons(tr) == ["collapsed: L1 0.1500 >= copying the input 0.1500"]


def test_summary_counts_failures_and_takes_the_worst_seed():
    runs = [mnist_run(0, fid=40.0), mnist_run(1, fid=60.0, classes_covered=3), mnist_run(2, fid=50.0)]
    s = summarise("dcgan", runs)
    assert s["failed"] == 1 and s["failure_rate"] == pytest.approx(1 / 3) and s["classes_worst"] == 3
    assert s["score_mean"] == pytest.approx(50.0) and s["score_sd"] == pytest.approx(10.0)
    assert s["seeds"] == [0, 1, 2] and s["reasons"] == ["collapsed: 3 of 10 classes covered"]


def test_stability_rule():
    assert stability(row("dcgan", [100, 110, 90])) == "stable"  # sd / mean = 0.10
    assert stability(row("dcgan", [100, 140, 60])) == "variable"  # sd / mean = 0.40
    assert stability(row("dcgan", [100, 110, 90], failed=1)) == "fragile"
    assert stability(row("dcgan", [100, 110, 90], failed=2)) == "unstable"
    assert stability(row("dcgan", [100])) == "untested (1 seed)"  # no spread from one seed


def test_best_for_ranks_within_the_task_and_skips_unstable_families():
    rows = [
        row("dcgan", [50, 50, 50]),
        row("wgan", [10, 10, 10], failed=2),  # lowest FID but unstable: not ranked
        row("cdcgan", [70, 70, 70], conditional_accuracy=0.9),
        row("cgan", [80, 80, 80], conditional_accuracy=0.5),
        row("dcgan64", [200, 200, 200]),
    ]
    rows[4]["task"] = "shapes64"
    assert best_for(rows[0], rows) == "mnist quality: lowest FID of the 3 ranked"
    assert best_for(rows[1], rows).startswith("nothing on mnist")
    assert best_for(rows[2], rows) == "mnist: FID rank 2 of 3; label-controlled generation (accuracy 0.90)"
    assert best_for(rows[3], rows) == "mnist: FID rank 3 of 3; labels not yet followed (accuracy 0.50)"
    assert best_for(rows[4], rows) == "shapes64 quality: lowest FID of the 1 ranked"


def test_key_requirement_names_the_cheapest_and_costliest_steps():
    rows = [row("dcgan", [50]), row("wgan-gp", [50]), row("cgan", [50])]
    rows[1] |= {"step_ms": 80.0, "peak_mb": 900.0}
    rows[2] |= {"step_ms": 40.0}
    assert key_requirement(rows[0], rows) == "images, cheapest per step"
    assert key_requirement(rows[1], rows) == "images, 4.0x the cheapest step (costliest per step), most memory"
    assert key_requirement(rows[2], rows) == "labels, 2.0x the cheapest step"


def test_the_page_renders_diverged_runs_and_says_what_is_missing():
    diverged = {"scores": {"fid": math.nan, "l1": math.nan}, "steps": 0, "params": 0, "nonfinite_loss": True}
    diverged |= {"step_ms": math.nan, "peak_mb": math.nan}
    runs = [mnist_run(s, f, fid=50.0 + s) for f in ("dcgan", "wgan-gp", "cgan") for s in (0, 1)]
    runs[-1]["scores"]["conditional_accuracy"] = runs[-2]["scores"]["conditional_accuracy"] = 0.3
    tr = {"l1": 0.1, "ssim": 0.8, "copy_l1": 0.15, "copy_ssim": 0.5}
    runs += [mnist_run(0, "pix2pix") | {"scores": tr}, mnist_run(1, "pix2pix") | diverged]
    header = {"command": "python benchmarks/gan_variants.py", "machine": "x86_64", "cores": 2, "torch": "2"}
    header |= {"workers": 2, "families": list(FAMILIES), "seeds": [0, 1], "minutes": 1.5, "n": 10}
    header |= {"reference_n": 10, "translation_n": 10, "started": "now", "load_start": [1.0, 1.0, 1.0]}
    rows = {r["family"]: r for r in [summarise("pix2pix", runs[-2:])]}
    assert rows["pix2pix"]["copy_l1"] == 0.15 and rows["pix2pix"]["failed"] == 1 and rows["pix2pix"]["params"] == 1000
    page = render({"header": header, "runs": runs})
    assert "8 of the 20 requested runs measured" in page and "Not measured: `gan`" in page
    assert "`pix2pix` diverged: non-finite loss" in page and "| `pix2pix` | digits-outline | 2 |" in page
    assert "**Pix2Pix** (`pix2pix`): the course says stability *high*; measured *unstable*" in page
    assert "**Conditional GAN's controlled generation** (`cgan`): conditional accuracy 0.30" in page
    assert "**WGAN-GP's gradient penalty** costs 1.0x a dcgan step" in page


@pytest.mark.trains
def test_tiny_run_writes_the_json_and_the_page_and_render_rebuilds_it(tmp_path, capsys):
    out = tmp_path / "gv.json"
    assert gan_variants.main(["--tiny", "--out", str(out), "--runs", str(tmp_path / "runs")]) == 0
    result = json.loads(out.read_text())
    (run,) = result["runs"]
    assert run["family"] == "gan" and run["seed"] == 0 and run["steps"] > 0 and run["params"] > 0
    assert run["step_ms"] > 0 and run["peak_mb"] > 0 and run["scores"]["n"] == 60
    page = out.with_suffix(".md").read_text()
    assert "| `gan` | mnist | 1 |" in page and "1 of the 1 requested runs measured" in page
    assert "--tiny" in page and "load average (1, 5, 15 min) at the start" in page and "Failure rule" in page
    out.with_suffix(".md").unlink()
    assert gan_variants.main(["--render", "--out", str(out)]) == 0
    assert out.with_suffix(".md").read_text() == page


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--families", "nope"], ["nope"]),
        (["--families", "gan,gan"], ["distinct"]),
        (["--seeds", "a"], ["--seeds"]),
        (["--minutes", "0"], ["--minutes"]),
        (["--minutes", "abc"], ["--minutes"]),
        (["--bogus"], ["--bogus"]),
        (["--workers", "-1"], ["--workers"]),
        (["--render"], ["run the benchmark first"]),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, words, tmp_path, capsys):
    assert gan_variants.main([*args, "--out", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gan_variants: error:") and all(w in err[0] for w in words), err
