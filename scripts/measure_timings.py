"""Time the commands whose durations README.md and docs/guide/*.md quote; write docs/timings.json and the quotes.

    python scripts/measure_timings.py                 # run every command (about 40 minutes on a busy 2-core machine)
    python scripts/measure_timings.py --only doctor   # one entry (the others keep their last measurement)
    python scripts/measure_timings.py --write-docs-only

Each entry names a page, the text just before the duration it quotes, and how the number is
made: ``run`` times a command (wall clock, start-up included) in a scratch folder in the
walkthrough's order (``--only`` suits the entries that need no earlier one: demo-quick, doctor,
list, and every ``file`` entry); ``file`` computes it from numbers a benchmark wrote into a results
file (its command and machine load are recorded there), e.g. an epoch from ``genlab bench run``'s
images/s. The script then rewrites each
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
PERF = "docs/results/performance.json"  # genlab bench run (its command and load average are in the file)
GVD = "docs/results/diffusion-vs-gan.json"  # benchmarks/diffusion_vs_gan.py
SMALL = ["-n", "200", "--nll-k", "10", "--nll-n", "100", "--probe-n", "200", "--ref-n", "1000"]


@dataclass
class Entry:
    id: str
    file: str
    before: str  # the text just before the quoted duration (unique in the file)
    style: str  # how the quote is written: wall, about, tilde, after, about_per_epoch, tilde_per_epoch
    how: str  # run (time a genlab command) or file (numbers a benchmark wrote)
    argv: list = field(default_factory=list)  # run: genlab arguments; file: terms [path, key, factor, "x" or "/"]
    note: str = ""


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
    # README: the demo's trainings and a small DCGAN epoch, from `genlab bench run`'s training throughput on 2 cores
    Entry(
        "demo",
        "README.md",
        "embedded MNIST (",
        "about",
        "file",
        [[PERF, "run.training.family=dcgan.ours_images_per_s", 3 * 60000, "/"]]
        + [[PERF, "run.training.family=vae.ours_images_per_s", 10 * 60000, "/"]],
        note="training steps of 3 dcgan + 10 vae epochs (small presets, batch 128) at genlab bench run's images/s",
    ),
    Entry(
        "dcgan-small-epoch",
        "README.md",
        "CPU-sized (base_channels 16, ",
        "tilde_per_epoch",
        "file",
        [[PERF, "run.training.family=dcgan.ours_images_per_s", 60000, "/"]],
        note="one epoch (60 000 images) at genlab bench run's images/s, small preset, batch 128, 2 threads",
    ),
    Entry(
        "dcgan-textbook-epoch",
        "README.md",
        "the textbook DCGAN (",
        "about_per_epoch",
        "file",
        [[GVD, "6.train_s", 0.2, "x"]],  # 5 epochs: a fifth of the run's time
        note="benchmarks/diffusion_vs_gan.py, 1 thread",
    ),
    Entry(
        "ddpm-small",
        "README.md",
        "class-conditional diffusion, ",
        "tilde",
        "file",
        [[GVD, "0.train_s", 1, "x"]],
        note="benchmarks/diffusion_vs_gan.py, 5000 steps, 1 thread",
    ),
    Entry(
        "ldm",
        "README.md",
        "latent diffusion on a trained conv-vae (",
        "tilde",
        "file",
        [["docs/results/ldm.md", r"\| runs/ldm-conv-bin \|[^|]*\|[^|]*\| ([0-9.]+) min", 60, "x"]],
        note="benchmarks/ldm.py, 8000 steps, 1 thread",
    ),
    Entry(
        "ddpm-2h",
        "docs/guide/comparison.md",
        "the DDPM trained for ",
        "plain_min",
        "file",
        [[GVD, "3.train_s", 1, "x"]],
        note="benchmarks/diffusion_vs_gan.py",
    ),
    Entry(
        "dcgan-textbook",
        "docs/guide/comparison.md",
        "the textbook DCGAN trained 5 epochs (",
        "plain_min",
        "file",
        [[GVD, "6.train_s", 1, "x"]],
        note="benchmarks/diffusion_vs_gan.py",
    ),
]

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


def read_number(path: Path, key: str) -> float:
    """A number of a results file: a dotted key into its JSON (``name=value`` picks the list item with that
    field), or a regex with one group into its text."""
    if path.suffix == ".json":
        node = json.loads(path.read_text(encoding="utf-8"))
        for part in key.split("."):
            if isinstance(node, list) and "=" in part:
                name, value = part.split("=", 1)
                node = next(item for item in node if str(item.get(name)) == value)
            else:
                node = node[int(part)] if isinstance(node, list) else node[part]
        return float(node)
    m = re.search(key, path.read_text(encoding="utf-8"))
    if m is None:
        raise SystemExit(f"{key!r} not found in {path}")
    return float(m.group(1))


def from_file(terms: list) -> float:
    """Seconds from results files: the sum of ``factor * number`` ("x") or ``factor / number`` ("/") terms."""
    total = 0.0
    for path, key, factor, op in terms:
        number = read_number(ROOT / path, key)
        total += factor * number if op == "x" else factor / number
    return total


def measure(entries: list[Entry], previous: dict[str, dict]) -> dict[str, dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    results = dict(previous)
    with tempfile.TemporaryDirectory(prefix="genlab-timings-") as tmp:
        cwd, log = Path(tmp), Path(tmp) / "output.log"
        for e in entries:
            load = [round(v, 2) for v in os.getloadavg()]
            if e.how == "file":
                sources = ", ".join(sorted({t[0] for t in e.argv}))
                seconds, method, extra = from_file(e.argv), f"read from {sources}: {e.note}", {}
            else:
                if e.argv[0] == "serve":
                    seconds, method = serve_start(e.argv, cwd, env), "first 200 on GET / after starting `genlab serve`"
                else:
                    seconds, method = genlab(e.argv, cwd, env, log), f"wall clock of `genlab {' '.join(e.argv)}`"
                extra = {
                    "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "load_average_before": load,
                    "load_average_after": [round(v, 2) for v in os.getloadavg()],
                }
            results[e.id] = {"seconds": round(seconds, 2), "method": method, **extra}
            print(f"{e.id}: {seconds:.1f} s ({method})", file=sys.stderr, flush=True)
        if log.is_file():  # what the commands printed, for refreshing the pages' pasted outputs by hand
            shutil.copyfile(log, Path(tempfile.gettempdir()) / "genlab-timings-output.log")
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
    keep = ("seconds", "method", "measured", "load_average_before", "load_average_after", "remark")
    previous = {e["id"]: {k: e[k] for k in keep if k in e} for e in old["entries"]}
    doc = dict(old)
    if not args.write_docs_only:
        chosen = [e for e in ENTRIES if not args.only or e.id in args.only]
        measured = measure(chosen, previous)
        doc.update(
            command="python scripts/measure_timings.py",
            machine=f"{platform.platform()}, {os.cpu_count()} CPU cores visible, Python {platform.python_version()}",
            note="Timed on a machine shared with other jobs (each entry's load average is recorded; 2 cores, so a "
            "load above 2 means waiting for a core): an idle one is faster. Entries read from a results file carry "
            "that benchmark's conditions, named in the file.",
        )
        for stale in ("made", "load_average_before", "load_average_after"):
            doc.pop(stale, None)
    else:
        measured = previous
    doc["tolerance"] = TOLERANCE
    doc["entries"] = [
        {
            "id": e.id,
            "file": e.file,
            "before": e.before,
            "style": e.style,
            **measured[e.id],
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
