"""The arrays file: named arrays stored raw, so a reader maps them instead of reading them.

The cache of selected events (:mod:`fourtop.data.ntuples`) and the arrays shipped with a
batch job are such files. Opening one maps it into memory (:class:`numpy.memmap`, read-only):
it takes milliseconds whatever its size, nothing is read until used, and every process that
maps the same file shares the same pages of the operating system's page cache, so two worker
processes on one machine do not hold two copies of the events.

Layout (little-endian)::

    bytes 0-7      magic  b"\\x93FTARRS\\n"
    bytes 8-11     format version (uint32, 1)
    bytes 12-15    header length H (uint32)
    bytes 16-16+H  header: JSON {"variables": [...], "size": file size in bytes,
                   "arrays": {name: {"dtype": "<f4", "shape": [n, m], "offset": o}, ...}}
    then           each array's bytes in C order, at an offset that is a multiple of 4096

A truncated file (its size is not the header's) or a damaged header is refused with a
one-line :class:`~fourtop.errors.DataError`. The arrays' bytes carry no checksum: checking
one would mean reading the whole file, which mapping exists to avoid (the weights are read
and checked by :func:`fourtop.data.ntuples.check_weights`, a NaN in a variable fails the
jobs that use it).
"""

from __future__ import annotations

import json
import math
import mmap
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fourtop.errors import DataError

__all__ = ["MAGIC", "is_arrays_file", "is_memory_mapped", "map_arrays", "write_arrays"]

#: the first bytes of an arrays file (like .npy's, not text: a text-mode copy breaks it)
MAGIC = b"\x93FTARRS\n"
#: the format version this module writes and reads
VERSION = 1
#: arrays start at multiples of this (a memory page)
ALIGN = 4096
_PREFIX = struct.Struct("<8sII")
#: the element types an arrays file may hold
_DTYPES = ("<f4", "<f8", "<i8", "<i4", "<u8", "<u4", "|u1", "|b1")


def is_arrays_file(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a file) starts an arrays file."""
    return head.startswith(MAGIC)


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _little_endian(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    if array.dtype.str not in _DTYPES:
        raise ValueError(f"arrays file: cannot store dtype {array.dtype}")
    return array


def write_arrays(fh: BinaryIO, variables: Sequence[str], arrays: Mapping[str, np.ndarray]) -> int:
    """Write ``arrays`` (and the variable names) to the open binary file ``fh``.

    The arrays are written as they are (no copy of a C-contiguous little-endian array).

    Returns:
        The bytes written.
    """
    stored = {name: _little_endian(a) for name, a in arrays.items()}
    # the arrays start after the header, whose length depends on their offsets: grow the
    # start until the header fits before it (twice at most)
    start = ALIGN
    while True:
        entries: dict[str, dict[str, object]] = {}
        offset = size = start
        for name, a in stored.items():
            entries[name] = {"dtype": a.dtype.str, "shape": list(a.shape), "offset": offset}
            size = offset + a.nbytes
            offset = _aligned(size)
        doc = {"variables": list(variables), "size": size, "arrays": entries}
        header = json.dumps(doc).encode()
        if _PREFIX.size + len(header) <= start:
            break
        start = _aligned(_PREFIX.size + len(header))
    fh.write(_PREFIX.pack(MAGIC, VERSION, len(header)))
    fh.write(header)
    written = _PREFIX.size + len(header)
    for name, a in stored.items():
        offset = int(entries[name]["offset"])  # type: ignore[call-overload]
        fh.write(b"\0" * (offset - written))
        if a.nbytes:
            fh.write(memoryview(a.reshape(-1)).cast("B"))
        written = offset + a.nbytes
    fh.write(b"\0" * (size - written))
    return size


def _whole(value: object) -> int:
    """``value`` of a header's shape or offset: a JSON integer (not a bool, float or text)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(value)
    return value


def map_arrays(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """The variable names and the arrays of the arrays file ``path``, memory-mapped read-only.

    Raises:
        DataError: the file is not an arrays file, is truncated, has a damaged header or
            was written by a newer format version.
    """

    def bad(problem: str) -> DataError:
        return DataError(f"{path}: not a fourtop arrays file ({problem})")

    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            prefix = fh.read(_PREFIX.size)
            if len(prefix) < _PREFIX.size or not is_arrays_file(prefix):
                raise bad("no arrays file header" if prefix else "empty file")
            _, version, length = _PREFIX.unpack(prefix)
            if version > VERSION:
                raise DataError(
                    f"{path}: arrays file of format version {version}, newer than this "
                    f"fourtop reads ({VERSION}): update fourtop"
                )
            if version < 1:
                raise bad(f"damaged header: format version {version}")
            # never read more than the file holds (a damaged length could ask for 4 GiB)
            raw = fh.read(min(length, size - _PREFIX.size))
    except OSError as exc:
        from fourtop.fileio import describe_os_error

        raise DataError(f"cannot read the arrays file {describe_os_error(exc, path)}") from None
    if len(raw) < length:
        raise bad(f"truncated: {size} bytes, the header alone needs {_PREFIX.size + length}")
    try:
        doc = json.loads(raw)
        variables = doc["variables"]
        expected = doc["size"]
        specs = doc["arrays"]
        if not isinstance(specs, dict) or not isinstance(variables, list):
            raise TypeError
    # RecursionError: a header of deeply nested brackets
    except (ValueError, KeyError, TypeError, RecursionError):
        raise bad("damaged header") from None
    if expected != size:
        what = "truncated" if isinstance(expected, int) and size < expected else "damaged"
        raise bad(f"{what}: {size} bytes, the header says {expected}")
    if not all(isinstance(v, str) for v in variables):
        raise bad("damaged header: the variables are not names")
    layout = {}
    for name, spec in specs.items():
        try:
            dtype = np.dtype(spec["dtype"])
            # whole numbers only (JSON's 1e400 is infinity, 2.5 is no count)
            shape = tuple(_whole(n) for n in spec["shape"])
            offset = _whole(spec["offset"])
        except (KeyError, TypeError, ValueError):
            raise bad(f"damaged header: array {name!r}") from None
        # Python integers: a shape whose product overflows int64 is just too large
        nbytes = dtype.itemsize * math.prod(shape)
        if (
            spec["dtype"] not in _DTYPES
            or min(shape, default=0) < 0
            or offset % ALIGN
            or offset < _PREFIX.size + length
            or offset + nbytes > size
        ):
            raise bad(f"damaged header: array {name!r} {spec}")
        layout[name] = (dtype, shape, offset, nbytes)
    try:
        whole = np.memmap(path, dtype=np.uint8, mode="r")
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot map the arrays file ({exc})") from None
    arrays = {}
    for name, (dtype, shape, offset, nbytes) in layout.items():
        if not nbytes:
            arrays[name] = np.zeros(shape, dtype=dtype)
            continue
        view = whole[offset : offset + nbytes].view(np.ndarray)
        arrays[name] = view.view(dtype).reshape(shape)
    return [str(v) for v in variables], arrays


def is_memory_mapped(array: np.ndarray) -> bool:
    """Whether ``array`` is a view of a memory-mapped file (not a private copy)."""
    base: object = array
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap):
            return True
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, mmap.mmap)
