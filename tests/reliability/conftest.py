"""Fixtures for the reliability tests: NaN injection, single-threaded deterministic torch."""

import pytest
import torch
from nan_helpers import poison_train_step

from genlab.models.registry import get_family


@pytest.fixture
def poison(monkeypatch):
    """``poison(name, calls)``: on the listed train_step calls (1-based, counted over the whole
    test) take the real step, then fill every parameter with NaN and report a NaN loss, as a
    blown-up update would."""

    def install(name, bad_calls):
        poison_train_step(get_family(name).family_cls, monkeypatch, bad_calls)

    return install


@pytest.fixture
def deterministic():
    """Single-threaded deterministic torch, as in the killed children (kill_child.py)."""
    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(strict)
