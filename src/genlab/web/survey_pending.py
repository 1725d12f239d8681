"""Survey items shown but not answered yet: in memory, bounded, never in the database.

Every ``GET /survey`` draws an image. Storing each draw (and a respondent for every
cookieless request) let any script grow the SQLite file without end: 200 requests made
201 respondents. Now a draw waits here under a random token until its respondent answers
it; only then do the respondent, the item and the answer go into the file, together. The
oldest draws are forgotten past :data:`MAX_PENDING` (their page then asks for a reload).
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from genlab.web.survey_db import TOKEN_BYTES, SurveyItem

MAX_PENDING = 10_000  # draws kept; a PNG shown in the survey is ~1 KiB


@dataclass(frozen=True)
class Pending:
    """One drawn image: whom it was shown to, what it is, and the PNG as shown."""

    respondent: str
    item: SurveyItem
    png: bytes


class PendingItems:
    """Item token -> :class:`Pending`, least recently drawn forgotten first; thread-safe."""

    def __init__(self, limit: int = MAX_PENDING) -> None:
        self._items: OrderedDict[str, Pending] = OrderedDict()
        self._lock = threading.Lock()
        self.limit = limit

    def add(self, respondent: str, item: SurveyItem, png: bytes) -> str:
        """Keep a draw shown to ``respondent``; returns its new random token."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        with self._lock:
            self._items[token] = Pending(respondent, item, png)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return token

    def png(self, token: str) -> bytes | None:
        with self._lock:
            found = self._items.get(token)
        return None if found is None else found.png

    def take(self, token: str | None, respondent: str | None) -> Pending | None:
        """Remove and return the draw ``token`` if it was shown to ``respondent``, else None (and keep it)."""
        with self._lock:
            found = self._items.get(token or "")
            if found is None or respondent is None or found.respondent != respondent:
                return None
            del self._items[token]
            return found

    def __len__(self) -> int:
        return len(self._items)
