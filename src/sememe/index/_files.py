"""File names of an index folder and the checked readers the store and the engine share.

Every reader turns a parse failure into an :class:`IndexFormatError` naming the file, and
checks what it can (``.npy`` headers, FAISS allocation sizes) before reading the data, so a
damaged file cannot ask for an impossible allocation.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import _folder
from ._common import IndexFormatError

MANIFEST = _folder.MANIFEST
DOCS = "docs.jsonl"
VECTORS = "vectors.npy"
CODES = "codes.npy"
BLANK = "blank.npy"
SERIALS = "serials.npy"
DEAD = "dead.npy"
STRUCTURE = "structure.faiss"
SCAN = "scan.faiss"


@contextlib.contextmanager
def reading(path: Path) -> Iterator[None]:
    """Turn any failure to parse ``path`` into an :class:`IndexFormatError` naming it.

    Corrupt files fail in many ways (numpy's header parser raises ``tokenize`` and
    ``SyntaxError`` errors, FAISS ``RuntimeError``, json ``ValueError``, a bad byte
    ``UnicodeDecodeError``, ...), checked or not: all of them are the folder's fault.
    ``MemoryError`` (and ``KeyboardInterrupt``) pass through.
    """
    try:
        yield
    except (IndexFormatError, MemoryError):
        raise
    except Exception as exc:
        raise IndexFormatError(
            f"{path}: cannot read the index file ({type(exc).__name__}: {exc})"
        ) from exc


def json_line(record: dict[str, Any]) -> str:
    """One ``docs.jsonl`` line, UTF-8 as written; lone surrogates (which UTF-8 cannot hold
    and the encoder accepts) are kept as JSON escapes, which read back to the same text."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record, ensure_ascii=True)
    return line + "\n"


def load_npy(
    path: Path, shape: tuple[int, ...] | None, dtype: Any, mode: str | None = None
) -> np.ndarray:
    """An ``.npy`` file whose header must give ``dtype`` and ``shape`` (``None``: any 1-d).

    The header is checked before the data is read, so a damaged one cannot ask for an
    impossible allocation; the data must fill the rest of the file exactly.
    """
    fmt = np.lib.format
    with reading(path):
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                got_shape, fortran, got_dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                got_shape, fortran, got_dtype = fmt.read_array_header_2_0(f)
            else:
                raise IndexFormatError(f"{path}: unsupported .npy version {version}")
            data_bytes = os.fstat(f.fileno()).st_size - f.tell()
        want = np.dtype(dtype)
        if got_dtype != want or fortran:
            raise IndexFormatError(
                f"{path}: holds {'Fortran-order ' if fortran else ''}{got_dtype}, expected {want}"
            )
        ok = len(got_shape) == 1 if shape is None else tuple(got_shape) == shape
        if not ok:
            expected = "(n,)" if shape is None else str(shape)
            raise IndexFormatError(f"{path}: has shape {got_shape}, expected {expected}")
        if data_bytes != int(np.prod(got_shape, dtype=np.int64)) * want.itemsize:
            raise IndexFormatError(
                f"{path}: {data_bytes} bytes of data for shape {got_shape}; the file is "
                "truncated or padded"
            )
        return np.load(path, mmap_mode=mode, allow_pickle=False)


def physical_memory() -> int | None:
    """This machine's memory in bytes, where the OS tells."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def read_faiss(path: Path, reader: Any) -> Any:
    """A FAISS file read with ``reader``; parse failures become :class:`IndexFormatError`.

    A damaged size field makes FAISS ask for an impossible allocation (``std::bad_alloc``,
    a ``MemoryError``). Reading needs about the file's size in memory, so a MemoryError for
    a file far smaller than this machine's memory is the file's fault; for a file that big
    it may be real, and passes through.
    """
    with reading(path):
        try:
            return reader(str(path))
        except MemoryError:
            size, memory = path.stat().st_size, physical_memory()
            if memory is not None and size * 4 > memory:
                raise
            raise IndexFormatError(
                f"{path}: cannot read the index file: it asks for far more memory than its "
                f"{size:,} bytes can hold (a damaged size field)"
            ) from None
