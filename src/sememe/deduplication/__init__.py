"""Deduplication: remove exact and near duplicates from a corpus, and say why.

    from sememe import dedupe
    result = dedupe(texts, threshold=0.9)
    clean = result.deduplicated
    print(result.explain(17))

Exact duplicates (equal after :func:`normalize_text`) are found by hashing; near
duplicates by cosine similarity of the shared encoder's vectors, with a cell-based
(FAISS-style inverted file) candidate search and exact verification. Records are visited
in ``keep`` order and a record is removed only when a *kept* record is within the
threshold (no chaining). Texts the model barely covers (Korean under an English model)
are compared by character 3-grams instead of vectors. :class:`Deduplicator` does the same
for a stream, batch by batch (:meth:`Deduplicator.stream` for an iterable of records), and
can be saved to an atomic, checksummed folder and resumed.

Where each piece lives:

* ``_pipeline``: :func:`dedupe`, the steps of one call (group exact texts, encode, find
  pairs, decide), the ``target_size`` search;
* ``_records``: records in: :func:`texts_of`, :func:`normalize_text`, exact-text
  grouping (:func:`write_records` and :class:`RecordWriter` are :mod:`sememe.records`',
  re-exported here);
* ``_references``: what ``against=`` can be (records, an :class:`~sememe.Index`, a
  :class:`Deduplicator`), one adapter each;
* ``_stream``: :class:`Deduplicator`, the streaming state and its batches;
* ``_state``: the saved-state folder format of a :class:`Deduplicator`;
* ``_result``: :class:`DedupeResult`, :class:`Duplicate`, the decision rule;
* ``_search``: finding similar pairs (:class:`~._search.CellIndex`; ``search``, ``nlist``,
  ``nprobe`` in FAISS's vocabulary);
* ``_encoding``: the model and the vectors the search compares;
* ``_coverage``: uncovered texts and 3-gram similarity.
"""

from __future__ import annotations

from ..records import RecordWriter, write_records
from ._pipeline import dedupe
from ._records import RecordFieldError, normalize_text, select_records, texts_of
from ._result import DedupeResult, Duplicate, check_threshold
from ._search import SEARCH_MODES
from ._state import DedupeStateError
from ._stream import BATCH_SIZE, Deduplicator

__all__ = [
    "BATCH_SIZE",
    "SEARCH_MODES",
    "DedupeResult",
    "DedupeStateError",
    "Deduplicator",
    "Duplicate",
    "RecordFieldError",
    "RecordWriter",
    "check_threshold",
    "dedupe",
    "normalize_text",
    "select_records",
    "texts_of",
    "write_records",
]
