"""genlab.console.Progress: plain lines outside a terminal, none when quiet, stage and count in each line."""

import time

import pytest

from genlab.console import Progress, duration, progress_every


def test_plain_lines_name_the_stage_the_count_the_rate_and_the_eta(capsys):
    with Progress("sample: 100 images", 100, unit="images", every=0.05) as progress:
        progress.update(40)
        time.sleep(0.3)
        progress.stage("scoring")
        time.sleep(0.3)
    lines = capsys.readouterr().err.splitlines()
    counted = [ln for ln in lines if ln.startswith("sample: 100 images  40/100 images  ")]
    assert counted and "images/s, ETA " in counted[0] and counted[0].endswith("elapsed)")
    assert any(ln.startswith("scoring  (") for ln in lines)  # a stage without a count: its elapsed time


def test_quiet_and_quick_commands_print_nothing(capsys):
    with Progress("quiet", 10, quiet=True, every=0.01) as progress:
        progress.update(5)
        time.sleep(0.1)
    with Progress("quick", 10, every=5.0) as progress:
        progress.update(10)
    assert capsys.readouterr().err == ""


def test_the_interval_and_durations(monkeypatch):
    monkeypatch.setenv("GENLAB_PROGRESS_EVERY", "2.5")
    assert progress_every() == 2.5
    for bad in ("0", "-1", "inf", "soon"):
        monkeypatch.setenv("GENLAB_PROGRESS_EVERY", bad)
        assert progress_every() == 30.0
    assert duration(42) == "42 s" and duration(150) == "2.5 min" and duration(7200) == "2.0 h"


@pytest.mark.parametrize("total", [None, 0])
def test_no_total_means_no_eta(capsys, total):
    with Progress("reference features", total, every=0.05):
        time.sleep(0.2)
    lines = capsys.readouterr().err.splitlines()
    assert lines and all("ETA" not in ln for ln in lines)
