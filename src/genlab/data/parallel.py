"""Decode over every core: chunks of work to a process pool, results back in order, a progress bar.

The main process reads the files (bounded, regular files only) and sends their bytes; worker
processes only decode. A few chunks are in flight per worker, so memory stays bounded however
large the folder. Small jobs run in this process: starting a pool costs more than they take.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import numpy as np

from genlab.console import stderr_console
from genlab.data.decode import Header, ImageProblem, Prep, decode, decode_array, pixel_hash, read_header
from genlab.errors import DataError

T = TypeVar("T")
CHUNK = 256  # images per task
SERIAL_BELOW = 2 * CHUNK  # fewer images than this are decoded in this process


def cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def show_progress() -> bool:
    """A progress bar only on a terminal."""
    return sys.stderr.isatty()


def run_chunks(
    work: Callable[[list[Any]], T], chunks: Iterable[list[Any]], *, total: int, what: str, progress: bool
) -> Iterator[T]:
    """``work(chunk)`` for every chunk, in order, on up to :func:`cores` processes."""
    workers = min(cores(), max(1, total // CHUNK))
    bar = _bar(what, total) if progress else None
    try:
        if workers == 1 or total < SERIAL_BELOW:
            for chunk in chunks:
                result = work(chunk)
                _advance(bar, len(chunk))
                yield result
            return
        context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            pending: deque = deque()
            for chunk in chunks:
                pending.append((len(chunk), pool.submit(work, chunk)))
                while len(pending) > 2 * workers:
                    yield _collect(pending, bar)
            while pending:
                yield _collect(pending, bar)
    except BrokenProcessPool:
        raise DataError(f"a process decoding the images died (out of memory?) while {what.lower()}") from None
    finally:
        if bar is not None:
            bar.stop()


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Lists of ``size`` consecutive items (the last may be shorter)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def decode_files(prep: Prep, items: list[tuple[int, bytes | ImageProblem]]) -> list[tuple[int, Any, bool]]:
    """(index, uint8 (C, S, S) or the ImageProblem, upscaled) for each (index, file bytes)."""
    out: list[tuple[int, Any, bool]] = []
    for index, data in items:
        if isinstance(data, ImageProblem):
            out.append((index, data, False))
            continue
        try:
            pixels, upscaled = decode(data, prep)
        except ImageProblem as e:
            out.append((index, e, False))
            continue
        out.append((index, pixels, upscaled))
    return out


def decode_arrays(prep: Prep, items: list[tuple[int, np.ndarray]]) -> list[tuple[int, Any, bool]]:
    """The same for array images (C, H, W)."""
    return [(index, *decode_array(pixels, prep)) for index, pixels in items]


def headers(items: list[tuple[int, bytes | ImageProblem]]) -> list[tuple[int, Header | ImageProblem]]:
    """(index, Header or ImageProblem) for each (index, file bytes)."""
    out: list[tuple[int, Header | ImageProblem]] = []
    for index, data in items:
        try:
            out.append((index, data if isinstance(data, ImageProblem) else read_header(data)))
        except ImageProblem as e:
            out.append((index, e))
    return out


def inspect_files(items: list[tuple[int, bytes | ImageProblem]]) -> list[tuple[int, Any, str]]:
    """(index, Header or ImageProblem, pixel hash or "") for each (index, file bytes): decodes every pixel."""
    out: list[tuple[int, Any, str]] = []
    for index, data in items:
        try:
            if isinstance(data, ImageProblem):
                raise data
            out.append((index, read_header(data), pixel_hash(data)))
        except ImageProblem as e:
            out.append((index, e, ""))
    return out


def _collect(pending: deque, bar: Any) -> Any:
    size, future = pending.popleft()
    result = future.result()
    _advance(bar, size)
    return result


def _bar(what: str, total: int) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=stderr_console,
        transient=True,
    )
    progress.start()
    progress.add_task(what, total=total)
    return progress


def _advance(bar: Any, n: int) -> None:
    if bar is not None:
        bar.advance(bar.task_ids[0], n)
