"""Print genlab's package -> package import edges and any cycle between packages.

    .venv/bin/python scripts/import_graph.py [--src DIR]

Counts every import, top-level or inside a function (as import-linter does), grouped by
the first name below ``genlab`` (``genlab.runs.loading`` -> ``runs``; top-level modules
such as ``genlab.config`` count as their own package). Exit status 1 when a cycle exists.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import grimp


def package_edges(graph: grimp.ImportGraph, root: str = "genlab") -> dict[str, set[str]]:
    """``{package: {packages it imports}}`` for the packages directly below ``root``."""
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        if module == root:
            continue
        src = module.split(".")[1]
        edges.setdefault(src, set())
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith(root + ".") and imported.split(".")[1] != src:
                edges[src].add(imported.split(".")[1])
    return dict(edges)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=None, help="put this folder first on sys.path (e.g. another checkout's src)")
    args = parser.parse_args(argv)
    if args.src:
        sys.path.insert(0, args.src)
    edges = package_edges(grimp.build_graph("genlab", cache_dir=None))
    for src in sorted(edges):
        print(f"{src} -> {', '.join(sorted(edges[src])) or '(nothing)'}")
    found = cycles(edges)
    print(f"{sum(len(v) for v in edges.values())} package edges; cycles: {found or 'none'}")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
