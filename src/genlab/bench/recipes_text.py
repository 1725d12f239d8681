"""The text-to-image rows of docs/results/recipes.md, read from the verdicts ``benchmarks/text.py`` computed.

text-ddpm's bar is the "follows seen prompts" rule of docs/results/text.md (all four attributes right in
at least a stated share of the seen prompts' images). Training its models takes hours, so the recipes
bench does not re-measure them: it reads each model's best-guidance verdict line and the rule's
threshold from the pages ``benchmarks/text.py`` wrote (text.md for text-ddpm, text-ldm.md for the
latent pipeline), and says how far each model is from the bar. Nothing here is typed in by hand: a
page that is missing, or whose rule or verdicts cannot be read, gives a line that says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from genlab.errors import DataError
from genlab.files import read_text

PAGES = ("text.md", "text-ldm.md")  # written by benchmarks/text.py and benchmarks/text_ldm.py
MAX_PAGE_BYTES = 1 << 20
_RULE = re.compile(r"a model \*follows\* seen prompts when all four attributes are right in\s+>= (\d+)%")
_VERDICT = re.compile(
    r"^- \*\*(?P<model>text-[\w./-]+)\*\* \(step (?P<step>\d+)\) at w = (?P<w>[\d.]+) \(its best\): "
    r"all four right for (?P<held>\d+)% of held-out and (?P<seen>\d+)% of seen",
    re.MULTILINE,
)


@dataclass(frozen=True)
class TextVerdict:
    model: str
    page: str
    step: int
    guidance: float
    seen: int  # % of the seen prompts' images with all four attributes right
    held_out: int
    bar: int  # the page's "follows" threshold, %

    @property
    def verdict(self) -> str:
        if self.seen >= self.bar:
            return "**met**"
        return f"missed: seen prompts -{self.bar - self.seen} points"


def parse_verdicts(text: str, page: str) -> list[TextVerdict]:
    """Every text-* model's best-guidance verdict in one page; [] when the page states no rule."""
    rule = _RULE.search(text)
    if rule is None:
        return []
    bar = int(rule.group(1))
    return [
        TextVerdict(m["model"], page, int(m["step"]), float(m["w"]), int(m["seen"]), int(m["held"]), bar)
        for m in _VERDICT.finditer(text)
    ]


def text_section(results_dir: Path) -> list[str]:
    """The page's text-to-image table (or one line per page that could not be read)."""
    verdicts: list[TextVerdict] = []
    missing: list[str] = []
    for page in PAGES:
        path = results_dir / page
        try:
            found = parse_verdicts(read_text(path, MAX_PAGE_BYTES, "text results page"), page)
        except DataError:
            found = []
        if not found:
            missing.append(str(path))
        verdicts += found
    lines = [
        'Text to image (captions32): text-ddpm is judged by the "follows seen prompts" rule of '
        "`benchmarks/text.py` (all four attributes of a prompt read right by the shapes64 classifier), not "
        "re-trained here: each row is the model's best guidance, read from the verdicts on its page.",
        "",
    ]
    if verdicts:
        lines += [
            "| model | page | steps | guidance | all four right, seen prompts | held-out prompts | bar |",
            "|---|---|---|---|---|---|---|",
            *(
                f"| `{v.model}` | {v.page} | {v.step:,} | {v.guidance:g} | {v.seen}% (bar ≥ {v.bar}%) | "
                f"{v.held_out}% | {v.verdict} |"
                for v in verdicts
            ),
            "",
        ]
    lines += [f"No text-to-image verdicts could be read from {path}." for path in missing]
    return [*lines, ""] if missing else lines
