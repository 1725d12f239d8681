"""Time the commands whose durations README.md and docs/guide/*.md quote; write docs/timings.json and the quotes.

    python scripts/measure_timings.py                 # run every command (about 30 minutes on a busy 2-core machine)
    python scripts/measure_timings.py --only doctor   # one entry (the others keep their last measurement)
    python scripts/measure_timings.py --write-docs-only

Each entry names a page, the text just before the duration it quotes, and how the number is
made: ``run`` times a command (wall clock, start-up included) in a scratch folder in the
walkthrough's order; ``steps`` times a short training and multiplies its mean step time
(``step_s`` in metrics.jsonl) by the steps the page talks about; ``file`` reads a number from a
results file a benchmark wrote (its command is named there). The script then rewrites each
quoted duration in the pages from the measurement, and ``tests/guide/test_timings.py`` fails
when a page quotes a duration that docs/timings.json does not back within its tolerance.
The machine is shared: its load average before and after is recorded with the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ROOT / "docs" / "timings.json"
TOLERANCE = 0.25  # a quote may differ from its measurement by 25 % (plus its rounding): the machine is shared
WT = "docs/guide/walkthrough.md"
TINY_VAE = ["--preset", "small", "--steps", "200", "--set", "max_minutes=2", "--set", "sample_every=100"]
SMALL = ["-n", "200", "--nll-k", "10", "--nll-n", "100", "--probe-n", "200", "--ref-n", "1000"]


@dataclass
class Entry:
    id: str
    file: str
    before: str  # the text just before the quoted duration (unique in the file)
    style: str  # how the quote is written: wall, about, tilde, after, about_per_epoch, tilde_per_epoch
    how: str  # run, steps or file
    argv: list[str] = field(default_factory=list)  # run/steps: genlab arguments; file: [path, dotted key or regex]
    steps: int = 0  # steps: the number of steps the page talks about
    note: str = ""
    env: dict[str, str] = field(default_factory=dict)


ENTRIES = [
    Entry("demo-quick", WT, "`--steps 20 --out /tmp/wt/demo` (", "wall", "run", ["demo", "--steps", "20"]),
    Entry("doctor", WT, "`genlab doctor` prints what a bug report needs (", "wall", "run", ["doctor"]),
    Entry("list", WT, "`genlab list` (", "wall", "run", ["list"]),
    Entry(
        "train-vae",
        WT,
        "lists the known ones. Printed (",
        "wall",
        "run",
        ["train", "vae", *TINY_VAE, "--out", "runs/my-vae"],
    ),
    Entry(
        "sample",
        WT,
        "samples.png\n```\nPrinted (",
        "wall",
        "run",
        ["sample", "runs/my-vae", "-n", "64", "-o", "s.npz", "--grid", "s.png"],
    ),
    Entry(
        "eval", WT, "with the digit classifier's\nfeatures (", "about", "run", ["eval", "runs/my-vae", "-n", "1000"]
    ),
    Entry(
        "resume", WT, "to 300 steps in all (", "wall", "run", ["train", "--resume", "runs/my-vae", "--steps", "300"]
    ),
    Entry(
        "report", WT, "The\nflags make it quick (", "wall", "run", ["report", "runs/my-vae", "-o", "report/", *SMALL]
    ),
    Entry(
        "train-gan",
        WT,
        "(an MLP GAN, ",
        "wall",
        "run",
        ["train", "gan", "--preset", "small", "--steps", "200", "--set", "sample_every=100", "--out", "runs/my-gan"],
    ),
    Entry(
        "compare",
        WT,
        "then both measured the same way (",
        "wall",
        "run",
        ["compare", "runs/my-vae", "runs/my-gan", "-o", "compare/", *SMALL],
    ),
    Entry("serve", WT, "with status 200 ", "after", "run", ["serve", "--runs", "runs/", "--port", "8765"]),
    Entry("keys", WT, "`genlab keys new` (", "wall", "run", ["keys", "new", "--out", "keys/"]),
    Entry(
        "sample-signed",
        WT,
        "The signed sample (",
        "wall",
        "run",
        ["sample", "runs/my-vae", "-n", "16", "-o", "signed.npz", "--grid", "signed.png"]
        + ["--sign-key", "keys/signing-key.pem", "--watermark-key", "keys/watermark.key"],
    ),
    Entry(
        "verify", WT, "`genlab verify` (", "wall", "run", ["verify", "signed.png", "--key", "keys/signing-key.pub.pem"]
    ),
    Entry(
        "detect",
        WT,
        "`genlab watermark detect` (",
        "wall",
        "run",
        ["watermark", "detect", "signed.png", "--key", "keys/watermark.key"],
    ),
    Entry("card", WT, "`genlab card runs/my-vae` (", "wall", "run", ["card", "runs/my-vae"]),
    # README: the demo's two trainings (3 + 10 epochs), from their mean step times
    Entry(
        "demo",
        "README.md",
        "embedded MNIST (",
        "about",
        "steps",
        ["train", "dcgan", "--preset", "small", "--steps", "30", "--set", "log_every=10"],
        steps=3 * 469,
        note="plus the vae entry below (10 epochs); see demo-vae",
    ),
    Entry(
        "dcgan-small-epoch",
        "README.md",
        "CPU-sized (base_channels 16, ",
        "tilde_per_epoch",
        "steps",
        ["train", "dcgan", "--preset", "small", "--steps", "30", "--set", "log_every=10"],
        steps=469,
    ),
    Entry(
        "dcgan-textbook-epoch",
        "README.md",
        "the textbook DCGAN (",
        "about_per_epoch",
        "file",
        ["docs/results/diffusion-vs-gan.json", "6.train_s", "0.2"],  # 5 epochs: a fifth of the run's time
        note="benchmarks/diffusion_vs_gan.py, 1 thread",
    ),
    Entry(
        "ddpm-small",
        "README.md",
        "class-conditional diffusion, ",
        "tilde",
        "file",
        ["docs/results/diffusion-vs-gan.json", "0.train_s", "1"],
        note="benchmarks/diffusion_vs_gan.py, 5000 steps, 1 thread",
    ),
    Entry(
        "ldm",
        "README.md",
        "latent diffusion on a trained conv-vae (",
        "tilde",
        "file",
        ["docs/results/ldm.md", r"\| runs/ldm-conv-bin \|[^|]*\|[^|]*\| ([0-9.]+) min", "60"],
        note="benchmarks/ldm.py, 8000 steps, 1 thread",
    ),
    Entry(
        "ddpm-2h",
        "docs/guide/comparison.md",
        "the DDPM trained for ",
        "plain_min",
        "file",
        ["docs/results/diffusion-vs-gan.json", "3.train_s", "1"],
        note="benchmarks/diffusion_vs_gan.py",
    ),
    Entry(
        "dcgan-textbook",
        "docs/guide/comparison.md",
        "the textbook DCGAN trained 5 epochs (",
        "plain_min",
        "file",
        ["docs/results/diffusion-vs-gan.json", "6.train_s", "1"],
        note="benchmarks/diffusion_vs_gan.py",
    ),
]
DEMO_VAE = ["train", "vae", "--preset", "small", "--steps", "60", "--set", "log_every=20"]  # 10 epochs = 4690 steps

# A duration as the pages write it: "about 3 minutes", "~25 min", "53 s wall", "about 4 min/epoch", "after 58 s".
DURATION = re.compile(
    r"(?:(?:about|~|after) ?)?(?P<n>\d+(?:\.\d+)?) ?(?P<unit>s|seconds?|min|minutes?|h|hours?)\b(?P<per>/epoch)?"
    r"(?: wall)?"
)
UNIT_S = {"s": 1, "second": 1, "seconds": 1, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hour": 3600}
UNIT_S["hours"] = 3600


def quote_seconds(quote: str) -> tuple[float, float]:
    """(seconds a quote says, half its rounding step in seconds)."""
    m = DURATION.fullmatch(quote)
    if m is None:
        raise ValueError(f"not a duration quote: {quote!r}")
    unit = UNIT_S[m["unit"]]
    decimals = len(m["n"].split(".")[1]) if "." in m["n"] else 0
    return float(m["n"]) * unit, 0.5 * 10**-decimals * unit


def format_quote(seconds: float, style: str) -> str:
    """The quote of ``seconds`` in a page's style (seconds below 90 s, else minutes)."""
    minutes = seconds >= 90
    value = f"{seconds / 60:.0f} min" if minutes else f"{seconds:.0f} s"
    if style == "wall":
        return f"{value} wall"
    if style == "after":
        return f"after {value}"
    if style == "about":
        return f"about {seconds / 60:.0f} minutes" if minutes else f"about {seconds:.0f} seconds"
    if style == "tilde":
        return f"~{value}"
    if style == "plain_min":
        return f"{seconds / 60:.1f} min"
    if style in ("about_per_epoch", "tilde_per_epoch"):
        return ("about " if style == "about_per_epoch" else "~") + f"{value}/epoch"
    raise ValueError(style)


def genlab(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """Wall seconds of ``genlab ARGV`` run to completion in ``cwd`` (its output appended to ``log``)."""
    start = time.perf_counter()
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"\n$ genlab {' '.join(argv)}\n")
        f.flush()
        done = subprocess.run([sys.executable, "-m", "genlab", *argv], cwd=cwd, env=env, stdout=f, stderr=f)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"genlab {' '.join(argv)} failed ({done.returncode}); see {log}")
    return seconds


def serve_start(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds from starting ``genlab serve`` to its first 200 on GET /."""
    port = argv[argv.index("--port") + 1]
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "genlab", *argv], cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"genlab serve exited with {proc.returncode}")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


_STEP_CACHE: dict[tuple[str, ...], float] = {}


def step_seconds(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """Median logged step time of a short training (``step_s`` of metrics.jsonl); each training runs once."""
    if tuple(argv) not in _STEP_CACHE:
        _STEP_CACHE[tuple(argv)] = _step_seconds(argv, cwd, env, log)
    return _STEP_CACHE[tuple(argv)]


def _step_seconds(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    out = cwd / "timed-steps"
    shutil.rmtree(out, ignore_errors=True)
    genlab([*argv, "--out", str(out), "--quiet"], cwd, env, log)
    times = sorted(
        json.loads(line)["step_s"] for line in (out / "metrics.jsonl").read_text().splitlines() if '"step_s"' in line
    )
    if not times:
        raise SystemExit(f"no step_s in {out}/metrics.jsonl")
    return times[len(times) // 2]


def from_file(spec: list[str]) -> float:
    """A number from a results file: ``[path, dotted key into its JSON or a regex with one group, scale]``."""
    path, key, scale = ROOT / spec[0], spec[1], float(spec[2])
    if path.suffix == ".json":
        node = json.loads(path.read_text(encoding="utf-8"))
        for part in key.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return float(node) * scale
    m = re.search(key, path.read_text(encoding="utf-8"))
    if m is None:
        raise SystemExit(f"{key!r} not found in {path}")
    return float(m.group(1)) * scale


def measure(entries: list[Entry], previous: dict[str, dict]) -> dict[str, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    results = dict(previous)
    with tempfile.TemporaryDirectory(prefix="genlab-timings-") as tmp:
        cwd, log = Path(tmp), Path(tmp) / "output.log"
        for e in entries:
            if e.how == "file":
                seconds, method = from_file(e.argv), f"read from {e.argv[0]} ({e.note})"
            elif e.how == "steps":
                step = step_seconds(e.argv, cwd, env, log)
                seconds, method = (
                    step * e.steps,
                    f"median step time {step:.3f} s of `genlab {' '.join(e.argv)}` x {e.steps}",
                )
                if e.id == "demo":  # the demo also trains the small VAE 10 epochs
                    vae = step_seconds(DEMO_VAE, cwd, env, log)
                    seconds += vae * 4690
                    method += f" + median step time {vae:.3f} s of `genlab {' '.join(DEMO_VAE)}` x 4690"
            elif e.argv[0] == "serve":
                seconds, method = serve_start(e.argv, cwd, env), "first 200 on GET / after starting `genlab serve`"
            else:
                seconds, method = genlab(e.argv, cwd, env, log), f"wall clock of `genlab {' '.join(e.argv)}`"
            results[e.id] = {"seconds": round(seconds, 2), "method": method}
            print(f"{e.id}: {seconds:.1f} s ({method})", file=sys.stderr, flush=True)
        kept = ROOT / "docs" / "timings-output.log"
        shutil.copyfile(log, kept) if log.is_file() else None
    return results


def write_docs(doc: dict) -> None:
    """Rewrite every quoted duration from its measurement (the text before it locates it)."""
    pages: dict[str, str] = {}
    for e in doc["entries"]:
        text = pages.setdefault(e["file"], (ROOT / e["file"]).read_text(encoding="utf-8"))
        if text.count(e["before"]) != 1:
            raise SystemExit(f"{e['file']}: {e['before']!r} must occur once, found {text.count(e['before'])}")
        at = text.index(e["before"]) + len(e["before"])
        m = DURATION.match(text, at)
        if m is None:
            raise SystemExit(f"{e['file']}: no duration after {e['before']!r}")
        pages[e["file"]] = text[: m.start()] + e["quote"] + text[m.end() :]
    for name, text in pages.items():
        (ROOT / name).write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", help="Measure only these entry ids (repeatable).")
    parser.add_argument("--write-docs-only", action="store_true", help="Rewrite the quotes from docs/timings.json.")
    args = parser.parse_args()
    old = json.loads(TIMINGS.read_text(encoding="utf-8")) if TIMINGS.is_file() else {"entries": []}
    previous = {e["id"]: {"seconds": e["seconds"], "method": e["method"]} for e in old["entries"]}
    doc = dict(old)
    if not args.write_docs_only:
        chosen = [e for e in ENTRIES if not args.only or e.id in args.only]
        before = os.getloadavg()
        measured = measure(chosen, previous)
        doc.update(
            made=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            command="python scripts/measure_timings.py" + "".join(f" --only {i}" for i in args.only or []),
            machine=f"{platform.platform()}, {os.cpu_count()} CPU cores visible, Python {platform.python_version()}",
            load_average_before=[round(v, 2) for v in before],
            load_average_after=[round(v, 2) for v in os.getloadavg()],
            note="The machine is shared with other jobs: an idle one is faster.",
        )
    else:
        measured = previous
    doc["tolerance"] = TOLERANCE
    doc["entries"] = [
        {
            "id": e.id,
            "file": e.file,
            "before": e.before,
            "style": e.style,
            "seconds": measured[e.id]["seconds"],
            "method": measured[e.id]["method"],
            "quote": format_quote(measured[e.id]["seconds"], e.style),
            **({"source": e.argv} if e.how == "file" else {}),
        }
        for e in ENTRIES
        if e.id in measured
    ]
    TIMINGS.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    write_docs(doc)
    print(f"wrote {TIMINGS.relative_to(ROOT)} and the quotes in the pages", file=sys.stderr)


if __name__ == "__main__":
    main()
