"""Records in: the text of each record, and the form texts are compared in.

:func:`texts_of` turns what a caller passes (texts, dicts, anything with a ``key``
callable, a pandas Series or DataFrame) into a list of texts plus the container kept
records are selected from; :func:`normalize_text` is the form in which texts are
compared for exact duplicates, and :func:`group` gathers equal keys into *items*.
Writing records back to files is :mod:`sememe.records`' job (``write_records`` and
``RecordWriter``, re-exported by :mod:`sememe.deduplication` under their old names).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

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
    return "None" if value is None else f"of type {type(value).__name__}"


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


def texts_of(records: Any, key: Key = None, name: str = "records") -> tuple[list[str], Any]:
    """The text of each record, and the container to select kept records from.

    ``records`` may be a list (or any iterable) of str, of dicts (text under ``key``,
    default ``"text"``) or of anything ``key`` (a callable) turns into text; a
    pandas Series; or a pandas DataFrame with ``key`` naming the text column.
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
    if hasattr(records, "columns") and hasattr(records, "iloc"):  # pandas DataFrame
        if not isinstance(key, str):
            raise InvalidTypeError(
                f"{name} is a DataFrame; pass key=<column name> to say which column holds the text"
            )
        if key not in records.columns:
            raise RecordFieldError(
                f"{name} has no column {key!r} (columns: {list(records.columns)})"
            )
        return check_texts(records[key].tolist(), f"{name}[{key!r}]"), records
    if hasattr(records, "iloc") and hasattr(records, "tolist"):  # pandas Series
        items = records.tolist()
        container: Any = records
    elif hasattr(records, "tolist") and not isinstance(records, list):  # numpy
        items = records.tolist()
        container = items
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
            what = "None" if text is None else f"of type {type(text).__name__}"
            raise InvalidTypeError(f"{where} is {what}; expected str")
        texts.append(text)
    return texts, container


def group(keys: Sequence[str], rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items of equal keys: the representative (best rank) of each, and each record's item."""
    ids: dict[str, int] = {}
    item_of = np.fromiter((ids.setdefault(k, len(ids)) for k in keys), np.int64, len(keys))
    rep = np.full(len(ids), -1, np.int64)
    order = np.argsort(rank, kind="stable")[::-1]  # worst first, so the best write wins
    rep[item_of[order]] = order
    return rep, item_of
