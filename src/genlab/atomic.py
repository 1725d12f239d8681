"""Atomic file writes: temp file in the same folder, fsync, rename.

A crash in the middle of a write leaves the old file (or no file), never half a file.
A write that fails (disk full, read-only or forbidden folder) removes its temp file and
raises :class:`WriteError`, one line for people that names the file and the cause.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from genlab.errors import GenlabError

_HINTS = {
    errno.ENOSPC: "the disk is full; free some space, then run the command again (a training run: genlab train "
    "--resume)",
    errno.EDQUOT: "the disk quota is used up; free some space, then run the command again",
    errno.EROFS: "the file system is read-only; write somewhere else (--out / -o)",
    errno.EACCES: "permission denied; write somewhere else (--out / -o) or fix the folder's permissions",
    errno.EPERM: "operation not permitted; write somewhere else (--out / -o)",
}


class WriteError(GenlabError, OSError):
    """An output file could not be written. Still an ``OSError`` for callers that catch those."""

    def __str__(self) -> str:
        return str(self.args[0])


def write_error(path: Path, e: OSError) -> WriteError:
    """The :class:`WriteError` for a failed write of ``path`` (keeps ``e.errno``)."""
    cause = _HINTS.get(e.errno or -1, e.strerror or str(e) or type(e).__name__)
    err = WriteError(f"cannot write {path}: {cause}")
    err.errno = e.errno
    return err


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` and then atomically move ``tmp_path`` onto ``path``.

    ``write`` gets a path in the destination folder (so the rename never crosses file
    systems) and must create the file there.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as e:
        raise write_error(path, e) from None
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        _remove(tmp)
        if isinstance(e, OSError) and not isinstance(e, GenlabError):
            raise write_error(path, e) from None
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _remove(tmp: Path) -> None:
    try:
        tmp.unlink(missing_ok=True)
    except OSError:  # a read-only folder: nothing was left there either
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
