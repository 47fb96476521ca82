"""sememe._vectors: the one row normaliser and the one spherical k-means.

Clustering and dedupe's cells both call them; each caller must still hand FAISS exactly
the arguments it did before the two copies were merged, so its centroids are unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from sememe import _vectors
from sememe._vectors import spherical_kmeans, unit_rows

faiss = pytest.importorskip("faiss")


def _points(n: int = 600, dim: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return unit_rows(rng.standard_normal((n, dim)).astype(np.float32))


def test_unit_rows_unit_length_and_float32() -> None:
    x = np.random.default_rng(1).standard_normal((50, 8))  # float64 in
    out = unit_rows(x)
    assert out.dtype == np.float32
    assert out.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)


def test_unit_rows_zero_rows_stay_zero() -> None:
    x = np.zeros((3, 4), np.float32)
    x[1] = [3.0, 4.0, 0.0, 0.0]
    out = unit_rows(x)
    assert not np.isnan(out).any()
    assert np.array_equal(out[0], np.zeros(4, np.float32))
    assert np.array_equal(out[2], np.zeros(4, np.float32))
    np.testing.assert_allclose(out[1], [0.6, 0.8, 0.0, 0.0], rtol=1e-6)


def test_unit_rows_does_not_alias_its_input() -> None:
    x = np.array([[2.0, 0.0], [0.0, 1.0]], np.float32)  # second row is unit already
    before = x.copy()
    out = unit_rows(x)
    assert out is not x
    assert not np.shares_memory(out, x)
    out[:] = 7.0
    assert np.array_equal(x, before)


def test_unit_rows_of_no_rows() -> None:
    out = unit_rows(np.zeros((0, 5), np.float32))
    assert out.shape == (0, 5)
    assert out.dtype == np.float32


def test_spherical_kmeans_returns_unit_centroids() -> None:
    c = spherical_kmeans(_points(), 7, seed=3, niter=10)
    assert c.shape == (7, 16)
    assert c.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0, rtol=1e-5)


def test_clustering_kmeans_equals_its_old_faiss_call() -> None:
    """clustering: k-means++ start, 25 iterations, 256 points per centroid, weights, restarts."""
    from sememe import clustering

    x = _points(900)
    weights = np.random.default_rng(5).integers(1, 4, len(x)).astype(np.float32)
    km = faiss.Kmeans(
        x.shape[1],
        6,
        niter=clustering._KMEANS_ITERATIONS,
        seed=11,
        nredo=2,
        spherical=True,
        min_points_per_centroid=1,
        max_points_per_centroid=256,
        init_method=faiss.ClusteringInitMethod_KMEANS_PLUS_PLUS,
        verbose=False,
    )
    km.train(x, weights=weights)
    expected = unit_rows(km.centroids)
    centroids, labels = clustering._spherical_kmeans(x, weights, 6, 11, 2)
    assert np.array_equal(centroids, expected)
    assert np.array_equal(labels, np.argmax(x @ expected.T, axis=1))


def test_clustering_one_cluster_is_the_weighted_mean_direction() -> None:
    from sememe import clustering

    x = _points(40)
    weights = np.arange(1, 41, dtype=np.float32)
    centroids, labels = clustering._spherical_kmeans(x, weights, 1, 0)
    assert np.array_equal(centroids, unit_rows(np.average(x, axis=0, weights=weights)[None, :]))
    assert set(labels.tolist()) == {0}


def test_dedupe_cells_kmeans_equals_its_old_faiss_call() -> None:
    """dedupe's cells: random start, 8 iterations, no sampling, no weights, one run."""
    from sememe.deduplication import _search

    x = _points(700, seed=2)
    km = faiss.Kmeans(
        x.shape[1],
        9,
        niter=8,
        spherical=True,
        seed=4,
        min_points_per_centroid=1,
        max_points_per_centroid=1 << 30,
    )
    km.train(np.ascontiguousarray(x, dtype=np.float32))
    assert np.array_equal(_search._kmeans(x, 9, 4), unit_rows(km.centroids))


def test_dedupe_cells_kmeans_with_more_cells_than_points_is_the_points() -> None:
    from sememe.deduplication import _search

    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    assert np.array_equal(_search._kmeans(x, 5, 0), unit_rows(x))


def test_no_other_copy_of_spherical_kmeans() -> None:
    """faiss.Kmeans is called in _vectors only (one place to change its arguments):
    spherical_kmeans for clustering and dedupe, euclidean_kmeans for quantization."""
    from pathlib import Path

    src = Path(_vectors.__file__).parent
    callers = sorted(
        str(p.relative_to(src)) for p in src.rglob("*.py") if "faiss.Kmeans(" in p.read_text()
    )
    assert callers == ["_vectors.py"]
