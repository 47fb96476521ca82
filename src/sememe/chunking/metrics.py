"""Segmentation error measures: Pk (Beeferman et al. 1999) and WindowDiff (Pevzner and Hearst 2002).

A segmentation of ``N`` units (sentences) is given as its segment lengths, e.g.
``[3, 5, 2]`` for ``N = 10`` with boundaries after units 2 and 7. Both measures slide a
window of ``k`` units over the text and count the positions where reference and
hypothesis disagree; lower is better, 0 is perfect.

- **Pk**: at position ``i`` (``0 <= i < N - k``), are units ``i`` and ``i + k`` in the
  same segment? An error when reference and hypothesis answer differently.
- **WindowDiff**: an error when the *number* of boundaries between units ``i`` and
  ``i + k`` differs, so near misses and extra boundaries inside one window count too.

``k`` defaults to half the mean reference segment length, rounded (at least 1), as in
the original definitions; scores are averaged over the ``N - k`` windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from ..errors import InvalidArgumentError

__all__ = ["boundaries_to_lengths", "default_k", "pk", "windowdiff"]


def _lengths(name: str, lengths: Sequence[int]) -> np.ndarray:
    arr = np.asarray(list(lengths), dtype=np.int64)
    if arr.ndim != 1 or len(arr) == 0:
        raise InvalidArgumentError(f"{name} must be a non-empty sequence of segment lengths")
    if (arr < 1).any():
        raise InvalidArgumentError(f"{name} has a segment length below 1: {arr.tolist()}")
    return arr


def _boundary_counts(lengths: np.ndarray, k: int) -> np.ndarray:
    """Boundaries between units ``i`` and ``i + k`` for every window start ``i``.

    A boundary "after unit b" lies between units b and b + 1; it falls in window
    ``i`` when ``i <= b < i + k``.
    """
    n = int(lengths.sum())
    after = np.zeros(n, np.int64)
    after[np.cumsum(lengths)[:-1] - 1] = 1
    cum = np.concatenate(([0], np.cumsum(after)))
    i = np.arange(n - k)
    return cum[i + k] - cum[i]


def default_k(reference: Sequence[int]) -> int:
    """Half the mean segment length of ``reference``, rounded half up, at least 1."""
    ref = _lengths("reference", reference)
    return max(1, int(np.floor(ref.sum() / len(ref) / 2 + 0.5)))


def _prepare(
    reference: Sequence[int], hypothesis: Sequence[int], k: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    ref = _lengths("reference", reference)
    hyp = _lengths("hypothesis", hypothesis)
    if ref.sum() != hyp.sum():
        raise InvalidArgumentError(
            f"reference covers {ref.sum()} units but hypothesis covers {hyp.sum()}; "
            "they must segment the same text"
        )
    k = default_k(ref) if k is None else int(k)
    n = int(ref.sum())
    if not 1 <= k < n:
        raise InvalidArgumentError(f"k must be between 1 and {n - 1} for {n} units, got {k}")
    return ref, hyp, k


def pk(reference: Sequence[int], hypothesis: Sequence[int], k: int | None = None) -> float:
    """Pk error of ``hypothesis`` against ``reference`` (segment lengths); see the module."""
    ref, hyp, k = _prepare(reference, hypothesis, k)
    a = _boundary_counts(ref, k) > 0
    b = _boundary_counts(hyp, k) > 0
    return float(np.mean(a != b))


def windowdiff(reference: Sequence[int], hypothesis: Sequence[int], k: int | None = None) -> float:
    """WindowDiff error of ``hypothesis`` against ``reference`` (segment lengths)."""
    ref, hyp, k = _prepare(reference, hypothesis, k)
    a = _boundary_counts(ref, k)
    b = _boundary_counts(hyp, k)
    return float(np.mean(a != b))


def boundaries_to_lengths(boundaries: Sequence[int], n: int) -> list[int]:
    """Segment lengths from the indices of the first unit of each segment after the first.

    ``boundaries_to_lengths([5, 8], 10) == [5, 3, 2]`` (the Choi data's format).
    """
    cuts = sorted({int(b) for b in boundaries if 0 < int(b) < n})
    edges = [0, *cuts, n]
    return [b - a for a, b in pairwise(edges)]
