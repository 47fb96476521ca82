"""What the adapters share: checking a list of another library's document objects."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidArgumentError, InvalidTypeError


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


def resolve_chunker(chunker: Any, encoder: Any, max_tokens: int | None) -> Any:
    """The adapters' chunker: ``chunker`` checked, or a default ``SemanticChunker``.

    ``encoder`` and ``max_tokens`` configure only the default (512 tokens unless given);
    passing them beside ``chunker`` is an error rather than silently ignored.
    """
    if chunker is None:
        from ..chunking import SemanticChunker

        return SemanticChunker(encoder, max_tokens=512 if max_tokens is None else max_tokens)
    if encoder is not None or max_tokens is not None:
        raise InvalidArgumentError(
            "encoder= and max_tokens= configure the default chunker; with chunker= set "
            "them on that chunker instead"
        )
    if not callable(getattr(chunker, "chunk", None)):
        raise InvalidTypeError(
            f"chunker must be a sememe chunker (with a chunk(text) method), got "
            f"{type(chunker).__name__}"
        )
    return chunker
