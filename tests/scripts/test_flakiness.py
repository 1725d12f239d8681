"""scripts/flakiness.py: per-test outcomes from a junit report, the tally over settings, the report, the load."""

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "flakiness.py"
spec = importlib.util.spec_from_file_location("flakiness", SCRIPT)
flakiness = sys.modules["flakiness"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
spec.loader.exec_module(flakiness)

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
  <testcase classname="tests.train.test_toy" name="test_learns" time="9.0"/>
  <testcase classname="tests.train.test_toy" name="test_flaky[ring8]" time="1.0">
    <failure message="assert 2 &gt;= 3">assert 2 &gt;= 3</failure></testcase>
  <testcase classname="tests.web.test_load" name="test_setup_breaks" time="0.1">
    <error message="failed on setup with OSError">OSError</error></testcase>
  <testcase classname="tests.models.test_x" name="test_teardown_breaks" time="0.2"/>
  <testcase classname="tests.models.test_x" name="test_teardown_breaks" time="0.0">
    <error message="failed on teardown">RuntimeError</error></testcase>
  <testcase classname="tests.models.test_x" name="test_needs_minilm" time="0.0">
    <skipped type="pytest.skip" message="not installed"/></testcase>
</testsuite></testsuites>
"""


def test_junit_outcomes_count_setup_and_teardown_errors_as_failures(tmp_path):
    (tmp_path / "r.xml").write_text(JUNIT)
    assert flakiness.parse_junit(tmp_path / "r.xml") == {
        "tests.train.test_toy::test_learns": "passed",
        "tests.train.test_toy::test_flaky[ring8]": "failed",
        "tests.web.test_load::test_setup_breaks": "failed",
        "tests.models.test_x::test_teardown_breaks": "failed",  # passed, then its teardown errored
        "tests.models.test_x::test_needs_minilm": "skipped",
    }


def test_failure_messages_keep_the_first_line(tmp_path):
    (tmp_path / "r.xml").write_text(JUNIT)
    assert flakiness.failure_messages(tmp_path / "r.xml") == {
        "tests.train.test_toy::test_flaky[ring8]": "assert 2 >= 3",
        "tests.web.test_load::test_setup_breaks": "failed on setup with OSError",
        "tests.models.test_x::test_teardown_breaks": "failed on teardown",
    }


def test_report_names_each_failing_test_with_its_count_and_settings():
    ok = {"a::t1": "passed", "a::t2": "passed", "a::t3": "skipped"}
    bad = {"a::t1": "passed", "a::t2": "failed", "a::t3": "skipped"}
    results = [("threads=1", ok), ("threads=2", bad), ("threads=1", ok), ("threads=2", ok), ("threads=2", bad)]
    tallies = flakiness.tally(results)
    assert flakiness.failed_rows(tallies) == [("a::t2", 2, 5, "threads=2: 2/3")]
    assert "a::t3" not in tallies  # skipped in every run: never ran
    text = flakiness.format_report(tallies, ["threads=1", "threads=2"])
    assert text.startswith("2 tests, 10 test runs") and "| `a::t2` | 2/5 | threads=2: 2/3 |" in text
    assert "a::t1" not in text
    with_message = flakiness.format_report(tallies, ["threads=1", "threads=2"], {"a::t2": "Failed: Timeout >300.0s"})
    assert "| threads=2: 2/3 | Failed: Timeout >300.0s |" in with_message


def test_report_says_when_nothing_failed():
    tallies = flakiness.tally([("threads=1", {"a::t1": "passed"}), ("threads=2", {"a::t1": "passed"})])
    assert flakiness.failed_rows(tallies) == []
    assert flakiness.format_report(tallies, ["threads=1", "threads=2"]).endswith("No test failed in any run.")


def test_a_crashed_pytest_run_is_a_failure_of_the_run_itself():
    tallies = flakiness.tally(
        [
            ("threads=1", {flakiness.RUN_ITSELF: "passed", "a::t1": "passed"}),
            ("threads=2", {flakiness.RUN_ITSELF: "failed"}),
        ]
    )
    assert flakiness.failed_rows(tallies) == [(flakiness.RUN_ITSELF, 1, 2, "threads=2: 1/1")]
    assert flakiness.format_report(tallies, ["threads=1", "threads=2"]).startswith("1 tests, 1 test runs")


def test_load_processes_are_stopped():
    procs = flakiness.start_load(2)
    assert all(p.poll() is None for p in procs)
    flakiness.stop_load(procs)
    assert all(p.poll() is not None for p in procs)
