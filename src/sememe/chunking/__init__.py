"""Chunking for retrieval: split documents into pieces with exact offsets and hard size limits.

- :class:`SemanticChunker` cuts where the topic changes (similarity of neighbouring
  sentence windows, with the shared encoder), within ``max_tokens``.
- :class:`TokenChunker` fills fixed-size windows of whole words: the baseline.
- :class:`Chunk` is the result type of both: ``text == source[start:end]``.
- :func:`pk` and :func:`windowdiff` score a segmentation against a reference.

Example::

    from sememe import SemanticChunker
    chunks = SemanticChunker(max_tokens=256).chunk(open("notes.md").read())
    for c in chunks:
        print(c.index, c.start, c.end, c.n_tokens, c.text[:60])
"""

from __future__ import annotations

from .metrics import pk, windowdiff
from .semantic import SemanticChunker
from .token import TokenChunker
from .types import Chunk

__all__ = ["Chunk", "SemanticChunker", "TokenChunker", "pk", "windowdiff"]
