"""Figures for docs and reports: matplotlib on the non-interactive Agg backend, saved atomically.

from genlab.plots import figure, save_figure
fig, ax = figure()
ax.plot(x, y)
save_figure(fig, "docs/results/curve.png")
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on a CI box; set before pyplot is imported anywhere

import matplotlib.pyplot as plt  # noqa: E402

from genlab.atomic import atomic_write_bytes  # noqa: E402


def figure(nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None, **kwargs: Any):
    """A new figure and its axes; ``size`` in inches defaults to 4 x 3.2 per panel."""
    size = size or (4.0 * ncols, 3.2 * nrows)
    return plt.subplots(nrows, ncols, figsize=size, **kwargs)


def save_figure(fig, path: str | Path, *, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically (temp file, fsync, rename) and close it."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": "genlab"})
    plt.close(fig)
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path
