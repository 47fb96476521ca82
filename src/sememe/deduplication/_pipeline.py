"""The pipeline behind :func:`dedupe`: records in, a :class:`DedupeResult` out.

The pipeline, for one call:

1. Take the text of each record (``key``) and validate it.
2. Group records whose text is equal after :func:`normalize_text` (``exact=True``) or
   identical (``exact=False``): each group is one *item*, represented by its
   best-priority member; only representatives are encoded, once each.
3. Find every pair of items with cosine >= the threshold (:mod:`._search`) and, with
   ``against=``, each item's best match in the reference.
4. Decide greedily in priority order without chaining (:func:`._result.resolve`).

:class:`~sememe.Deduplicator` (``_stream``) runs the same pipeline per batch (:func:`build_graph`)
with the records kept so far as the reference.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._validate import check_choice, check_int, check_positive_int
from ..encoder import Encoder
from ._coverage import jaccard_cutoff, ngram_pairs, shingles, uncovered
from ._encoding import encode_texts, index_args, resolve_encoder
from ._records import Key, group, normalize_text, texts_of
from ._references import Reference, reference_for
from ._result import KEEP_OPTIONS, DedupeResult, _Graph, build_result, check_threshold, resolve
from ._search import NPROBE, CellIndex, SearchMode, search_settings

#: Thresholds tried, highest first, when looking for a ``target_size``.
TARGET_FLOORS = (0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5)


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


def build_graph(
    texts: list[str],
    *,
    floor: float,
    encoder: Encoder,
    keep: str,
    exact: bool,
    reference: Reference | None,
    index_args: dict,
    show_progress: bool | None,
    stacklevel: int = 3,
) -> tuple[_Graph, CellIndex, np.ndarray]:
    """Items, their similar pairs at ``floor`` and their reference matches.

    ``stacklevel`` makes the uncovered-texts warning point at the caller's code.
    """
    rank = _priority(texts, keep)
    keys = [normalize_text(t) for t in texts] if exact else texts
    rep, item_of = group(keys, rank)
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
    vectors = encode_texts(encoder, [texts[r] for r in rep[todo].tolist()], show_progress)
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
            stacklevel=stacklevel,
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


def _reference_ngrams(graph: _Graph, reference: Reference | None, floor: float) -> None:
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


def _check_keep(keep: str) -> str:
    return check_choice(keep, "keep", KEEP_OPTIONS)


def _n_kept(graph: _Graph, threshold: float) -> int:
    kept, _, _ = resolve(graph, threshold)
    sizes = np.bincount(graph.item_of, minlength=graph.n_items)
    return int(kept.sum() + (sizes[graph.solo] - 1).sum())


def _find_target(
    graph: _Graph, index: CellIndex, todo: np.ndarray, target: int, reference: Reference | None
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
    nlist: int | None = None,
    nprobe: int = NPROBE,
    cell_size: int | None = None,
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
        ``"auto"`` (exact all-pairs up to 8,192 distinct texts, an inverted file of
        k-means cells above), ``"exact"`` (always all pairs: slow for large inputs,
        exact; FAISS's ``"Flat"`` means the same), ``"ivf"`` (always cells; also a
        FAISS factory string ``"IVF"``, ``"IVF1024"`` or ``"IVF1024,Flat"``, which sets
        ``nlist``). ``"cells"`` is the deprecated name of ``"ivf"``.
    nlist:
        Number of cells (FAISS's inverted lists); default: one per 128 distinct texts.
    nprobe:
        Cells probed per record; raise it for more recall, lower it for speed.
    cell_size:
        Deprecated (use ``nlist``): records per cell when ``nlist`` is not given.
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
    mode, nlist, cell_size = search_settings(search, nlist, cell_size)  # warns: stacklevel 3
    nprobe = check_positive_int(nprobe, "nprobe")
    texts, container = texts_of(records, key)

    def search_args(enc: Encoder) -> dict[str, Any]:
        return index_args(enc, mode, cell_size, nprobe, nlist)

    reference: Reference | None = None
    if against is None:
        enc = resolve_encoder(encoder)
    else:
        reference, enc = reference_for(against, key, encoder, exact, search_args)
    graph, index, todo = build_graph(
        texts,
        floor=floor,
        encoder=enc,
        keep=keep,
        exact=exact,
        reference=reference,
        index_args=search_args(enc),
        show_progress=show_progress,
    )
    if target_size is not None:
        threshold = _find_target(graph, index, todo, int(target_size), reference)
    return build_result(graph, threshold, keep=keep, records=container, texts=texts)
