"""The ``genlab`` command line: train, sample, eval, list, demo.

Bad input prints one line on stderr and exits with status 2; Ctrl-C during training
finishes the step, checkpoints, and exits with 130.
"""

from __future__ import annotations

import sys

import typer

from genlab.cli import anomaly as _anomaly  # noqa: F401  (registers anomaly fit/score)
from genlab.cli import bench as _bench  # noqa: F401  (registers bench run/variants/quality)
from genlab.cli import bench_recipes as _bench_recipes  # noqa: F401  (registers bench recipes)
from genlab.cli import classify as _classify  # noqa: F401  (registers classify)
from genlab.cli import compare as _compare  # noqa: F401  (registers compare and report)
from genlab.cli import data as _data  # noqa: F401  (registers data inspect/prepare)
from genlab.cli import detect as _detect  # noqa: F401  (registers detect train/eval/score)
from genlab.cli import distill as _distill  # noqa: F401  (registers distill)
from genlab.cli import docs as _docs  # noqa: F401  (registers docs build)
from genlab.cli import doctor as _doctor  # noqa: F401  (registers doctor)
from genlab.cli import eval as _eval  # noqa: F401  (registers the eval commands)
from genlab.cli import eval_model as _eval_model  # noqa: F401  (registers eval nll and disentangle)
from genlab.cli import export as _export  # noqa: F401  (registers export and filter)
from genlab.cli import latent as _latent  # noqa: F401  (registers latent interpolate/traverse/scatter)
from genlab.cli import publish as _publish  # noqa: F401  (registers watermark, keys, verify, card)
from genlab.cli import serve as _serve  # noqa: F401  (registers serve, survey export)
from genlab.cli import train as _train  # noqa: F401  (registers train, sample, list, demo)
from genlab.cli.app import app
from genlab.errors import GenlabError

__all__ = ["app", "console_main", "main"]


def main(argv: list[str] | None = None) -> int:
    """Entry point: one line on stderr and exit status 2 for any bad input."""
    command = typer.main.get_command(app)
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ["--help"]
    try:
        # Without standalone mode click returns a raised typer.Exit's code instead of raising it.
        result = command.main(args=argv, prog_name="genlab", standalone_mode=False)
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        print("genlab: aborted", file=sys.stderr)
        return 130
    except typer.TyperException as e:  # usage errors: unknown option, bad value, missing argument
        message = e.format_message() if hasattr(e, "format_message") else str(e)
        print(f"genlab: error: {' '.join(message.split())}", file=sys.stderr)
        return 2
    except GenlabError as e:
        print(f"genlab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genlab: aborted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


def console_main() -> None:
    sys.exit(main())
