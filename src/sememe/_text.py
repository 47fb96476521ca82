"""Validation and normalisation of text inputs shared by every module.

All public entry points accept a single ``str`` or any iterable of ``str`` (list,
tuple, generator, numpy array, pandas Series). These helpers turn that into
batches of plain ``str`` and raise an :class:`~sememe.errors.InvalidTypeError` (a
``TypeError``) naming the position of the first non-string, so a bad row in a
million-row file is easy to find.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from ._validate import check_positive_int
from .errors import InvalidTypeError

_SURROGATES = re.compile("[\ud800-\udfff]")

#: Replacement used for lone UTF-16 surrogates, which cannot be encoded as UTF-8.
REPLACEMENT_CHAR = "\ufffd"


def is_single_text(texts: Any) -> bool:
    """True when ``texts`` is one text rather than a collection of texts."""
    return isinstance(texts, str)


def _describe(value: Any) -> str:
    return "None" if value is None else f"of type {type(value).__name__}"


def check_texts(batch: list[Any], offset: int = 0, name: str = "texts") -> list[str]:
    """Return ``batch`` unchanged if every item is a ``str``, else raise TypeError.

    ``offset`` is the position of ``batch[0]`` in the caller's whole input, so the
    error names the global index.
    """
    for i, item in enumerate(batch):
        if not isinstance(item, str):
            raise InvalidTypeError(f"{name}[{offset + i}] is {_describe(item)}; expected str")
    return batch


def _refuse_unordered(texts: Any, name: str) -> None:
    """Containers whose iteration is not "the texts, in order": a mapping or a DataFrame
    iterates over its keys or column names, a set in no stable order."""
    if isinstance(texts, (Mapping, set, frozenset)) or hasattr(texts, "columns"):
        raise InvalidTypeError(
            f"{name} is {_describe(texts)}; pass a list of str (iterating it would give its "
            "keys or column names, or no fixed order)"
        )


def as_list(texts: Any, name: str = "texts") -> list[str]:
    """Materialise ``texts`` (a str or an iterable of str) as a validated list."""
    if isinstance(texts, str):
        return [texts]
    if texts is None:
        raise InvalidTypeError(f"{name} is None; expected a str or an iterable of str")
    if isinstance(texts, (bytes, bytearray)):  # iterating would give ints
        raise InvalidTypeError(f"{name} is {_describe(texts)}; decode it to str first")
    _refuse_unordered(texts, name)
    if hasattr(texts, "tolist") and not isinstance(texts, list):  # numpy, pandas
        texts = texts.tolist()
    try:
        items = list(texts)
    except TypeError:
        raise InvalidTypeError(
            f"{name} is {_describe(texts)}; expected a str or an iterable of str"
        ) from None
    return check_texts(items, 0, name)


def iter_batches(texts: Any, batch_size: int, name: str = "texts") -> Iterator[list[str]]:
    """Yield validated lists of at most ``batch_size`` texts, streaming generators."""
    check_positive_int(batch_size, "batch_size")
    if isinstance(texts, str):
        yield [texts]
        return
    if texts is None:
        raise InvalidTypeError(f"{name} is None; expected a str or an iterable of str")
    if isinstance(texts, (bytes, bytearray)):
        raise InvalidTypeError(f"{name} is {_describe(texts)}; decode it to str first")
    _refuse_unordered(texts, name)
    if isinstance(texts, list):
        for start in range(0, len(texts), batch_size):
            yield check_texts(texts[start : start + batch_size], start, name)
        return
    if hasattr(texts, "tolist"):
        texts = texts.tolist()
        yield from iter_batches(texts, batch_size, name)
        return
    if not isinstance(texts, Iterable):
        raise InvalidTypeError(
            f"{name} is {_describe(texts)}; expected a str or an iterable of str"
        )
    iterator = iter(texts)
    start = 0
    while True:
        batch = list(islice(iterator, batch_size))
        if not batch:
            return
        yield check_texts(batch, start, name)
        start += len(batch)


def replace_surrogates(text: str) -> str:
    """Replace lone surrogates by U+FFFD, keeping every other character in place.

    The result has the same length as ``text`` so character offsets still refer
    to the caller's original string.
    """
    return _SURROGATES.sub(REPLACEMENT_CHAR, text)
