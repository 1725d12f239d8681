"""SIGKILL `genlab train` at seeded points (several inside a checkpoint write), resume, and
check that the run ends bit for bit where an unbroken run ends.

Each killed session is a child process (kill_child.py) that freezes at its kill point and is
then SIGKILLed by the test, so the point is exact rather than a race. Compared with the
unbroken run: every kept checkpoint's JSON (optimiser and EMA state, step, RNG keys, batcher,
metrics, SHA-256 of the tensor file, so every weight and RNG state), metrics.jsonl, every
sample grid's bytes and config.yaml; wall-clock fields (TIMING) are the only exclusions.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from reliability.helpers import assert_same_run, tiny_run
from reliability.kill_child import install_kill_point

from genlab.cli import main

CHILD = Path(__file__).with_name("kill_child.py")
# The run under test: checkpoints every 2 steps, keep_last 2 (so pruning runs), grids every 4.
TRAIN = {"keep_last": 2}
MODELS = {"wgan-gp": {"n_critic": 3, "ema": 0.9}, "vae": {}, "ddpm": {}}  # GAN: 3 D-steps per step, EMA generator

CKPT_TENSORS = r"checkpoints/\.step_\d{8}\.safetensors\.\w{8}\.tmp$"  # a checkpoint's tensor file before its rename
CKPT_JSON = r"checkpoints/\.step_\d{8}\.json\.\w{8}\.tmp$"  # its JSON before the rename (tensors already in place)
CKPT_DIR = r"/checkpoints$"  # the folder fsync after a rename
# Kill points inside a checkpoint write: (event, regex, torn). Counted per session.
CHECKPOINT_POINTS = [
    ("fsync", CKPT_TENSORS, False),
    ("fsync", CKPT_TENSORS, True),
    ("fsync", CKPT_JSON, False),
    ("fsync", CKPT_JSON, True),
    ("fsync", CKPT_DIR, False),
]
OTHER_POINTS = [
    ("step", "train_step", False),  # between checkpoints, weights changed only in memory
    ("metrics", "metrics", True),  # half a line written to metrics.jsonl
    ("fsync", r"samples/\.step_\d{8}\.png\.\w{8}\.tmp$", True),  # a torn sample grid
    ("unlink", r"checkpoints/step_\d{8}\.safetensors$", False),  # pruning: old JSON gone, tensors not yet
]


def write_config(tmp_path, family, steps) -> Path:
    run = tiny_run(family, steps=steps, model=MODELS[family], **TRAIN)
    path = tmp_path / f"{family}.yaml"
    path.write_text(yaml.safe_dump(run.to_dict()))
    return path


def start_child(plan, args, marker: Path, log: Path, fresh: bool):
    """A child running ``genlab ARGS`` that freezes at ``plan``: a fresh interpreter
    (kill_child.py), or a fork of this process (no second torch import: the fast tests)."""
    args = [str(a) for a in args]
    if fresh:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
        with open(log, "w") as err:
            child = subprocess.Popen(
                [sys.executable, str(CHILD), json.dumps(plan), str(marker), *args],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )
        return child.pid
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)
            install_kill_point(plan, marker)
            status = main(args)
        finally:
            os._exit(status)
    return pid


def kill_at(plan, args, marker: Path, log: Path, fresh: bool = False) -> str:
    """Run ``genlab ARGS`` in a child that freezes at ``plan``; SIGKILL it there; return what it was doing."""
    pid = start_child(plan, args, marker, log, fresh)
    status = None
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                raise AssertionError(
                    f"the child ended (wait status {status}) before its kill point {plan}: {log.read_text()[-2000:]}"
                )
            assert time.monotonic() < deadline, f"kill point {plan} not reached in 300 s"
            time.sleep(0.01)
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    what = marker.read_text()
    marker.unlink()
    return what


def plan_for(rng: random.Random, points, family, first_session: bool) -> dict:
    event, match, torn = rng.choice(points)
    # The first session must leave a checkpoint to resume from (the first is written at step 2).
    n = {"step": rng.randint(3 if first_session else 1, 6), "metrics": rng.randint(2, 4), "unlink": 1}.get(event)
    if n is None:
        n = (
            rng.randint(2, 3)
            if "checkpoints" in match and first_session
            else 1
            if "samples" in match
            else rng.randint(1, 2)
        )
    return {"event": event, "match": match, "n": n, "torn": torn, "family": family}


def kill_and_resume(tmp_path, family, plans, steps, fresh=False) -> list[str]:
    """Train ``family`` once unbroken and once killed at each of ``plans`` in turn (each
    session resuming the last), then resume to the end; compare; return where the kills landed."""
    config = write_config(tmp_path, family, steps)
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert main(["train", "--config", str(config), "--out", str(whole), "-q"]) == 0
    landed = []
    for i, plan in enumerate(plans):
        args = ["train", "--config", config, "--out", split, "-q"] if i == 0 else ["train", "--resume", split, "-q"]
        landed.append(kill_at(plan, args, tmp_path / "frozen", tmp_path / f"session{i}.log", fresh))
        if plan["event"] == "fsync" and plan["match"] != CKPT_DIR:
            assert Path(landed[-1].split(" ", 1)[1]).exists()  # killed inside the write: its temp file is still there
    assert main(["train", "--resume", str(split), "-q"]) == 0
    assert_same_run(whole, split)
    return landed


# Fast test: per family, a kill inside a checkpoint write, then one elsewhere; the kinds are
# fixed so that the three families cover different ones, the positions are seeded.
FAST_KINDS = {
    "wgan-gp": [CHECKPOINT_POINTS[1], OTHER_POINTS[0]],  # torn tensor file; mid-step
    "vae": [CHECKPOINT_POINTS[2], OTHER_POINTS[1]],  # tensors renamed, JSON not; torn metrics line
    "ddpm": [CHECKPOINT_POINTS[0], OTHER_POINTS[3]],  # tensor file complete, not renamed; mid-prune
}


@pytest.mark.parametrize("family", list(MODELS))
def test_sigkill_inside_a_checkpoint_write_then_elsewhere_resumes_bit_for_bit(family, tmp_path, deterministic):
    rng = random.Random(f"kill-{family}")
    plans = [plan_for(rng, [kind], family, i == 0) for i, kind in enumerate(FAST_KINDS[family])]
    landed = kill_and_resume(tmp_path, family, plans, steps=16)
    assert landed[0].startswith("fsync") and "/checkpoints/." in landed[0]  # inside save_checkpoint


@pytest.mark.slow
@pytest.mark.parametrize("family", list(MODELS))
@pytest.mark.parametrize("seed", range(4))
def test_sigkill_at_many_seeded_points_resumes_bit_for_bit(family, seed, tmp_path, deterministic):
    """Three kills per run, at seeded points among every kind, checkpoint writes included;
    every session a fresh `python` process, as a user's would be."""
    rng = random.Random(f"kill-{family}-{seed}")
    plans = [plan_for(rng, CHECKPOINT_POINTS + OTHER_POINTS, family, i == 0) for i in range(3)]
    kill_and_resume(tmp_path, family, plans, steps=24, fresh=True)


@pytest.mark.slow
def test_every_kill_point_kind_is_covered_by_the_slow_seeds():
    """The seeded plans of the slow test reach every kind of kill point, checkpoint writes included."""
    kinds = set()
    for family in MODELS:
        for seed in range(4):
            rng = random.Random(f"kill-{family}-{seed}")
            kinds |= {
                (p["event"], p["match"], p["torn"])
                for p in (plan_for(rng, CHECKPOINT_POINTS + OTHER_POINTS, family, i == 0) for i in range(3))
            }
    assert kinds == set(CHECKPOINT_POINTS + OTHER_POINTS)
