"""Chunking for retrieval: split documents into pieces with exact offsets and hard size limits.

- :class:`SemanticChunker` cuts where the topic changes (similarity of neighbouring
  sentence windows, with the shared encoder), within ``max_tokens``.
- :class:`TokenChunker` fills fixed-size windows of whole words: the baseline.
- :class:`RecursiveChunker` cuts at the coarsest separator (paragraphs, lines, sentences,
  pauses, words, then tokens) that makes the pieces fit, and merges small pieces back.
- :class:`Chunk` is the result type of all three: ``text == source[start:end]``;
  :class:`DocumentChunk` adds the metadata of a chunked document (a LangChain
  ``Document``, or anything with ``page_content``).
- Every chunker is callable (``chunker(text)`` is ``chunker.chunk(text)``, a list gives
  a list of lists) and takes ``overlap=`` (tokens, or a fraction of ``max_tokens``).
- :func:`pk` and :func:`windowdiff` score a segmentation against a reference.
- :func:`chunks_html` (:func:`documents_html` for several) renders a document with its cut
  points as a self-contained HTML page (``sememe chunk --html``).

Example::

    from sememe import SemanticChunker
    chunks = SemanticChunker(max_tokens=256).chunk(open("notes.md").read())
    for c in chunks:
        print(c.index, c.start, c.end, c.n_tokens, c.text[:60])
"""

from __future__ import annotations

from ._documents import DocumentChunk
from ._html import chunks_html, documents_html
from .metrics import pk, windowdiff
from .recursive import DEFAULT_SEPARATORS, RecursiveChunker
from .semantic import SemanticChunker
from .token import TokenChunker
from .types import Chunk

__all__ = [
    "DEFAULT_SEPARATORS",
    "Chunk",
    "DocumentChunk",
    "RecursiveChunker",
    "SemanticChunker",
    "TokenChunker",
    "chunks_html",
    "documents_html",
    "pk",
    "windowdiff",
]
