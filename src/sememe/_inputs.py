"""What users pass as "texts", turned into plain lists of ``str``.

Every public entry point accepts one ``str`` or a collection of them: a list, tuple or
generator, a numpy array, a pandas ``Series``/``Index`` or one-column ``DataFrame``, a
polars ``Series`` or one-column ``DataFrame``, a pyarrow ``Array``, ``ChunkedArray`` or
one-column ``Table``/``RecordBatch``. These helpers turn any of them into batches of plain
``str`` and refuse everything else with an :class:`~sememe.errors.InvalidTypeError` (a
``TypeError``) or :class:`~sememe.errors.InvalidArgumentError` (a ``ValueError``) that
names the position of the first bad item or the fix:

* a frame with several columns is refused, naming its columns, instead of silently using
  the first one (``texts['body']`` picks one);
* a missing value (``None``, ``NaN``, ``pd.NA``, a polars or arrow null) is refused with
  its position, so a bad row in a million-row file is easy to find;
* mappings and sets (whose iteration is keys or no fixed order), bytes and 2-D arrays
  are refused with the reason.

pandas, polars and pyarrow are never imported here: an object can only be one of theirs
when its library is already imported, so the checks look the classes up in
``sys.modules``.
"""

from __future__ import annotations

import math
import operator
import sys
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice, repeat
from typing import Any

from ._validate import check_positive_int
from .errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "as_list",
    "check_texts",
    "columnar",
    "describe",
    "is_instance",
    "is_single_text",
    "iter_batches",
]


def is_single_text(texts: Any) -> bool:
    """True when ``texts`` is one text rather than a collection of texts."""
    return isinstance(texts, str)


def describe(value: Any) -> str:
    """How an error message names a bad item: ``None``, a missing value, or its type."""
    if value is None:
        return "None"
    if isinstance(value, float) and math.isnan(value):
        return "NaN (a missing value)"
    if type(value).__name__ in ("NAType", "NaTType"):  # pandas' pd.NA and pd.NaT
        return f"{value} (a missing value)"
    return f"of type {type(value).__name__}"


def check_texts(batch: list[Any], offset: int = 0, name: str = "texts") -> list[str]:
    """Return ``batch`` unchanged if every item is a ``str``, else raise InvalidTypeError.

    ``offset`` is the position of ``batch[0]`` in the caller's whole input, so the
    error names the global index.
    """
    # The usual case, checked in C: every item's type *is* str (identity, not equality or
    # hashing, which a type's metaclass defines and may make raise or pretend to be str;
    # subclasses of str take the loop).
    if all(map(operator.is_, map(type, batch), repeat(str))):
        return batch
    for i, item in enumerate(batch):
        if not isinstance(item, str):
            raise InvalidTypeError(f"{name}[{offset + i}] is {describe(item)}; expected str")
    return batch


def is_instance(obj: Any, module: str, *classes: str) -> bool:
    """``isinstance(obj, module.<one of classes>)``, without importing ``module``."""
    mod = sys.modules.get(module)
    if mod is None:
        return False
    types = tuple(t for t in (getattr(mod, c, None) for c in classes) if isinstance(t, type))
    return bool(types) and isinstance(obj, types)


def is_frame(obj: Any) -> bool:
    """Whether ``obj`` is a pandas or polars DataFrame or a pyarrow Table/RecordBatch."""
    return (
        is_instance(obj, "pandas", "DataFrame")
        or is_instance(obj, "polars", "DataFrame")
        or is_instance(obj, "pyarrow", "Table", "RecordBatch")
    )


def has_text_columns(frame: Any) -> bool:
    """Whether a frame (:func:`is_frame`) is not all numeric columns: it holds texts (or
    other values), not vectors. A frame with no columns counts as texts, so that it gets
    the "no columns" error of texts rather than a vector shape error."""
    if is_instance(frame, "pyarrow", "Table", "RecordBatch"):
        import pyarrow as pa  # in sys.modules: frame is one of its objects

        numeric = [pa.types.is_integer(t) or pa.types.is_floating(t) for t in frame.schema.types]
    elif is_instance(frame, "polars", "DataFrame"):
        numeric = [dt.is_numeric() for dt in frame.dtypes]
    else:  # pandas
        numeric = [getattr(dt, "kind", "O") in "biuf" for dt in frame.dtypes]
    return not numeric or not all(numeric)


def _one_column(frame: Any, columns: list[Any], kind: str, name: str) -> int:
    """The position of a frame's only column, or an error naming its columns and the fix."""
    if len(columns) == 1:
        return 0
    if not columns:
        raise InvalidArgumentError(f"{name} is a {kind} with no columns; expected texts")
    shown = ", ".join(repr(c) for c in columns[:5]) + (", ..." if len(columns) > 5 else "")
    raise InvalidArgumentError(
        f"{name} is a {kind} with {len(columns)} columns ({shown}); pass the one column of "
        f"texts, e.g. {name}[{columns[0]!r}]"
    )


def columnar(texts: Any, name: str = "texts") -> list[Any] | None:
    """The values of a pandas, polars or pyarrow column-like object as a Python list.

    One-column frames give their column; a frame with several columns is an error (never
    a silent first column). Returns None for anything that is not such an object. The
    values are not checked here (nulls come back as None or NaN for :func:`check_texts`).
    """
    if is_instance(texts, "pandas", "DataFrame"):
        pos = _one_column(texts, list(texts.columns), "pandas DataFrame", name)
        return texts.iloc[:, pos].tolist()
    if is_instance(texts, "polars", "DataFrame"):
        pos = _one_column(texts, list(texts.columns), "polars DataFrame", name)
        return texts.to_series(pos).to_list()
    if is_instance(texts, "polars", "LazyFrame"):
        raise InvalidTypeError(
            f"{name} is a polars LazyFrame; collect() it and pass the column of texts"
        )
    if is_instance(texts, "polars", "Series"):
        return texts.to_list()
    if is_instance(texts, "pyarrow", "Table", "RecordBatch"):
        kind = f"pyarrow {type(texts).__name__}"
        pos = _one_column(texts, list(texts.column_names), kind, name)
        return texts.column(pos).to_pylist()
    if is_instance(texts, "pyarrow", "Array", "ChunkedArray"):
        return texts.to_pylist()
    return None


def _refuse_unordered(texts: Any, name: str) -> None:
    """Containers whose iteration is not "the texts, in order": a mapping or another
    frame-like object iterates over its keys or column names, a set in no stable order."""
    if isinstance(texts, (Mapping, set, frozenset)) or hasattr(texts, "columns"):
        raise InvalidTypeError(
            f"{name} is {describe(texts)}; pass a list of str (iterating it would give its "
            "keys or column names, or no fixed order)"
        )


def _refuse_scalars(texts: Any, name: str) -> None:
    """None and bytes are not collections of texts (iterating bytes would give ints)."""
    if texts is None:
        raise InvalidTypeError(f"{name} is None; expected a str or an iterable of str")
    if isinstance(texts, (bytes, bytearray)):
        raise InvalidTypeError(f"{name} is {describe(texts)}; decode it to str first")


def _array_values(texts: Any, name: str) -> list[Any]:
    """``texts.tolist()`` of a numpy array, pandas Series or Index; 1-D only."""
    ndim = getattr(texts, "ndim", 1)
    if isinstance(ndim, int) and ndim > 1:
        shape = getattr(texts, "shape", None)
        raise InvalidArgumentError(
            f"{name} is a {ndim}-D array of shape {shape}; expected a 1-D sequence of texts"
        )
    values = texts.tolist()
    return values if isinstance(values, list) else [values]


def as_list(texts: Any, name: str = "texts") -> list[str]:
    """Materialise ``texts`` (a str or a collection of str, see the module) as a checked list."""
    if isinstance(texts, str):
        return [texts]
    _refuse_scalars(texts, name)
    items = columnar(texts, name)
    if items is None:
        _refuse_unordered(texts, name)
        if hasattr(texts, "tolist") and not isinstance(texts, list):  # numpy, pandas
            items = _array_values(texts, name)
        else:
            try:
                items = list(texts)
            except TypeError:
                raise InvalidTypeError(
                    f"{name} is {describe(texts)}; expected a str or an iterable of str"
                ) from None
    return check_texts(items, 0, name)


def iter_batches(texts: Any, batch_size: int, name: str = "texts") -> Iterator[list[str]]:
    """Yield checked lists of at most ``batch_size`` texts, streaming generators."""
    check_positive_int(batch_size, "batch_size")
    if isinstance(texts, str):
        yield [texts]
        return
    _refuse_scalars(texts, name)
    items = columnar(texts, name)
    if items is None:
        _refuse_unordered(texts, name)
        if hasattr(texts, "tolist") and not isinstance(texts, list):
            items = _array_values(texts, name)
        elif isinstance(texts, list):
            items = texts
    if items is not None:
        for start in range(0, len(items), batch_size):
            yield check_texts(items[start : start + batch_size], start, name)
        return
    if not isinstance(texts, Iterable):
        raise InvalidTypeError(f"{name} is {describe(texts)}; expected a str or an iterable of str")
    iterator = iter(texts)
    start = 0
    while True:
        batch = list(islice(iterator, batch_size))
        if not batch:
            return
        yield check_texts(batch, start, name)
        start += len(batch)
