"""Run ``genlab ARGS`` with a kill point: when the chosen event happens, freeze and wait for SIGKILL.

Usage: ``python kill_child.py PLAN_JSON MARKER ARGS...`` (a fresh interpreter), or
:func:`install_kill_point` in a forked child of the test process. PLAN is
``{"event": E, "match": REGEX, "n": N, "torn": BOOL}``; at the N-th event of kind E whose
path matches REGEX this process writes MARKER (atomically: what happened, where) and sleeps
until the test SIGKILLs it. Events:

- ``fsync``: an ``os.fsync`` of a file or folder whose path matches (genlab.atomic fsyncs the
  temp file before renaming it, then the folder); ``torn`` first cuts the file to half its size,
  as if the kill had come in the middle of writing it;
- ``unlink``: a ``Path.unlink`` of a matching path, before it happens (pruning old checkpoints);
- ``step``: the end of a ``train_step`` call (weights changed in memory, nothing written yet);
- ``metrics``: an append to metrics.jsonl, after writing the first half of the line.

Torch runs single-threaded with deterministic algorithms, as in the tests' reference runs.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import sys
import time


def install_kill_point(plan: dict, marker: pathlib.Path) -> None:
    """Patch this process so that it freezes at ``plan`` (see the module docstring)."""
    import genlab.training.loop as trainer
    from genlab.models.registry import get_family

    seen = [0]
    pattern = re.compile(plan.get("match", ""))

    def freeze(what: str) -> None:
        tmp = marker.with_name(marker.name + ".tmp")
        tmp.write_text(what)
        os.rename(tmp, marker)
        while True:
            time.sleep(60)

    def due(path: str) -> bool:
        if not pattern.search(path):
            return False
        seen[0] += 1
        return seen[0] == plan["n"]

    event = plan["event"]
    if event == "fsync":
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            path = os.readlink(f"/proc/self/fd/{fd}")
            if due(path):
                if plan.get("torn") and os.path.isfile(path):
                    os.ftruncate(fd, os.fstat(fd).st_size // 2)
                freeze(f"fsync {path}")
            real_fsync(fd)

        os.fsync = fsync
    elif event == "unlink":
        real_unlink = pathlib.Path.unlink

        def unlink(self: pathlib.Path, missing_ok: bool = False) -> None:
            if due(str(self)):
                freeze(f"unlink {self}")
            real_unlink(self, missing_ok=missing_ok)

        pathlib.Path.unlink = unlink
    elif event == "step":
        family_cls = get_family(plan["family"]).family_cls
        real_step = family_cls.train_step

        def train_step(self, x, y, g):
            metrics = real_step(self, x, y, g)
            if due("train_step"):
                freeze(f"step {self.step}")
            return metrics

        family_cls.train_step = train_step
    elif event == "metrics":
        real_append = trainer.append_metrics

        def append_metrics(run_dir, record):
            if due("metrics.jsonl"):
                line = json.dumps(record) + "\n"
                with open(pathlib.Path(run_dir) / "metrics.jsonl", "a", encoding="utf-8") as f:
                    f.write(line[: len(line) // 2])
                freeze(f"metrics {pathlib.Path(run_dir) / 'metrics.jsonl'} {record.get('step')}")
            real_append(run_dir, record)

        trainer.append_metrics = append_metrics
    else:
        raise ValueError(f"unknown kill point event {event!r}")


def main() -> int:
    plan, marker, args = json.loads(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
    import torch

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    from genlab.cli import main as genlab_main

    install_kill_point(plan, marker)
    return genlab_main(args)


if __name__ == "__main__":
    sys.exit(main())
