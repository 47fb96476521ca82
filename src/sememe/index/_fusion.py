"""Fusing a query's dense and lexical candidates into one ranking (hybrid search).

Each side proposes its best candidates; the union is scored on the dense side exactly
(every candidate's cosine is computed from the stored vectors or codes), and on the
lexical side by BM25 where the candidate is in the lexical list. The two scores live on
different scales (a cosine in [-1, 1], a BM25 score that grows with term rarity and query
length), so they are made comparable per query before being added:

``"zscore"`` (default)
    Each side's scores are standardised with the mean and standard deviation of that
    side's own candidate list: ``z = (s - mean) / std``. A candidate missing from the
    lexical list takes BM25 0 when the list holds every matching document (it matches no
    query term), else the lowest score in the list (its BM25 is at most that). The fused
    score is ``alpha * z_dense + (1 - alpha) * z_lexical``. When a side's list has no spread
    (one candidate, or all equal), its listed candidates get ``z = 1`` and the rest 0.
``"rrf"``
    Reciprocal rank fusion: ``alpha / (RRF_K + rank_dense) + (1 - alpha) / (RRF_K +
    rank_lexical)``, ranks from 1; a candidate missing from the lexical list gets no
    lexical term. Robust to score scales, but it discards how far apart the scores are,
    which measured worse on the development sets (docs/search.md).

Ties in the fused score go to a candidate of the lexical list; among the others to the
better dense score; then to the earlier row.

A query whose lexical list is empty (only stop words, or terms no document has) keeps the
dense order: every lexical term is the same for all candidates.
"""

from __future__ import annotations

import numpy as np

from ._common import RRF_K


def _standardise(values: np.ndarray, reference: np.ndarray, listed: np.ndarray) -> np.ndarray:
    """``values`` standardised by ``reference``'s mean and deviation (see the module docs)."""
    if len(reference) == 0:
        return np.zeros(len(values))
    ref = reference.astype(np.float64)
    std = float(ref.std())
    if not std > 1e-12:
        return listed.astype(np.float64)
    return (values.astype(np.float64) - float(ref.mean())) / std


def fuse(
    method: str,
    alpha: float,
    rows: np.ndarray,
    dense: np.ndarray,
    dense_listed: np.ndarray,
    lexical: np.ndarray,
    lexical_listed: np.ndarray,
    k: int,
    lexical_complete: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` of the candidate ``rows`` and their fused scores, best first.

    ``dense`` is every candidate's dense score and ``dense_listed`` marks the candidates of
    the dense list; ``lexical`` is every candidate's BM25 score (any value where not
    listed) and ``lexical_listed`` marks the lexical list; ``lexical_complete`` says the
    list holds every document with a query term.
    """
    if len(rows) == 0:
        return rows, np.zeros(0)
    if method == "rrf":
        fused = np.zeros(len(rows))
        d_order = np.lexsort((rows, -dense))
        d_rank = np.empty(len(rows))
        d_rank[d_order] = np.arange(1, len(rows) + 1)
        fused += alpha / (RRF_K + d_rank)
        listed = np.flatnonzero(lexical_listed)
        if len(listed):
            l_order = listed[np.lexsort((rows[listed], -lexical[listed]))]
            fused[l_order] += (1 - alpha) / (RRF_K + np.arange(1, len(l_order) + 1))
    else:
        z_dense = _standardise(dense, dense[dense_listed], dense_listed)
        lex_ref = lexical[lexical_listed]
        if len(lex_ref):
            floor = 0.0 if lexical_complete else lex_ref.min()
            filled = np.where(lexical_listed, lexical, floor)
            z_lex = _standardise(filled, lex_ref, lexical_listed)
        else:
            z_lex = np.zeros(len(rows))
        fused = alpha * z_dense + (1 - alpha) * z_lex
    # ties: a lexical candidate first; among the others the better dense score (so that a
    # query with no lexical match keeps the dense order even at alpha=0); then the row
    unlisted_dense = np.where(lexical_listed, 0.0, dense)
    order = np.lexsort((rows, -unlisted_dense, ~lexical_listed, -fused))[:k]
    return rows[order], fused[order]
