"""Thread pinning for the tests marked ``trains`` (they train a model and assert a learned outcome).

A training run's numbers change with the number of intra-op threads (the order of float sums in a
matmul or a convolution), and a GAN amplifies such a change into a different outcome; a test that
passes with one thread count can fail with another (issue 23). So every ``trains`` test runs with a
fixed number of torch threads and BLAS threads: ``GENLAB_TEST_THREADS`` (default 1). One thread is also
the fastest for these tiny models on a busy machine, where OpenMP's threads wait on each other: 4000
steps of the slow test's toy GAN took 15 s with 1 thread and 479 s with 2 on the shared 2-core machine
at load average ~5, and with 2 threads the slow test timed out (300 s) under load
(docs/results/flakiness.md). scripts/flakiness.py runs the marked tests with 1 and 2.

The pin wraps the whole test protocol (setup, call, teardown), not a fixture, so a module-scoped
fixture that trains is pinned too when a marked test is the one that builds it; the thread counts in
place before are restored afterwards.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
import torch
from threadpoolctl import threadpool_limits

THREADS_ENV = "GENLAB_TEST_THREADS"


def trains_threads() -> int:
    """The thread count for ``trains`` tests: ``GENLAB_TEST_THREADS``, default 1."""
    value = os.environ.get(THREADS_ENV, "1")
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(f"{THREADS_ENV} must be a whole number >= 1, not {value!r}")
    return int(value)


@contextlib.contextmanager
def pinned_threads(n: int) -> Iterator[None]:
    """torch intra-op threads and BLAS threads set to ``n``; the previous torch count is restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(n, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def restored_threads() -> Iterator[None]:
    """Whatever a test does to torch's thread count (``genlab docs --threads`` in-process sets it), the next
    test gets the process's count back: a leaked count changes the numbers of every later test."""
    before = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    with restored_threads():
        if item.get_closest_marker("trains") is None:
            return (yield)
        with pinned_threads(trains_threads()):
            return (yield)
