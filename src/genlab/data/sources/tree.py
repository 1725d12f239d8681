"""A folder, a .zip or a .tar(.gz) seen the same way: a list of regular files and a way to read each.

Nothing is unpacked to disk and nothing is ever written beside the data. A folder is walked
following symbolic links, each real folder once (a link back to a folder already read, a symlink
loop, is skipped with a note); hidden names (``.DS_Store``, ``._x.png``, ``__MACOSX/``) are left
out. An archive with an absolute member path or a ``..`` component is refused whole; its links,
devices and folders are not files and are left out. Every read is bounded (``MAX_FILE_BYTES``)
and checks the file is a regular file.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import stat
import tarfile
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, NamedTuple

import numpy as np

from genlab.data.decode import MAX_FILE_BYTES, ImageProblem
from genlab.errors import DataError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


class Entry(NamedTuple):
    """One file of a tree: its path inside it (``/``-separated), size and a change stamp."""

    name: str
    size: int
    stamp: int  # folder: mtime in ns; zip: the member's CRC-32; tar: the member's mtime
    problem: str = ""  # set when the file cannot be read at all (a broken link, a FIFO, a loop)


@dataclass
class Tree(ABC):
    """Base: ``entries`` in name order; ``read`` and ``stream`` give their bytes."""

    root: Path
    kind: str = "folder"
    entries: list[Entry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one-line warnings (loops skipped, ...)
    prefix: str = ""  # an archive's single top folder, stripped from every name

    @abstractmethod
    def read(self, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
        """The bytes of file ``name``; ImageProblem when it cannot be read or holds more than ``limit``."""

    def stream(self, names: Iterable[str]) -> Iterator[tuple[str, bytes | ImageProblem]]:
        """(name, bytes or the problem reading it) for each of ``names``, in the tree's cheapest order."""
        for name in names:
            try:
                yield name, self.read(name)
            except ImageProblem as e:
                yield name, e

    def fingerprint(self) -> str:
        """What the cache key hashes: sha256 of every entry's name, size and stamp, in name order."""
        with no_gc():
            return fingerprint([e[:3] for e in self.entries])

    def close(self) -> None:
        pass


@contextlib.contextmanager
def no_gc():
    """The cyclic garbage collector paused: making ~10^5 small tuples (one per file) otherwise triggers
    repeated full scans, which cost more than the walk itself. Nothing made here forms cycles."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def fingerprint(stamps: Iterable[tuple[str, int, int]]) -> str:
    """sha256 of the names, then the sizes and stamps as int64 (vectorised: this runs on every start-up)."""
    names, sizes, times = zip(*stamps) if stamps else ((), (), ())
    digest = hashlib.sha256("\n".join(names).encode("utf-8", "surrogateescape"))
    digest.update(np.array(sizes, dtype=np.int64).tobytes())
    digest.update(np.array(times, dtype=np.int64).tobytes())
    return digest.hexdigest()


def open_tree(path: Path) -> Tree:
    """The tree of a folder or an archive (by its name); DataError for anything else."""
    if path.is_dir():
        return FolderTree(path)
    name = path.name.lower()
    if name.endswith(".zip"):
        return ZipTree(path)
    if name.endswith(ARCHIVE_SUFFIXES):
        return TarTree(path)
    raise DataError(f"{path} is neither a folder nor a .zip/.tar/.tar.gz archive")


def hidden(name: str) -> bool:
    """Names left out everywhere: dot-files and folders, and macOS's ``__MACOSX`` resource forks."""
    return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


class FolderTree(Tree):
    """The regular files under a folder (links followed, each real folder once)."""

    def __init__(self, root: Path, recursive: bool = True) -> None:
        super().__init__(root, "folder")
        with no_gc():
            self._walk(recursive)
            self.entries.sort()  # names are unique: name order

    def _walk(self, recursive: bool) -> None:
        seen: set[tuple[int, int]] = set()
        pending = [(self.root, "")]
        while pending:
            folder, rel = pending.pop()
            try:
                info = folder.stat()
                listing = list(os.scandir(folder))
            except OSError as e:
                self.notes.append(f"skipped folder {rel or folder}: cannot read it ({e.strerror or e})")
                continue
            if (info.st_dev, info.st_ino) in seen:
                self.notes.append(f"skipped {rel}: a symlink loop (a link back to a folder already read)")
                continue
            seen.add((info.st_dev, info.st_ino))
            prefix = f"{rel}/" if rel else ""
            for item in listing:
                if item.name[0] == "." or item.name == "__MACOSX":  # hidden(), inlined: this loop sees every file
                    continue
                name = prefix + item.name
                try:
                    if item.is_dir(follow_symlinks=True):
                        if recursive:
                            pending.append((Path(item.path), name))
                        continue
                    st = item.stat(follow_symlinks=True)
                except OSError as e:
                    self.entries.append(Entry(name, 0, 0, f"cannot read it ({e.strerror or e})"))
                    continue
                if not stat.S_ISREG(st.st_mode):
                    self.entries.append(Entry(name, 0, 0, "not a regular file"))
                    continue
                self.entries.append(Entry(name, st.st_size, st.st_mtime_ns))

    def read(self, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
        path = self.root / name
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO swapped in cannot block us
        except OSError as e:
            raise ImageProblem("unreadable", f"cannot open it ({e.strerror or e})") from None
        with os.fdopen(fd, "rb") as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ImageProblem("unreadable", "not a regular file")
            if info.st_size > limit:
                raise ImageProblem("unreadable", f"{info.st_size} bytes, more than the {limit} allowed")
            try:
                data = f.read(limit + 1)
            except OSError as e:
                raise ImageProblem("unreadable", f"cannot read it ({e.strerror or e})") from None
        if len(data) > limit:
            raise ImageProblem("unreadable", f"more than the {limit} bytes allowed")
        return data


def _member_name(archive: Path, raw: str) -> str:
    """An archive member's path, refusing the whole archive for an absolute path or a ``..`` component."""
    name = raw.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise DataError(
            f"archive {archive} has a member path {raw!r} that is absolute or climbs out with '..'; refusing the "
            "whole archive (unpack it yourself if you trust it)"
        )
    return "/".join(p for p in parts if p not in ("", "."))


def _strip_single_top(tree: Tree) -> None:
    """An archive that wraps everything in one folder (``photos/...``) is read from inside that folder."""
    tops = {e.name.split("/", 1)[0] for e in tree.entries}
    if len(tops) == 1 and all("/" in e.name for e in tree.entries):
        tree.prefix = f"{tops.pop()}/"
        tree.entries = [Entry(e.name[len(tree.prefix) :], e.size, e.stamp, e.problem) for e in tree.entries]


def _member_bytes(size: int, limit: int, opener: Callable[[], IO[bytes] | None], kind: str) -> bytes:
    """The bytes of an archive member that declares ``size``: refused over ``limit`` before reading, and at most
    ``limit + 1`` bytes read (a member may hold more than it declares)."""
    if size > limit:
        raise ImageProblem("unreadable", f"{size} bytes, more than the {limit} allowed")
    try:
        f = opener()
        if f is None:
            raise ImageProblem("unreadable", f"the {kind} holds no data for it")
        with f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, RuntimeError, ValueError) as e:
        raise ImageProblem("unreadable", f"cannot read it from the {kind} ({e})") from None
    if len(data) > limit:
        raise ImageProblem("unreadable", f"more than the {limit} bytes allowed")
    return data


class ZipTree(Tree):
    """The regular-file members of a zip archive, read from it directly."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, "zip")
        try:
            self._zip = zipfile.ZipFile(root)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise DataError(f"{root} is not a readable zip archive ({e})") from None
        self._infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = _member_name(root, info.filename)
            if info.is_dir() or not name or hidden(name):
                continue
            if stat.S_ISLNK(info.external_attr >> 16):
                continue  # a symbolic link stored in the zip: not a file
            self._infos[name] = info
            self.entries.append(Entry(name, info.file_size, info.CRC))
        self.entries.sort(key=lambda e: e.name)
        _strip_single_top(self)

    def read(self, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
        info = self._infos[self.prefix + name]
        return _member_bytes(info.file_size, limit, lambda: self._zip.open(info), "zip")

    def close(self) -> None:
        self._zip.close()


class TarTree(Tree):
    """The regular-file members of a tar archive (plain, gzip, bzip2 or xz), streamed in archive order."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, "tar")
        try:
            self._tar = tarfile.open(root, "r:*")
            members = self._tar.getmembers()
        except (tarfile.TarError, OSError, EOFError, ValueError) as e:
            raise DataError(f"{root} is not a readable tar archive ({e})") from None
        self._members: dict[str, tarfile.TarInfo] = {}
        for member in members:
            name = _member_name(root, member.name)
            if not member.isreg() or not name or hidden(name):
                continue  # folders, links, devices
            self._members[name] = member
            self.entries.append(Entry(name, member.size, int(member.mtime)))
        self.entries.sort(key=lambda e: e.name)
        _strip_single_top(self)

    def read(self, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
        member = self._members[self.prefix + name]
        return _member_bytes(member.size, limit, lambda: self._tar.extractfile(member), "tar")

    def stream(self, names: Iterable[str]) -> Iterator[tuple[str, bytes | ImageProblem]]:
        # In archive order: a compressed tar is read forward once, never seeked back.
        wanted = set(names)
        for member in self._tar.getmembers():
            name = _member_name(self.root, member.name)[len(self.prefix) :]
            if name in wanted and self._members.get(self.prefix + name) is member:
                try:
                    yield name, self.read(name)
                except ImageProblem as e:
                    yield name, e

    def close(self) -> None:
        self._tar.close()
