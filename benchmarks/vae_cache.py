"""The k = 5000 likelihood of a run, computed batch by batch and cached in the run directory (for vae_results.py)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

from genlab.atomic import atomic_write_text
from genlab.eval.nll import batch_sums, nll_result
from genlab.report.run_scores import prepare_run
from genlab.runs import read_metrics


def cached_nll(
    run_dir: Path, k: int, shard: tuple[int, int] = (0, 1), batch_size: int = 100
) -> tuple[dict, str] | None:
    """``genlab eval nll RUN --k K``'s result (seeds 0, all test images), computed batch by batch and cached.

    Each finished batch's sums go to RUN/nll-kK/batches-IofM.json, so the computation can be
    stopped and resumed, or split over M processes (``shard`` = (I, M): batches b with b % M == I).
    Returns None while batches are missing.
    """
    folder = run_dir / f"nll-k{k}"
    final = folder / "result.json"
    if final.is_file():
        doc = json.loads(final.read_text())
        return doc["result"], doc["what"]
    family, x, y, what = prepare_run(run_dir)
    mine_path = folder / f"batches-{shard[0]}of{shard[1]}.json"
    mine = json.loads(mine_path.read_text()) if mine_path.is_file() else {}
    n_batches = -(-len(x) // batch_size)
    for b in range(shard[0], n_batches, shard[1]):
        batches = finished_batches(folder)  # re-read: other processes may have finished some
        if str(b) in batches:
            continue
        start = time.perf_counter()
        sl = slice(b * batch_size, (b + 1) * batch_size)
        iwae, elbo = batch_sums(family, x[sl], None if y is None else y[sl], k=k, seed=0, batch_index=b)
        mine[str(b)] = batches[str(b)] = [iwae, elbo, time.perf_counter() - start]
        atomic_write_text(mine_path, json.dumps(mine))
        print(
            f"{run_dir}: batch {b + 1}/{n_batches}, {len(batches)} done, -L_k so far "
            f"{-sum(v[0] for v in batches.values()) / (batch_size * len(batches)):.2f}",
            flush=True,
        )
    batches = finished_batches(folder)
    if len(batches) < n_batches:
        return None
    # Sum in batch order, as estimate_nll does, so the numbers equal `genlab eval nll`'s exactly.
    ordered = [batches[str(b)] for b in range(n_batches)]
    iwae_sum, elbo_sum = 0.0, 0.0
    for iwae, elbo, _ in ordered:
        iwae_sum += iwae
        elbo_sum += elbo
    result = nll_result(family, x, y, iwae_sum, elbo_sum, k)
    doc = {
        "what": f"{what}, k = {k}, sample seed 0",
        "result": {**dataclasses.asdict(result), "binarize_seed": 0, "eval_seconds": sum(v[2] for v in ordered)},
    }
    atomic_write_text(final, json.dumps(doc, indent=1))
    return doc["result"], doc["what"]


def finished_batches(folder: Path) -> dict[str, list[float]]:
    """batch index -> [sum of L_k, sum of ELBO, seconds], from every process's cache file."""
    batches: dict[str, list[float]] = {}
    for path in sorted(folder.glob("batches-*.json")):
        batches.update(json.loads(path.read_text()))
    return batches


def wall_minutes(run_dir: Path) -> float:
    return max(r["elapsed_s"] for r in read_metrics(run_dir) if "elapsed_s" in r) / 60
