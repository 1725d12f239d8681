"""``genlab serve`` (the local web app) and ``genlab survey export`` (its survey's answers)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from genlab.cli.app import DataDir, app, out
from genlab.errors import ConfigError

survey_app = typer.Typer(no_args_is_help=True, help="The web app's human-rating survey: export the answers.")
app.add_typer(survey_app, name="survey")

LOOPBACK = ("127.0.0.1", "localhost", "::1")
GRACE_S = 30  # seconds the requests in flight get to finish after SIGINT/SIGTERM
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@app.command()
def serve(
    runs: Annotated[
        Path, typer.Option("--runs", help="Folder of run directories to show (runs/<name> and runs/<group>/<name>).")
    ] = Path("runs"),
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but 127.0.0.1/localhost/::1 prints a warning.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    db: Annotated[Path, typer.Option("--db", help="SQLite file for the survey's answers (made on first use).")] = Path(
        "survey.sqlite"
    ),
    survey_runs: Annotated[
        str | None,
        typer.Option(
            "--survey-runs",
            help="Comma-separated run names the survey samples from (default: every MNIST run with a checkpoint).",
        ),
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="Another host name browsers may use to reach the app (repeatable); requests naming any other "
            "host are refused (DNS rebinding). Loopback names, and with a non-loopback --host that address and this "
            "machine's name, are always allowed.",
        ),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Serve the gallery, sampler, latent explorer and survey at http://HOST:PORT/ (Ctrl-C stops)."""
    import uvicorn

    from genlab.web import create_app

    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be in 1..65535, got {port}")
    if not runs.is_dir():
        raise ConfigError(
            f"--runs {runs} is not a folder; train a model first (genlab demo --out {runs}/demo) or point --runs at "
            "your runs"
        )
    if host not in LOOPBACK:
        print(
            f"genlab: warning: serving on {host} makes the app reachable from other machines; it has no login (use "
            "127.0.0.1 unless you mean it)",
            file=sys.stderr,
        )
    _check_can_listen(host, port)
    names = [n.strip() for n in survey_runs.split(",") if n.strip()] if survey_runs else None
    web = create_app(runs, db, survey_runs=names, data_dir=data_dir, allowed_hosts=_host_names(host, allow_host or []))
    shown = f"[{host}]" if ":" in host else host
    out.print(f"genlab serve: {runs} at http://{shown}:{port}/  (survey answers in {db}; Ctrl-C stops)")
    stopped_by: list[int] = []
    with _noting_signals(stopped_by):
        # SIGINT/SIGTERM: uvicorn closes the listening socket at once (no new requests), lets the requests in
        # flight finish (at most GRACE_S), then returns and raises the signal again, which lands in stopped_by
        uvicorn.run(web, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE_S)
    if stopped_by:
        out.print(f"genlab serve: stopped by {signal.Signals(stopped_by[0]).name}; requests in flight were answered")
        _exit_now()


@contextlib.contextmanager
def _noting_signals(seen: list[int]):
    """SIGINT and SIGTERM append to ``seen`` instead of stopping the process (uvicorn handles them while it
    serves, and raises them again once it has shut down); the previous handlers come back on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda signum, frame: seen.append(signum)) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _exit_now() -> None:
    """Exit with status 0 without the interpreter's teardown, which takes seconds with torch loaded on a busy
    machine: every survey answer is already committed (one transaction per request) and nothing else is open."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _host_names(host: str, extra: list[str]) -> set[str]:
    """Host names the app answers to besides loopback: ``extra``, and for a non-loopback
    ``--host`` that address (unless a wildcard) plus this machine's name and full name."""
    names = {h.strip().lower() for h in extra if h.strip()}
    if host not in LOOPBACK:
        if host not in ("0.0.0.0", "::"):
            names.add(host.lower())
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return names


def _check_can_listen(host: str, port: int) -> None:
    """Fail in one line when the port is taken or the address is not this machine's
    (uvicorn itself would log the error and exit with status 1)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ConfigError(f"--host {host}: {e.strerror or e}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


@survey_app.command("export")
def export(
    db: Annotated[Path, typer.Option("--db", help="The survey's SQLite file (genlab serve --db).")] = Path(
        "survey.sqlite"
    ),
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for answers.csv, summary.json and summary.md.")
    ] = Path("survey-export"),
) -> None:
    """Write every answer as CSV, and a summary (JSON + Markdown): mean ± 95 % CI of each rating per
    model and the human real-vs-generated accuracy."""
    from genlab.web.survey_db import SurveyDB
    from genlab.web.survey_stats import summarise, write_export

    if not db.is_file():
        raise ConfigError(
            f"--db {db} does not exist; `genlab serve --db {db}` creates it when the survey is first opened"
        )
    rows = SurveyDB(db).answer_rows()
    paths = write_export(rows, output, db.name)
    accuracy = summarise(rows)["accuracy"]
    rate = "n/a" if accuracy["rate"] is None else f"{accuracy['rate']:.3f}"
    out.print(f"{len(rows)} answers -> {', '.join(str(p) for p in paths)}  (human real-vs-generated accuracy {rate})")
