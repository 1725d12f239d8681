"""Errors meant for people: each message says what was wrong and what to do.

The CLI catches :class:`GenlabError`, prints its message as one line on stderr and
exits with status 2.
"""


class GenlabError(Exception):
    """Base class for every error genlab raises on purpose."""


class ConfigError(GenlabError):
    """A config value, key or file is invalid."""


class DataError(GenlabError):
    """A data set or samples file is missing, corrupt or has the wrong shape."""


class CheckpointError(GenlabError):
    """A checkpoint or run directory is missing, incomplete or corrupt."""
