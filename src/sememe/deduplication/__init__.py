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

Other engines that apply the same rule elsewhere (:mod:`sememe.spark`) import the pieces
of it they share from here, not from the private modules: ``KEEP_OPTIONS`` (the ``keep``
orders), ``TOLERANCE`` (the float slack of a similarity at the threshold) and the 3-gram
helpers for uncovered texts (``uncovered``, ``shingles``, ``ngram_pairs``, ``ngram_best``,
``jaccard_cutoff``). They are not part of the user-facing API (not in ``__all__``).
"""

from __future__ import annotations

from ..records import RecordWriter, write_records

# Shared with other engines (see the module docstring); ``x as x`` marks a re-export.
from ._coverage import jaccard_cutoff as jaccard_cutoff
from ._coverage import ngram_best as ngram_best
from ._coverage import ngram_pairs as ngram_pairs
from ._coverage import shingles as shingles
from ._coverage import uncovered as uncovered
from ._pipeline import dedupe
from ._records import RecordFieldError, normalize_text, select_records, texts_of
from ._result import KEEP_OPTIONS as KEEP_OPTIONS
from ._result import DedupeResult, Duplicate, check_threshold
from ._search import SEARCH_MODES
from ._search import TOLERANCE as TOLERANCE
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
