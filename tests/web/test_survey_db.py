"""The survey file: WAL, schema on first use, survives reopening, answers only to one's own items, once."""

import sqlite3
import threading

import pytest

from genlab.errors import ConfigError
from genlab.web.survey_db import Answer, SurveyConflict, SurveyDB, SurveyForbidden, SurveyItem

GOOD = Answer(4, 5, 2, "real")
REAL = SurveyItem("real", True, image_index=3)
FAKE = SurveyItem("gan", False, family="gan", checkpoint_step=2, seed=11, label=None)


def test_schema_made_on_first_use_in_wal_mode_and_answers_survive_reopening(tmp_path):
    path = tmp_path / "sub" / "survey.sqlite"
    db = SurveyDB(path)
    assert db.journal_mode() == "wal"
    who = db.new_respondent()
    db.record_answer(who, db.add_item(who, FAKE, b"png"), GOOD)
    again = SurveyDB(path)
    assert again.count_answers() == 1 and again.count_answers(who) == 1
    (row,) = again.answer_rows()
    assert (
        row["source"] == "gan"
        and row["seed"] == 11
        and row["realism"] == 4
        and row["guess"] == "real"
        and row["respondent"] == 1
    )
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 1


def test_an_answer_goes_only_to_ones_own_unanswered_item(tmp_path):
    db = SurveyDB(tmp_path / "s.sqlite")
    alice, bob = db.new_respondent(), db.new_respondent()
    item = db.add_item(alice, REAL, b"png")
    with pytest.raises(SurveyForbidden, match="not shown to you"):
        db.record_answer(bob, item, GOOD)
    db.record_answer(alice, item, GOOD)
    with pytest.raises(SurveyConflict, match="cannot be changed"):
        db.record_answer(alice, item, Answer(1, 1, 1, "generated"))
    for who in (None, "", "x' OR '1'='1"):
        with pytest.raises(SurveyForbidden, match="no survey session"):
            db.record_answer(who, item, GOOD)
    with pytest.raises(SurveyForbidden, match="not shown to you"):  # a session not yet in the file
        db.record_answer("not-a-respondent", item, GOOD)
    with pytest.raises(SurveyForbidden):
        db.add_item("unknown", REAL, b"png")
    assert db.answer_rows()[0]["realism"] == 4 and db.count_answers() == 1
    assert db.item_png(item) == b"png" and db.item_png("' OR 1=1 --") is None and db.item_png("nope") is None


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (Answer(0, 3, 3, "real"), "realism"),
        (Answer(3, 6, 3, "real"), "appropriateness"),
        (Answer(3, 3, True, "real"), "novelty"),
        (Answer(3, 3, 3, "maybe"), "guess"),
    ],
)
def test_out_of_range_answers_are_refused(tmp_path, answer, words):
    db = SurveyDB(tmp_path / "s.sqlite")
    who = db.new_respondent()
    with pytest.raises(ConfigError, match=words):
        db.record_answer(who, db.add_item(who, REAL, b"png"), answer)
    assert db.count_answers() == 0


def test_a_file_that_is_not_sqlite_is_one_clear_error(tmp_path):
    (tmp_path / "bad.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError, match="not a usable SQLite survey file"):
        SurveyDB(tmp_path / "bad.sqlite")
    with pytest.raises(ConfigError, match="is a folder"):
        SurveyDB(tmp_path)


def test_concurrent_respondents_lose_no_answers(tmp_path):
    db = SurveyDB(tmp_path / "s.sqlite")
    errors = []

    def respondent():
        try:
            who = db.new_respondent()
            for _ in range(10):
                db.record_answer(who, db.add_item(who, REAL, b"png"), GOOD)
        except Exception as e:  # noqa: BLE001  (collected and asserted below)
            errors.append(e)

    threads = [threading.Thread(target=respondent) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and db.count_answers() == 80
