"""``sememe.spark.encode``: a vector column for a DataFrame's texts, computed on the executors.

One ``mapInArrow`` pass: each Arrow batch of the partition is encoded with the worker's
cached encoder (:mod:`._model`) and gets one more column. The vectors are what
:meth:`Encoder.encode` gives locally for the same texts (same code, same float32 table), so
they equal the local ones exactly; ``binary=True`` gives :meth:`Encoder.encode_binary`'s
packed sign bits instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_positive_int
from ..encoder import Encoder, single_threaded
from ..errors import InvalidArgumentError, InvalidTypeError
from ._frames import check_dataframe, check_new_column, check_text_column, list_array, null_error
from ._model import ModelSpec, model_spec
from ._session import require_pyspark


def _encode_batches(
    batches: Iterator[Any], spec: ModelSpec, column: str, dim: int, binary: bool, output: str
) -> Iterator[Any]:
    """Worker side: append the vector (or code) column to each Arrow batch."""
    import pyarrow as pa

    enc = spec.load()
    for batch in batches:
        texts = batch.column(column)
        if texts.null_count:
            raise null_error(column)
        items = texts.to_pylist()
        if binary:
            with single_threaded():
                codes = (
                    enc.encode_binary(items, dim=dim)
                    if items
                    else np.zeros((0, dim // 8), np.uint8)
                )
            arr = pa.array([c.tobytes() for c in codes], pa.binary())
        else:
            # One Python worker per core already: no pooling thread (docs/spark.md).
            with single_threaded():
                vectors = enc.encode(items, dim=dim) if items else np.zeros((0, dim), np.float32)
            arr = list_array(vectors)
        yield pa.RecordBatch.from_arrays([*batch.columns, arr], [*batch.schema.names, output])


def encode(
    df: Any,
    column: str = "text",
    *,
    model: Encoder | str | Path | None = None,
    output: str = "embedding",
    dim: int | None = None,
    binary: bool = False,
) -> Any:
    """``df`` with one more column: the vector of each row's text, computed on the executors.

    Parameters
    ----------
    df:
        A pyspark DataFrame.
    column:
        The string column to encode. A null text fails the job with
        :class:`~sememe.errors.InvalidTypeError`'s message (drop or fill nulls first).
    model:
        ``None`` (the bundled model), a registered model name, a model folder path (which
        must exist at that path on every executor), or an :class:`~sememe.Encoder` (sent to
        the executors once, as a broadcast variable).
    output:
        Name of the new column; it must not exist yet.
    dim:
        Output dimensions (Matryoshka truncation), default the model's.
    binary:
        ``False``: ``array<float>`` vectors, equal to ``Encoder.encode`` (the model's
        normalisation). ``True``: ``binary`` packed sign bits, ``dim // 8`` bytes, equal to
        ``Encoder.encode_binary``.

    Notes
    -----
    The transformation is lazy, like any DataFrame transformation: nothing runs until an
    action (``write``, ``count``, ...).
    """
    require_pyspark()
    from pyspark.sql import SparkSession
    from pyspark.sql.types import ArrayType, BinaryType, FloatType, StructField, StructType

    check_dataframe(df)
    check_text_column(df, column)
    check_new_column(df, output, "output")
    if not isinstance(binary, bool):
        raise InvalidTypeError(f"binary must be True or False, got {binary!r}")
    spark = SparkSession.getActiveSession() or df.sparkSession
    spec, enc = model_spec(spark, model)
    dim = enc.dim if dim is None else check_positive_int(dim, "dim")
    if dim > enc.full_dim:
        raise InvalidArgumentError(f"dim={dim} exceeds the model's {enc.full_dim} dimensions")
    if binary and dim % 8:
        raise InvalidArgumentError(f"binary codes need dim to be a multiple of 8, got {dim}")
    kind = BinaryType() if binary else ArrayType(FloatType(), containsNull=False)
    schema = StructType([*df.schema.fields, StructField(output, kind, nullable=False)])

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        return _encode_batches(batches, spec, column, dim, binary, output)

    return df.mapInArrow(run, schema)
