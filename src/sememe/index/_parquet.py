"""Reading stored vectors from Parquet for :meth:`Index.from_parquet`, batch by batch.

A Parquet "path" is a file or a folder of part files (what Spark's ``write.parquet`` leaves,
``_SUCCESS`` and ``.crc`` files included; pyarrow's dataset reader skips those). Each batch
gives the texts, a float32 ``(n, dim)`` matrix from the ``list<float>`` vector column,
the ids and the metadata dicts, after checking the columns exist and have the right types.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_positive_int
from ..errors import InputError, InvalidArgumentError, InvalidTypeError, MissingDependencyError

Batch = tuple[list[str], np.ndarray, list[Any] | None, list[dict[str, Any]] | None]


def _column_names(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidTypeError(f"{name} must be a column name (str), got {value!r}")
    return value


def read_batches(
    path: str | os.PathLike[str],
    text: str,
    vector: str,
    id: str | None,
    metadata: Iterable[str] | None,
    dim: int,
    batch_rows: int,
) -> Iterator[Batch]:
    """``(texts, vectors, ids, metadata)`` per batch of at most ``batch_rows`` rows."""
    try:
        import pyarrow as pa
        import pyarrow.dataset as ds
    except ImportError:
        raise MissingDependencyError(
            "Index.from_parquet needs pyarrow: pip install 'sememe[spark]'"
        ) from None
    batch_rows = check_positive_int(batch_rows, "batch_rows")
    text = _column_names(text, "text")
    vector = _column_names(vector, "vector")
    if id is not None:
        id = _column_names(id, "id")
    meta_cols = [] if metadata is None else [_column_names(m, "metadata") for m in metadata]
    where = Path(path)
    if not where.exists():
        raise InputError(f"{where}: no such Parquet file or folder")
    try:
        data = ds.dataset(where, format="parquet")
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{where}: not readable as Parquet ({exc})") from None
    schema = data.schema
    wanted = [text, vector, *([id] if id else []), *meta_cols]
    missing = [c for c in wanted if c not in schema.names]
    if missing:
        raise InvalidArgumentError(f"{where}: no column(s) {missing} (columns: {schema.names})")
    if not pa.types.is_string(schema.field(text).type) and not pa.types.is_large_string(
        schema.field(text).type
    ):
        raise InvalidTypeError(
            f"{where}: column {text!r} is {schema.field(text).type}; expected string"
        )
    vtype = schema.field(vector).type
    if not (
        pa.types.is_list(vtype)
        or pa.types.is_large_list(vtype)
        or pa.types.is_fixed_size_list(vtype)
    ) or not pa.types.is_floating(vtype.value_type):
        raise InvalidTypeError(
            f"{where}: column {vector!r} is {vtype}; expected a list of floats (the vectors "
            "of sememe.spark.encode, not binary codes)"
        )
    for batch in data.to_batches(columns=wanted, batch_size=batch_rows):
        if not batch.num_rows:
            continue
        texts_col = batch.column(text)
        if texts_col.null_count:
            raise InvalidTypeError(f"{where}: column {text!r} has null values; expected str")
        vec = batch.column(vector)
        if vec.null_count:
            raise InvalidArgumentError(f"{where}: column {vector!r} has null vectors")
        lengths = np.asarray(vec.value_lengths()) if hasattr(vec, "value_lengths") else None
        if lengths is not None and (lengths != dim).any():
            bad = int(lengths[lengths != dim][0])
            raise InvalidArgumentError(
                f"{where}: column {vector!r} has a vector of {bad} values; the index's "
                f"encoder gives {dim}"
            )
        values = np.asarray(vec.flatten().to_numpy(zero_copy_only=False), np.float32)
        vectors = values.reshape(batch.num_rows, dim)
        ids = batch.column(id).to_pylist() if id else None
        meta = None
        if meta_cols:
            cols = {m: batch.column(m).to_pylist() for m in meta_cols}
            meta = [{m: cols[m][i] for m in meta_cols} for i in range(batch.num_rows)]
        yield texts_col.to_pylist(), vectors, ids, meta
