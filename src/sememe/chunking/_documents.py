"""Documents as chunker input: a LangChain ``Document`` (or anything with ``page_content``).

A chunker given a document chunks its text and copies its ``metadata`` onto every
chunk, so the source, page and the like travel with each piece (as LangChain's
splitters do). The chunk type is :class:`DocumentChunk`: a :class:`~sememe.chunking.Chunk`
with a ``metadata`` dict; offsets are into ``document.page_content``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidTypeError
from .types import Chunk


@dataclass(frozen=True, slots=True, repr=False)
class DocumentChunk(Chunk):
    """A :class:`~sememe.chunking.Chunk` of a document, with the document's metadata.

    ``text == document.page_content[start:end]``. ``metadata`` is a copy of the
    document's metadata (a new dict per chunk: changing one chunk's metadata leaves the
    document and the other chunks alone).
    """

    metadata: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        base = Chunk.__repr__(self)
        return f"Document{base[:-1]}, metadata={self.metadata!r})"


def is_document(value: Any) -> bool:
    """True for a document-like object: not a str, with a ``page_content`` attribute."""
    return not isinstance(value, str) and hasattr(value, "page_content")


def split_document(value: Any, name: str = "text") -> tuple[str, dict[str, Any]]:
    """A document's text and a copy of its metadata (``{}`` when it has none).

    Raises :class:`~sememe.errors.InvalidTypeError` when ``page_content`` is not a str
    or ``metadata`` is neither None nor a mapping.
    """
    content = value.page_content
    if not isinstance(content, str):
        what = "None" if content is None else f"of type {type(content).__name__}"
        raise InvalidTypeError(f"{name}.page_content is {what}; expected str")
    metadata = getattr(value, "metadata", None)
    if metadata is None:
        return content, {}
    if not isinstance(metadata, Mapping):
        raise InvalidTypeError(
            f"{name}.metadata is of type {type(metadata).__name__}; expected a mapping or None"
        )
    return content, dict(metadata)


def with_metadata(chunks: list[Chunk], metadata: dict[str, Any]) -> list[DocumentChunk]:
    """``chunks`` as :class:`DocumentChunk` objects, each with its own copy of ``metadata``."""
    return [
        DocumentChunk(c.text, c.start, c.end, c.n_tokens, c.index, dict(metadata)) for c in chunks
    ]


def split_items(items: list[Any]) -> tuple[list[Any], list[Any]]:
    """Items (str or documents) as their contents and metadata (None for a plain str).

    The contents are not checked here: the callers check them as they need.
    """
    texts: list[Any] = []
    metas: list[Any] = []
    for item in items:
        if is_document(item):
            content, metadata = split_document(item)
        else:
            content, metadata = item, None
        texts.append(content)
        metas.append(metadata)
    return texts, metas
