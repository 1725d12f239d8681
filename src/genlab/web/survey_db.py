"""The survey's answers in one SQLite file (stdlib sqlite3, WAL mode, schema made on first use).

Three tables: ``respondents`` (a random token per browser), ``items`` (each image
answered: real or generated, by which run, checkpoint and seed, plus the PNG as shown) and
``answers`` (at most one per item). The app stores a respondent and an item only with an
answer (:meth:`SurveyDB.record_first_answer`); until then they live in memory, so page
loads alone never grow the file. An item belongs to the respondent it was shown to,
answers are only ever inserted, and every statement is parameterised, so nobody can
answer, or overwrite, another respondent's items.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from genlab.errors import ConfigError, GenlabError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS respondents (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY,
    token TEXT NOT NULL UNIQUE,
    respondent_id INTEGER NOT NULL REFERENCES respondents(id),
    source TEXT NOT NULL,            -- 'real' or the run's name
    is_real INTEGER NOT NULL CHECK (is_real IN (0, 1)),
    family TEXT,                     -- the run's family; NULL for real images
    checkpoint_step INTEGER,
    seed INTEGER,
    label INTEGER,                   -- the class asked of a conditional model
    image_index INTEGER,             -- index in the MNIST test split for real images
    png BLOB NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL UNIQUE REFERENCES items(id),
    respondent_id INTEGER NOT NULL REFERENCES respondents(id),
    realism INTEGER NOT NULL CHECK (realism BETWEEN 1 AND 5),
    appropriateness INTEGER NOT NULL CHECK (appropriateness BETWEEN 1 AND 5),
    novelty INTEGER NOT NULL CHECK (novelty BETWEEN 1 AND 5),
    guess TEXT NOT NULL CHECK (guess IN ('real', 'generated')),
    created TEXT NOT NULL
);
"""
TOKEN_BYTES = 16
MAX_TOKEN = 64


class SurveyForbidden(GenlabError):
    """A request for an item that is not the respondent's (or no survey session)."""

    status = 403


class SurveyConflict(GenlabError):
    """A second answer to an item that already has one."""

    status = 409


@dataclass(frozen=True)
class SurveyItem:
    """One image to rate: a real test image or a sample of a run."""

    source: str  # "real" or the run name
    is_real: bool
    family: str | None = None
    checkpoint_step: int | None = None
    seed: int | None = None
    label: int | None = None
    image_index: int | None = None


@dataclass(frozen=True)
class Answer:
    """A respondent's ratings (1-5) and guess for one item."""

    realism: int
    appropriateness: int
    novelty: int
    guess: str  # "real" or "generated"

    def check(self) -> None:
        for name in ("realism", "appropriateness", "novelty"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
                raise ConfigError(f"{name} must be a rating from 1 to 5, got {value!r}")
        if self.guess not in ("real", "generated"):
            raise ConfigError(f"guess must be real or generated, got {self.guess!r}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def valid_token(token: str | None) -> bool:
    """Whether ``token`` has the shape of a token this module hands out."""
    return isinstance(token, str) and 0 < len(token) <= MAX_TOKEN and all(c.isalnum() or c in "-_" for c in token)


class SurveyDB:
    """The survey file. Each call opens its own connection, so threads can share one object."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigError(f"--db {self.path} is a folder; name a file such as survey.sqlite")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with self._connect() as con:
                con.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer; persistent per file
                con.executescript(SCHEMA)
                con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"{self.path} is not a usable SQLite survey file ({e})") from None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one transaction (committed on success, rolled back on error)."""
        with closing(sqlite3.connect(self.path, timeout=30.0)) as con:
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA busy_timeout=30000")
            with con:
                yield con

    def journal_mode(self) -> str:
        with self._connect() as con:
            return con.execute("PRAGMA journal_mode").fetchone()[0]

    def new_respondent(self) -> str:
        """A fresh respondent; returns its secret token (kept in the browser's cookie)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._connect() as con:
            con.execute("INSERT INTO respondents (token, created) VALUES (?, ?)", (token, _now()))
        return token

    def respondent_id(self, token: str | None) -> int | None:
        if not valid_token(token):
            return None
        with self._connect() as con:
            row = con.execute("SELECT id FROM respondents WHERE token = ?", (token,)).fetchone()
        return None if row is None else int(row[0])

    def add_item(self, respondent: str, item: SurveyItem, png: bytes) -> str:
        """Record that ``item`` is shown to ``respondent``; returns the item's token."""
        who = self.respondent_id(respondent)
        if who is None:
            raise SurveyForbidden("no survey session: open /survey first (the survey needs cookies)")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._connect() as con:
            con.execute(
                "INSERT INTO items (token, respondent_id, source, is_real, family, checkpoint_step, seed, label, "
                "image_index, png, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token,
                    who,
                    item.source,
                    int(item.is_real),
                    item.family,
                    item.checkpoint_step,
                    item.seed,
                    item.label,
                    item.image_index,
                    png,
                    _now(),
                ),
            )
        return token

    def item_png(self, item_token: str) -> bytes | None:
        """The PNG shown for an item, or None for an unknown token."""
        if not valid_token(item_token):
            return None
        with self._connect() as con:
            row = con.execute("SELECT png FROM items WHERE token = ?", (item_token,)).fetchone()
        return None if row is None else bytes(row[0])

    def record_answer(self, respondent: str | None, item_token: str | None, answer: Answer) -> None:
        """Store ``answer`` for the respondent's own item; a second answer or someone else's item raises."""
        answer.check()
        if not valid_token(respondent):
            raise SurveyForbidden("no survey session: open /survey first (the survey needs cookies)")
        who = self.respondent_id(respondent)  # None: a session whose first answer is still to come
        if not valid_token(item_token):
            raise ConfigError("the form lacks a valid item token; reload /survey")
        with self._connect() as con:
            row = con.execute("SELECT id, respondent_id FROM items WHERE token = ?", (item_token,)).fetchone()
            if row is None or who is None or int(row[1]) != who:
                raise SurveyForbidden("this image was not shown to you; answer the images /survey shows you")
            try:
                con.execute(
                    "INSERT INTO answers (item_id, respondent_id, realism, appropriateness, novelty, guess, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (int(row[0]), who, answer.realism, answer.appropriateness, answer.novelty, answer.guess, _now()),
                )
            except sqlite3.IntegrityError:
                raise SurveyConflict("this image already has your answer; answers cannot be changed") from None

    def record_first_answer(
        self, respondent: str, item_token: str, item: SurveyItem, png: bytes, answer: Answer
    ) -> None:
        """Store an item shown but not yet stored (see :mod:`genlab.web.survey_pending`) with its
        answer, creating the respondent on its first answer: one transaction, all or nothing."""
        answer.check()
        if not valid_token(respondent) or not valid_token(item_token):
            raise SurveyForbidden("no survey session: open /survey first (the survey needs cookies)")
        with self._connect() as con:
            con.execute("INSERT OR IGNORE INTO respondents (token, created) VALUES (?, ?)", (respondent, _now()))
            who = int(con.execute("SELECT id FROM respondents WHERE token = ?", (respondent,)).fetchone()[0])
            try:
                cursor = con.execute(
                    "INSERT INTO items (token, respondent_id, source, is_real, family, checkpoint_step, seed, label, "
                    "image_index, png, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        item_token,
                        who,
                        item.source,
                        int(item.is_real),
                        item.family,
                        item.checkpoint_step,
                        item.seed,
                        item.label,
                        item.image_index,
                        png,
                        _now(),
                    ),
                )
            except sqlite3.IntegrityError:
                raise SurveyConflict("this image already has your answer; answers cannot be changed") from None
            con.execute(
                "INSERT INTO answers (item_id, respondent_id, realism, appropriateness, novelty, guess, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (cursor.lastrowid, who, answer.realism, answer.appropriateness, answer.novelty, answer.guess, _now()),
            )

    def count_answers(self, respondent: str | None = None) -> int:
        """Answers in the file, or of one respondent."""
        with self._connect() as con:
            if respondent is None:
                return int(con.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
            row = con.execute(
                "SELECT COUNT(*) FROM answers a JOIN respondents r ON a.respondent_id = r.id WHERE r.token = ?",
                (respondent,),
            ).fetchone()
            return int(row[0])

    def answer_rows(self) -> list[dict[str, Any]]:
        """Every answer joined with its item, oldest first (respondents as numbers, never tokens)."""
        query = (
            "SELECT a.id AS answer_id, a.respondent_id AS respondent, i.id AS item_id, i.source, i.is_real, i.family,"
            " i.checkpoint_step, i.seed, i.label, i.image_index, a.realism, a.appropriateness, a.novelty, a.guess, "
            "a.created"
            " FROM answers a JOIN items i ON a.item_id = i.id ORDER BY a.id"
        )
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            return [dict(row) for row in con.execute(query)]
