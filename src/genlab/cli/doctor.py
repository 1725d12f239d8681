"""``genlab doctor``: versions, threads, data and checksums, device, optional extras."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from genlab.cli.app import DataDir, app
from genlab.doctor import collect, format_report


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    no_checksums: Annotated[
        bool, typer.Option("--no-checksums", help="Skip hashing the MNIST files (faster).")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Print what a bug report needs: versions, threads, data location and checksums, device, extras."""
    report = collect(data_dir, checksums=not no_checksums)
    if as_json:
        print(json.dumps(report, indent=1))
    else:
        print(format_report(report))  # plain text, unwrapped: it is pasted into bug reports
