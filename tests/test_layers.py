"""The package's layers hold (../shared/DESIGN.md): the import contract, no cycles between
packages, the trainer imported only by the CLI and the benchmarks, no capability probes."""

import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import import_graph  # noqa: E402


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("genlab", cache_dir=None)


def test_the_import_contract_holds():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout and done.stdout.count("KEPT") >= 2


def test_no_cycle_between_packages(graph):
    edges = import_graph.package_edges(graph)
    assert {"runs", "training", "eval", "marks", "publish", "cli"} <= set(edges)
    assert import_graph.cycles(edges) == []


def test_cycle_finder_finds_a_cycle():
    assert import_graph.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_graph.cycles({"a": {"b"}, "b": set()}) == []


def test_only_the_cli_and_the_benchmarks_import_the_trainer(graph):
    importers = {
        m
        for m in graph.find_modules_that_directly_import("genlab.training")
        | {i for sub in graph.find_children("genlab.training") for i in graph.find_modules_that_directly_import(sub)}
    }
    outside = sorted(m for m in importers if not m.startswith(("genlab.training", "genlab.cli", "genlab.bench")))
    # The public API (genlab.api, the same verbs as the CLI) is the one other door to the trainer.
    assert outside == ["genlab.api"]


PROBES = re.compile(r"(hasattr|getattr)\((family|self\.family|base|model|vae|[a-z_]*\.cfg)\b")


def test_no_capability_probes_remain():
    found = []
    for path in (ROOT / "src" / "genlab").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PROBES.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "use isinstance(family, <protocol in genlab.models.base>) instead:\n" + "\n".join(found)


def test_the_probe_pattern_catches_the_old_probes():
    for old in ('hasattr(family, "encode")', 'getattr(family, "sample_captions", None)', "hasattr(family.cfg, key)"):
        assert PROBES.search(old)
