"""Build the guide's figures and refresh the numbers quoted in its pages.

A page quotes a generated table through an include block::

    <!-- include: figures/kl-examples.md -->
    (the table, rewritten by every build)
    <!-- end include -->

so the text on a page is always what the last build measured, and a test can check it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.atomic import atomic_write_text
from genlab.errors import ConfigError
from genlab.guide import measured, theory
from genlab.runs.rundir import versions

COMMAND = "genlab docs build"
INCLUDE = re.compile(r"(<!-- include: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- end include -->)", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")


@dataclass(frozen=True)
class GuideFigure:
    """One builder: what it shows, the files it writes into figures/, and whether it is cheap (closed form)."""

    name: str
    what: str
    make: Callable[..., dict[str, Any]]
    files: tuple[str, ...]
    cheap: bool
    needs_data: bool = False


FIGURES: dict[str, GuideFigure] = {
    f.name: f
    for f in (
        GuideFigure(
            "optimal-discriminator",
            "D* = p_data/(p_data+p_g) and V(D*, G)",
            theory.optimal_discriminator_figure,
            ("optimal-discriminator.png", "optimal-discriminator.md"),
            cheap=True,
        ),
        GuideFigure(
            "generator-gradients",
            "minimax vs non-saturating generator gradients",
            theory.generator_gradient_figure,
            ("generator-gradients.png",),
            cheap=True,
        ),
        GuideFigure(
            "wasserstein-vs-jsd",
            "JSD saturates, W1 does not",
            theory.wasserstein_figure,
            ("wasserstein-vs-jsd.png",),
            cheap=True,
        ),
        GuideFigure(
            "alpha-bar",
            "ᾱ_t of the linear and cosine schedules",
            theory.alpha_bar_figure,
            ("alpha-bar.png", "alpha-bar.md"),
            cheap=True,
        ),
        GuideFigure(
            "kl-examples", "the two worked KL examples", theory.kl_examples_table, ("kl-examples.md",), cheap=True
        ),
        GuideFigure(
            "gan-vs-kde",
            "1-D GAN and KDE on the same 1000 points",
            measured.gan_vs_kde_figure,
            ("gan-vs-kde.png", "gan-vs-kde.md"),
            cheap=False,
        ),
        GuideFigure(
            "forward-process",
            "MNIST digits under q(x_t | x_0)",
            measured.forward_process_figure,
            ("forward-process.png",),
            cheap=False,
            needs_data=True,
        ),
        GuideFigure(
            "fid-small-n",
            "FID's bias at small n, KID's lack of it",
            measured.fid_small_n_figure,
            ("fid-small-n.png", "fid-small-n.md"),
            cheap=False,
            needs_data=True,
        ),
    )
}


def select(only: list[str] | None = None, *, cheap_only: bool = False) -> list[GuideFigure]:
    """The builders to run: ``only`` by name (an unknown name lists the known ones), or every one (cheap ones if
    asked)."""
    if only:
        unknown = [n for n in only if n not in FIGURES]
        if unknown:
            raise ConfigError(f"unknown guide figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
        chosen = [FIGURES[n] for n in only]
    else:
        chosen = list(FIGURES.values())
    return [f for f in chosen if f.cheap or not cheap_only]


def build_guide(
    guide_dir: str | Path,
    figures: list[GuideFigure],
    *,
    data_dir: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run ``figures`` into ``guide_dir/figures``, record them in build.json and refresh the pages' includes.

    Entries of build.json for figures not run this time are kept. Returns the build record.
    """
    guide_dir = Path(guide_dir)
    folder = guide_dir / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    record_path = folder / "build.json"
    record = (
        json.loads(record_path.read_text(encoding="utf-8"))
        if record_path.is_file()
        else {"command": COMMAND, "figures": {}}
    )
    for fig in figures:
        start = time.perf_counter()
        numbers = fig.make(folder, data_dir=data_dir) if fig.needs_data else fig.make(folder)
        seconds = time.perf_counter() - start
        record["figures"][fig.name] = {
            "what": fig.what,
            "files": list(fig.files),
            "seconds": round(seconds, 2),
            "torch_threads": torch.get_num_threads(),
            "numbers": numbers,
        }
        log(f"{fig.name}: {', '.join(fig.files)} ({seconds:.1f} s)")
    record["command"] = COMMAND
    record["versions"] = versions()
    atomic_write_text(record_path, json.dumps(record, indent=1, default=float) + "\n")
    for page in refresh_includes(guide_dir):
        log(f"refreshed the numbers in {page}")
    return record


def refresh_includes(guide_dir: str | Path) -> list[Path]:
    """Rewrite every include block of guide_dir/*.md whose file exists; return the pages that changed."""
    changed = []
    for page in sorted(Path(guide_dir).glob("*.md")):
        text = page.read_text(encoding="utf-8")
        new = INCLUDE.sub(lambda m: _filled(page.parent, m), text)
        if new != text:
            atomic_write_text(page, new)
            changed.append(page)
    return changed


def stale_includes(guide_dir: str | Path) -> list[str]:
    """``page: file`` for each include block that is missing its file or differs from it (empty when all match)."""
    stale = []
    for page in sorted(Path(guide_dir).glob("*.md")):
        for m in INCLUDE.finditer(page.read_text(encoding="utf-8")):
            source = page.parent / m["path"]
            if not source.is_file() or source.read_text(encoding="utf-8") != m["body"]:
                stale.append(f"{page.name}: {m['path']}")
    return stale


def local_links(text: str) -> list[str]:
    """Relative link and image targets of a Markdown text (no URLs, no in-page anchors), anchors stripped."""
    targets = []
    for m in LINK.finditer(text):
        target = m["target"].split("#", 1)[0]
        if target and "://" not in target and not target.startswith("mailto:"):
            targets.append(target)
    return targets


def _filled(folder: Path, m: re.Match) -> str:
    source = folder / m["path"]
    if not source.is_file():
        return m[0]
    return m[1] + source.read_text(encoding="utf-8") + m[4]
