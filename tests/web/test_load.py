"""Concurrent loopback clients sampling and answering the survey: no errors, no lost answers."""

import random

import pytest

from genlab.web import create_app
from genlab.web.load import report, run_load
from genlab.web.server import background_server


def load(runs_root, tmp_path, clients, seconds):
    app = create_app(runs_root, tmp_path / "survey.sqlite", survey_rng=random.Random(0))
    with background_server(app) as base:
        result = run_load(base, ["gan", "cgan", "vae", "group/ddpm"], clients=clients, seconds=seconds, n=4)
    stored = app.state.web.db.count_answers()
    text = report(result, stored, clients)
    assert result.errors == {"sample": [], "answer": []}, text
    assert result.acknowledged == stored > 0 and len(result.latencies["sample"]) > 0, text
    assert len({r["respondent"] for r in app.state.web.db.answer_rows()}) == clients, text


def test_a_few_clients_at_once(runs_root, tmp_path):
    load(runs_root, tmp_path, clients=6, seconds=2.0)


@pytest.mark.slow
def test_fifty_clients_for_thirty_seconds(runs_root, tmp_path):
    load(runs_root, tmp_path, clients=50, seconds=30.0)
