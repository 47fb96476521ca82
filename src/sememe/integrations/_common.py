"""What the adapters share: checking a list of another library's document objects."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidTypeError


def checked_list(documents: Any, kind: type, one: str, item: str) -> list[Any]:
    """``documents`` as a list whose items are all ``kind``, or an error naming the bad one.

    A lone ``str`` or ``kind`` instance is refused rather than iterated (``one`` says what
    to pass instead); ``item`` names what each item should be, and how to pass plain texts.
    """
    if isinstance(documents, (str, kind)):
        raise InvalidTypeError(f"documents is one {type(documents).__name__}; {one}")
    docs = list(documents)
    for i, d in enumerate(docs):
        if not isinstance(d, kind):
            raise InvalidTypeError(f"documents[{i}] is of type {type(d).__name__}; expected {item}")
    return docs
