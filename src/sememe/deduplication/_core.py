"""``dedupe()`` and ``Deduplicator``: records in, a :class:`DedupeResult` out.

The pipeline, for one call:

1. Take the text of each record (``key``) and validate it.
2. Group records whose text is equal after :func:`normalize_text` (``exact=True``) or
   identical (``exact=False``): each group is one *item*, represented by its
   best-priority member; only representatives are encoded, once each.
3. Find every pair of items with cosine >= the threshold (:mod:`._search`) and, with
   ``against=``, each item's best match in the reference.
4. Decide greedily in priority order without chaining (:func:`._result.resolve`).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .._progress import progress
from .._validate import check_choice, check_int
from ..encoder import Encoder
from ..errors import InvalidArgumentError, InvalidTypeError
from ._coverage import jaccard_cutoff, ngram_best, ngram_pairs, shingles, uncovered
from ._result import (
    KEEP_OPTIONS,
    DedupeResult,
    _Graph,
    build_result,
    check_threshold,
    resolve,
)
from ._search import CELL_SIZE, NPROBE, TOLERANCE, CellIndex, SearchMode, choose_screen_dim
from ._state import DedupeStateError, read_state, save_state

Key = str | Callable[[Any], str] | None

#: Texts encoded per step (also the unit of the progress bar).
ENCODE_CHUNK = 16_384
#: Thresholds tried, highest first, when looking for a ``target_size``.
TARGET_FLOORS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5)


def normalize_text(text: str) -> str:
    """The form in which texts are compared for exact duplicates.

    Unicode NFKC (so full-width and compatibility characters match their plain
    forms), case-folded, with every run of whitespace turned into one space and none
    at the ends. ``"Hello,  World"`` and ``"hello, world\\n"`` are exact duplicates;
    punctuation and digits still count.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(text.casefold().split())


# ---------------------------------------------------------------------- records in


class RecordFieldError(InvalidArgumentError, KeyError):
    """A record (or DataFrame) lacks the field ``key`` names; also a ``KeyError``."""

    __str__ = Exception.__str__  # KeyError would quote the message


def _describe(value: Any) -> str:
    return "None" if value is None else f"of type {type(value).__name__}"


def check_texts(items: list[Any], name: str) -> list[str]:
    """``items`` if every one is a ``str``, else :class:`InvalidTypeError` naming the first
    that is not (``records[3] is None; expected str``)."""
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidTypeError(f"{name}[{i}] is {_describe(item)}; expected str")
    return items


def check_key(key: Any) -> Key:
    """``key`` must be None, a field name or a callable."""
    if key is not None and not isinstance(key, str) and not callable(key):
        raise InvalidTypeError(
            f"key must be None, a field name (str) or a callable returning the text, got "
            f"{key!r} ({type(key).__name__})"
        )
    return key


def texts_of(records: Any, key: Key = None, name: str = "records") -> tuple[list[str], Any]:
    """The text of each record, and the container to select kept records from.

    ``records`` may be a list (or any iterable) of str, of dicts (text under ``key``,
    default ``"text"``) or of anything ``key`` (a callable) turns into text; a
    pandas Series; or a pandas DataFrame with ``key`` naming the text column.
    """
    key = check_key(key)
    if records is None:
        raise InvalidTypeError(f"{name} is None; expected a list of texts or records")
    if isinstance(records, dict):
        raise InvalidTypeError(
            f"{name} is a dict; pass a list of texts or records (e.g. list(d.values())), "
            "not a mapping (its keys would be taken as the texts)"
        )
    if isinstance(records, (str, bytes)):
        raise InvalidTypeError(
            f"{name} is a single {type(records).__name__}; pass a list of texts (e.g. [text]) to deduplicate"
        )
    if hasattr(records, "columns") and hasattr(records, "iloc"):  # pandas DataFrame
        if not isinstance(key, str):
            raise InvalidTypeError(
                f"{name} is a DataFrame; pass key=<column name> to say which column holds the text"
            )
        if key not in records.columns:
            raise RecordFieldError(
                f"{name} has no column {key!r} (columns: {list(records.columns)})"
            )
        return check_texts(records[key].tolist(), f"{name}[{key!r}]"), records
    if hasattr(records, "iloc") and hasattr(records, "tolist"):  # pandas Series
        items = records.tolist()
        container: Any = records
    elif hasattr(records, "tolist") and not isinstance(records, list):  # numpy
        items = records.tolist()
        container = items
    else:
        try:
            items = list(records)
        except TypeError:
            raise InvalidTypeError(
                f"{name} is {type(records).__name__}; expected a list of texts or records"
            ) from None
        container = items
    if key is None and not any(isinstance(x, dict) for x in items[:1]):
        return check_texts(items, name), container
    texts = []
    field = "text" if key is None else key
    for i, item in enumerate(items):
        if callable(field):
            text = field(item)
            where = f"key({name}[{i}])"
        else:
            if not isinstance(item, dict):
                raise InvalidTypeError(
                    f"{name}[{i}] is {type(item).__name__}; expected a dict with field {field!r}"
                )
            if field not in item:
                raise RecordFieldError(
                    f"{name}[{i}] has no field {field!r} (fields: {sorted(item)}); pass key=..."
                )
            text = item[field]
            where = f"{name}[{i}][{field!r}]"
        if not isinstance(text, str):
            what = "None" if text is None else f"of type {type(text).__name__}"
            raise InvalidTypeError(f"{where} is {what}; expected str")
        texts.append(text)
    return texts, container


def _priority(texts: Sequence[str], keep: str) -> np.ndarray:
    """Rank of each record in the order records are visited (0 = first)."""
    n = len(texts)
    idx = np.arange(n)
    if keep == "first":
        return idx
    if keep == "last":
        return idx[::-1].copy()
    lengths = np.fromiter(map(len, texts), np.int64, n)
    order = np.lexsort((idx, -lengths if keep == "longest" else lengths))
    rank = np.empty(n, np.int64)
    rank[order] = idx
    return rank


def _group(keys: Sequence[str], rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items of equal keys: the representative (best rank) of each, and each record's item."""
    ids: dict[str, int] = {}
    item_of = np.fromiter((ids.setdefault(k, len(ids)) for k in keys), np.int64, len(keys))
    rep = np.full(len(ids), -1, np.int64)
    order = np.argsort(rank, kind="stable")[::-1]  # worst first, so the best write wins
    rep[item_of[order]] = order
    return rep, item_of


def _encode(encoder: Encoder, texts: list[str], show_progress: bool | None) -> np.ndarray:
    """Unit vectors for ``texts``, chunks encoded on two threads, with a progress bar.

    The encoder is thread-safe and its tokenizer releases the GIL, so two threads
    encode about 1.3x faster than one on two cores.
    """
    out = np.zeros((len(texts), encoder.dim), np.float32)

    def work(start: int) -> int:
        chunk = texts[start : start + ENCODE_CHUNK]
        out[start : start + len(chunk)] = encoder.encode(chunk, normalize=True, show_progress=False)
        return len(chunk)

    starts = list(range(0, len(texts), ENCODE_CHUNK))
    workers = min(2, os.cpu_count() or 1, len(starts))
    with progress(len(texts), show_progress, "dedupe: encode") as bar:
        if workers <= 1:
            for start in starts:
                bar.update(work(start))
        else:
            with ThreadPoolExecutor(workers) as pool:
                for done in pool.map(work, starts):
                    bar.update(done)
    return out


def _resolve_encoder(encoder: Encoder | None) -> Encoder:
    if encoder is None:
        from ..loading import load

        return load()
    if not isinstance(encoder, Encoder):
        raise InvalidTypeError(f"encoder must be a sememe.Encoder, got {type(encoder).__name__}")
    return encoder


def _best_per_query(
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


# ---------------------------------------------------------------------- references


class _Reference(Protocol):
    """Something records are deduplicated against (it always wins)."""

    def exact(self, keys: Sequence[str]) -> list[Any]: ...

    def best(self, vectors: np.ndarray, floor: float) -> tuple[np.ndarray, list[Any]]: ...

    def ngram_best(
        self, sets: Sequence[frozenset[str]], floor: float
    ) -> tuple[np.ndarray, list[Any]]: ...


class _RecordsReference:
    """Reference records given as texts or dicts: hashed and encoded like the input."""

    def __init__(self, texts: list[str], encoder: Encoder, exact: bool, index_args: dict) -> None:
        self.exact_on = exact
        keys = [normalize_text(t) for t in texts] if exact else texts
        self.first: dict[str, int] = {}
        for i, k in enumerate(keys):
            self.first.setdefault(k, i)
        rep, _ = _group(keys, np.arange(len(texts)))
        self.rep = rep
        weak = uncovered(encoder, [texts[r] for r in rep.tolist()]) if len(rep) else rep > 0
        self.weak_rep = rep[weak]
        self.weak_sets = [shingles(normalize_text(texts[r])) for r in self.weak_rep.tolist()]
        rep = rep[~weak]
        self.rep = rep
        self.index = CellIndex(encoder.dim, **index_args)
        if len(rep):
            self.index.add(_encode(encoder, [texts[r] for r in rep], False))

    def exact(self, keys: Sequence[str]) -> list[Any]:
        if not self.exact_on:
            return [None] * len(keys)
        return [self.first.get(k) for k in keys]

    def best(self, vectors: np.ndarray, floor: float) -> tuple[np.ndarray, list[Any]]:
        qi, rows, sims = self.index.search(vectors, floor)
        best, row = _best_per_query(len(vectors), qi, rows, sims)
        return best, [int(self.rep[r]) if r >= 0 else None for r in row.tolist()]

    def ngram_best(
        self, sets: Sequence[frozenset[str]], floor: float
    ) -> tuple[np.ndarray, list[Any]]:
        best, where = ngram_best(sets, self.weak_sets, floor)
        return best, [int(self.weak_rep[k]) if k >= 0 else None for k in where.tolist()]


class _IndexReference:
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


class _StreamReference:
    """The records a :class:`Deduplicator` has kept so far."""

    def __init__(self, dd: Deduplicator) -> None:
        self.dd = dd

    def exact(self, keys: Sequence[str]) -> list[Any]:
        if not self.dd.exact:
            return [None] * len(keys)
        table = self.dd._hashes
        return [table.get(_digest(k)) for k in keys]

    def best(self, vectors: np.ndarray, floor: float) -> tuple[np.ndarray, list[Any]]:
        qi, rows, sims = self.dd._index.search(vectors, floor)
        best, row = _best_per_query(len(vectors), qi, rows, sims)
        ids = self.dd._ids
        return best, [int(ids[r]) if r >= 0 else None for r in row.tolist()]

    def ngram_best(
        self, sets: Sequence[frozenset[str]], floor: float
    ) -> tuple[np.ndarray, list[Any]]:
        best, where = ngram_best(sets, self.dd._weak_sets, floor)
        ids = self.dd._weak_ids
        return best, [int(ids[k]) if k >= 0 else None for k in where.tolist()]


def _digest(key: str) -> int:
    """Stable 64-bit hash of a normalised text (Python's hash() changes per process)."""
    return int.from_bytes(
        hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )


def _reference_for(
    against: Any,
    key: Key,
    encoder: Encoder | None,
    exact: bool,
    search: SearchMode,
    cell_size: int,
    nprobe: int,
) -> tuple[_Reference, Encoder]:
    """Wrap ``against`` and settle which encoder both sides use."""
    if isinstance(against, Deduplicator):
        enc = against._encoder()
        _same_model(encoder, enc, "the Deduplicator")
        return _StreamReference(against), enc
    if hasattr(against, "search_vectors") and hasattr(against, "encoder"):  # sememe.Index
        enc = against.encoder
        _same_model(encoder, enc, "the Index")
        return _IndexReference(against), enc
    enc = _resolve_encoder(encoder)
    texts, _ = texts_of(against, key, name="against")
    return _RecordsReference(texts, enc, exact, _index_args(enc, search, cell_size, nprobe)), enc


def _same_model(given: Encoder | None, theirs: Encoder, what: str) -> None:
    if given is not None and given.fingerprint != theirs.fingerprint:
        raise InvalidArgumentError(
            f"encoder differs from the one {what} was built with; vectors of different "
            f"models cannot be compared (leave encoder=None to use {what}'s)"
        )


# ---------------------------------------------------------------------- the core


def _graph(
    texts: list[str],
    *,
    floor: float,
    encoder: Encoder,
    keep: str,
    exact: bool,
    reference: _Reference | None,
    index_args: dict,
    show_progress: bool | None,
) -> tuple[_Graph, CellIndex, np.ndarray]:
    """Items, their similar pairs at ``floor`` and their reference matches."""
    rank = _priority(texts, keep)
    keys = [normalize_text(t) for t in texts] if exact else texts
    rep, item_of = _group(keys, rank)
    n_items = len(rep)
    rep_keys = [keys[r] for r in rep.tolist()]
    ref_exact = np.zeros(n_items, bool)
    ref_id: list[Any] = [None] * n_items
    if reference is not None and n_items:
        for u, hit in enumerate(reference.exact(rep_keys)):
            if hit is not None:
                ref_exact[u] = True
                ref_id[u] = hit
    # Items equal to a reference text are removed whatever the threshold: not encoded.
    # Items the model barely covers (Korean under an English model) are compared by
    # character n-grams instead of vectors: not encoded either.
    todo = np.flatnonzero(~ref_exact)
    weak = np.zeros(n_items, bool)
    weak[todo] = uncovered(encoder, [texts[r] for r in rep[todo].tolist()])
    todo = todo[~weak[todo]]
    vectors = _encode(encoder, [texts[r] for r in rep[todo].tolist()], show_progress)
    text_rep = rep[item_of]  # each record's exact-text representative
    rep, item_of, todo, vectors, survivors = _merge_identical(rep, item_of, rank, todo, vectors)
    if survivors is not None:
        ref_exact, weak = ref_exact[survivors], weak[survivors]
        ref_id = [ref_id[u] for u in survivors.tolist()]
    n_items = len(rep)
    index = CellIndex(encoder.dim, **index_args)
    index.add(vectors)  # takes the array over without copying
    ref_sim = np.full(n_items, -np.inf, np.float32)
    if reference is not None and len(todo):
        best, ids = reference.best(vectors, floor)
        ref_sim[todo] = best
        for k, u in enumerate(todo.tolist()):
            if ids[k] is not None:
                ref_id[u] = ids[k]
    weak_items = np.flatnonzero(weak)
    weak_sets = [shingles(normalize_text(texts[r])) for r in rep[weak_items].tolist()]
    graph = _Graph(
        n_records=len(texts),
        rank=rank[rep] if n_items else np.zeros(0, np.int64),
        rep=rep,
        item_of=item_of,
        ua=np.zeros(0, np.int64),
        ub=np.zeros(0, np.int64),
        sims=np.zeros(0, np.float32),
        floor=floor,
        ref_sim=ref_sim,
        ref_id=ref_id,
        ref_exact=ref_exact,
        solo=np.zeros(n_items, bool),
        text_rep=text_rep,
        weak=weak,
        weak_sets=weak_sets,
    )
    if len(weak_items):
        n_weak = int(np.isin(item_of, weak_items).sum())
        warnings.warn(
            f"dedupe: {n_weak} of {len(texts)} texts are mostly made of tokens the model does "
            "not cover (byte-fallback, unknown or letter-by-letter pieces, e.g. Korean or "
            "Arabic under an English model), so their vectors cannot tell them apart; they "
            "were compared with each other by character 3-grams instead (duplicates when "
            f"the 3-gram Jaccard is >= {jaccard_cutoff(floor):.2f} at threshold {floor:g}; "
            "see docs/dedupe.md)",
            UserWarning,
            stacklevel=3,
        )
    _reference_ngrams(graph, reference, floor)
    if not exact:
        blank = np.zeros(n_items, bool)
        blank[todo] = ~np.any(vectors != 0, axis=1)
        graph.solo = blank & (np.bincount(item_of, minlength=n_items) > 1)
    _collect_pairs(graph, index, todo, floor)
    return graph, index, todo


def _row_hash(x: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of ``x`` rounded to a 1e-5 grid (equal rows, equal hash)."""
    weights = np.random.default_rng(0).integers(1, 1 << 62, x.shape[1], dtype=np.int64) | 1
    out = np.zeros(len(x), np.int64)
    step = 8192  # bounded temporaries
    with np.errstate(over="ignore"):
        for s in range(0, len(x), step):
            grid = np.rint(x[s : s + step] * 1e5).astype(np.int64)
            out[s : s + step] = grid @ weights  # wraps modulo 2**64: fine for a hash
    return out


def _merge_identical(
    rep: np.ndarray,
    item_of: np.ndarray,
    rank: np.ndarray,
    todo: np.ndarray,
    vectors: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Merge items whose vectors are identical (up to float rounding) into one item.

    A static model pools a bag of tokens, so texts with the same tokens in another order
    ("line 12" / "line 21", templated logs with permuted numbers) get the same vector:
    cosine 1 with each other, so duplicates at every threshold. Deciding them as one
    item (like exact-text duplicates) gives the same kept set as deciding them one by
    one, and keeps dense inputs from producing a quadratic number of pairs. Blank
    texts (zero vectors) are never merged. Returns the new ``rep``, ``item_of``,
    ``todo`` (items with vectors, in row order of the returned ``vectors``) and the old
    item ids that survive (``None``: nothing merged), to carry per-item arrays over.
    """
    if len(todo) < 2:
        return rep, item_of, todo, vectors, None
    # Rows are compared on a 1e-5 grid, by a hash of the first 16 components and then,
    # only where that collides, of all of them, confirmed by comparing the rows: a hash
    # collision only means two items stay separate, never a wrong merge.
    nonzero = np.flatnonzero(np.any(vectors != 0, axis=1))
    if len(nonzero) < 2:
        return rep, item_of, todo, vectors, None
    head = _row_hash(vectors[nonzero, :16])
    _, inverse, counts = np.unique(head, return_inverse=True, return_counts=True)
    shared = nonzero[counts[inverse.ravel()] > 1]
    if not len(shared):
        return rep, item_of, todo, vectors, None
    grid = np.rint(vectors[shared] * 1e5).astype(np.int32)
    _, first, group = np.unique(_row_hash(vectors[shared]), return_index=True, return_inverse=True)
    group = group.ravel()
    same = np.all(grid == grid[first[group]], axis=1)
    group = np.where(same, group, len(first) + np.arange(len(shared)))  # collisions: alone
    _, first, group = np.unique(group, return_index=True, return_inverse=True)
    group = group.ravel()
    if len(first) == len(shared):
        return rep, item_of, todo, vectors, None
    nonzero = shared
    # Each group is represented by its best-ranked item; the others join it.
    group = group.ravel()
    member_rank = rank[rep[todo[nonzero]]]
    best = np.full(len(first), -1, np.int64)
    order = np.argsort(member_rank, kind="stable")[::-1]  # worst first: the best write wins
    best[group[order]] = nonzero[order]
    target = np.arange(len(rep))  # old item -> old item it merges into
    target[todo[nonzero]] = todo[best[group]]
    survivors = np.flatnonzero(target == np.arange(len(rep)))
    new_id = np.full(len(rep), -1, np.int64)
    new_id[survivors] = np.arange(len(survivors))
    item_map = new_id[target]
    keep_rows = np.flatnonzero(target[todo] == todo)  # todo rows that survive, in order
    return (
        rep[survivors],
        item_map[item_of],
        new_id[todo[keep_rows]],
        vectors[keep_rows],
        survivors,
    )


def _collect_pairs(graph: _Graph, index: CellIndex, todo: np.ndarray, floor: float) -> None:
    """Fill ``graph`` with the item pairs at ``floor`` (rows of ``index`` are ``todo`` items),
    by vectors, and by character n-grams among the items the model barely covers."""
    a, b, s = index.self_pairs(floor)
    graph.ua, graph.ub, graph.sims = todo[a], todo[b], s
    if graph.weak_sets:
        weak_items = np.flatnonzero(graph.weak)
        wa, wb, ws = ngram_pairs(graph.weak_sets, floor)
        graph.ua = np.concatenate([graph.ua, weak_items[wa]])
        graph.ub = np.concatenate([graph.ub, weak_items[wb]])
        graph.sims = np.concatenate([graph.sims, ws]).astype(np.float32)
    graph.floor = floor


def _reference_ngrams(graph: _Graph, reference: _Reference | None, floor: float) -> None:
    """Best reference match at ``floor`` of each uncovered item, by character n-grams."""
    if reference is None or not graph.weak_sets:
        return
    weak_items = np.flatnonzero(graph.weak)
    best, ids = reference.ngram_best(graph.weak_sets, floor)
    for k, u in enumerate(weak_items.tolist()):
        if graph.ref_exact[u]:
            continue
        graph.ref_sim[u] = best[k]
        if ids[k] is not None:
            graph.ref_id[u] = ids[k]


def _index_args(
    encoder: Encoder, search: SearchMode, cell_size: int, nprobe: int
) -> dict[str, Any]:
    return {
        "screen_dim": choose_screen_dim(encoder.dim, tuple(encoder.config.matryoshka_dims)),
        "search": search,
        "cell_size": cell_size,
        "nprobe": nprobe,
    }


def _check_keep(keep: str) -> str:
    return check_choice(keep, "keep", KEEP_OPTIONS)


def _n_kept(graph: _Graph, threshold: float) -> int:
    kept, _, _ = resolve(graph, threshold)
    sizes = np.bincount(graph.item_of, minlength=graph.n_items)
    return int(kept.sum() + (sizes[graph.solo] - 1).sum())


def _find_target(
    graph: _Graph, index: CellIndex, todo: np.ndarray, target: int, reference: _Reference | None
) -> float:
    """Lower the floor until ``target`` records can be kept, then bisect the threshold."""
    upper = 1.0
    for floor in TARGET_FLOORS:
        if floor < graph.floor:
            _collect_pairs(graph, index, todo, floor)
            if reference is not None and len(todo):
                best, ids = reference.best(index.vectors, floor)
                graph.ref_sim[todo] = best
                for k, u in enumerate(todo.tolist()):
                    if ids[k] is not None and not graph.ref_exact[u]:
                        graph.ref_id[u] = ids[k]
            _reference_ngrams(graph, reference, floor)
        if _n_kept(graph, floor) <= target:
            break
        upper = floor
    else:
        return graph.floor
    # Candidate thresholds: the pair similarities in [floor, upper]; the kept count only
    # changes there. It rises with the threshold (not strictly: removing a pair can
    # free a record that then removes others), so bisect and keep the closest.
    sims = np.concatenate([graph.sims, graph.ref_sim[np.isfinite(graph.ref_sim)]])
    cand = np.unique(sims[(sims >= graph.floor) & (sims <= upper)])
    cand = np.unique(np.concatenate([cand, [graph.floor, upper]]).astype(np.float64))
    lo, hi = 0, len(cand) - 1
    best_t, best_gap = cand[hi], abs(_n_kept(graph, cand[hi]) - target)
    while lo <= hi:
        mid = (lo + hi) // 2
        got = _n_kept(graph, float(cand[mid]))
        if abs(got - target) < best_gap or (abs(got - target) == best_gap and cand[mid] > best_t):
            best_t, best_gap = cand[mid], abs(got - target)
        if got < target:
            lo = mid + 1
        elif got > target:
            hi = mid - 1
        else:
            break
    return float(best_t)


def dedupe(
    records: Any,
    *,
    threshold: float = 0.9,
    key: Key = None,
    encoder: Encoder | None = None,
    keep: str = "first",
    exact: bool = True,
    against: Any = None,
    target_size: int | None = None,
    min_threshold: float | None = None,
    search: SearchMode = "auto",
    nprobe: int = NPROBE,
    cell_size: int = CELL_SIZE,
    show_progress: bool | None = None,
) -> DedupeResult:
    """Remove exact and near duplicates from ``records``.

    Parameters
    ----------
    records:
        A list (or iterable) of str; of dicts, the text under ``key`` (default
        ``"text"``); of anything, with ``key`` a callable returning its text; a pandas
        Series; or a DataFrame with ``key`` naming the text column.
    threshold:
        Cosine similarity at or above which two records are duplicates, in (0, 1].
    key:
        Field name or callable giving each record's text.
    encoder:
        The model (default: :func:`sememe.load`'s bundled model).
    keep:
        Which record of a duplicate group survives: ``"first"`` (input order),
        ``"last"``, ``"longest"`` or ``"shortest"`` text (ties: earlier record).
        Records are visited in that order; each is removed if an already kept record
        is within the threshold (no chaining).
    exact:
        Treat texts equal after :func:`normalize_text` as duplicates (similarity 1.0)
        by hashing, encoding each only once. With False, only the vectors decide
        (identical texts are still encoded once; blank texts duplicate nothing).
    against:
        Reference records (same forms as ``records``, same ``key``), a
        :class:`~sememe.Index`, or a :class:`Deduplicator`: records that duplicate a
        reference record are removed (the reference always wins), on top of
        deduplicating ``records`` among themselves.
    target_size:
        Instead of ``threshold``, find the threshold that keeps about this many
        records (searched down to 0.5; the result's ``threshold`` says what was used).
    min_threshold:
        Also collect pairs down to this similarity, so that
        :meth:`DedupeResult.rethreshold` can answer thresholds as low as it.
    search:
        ``"auto"`` (exact all-pairs up to 8,192 distinct texts, cells above),
        ``"exact"`` (always all pairs: slow for large inputs, exact), ``"cells"``.
    nprobe, cell_size:
        Cells probed per record and records per cell of the candidate search; raise
        ``nprobe`` for more recall, lower it for speed.
    show_progress:
        Progress bar on stderr (default: for large inputs on a terminal).

    Returns
    -------
    DedupeResult
        ``kept`` and ``removed`` positions (each record in exactly one), the pairs
        behind the decision, and ``explain``/``rethreshold``/``write`` helpers.
    """
    threshold = check_threshold(threshold)
    keep = _check_keep(keep)
    floor = (
        threshold
        if min_threshold is None
        else min(threshold, check_threshold(min_threshold, "min_threshold"))
    )
    if target_size is not None:
        check_int(target_size, "target_size", minimum=0)
        floor = max(TARGET_FLOORS[0], floor) if min_threshold is None else floor
    texts, container = texts_of(records, key)
    reference: _Reference | None = None
    if against is None:
        enc = _resolve_encoder(encoder)
    else:
        reference, enc = _reference_for(against, key, encoder, exact, search, cell_size, nprobe)
    index_args = _index_args(enc, search, cell_size, nprobe)
    graph, index, todo = _graph(
        texts,
        floor=floor,
        encoder=enc,
        keep=keep,
        exact=exact,
        reference=reference,
        index_args=index_args,
        show_progress=show_progress,
    )
    if target_size is not None:
        threshold = _find_target(graph, index, todo, int(target_size), reference)
    return build_result(graph, threshold, keep=keep, records=container, texts=texts)


# ---------------------------------------------------------------------- streams


class Deduplicator:
    """Deduplicate a stream batch by batch against everything kept so far.

    Each :meth:`update` removes the batch's records that duplicate a record kept in an
    earlier batch, or an earlier record of the same batch (keep-first order, no
    chaining), then remembers the batch's kept records. Kept vectors go into a
    growing cell index (cells are re-trained only when it has grown fourfold), so a
    batch costs about the same however long the stream is. The result over a stream
    equals ``dedupe(all_records, keep="first")`` (up to the candidate search's recall).

    Parameters mirror :func:`dedupe`; ``keep`` is always ``"first"``.
    :meth:`save` and :meth:`load` persist the state (kept vectors, text hashes,
    positions) so a stream can be resumed in another process.

    Attributes
    ----------
    n_seen_:
        Records given so far (the stream position of the next record).
    n_kept_:
        Records kept so far.
    """

    def __init__(
        self,
        threshold: float = 0.9,
        *,
        key: Key = None,
        encoder: Encoder | None = None,
        exact: bool = True,
        search: SearchMode = "auto",
        nprobe: int = NPROBE,
        cell_size: int = CELL_SIZE,
        show_progress: bool | None = None,
    ) -> None:
        self.threshold = threshold
        self.key = key
        self.encoder = encoder
        self.exact = exact
        self.search = search
        self.nprobe = nprobe
        self.cell_size = cell_size
        self.show_progress = show_progress

    # -- state -----------------------------------------------------------------
    def _encoder(self) -> Encoder:
        if getattr(self, "_enc", None) is None:
            self._enc = _resolve_encoder(self.encoder)
        return self._enc

    def _ensure_state(self) -> None:
        if not hasattr(self, "_index"):
            self.reset()

    def reset(self) -> Deduplicator:
        """Forget everything seen so far."""
        check_threshold(self.threshold)
        enc = self._encoder()
        self._index = CellIndex(
            enc.dim, **_index_args(enc, self.search, self.cell_size, self.nprobe)
        )
        self._ids = np.zeros(0, np.int64)
        self._hashes: dict[int, int] = {}
        # kept texts the model barely covers: stream positions and character 3-grams
        self._weak_ids: list[int] = []
        self._weak_sets: list[frozenset[str]] = []
        self._n_seen = 0
        return self

    @property
    def n_seen_(self) -> int:
        return getattr(self, "_n_seen", 0)

    @property
    def n_kept_(self) -> int:
        self._ensure_state()
        return len(self._ids) + len(self._weak_ids)

    def __len__(self) -> int:
        return self.n_kept_

    def __repr__(self) -> str:
        seen = self.n_seen_
        kept = len(getattr(self, "_ids", ()))
        return f"Deduplicator(threshold={self.threshold}, seen={seen}, kept={kept})"

    # -- work ------------------------------------------------------------------
    def update(self, records: Any) -> DedupeResult:
        """Deduplicate one batch against the stream so far; remember its kept records.

        Positions in the result are within the batch; ``result.offset`` is the
        stream position of the batch's first record. ``duplicate_of`` of a record
        removed because of an earlier batch (``reference=True``) is that record's
        stream position.
        """
        self._ensure_state()
        threshold = check_threshold(self.threshold)
        enc = self._encoder()
        texts, container = texts_of(records, self.key)
        graph, index, todo = _graph(
            texts,
            floor=threshold,
            encoder=enc,
            keep="first",
            exact=self.exact,
            reference=_StreamReference(self),
            index_args=_index_args(enc, self.search, self.cell_size, self.nprobe),
            show_progress=self.show_progress,
        )
        result = build_result(
            graph, threshold, keep="first", records=container, texts=texts, offset=self._n_seen
        )
        kept_items, _, _ = resolve(graph, threshold)
        row_of = np.full(graph.n_items, -1, np.int64)
        row_of[todo] = np.arange(len(todo))
        new = np.flatnonzero(kept_items & (row_of >= 0))
        self._index.add(index.vectors[row_of[new]])
        positions = graph.rep[new] + self._n_seen
        self._ids = np.concatenate([self._ids, positions])
        weak_new = np.flatnonzero(kept_items & graph.weak) if graph.weak is not None else new[:0]
        weak_positions = graph.rep[weak_new] + self._n_seen
        weak_at = {int(u): k for k, u in enumerate(np.flatnonzero(graph.weak).tolist())}
        self._weak_ids = [*self._weak_ids, *weak_positions.tolist()]
        self._weak_sets = [
            *self._weak_sets,
            *(graph.weak_sets[weak_at[u]] for u in weak_new.tolist()),
        ]
        if self.exact:
            both = np.concatenate([new, weak_new])
            where = graph.rep[both] + self._n_seen
            for u, pos in zip(both.tolist(), where.tolist(), strict=True):
                self._hashes.setdefault(_digest(normalize_text(texts[graph.rep[u]])), pos)
        # Blank texts compared by vector (exact=False) are kept but match nothing: skip.
        self._n_seen += len(texts)
        result._graph = None  # the state moved on; this batch cannot be re-decided
        return result

    def partial_fit(self, records: Any) -> Deduplicator:
        """:meth:`update`, returning ``self`` (scikit-learn style)."""
        self.update(records)
        return self

    def fit(self, records: Any) -> Deduplicator:
        """Start afresh and take ``records`` as the first batch."""
        self.reset()
        return self.partial_fit(records)

    def filter(self, records: Any) -> Any:
        """The records of a batch that survive (:meth:`update` then ``deduplicated``)."""
        return self.update(records).deduplicated

    def run(self, batches: Iterable[Any]) -> Iterable[DedupeResult]:
        """:meth:`update` each batch of an iterable, yielding results as they come."""
        for batch in batches:
            yield self.update(batch)

    # -- persistence -----------------------------------------------------------
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the state to folder ``path`` atomically, with checksums.

        The folder (``arrays.npz`` and ``manifest.json``) is filled beside ``path`` and
        swapped in with renames, so a process killed at any moment leaves the previous
        state or the new one, never a mix. An existing ``path`` is replaced only with
        ``overwrite=True`` and only if it is a Deduplicator state (the checkpointing
        case: save to the same folder after every few batches); a folder of other files
        is never replaced (:class:`~sememe.errors.FolderExistsError`).
        """
        self._ensure_state()
        return save_state(self, path, overwrite=bool(overwrite))

    @classmethod
    def load(
        cls, path: str | Path, *, encoder: Encoder | None = None, key: Key = None
    ) -> Deduplicator:
        """Read a state written by :meth:`save`; ``encoder`` must be the model it used.

        Every file is checked against the manifest's checksums and the parts against
        each other (stored positions below ``n_seen``, shapes, types) before use;
        anything missing, damaged or inconsistent raises :class:`DedupeStateError`
        naming the file. States in the previous format (``state.json`` +
        ``arrays.npz``) load with a warning to save them again.
        """
        path = Path(path)
        meta, arrays, _ = read_state(path)
        enc = _resolve_encoder(encoder)
        if enc.dim != meta["dim"] and encoder is None and meta["dim"] <= enc.full_dim:
            # not a dimension of this model: reported as a different model below
            with contextlib.suppress(ValueError):
                enc = enc.with_options(dim=meta["dim"])
        if enc.fingerprint != meta["fingerprint"] or enc.dim != meta["dim"]:
            raise DedupeStateError(
                f"{path}: saved with model {meta['model']!r} (dim {meta['dim']}); the given "
                f"encoder is a different model; pass encoder=<that model>"
            )
        dd = cls(
            meta["threshold"],
            key=meta["key"] if key is None else key,
            encoder=enc,
            exact=meta["exact"],
            search=meta["search"],
            nprobe=meta["nprobe"],
            cell_size=meta["cell_size"],
        )
        dd.reset()
        index = {k[len("index_") :]: v for k, v in arrays.items() if k.startswith("index_")}
        if "fine" in index and index["fine"].shape[1] != dd._index.screen_dim:
            raise DedupeStateError(
                f"{path / 'arrays.npz'}: cell centroids have {index['fine'].shape[1]} "
                f"dimensions; this model screens on {dd._index.screen_dim}; the state is "
                "damaged or inconsistent"
            )
        dd._index.load_arrays(index)
        dd._ids = arrays["ids"].astype(np.int64)
        dd._hashes = dict(
            zip(
                arrays["hashes"].astype(np.uint64).tolist(),
                arrays["hash_ids"].astype(np.int64).tolist(),
                strict=True,
            )
        )
        if "weak_ids" in arrays:
            offsets = arrays["weak_offsets"].tolist()
            grams = arrays["weak_grams"].tolist()
            dd._weak_ids = arrays["weak_ids"].astype(np.int64).tolist()
            dd._weak_sets = [frozenset(grams[a:b]) for a, b in itertools.pairwise(offsets)]
        dd._n_seen = int(meta["n_seen"])
        return dd
