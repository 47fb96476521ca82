"""Row normalisation and spherical k-means, shared by clustering and dedupe's cells.

Both capabilities compare unit vectors by their dot product and both group them around
FAISS spherical k-means centroids. Keeping one copy of each here means a centroid or a
unit row is computed the same way wherever it is used (issue 14: there were two of each).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

KMeansInit = Literal["random", "k-means++"]
"""How FAISS seeds the centroids: uniformly random points, or k-means++."""

_TINY = 1e-12
"""Rows shorter than this are divided by it instead of by their norm (they stay tiny)."""


def unit_rows(x: np.ndarray) -> np.ndarray:
    """A new C-contiguous float32 array: the rows of ``x`` scaled to unit length.

    An all-zero row stays zero (and a row shorter than ``1e-12`` stays that short)
    instead of becoming NaN. The input is never modified, even when it already is
    float32, because callers go on using their raw vectors.
    """
    x = np.asarray(x, np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, _TINY), dtype=np.float32)


def spherical_kmeans(
    x: np.ndarray,
    k: int,
    *,
    seed: int,
    niter: int,
    weights: np.ndarray | None = None,
    n_init: int = 1,
    max_points_per_centroid: int = 256,
    init: KMeansInit = "random",
) -> np.ndarray:
    """FAISS spherical k-means of the rows of ``x``: ``k`` unit centroids, float32.

    ``x`` needs at least ``k`` rows (FAISS's rule). ``weights`` weighs each row (a
    distinct text standing for its copies); ``n_init`` restarts keep the best
    objective; above ``max_points_per_centroid * k`` rows FAISS trains on a random
    sample of that size. Every cluster may be as small as one point (FAISS would
    otherwise warn about and still use tiny clusters). FAISS already normalises the
    centroids of a spherical run; :func:`unit_rows` makes the rows exactly the ones
    the rest of sememe computes for a unit vector.
    """
    import faiss

    options: dict[str, object] = {}
    if init == "k-means++":
        options["init_method"] = faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS
    km = faiss.Kmeans(
        x.shape[1],
        int(k),
        niter=int(niter),
        seed=int(seed),
        nredo=int(n_init),
        spherical=True,
        min_points_per_centroid=1,
        max_points_per_centroid=int(max_points_per_centroid),
        verbose=False,
        **options,
    )
    km.train(np.ascontiguousarray(x, dtype=np.float32), weights=weights)
    return unit_rows(km.centroids)


def euclidean_kmeans(
    x: np.ndarray, k: int, *, seed: int, niter: int = 25
) -> tuple[np.ndarray, np.ndarray]:
    """FAISS Euclidean k-means of the rows of ``x`` on every row: ``(centres, labels)``.

    Centres are float32 and not normalised; each row is labelled with its nearest centre.
    Used by vocabulary quantization (:mod:`sememe.quantization`), which clusters a
    table's row directions and must train on all rows (no sampling).
    """
    import faiss

    x = np.ascontiguousarray(x, dtype=np.float32)
    km = faiss.Kmeans(
        x.shape[1],
        int(k),
        niter=int(niter),
        seed=int(seed),
        min_points_per_centroid=1,
        max_points_per_centroid=max(1, -(-len(x) // int(k))),
        verbose=False,
    )
    km.train(x)
    _, labels = km.index.search(x, 1)
    return np.ascontiguousarray(km.centroids, np.float32), labels[:, 0].astype(np.int32)
