"""The survey's numbers: mean ± 95 % CI of each rating per model, and human real-vs-fake accuracy.

Pure functions of the answer rows (:meth:`SurveyDB.answer_rows`), then one writer for
``genlab survey export``: answers.csv, summary.json and summary.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from genlab.atomic import atomic_write_text

RATINGS = ("realism", "appropriateness", "novelty")
CSV_COLUMNS = (
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
)
EXPORT_COMMAND = "genlab survey export --db DB -o OUT"


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float | int | None]:
    """Mean and Student-t interval: mean ± t_{(1+c)/2, n-1} · s / sqrt(n), s the sample sd (ddof 1).

    With fewer than two values the interval is undefined and comes back as None.
    """
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return {"n": 0, "mean": None, "ci_low": None, "ci_high": None}
    mean = float(x.mean())
    if n < 2:
        return {"n": n, "mean": mean, "ci_low": None, "ci_high": None}
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return {"n": n, "mean": mean, "ci_low": mean - half, "ci_high": mean + half}


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (Wilson 1927); None for n = 0.

    (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), z the normal quantile.
    """
    if n == 0:
        return None
    z = float(stats.norm.ppf((1 + confidence) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def is_correct(row: dict[str, Any]) -> bool:
    """Whether a respondent's real/generated guess matches the truth."""
    return (row["guess"] == "real") == bool(row["is_real"])


def _proportion(k: int, n: int) -> dict[str, Any]:
    interval = wilson_interval(k, n)
    return {
        "k": k,
        "n": n,
        "rate": k / n if n else None,
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
    }


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per model (the run name, or ``real``): answers, each rating's mean ± 95 % CI and how often
    its images were judged real; overall: the human accuracy at telling real from generated."""
    models: dict[str, Any] = {}
    for source in sorted({r["source"] for r in rows}, key=lambda s: (s != "real", s)):
        mine = [r for r in rows if r["source"] == source]
        models[source] = {
            "family": mine[0]["family"] or "real data",
            "answers": len(mine),
            **{name: mean_ci([r[name] for r in mine]) for name in RATINGS},
            "judged_real": _proportion(sum(r["guess"] == "real" for r in mine), len(mine)),
        }
    real = [r for r in rows if r["is_real"]]
    fake = [r for r in rows if not r["is_real"]]
    return {
        "answers": len(rows),
        "respondents": len({r["respondent"] for r in rows}),
        "confidence": 0.95,
        "models": models,
        "accuracy": _proportion(sum(map(is_correct, rows)), len(rows)),
        "accuracy_on_real": _proportion(sum(map(is_correct, real)), len(real)),
        "accuracy_on_generated": _proportion(sum(map(is_correct, fake)), len(fake)),
    }


def _ci_text(stat: dict[str, Any], digits: int = 2) -> str:
    """``mean ± half-width`` of a rating, ``rate [low, high]`` of a proportion, or n/a."""
    is_mean = "mean" in stat
    value = stat["mean"] if is_mean else stat["rate"]
    if value is None:
        return "n/a"
    if stat["ci_low"] is None:
        return f"{value:.{digits}f} (n = {stat['n']}, no interval)"
    if is_mean:
        return f"{value:.{digits}f} ± {(stat['ci_high'] - stat['ci_low']) / 2:.{digits}f}"
    return f"{value:.{digits}f} [{stat['ci_low']:.{digits}f}, {stat['ci_high']:.{digits}f}]"


def summary_markdown(summary: dict[str, Any], db_name: str) -> str:
    """The summary as a Markdown page (table per model, then the accuracy lines)."""
    lines = [
        "# Human evaluation survey",
        "",
        f"Made by `{EXPORT_COMMAND.replace('DB', db_name)}` from {summary['answers']} answers of "
        f"{summary['respondents']} respondents.",
        "Ratings 1-5: mean ± half-width of the 95 % Student-t interval; proportions with their 95 % Wilson interval.",
        "",
        "| model | family | answers | realism | appropriateness | novelty | judged real |",
        "|---|---|---|---|---|---|---|",
    ]
    for source, m in summary["models"].items():
        cells = [
            source,
            m["family"],
            str(m["answers"]),
            *(_ci_text(m[name]) for name in RATINGS),
            _ci_text(m["judged_real"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f'Human real-vs-generated accuracy (the "human Turing test"): {_ci_text(summary["accuracy"])} over '
        f"{summary['accuracy']['n']} answers "
        "(0.5 is chance: people cannot tell the models' images from real ones).",
        f"On real images: {_ci_text(summary['accuracy_on_real'])}; on generated images: "
        f"{_ci_text(summary['accuracy_on_generated'])}.",
        "",
    ]
    return "\n".join(lines)


def answers_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Every answer as CSV with a ``correct`` column (1 when the guess was right)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**{k: row.get(k) for k in CSV_COLUMNS}, "correct": int(is_correct(row))})
    return buffer.getvalue()


def write_export(rows: Sequence[dict[str, Any]], out_dir: str | Path, db_name: str) -> list[Path]:
    """Write answers.csv, summary.json and summary.md into ``out_dir`` (each atomically)."""
    out_dir = Path(out_dir)
    summary = summarise(rows)
    return [
        atomic_write_text(out_dir / "answers.csv", answers_csv(rows)),
        atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n"),
        atomic_write_text(out_dir / "summary.md", summary_markdown(summary, db_name)),
    ]
