"""Fixtures for the reliability tests: NaN injection, single-threaded deterministic torch."""

import pytest
import torch

from genlab.models.registry import get_family


@pytest.fixture
def poison(monkeypatch):
    """``poison(name, calls)``: on the listed train_step calls (1-based, counted over the whole
    test) take the real step, then fill every parameter with NaN and report a NaN loss, as a
    blown-up update would."""

    def install(name, bad_calls):
        family_cls = get_family(name).family_cls
        real, count = family_cls.train_step, [0]

        def step(self, x, y, g):
            count[0] += 1
            metrics = real(self, x, y, g)
            if count[0] in bad_calls:
                with torch.no_grad():
                    for net in self.nets.values():
                        for p in net.parameters():
                            p.fill_(float("nan"))
                metrics = {**metrics, "loss": float("nan")}
            return metrics

        monkeypatch.setattr(family_cls, "train_step", step)

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
