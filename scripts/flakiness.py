"""Run the slow stage and the training tests many times, under 1 and 2 threads (and a CPU load), and
report every test that ever failed.

    .venv/bin/python scripts/flakiness.py                       # -m "slow or trains", 3 runs x threads 1, 2
    .venv/bin/python scripts/flakiness.py --runs 2 --load       # the same with busy loops on every core
    .venv/bin/python scripts/flakiness.py --marker trains -- tests/train/test_toy.py   # a subset

A test that passes once can still fail on the next machine (issue 23: a GAN outcome that moved with
the thread count). This script repeats the tests that are most exposed: the slow stage
(``pytest -m slow``) and the tests marked ``trains`` (they train a model and assert what it learned).
Each run is one ``pytest`` process per thread setting; ``GENLAB_TEST_THREADS`` (read by
tests/conftest.py for the ``trains`` tests) and ``OMP_NUM_THREADS`` (torch's default, also for the
subprocesses some slow tests start) are set to the setting. Per-test outcomes come from
``pytest --junitxml``. ``--load`` starts one busy-loop process per core for the whole session and
always stops them at the end (also on Ctrl-C or SIGTERM).

Prints a table of every test that failed at least once (test id, failures / runs, and the settings
it failed under) and exits 1 when there is one, 0 when every run of every test passed (or skipped).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
RUN_ITSELF = "<pytest run>"  # the pseudo-test that fails when pytest crashed or wrote no report


def parse_junit(path: Path) -> dict[str, str]:
    """Per-test outcome (passed / failed / skipped) from one pytest --junitxml report.

    The test id is ``classname::name`` (e.g. ``tests.train.test_toy::test_x[param]``). A test with a
    <failure> or an <error> (an error in setup or teardown too) failed; a test listed twice (pytest
    reports a teardown error as a second entry) failed if any entry did.
    """
    rank = {SKIPPED: 0, PASSED: 1, FAILED: 2}
    outcomes: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = FAILED
        elif case.find("skipped") is not None:
            outcome = SKIPPED
        else:
            outcome = PASSED
        outcomes[test_id] = max(outcomes.get(test_id, SKIPPED), outcome, key=rank.__getitem__)
    return outcomes


def failure_messages(path: Path) -> dict[str, str]:
    """The first line of each failed test's message in one --junitxml report (e.g. ``Failed: Timeout >300.0s``)."""
    messages = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        for kind in ("failure", "error"):
            found = case.find(kind)
            if found is not None:
                text = (found.get("message") or found.text or kind).strip().splitlines() or [kind]
                messages[f"{case.get('classname', '')}::{case.get('name', '')}"] = text[0][:100]
    return messages


@dataclass
class Tally:
    """How one test fared: runs and failures per setting (e.g. ``threads=2+load``)."""

    runs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def tally(results: list[tuple[str, dict[str, str]]]) -> dict[str, Tally]:
    """Fold (setting, outcomes of one pytest run) pairs into a Tally per test; skips are not runs."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for setting, outcomes in results:
        for test_id, outcome in outcomes.items():
            if outcome == SKIPPED:
                continue
            tallies[test_id].runs[setting] += 1
            tallies[test_id].failures[setting] += outcome == FAILED
    return dict(tallies)


def failed_rows(tallies: dict[str, Tally]) -> list[tuple[str, int, int, str]]:
    """(test id, failures, runs, 'setting: k/n, ...' for the settings it failed under) of every test
    that failed at least once, the most failures first."""
    rows = []
    for test_id, t in tallies.items():
        failures, runs = sum(t.failures.values()), sum(t.runs.values())
        if failures:
            where = ", ".join(f"{s}: {t.failures[s]}/{t.runs[s]}" for s in sorted(t.runs) if t.failures[s])
            rows.append((test_id, failures, runs, where))
    return sorted(rows, key=lambda r: (-r[1], r[0]))


def format_report(tallies: dict[str, Tally], settings: list[str], messages: dict[str, str] | None = None) -> str:
    """A Markdown table of the tests that ever failed (with the last failure's message, when given), or a line
    saying none did."""
    rows = failed_rows(tallies)
    tests = {k: t for k, t in tallies.items() if k != RUN_ITSELF}
    test_runs = sum(sum(t.runs.values()) for t in tests.values())
    head = f"{len(tests)} tests, {test_runs} test runs, settings: {', '.join(settings)}"
    if not rows:
        return f"{head}\n\nNo test failed in any run."
    lines = [head, "", f"{len(rows)} tests failed at least once:", ""]
    messages = messages or {}
    lines += ["| test | failed / runs | failed under | last failure |", "|---|---|---|---|"]
    lines += [
        f"| `{test_id}` | {failures}/{runs} | {where} | {messages.get(test_id, '').replace('|', '/')} |"
        for test_id, failures, runs, where in rows
    ]
    return "\n".join(lines)


def start_load(cores: int) -> list[subprocess.Popen]:
    """One busy-loop Python process per core (the competing load of ``--load``)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]


def stop_load(procs: list[subprocess.Popen]) -> None:
    """Stop the busy loops: SIGTERM, then SIGKILL what is still running after 5 s."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_pytest(marker: str, threads: int, junit: Path, extra: list[str], timeout: float) -> dict[str, str]:
    """One pytest process over ``-m marker`` with ``threads`` threads; its per-test outcomes (the report stays
    at ``junit`` for failure_messages)."""
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)  # this checkout's genlab
    env = {**os.environ, "PYTHONPATH": path, "GENLAB_TEST_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "pytest", "-m", marker, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}", *extra]
    try:
        done = subprocess.run(
            cmd,
            check=False,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        print(f"timed out after {timeout:.0f} s")
        return {RUN_ITSELF: FAILED}
    print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else f"(no output, exit {done.returncode})")
    if done.returncode not in (0, 1, 5) or not junit.is_file():  # 5: nothing selected
        print(done.stdout[-3000:], file=sys.stderr)
        return {RUN_ITSELF: FAILED}
    return {**parse_junit(junit), RUN_ITSELF: PASSED}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per thread setting (default 3)")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread settings (default 1,2)")
    parser.add_argument("--load", action="store_true", help="busy loops on every core for the whole session")
    parser.add_argument("--marker", default="slow or trains", help='pytest -m expression (default "slow or trains")')
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per pytest run (default 3600)")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments after --, e.g. test files or node ids")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    if args.runs < 1 or not threads or min(threads) < 1:
        parser.error("--runs and every --threads value must be >= 1")

    load: list[subprocess.Popen] = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the finally below stops the load
    results: list[tuple[str, dict[str, str]]] = []
    messages: dict[str, str] = {}  # test id -> its last failure's message
    settings = [f"threads={t}{'+load' if args.load else ''}" for t in threads]
    command = shlex.join(["python", "scripts/flakiness.py", *(argv if argv is not None else sys.argv[1:])])
    print(f"# {command}\n# pytest -m {args.marker!r} {shlex.join(args.pytest_args)}; {args.runs} runs x {settings}")
    try:
        if args.load:
            load = start_load(len(os.sched_getaffinity(0)))
            print(f"# load: {len(load)} busy-loop processes")
        with tempfile.TemporaryDirectory(prefix="flakiness-") as tmp:
            for run in range(1, args.runs + 1):
                for t, setting in zip(threads, settings):
                    start = time.perf_counter()
                    print(f"run {run}/{args.runs} {setting}: ", end="", flush=True)
                    junit = Path(tmp) / f"run{run}-t{t}.xml"
                    results.append((setting, run_pytest(args.marker, t, junit, args.pytest_args, args.timeout)))
                    if junit.is_file():
                        messages.update(failure_messages(junit))
                    print(f"  ({time.perf_counter() - start:.0f} s)", flush=True)
    finally:
        stop_load(load)
    tallies = tally(results)
    print()
    print(format_report(tallies, settings, messages))
    return 1 if failed_rows(tallies) else 0


if __name__ == "__main__":
    sys.exit(main())
