"""The commands the newer guide pages tell people to type parse: real subcommands, real options, real presets and keys.

Every ``genlab ...`` line in a ```bash block of the pages below is parsed by the CLI itself
(click's parser, without running the command); ``genlab train FAMILY`` lines also build their
run config, so an unknown family, preset or ``--set`` key fails here. ``python``/``bash`` lines
must name a file of the repository.
"""

import re
import shlex
from pathlib import Path

import pytest
import typer

from genlab.cli import app
from genlab.cli.train import _resolve_run

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guide"
PAGES = (
    "README.md",
    "walkthrough.md",
    "translation.md",
    "stylegan.md",
    "text-conditioning.md",
    "comparison.md",
    "few-step.md",
    "own-data.md",
)
BLOCK = re.compile(r"```bash\n(.*?)```", re.S)


def command_lines(page: str) -> list[list[str]]:
    """The shell words of each command line in the page's bash blocks, comments dropped."""
    lines = []
    for block in BLOCK.findall((GUIDE / page).read_text(encoding="utf-8")):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            while words and "=" in words[0] and not words[0].startswith("-"):  # OMP_NUM_THREADS=1 ...
                words = words[1:]
            if words[:2] == ["nice", "-n"]:
                words = words[3:]
            if words:
                lines.append(words)
    return lines


def parse_genlab(argv: list[str]):
    """Resolve ``genlab ARGV`` to its command and parsed parameters; a usage error raises typer.TyperException.

    typer ships its own click, so groups are recognised by their ``commands``, not by click's classes."""
    cmd = typer.main.get_command(app)
    ctx, name = None, "genlab"
    while hasattr(cmd, "commands"):
        group_ctx = cmd.context_class(cmd, info_name=name, parent=ctx)
        name, cmd, argv = cmd.resolve_command(group_ctx, argv)
        ctx = group_ctx
    return cmd, cmd.make_context(name, list(argv), parent=ctx).params


def test_the_walkthrough_covers_the_newcomer_path():
    names = {w[1] for w in command_lines("walkthrough.md") if w[0] == "genlab"}
    needed = {
        "doctor",
        "list",
        "train",
        "sample",
        "eval",
        "report",
        "compare",
        "serve",
        "keys",
        "verify",
        "watermark",
        "card",
    }
    assert needed <= names, f"walkthrough.md lacks: {sorted(needed - names)}"
    assert any("--resume" in w for w in command_lines("walkthrough.md"))
    assert ["bash", "scripts/demo.sh"] in command_lines("walkthrough.md")


@pytest.mark.parametrize("page", PAGES)
def test_every_command_parses(page):
    for words in command_lines(page):
        head = words[0]
        if head in ("python", "bash"):
            script = next(w for w in words[1:] if not w.startswith("-"))
            assert (ROOT / script).is_file(), f"{page}: {' '.join(words)} names a missing file"
        elif head == "genlab":
            cmd, params = parse_genlab(words[1:])
            if cmd.name == "train" and params.get("family"):
                _resolve_run(
                    params["family"],
                    params["config"],
                    params["preset"],
                    params["set_"] or [],
                    dataset=params["dataset"],
                    steps=params["steps"],
                    epochs=params["epochs"],
                    batch_size=params["batch_size"],
                    seed=params["seed"],
                )
        else:
            assert head in ("ls", "tail", "cat", "open", "xdg-open", "head", "curl"), (
                f"{page}: unexpected command {head!r}"
            )


def test_a_wrong_option_is_caught():
    with pytest.raises(typer.TyperException):
        parse_genlab(["train", "vae", "--stepz", "3"])
    with pytest.raises(typer.TyperException):
        parse_genlab(["sampel", "runs/vae"])
    _, params = parse_genlab(["train", "vae", "--preset", "small", "--set", "no_such_key=1"])
    with pytest.raises(Exception, match="no_such_key"):
        _resolve_run(
            params["family"],
            None,
            params["preset"],
            params["set_"],
            dataset=None,
            steps=None,
            epochs=None,
            batch_size=None,
            seed=None,
        )
