"""Train on your own images: the guide page's walkthrough and the data-cache benchmark, measured.

    python benchmarks/own_data.py --work /tmp/own-data            # both (about 10 minutes on 2 idle cores)
    python benchmarks/own_data.py --work /tmp/own-data --only guide
    python benchmarks/own_data.py --work /tmp/own-data --only bench

``guide`` writes the embedded MNIST out as 70 000 PNG files in class folders (``train/3/00042.png``)
and a procedural 64x64 RGB set (shapes64) as PNGs, then runs the commands of
docs/guide/own-data.md -- ``genlab data inspect``, ``data prepare``, ``train --data``, ``sample``,
``eval`` -- and writes that page (with what the commands printed) and its figures
(docs/guide/figures/own-data-*.png). The MNIST folder is trained next to ``--data mnist`` with the
same seed to show the same losses (same pixels, same order).

``bench`` measures, in one process, on a fresh cache: decode-and-cache throughput for 60 000
28x28 PNGs and 10 000 64x64 JPEGs (images/s), the cached start-up time (hash the file list and
open the arrays memory-mapped), the extra memory a memory-mapped split holds while batches are
drawn, and the training step time from the cache against the embedded MNIST at the same shape.
It writes docs/results/own-data.md with the machine and its load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from own_data_pages import FIGURE_FILES, C, guide_page, results_page
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
GUIDE, FIGURES, RESULTS = (
    ROOT / "docs/guide/own-data.md",
    ROOT / "docs/guide/figures",
    ROOT / "docs/results/own-data.md",
)
SHAPES_TRAIN, SHAPES_TEST = 6000, 1000
THREADS = "1"  # torch threads in every command: on a shared, overloaded machine 2 threads spin and crawl


# ---------------------------------------------------------------- writing the sources


def _write_chunk(args) -> None:
    root, suffix, items = args
    for rel, pixels in items:
        path = Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
        image.save(path, quality=95) if suffix == ".jpg" else image.save(path)


def write_images(root: Path, splits: dict[str, tuple[np.ndarray, np.ndarray]], names, suffix=".png") -> float:
    """Write (N, C, H, W) images as ``split/<class name>/<index>.suffix``; returns the seconds taken
    (nothing is rewritten when a ``<root>.done`` marker says an earlier call finished it)."""
    start = time.perf_counter()
    done = root.with_name(root.name + ".done")
    if done.is_file():
        return float(done.read_text())
    if root.exists():
        shutil.rmtree(root)
    items = [
        (f"{split}/{names[int(y)]}/{i:05d}{suffix}".lstrip("/"), x)
        for split, (images, labels) in splits.items()
        for i, (x, y) in enumerate(zip(images, labels))
    ]
    chunks = [(str(root), suffix, items[a : a + 2000]) for a in range(0, len(items), 2000)]
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(_write_chunk, chunks))
    seconds = time.perf_counter() - start
    done.write_text(f"{seconds:.3f}")
    return seconds


def make_sources(work: Path) -> dict[str, float]:
    from genlab.data import load_dataset, load_shapes64
    from genlab.data.shapes64 import MOTIFS  # class folder names, in label order

    seconds = {}
    mnist = {split: load_dataset("mnist", split)[:2] for split in ("train", "test")}
    seconds["mnist-png"] = write_images(work / "mnist-png", mnist, [str(k) for k in range(10)])
    train, test = load_shapes64("train"), load_shapes64("test")
    shapes = {
        "train": (train[0][:SHAPES_TRAIN], train[1][:SHAPES_TRAIN]),
        "test": (test[0][:SHAPES_TEST], test[1][:SHAPES_TEST]),
    }
    seconds["shapes-png"] = write_images(work / "shapes-png", shapes, MOTIFS)
    jpegs = {"": (train[0][:10_000], train[1][:10_000])}
    seconds["shapes-jpg"] = write_images(work / "shapes-jpg", jpegs, MOTIFS, suffix=".jpg")
    return seconds


# ---------------------------------------------------------------- the guide's commands


def genlab(work: Path, *args: str, env: dict | None = None) -> tuple[str, float]:
    """Run ``genlab ARGS`` in ``work`` as a user would; (what it printed, seconds)."""
    environment = {**os.environ, "COLUMNS": "100", "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": THREADS}
    environment.update(env or {})
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "genlab", *args], cwd=work, env=environment, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"genlab {' '.join(args)} failed:\n{done.stderr}")
    text = (done.stdout + done.stderr).rstrip().replace(f"{work}/", "")  # paths as the user typed them
    return text, time.perf_counter() - start


def scores(text: str) -> dict:
    return json.loads(text[text.index("{") :])


def guide(work: Path) -> dict:
    env = {"GENLAB_CACHE": str(work / "cache")}
    shutil.rmtree(work / "cache", ignore_errors=True)
    shutil.rmtree(work / "runs", ignore_errors=True)
    out: dict = {"write_seconds": make_sources(work)}
    for key, command in C.items():
        out[key], out[f"{key}_s"] = genlab(work, *shlex.split(command)[1:], env=env)
    for key in ("vae_eval", "vae_eval_digits", "gan_eval", "gan_eval_shapes"):
        out[key] = scores(out[key])
    out["losses"] = [
        (a["step"], a["loss"], b["loss"])
        for a, b in zip(*(_train_records(work / "runs" / r) for r in ("vae-folder", "vae-embedded")))
    ]
    FIGURES.mkdir(parents=True, exist_ok=True)
    for name, target in FIGURE_FILES.items():
        shutil.copyfile(work / name, FIGURES / target)
    card = (work / "runs/dcgan64-folder/card.md").read_text().replace(f"{work}/", "")
    out["card"] = card.split("## Training data\n", 1)[1].split("\n\n")[0]
    out["shapes_duplicates"] = len(
        scores(genlab(work, "data", "inspect", "shapes-png", "--json", env=env)[0])["duplicate_groups"]
    )
    out["load"] = os.getloadavg()
    return out


def _train_records(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "loss" in r]


# ---------------------------------------------------------------- the benchmark


def rss_anon_mb() -> float:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"RssAnon:\s+(\d+)", text).group(1)) / 1024


def bare_walk(root: Path) -> int:
    """Stat every file under ``root`` (os.scandir, no Python objects kept): the floor of a cached start-up."""
    pending, count = [root], 0
    while pending:
        for item in os.scandir(pending.pop()):
            if item.is_dir():
                pending.append(item.path)
            else:
                item.stat()
                count += 1
    return count


def bench(work: Path) -> dict:
    import torch

    import genlab
    from genlab.bench.machine import machine_info
    from genlab.data import Batcher, load_dataset, prepare
    from genlab.training import StepClock

    if not (work / "mnist-png").is_dir() or not (work / "shapes-jpg").is_dir():
        make_sources(work)
    torch.set_num_threads(int(THREADS))
    cache = work / "bench-cache"
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["GENLAB_CACHE"] = str(cache)
    out: dict = {"machine": machine_info(), "cores_used": len(os.sched_getaffinity(0))}
    # 1. Decode and cache, cold (a fresh cache), then the cached start-up.
    for name, path in (("png28", work / "mnist-png/train"), ("jpg64", work / "shapes-jpg")):
        start = time.perf_counter()
        prepared = prepare(path, progress=False)
        seconds = time.perf_counter() - start
        n = sum(prepared.manifest["images"].values())
        starts = []
        for _ in range(5):
            t = time.perf_counter()
            load_dataset(str(path), "train")
            starts.append(time.perf_counter() - t)
        floor = []
        for _ in range(5):  # the least any content key needs: list and stat every file, nothing else
            t = time.perf_counter()
            bare_walk(path)
            floor.append(time.perf_counter() - t)
        out[name] = {"images": n, "seconds": seconds, "per_s": n / seconds, "startup_s": starts, "walk_s": floor}
    # 2. Extra memory while drawing batches from the memory-mapped split vs the embedded arrays.
    images, labels, _ = load_dataset(str(work / "mnist-png/train"), "train")
    before = rss_anon_mb()
    batcher = Batcher(images, labels, batch_size=128, seed=0)
    for _ in range(200):
        batcher.next_batch()
    out["rss_mapped_mb"] = rss_anon_mb() - before
    images, labels, _ = load_dataset("mnist", "train")
    before = rss_anon_mb()
    batcher = Batcher(images, labels, batch_size=128, seed=0)
    for _ in range(200):
        batcher.next_batch()
    out["rss_embedded_mb"] = rss_anon_mb() - before
    # 3. Drawing a batch alone, then the training step time at the same shape, interleaved rounds.
    batchers = {
        "cache": Batcher(*load_dataset(str(work / "mnist-png"), "train")[:2], batch_size=128, seed=0),
        "embedded": Batcher(*load_dataset("mnist", "train")[:2], batch_size=128, seed=0),
    }
    draws = {"cache": [], "embedded": []}
    for _ in range(5):
        for key, batcher in batchers.items():
            t = time.perf_counter()
            for _ in range(500):
                batcher.next_batch()
            draws[key].append((time.perf_counter() - t) / 500)
    out["draw_us"] = {k: 1e6 * statistics.median(v) for k, v in draws.items()}
    times = {"cache": [], "embedded": []}
    for round_ in range(3):
        for key, data in (("cache", str(work / "mnist-png")), ("embedded", "mnist")):
            clock = StepClock()
            run_dir = work / "bench-runs" / f"{key}-{round_}"
            shutil.rmtree(run_dir, ignore_errors=True)
            genlab.train("vae", out=run_dir, preset="small", steps=200, dataset=data, clock=clock, data_license="x")
            times[key].append(clock.wall / 200)
    out["step_ms"] = {k: 1000 * statistics.median(v) for k, v in times.items()}
    out["load_end"] = os.getloadavg()
    return out


# ---------------------------------------------------------------- the pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/own-data"))
    parser.add_argument("--only", choices=("guide", "bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "src"))
    from genlab.atomic import atomic_write_text

    command = "python benchmarks/own_data.py --work /tmp/own-data" + (f" --only {args.only}" if args.only else "")
    if args.only in (None, "guide"):
        atomic_write_text(GUIDE, guide_page(guide(args.work.resolve())))
        print(f"wrote {GUIDE}")
    if args.only in (None, "bench"):
        measured = bench(args.work.resolve())
        atomic_write_text(RESULTS, results_page(measured, command))
        atomic_write_text(RESULTS.with_suffix(".json"), json.dumps(measured, indent=1) + "\n")
        print(f"wrote {RESULTS} and its .json")


if __name__ == "__main__":
    main()
