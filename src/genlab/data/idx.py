"""Read and write IDX files, the array format MNIST is distributed in.

Format (LeCun et al., http://yann.lecun.com/exdb/mnist/), all big-endian:
two zero bytes, a dtype code byte, an ndim byte, ``ndim`` int32 dimensions, then the
data in C order. Files may be gzip-compressed; we detect that by the magic bytes
``1f 8b`` rather than by the file name.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from genlab.atomic import atomic_write_bytes
from genlab.errors import DataError
from genlab.files import GIB, read_bytes

# IDX dtype code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# Native dtype (byte order ignored) -> IDX dtype code.
_CODES: dict[np.dtype, int] = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # gzip streams are read this many bytes at a time


MAX_FILE_BYTES = 4 * GIB  # an IDX file on disk (MNIST's largest is 47 MB)


def read_maybe_gzip(path: str | os.PathLike, max_bytes: int | None = None) -> bytes:
    """Return a file's bytes, gunzipped if they start with the gzip magic bytes.

    ``max_bytes`` caps the uncompressed size: a file (or a gzip bomb) that holds more is a
    DataError, found after decompressing at most ``max_bytes + 1`` bytes.
    """
    path = Path(path)
    data = _read_file(path)
    if not data.startswith(GZIP_MAGIC):
        if max_bytes is not None and len(data) > max_bytes:
            raise DataError(f"IDX file {path} holds {len(data)} bytes, more than the {max_bytes} expected.")
        return data
    with _gunzip(data, path) as stream:
        return _read_capped(stream, max_bytes, path)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a native-endian array.

    Raises DataError naming the file if it is missing, truncated or malformed. A gzip
    file is decompressed only as far as its header says the data goes (plus one byte, to
    notice extra data), so a small file that claims or inflates to gigabytes is refused
    without holding them in memory.
    """
    path = Path(path)
    data = _read_file(path)
    if data.startswith(GZIP_MAGIC):
        with _gunzip(data, path) as stream:
            head = _read_capped(stream, 4, path, exact=False)
            dims = _read_capped(stream, 4 * head[3], path, exact=False) if len(head) == 4 else b""
            header = head + dims
            try:
                _, _, expected = parse_header(header, str(path))
            except DataError:
                return read_idx_bytes(header, name=str(path))  # raises the header's error
            data = header + _read_capped(stream, expected + 1, path, exact=False)
    return read_idx_bytes(data, name=str(path))


def parse_header(data: bytes, name: str = "<bytes>") -> tuple[np.dtype, tuple[int, ...], int]:
    """(dtype, shape, payload bytes) declared by the header at the start of ``data``.

    Only the header is read and nothing is allocated from it; raises DataError when the
    magic, dtype code or dimensions are wrong or cut off.
    """
    # 1. Fixed 4-byte header: 0, 0, dtype code, ndim.
    if len(data) < 4:
        raise DataError(f"IDX file {name} is truncated: {len(data)} bytes, no full header.")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"IDX file {name} has wrong magic {data[:4].hex()} (must start with 0000); "
            "it is not an IDX file or it is corrupt."
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"IDX file {name} has unknown dtype code 0x{code:02X}; known: {known}.")
    # 2. Dimensions: ndim big-endian int32.
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DataError(f"IDX file {name} is truncated inside its {ndim} dimension sizes.")
    shape = struct.unpack(f">{ndim}i", data[4:offset])
    if any(d < 0 for d in shape):
        raise DataError(f"IDX file {name} has a negative dimension in shape {shape}.")
    dtype = IDX_DTYPES[code]
    if (
        math.prod(max(d, 1) for d in shape) * dtype.itemsize > np.iinfo(np.intp).max
    ):  # NumPy refuses such shapes, even empty
        raise DataError(f"IDX file {name} declares shape {shape}, too large for any array; it is corrupt.")
    return dtype, shape, math.prod(shape) * dtype.itemsize  # Python ints: no overflow


def read_idx_bytes(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse already-decompressed IDX bytes into a writable native-endian array.

    ``name`` only appears in error messages. The size the header declares is compared
    with the bytes present before anything is allocated.
    """
    dtype, shape, expected = parse_header(data, name)
    # 3. Payload: exactly prod(shape) items.
    offset = 4 + 4 * len(shape)
    actual = len(data) - offset
    if actual != expected:
        problem = "truncated" if actual < expected else "followed by extra bytes"
        raise DataError(
            f"IDX file {name} size mismatch: shape {shape} of {dtype.name} needs {expected} "
            f"data bytes but has {actual} (file is {problem}); restore it from a good copy."
        )
    array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # copies: writable, native byte order


def _read_file(path: Path) -> bytes:
    """A regular file of at most 4 GiB (a FIFO or /dev/zero in --data-dir is one line, not a hang)."""
    return read_bytes(
        path, MAX_FILE_BYTES, "IDX file", DataError, missing=f"IDX file {path} does not exist; check the path."
    )


@contextlib.contextmanager
def _gunzip(data: bytes, path: Path):
    """A decompressing stream over gzip ``data``; corrupt or truncated data is a DataError."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            yield stream
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"IDX file {path} looks gzip-compressed but is corrupt or truncated ({e}); restore it from a good copy."
        ) from None


def _read_capped(stream: gzip.GzipFile, limit: int | None, path: Path, exact: bool = True) -> bytes:
    """Up to ``limit`` bytes (all when None) of ``stream``, read 1 MiB at a time.

    With ``exact``, more than ``limit`` bytes in the stream is a DataError; otherwise the
    caller sees how many came.
    """
    chunks, size = [], 0
    while limit is None or size < limit + exact:
        want = _CHUNK if limit is None else min(_CHUNK, limit + exact - size)
        chunk = stream.read(want)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if exact and limit is not None and size > limit:
        raise DataError(f"IDX file {path} decompresses to more than the {limit} bytes expected.")
    return b"".join(chunks)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode an array as uncompressed IDX bytes."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        known = ", ".join(dt.name for dt in IDX_DTYPES.values())
        raise DataError(f"cannot write dtype {array.dtype} as IDX; use one of: {known}.")
    if array.ndim > 255:
        raise DataError(f"cannot write a {array.ndim}-d array as IDX; at most 255 dims.")
    if any(d >= 2**31 for d in array.shape):
        raise DataError(f"cannot write shape {array.shape} as IDX; dims must be < 2**31.")
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    payload = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    return header + payload


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` to ``path`` as IDX, atomically; gzip it if ``compress``.

    ``compress=None`` means: compress when the path ends with ``.gz``.
    """
    path = Path(path)
    if compress is None:
        compress = path.name.endswith(".gz")
    data = idx_bytes(array)
    if compress:
        data = gzip.compress(data, compresslevel=6, mtime=0)  # mtime=0: reproducible bytes
    return atomic_write_bytes(path, data)
