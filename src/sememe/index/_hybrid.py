"""The lexical and hybrid modes of :meth:`Index.search <sememe.index.Index.search>`.

Both run under the index's read lock, over its document store, dense engine and lexical
side, and return one hit list per query. Hybrid search, per query:

1. the dense engine proposes its best ``n`` non-blank rows (``n = max(k,
   fusion_candidates)``, capped by the documents in scope), as a dense search would;
2. the lexical side proposes its best ``n`` rows by BM25, among the same rows (``where``
   applies to both; blank documents are near nothing on both sides);
3. every candidate of the union gets its exact dense score (:meth:`Engine.scores_of`), and
   :func:`~._fusion.fuse` orders them by the fused score; the best ``k`` are returned with
   both sides' scores.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from ._common import Hit, Where
from ._engine import Engine
from ._fusion import fuse
from ._lexical import Lexical
from ._store import DocStore

_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """One worker thread for the lexical side of hybrid searches (made on first use)."""
    if not _POOL:
        with _POOL_LOCK:
            if not _POOL:
                _POOL.append(ThreadPoolExecutor(1, thread_name_prefix="sememe-lexical"))
    return _POOL[0]


def mask(rows: np.ndarray | None, n: int) -> np.ndarray | None:
    """A bool mask by row of ``rows`` (``None``: every row)."""
    if rows is None:
        return None
    out = np.zeros(n, bool)
    out[rows] = True
    return out


def _allowed(store: DocStore, rows: np.ndarray | None) -> np.ndarray | None:
    """The rows the lexical side may return, as a mask (``None``: all): those in scope,
    never a blank one (a blank row can hold words the model has no tokens for)."""
    allowed = mask(rows, len(store))
    blank = store.blank_mask()
    if allowed is None and blank is not None:
        allowed = ~blank
    return allowed


def lexical_search(
    store: DocStore, lexical: Lexical, terms: list[list[str]], k: int, where: Where | None
) -> list[list[Hit]]:
    """BM25 alone: per query, the documents holding one of its ``terms``, best first
    (possibly fewer than ``k``); never a blank document, as in hybrid mode."""
    allowed = _allowed(store, store.scope(where)[0])
    out = []
    for t in terms:
        rows, scores = lexical.search(t, k, allowed)
        out.append(
            [
                replace(store.hit(r, s), lexical_score=s)
                for r, s in zip(rows.tolist(), scores.tolist(), strict=True)
            ]
        )
    return out


def hybrid_search(
    store: DocStore,
    engine: Engine,
    lexical: Lexical,
    terms: list[list[str]],
    queries: tuple[np.ndarray | None, np.ndarray | None, np.ndarray],
    k: int,
    where: Where | None,
    fusion: tuple[float, str, int],
    dense_options: tuple[int | None, int | None, int],
) -> list[list[Hit]]:
    """Dense and lexical candidates per query, fused (see the module docs).

    ``queries`` is ``(qvec, qcodes, qzero)`` as the dense search takes them (``qzero``
    marks blank queries); ``fusion`` is ``(alpha, method, fusion_candidates)``;
    ``dense_options`` is ``(ef_search, nprobe, candidates)``.
    """
    qvec, qcodes, qzero = queries
    alpha, method, fusion_candidates = fusion
    nq = len(qzero)
    rows, blank_rows, total = store.scope(where)
    out: list[list[Hit]] = [[] for _ in range(nq)]
    if total == 0:
        return out
    n_side = min(max(k, fusion_candidates), total)
    blank = store.blank_mask()
    dense_rows: list[np.ndarray] = [np.zeros(0, np.int64)] * nq
    dense_scores: list[np.ndarray] = [np.zeros(0, np.float32)] * nq
    live = np.flatnonzero(~qzero)
    allowed = _allowed(store, rows)
    # The two sides run at once: tantivy and FAISS both release the GIL while they search,
    # so a single query costs about the slower side, not the sum (2 cores measured).
    lexical_part = _pool().submit(lambda: [lexical.search(t, n_side, allowed) for t in terms])
    if len(live):
        sub = slice(None) if len(live) == nq else live
        scores, found = engine.search(
            None if qvec is None else qvec[sub],
            None if qcodes is None else qcodes[sub],
            n_side,
            rows,
            blank,
            len(blank_rows),
            *dense_options,
        )
        for i, f, sc in zip(live.tolist(), found, scores, strict=True):
            dense_rows[i], dense_scores[i] = f[f >= 0], sc[f >= 0]
    first = store.first_rows(rows, n_side) if len(live) < nq else None
    for i, (lex_rows, lex_scores) in enumerate(lexical_part.result()):
        if qzero[i] and not len(lex_rows) and first is not None:
            # a blank query with no lexical match: what dense search gives it (the first
            # documents, score 0); with lexical matches, their order alone
            dense_rows[i], dense_scores[i] = first, np.zeros(len(first), np.float32)
        dense = None
        if not qzero[i]:
            dense = (
                None if qvec is None else qvec[i : i + 1],
                None if qcodes is None else qcodes[i : i + 1],
            )
        complete = len(lex_rows) < n_side  # the lexical side ran out of matches
        out[i] = _fused_hits(
            store,
            engine,
            dense,
            (dense_rows[i], dense_scores[i]),
            (lex_rows, lex_scores, complete),
            k,
            alpha,
            method,
        )
    return out


def _fused_hits(
    store: DocStore,
    engine: Engine,
    query: tuple[np.ndarray | None, np.ndarray | None] | None,
    dense_side: tuple[np.ndarray, np.ndarray],
    lexical_side: tuple[np.ndarray, np.ndarray, bool],
    k: int,
    alpha: float,
    method: str,
) -> list[Hit]:
    """One query's fused top ``k`` from its dense ``(rows, scores)`` and lexical ``(rows,
    scores, complete)`` candidates; ``query`` is its ``(vector, code)`` rows, ``None`` for a
    blank query (near nothing: dense 0). Lexical candidates the dense side did not list get
    their exact dense scores here."""
    dense_rows, dense_scores = dense_side
    lex_rows, lex_scores, complete = lexical_side
    union = np.union1d(dense_rows, lex_rows)
    if not len(union):
        return []
    dense = np.zeros(len(union), np.float32)
    dense_listed = np.zeros(len(union), bool)
    d_pos = np.searchsorted(union, dense_rows)
    dense[d_pos] = dense_scores
    dense_listed[d_pos] = True
    extra = np.flatnonzero(~dense_listed)
    if query is not None and len(extra):
        dense[extra] = engine.scores_of(query[0], query[1], union[extra])
    lex_pos = np.searchsorted(union, lex_rows)
    lexical = np.zeros(len(union), np.float32)
    lexical[lex_pos] = lex_scores
    lexical_listed = np.zeros(len(union), bool)
    lexical_listed[lex_pos] = True
    best, fused = fuse(
        method, alpha, union, dense, dense_listed, lexical, lexical_listed, k, complete
    )
    pos = np.searchsorted(union, best)
    return [
        replace(
            store.hit(r, f),
            dense_score=float(dense[p]),
            lexical_score=float(lexical[p]) if lexical_listed[p] else None,
        )
        for r, f, p in zip(best.tolist(), fused.tolist(), pos.tolist(), strict=True)
    ]
