"""Range search for near duplicates: every pair of vectors with cosine similarity >= t.

Comparing all pairs costs ``n^2`` dot products, about a minute for 100,000 texts
and hours for a million, so large inputs take two steps:

1. **Candidates.** Vectors are grouped into cells around k-means centroids (about
   ``cell_size`` vectors per cell). Each vector is compared only with the vectors of
   the ``nprobe`` cells whose centroids are nearest to it; a cell's comparisons are
   one matrix product. When the model is Matryoshka-trained (``matryoshka_dims`` in
   its config), cells and comparisons use a short prefix of the vectors
   (64 dimensions) with a looser threshold (the cosine *distance* allowed is
   ``SCREEN_MARGIN`` times larger), which is four times cheaper.
2. **Verification.** Every candidate pair is re-scored with the full float vectors
   and kept only if its exact cosine similarity is >= t, so no reported pair is
   wrong (precision 1). A true pair is missed only when neither vector's probed
   cells hold the other, or the prefix understates it by more than the margin;
   on the benchmark corpus that is about 1 pair in 1,000 (see docs/dedupe.md).

The vocabulary is FAISS's: the cells are an inverted file (``search="ivf"``, or a factory
string ``"IVF"``/``"IVF1024,Flat"``), ``nlist`` is the number of cells (by default one per
``CELL_SIZE`` stored vectors, re-chosen as the index grows) and ``nprobe`` the cells probed
per vector; ``"Flat"`` is the exact all-pairs search. The old spellings ``search="cells"``
and ``cell_size=`` still work, with a :class:`DeprecationWarning` (:func:`search_settings`).

Small inputs (up to ``exact_limit`` vectors), and any input with
``search="exact"``, are compared all against all in blocks: the exact answer.
Both paths score pairs with the same float32 dot product, so they agree exactly
on every pair they both report.

The index grows: :meth:`CellIndex.add` files new vectors into the existing cells, and
the cells are re-trained only when the index has grown fourfold since they were
trained (amortised constant work per vector), so a stream can be deduplicated
batch by batch against everything kept so far.
"""

from __future__ import annotations

import math
import os
import re
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

import numpy as np

from .. import _progress
from .._validate import check_positive_int
from .._vectors import spherical_kmeans, unit_rows
from ..errors import InvalidArgumentError

#: ``"cells"`` is the deprecated name of ``"ivf"``; FAISS factory strings are also accepted.
SearchMode = Literal["auto", "exact", "ivf", "cells"] | str
#: The search modes, by their current names.
SEARCH_MODES = ("auto", "exact", "ivf")
T = TypeVar("T")
R = TypeVar("R")

#: Below this many stored vectors, search compares everything (exact, and fast enough).
EXACT_LIMIT = 8192
#: Default vectors per cell and cells probed per query.
CELL_SIZE = 128
NPROBE = 12
#: Screening on a Matryoshka prefix allows this many times the cosine distance ``1 - t``.
#: On the benchmark corpus the prefix distance of true pairs is at most 1.65 times the
#: full distance, so 2.0 leaves a margin.
SCREEN_MARGIN = 2.0
#: Prefix length used for screening when the model declares it (``matryoshka_dims``).
SCREEN_DIM = 64
#: Prefix thresholds below this flood the candidates; cells then score full vectors.
SCREEN_MIN_THRESHOLD = 0.5

#: Similarities within this of the threshold count as reaching it: float32 rounding makes
#: the cosine of a vector with itself 1 +- 1e-7, and identical texts must match at 1.0.
TOLERANCE = 1e-6

#: The cell search falls back to comparing all pairs (in blocks) when its candidate work
#: would exceed this share of all pairs: cells crowded by a dense neighbourhood.
DENSE_FALLBACK = 0.5
#: ... or when the candidates that pass the screen exceed this share of all pairs.
DENSE_CANDIDATES = 1 / 16
#: Neither fallback applies below this many pairs (all pairs are cheap there anyway).
DENSE_MIN_PAIRS = 1 << 22

_BLOCK = 4096
_FLAT_LIMIT = 1024  # up to this many cells, probes come from one flat centroid table
#: Coarse centroids whose fine centroids are scanned for a vector's nearest cells.
COARSE_PROBE = 8


_FACTORY = re.compile(r"IVF(\d+)?(,Flat)?")


def search_settings(
    search: str, nlist: int | None = None, cell_size: int | None = None, *, warn: bool = True
) -> tuple[str, int | None, int]:
    """``(mode, nlist, cell_size)`` for the public ``search``/``nlist``/``cell_size`` arguments.

    ``mode`` is one of :data:`SEARCH_MODES`. ``search`` may be a mode, a FAISS factory string
    (``"Flat"``: exact; ``"IVF"``, ``"IVF<nlist>"`` or ``"IVF<nlist>,Flat"``: cells, with
    that many), or the deprecated ``"cells"`` (``"ivf"``). ``cell_size`` (deprecated: use
    ``nlist``) sets the vectors per cell when ``nlist`` is not given. With ``warn``, the
    deprecated spellings raise a :class:`DeprecationWarning` at the caller's caller.
    """
    if nlist is not None:
        nlist = check_positive_int(nlist, "nlist")
    if cell_size is None:
        cell_size = CELL_SIZE
    else:
        cell_size = check_positive_int(cell_size, "cell_size")
        if warn:
            warnings.warn(
                "cell_size is deprecated and will be removed in the next release; pass "
                "nlist=<number of cells> (FAISS's name), or leave it out for one cell per "
                f"{CELL_SIZE} vectors",
                DeprecationWarning,
                stacklevel=3,
            )
    if search == "cells":
        if warn:
            warnings.warn(
                "search='cells' is deprecated and will be removed in the next release; use "
                "search='ivf' (or a FAISS factory string such as 'IVF1024,Flat')",
                DeprecationWarning,
                stacklevel=3,
            )
        return "ivf", nlist, cell_size
    if search in SEARCH_MODES:
        return str(search), nlist, cell_size
    if search == "Flat":
        return "exact", nlist, cell_size
    match = _FACTORY.fullmatch(search) if isinstance(search, str) else None
    if match is None:
        raise InvalidArgumentError(
            f"search must be one of 'auto', 'exact', 'ivf', or a FAISS factory string "
            f"('Flat', 'IVF', 'IVF<nlist>,Flat'), got {search!r}"
        )
    if match.group(1) is not None:
        given = check_positive_int(int(match.group(1)), "search's nlist")
        if nlist is not None and nlist != given:
            raise InvalidArgumentError(
                f"search={search!r} asks for {given} cells but nlist={nlist}; give one of them"
            )
        nlist = given
    return "ivf", nlist, cell_size


def choose_screen_dim(dim: int, matryoshka_dims: list[int] | tuple[int, ...] = ()) -> int:
    """The prefix used for candidates: ``SCREEN_DIM`` if the model was trained for it, else ``dim``."""
    if dim > SCREEN_DIM and SCREEN_DIM in set(matryoshka_dims):
        return SCREEN_DIM
    return dim


def _threads() -> int:
    return max(1, min(8, os.cpu_count() or 1))


class _single_threaded_libraries:
    """Run BLAS and faiss on one thread each inside; we parallelise over blocks instead.

    OpenBLAS spreads even tiny products over all cores, and faiss's OpenMP loops spin
    at every barrier; on a busy machine either costs far more than the work itself
    (k-means ran 20x slower with two OpenMP threads than with one when other jobs
    shared the cores). Python threads over independent blocks degrade gracefully.
    """

    def __enter__(self) -> _single_threaded_libraries:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
            self._limits = None
        else:
            self._limits = threadpool_limits(1, user_api="blas")
        import faiss

        self._omp = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        return self

    def __exit__(self, *exc: object) -> None:
        import faiss

        faiss.omp_set_num_threads(self._omp)
        if self._limits is not None:
            self._limits.restore_original_limits()


def parallel(fn: Callable[[T], R], items: list[T]) -> list[R]:
    """``[fn(item) for item in items]`` on a few threads, each product on one BLAS thread.

    numpy releases the GIL inside matrix products, so threads give real parallelism.
    """
    n_workers = min(_threads(), len(items))
    with _single_threaded_libraries():
        if n_workers <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(n_workers) as pool:
            return list(pool.map(fn, items))


def _kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Spherical k-means centroids (unit rows) of the rows of ``x``; ``k >= len(x)``: ``x``.

    Eight iterations from a random start on every point (no sampling): cells need only
    roughly balanced, nearby groups, not converged clusters.
    """
    if k >= len(x):
        return unit_rows(x)
    return spherical_kmeans(x, k, seed=seed, niter=8, max_points_per_centroid=1 << 30)


def _top_columns(scores: np.ndarray, p: int) -> np.ndarray:
    """Column indices of the ``p`` largest entries of each row (unordered)."""
    if p >= scores.shape[1]:
        return np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    if p == 1:
        return np.argmax(scores, axis=1)[:, None]
    return np.argpartition(-scores, p - 1, axis=1)[:, :p]


class _Cells:
    """Cell centroids (``fine``), found directly or, above ``_FLAT_LIMIT`` cells, in two levels.

    A vector's cell is its nearest fine centroid. With two levels the fine centroids are
    trained per ``coarse`` centroid and filed in a FAISS IVF list by their nearest coarse
    centroid; probing scans only the lists of the ``COARSE_PROBE`` nearest coarse
    centroids, so finding the cells of a million vectors costs several hundred dot
    products each instead of one per cell.
    """

    def __init__(self, coarse: np.ndarray, fine: list[np.ndarray]) -> None:
        self.coarse = coarse
        self.fine = fine
        sizes = np.array([len(f) for f in fine], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.n_cells = int(self.offsets[-1])
        self.flat = np.concatenate(fine) if fine else np.zeros((0, coarse.shape[1]), np.float32)
        self._ivf = None

    @classmethod
    def train(cls, x: np.ndarray, n_cells: int, seed: int) -> _Cells:
        rng = np.random.default_rng(seed)
        sample = x[np.sort(rng.choice(len(x), min(len(x), max(16 * n_cells, 4096)), replace=False))]
        if n_cells <= _FLAT_LIMIT:
            centroids = parallel(lambda _: _kmeans(sample, n_cells, seed), [0])[0]
            return cls(np.zeros((1, x.shape[1]), np.float32), [centroids])
        n_coarse = round(math.sqrt(n_cells))
        coarse = parallel(lambda _: _kmeans(sample, n_coarse, seed), [0])[0]
        label = np.argmax(sample @ coarse.T, axis=1)
        keep = [c for c in range(len(coarse)) if np.any(label == c)]

        def fine_centroids(c: int) -> np.ndarray:
            members = sample[label == c]
            return _kmeans(members, max(1, round(n_cells * len(members) / len(sample))), seed)

        return cls(coarse[keep], parallel(fine_centroids, keep))

    def probe(self, x: np.ndarray, p: int) -> np.ndarray:
        """``(len(x), p')`` cell ids, nearest first in column 0 (``p' = min(p, n_cells)``)."""
        p = min(p, self.n_cells)
        if len(self.fine) > 1:
            return self._probe_two_level(x, p)
        out = np.empty((len(x), p), np.int64)

        def work(start: int) -> None:
            scores = x[start : start + _BLOCK] @ self.flat.T
            out[start : start + _BLOCK] = _ordered_top(scores, _top_columns(scores, p))

        parallel(work, list(range(0, len(x), _BLOCK)))
        return out

    def _probe_two_level(self, block: np.ndarray, p: int) -> np.ndarray:
        """Top-``p`` fine centroids among those of the nearest coarse centroids (faiss IVF)."""
        if self._ivf is None:
            import faiss

            quantizer = faiss.IndexFlatIP(self.coarse.shape[1])
            quantizer.add(self.coarse)
            ivf = faiss.IndexIVFFlat(
                quantizer, self.coarse.shape[1], len(self.coarse), faiss.METRIC_INNER_PRODUCT
            )
            ivf.is_trained = True
            ivf.add(self.flat)
            ivf.referenced_objects = [quantizer]
            self._ivf = ivf
        self._ivf.nprobe = min(len(self.coarse), COARSE_PROBE)
        block = np.ascontiguousarray(block)
        step = 4 * _BLOCK
        parts = parallel(
            lambda s: self._ivf.search(block[s : s + step], p)[1], list(range(0, len(block), step))
        )
        ids = np.concatenate(parts) if parts else np.zeros((0, p), np.int64)
        missing = ids < 0  # fewer than p centroids in the probed lists: repeat the nearest
        if missing.any():
            ids[missing] = np.broadcast_to(np.maximum(ids[:, :1], 0), ids.shape)[missing]
        return ids.astype(np.int64)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"coarse": self.coarse, "fine": self.flat, "fine_offsets": self.offsets}

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> _Cells:
        off = a["fine_offsets"]
        fine = [a["fine"][off[i] : off[i + 1]] for i in range(len(off) - 1)]
        return cls(a["coarse"], fine)


def _ordered_top(scores: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Reorder each row of column indices ``top`` by decreasing score."""
    vals = np.take_along_axis(scores, top, 1)
    return np.take_along_axis(top, np.argsort(-vals, axis=1, kind="stable"), 1)


class CellIndex:
    """A growing set of unit vectors that answers "which stored vectors are >= t from x".

    Parameters
    ----------
    dim:
        Length of the vectors.
    screen_dim:
        Prefix length used for cells and candidate scoring (``dim`` for none).
    search:
        ``"auto"`` compares all pairs while the index holds at most ``exact_limit``
        vectors and uses cells above; ``"exact"`` always compares all pairs;
        ``"ivf"`` (or ``"cells"``, its old name) always uses cells.
    cell_size, nprobe:
        Average vectors per cell and cells probed per query: more probes, higher
        recall, proportionally more work.
    nlist:
        Number of cells, fixed (at most one per stored vector); ``None``: one per
        ``cell_size`` stored vectors.
    seed:
        Seed of the k-means sampling, so results are reproducible.
    """

    def __init__(
        self,
        dim: int,
        screen_dim: int | None = None,
        *,
        search: SearchMode = "auto",
        cell_size: int = CELL_SIZE,
        nprobe: int = NPROBE,
        nlist: int | None = None,
        exact_limit: int = EXACT_LIMIT,
        seed: int = 0,
    ) -> None:
        search, nlist, cell_size = search_settings(search, nlist, cell_size, warn=False)
        nprobe = check_positive_int(nprobe, "nprobe")
        self.dim = dim
        self.screen_dim = dim if screen_dim is None else screen_dim
        self.search_mode = search
        self.cell_size = cell_size
        self.nprobe = nprobe
        self.nlist = nlist
        self.exact_limit = exact_limit
        self.seed = seed
        self._full = np.zeros((0, dim), np.float32)
        self._screen = np.zeros((0, self.screen_dim), np.float32)
        self._n = 0
        self._cells: _Cells | None = None
        self._cell_of = np.zeros(0, np.int64)
        self._members: list[np.ndarray] = []
        self._probes = np.zeros((0, nprobe), np.int32)
        self._trained_at = 0
        #: how many searches fell back to all pairs because the cells were crowded
        self.dense_fallbacks = 0

    def __len__(self) -> int:
        return self._n

    @property
    def vectors(self) -> np.ndarray:
        """The stored full vectors, row ``i`` for the ``i``-th added."""
        return self._full[: self._n]

    @property
    def uses_cells(self) -> bool:
        return self._cells is not None

    # ------------------------------------------------------------------ adding
    def add(self, vectors: np.ndarray) -> np.ndarray:
        """Store unit ``vectors``; returns their row numbers.

        The first call keeps ``vectors`` itself (no copy) when it is float32 and
        C-contiguous: do not modify it afterwards.
        """
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        start, m = self._n, len(vectors)
        if start == 0 and m >= len(self._full):
            self._full = vectors  # adopt the caller's array: no copy of a large input
            self._screen = self._prefix(vectors)
        else:
            self._full = _grow(self._full, start + m)
            self._screen = _grow(self._screen, start + m)
            self._full[start : start + m] = vectors
            self._screen[start : start + m] = self._prefix(vectors)
        self._n += m
        rows = np.arange(start, start + m, dtype=np.int64)
        if self._wants_cells():
            if self._cells is None or self._n > 4 * self._trained_at:
                self._train()
            else:
                self._file(rows)
        return rows

    def _wants_cells(self) -> bool:
        if self.search_mode == "exact":
            return False
        if self.search_mode == "ivf":
            return self._n > 0
        return self._n > self.exact_limit

    def _prefix(self, vectors: np.ndarray) -> np.ndarray:
        if self.screen_dim == self.dim:
            return vectors
        return unit_rows(vectors[:, : self.screen_dim])

    def _train(self) -> None:
        screen = self._screen[: self._n]
        if self.nlist is None:
            n_cells = max(1, self._n // self.cell_size)
        else:
            n_cells = min(self.nlist, self._n)
        with _progress.ticking("searching pairs: training cells"):
            self._cells = _Cells.train(screen, n_cells, self.seed)
        self._trained_at = self._n
        self._cell_of = np.zeros(0, np.int64)
        self._members = [np.zeros(0, np.int64) for _ in range(self._cells.n_cells)]
        # Probe every stored vector once: column 0 files it, all columns serve self_pairs.
        self._probes = self._cells.probe(screen, self.nprobe).astype(np.int32)
        self._file(np.arange(self._n, dtype=np.int64), self._probes[:, 0])

    def _file(self, rows: np.ndarray, cell: np.ndarray | None = None) -> None:
        assert self._cells is not None
        if cell is None:
            cell = self._cells.probe(self._screen[rows], 1)[:, 0]
        cell = cell.astype(np.int64)
        self._cell_of = np.concatenate([self._cell_of, cell])
        order = np.argsort(cell, kind="stable")
        bounds = np.searchsorted(cell[order], np.arange(self._cells.n_cells + 1))
        for c in np.flatnonzero(np.diff(bounds)):
            self._members[c] = np.concatenate(
                [self._members[c], rows[order[bounds[c] : bounds[c + 1]]]]
            )

    # ------------------------------------------------------------------ searching
    def screen_threshold(self, threshold: float) -> float:
        """Candidate threshold on the prefix for a final ``threshold``."""
        if self.screen_dim == self.dim:
            return threshold
        return 1.0 - SCREEN_MARGIN * (1.0 - threshold)

    def search(
        self, queries: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All (query, stored row) pairs with cosine >= ``threshold``.

        Returns ``(query_index, row, similarity)`` arrays, unsorted.
        """
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if not len(queries) or not self._n:
            return _empty()
        with _progress.phase("searching pairs") as bar:  # each method sets its own count
            if self._cells is None:
                return self._exact(queries, np.arange(self._n), threshold, bar)
            screen = self._prefix(queries)
            # One-sided (only the query probes): twice the probes of a self-join for its recall.
            probes = self._cells.probe(screen, 2 * self.nprobe)
            return self._join(queries, screen, probes, threshold, self_join=False, bar=bar)

    def self_pairs(self, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All pairs ``a < b`` of stored rows with cosine >= ``threshold``."""
        if self._n < 2:
            return _empty()
        with _progress.phase("searching pairs") as bar:  # each method sets its own count
            if self._cells is None:
                return self._exact_self(threshold, bar)
            screen = self._screen[: self._n]
            cached = len(self._probes)
            probes = self._probes
            if cached < self._n:
                more = self._cells.probe(screen[cached:], self.nprobe).astype(np.int32)
                probes = self._probes = np.concatenate([probes, more])
            probes = probes.astype(np.int64)
            # A stored vector's own cell must be probed, else pairs in one cell could be missed.
            probes[:, 0] = self._cell_of
            return self._join(self.vectors, screen, probes, threshold, self_join=True, bar=bar)

    def _verify(
        self, q: np.ndarray, qi: np.ndarray, rows: np.ndarray, threshold: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Keep the pairs whose full-vector cosine is >= ``threshold`` (the final word)."""
        step = 1 << 16

        def work(s: int) -> np.ndarray:
            return np.einsum("ij,ij->i", q[qi[s : s + step]], self._full[rows[s : s + step]])

        parts = parallel(work, list(range(0, len(qi), step)))
        sims = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        ok = sims >= threshold - TOLERANCE
        return qi[ok], rows[ok], sims[ok]

    def _exact(
        self, queries: np.ndarray, rows: np.ndarray, threshold: float, bar: Any = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Compare ``queries`` with stored ``rows`` all against all (the exact answer);
        ``bar`` (a progress bar) counts the queries done."""
        stored = self._full[rows]
        out = []
        slack = 1e-4  # products of blocks and of single pairs may differ in the last bits
        _restart(bar, len(queries), "vector")
        for s in range(0, len(queries), _BLOCK):
            scores = queries[s : s + _BLOCK] @ stored.T
            flat = np.flatnonzero(scores >= threshold - slack)
            qi, ri = np.divmod(flat, len(rows))
            out.append(self._verify(queries, qi + s, rows[ri], threshold))
            if bar is not None:
                bar.update(len(scores))
        return _concat(out)

    def _exact_self(
        self, threshold: float, bar: Any = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        full = self.vectors
        out = []
        slack = 1e-4
        # block s compares its rows with rows s: (about a triangle): count the products
        n = self._n
        _restart(bar, sum(min(_BLOCK, n - s) * (n - s) for s in range(0, n, _BLOCK)), "pair")
        for s in range(0, self._n, _BLOCK):
            scores = full[s : s + _BLOCK] @ full[s:].T
            flat = np.flatnonzero(scores >= threshold - slack)
            a, b = np.divmod(flat, self._n - s)
            a, b = a + s, b + s
            upper = a < b
            out.append(self._verify(full, a[upper], b[upper], threshold))
            if bar is not None:
                bar.update(int(scores.size))
        return _concat(out)

    def _join(
        self,
        queries: np.ndarray,
        screen: np.ndarray,
        probes: np.ndarray,
        threshold: float,
        *,
        self_join: bool,
        bar: Any = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Score each query against the members of its probed cells, one product per cell;
        ``bar`` (a progress bar) counts the cells done."""
        n_q, p = probes.shape
        cell = probes.ravel()
        query = np.repeat(np.arange(n_q, dtype=np.int64), p)
        order = np.argsort(cell, kind="stable")
        assert self._cells is not None
        bounds = np.searchsorted(cell[order], np.arange(self._cells.n_cells + 1))
        busy = [c for c in np.flatnonzero(np.diff(bounds)).tolist() if len(self._members[c])]
        # Dense neighbourhoods (near-identical texts) crowd a few cells; probing them costs
        # more dot products than comparing everything. Then compare everything, in blocks.
        sizes = np.array([len(self._members[c]) for c in busy], np.int64)
        work = int(np.diff(bounds)[busy] @ sizes) if busy else 0
        everything = self._n * (self._n - 1) // 2 if self_join else n_q * self._n
        worth_it = everything >= DENSE_MIN_PAIRS  # small inputs: keep the cells (and tests) honest
        if worth_it and work > DENSE_FALLBACK * everything:
            self.dense_fallbacks += 1
            if self_join:
                return self._exact_self(threshold, bar)
            return self._exact(queries, np.arange(self._n), threshold, bar)
        screen_t = self.screen_threshold(threshold)
        stored = self._screen
        if screen_t < SCREEN_MIN_THRESHOLD:  # a loose prefix test floods candidates: use all dims
            screen, stored, screen_t = queries, self._full, threshold

        def work(cells: list[int]) -> tuple[np.ndarray, np.ndarray]:
            qs_out, rows_out = [], []
            for c in cells:
                qs = query[order[bounds[c] : bounds[c + 1]]]
                members = self._members[c]
                scores = screen[qs] @ stored[members].T
                flat = np.flatnonzero(scores >= screen_t - 1e-4)
                if flat.size:
                    qi, mi = np.divmod(flat, len(members))
                    qs_out.append(qs[qi])
                    rows_out.append(members[mi])
            if bar is not None:
                with lock:  # workers report as they finish
                    bar.update(len(cells))
            if not qs_out:
                return np.zeros(0, np.int64), np.zeros(0, np.int64)
            return np.concatenate(qs_out), np.concatenate(rows_out)

        lock = threading.Lock()
        _restart(bar, len(busy), "cell")
        n_chunks = 4 * _threads()
        parts = parallel(work, [busy[i::n_chunks] for i in range(n_chunks)])
        qi = np.concatenate([a for a, _ in parts])
        rows = np.concatenate([b for _, b in parts])
        if worth_it and len(qi) > DENSE_CANDIDATES * everything:
            # Nearly everything passes the screen: a dense neighbourhood, where the cells
            # also miss pairs (neighbours spread over more cells than are probed). Blocked
            # all-pairs products are then both faster and exact.
            self.dense_fallbacks += 1
            del qi, rows, parts
            if self_join:
                return self._exact_self(threshold, bar)
            return self._exact(queries, np.arange(self._n), threshold, bar)
        if self_join:
            a, b = np.minimum(qi, rows), np.maximum(qi, rows)
            keep = a < b
            key = _sorted_unique(a[keep] * self._n + b[keep])
        else:
            key = _sorted_unique(qi * self._n + rows)
        qi, rows = np.divmod(key, self._n)
        return self._verify(queries, qi, rows, threshold)

    # ------------------------------------------------------------------ persistence
    def arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild this index with :meth:`from_arrays`."""
        out = {"vectors": self.vectors, "trained_at": np.array(self._trained_at)}
        if self._cells is not None:
            out.update(self._cells.arrays())
            out["cell_of"] = self._cell_of
        return out

    def load_arrays(self, a: dict[str, np.ndarray]) -> None:
        """Restore the state saved by :meth:`arrays` (same parameters assumed)."""
        vectors = np.asarray(a["vectors"], np.float32)
        self._full = np.ascontiguousarray(vectors)
        self._screen = self._prefix(self._full) if len(vectors) else self._screen[:0]
        self._n = len(vectors)
        self._trained_at = int(a["trained_at"])
        if "coarse" in a:
            self._cells = _Cells.from_arrays(a)
            self._cell_of = np.asarray(a["cell_of"], np.int64)
            order = np.argsort(self._cell_of, kind="stable")
            bounds = np.searchsorted(self._cell_of[order], np.arange(self._cells.n_cells + 1))
            self._members = [order[bounds[c] : bounds[c + 1]] for c in range(self._cells.n_cells)]


def _restart(bar: Any, total: int, unit: str) -> None:
    """Point a progress bar (if any) at a new count: a search may change its method
    (cells, then all pairs after a dense fallback), and each counts its own units."""
    if bar is not None:
        bar.unit = unit
        bar.reset(total=total)


def _sorted_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique`` of an int array by sorting (numpy's hash-based unique is far slower
    on tens of millions of keys)."""
    x = np.sort(x)
    return x[np.r_[True, x[1:] != x[:-1]]] if len(x) else x


def _grow(buf: np.ndarray, size: int) -> np.ndarray:
    """``buf`` with room for ``size`` rows (capacity grows by half: appends amortised O(1))."""
    if size <= len(buf):
        return buf
    new = np.empty((max(size, len(buf) + len(buf) // 2, 1024), buf.shape[1]), buf.dtype)
    new[: len(buf)] = buf
    return new


def _empty() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)


def _concat(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not parts:
        return _empty()
    return (
        np.concatenate([p[0] for p in parts]).astype(np.int64),
        np.concatenate([p[1] for p in parts]).astype(np.int64),
        np.concatenate([p[2] for p in parts]).astype(np.float32),
    )
