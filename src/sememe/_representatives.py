"""Outliers and representatives of a collection of texts, as SemHash users know them.

* :func:`filter_outliers` (SemHash's ``self_filter_outliers``): the records least like
  the rest of the collection.
* :func:`find_representative` (SemHash's ``self_find_representative``): a few records
  that stand for the collection, central but not redundant (Maximal Marginal Relevance).

Both score each distinct text by its *centrality*: the mean cosine similarity to its
``n_neighbors`` most similar other distinct texts (SemHash: the mean similarity of its
100 nearest neighbours in the fitted index). Records take their input the way
:func:`sememe.dedupe` does (texts, dicts with ``key``, pandas objects; see
:func:`sememe.deduplication.texts_of`), and exact copies of a text are scored once and
share its score, as in SemHash, where exact duplicates are grouped before the index is
built. The neighbour search is exact (blocked matrix products over the distinct texts):
``n^2`` dot products, a few seconds for 20,000 distinct texts on two cores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import _validate
from ._resolve import resolve_encoder
from .deduplication import select_records, texts_of
from .encoder import Encoder
from .errors import InvalidArgumentError, InvalidTypeError

__all__ = ["Selection", "filter_outliers", "find_representative"]

#: Neighbours averaged for a text's centrality (SemHash's ``k=100``).
N_NEIGHBORS = 100

#: Entries of one block of the similarity matrix (rows x distinct texts), about 128 MB.
_BLOCK_ENTRIES = 1 << 25


@dataclass(frozen=True, eq=False)
class Selection:
    """The split of a collection made by :func:`filter_outliers` or :func:`find_representative`.

    Named after SemHash's ``FilterResult``: ``selected`` (the inliers, or the
    representatives) and ``filtered`` (the outliers, or everything else), with their
    scores; the ``*_indices`` give their positions in the input.

    Attributes
    ----------
    selected, filtered:
        The records themselves (a list, or the rows of the pandas object given).
    selected_indices, filtered_indices:
        Their positions in the input (int64 arrays).
    scores_selected, scores_filtered:
        Their centrality: mean cosine similarity to their most similar other texts.
    """

    selected: Any
    filtered: Any
    selected_indices: np.ndarray
    filtered_indices: np.ndarray
    scores_selected: np.ndarray
    scores_filtered: np.ndarray

    def __repr__(self) -> str:
        return (
            f"Selection(selected={len(self.selected_indices)}, "
            f"filtered={len(self.filtered_indices)})"
        )


def filter_outliers(
    records: Any,
    outlier_fraction: float = 0.1,
    *,
    key: Any = None,
    encoder: Encoder | str | Path | None = None,
    n_neighbors: int = N_NEIGHBORS,
    show_progress: bool | None = None,
) -> Selection:
    """Split ``records`` into inliers and the ``outlier_fraction`` least central ones.

    ``ceil(len(records) * outlier_fraction)`` records become outliers: those with the
    lowest centrality (mean cosine similarity to their ``n_neighbors`` most similar
    other distinct texts); among equal scores, later records go first, as in SemHash's
    stable ranking. ``selected`` holds the inliers, ``filtered`` the outliers, both in
    input order.

    Parameters
    ----------
    records:
        Texts or records, as :func:`sememe.dedupe` takes them (a list of str, dicts
        with the text under ``key``, a pandas Series or DataFrame with ``key``).
    outlier_fraction:
        Share of records to call outliers, in ``[0, 1]`` (SemHash's
        ``outlier_percentage``, which is a fraction too). Default 0.1.
    key:
        The field or column holding the text, or a callable record -> text.
    encoder:
        An :class:`~sememe.Encoder`, a model name or path, or None (the bundled model).
    n_neighbors:
        Neighbours averaged for each text's centrality (default 100, as SemHash).
    show_progress:
        Progress bar while encoding (None: automatic).

    Notes
    -----
    Example::

        result = sememe.filter_outliers(texts, 0.05)
        clean, odd = result.selected, result.filtered
    """
    fraction = _validate.check_float(outlier_fraction, "outlier_fraction", low=0.0, high=1.0)
    texts, container = _texts(records, key)
    scores = _record_scores(texts, encoder, n_neighbors, show_progress)
    order = np.argsort(-scores, kind="stable")  # most central first, ties in input order
    n_out = math.ceil(len(texts) * float(fraction))
    outliers = np.sort(order[len(texts) - n_out :])
    inliers = np.sort(order[: len(texts) - n_out])
    return _selection(container, scores, inliers, outliers)


def find_representative(
    records: Any,
    k: int = 10,
    *,
    diversity: float = 0.5,
    candidate_limit: int | Literal["auto"] = "auto",
    key: Any = None,
    encoder: Encoder | str | Path | None = None,
    n_neighbors: int = N_NEIGHBORS,
    show_progress: bool | None = None,
) -> Selection:
    """``k`` records that represent ``records``: central, and diverse by MMR.

    The distinct texts are ranked by centrality (mean cosine similarity to their
    ``n_neighbors`` most similar other distinct texts); the ``candidate_limit`` most
    central are re-ranked by Maximal Marginal Relevance: the most central first, then
    each time the candidate maximising ``(1 - diversity) * centrality - diversity *
    (highest cosine to one already picked)``, cosines clipped to ``[0, 1]`` (SemHash's
    ``self_find_representative`` with its default MMR strategy). ``diversity=0`` gives
    the ``k`` most central texts, in order.

    ``selected`` holds the representatives in the order picked (each a distinct text;
    of copies, the first record), ``filtered`` every other record in input order.
    Fewer than ``k`` come back when there are fewer distinct texts (or candidates).

    Parameters
    ----------
    records, key, encoder, n_neighbors, show_progress:
        As for :func:`filter_outliers`.
    k:
        Number of representatives (SemHash's ``selection_size``), at least 1.
    diversity:
        In ``[0, 1]``: 0 is pure centrality, 1 pure diversity. Default 0.5.
    candidate_limit:
        How many of the most central texts MMR chooses from; ``"auto"`` (default) is
        SemHash's rule: 10% of the distinct texts, at least ``k`` and 100, at most 1,000.
    """
    k = int(_validate.check_positive_int(k, "k"))
    lam = 1.0 - float(_validate.check_float(diversity, "diversity", low=0.0, high=1.0))
    if isinstance(candidate_limit, str):
        if candidate_limit != "auto":
            raise InvalidArgumentError(
                f"candidate_limit must be 'auto' or an int >= 1, got {candidate_limit!r}"
            )
    else:
        candidate_limit = int(_validate.check_positive_int(candidate_limit, "candidate_limit"))
    texts, container = _texts(records, key)
    unique, row_of, first = _distinct(texts)
    vectors, centrality = _centrality(unique, encoder, n_neighbors, show_progress)
    n = len(unique)
    if candidate_limit == "auto":
        limit = min(max(int(0.1 * n), k, 100), 1000, n)
    else:
        limit = min(candidate_limit, n)
    ranked = np.argsort(-centrality, kind="stable")[:limit]
    picked = _mmr(vectors[ranked], centrality[ranked].astype(np.float64), min(k, limit), lam)
    rows = ranked[picked]
    chosen = first[rows]
    rest = np.setdiff1d(np.arange(len(texts)), chosen)
    scores = centrality[row_of]
    return _selection(container, scores, chosen, rest)


# ---------------------------------------------------------------------------- helpers
def _texts(records: Any, key: Any) -> tuple[list[str], Any]:
    texts, container = texts_of(records, key, name="records")
    if not texts:
        raise InvalidArgumentError("records is empty; nothing to score")
    return texts, container


def _distinct(texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct texts, each record's row among them, and each row's first record."""
    index: dict[str, int] = {}
    row_of = np.fromiter((index.setdefault(t, len(index)) for t in texts), np.int64, len(texts))
    first = np.full(len(index), len(texts), np.int64)
    np.minimum.at(first, row_of, np.arange(len(texts)))
    return list(index), row_of, first


def _record_scores(
    texts: list[str], encoder: Any, n_neighbors: Any, show_progress: bool | None
) -> np.ndarray:
    """The centrality of each record (copies share their text's)."""
    unique, row_of, _ = _distinct(texts)
    _, centrality = _centrality(unique, encoder, n_neighbors, show_progress)
    return centrality[row_of]


def _centrality(
    unique: list[str], encoder: Any, n_neighbors: Any, show_progress: bool | None
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors of the distinct texts and each one's mean cosine to its nearest others.

    A collection of one distinct text has nothing to compare with: its centrality is 1.
    Blank texts have zero vectors, so cosine 0 with everything.
    """
    n_neighbors = int(_validate.check_positive_int(n_neighbors, "n_neighbors"))
    if show_progress is not None and not isinstance(show_progress, bool):
        raise InvalidTypeError(
            f"show_progress must be None or a bool, got {type(show_progress).__name__}"
        )
    enc = resolve_encoder(encoder)
    vectors = np.ascontiguousarray(
        enc.encode(unique, normalize=True, show_progress=show_progress), np.float32
    )
    n = len(unique)
    if n == 1:
        return vectors, np.ones(1, np.float32)
    k = min(n_neighbors, n - 1)
    out = np.empty(n, np.float32)
    step = max(1, min(1024, _BLOCK_ENTRIES // n))
    for s in range(0, n, step):
        sims = vectors[s : s + step] @ vectors.T
        rows = np.arange(len(sims))
        sims[rows, s + rows] = -np.inf  # not its own neighbour
        top = np.partition(sims, n - k, axis=1)[:, n - k :]
        out[s : s + step] = top.mean(axis=1, dtype=np.float64)
    return vectors, out


def _mmr(vectors: np.ndarray, relevance: np.ndarray, k: int, lam: float) -> np.ndarray:
    """Greedy Maximal Marginal Relevance: ``k`` row indices, in the order picked.

    The first pick is the most relevant; then each step takes the row maximising
    ``lam * relevance - (1 - lam) * max cosine to the picked rows`` (cosines clipped to
    ``[0, 1]``, as pyversity does for SemHash). Ties go to the earlier row.
    """
    n = len(vectors)
    picked = np.empty(k, np.int64)
    taken = np.zeros(n, bool)
    closest = np.full(n, -np.inf)
    best = int(np.argmax(relevance))
    for step in range(k):
        if step:
            sims = np.clip(vectors @ vectors[best], 0.0, 1.0).astype(np.float64)
            np.maximum(closest, sims, out=closest)
            gain = lam * relevance - (1.0 - lam) * closest
            gain[taken] = -np.inf
            best = int(np.argmax(gain))
        picked[step] = best
        taken[best] = True
    return picked


def _selection(
    container: Any, scores: np.ndarray, selected: np.ndarray, filtered: np.ndarray
) -> Selection:
    selected = np.asarray(selected, np.int64)
    filtered = np.asarray(filtered, np.int64)
    return Selection(
        selected=_take(container, selected),
        filtered=_take(container, filtered),
        selected_indices=selected,
        filtered_indices=filtered,
        scores_selected=scores[selected].astype(np.float32),
        scores_filtered=scores[filtered].astype(np.float32),
    )


def _take(container: Any, rows: np.ndarray) -> Any:
    """The records at ``rows`` in the input's type (see :func:`select_records`)."""
    return select_records(container, rows)
