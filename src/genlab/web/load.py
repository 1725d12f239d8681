"""Load test of the web app from loopback clients: sampling and survey answers at once.

    python -m genlab.web.load --runs runs/demo-check --clients 50 --seconds 30

starts the app in this process (survey answers in a temporary SQLite file), runs
``clients`` threads for ``seconds``, each alternating a sampler request (a fresh seed, so
the model really samples) with a survey answer, then counts the answers in the database
against the ones the server acknowledged. Prints one Markdown table (requests, errors,
p50/p95/max latency per kind) and the answer count. Stdlib HTTP only (urllib).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import random
import re
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_ITEM_RE = re.compile(r'name="item" value="([A-Za-z0-9_\-]+)"')


@dataclass
class LoadResult:
    """What the clients saw: latencies (s) and failures per request kind, answers acknowledged."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {"sample": [], "answer": []})
    errors: dict[str, list[str]] = field(default_factory=lambda: {"sample": [], "answer": []})
    acknowledged: int = 0
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        with self.lock:
            if error:
                self.errors[kind].append(error)
            else:
                self.latencies[kind].append(seconds)


def _client(base: str, runs: list[str], n: int, deadline: float, seed: int, result: LoadResult) -> None:
    """One respondent: its own cookies; sample, answer, sample, answer, ... until ``deadline``."""
    rng = random.Random(seed)
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def fetch(url: str, data: bytes | None = None) -> tuple[int, str]:
        try:
            with opener.open(url, data=data, timeout=300) as r:
                return r.status, r.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", errors="replace")

    def timed(kind: str, url: str, data: bytes | None = None) -> str | None:
        start = time.perf_counter()
        try:
            status, body = fetch(url, data)
        except OSError as e:
            result.add(kind, 0.0, f"{type(e).__name__}: {e}")
            return None
        ok = status == 200
        result.add(kind, time.perf_counter() - start, None if ok else f"HTTP {status}: {body[:120]}")
        return body if ok else None

    page = timed("answer", f"{base}/survey")  # the first survey page (sets the cookie)
    while time.monotonic() < deadline:
        query = urllib.parse.urlencode({"run": rng.choice(runs), "n": n, "seed": rng.randrange(2**31)})
        timed("sample", f"{base}/sample.png?{query}")
        match = _ITEM_RE.search(page or "")
        if match is None:
            page = timed("answer", f"{base}/survey")
            continue
        form = {
            "item": match.group(1),
            "realism": rng.randint(1, 5),
            "appropriateness": rng.randint(1, 5),
            "novelty": rng.randint(1, 5),
            "guess": rng.choice(["real", "generated"]),
        }
        page = timed(
            "answer", f"{base}/survey/answer", urllib.parse.urlencode(form).encode()
        )  # 303 -> the next survey page
        if page is not None and 'id="thanks"' in page:
            with result.lock:
                result.acknowledged += 1


def run_load(base: str, runs: list[str], *, clients: int = 50, seconds: float = 30.0, n: int = 4) -> LoadResult:
    """Run ``clients`` respondents against the app at ``base`` for ``seconds``; wait for them all."""
    result = LoadResult()
    start = time.monotonic()
    deadline = start + seconds
    threads = [
        threading.Thread(target=_client, args=(base, runs, n, deadline, k, result), daemon=True)
        for k in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.monotonic() - start
    return result


def report(result: LoadResult, stored: int, clients: int) -> str:
    """The result as a Markdown table plus the answer count line."""
    lines = [
        f"{clients} clients for {result.seconds:.1f} s (until the last request in flight returned)",
        "",
        "| request | completed | errors | p50 (s) | p95 (s) | max (s) |",
        "|---|---|---|---|---|---|",
    ]
    for kind, label in (("sample", "sample.png (fresh seed)"), ("answer", "survey answer + next page")):
        ms = np.asarray(result.latencies[kind])
        cells = [f"{np.percentile(ms, q):.2f}" for q in (50, 95)] + [f"{ms.max():.2f}"] if ms.size else ["n/a"] * 3
        lines.append(f"| {label} | {ms.size} | {len(result.errors[kind])} | " + " | ".join(cells) + " |")
    lines += ["", f"survey answers acknowledged by the server: {result.acknowledged}; rows in the database: {stored}"]
    for kind, errors in result.errors.items():
        lines += [f"first {kind} error: {errors[0]}"] if errors else []
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Load test of genlab serve from loopback clients.")
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("-n", type=int, default=4, help="images per sampler request")
    args = parser.parse_args()
    from genlab.web import create_app
    from genlab.web.server import background_server

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(args.runs, Path(tmp) / "survey.sqlite")
        runs = app.state.web.survey.models()
        if not runs:
            raise SystemExit(f"no MNIST run with a checkpoint under {args.runs}")
        with background_server(app) as base:
            result = run_load(base, runs, clients=args.clients, seconds=args.seconds, n=args.n)
        print(report(result, app.state.web.db.count_answers(), args.clients))


if __name__ == "__main__":
    main()
