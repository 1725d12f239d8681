"""Sampling speed and memory, measured in a fresh process so the peak belongs to sampling alone.

``ru_maxrss`` only ever grows within a process, so a peak taken after training or after
scoring another run would be theirs. :func:`measure_sampling` starts
``python -m genlab.report.sampling`` which loads the run, draws ``n`` images (labels
cycling 0..K-1 for conditional families, as ``genlab eval`` does), saves them and prints
the timing as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from genlab.errors import GenlabError


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def sample_and_time(run_dir: Path, n: int, seed: int, output: Path, batch_size: int = 250) -> dict[str, Any]:
    """Load the run, draw ``n`` samples into ``output`` (.npz) and return the timing (this process)."""
    import torch

    from genlab.data import save_samples
    from genlab.runs.loading import load_family, sample_in_batches

    family, _, meta = load_family(run_dir)
    labels = torch.arange(n) % family.info.num_classes if family.conditional else None
    rss_loaded = _rss_mb()
    start = time.perf_counter()
    images = sample_in_batches(family, n, labels=labels, seed=seed, batch_size=batch_size)  # (N, C, H, W) uint8
    seconds = time.perf_counter() - start
    save_samples(output, images, None if labels is None else labels.numpy())
    return {
        "n": n,
        "seed": seed,
        "step": int(meta["step"]),
        "seconds": seconds,
        "images_per_s": n / seconds,
        "batch_size": batch_size,
        "torch_threads": torch.get_num_threads(),
        "rss_after_load_mb": rss_loaded,
        "peak_rss_mb": _rss_mb(),
    }


def measure_sampling(run_dir: Path, n: int, seed: int, output: Path) -> dict[str, Any]:
    """Run :func:`sample_and_time` in a child process; its failure becomes one GenlabError line."""
    cmd = [
        sys.executable,
        "-m",
        "genlab.report.sampling",
        str(run_dir),
        "--n",
        str(n),
        "--seed",
        str(seed),
        "--out",
        str(output),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise GenlabError(f"sampling {run_dir} failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genlab.report.sampling", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        result = sample_and_time(args.run_dir, args.n, args.seed, args.out)
    except GenlabError as e:
        print(f"genlab: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
