"""`genlab serve` and `genlab survey export` as a user types them."""

import json
import socket

import pytest
import uvicorn
from cli_helpers import one_line_error, run

from genlab.cli.serve import GRACE_S
from genlab.web.server import free_port
from genlab.web.survey_db import Answer, SurveyDB, SurveyItem


def refused(capsys, *argv_and_words):
    """``genlab ARGV`` fails with one error line holding WORDS (the last argument)."""
    *argv, words = argv_and_words
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, words)


@pytest.fixture
def fake_uvicorn(monkeypatch):
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


def test_serve_binds_loopback_by_default(runs_root, tmp_path, capsys, fake_uvicorn):
    port = free_port()
    code, out, err = run(capsys, "serve", "--runs", runs_root, "--db", tmp_path / "s.sqlite", "--port", port)
    expected = {"host": "127.0.0.1", "port": port, "log_level": "warning", "timeout_graceful_shutdown": GRACE_S}
    assert code == 0 and err == "" and fake_uvicorn == [expected]
    assert f"http://127.0.0.1:{port}/" in out and (tmp_path / "s.sqlite").is_file()


def test_serve_elsewhere_warns_in_one_line(runs_root, tmp_path, capsys, fake_uvicorn):
    code, _, err = run(
        capsys,
        "serve",
        "--runs",
        runs_root,
        "--db",
        tmp_path / "s.sqlite",
        "--host",
        "0.0.0.0",
        "--port",
        free_port("0.0.0.0"),
    )
    lines = err.strip().splitlines()
    assert (
        code == 0
        and len(lines) == 1
        and lines[0].startswith("genlab: warning: serving on 0.0.0.0")
        and fake_uvicorn[0]["host"] == "0.0.0.0"
    )


def test_serve_bad_input(runs_root, tmp_path, capsys, fake_uvicorn):
    refused(capsys, "serve", "--runs", tmp_path / "nope", "--db", tmp_path / "s.sqlite", "is not a folder")
    refused(capsys, "serve", "--runs", runs_root, "--port", "70000", "--port must be in 1..65535")
    refused(capsys, "serve", "--runs", runs_root, "--db", tmp_path, "is a folder")
    refused(
        capsys,
        "serve",
        "--runs",
        runs_root,
        "--db",
        tmp_path / "s.sqlite",
        "--survey-runs",
        "gan,nope",
        "--survey-runs nope",
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused(
            capsys,
            "serve",
            "--runs",
            runs_root,
            "--db",
            tmp_path / "s.sqlite",
            "--port",
            port,
            f"cannot listen on 127.0.0.1:{port}",
        )
    assert fake_uvicorn == []


def test_survey_export_writes_csv_and_summary(tmp_path, capsys):
    db = SurveyDB(tmp_path / "s.sqlite")
    for guess in ("real", "generated", "generated"):
        who = db.new_respondent()
        db.record_answer(
            who, db.add_item(who, SurveyItem("gan", False, family="gan", seed=1), b"png"), Answer(3, 4, 2, guess)
        )
    who = db.new_respondent()
    db.record_answer(who, db.add_item(who, SurveyItem("real", True, image_index=5), b"png"), Answer(5, 5, 1, "real"))
    db.add_item(who, SurveyItem("real", True, image_index=6), b"png")  # shown, never answered: not exported
    code, out, err = run(capsys, "survey", "export", "--db", tmp_path / "s.sqlite", "-o", tmp_path / "out")
    assert code == 0 and err == "" and "4 answers" in out and "accuracy 0.750" in out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert (
        summary["respondents"] == 4
        and summary["accuracy"]["k"] == 3
        and summary["models"]["gan"]["judged_real"]["k"] == 1
    )
    assert len((tmp_path / "out" / "answers.csv").read_text().splitlines()) == 5
    assert "| real | real data | 1 | 5.00 (n = 1, no interval) |" in (tmp_path / "out" / "summary.md").read_text()


def test_survey_export_bad_input(tmp_path, capsys):
    refused(capsys, "survey", "export", "--db", tmp_path / "missing.sqlite", "-o", tmp_path / "out", "does not exist")
    (tmp_path / "junk.sqlite").write_bytes(b"junk" * 500)
    refused(
        capsys,
        "survey",
        "export",
        "--db",
        tmp_path / "junk.sqlite",
        "-o",
        tmp_path / "out",
        "not a usable SQLite survey file",
    )
