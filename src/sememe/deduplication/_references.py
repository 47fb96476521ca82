"""What records are deduplicated against (``against=``): a reference always wins.

Three adapters answer the same two questions for the pipeline (:class:`Reference`):
which reference record has exactly this normalised text, and which is the most similar
one at or above a floor (by vectors, or by character 3-grams for texts the model barely
covers):

* :class:`RecordsReference`: reference records given as texts or dicts, hashed and
  encoded like the input;
* :class:`IndexReference`: a retrieval :class:`~sememe.Index` (its nearest hit decides);
* :class:`StreamReference`: the records a :class:`~sememe.Deduplicator` kept so far.

:func:`reference_for` picks the adapter for an ``against=`` value and the encoder both
sides use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from ..encoder import Encoder
from ..errors import InvalidArgumentError
from ._coverage import ngram_best, shingles, uncovered
from ._encoding import encode_texts, resolve_encoder
from ._records import Key, group, normalize_text, texts_of
from ._search import TOLERANCE, CellIndex


def best_per_query(
    n: int, qi: np.ndarray, ids: np.ndarray, sims: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``n`` queries: best similarity (-inf if none) and its id (-1)."""
    best = np.full(n, -np.inf, np.float32)
    best_id = np.full(n, -1, np.int64)
    if len(qi):
        order = np.lexsort((-sims, qi))
        first = order[np.r_[True, qi[order][1:] != qi[order][:-1]]]
        best[qi[first]] = sims[first]
        best_id[qi[first]] = ids[first]
    return best, best_id


class Reference(Protocol):
    """Something records are deduplicated against (it always wins)."""

    def exact(self, keys: Sequence[str]) -> list[Any]: ...

    def best(self, vectors: np.ndarray, floor: float) -> tuple[np.ndarray, list[Any]]: ...

    def ngram_best(
        self, sets: Sequence[frozenset[str]], floor: float
    ) -> tuple[np.ndarray, list[Any]]: ...


class RecordsReference:
    """Reference records given as texts or dicts: hashed and encoded like the input."""

    def __init__(self, texts: list[str], encoder: Encoder, exact: bool, index_args: dict) -> None:
        self.exact_on = exact
        keys = [normalize_text(t) for t in texts] if exact else texts
        self.first: dict[str, int] = {}
        for i, k in enumerate(keys):
            self.first.setdefault(k, i)
        rep, _ = group(keys, np.arange(len(texts)))
        self.rep = rep
        weak = uncovered(encoder, [texts[r] for r in rep.tolist()]) if len(rep) else rep > 0
        self.weak_rep = rep[weak]
        self.weak_sets = [shingles(normalize_text(texts[r])) for r in self.weak_rep.tolist()]
        rep = rep[~weak]
        self.rep = rep
        self.index = CellIndex(encoder.dim, **index_args)
        if len(rep):
            self.index.add(encode_texts(encoder, [texts[r] for r in rep], False))

    def exact(self, keys: Sequence[str]) -> list[Any]:
        if not self.exact_on:
            return [None] * len(keys)
        return [self.first.get(k) for k in keys]

    def best(self, vectors: np.ndarray, floor: float) -> tuple[np.ndarray, list[Any]]:
        qi, rows, sims = self.index.search(vectors, floor)
        best, row = best_per_query(len(vectors), qi, rows, sims)
        return best, [int(self.rep[r]) if r >= 0 else None for r in row.tolist()]

    def ngram_best(
        self, sets: Sequence[frozenset[str]], floor: float
    ) -> tuple[np.ndarray, list[Any]]:
        best, where = ngram_best(sets, self.weak_sets, floor)
        return best, [int(self.weak_rep[k]) if k >= 0 else None for k in where.tolist()]


class IndexReference:
    """A retrieval :class:`~sememe.Index`: its nearest hit decides (no text hashing)."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def exact(self, keys: Sequence[str]) -> list[Any]:
        return [None] * len(keys)

    def best(self, vectors: np.ndarray, floor: float) -> tuple[np.ndarray, list[Any]]:
        best = np.full(len(vectors), -np.inf, np.float32)
        ids: list[Any] = [None] * len(vectors)
        if not len(vectors) or not len(self.index):
            return best, ids
        for q, hits in enumerate(self.index.search_vectors(vectors, 1)):
            if hits and hits[0].score >= floor - TOLERANCE:
                best[q] = hits[0].score
                ids[q] = hits[0].id
        return best, ids

    def ngram_best(
        self, sets: Sequence[frozenset[str]], floor: float
    ) -> tuple[np.ndarray, list[Any]]:
        """An Index holds vectors only: uncovered texts are not compared with it."""
        return np.full(len(sets), -np.inf, np.float32), [None] * len(sets)


class StreamReference:
    """The records a :class:`~sememe.Deduplicator` has kept so far (a snapshot of its state).

    ``hashes`` maps the digest of each kept normalised text to its stream position (empty
    with ``exact=False``); row ``r`` of ``index`` is the vector of stream position
    ``ids[r]``; ``weak_sets[k]`` are the 3-grams of the uncovered text at ``weak_ids[k]``.
    """

    def __init__(
        self,
        *,
        exact: bool,
        hashes: dict[int, int],
        index: CellIndex,
        ids: np.ndarray,
        weak_ids: Sequence[int],
        weak_sets: Sequence[frozenset[str]],
    ) -> None:
        self.exact_on = exact
        self.hashes = hashes
        self.index = index
        self.ids = ids
        self.weak_ids = weak_ids
        self.weak_sets = weak_sets

    def exact(self, keys: Sequence[str]) -> list[Any]:
        if not self.exact_on:
            return [None] * len(keys)
        return [self.hashes.get(digest(k)) for k in keys]

    def best(self, vectors: np.ndarray, floor: float) -> tuple[np.ndarray, list[Any]]:
        qi, rows, sims = self.index.search(vectors, floor)
        best, row = best_per_query(len(vectors), qi, rows, sims)
        return best, [int(self.ids[r]) if r >= 0 else None for r in row.tolist()]

    def ngram_best(
        self, sets: Sequence[frozenset[str]], floor: float
    ) -> tuple[np.ndarray, list[Any]]:
        best, where = ngram_best(sets, self.weak_sets, floor)
        return best, [int(self.weak_ids[k]) if k >= 0 else None for k in where.tolist()]


def digest(key: str) -> int:
    """Stable 64-bit hash of a normalised text (Python's hash() changes per process)."""
    return int.from_bytes(
        hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )


def reference_for(
    against: Any,
    key: Key,
    encoder: Encoder | None,
    exact: bool,
    search: Callable[[Encoder], dict[str, Any]],
) -> tuple[Reference, Encoder]:
    """Wrap ``against`` and settle which encoder both sides use.

    ``search`` gives the :class:`~._search.CellIndex` arguments for an encoder (reference
    records are searched the way the input is).
    """
    from ._stream import Deduplicator  # here: _stream imports this module

    if isinstance(against, Deduplicator):
        enc = against._encoder()
        same_model(encoder, enc, "the Deduplicator")
        return against._reference(), enc
    if hasattr(against, "search_vectors") and hasattr(against, "encoder"):  # sememe.Index
        enc = against.encoder
        same_model(encoder, enc, "the Index")
        return IndexReference(against), enc
    enc = resolve_encoder(encoder)
    texts, _ = texts_of(against, key, name="against")
    return RecordsReference(texts, enc, exact, search(enc)), enc


def same_model(given: Encoder | None, theirs: Encoder, what: str) -> None:
    if given is not None and given.fingerprint != theirs.fingerprint:
        raise InvalidArgumentError(
            f"encoder differs from the one {what} was built with; vectors of different "
            f"models cannot be compared (leave encoder=None to use {what}'s)"
        )
