"""Errors meant for people: each message says what was wrong and what to do.

The CLI catches :class:`GenlabError`, prints its message as one line on stderr and
exits with status 2.
"""

import reprlib


class GenlabError(Exception):
    """Base class for every error genlab raises on purpose."""


class ConfigError(GenlabError):
    """A config value, key or file is invalid."""


class DataError(GenlabError):
    """A data set or samples file is missing, corrupt or has the wrong shape."""


class CheckpointError(GenlabError):
    """A checkpoint or run directory is missing, incomplete or corrupt."""


def short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to at most ``limit`` characters, for messages.

    A value from a file (a YAML list of lists, a long string) can be any size; an error
    message quoting it must not be. Nested containers are summarised before they are
    turned into text (``reprlib``), so the cost does not grow with the value either.
    """
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


class _Repr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict, self.maxset = 3, 6, 6, 4, 6
        self.maxstring, self.maxother, self.maxlong = 200, 200, 60

    def repr_int(self, x: int, level: int) -> str:
        # repr of an int beyond ~4300 digits raises ValueError; never build a huge string
        return super().repr_int(x, level) if x.bit_length() <= 256 else f"<integer of {x.bit_length()} bits>"


_REPR = _Repr()
