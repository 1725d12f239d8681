"""Docs that match the clock: every duration README.md and docs/guide/*.md quote is backed by docs/timings.json.

A duration is a number with a time unit in prose or in a comment of a bash block ("about 3 minutes",
"53 s wall", "~30 s/epoch"). Each must be an entry of docs/timings.json (written by
``python scripts/measure_timings.py``, which times the commands and rewrites the quotes), and agree
with the measured value within the file's tolerance plus the quote's rounding. Entries read from a
benchmark's results file are checked against that file as it is now.
"""

import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from measure_timings import DURATION, TIMINGS, from_file, quote_seconds  # noqa: E402

PAGES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / "guide").glob("*.md"))]
# Numbers with a time unit that are settings or names, not how long something takes (each with why).
NOT_DURATIONS = {
    ("README.md", "30 s"): "the load test's setting: 50 clients for 30 s",
    ("README.md", "8 min"): "a training budget the benchmark sets (8 min per run)",
    ("README.md", "2h"): "part of a run's name (runs/ddpm-2h)",
}
FENCE = re.compile(r"^```(\w*)\s*$")


def quoted_durations(page: str) -> list[str]:
    """Durations in prose and in the comments of commands; the rest of a code block (pasted output) is what a
    command printed."""
    found, block = [], None
    for line in (ROOT / page).read_text(encoding="utf-8").splitlines():
        fence = FENCE.match(line)
        if fence:
            block = None if block is not None else fence.group(1) or "text"
            continue
        if block is not None:  # a code block: only a shell comment after a command is prose
            line = line.split(" # ", 1)[1] if " # " in line else ""
        for m in DURATION.finditer(line):
            if re.match(r"[\w.]", line[m.end() : m.end() + 1] or " ") or (m.start() and line[m.start() - 1] == "."):
                continue  # part of a longer token: "sec. 3.3", "ddpm-2h", "2.5x"
            if (page, m.group(0)) not in NOT_DURATIONS:
                found.append(m.group(0))
    return found


@pytest.fixture(scope="module")
def timings():
    return json.loads(TIMINGS.read_text(encoding="utf-8"))


def test_every_quoted_duration_is_measured(timings):
    listed = Counter((e["file"], e["quote"]) for e in timings["entries"])
    quoted = Counter((page, q) for page in PAGES for q in quoted_durations(page))
    missing = quoted - listed
    assert not missing, f"durations quoted but not in docs/timings.json (run scripts/measure_timings.py): {missing}"
    stale = listed - quoted
    assert not stale, f"docs/timings.json lists quotes the pages no longer hold: {stale}"


def test_each_quote_agrees_with_its_measurement(timings):
    tolerance = timings["tolerance"]
    assert 0 < tolerance <= 0.5 and "shared" in timings["note"]
    for e in timings["entries"]:
        assert "source" in e or (e["load_average_before"] and e["measured"]), e["id"]  # timed here: under what load
        said, rounding = quote_seconds(e["quote"])
        measured = from_file(e["source"]) if "source" in e else e["seconds"]
        assert abs(said - measured) <= tolerance * measured + rounding, (e["id"], e["quote"], measured)
        assert e["method"], e["id"]


def test_the_detector_finds_durations_and_skips_settings():
    assert DURATION.search("takes about 3 minutes here").group(0) == "about 3 minutes"
    assert DURATION.search("(53 s wall on").group(0) == "53 s wall"
    assert DURATION.search("~30 s/epoch)").group(0) == "~30 s/epoch"
    assert quote_seconds("about 4 min/epoch") == (240.0, 30.0) and quote_seconds("120.0 min") == (7200.0, 3.0)
