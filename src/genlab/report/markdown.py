"""The comparison as Markdown (``compare.md``), from the same groups and verdicts as the HTML page."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from genlab.report.table import NO_CLAIMS, Group, axis_table


def _link(target: Path, where: Path) -> str:
    return Path(os.path.relpath(target, where)).as_posix()


def _why(claim: dict[str, Any]) -> str:
    return f" ({claim['why']})" if claim["why"] else ""


def markdown_report(
    *,
    title: str,
    command: str,
    made: str,
    machine: str,
    settings: str,
    groups: list[Group],
    claims: list[dict[str, Any]],
    legend: str,
    report: Path,
    where: Path,
) -> str:
    """Markdown with links relative to ``where`` (the folder the .md file lives in) into the report folder
    ``report``."""
    rows = axis_table(groups)
    lines = [
        f"# {title}",
        "",
        f"Made by `{command}` on {made}. {machine}",
        "",
        settings,
        "",
        f"The HTML report with curves, sample grids at several training steps, interpolation strips and model cards: "
        f"[{_link(report / 'index.html', where)}]({_link(report / 'index.html', where)}).",
        "",
        "## Five axes",
        "",
        "| axis | measurement | source (eval JSON) | " + " | ".join(g.label for g in groups) + " |",
        "|---|---|---|" + "---|" * len(groups),
        *(f"| {axis} | {name} | `{source}` | " + " | ".join(cells) + " |" for axis, name, source, cells in rows),
        "",
        legend,
        "",
        "## Textbook claims",
        "",
        *(
            [
                "| claim | rule | measured (per family kind) | verdict |",
                "|---|---|---|---|",
                *(f"| {c['claim']} | {c['rule']} | {c['measured']} | **{c['verdict']}**{_why(c)} |" for c in claims),
            ]
            if claims
            else [NO_CLAIMS]
        ),
        "",
        "## Runs",
        "",
    ]
    for g in groups:
        for name, m in zip(g.names, g.runs):
            d = report / "runs" / name
            links = [
                f"[eval JSON]({_link(d / 'eval.json', where)})",
                f"[metrics.jsonl]({_link(d / 'metrics.jsonl', where)})",
            ]
            if m.get("has_card"):
                links.append(f"[model card]({_link(d / 'card.md', where)})")
            lines.append(
                f"- {g.label} / `{name}` (seed {m['seed']}, step {m['step']}, trained from `{m['run']}`): "
                + ", ".join(links)
            )
            if "class_histogram" in m["eval"]:
                lines.append(f"  - class histogram of its {m['eval']['n']} samples: {m['eval']['class_histogram']}")
        probe = g.runs[0]["latent"].get("probe_what") or "n/a"
        lines.append(f"  - latent probe of {g.label}: {probe}")
    return "\n".join(lines) + "\n"
