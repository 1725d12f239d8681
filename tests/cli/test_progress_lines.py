"""Progress where the output goes: outside a terminal, a plain line on stderr every progress_every seconds.

Real subprocesses with stderr on a pipe (not a terminal), read line by line as they come.
"""

import os
import re
import subprocess
import sys
import threading
import time

EVERY = 0.5  # seconds between lines asked for
SLACK = 2.0  # a line may come this much later on a busy 2-core machine (measured gaps: within 0.1 s of EVERY)


def timed_stderr(argv: list[str], env: dict[str, str] | None = None, timeout: float = 400) -> list[tuple[float, str]]:
    """(arrival time, line) of each stderr line of ``python -m genlab ARGV``; the command must succeed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "genlab", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(target=lambda: lines.extend((time.monotonic(), ln) for ln in proc.stderr))
    reader.start()
    try:
        assert proc.wait(timeout=timeout) == 0, "".join(ln for _, ln in lines)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join()
    return lines


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


def test_training_prints_a_line_every_progress_every_seconds(tmp_path):
    # a budget of 0.1 min keeps the steps going for 6 s whatever the machine's speed
    argv = ["train", "vae", "--set", "hidden=8", "--set", "latent_dim=2", "--steps", "100000", "--batch-size", "8"]
    argv += ["--set", "max_minutes=0.1", "--progress-every", str(EVERY), "--out", str(tmp_path / "run")]
    lines = timed_stderr(argv)
    progress = [(t, ln) for t, ln in lines if re.match(r"vae  \d+/100000 steps  ", ln)]
    assert len(progress) >= 4, "".join(ln for _, ln in lines)
    for _, line in progress:
        assert " steps/s, ETA " in line or "ETA unknown yet" in line, line
    assert any("loss " in ln and "img/s" in ln for _, ln in progress)  # the latest metrics
    steps = [int(re.match(r"vae  (\d+)/", ln).group(1)) for _, ln in progress]
    assert steps == sorted(steps) and steps[-1] > steps[0]
    assert max(gaps([t for t, _ in progress])) <= EVERY + SLACK


def test_a_run_sized_by_its_budget_shows_the_budget_left(tmp_path):
    """--set max_minutes with no steps or epochs: the step count is only a cap, so the lines show the budget left."""
    argv = ["train", "vae", "--set", "hidden=8", "--set", "latent_dim=2", "--batch-size", "8", "--set"]
    argv += ["max_minutes=0.05", "--progress-every", str(EVERY), "--out", str(tmp_path / "run")]
    lines = [ln for _, ln in timed_stderr(argv)]
    left = [float(m.group(1)) for ln in lines if (m := re.search(r"^vae  step \d+  .* budget left (\d+) s  ", ln))]
    assert len(left) >= 2 and left == sorted(left, reverse=True) and left[0] <= 3, "".join(lines)
    assert not any("ETA" in ln or "/10000000" in ln for ln in lines), "".join(lines)


def test_a_long_command_shows_its_stage(tmp_path):
    """eval baseline spends seconds on the reference features: its stage shows on stderr meanwhile."""
    lines = timed_stderr(
        ["eval", "baseline", "-n", "2000", "--json"], env={"GENLAB_PROGRESS_EVERY": str(EVERY)}, timeout=300
    )
    stages = [ln for _, ln in lines if ln.startswith("eval baseline: ")]
    assert stages and all("elapsed)" in ln for ln in stages), "".join(ln for _, ln in lines)
