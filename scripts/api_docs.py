"""Write docs/api.md, the reference of the public Python API, from the docstrings.

    .venv/bin/python scripts/api_docs.py [--check]

Lists what ``import genlab`` exports (``genlab.__all__``) with each signature and
docstring, and the methods and properties of :class:`genlab.Run`. ``--check`` exits 1
when docs/api.md differs from what the docstrings give (the test suite runs it).
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

import genlab

OUT = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _doc(obj: object) -> str:
    return inspect.cleandoc(inspect.getdoc(obj) or "(no docstring)")


def _signature(name: str, obj: object) -> str:
    try:
        return f"{name}{inspect.signature(obj)}"
    except (TypeError, ValueError):
        return name


def render() -> str:
    """The whole page, as markdown."""
    lines = [
        "# The Python API",
        "",
        "Generated from the docstrings by `python scripts/api_docs.py`; do not edit by hand.",
        "",
        "```python",
        inspect.getdoc(genlab).split("::", 1)[1].split("\n\n- ")[0].strip("\n").replace("\n    ", "\n").strip(),
        "```",
        "",
    ]
    for name in genlab.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(genlab, name)
        kind = "class" if inspect.isclass(obj) else "function"
        lines += [f"## `genlab.{name}` ({kind})", "", "```python", _signature(name, obj), "```", "", _doc(obj), ""]
        if obj is genlab.Run:
            for member, value in inspect.getmembers(obj):
                if member.startswith("_"):
                    continue
                if isinstance(value, property):
                    lines += [f"### `Run.{member}` (property)", "", _doc(value), ""]
                elif inspect.isfunction(value):
                    sig = _signature(member, value).replace("(self, ", "(").replace("(self)", "()")
                    lines += [f"### `Run.{member}`", "", "```python", sig, "```", "", _doc(value), ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not OUT.is_file() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run python scripts/api_docs.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
