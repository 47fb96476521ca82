"""Records in: the text of each record, and the form texts are compared in.

:func:`texts_of` turns what a caller passes (texts, dicts, anything with a ``key``
callable, a pandas, polars or pyarrow column or frame) into a list of texts plus the
container kept records are selected from (:func:`select_records` takes them in its own type); :func:`normalize_text` is the form in which texts are
compared for exact duplicates, and :func:`group` gathers equal keys into *items*.
Writing records back to files is :mod:`sememe.records`' job (``write_records`` and
``RecordWriter``, re-exported by :mod:`sememe.deduplication` under their old names).
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .. import _inputs
from ..errors import InvalidArgumentError, InvalidTypeError

Key = str | Callable[[Any], str] | None


def normalize_text(text: str) -> str:
    """The form in which texts are compared for exact duplicates.

    Unicode NFKC (so full-width and compatibility characters match their plain
    forms), case-folded, with every run of whitespace turned into one space and none
    at the ends. ``"Hello,  World"`` and ``"hello, world\\n"`` are exact duplicates;
    punctuation and digits still count.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


# ---------------------------------------------------------------------- records in


class RecordFieldError(InvalidArgumentError, KeyError):
    """A record (or DataFrame) lacks the field ``key`` names; also a ``KeyError``."""

    __str__ = Exception.__str__  # KeyError would quote the message


def _describe(value: Any) -> str:
    return _inputs.describe(value)


def check_texts(items: list[Any], name: str) -> list[str]:
    """``items`` if every one is a ``str``, else :class:`InvalidTypeError` naming the first
    that is not (``records[3] is None; expected str``)."""
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidTypeError(f"{name}[{i}] is {_describe(item)}; expected str")
    return items


def check_key(key: Any) -> Key:
    """``key`` must be None, a field name or a callable."""
    if key is not None and not isinstance(key, str) and not callable(key):
        raise InvalidTypeError(
            f"key must be None, a field name (str) or a callable returning the text, got "
            f"{key!r} ({type(key).__name__})"
        )
    return key


def _frame_kind(records: Any) -> str | None:
    """``"pandas DataFrame"``, ``"polars DataFrame"``, ``"pyarrow Table"`` or ``"pyarrow
    RecordBatch"`` for a frame of records (rows with named columns), else None."""
    if _inputs.is_instance(records, "pandas", "DataFrame"):
        return "pandas DataFrame"
    if _inputs.is_instance(records, "polars", "DataFrame"):
        return "polars DataFrame"
    if _inputs.is_instance(records, "pyarrow", "Table", "RecordBatch"):
        return f"pyarrow {type(records).__name__}"
    return None


def _frame_texts(frame: Any, kind: str, key: Key, name: str) -> list[str]:
    """The texts of a frame's text column: ``key`` names it, or the frame has only one.

    A frame with several columns and no ``key`` is refused naming them (never a silent
    first column); a callable ``key`` is refused (a frame's rows are not objects to call
    it on: name the column instead).
    """
    columns = list(frame.column_names if kind.startswith("pyarrow") else frame.columns)
    if callable(key):
        raise InvalidTypeError(
            f"{name} is a {kind}; pass key=<column name> to say which column holds the text "
            "(a callable key is for lists of records)"
        )
    if key is None:
        if len(columns) != 1:
            shown = ", ".join(repr(c) for c in columns[:5]) + (", ..." if len(columns) > 5 else "")
            raise InvalidTypeError(
                f"{name} is a {kind} with {len(columns)} columns ({shown or 'none'}); pass "
                "key=<column name> to say which column holds the text"
            )
        pos, label = 0, columns[0]
    elif key in columns:
        pos, label = columns.index(key), key
    else:
        raise RecordFieldError(f"{name} has no column {key!r} (columns: {columns})")
    if kind == "pandas DataFrame":
        values = frame.iloc[:, pos].tolist()
    elif kind == "polars DataFrame":
        values = frame.to_series(pos).to_list()
    else:
        values = frame.column(pos).to_pylist()
    return check_texts(values, f"{name}[{label!r}]")


def texts_of(records: Any, key: Key = None, name: str = "records") -> tuple[list[str], Any]:
    """The text of each record, and the container to select kept records from.

    ``records`` may be a list (or any iterable) of str, of dicts (text under ``key``,
    default ``"text"``) or of anything ``key`` (a callable) turns into text; a column of
    texts (a numpy array, a pandas or polars Series, a pyarrow Array or ChunkedArray); or
    a frame (a pandas or polars DataFrame, a pyarrow Table or RecordBatch) whose text
    column ``key`` names (not needed when the frame has one column). Kept records are
    selected from columns and frames in their own type (:func:`select_records`).
    """
    key = check_key(key)
    if records is None:
        raise InvalidTypeError(f"{name} is None; expected a list of texts or records")
    if isinstance(records, dict):
        raise InvalidTypeError(
            f"{name} is a dict; pass a list of texts or records (e.g. list(d.values())), "
            "not a mapping (its keys would be taken as the texts)"
        )
    if isinstance(records, (str, bytes)):
        raise InvalidTypeError(
            f"{name} is a single {type(records).__name__}; pass a list of texts (e.g. [text]) to deduplicate"
        )
    kind = _frame_kind(records)
    if kind is not None:
        return _frame_texts(records, kind, key, name), records
    column = _inputs.columnar(records, name)  # polars Series, pyarrow arrays; LazyFrame refused
    container: Any
    if column is not None:
        items, container = column, records
    elif hasattr(records, "iloc") and hasattr(records, "tolist"):  # pandas Series
        items = records.tolist()
        container = records
    elif hasattr(records, "tolist") and not isinstance(records, list):  # numpy
        items = records.tolist()
        container = items
    elif hasattr(records, "columns"):  # another library's frame: iterating gives column names
        raise InvalidTypeError(
            f"{name} is of type {type(records).__name__}; pass a list of texts or records, or "
            "a pandas, polars or pyarrow frame with key=<column name>"
        )
    else:
        try:
            items = list(records)
        except TypeError:
            raise InvalidTypeError(
                f"{name} is {type(records).__name__}; expected a list of texts or records"
            ) from None
        container = items
    if key is None and not any(isinstance(x, dict) for x in items[:1]):
        return check_texts(items, name), container
    texts = []
    field = "text" if key is None else key
    for i, item in enumerate(items):
        if callable(field):
            text = field(item)
            where = f"key({name}[{i}])"
        else:
            if not isinstance(item, dict):
                raise InvalidTypeError(
                    f"{name}[{i}] is {type(item).__name__}; expected a dict with field {field!r}"
                )
            if field not in item:
                raise RecordFieldError(
                    f"{name}[{i}] has no field {field!r} (fields: {sorted(item)}); pass key=..."
                )
            text = item[field]
            where = f"{name}[{i}][{field!r}]"
        if not isinstance(text, str):
            raise InvalidTypeError(f"{where} is {_describe(text)}; expected str")
        texts.append(text)
    return texts, container


def _is_columnar(container: Any) -> bool:
    """A polars Series/DataFrame or a pyarrow Array/ChunkedArray/Table/RecordBatch."""
    return _inputs.is_instance(container, "polars", "Series", "DataFrame") or _inputs.is_instance(
        container, "pyarrow", "Array", "ChunkedArray", "Table", "RecordBatch"
    )


def select_records(container: Any, positions: Sequence[int] | np.ndarray) -> Any:
    """The records of ``container`` (from :func:`texts_of`) at ``positions``, in its type.

    A pandas object gives its ``.iloc`` rows (index kept), a polars Series or DataFrame
    its rows, a pyarrow Array, ChunkedArray, Table or RecordBatch its ``take``; anything
    else (a list) a list.
    """
    rows = np.asarray(positions, dtype=np.int64).reshape(-1)
    if hasattr(container, "iloc"):
        return container.iloc[rows]
    if _inputs.is_instance(container, "polars", "Series"):
        return container.gather(rows)
    if _inputs.is_instance(container, "polars", "DataFrame"):
        return container[rows]
    if _is_columnar(container):  # pyarrow
        return container.take(rows)
    return [container[i] for i in rows.tolist()]


def _row_count(records: Any) -> int | None:
    """The number of rows of a frame or column :func:`select_records` slices, else None."""
    if hasattr(records, "iloc"):  # pandas
        return len(records)
    if _is_columnar(records):  # polars and pyarrow: all have len() and slice(offset, length)
        return len(records)
    return None


def iter_record_batches(records: Any, batch_size: int) -> Iterator[Any]:
    """``records`` in batches of at most ``batch_size`` rows for a stream.

    A pandas, polars or pyarrow frame or column is sliced by rows in its own type (so a
    batch's kept records come back in that type, and a frame's rows, not its column
    names, are the records); anything else is iterated lazily into lists.
    """
    if isinstance(records, (str, bytes, dict)):
        yield records  # texts_of's error for a single text or a mapping
        return
    if _inputs.is_instance(records, "polars", "LazyFrame"):
        raise InvalidTypeError("records is a polars LazyFrame; collect() it first")
    n = _row_count(records)
    if n is not None:
        for start in range(0, n, batch_size):
            if hasattr(records, "iloc"):
                yield records.iloc[start : start + batch_size]
            else:
                yield records.slice(start, min(batch_size, n - start))
        return
    if hasattr(records, "columns"):  # another library's frame: texts_of's error
        yield records
        return
    try:
        it = iter(records)
    except TypeError:
        raise InvalidTypeError(
            f"records is {type(records).__name__}; expected an iterable of texts or records"
        ) from None
    while batch := list(itertools.islice(it, batch_size)):
        yield batch


def plain_rows(selected: Any) -> Any:
    """Records selected by :func:`select_records` as plain Python rows for writing to a file: dicts
    for a frame's rows, values for a column's; a list stays as it is."""
    if hasattr(selected, "iloc"):  # pandas
        return selected.to_dict("records") if hasattr(selected, "columns") else selected.tolist()
    if _inputs.is_instance(selected, "polars", "DataFrame"):
        return selected.to_dicts()
    if _inputs.is_instance(selected, "polars", "Series"):
        return selected.to_list()
    if _is_columnar(selected):  # pyarrow: Table/RecordBatch rows are dicts
        return selected.to_pylist()
    return selected


def group(keys: Sequence[str], rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items of equal keys: the representative (best rank) of each, and each record's item."""
    ids: dict[str, int] = {}
    item_of = np.fromiter((ids.setdefault(k, len(ids)) for k in keys), np.int64, len(keys))
    rep = np.full(len(ids), -1, np.int64)
    order = np.argsort(rank, kind="stable")[::-1]  # worst first, so the best write wins
    rep[item_of[order]] = order
    return rep, item_of
