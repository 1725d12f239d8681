"""The typer application and the options the commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from genlab.config import MAX_SEED

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="genlab: train, sample, evaluate and publish GANs, VAEs and diffusion models on a CPU.",
)
out = Console()

# every --seed and --*-seed option: numpy's RandomState (KID subsets) takes 0..2^32-1, and a larger
# value is a one-line usage error here instead of an OverflowError deep inside torch or numpy
SEED_RANGE = {"min": 0, "max": MAX_SEED}

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Folder with the MNIST IDX files (default: $GENLAB_DATA, else the embedded copy)."
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or chatter (for scripts).")]
