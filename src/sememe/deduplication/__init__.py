"""Deduplication: remove exact and near duplicates from a corpus, and say why.

    from sememe import dedupe
    result = dedupe(texts, threshold=0.9)
    clean = result.deduplicated
    print(result.explain(17))

Exact duplicates (equal after :func:`normalize_text`) are found by hashing; near
duplicates by cosine similarity of the shared encoder's vectors, with a cell-based
candidate search and exact verification (``_search``). Records are visited in
``keep`` order and a record is removed only when a *kept* record is within the
threshold (no chaining). Texts the model barely covers (Korean under an English model)
are compared by character 3-grams instead of vectors (``_coverage``).
:class:`Deduplicator` does the same for a stream, batch by batch, and can be saved to an
atomic, checksummed folder and resumed (``_state``).

Files: ``_core`` (the pipeline, :func:`dedupe`, :class:`Deduplicator`), ``_result``
(:class:`DedupeResult`, the decision rule), ``_search`` (finding similar pairs),
``_coverage`` (uncovered texts and 3-gram similarity), ``_state`` (saved state).
"""

from __future__ import annotations

from ._core import DedupeStateError, Deduplicator, dedupe, normalize_text, texts_of
from ._result import DedupeResult, Duplicate

__all__ = [
    "DedupeResult",
    "DedupeStateError",
    "Deduplicator",
    "Duplicate",
    "dedupe",
    "normalize_text",
    "texts_of",
]
