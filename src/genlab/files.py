"""Reading the files people name: regular files only, bounded sizes, bounded nesting.

Every file genlab reads on someone's behalf (configs, checkpoints and their JSON, key
files, metrics, cards) goes through :func:`open_regular`, so a FIFO is refused instead of
hanging, ``/dev/zero`` (or a symlink to it) instead of filling memory, and a file over
its size cap instead of being read whole. JSON and YAML are parsed by :func:`loads_json`
and :func:`loads_yaml`, which refuse nesting deeper than :data:`MAX_DEPTH` and YAML
aliases (a few hundred bytes of ``*a`` references expand to gigabytes).

Errors are the caller's :class:`~genlab.errors.GenlabError` subclass, one line each.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from genlab.errors import DataError, GenlabError

KIB, MIB, GIB = 1024, 1024**2, 1024**3
MAX_DEPTH = 128  # nesting of JSON/YAML documents (a checkpoint's state skeleton is ~10 deep)
MAX_CONFIG_BYTES = MIB  # a run's config.yaml is ~2 KiB
MAX_JSON_BYTES = 64 * MIB  # checkpoint JSON sidecars (~100 KiB for the largest families)
MAX_KEY_BYTES = 64 * KIB  # PEM keys and watermark.key (< 1 KiB)

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def describe_size(n: int) -> str:
    """``n`` bytes for people: 1.5 GiB, 64 MiB, 12 KiB, 80 bytes."""
    for unit, size in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def open_regular(
    path: str | os.PathLike, what: str = "file", error: type[GenlabError] = DataError, missing: str = ""
) -> BinaryIO:
    """``path`` opened for binary reading if it is a regular file (a symlink's target counts).

    A FIFO, a device such as ``/dev/zero``, a socket or a folder raises ``error`` at once:
    the file is opened non-blocking (opening a FIFO for reading would otherwise wait for a
    writer forever) and checked with ``fstat`` on the opened descriptor, so what is checked
    is what is read. ``missing`` replaces the message for a file that does not exist.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise error(missing or f"{what} {path} does not exist") from None
    except OSError as e:
        raise error(f"cannot read {what} {path}: {e.strerror or type(e).__name__}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            raise error(f"{what} {path} is {kind}, not a regular file; name a file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(
    path: str | os.PathLike,
    limit: int,
    what: str = "file",
    error: type[GenlabError] = DataError,
    missing: str = "",
) -> bytes:
    """The bytes of regular file ``path``; more than ``limit`` bytes raises ``error``.

    The file's size is checked before reading, and at most ``limit + 1`` bytes are read
    even if it grows meanwhile (nothing is allocated for the limit itself: ``read(n)``
    reserves ``n`` bytes up front)."""
    with open_regular(path, what, error, missing) as f:
        try:
            size = os.fstat(f.fileno()).st_size
            if size > limit:
                raise error(
                    f"{what} {path} is {describe_size(size)}, more than such a file ever holds "
                    f"({describe_size(limit)}); refused"
                )
            data = f.read(size + 1)
            if len(data) > size:  # it grew while we read: go on, in bounded steps
                grown = bytearray(data)
                while len(grown) <= limit and (more := f.read(min(MIB, limit + 1 - len(grown)))):
                    grown += more
                data = bytes(grown)
        except OSError as e:
            raise error(f"cannot read {what} {path}: {e.strerror or type(e).__name__}") from None
    if len(data) > limit:
        raise error(f"{what} {path} is larger than {describe_size(limit)}, more than such a file ever holds; refused")
    return data


def read_text(
    path: str | os.PathLike,
    limit: int,
    what: str = "file",
    error: type[GenlabError] = DataError,
    missing: str = "",
    errors: str = "strict",
) -> str:
    """:func:`read_bytes` decoded as UTF-8; undecodable bytes raise ``error`` (unless ``errors`` says otherwise)."""
    data = read_bytes(path, limit, what, error, missing)
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        raise error(f"{what} {path} is not UTF-8 text (byte {e.start})") from None


def depth(value: Any) -> int:
    """How deeply lists and dicts nest in ``value`` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads_json(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` (and integers of over
    4300 digits) with a :class:`json.JSONDecodeError`, which callers already handle; the
    plain function raises RecursionError or ValueError for those."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", "", 0) from None
    except ValueError as e:  # e.g. "Exceeds the limit (4300 digits) for integer string conversion"
        raise json.JSONDecodeError(str(e).split(";")[0], "", 0) from None
    if depth(value) > max_depth:
        raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", "", 0)
    return value


def read_json(
    path: str | os.PathLike,
    limit: int = MAX_JSON_BYTES,
    what: str = "JSON file",
    error: type[GenlabError] = DataError,
    missing: str = "",
) -> Any:
    """A JSON file through :func:`read_bytes` and :func:`loads_json`; damage raises ``error``."""
    data = read_bytes(path, limit, what, error, missing)
    try:
        return loads_json(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise error(f"{what} {path} is not valid JSON ({e})") from None


class _AliasFreeLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases: ``*name`` is an error, so a document's size in
    memory stays proportional to its size on disk (no "billion laughs")."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"YAML aliases (*{event.anchor}) are not accepted; write the value out", event.start_mark
            )
        return super().compose_node(parent, index)


def loads_yaml(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """A YAML document with the safe loader, refusing aliases and nesting deeper than
    ``max_depth``; every problem is a :class:`yaml.YAMLError` (one line: ``str(e).splitlines()[0]``)."""
    loader = _AliasFreeLoader(text)  # what yaml.load(text, Loader=...) does, with our safe loader only
    try:
        value = loader.get_single_data()
    except RecursionError:
        raise yaml.YAMLError(f"nested deeper than {max_depth} levels") from None
    finally:
        loader.dispose()
    if depth(value) > max_depth:
        raise yaml.YAMLError(f"nested deeper than {max_depth} levels")
    return value


def dumps_yaml(data: Any) -> str:
    """``yaml.safe_dump`` (keys in order) that never writes aliases, so :func:`loads_yaml` reads it back."""
    return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False)


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def is_inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether ``path``, symlinks resolved, lies inside ``root`` (also resolved)."""
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False
