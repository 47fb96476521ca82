"""Checks of the DataFrames and column names callers pass, and Arrow list helpers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..deduplication import RecordFieldError
from ..errors import InvalidArgumentError, InvalidTypeError


def check_dataframe(df: Any, name: str = "df") -> None:
    """``df`` must be a pyspark ``DataFrame``."""
    from pyspark.sql import DataFrame

    if not isinstance(df, DataFrame):
        raise InvalidTypeError(f"{name} must be a pyspark DataFrame, got {type(df).__name__}")


def check_text_column(df: Any, column: Any, name: str = "df") -> None:
    """``column`` must name a string column of ``df``."""
    from pyspark.sql.types import StringType

    if not isinstance(column, str):
        raise InvalidTypeError(f"column must be a column name (str), got {type(column).__name__}")
    if column not in df.columns:
        raise RecordFieldError(f"{name} has no column {column!r} (columns: {df.columns})")
    dtype = df.schema[column].dataType
    if not isinstance(dtype, StringType):
        raise InvalidTypeError(
            f"{name}[{column!r}] is of type {dtype.simpleString()}; expected string "
            f"(cast it: df.withColumn({column!r}, df[{column!r}].cast('string')))"
        )


def check_new_column(df: Any, column: Any, what: str) -> str:
    """``column`` must be a str not already in ``df`` (the name of a column to add)."""
    if not isinstance(column, str) or not column:
        raise InvalidTypeError(f"{what} must be a non-empty column name (str), got {column!r}")
    if column in df.columns:
        raise InvalidArgumentError(
            f"{what}={column!r}: the DataFrame already has a column of that name; pass "
            f"another {what}= or drop it first"
        )
    return column


def null_error(column: str, name: str = "df") -> InvalidTypeError:
    """The error for a null text."""
    return InvalidTypeError(
        f"{name}[{column!r}] has null values; expected str in every row (drop them with "
        f"df.na.drop(subset=[{column!r}]) or fill them with df.na.fill('', [{column!r}]))"
    )


def check_no_nulls(df: Any, column: str, name: str = "df") -> None:
    """Raise :func:`null_error` when ``column`` holds a null (one scan of the column)."""
    if df.where(df[column].isNull()).limit(1).count():
        raise null_error(column, name)


def list_array(vectors: np.ndarray) -> Any:
    """A pyarrow ``list<float>`` array of the rows of a float32 matrix (no Python loop)."""
    import pyarrow as pa

    n, dim = vectors.shape
    values = pa.array(np.ascontiguousarray(vectors, np.float32).ravel(), pa.float32())
    offsets = pa.array(np.arange(0, n * dim + 1, dim, dtype=np.int32), pa.int32())
    return pa.ListArray.from_arrays(offsets, values)


def packed_array(vectors: np.ndarray, valid: np.ndarray | None = None) -> Any:
    """A pyarrow ``binary`` array holding each row of a float32 matrix as its raw bytes.

    :func:`sememe.spark.dedupe` moves its vectors in this form between its own steps: the JVM
    copies a binary value as one block, while an ``array<float>`` value is converted element
    by element at every Arrow/row boundary (most of the JVM's CPU time before). ``valid``
    (bool per row) marks null rows; their bytes are still stored (dedupe passes zeros), so every
    value has the same length and :func:`packed_matrix` reads them back without a loop.
    """
    import pyarrow as pa

    n, dim = vectors.shape
    data = np.ascontiguousarray(vectors, np.float32).tobytes()
    offsets = np.arange(0, n * dim * 4 + 1, dim * 4, dtype=np.int32)
    mask = None
    if valid is not None and not bool(np.all(valid)):
        mask = pa.py_buffer(np.packbits(np.asarray(valid, bool), bitorder="little").tobytes())
    return pa.Array.from_buffers(
        pa.binary(), n, [mask, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)]
    )


def packed_matrix(array: Any, dim: int) -> np.ndarray:
    """The float32 ``(n, dim)`` matrix of a ``binary`` array of :func:`packed_array` values.

    Every value must be ``4 * dim`` bytes (a value of another length is a bug upstream:
    :class:`ValueError`).
    """
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    n = len(array)
    if n == 0:
        return np.zeros((0, dim), np.float32)
    wide = pa.types.is_large_binary(array.type)
    offsets = np.frombuffer(array.buffers()[1], np.int64 if wide else np.int32)
    offsets = offsets[array.offset : array.offset + n + 1]
    width = 4 * dim
    if not np.all(np.diff(offsets) == width):
        raise ValueError(f"packed vectors must be {width} bytes each")
    data = np.frombuffer(array.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    return data.view(np.float32).reshape(n, dim).copy()
