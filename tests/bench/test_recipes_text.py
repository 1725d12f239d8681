"""The recipes page's text-to-image rows: read from the verdicts benchmarks/text.py wrote, never typed in."""

from __future__ import annotations

from pathlib import Path

from genlab.bench.recipes_text import MAX_PAGE_BYTES, parse_verdicts, text_section

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"


def _page(bar: int, *verdicts: tuple[str, int, float, int, int]) -> str:
    lines = [
        "**Verdicts, computed from the table.** Rule: a model *follows* seen prompts when all four attributes are "
        f"right in >= {bar}% of their images, and *generalises* when ...",
        "",
    ]
    for model, step, w, held, seen in verdicts:
        lines.append(
            f"- **{model}** (step {step}) at w = {w:g} (its best): all four right for {held}% of held-out and "
            f"{seen}% of seen prompts' images; colour 40% held-out vs 39% seen. Verdict: ..."
        )
    lines.append("- **attr-gan** (step 12000): all four right for 37% of held-out and 37% of seen prompts' images")
    return "\n".join(lines)


def test_the_bar_and_the_numbers_come_from_the_page():
    text = _page(20, ("text-ddpm/a", 10000, 6, 9, 5), ("text-ldm/b", 2000, 3, 25, 34))
    a, b = parse_verdicts(text, "text.md")
    assert (a.model, a.step, a.guidance, a.held_out, a.seen, a.bar) == ("text-ddpm/a", 10000, 6.0, 9, 5, 20)
    assert a.verdict == "missed: seen prompts -15 points"
    assert b.verdict == "**met**"
    assert parse_verdicts(_page(4, ("text-ddpm/a", 10, 1, 9, 5)), "p")[0].verdict == "**met**"


def test_a_page_without_the_rule_gives_no_verdicts():
    text = _page(10, ("text-ddpm/a", 10000, 6, 9, 5)).replace("*follows*", "follows")
    assert parse_verdicts(text, "text.md") == []


def test_missing_or_oversized_pages_say_so(tmp_path):
    (tmp_path / "text.md").write_text("x" * (MAX_PAGE_BYTES + 1))
    lines = text_section(tmp_path)
    assert f"No text-to-image verdicts could be read from {tmp_path / 'text.md'}." in lines
    assert f"No text-to-image verdicts could be read from {tmp_path / 'text-ldm.md'}." in lines
    assert not any(line.startswith("| `") for line in lines)


def test_the_shipped_pages_give_a_row_for_each_pipeline():
    rows = [line for line in text_section(RESULTS) if line.startswith("| `")]
    assert any(r.startswith("| `text-ddpm/") for r in rows)
    assert any(r.startswith("| `text-ldm/") for r in rows)
    assert all(r.endswith("| **met** |") or "missed: seen prompts -" in r for r in rows)
