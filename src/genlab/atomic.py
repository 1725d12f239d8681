"""Atomic file writes: temp file in the same folder, fsync, rename.

A crash in the middle of a write leaves the old file (or no file), never half a file.
A write that fails (disk full, read-only or forbidden folder) removes its temp file and
raises :class:`WriteError`, one line for people that names the file and the cause.

A writer killed mid-write (SIGKILL, power loss) cannot remove its temp file. Each temp
file (``.<name>.<8 random chars>.tmp``) is ``flock``-ed while it is written; the kernel
drops that lock when its process dies, and the next write of the same ``<name>`` removes
the temp files that no live writer holds.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
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
        remove_stale_temps(path)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(path, e) from None
    tmp = Path(tmp_name)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "being written": remove_stale_temps leaves it alone
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
    finally:
        os.close(fd)
    _fsync_dir(path.parent)
    return path


_TEMP_TAIL = re.compile(r"^[a-z0-9_]{8}\.tmp$")  # after ".<name>.": what tempfile.mkstemp adds


def remove_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove the temp files that writers of ``path`` killed mid-write left beside it, and return them.

    A temp file is stale when no one holds its ``flock``: a live writer's is never touched.
    """
    path = Path(path)
    prefix = f".{path.name}."
    removed = []
    try:
        entries = [e for e in os.scandir(path.parent) if e.name.startswith(prefix)]
    except OSError:
        return removed
    for entry in entries:
        if not _TEMP_TAIL.match(entry.name[len(prefix) :]):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if not _is_regular(fd):
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:  # locked by a live writer, or already gone
            continue
        finally:
            os.close(fd)
    return removed


def _is_regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)


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
