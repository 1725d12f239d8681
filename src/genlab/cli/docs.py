"""``genlab docs build``: regenerate the guide's figures (docs/guide/figures/) and the numbers its pages quote."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import torch
import typer

from genlab.cli.app import DataDir, Quiet, app, out
from genlab.guide.build import FIGURES, build_guide, select

docs_app = typer.Typer(
    no_args_is_help=True, help="The guide in docs/guide/: its figures and the numbers its pages quote."
)
app.add_typer(docs_app, name="docs")


@docs_app.command(
    "build",
    help="Make the guide's figures into OUT/figures and refresh the numbers in OUT/*.md. "
    "--cheap: only the closed-form figures (seconds); the measured ones take minutes.",
)
def build(
    guide_dir: Annotated[Path, typer.Option("--out", help="The guide folder (figures go to OUT/figures).")] = Path(
        "docs/guide"
    ),
    only: Annotated[
        list[str] | None, typer.Option("--only", help=f"Build just this figure (repeatable): {', '.join(FIGURES)}.")
    ] = None,
    cheap: Annotated[bool, typer.Option("--cheap", help="Only the closed-form figures.")] = False,
    threads: Annotated[int, typer.Option(help="Torch threads (1 keeps a shared machine usable).")] = 1,
    list_: Annotated[bool, typer.Option("--list", help="List the figures and exit.")] = False,
    data_dir: DataDir = None,
    quiet: Quiet = False,
) -> None:
    if list_:
        for fig in FIGURES.values():
            print(f"{fig.name:24s} {'cheap   ' if fig.cheap else 'measured'} {fig.what}")
        return
    figures = select(only, cheap_only=cheap)
    torch.set_num_threads(max(1, threads))
    build_guide(guide_dir, figures, data_dir=data_dir, log=(lambda line: None) if quiet else print)
    if not quiet:
        out.print(
            f"built {len(figures)} figure(s) into {guide_dir / 'figures'} (record: "
            f"{guide_dir / 'figures' / 'build.json'})"
        )
