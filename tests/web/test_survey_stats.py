"""Survey statistics against closed forms, and the export files."""

import csv
import io
import json
import math

import pytest

from genlab.web.survey_stats import answers_csv, mean_ci, summarise, summary_markdown, wilson_interval, write_export


def test_mean_ci_is_the_student_t_interval():
    # t_{0.975, 4} = 2.776445 (textbook t table); s = sqrt(2.5) for 1..5
    ci = mean_ci([1, 2, 3, 4, 5])
    half = 2.776445105 * math.sqrt(2.5) / math.sqrt(5)
    assert ci["n"] == 5 and ci["mean"] == 3.0
    assert ci["ci_low"] == pytest.approx(3 - half, abs=1e-8) and ci["ci_high"] == pytest.approx(3 + half, abs=1e-8)
    assert mean_ci([4, 4, 4]) == {"n": 3, "mean": 4.0, "ci_low": 4.0, "ci_high": 4.0}


def test_mean_ci_without_enough_values_gives_no_interval():
    assert mean_ci([3]) == {"n": 1, "mean": 3.0, "ci_low": None, "ci_high": None}
    assert mean_ci([]) == {"n": 0, "mean": None, "ci_low": None, "ci_high": None}


def test_wilson_interval_closed_form():
    # 5 of 10: 0.5 ± 1.96 sqrt(0.025 + 0.0096) / 1.384 = [0.2366, 0.7634]; 0 of 10: [0, 0.2775]
    low, high = wilson_interval(5, 10)
    assert (low, high) == (pytest.approx(0.236593, abs=1e-5), pytest.approx(0.763407, abs=1e-5))
    low, high = wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12) and high == pytest.approx(0.277540, abs=1e-5)
    assert wilson_interval(0, 0) is None


def row(i, source, is_real, guess, realism):
    return {
        "answer_id": i,
        "respondent": i % 2 + 1,
        "item_id": i,
        "source": source,
        "is_real": int(is_real),
        "family": None if is_real else "gan",
        "checkpoint_step": None,
        "seed": None,
        "label": None,
        "image_index": None,
        "realism": realism,
        "appropriateness": 3,
        "novelty": 2,
        "guess": guess,
        "created": "2026-01-01T00:00:00+00:00",
    }


ROWS = [
    row(1, "real", True, "real", 5),
    row(2, "real", True, "generated", 4),
    row(3, "gan", False, "generated", 2),
    row(4, "gan", False, "real", 3),
    row(5, "gan", False, "generated", 1),
]


def test_summary_per_model_and_accuracy():
    s = summarise(ROWS)
    assert list(s["models"]) == ["real", "gan"] and s["answers"] == 5 and s["respondents"] == 2
    assert s["models"]["gan"]["realism"]["mean"] == 2.0 and s["models"]["gan"]["answers"] == 3
    assert s["models"]["gan"]["judged_real"]["k"] == 1 and s["models"]["real"]["family"] == "real data"
    assert (s["accuracy"]["k"], s["accuracy"]["n"]) == (3, 5)
    assert s["accuracy_on_real"]["rate"] == 0.5 and s["accuracy_on_generated"]["rate"] == pytest.approx(2 / 3)
    empty = summarise([])
    assert empty["accuracy"]["rate"] is None and "n/a" in summary_markdown(empty, "s.sqlite")


def test_export_files(tmp_path):
    paths = write_export(ROWS, tmp_path / "out", "survey.sqlite")
    assert [p.name for p in paths] == ["answers.csv", "summary.json", "summary.md"]
    table = list(csv.DictReader(io.StringIO((tmp_path / "out" / "answers.csv").read_text())))
    assert len(table) == 5 and [r["correct"] for r in table] == ["1", "0", "1", "0", "1"]
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["accuracy"]["k"] == 3
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "genlab survey export --db survey.sqlite -o OUT" in md and "| gan | gan | 3 | 2.00 ± 2.48 |" in md
    assert answers_csv([]).strip() == ",".join(
        [
            "answer_id",
            "respondent",
            "item_id",
            "source",
            "is_real",
            "family",
            "checkpoint_step",
            "seed",
            "label",
            "image_index",
            "realism",
            "appropriateness",
            "novelty",
            "guess",
            "correct",
            "created",
        ]
    )
