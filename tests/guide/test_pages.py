"""The guide in docs/guide/: every link and image exists, every quoted table is the last build's, every figure is
used."""

import re
from pathlib import Path

import pytest

from genlab.guide.build import FIGURES, local_links, stale_includes

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide"
PAGES = sorted(GUIDE.glob("*.md"))


def test_the_guide_has_an_index_and_pages():
    assert (GUIDE / "README.md").is_file() and len(PAGES) >= 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_and_image_exists(page):
    missing = [t for t in local_links(page.read_text(encoding="utf-8")) if not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"


def test_index_links_every_page():
    linked = set(local_links((GUIDE / "README.md").read_text(encoding="utf-8")))
    assert {p.name for p in PAGES if p.name != "README.md"} <= linked


def test_quoted_tables_are_the_last_builds():
    assert stale_includes(GUIDE) == [], "run: genlab docs build"


def test_every_built_figure_exists_and_is_shown_on_a_page():
    text = "".join(p.read_text(encoding="utf-8") for p in PAGES)
    for fig in FIGURES.values():
        for name in fig.files:
            assert (GUIDE / "figures" / name).is_file(), f"missing {name}: run genlab docs build --only {fig.name}"
            if name.endswith(".png"):
                assert f"figures/{name}" in text, f"figures/{name} is built but no page shows it"


def test_every_page_names_a_command():
    for page in PAGES:
        assert re.search(r"```bash\n(genlab|python|bash) ", page.read_text(encoding="utf-8")), page.name
