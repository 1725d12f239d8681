""".npz archives read and written in bounded chunks, trusting no header.

Reading: each member's compressed bytes are read from the archive directly and inflated
with an output limit per call (``zlib``, ``bz2`` and ``lzma`` all take one), because
:mod:`zipfile` inflates a bzip2 or LZMA chunk whole: 722 bytes of bzip2 are 1 GB of
zeros. The ``.npy`` header is checked (no objects, declared size = member size, within
the caller's byte cap) before any array memory is allocated, and only the rows asked for
are read. Writing: :class:`NpzWriter` streams an array's rows into a member, so an array
larger than memory can be written batch by batch.
"""

from __future__ import annotations

import bz2
import io
import lzma
import math
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from genlab.errors import DataError
from genlab.files import describe_size, open_regular

CHUNK = 1 << 20  # bytes inflated per call
RAW_CHUNK = 1 << 16  # compressed bytes read per call from the archive
MAX_DEFLATE_RATIO = 1032  # deflate expands data at most ~1032-fold (zlib's technical notes)
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile's sizeFileHeader: 30 bytes


class MemberStream:
    """The uncompressed bytes of one archive member, read ``n`` at a time (stored, deflate,
    bzip2 or LZMA); at most :data:`CHUNK` bytes are produced per decompressor call."""

    def __init__(self, fp: BinaryIO, info: zipfile.ZipInfo, where: str) -> None:
        self.where, self.crc = where, 0
        if info.flag_bits & 0x1:
            raise DataError(f"{where} is encrypted; genlab reads plain .npz files")
        fp.seek(info.header_offset)
        header = fp.read(_LOCAL_HEADER.size)
        if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
            raise DataError(f"{where}: the archive is damaged (bad local header)")
        name_length, extra_length = struct.unpack("<2H", header[26:30])
        fp.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
        self._fp, self._left_in, self._left_out = fp, info.compress_size, info.file_size
        method = info.compress_type
        self._zlib = method == zipfile.ZIP_DEFLATED
        if method == zipfile.ZIP_STORED:
            self._inflate = None
        elif method == zipfile.ZIP_DEFLATED:
            self._inflate = zlib.decompressobj(-15)
        elif method == zipfile.ZIP_BZIP2:
            self._inflate = bz2.BZ2Decompressor()
        elif method == zipfile.ZIP_LZMA:
            self._inflate = self._lzma()
        else:
            raise DataError(f"{where} uses zip compression method {method}; genlab reads stored, deflate, bzip2, LZMA")

    def _raw(self, n: int) -> bytes:
        data = self._fp.read(min(n, self._left_in))
        self._left_in -= len(data)
        return data

    def _lzma(self) -> lzma.LZMADecompressor:
        """Zip's LZMA: 2 version bytes, 2 bytes of properties size, the properties, raw LZMA1."""
        head = self._raw(4)
        if len(head) != 4:
            raise DataError(f"{self.where}: the LZMA stream is truncated")
        (size,) = struct.unpack("<H", head[2:4])
        props = self._raw(size)
        try:
            lzma1 = lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)  # what zipfile itself does
        except (lzma.LZMAError, ValueError):
            raise DataError(f"{self.where}: the LZMA stream has malformed properties") from None
        return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1])

    def _piece(self, want: int) -> bytes:
        """Up to ``want`` more bytes (b"" at the end of the member's data)."""
        d = self._inflate
        if d is None:
            return self._raw(want)
        if self._zlib:  # the input past max_length waits in unconsumed_tail
            while not d.eof:
                data = d.unconsumed_tail or self._raw(RAW_CHUNK)
                if not data:
                    return b""
                piece = d.decompress(data, want)
                if piece:
                    return piece
            return b""
        while not d.eof:
            data = self._raw(RAW_CHUNK) if d.needs_input else b""
            if d.needs_input and not data:
                return b""
            piece = d.decompress(data, want)
            if piece:
                return piece
        return b""

    def readinto(self, buffer: memoryview) -> int:
        """Fill ``buffer`` from the member; returns how many bytes were filled (fewer at its end)."""
        filled = 0
        while filled < len(buffer) and self._left_out > 0:
            piece = self._piece(min(CHUNK, len(buffer) - filled, self._left_out))
            if not piece:
                break
            buffer[filled : filled + len(piece)] = piece
            self.crc = zlib.crc32(piece, self.crc)
            filled += len(piece)
            self._left_out -= len(piece)
        return filled

    def read(self, n: int) -> bytes:
        buffer = bytearray(n)
        return bytes(buffer[: self.readinto(memoryview(buffer))])


def read_array(
    fp: BinaryIO, info: zipfile.ZipInfo, where: str, max_rows: int | None, max_bytes: int
) -> tuple[np.ndarray, tuple[int, ...]]:
    """(the array in member ``info``, cut to its first ``max_rows`` rows; its declared shape).

    Refused with a :class:`DataError` before anything is allocated: Python objects, a
    declared size that is not the member's size, a stored/deflate member larger than its
    compressed bytes can hold, and more than ``max_bytes`` to read.
    """
    ratio = {zipfile.ZIP_STORED: 1, zipfile.ZIP_DEFLATED: MAX_DEFLATE_RATIO}.get(info.compress_type)
    if ratio is not None and info.file_size > info.compress_size * ratio + 1024:
        raise DataError(
            f"{where} claims {info.file_size} bytes, more than {info.compress_size} compressed bytes can hold"
        )
    stream = MemberStream(fp, info, where)
    magic = stream.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        raise DataError(f"{where} is not a .npy array")
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0)):
        raise DataError(f"{where} has .npy format version {version}; expected 1.0 or 2.0")
    size_bytes = stream.read(2 if version == (1, 0) else 4)
    header_length = int.from_bytes(size_bytes, "little") if len(size_bytes) in (2, 4) else 0
    if not 0 < header_length <= 65535:
        raise DataError(f"{where} has a malformed .npy header")
    text = magic + size_bytes + stream.read(header_length)
    shape, fortran, dtype = _parse_header(io.BytesIO(text), version, where)
    offset = len(text)
    if dtype.hasobject:
        raise DataError(f"{where} holds Python objects; refused, since loading them would unpickle code")
    declared = math.prod(shape) * dtype.itemsize
    if declared != info.file_size - offset:
        raise DataError(
            f"{where} declares shape {shape} of {dtype} ({declared} bytes) but holds {info.file_size - offset} bytes"
        )
    rows_only = bool(shape) and not fortran and max_rows is not None and shape[0] > max_rows
    out_shape = (max_rows, *shape[1:]) if rows_only else shape
    nbytes = math.prod(out_shape) * dtype.itemsize
    if nbytes > max_bytes:
        raise DataError(
            f"{where} holds {describe_size(nbytes)} (shape {out_shape} of {dtype}), more than the "
            f"{describe_size(max_bytes)} genlab reads at once; use fewer images (-n reads only the first n)"
        )
    array = np.empty(out_shape, dtype, order="F" if fortran else "C")
    if nbytes:
        got = stream.readinto(memoryview(array.reshape(-1, order="A").view(np.uint8)))
        if got != nbytes:
            raise DataError(f"{where} is truncated: {got} of {nbytes} bytes")
        if not rows_only and stream.crc != info.CRC:
            raise DataError(f"{where} is corrupt (CRC-32 does not match)")
    return array, tuple(shape)


def _parse_header(f, version: tuple[int, int], where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    f.read(8)  # the magic, checked by the caller
    try:
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)
        return np.lib.format.read_array_header_2_0(f)
    except (ValueError, SyntaxError, TypeError) as e:
        raise DataError(f"{where} has a malformed .npy header ({str(e).splitlines()[0] if str(e) else e})") from None


class NpzWriter:
    """Write arrays into an .npz (deflate) row batch by row batch: ``with NpzWriter(path) as w:
    w.begin("images", (N, H, W), np.uint8); w.write(batch); ...; w.add("labels", labels)``."""

    def __init__(self, path) -> None:
        self._archive = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self._member = None
        self._left = 0

    def begin(self, name: str, shape: tuple[int, ...], dtype) -> None:
        """Start member ``name.npy`` holding an array of ``shape``; its rows follow through :meth:`write`."""
        self._finish()
        dtype = np.dtype(dtype)
        self._member = self._archive.open(f"{name}.npy", "w", force_zip64=True)
        header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": tuple(shape)}
        np.lib.format.write_array_header_1_0(self._member, header)
        self._left, self._dtype = math.prod(shape) * dtype.itemsize, dtype

    def write(self, rows: np.ndarray) -> None:
        data = np.ascontiguousarray(rows, dtype=self._dtype).tobytes()
        if len(data) > self._left:
            raise ValueError("more rows than the member's declared shape holds")
        self._member.write(data)
        self._left -= len(data)

    def add(self, name: str, array: np.ndarray) -> None:
        """A whole (small) array as member ``name.npy``."""
        array = np.asarray(array)
        self.begin(name, array.shape, array.dtype)
        self.write(array)

    def _finish(self) -> None:
        if self._member is not None:
            if self._left:
                raise ValueError(f"{self._left} bytes of the member's declared shape were never written")
            self._member.close()
            self._member = None

    def __enter__(self) -> NpzWriter:
        return self

    def __exit__(self, kind, *_) -> None:
        try:
            if kind is None:
                self._finish()
            elif self._member is not None:
                self._member.close()
        finally:
            self._archive.close()


def bounded_file(path: Path, what: str, limit: int) -> int:
    """The size of regular file ``path``; DataError when it is missing, not a regular file or over ``limit``."""
    if not path.is_file():
        raise DataError(f"{what} {path} does not exist (or is not a regular file)")
    size = path.stat().st_size
    if size > limit:
        raise DataError(f"{what} {path} holds {size} bytes, over the {limit}-byte bound")
    return size


def npz_members(path: Path, limit: int) -> list[str]:
    """Array names in an .npz (without .npy); DataError if it is not a zip archive or two members
    could be read as one array (``mu`` and ``mu.npy``: the one checked must be the one read)."""
    bounded_file(path, ".npz file", limit)
    try:
        with zipfile.ZipFile(path) as archive:
            names = [info.filename.removesuffix(".npy") for info in archive.infolist()]
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path} is not a readable .npz file ({e})") from None
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"{path} holds two members for the array(s) {twice}; refused as ambiguous")
    return names


def read_npz_arrays(path: Path, keys: tuple[str, ...], limit: int) -> dict[str, np.ndarray]:
    """The arrays ``keys`` (those present) of an .npz, each by :func:`read_array` (its header checked
    against its bytes, at most ``limit`` bytes, inflated in bounded chunks, never unpickled)."""
    npz_members(path, limit)  # refuses ambiguous members
    found: dict[str, np.ndarray] = {}
    with open_regular(path, ".npz file", DataError) as fp:
        try:
            with zipfile.ZipFile(fp) as archive:
                for info in archive.infolist():
                    key = info.filename.removesuffix(".npy")
                    if key in keys:
                        found[key], _ = read_array(fp, info, f"{path}: array {info.filename!r}", None, limit)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, lzma.LZMAError) as e:
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise DataError(f"{path} is not a readable .npz file ({first})") from None
    return found


def read_npy(path: Path, limit: int, mmap: bool = False) -> np.ndarray:
    """A .npy file's array, its header checked first (version, no Python objects, declared size = the bytes
    after it, at most ``limit`` bytes); ``mmap``: opened read-only memory-mapped instead of read."""
    size = bounded_file(path, ".npy file", limit)
    with open_regular(path, ".npy file", DataError) as f:
        try:
            version = np.lib.format.read_magic(f)
            header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in header:
                raise DataError(f"{path} has .npy format version {version}; expected 1.0 or 2.0")
            shape, fortran, dtype = header[version](f)
        except (ValueError, SyntaxError, TypeError) as e:
            raise DataError(
                f"{path} is not a readable .npy file ({str(e).splitlines()[0] if str(e) else e})"
            ) from None
        if dtype.hasobject:
            raise DataError(f"{path} holds Python objects; refused, since loading them would unpickle code")
        count, offset = math.prod(shape), f.tell()
        if count * dtype.itemsize != size - offset:
            raise DataError(f"{path} declares shape {shape} of {dtype} but holds a different number of bytes")
        order = "F" if fortran else "C"
        if mmap and count:
            return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
        array = np.fromfile(f, dtype=dtype, count=count)
    return array.reshape(shape, order=order)
