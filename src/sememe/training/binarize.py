"""Make a table's sign bits informative without changing what its float vectors rank.

Two exact transformations of a weighted-mean table (pooling is affine in the rows):

* centring: subtracting the mean sentence vector ``mu`` from every row subtracts it from
  every pooled vector, so each dimension's sign splits the corpus rather than being almost
  always 1 or 0;
* block rotations (iterative quantisation, Gong & Lazebnik 2011): an orthogonal rotation
  within each Matryoshka block (``[0, 64)``, ``[64, 128)``, ...) leaves every prefix cosine
  unchanged but turns the block so that sign() loses as little as possible.

Centring does change float cosines (it removes the component every text shares); the
rotations do not. A PCA-made table (see :mod:`.merge`) needs the rotations most: its columns
have very unequal variance, so the sign bits of its last columns carry little but noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def itq_rotation(x: np.ndarray, iterations: int = 50, seed: int = 0) -> np.ndarray:
    """Orthogonal R (d, d) minimising ``||sign(x R) - x R||`` for row-normalised ``x``."""
    d = x.shape[1]
    rng = np.random.default_rng(seed)
    r, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    for _ in range(iterations):
        b = np.sign(x @ r)
        b[b == 0] = 1
        u, _, vt = np.linalg.svd(x.T @ b)
        r = u @ vt
    return r.astype(np.float32)


def block_bounds(dim: int, matryoshka_dims: Sequence[int]) -> list[tuple[int, int]]:
    """Contiguous blocks ending at each Matryoshka size (and at ``dim``)."""
    ends = sorted({d for d in matryoshka_dims if 0 < d < dim} | {dim})
    starts = [0, *ends[:-1]]
    return list(zip(starts, ends, strict=True))


def center_and_rotate(
    table: np.ndarray,
    pooled: np.ndarray,
    matryoshka_dims: Sequence[int],
    *,
    center: bool = True,
    rotate: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """The transformed table, given unnormalised pooled vectors of a corpus sample."""
    table = np.asarray(table, dtype=np.float32)
    pooled = np.asarray(pooled, dtype=np.float32)
    if center:
        mu = pooled.mean(axis=0)
        table = table - mu
        pooled = pooled - mu
    if rotate:
        rotation = np.eye(table.shape[1], dtype=np.float32)
        for start, end in block_bounds(table.shape[1], matryoshka_dims):
            rotation[start:end, start:end] = itq_rotation(pooled[:, start:end], seed=seed)
        table = table @ rotation
    return table.astype(np.float32)
