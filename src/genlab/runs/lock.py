"""One writer per run directory: an exclusive ``flock`` on ``RUN/.lock`` holding the writer's PID.

Two ``genlab train --resume RUN`` at once would each remove the other's temp files as
"debris", interleave checkpoints and truncate each other's metrics. Training, the model
card and sample grids written into a run take this lock first; a second writer fails in
one line naming the holder's PID. The kernel drops a ``flock`` when its process dies, so
the lock of a process killed with SIGKILL is simply taken over (the stale ``.lock`` file
with the dead PID is reused); a clean exit removes the file.

The lock is re-entrant within a process (the card written at the end of a training
takes it again), and only advisory: it orders genlab's own writers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from genlab.atomic import write_error
from genlab.errors import CheckpointError

LOCK_NAME = ".lock"

_held: dict[str, int] = {}  # real path of a lock file -> how many times this process holds it
_held_lock = threading.Lock()


class RunLocked(CheckpointError):
    """Another process is writing into the run directory."""

    status = 409


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike, what: str = "genlab") -> Iterator[Path]:
    """Hold the exclusive lock of ``run_dir`` (created if missing) while the block runs.

    Raises :class:`RunLocked` at once, without waiting, when another process holds it.
    """
    run_dir = Path(run_dir)
    try:
        created = not run_dir.exists()
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise write_error(run_dir, e) from None
    path = run_dir / LOCK_NAME
    key = os.path.realpath(path)
    with _held_lock:
        if key in _held:
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield path
        finally:
            with _held_lock:
                _held[key] -= 1
        return
    try:
        fd = _acquire(path, run_dir, what)
    except BaseException:
        _remove_if_empty(run_dir, created)
        raise
    with _held_lock:
        _held[key] = 1
    try:
        yield path
    finally:
        with _held_lock:
            del _held[key]
        with contextlib.suppress(OSError):
            path.unlink()  # while still locked: nobody can have taken this file meanwhile
        os.close(fd)  # releases the flock
        _remove_if_empty(run_dir, created)


def _remove_if_empty(run_dir: Path, created: bool) -> None:
    """A folder made only to hold the lock goes again when nothing was written into it."""
    if created:
        with contextlib.suppress(OSError):
            run_dir.rmdir()


def lock_holder(run_dir: str | os.PathLike) -> int | None:
    """The PID of the process holding ``run_dir``'s lock, or None when it is free."""
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _pid_in(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _acquire(path: Path, run_dir: Path, what: str) -> int:
    """An open descriptor of ``path`` holding its exclusive flock, the file holding our PID."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            raise write_error(path, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _pid_in(fd)
            os.close(fd)
            holder = f"process {pid}" if pid else "another process"
            raise RunLocked(
                f"{run_dir} is in use by {holder} (its {LOCK_NAME} is locked); wait for it to finish, or stop it, "
                f"before {what} writes there"
            ) from None
        except OSError as e:
            os.close(fd)
            raise write_error(path, e) from None
        # The holder we waited on may have removed the file before we locked it: lock the file that is there now.
        try:
            same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
