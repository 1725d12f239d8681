"""Tests for genlab.data.parallel: the process pool gives what one process gives, in order, with a progress bar."""

from __future__ import annotations

from functools import partial

import numpy as np
from own_data_helpers import pictures

from genlab.data import parallel
from genlab.data.decode import Prep
from genlab.data.parallel import chunked, decode_arrays, run_chunks


def test_the_pool_and_one_process_agree_in_order(monkeypatch):
    images = pictures(1100, channels=3, size=12)
    work = partial(decode_arrays, Prep(8, 1, "center", (255, 255, 255)))
    items = list(enumerate(images))
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    pooled = [r for rs in run_chunks(work, chunked(items), total=len(items), what="t", progress=True) for r in rs]
    monkeypatch.setattr(parallel, "cores", lambda: 1)
    serial = [r for rs in run_chunks(work, chunked(items), total=len(items), what="t", progress=False) for r in rs]
    assert [i for i, _, _ in pooled] == list(range(1100))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(pooled, serial)) and pooled[5][1].shape == (1, 8, 8)
