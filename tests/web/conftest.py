"""Tiny trained runs (the families' ``tiny=`` sizes, 2 steps) and a web app over them."""

import random

import pytest
from fastapi.testclient import TestClient

from genlab.cli import main
from genlab.models.registry import get_family
from genlab.web import create_app

BASE = "http://localhost"  # the app answers only to loopback host names (TestClient's default is "testserver")

# one of each kind: unconditional GAN, conditional GAN, VAE, conditional diffusion
TINY_RUNS = {"gan": "gan", "cgan": "cgan", "vae": "vae", "group/ddpm": "ddpm"}


def tiny_sets(family: str) -> list[str]:
    """``--set key=value`` arguments for the family's registered tiny size."""
    sets = []
    for key, value in get_family(family).tiny.items():
        text = (
            ",".join(map(str, value))
            if isinstance(value, tuple)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
        )
        sets += ["--set", f"{key}={text}"]
    return sets


def train_tiny(run_dir, family: str) -> None:
    assert (
        main(
            [
                "train",
                family,
                "--steps",
                "2",
                "--batch-size",
                "8",
                "--out",
                str(run_dir),
                "--quiet",
                *tiny_sets(family),
            ]
        )
        == 0
    )


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory):
    """A runs folder with four tiny runs (one nested as group/ddpm) and one without checkpoints."""
    root = tmp_path_factory.mktemp("web-runs")
    for name, family in TINY_RUNS.items():
        train_tiny(root / name, family)
    (root / "empty").mkdir()
    (root / "empty" / "config.yaml").write_text((root / "gan" / "config.yaml").read_text())
    return root


@pytest.fixture
def app(runs_root, tmp_path):
    return create_app(runs_root, tmp_path / "survey.sqlite", survey_rng=random.Random(0))


@pytest.fixture
def client(app):
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="session")
def make_tiny_run():
    """``make_tiny_run(run_dir, family)`` trains a tiny run (2 steps) into ``run_dir``."""
    return train_tiny
