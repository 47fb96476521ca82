"""Cosine similarity of texts or vectors against texts, for the encoder's one-liners.

:meth:`sememe.Encoder.similarity`, :meth:`~sememe.Encoder.rank`, :meth:`~sememe.Encoder.topk`
and :meth:`~sememe.Encoder.filter` take texts (anything :mod:`sememe._inputs` reads) or,
where it makes sense, vectors: a numeric numpy array (1-D: one vector, 2-D: one per row) or
a torch tensor. Vectors are compared as given (scaled to unit length, so unnormalised ones
from ``encode(normalize=False)`` work); texts are encoded with the encoder at ``dim``.
Only the public encoder API is used here.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from ._inputs import as_list
from ._vectors import unit_rows
from .errors import InvalidArgumentError, InvalidTypeError

if TYPE_CHECKING:
    from .encoder import Encoder


def _as_vectors(x: Any, name: str) -> np.ndarray | None:
    """``x`` as a float32 array when it is vectors (numeric array or tensor), else None."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray) or not (
        np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_
    ):
        return None
    if x.dtype == np.bool_ or np.issubdtype(x.dtype, np.complexfloating):
        raise InvalidArgumentError(f"{name} has dtype {x.dtype}; vectors must be real numbers")
    if x.ndim not in (1, 2):
        raise InvalidArgumentError(
            f"{name} is a {x.ndim}-D array of shape {x.shape}; vectors must be 1-D (one) or "
            "2-D (one per row)"
        )
    out = np.asarray(x, np.float32)
    if not np.all(np.isfinite(out)):
        raise InvalidArgumentError(f"{name} contains NaN or infinity")
    return out


def unit_side(encoder: Encoder, x: Any, dim: int | None, name: str) -> tuple[np.ndarray, bool]:
    """``(rows, single)``: unit rows (2-D, float32) for ``x``, and whether ``x`` was one
    text or one 1-D vector."""
    vectors = _as_vectors(x, name)
    if vectors is not None:
        single = vectors.ndim == 1
        return unit_rows(np.atleast_2d(vectors)), single
    single = isinstance(x, str)
    texts = [x] if single else as_list(x, name)
    return np.atleast_2d(encoder.encode(texts, normalize=True, dim=dim)), single


def same_width(a: np.ndarray, b: np.ndarray, names: tuple[str, str], dim: int | None) -> None:
    """Both sides must have as many dimensions (texts are encoded at ``dim``)."""
    if a.shape[1] != b.shape[1]:
        hint = "" if dim is not None else " (pass dim= to encode the texts at the vectors' size)"
        raise InvalidArgumentError(
            f"{names[0]} has {a.shape[1]} dimensions but {names[1]} has {b.shape[1]}{hint}"
        )


def query_scores(
    encoder: Encoder, query: Any, docs: Any, dim: int | None
) -> tuple[list[str], np.ndarray]:
    """``(docs as a list of str, cosine of each to the query)`` for rank/topk/filter.

    ``query`` is one text or one 1-D vector; ``docs`` any collection of texts.
    """
    if not isinstance(query, str):
        vector = _as_vectors(query, "query")
        if vector is None:
            raise InvalidTypeError(
                f"query must be one str or one 1-D vector, got {type(query).__name__}"
            )
        if vector.ndim != 1:
            raise InvalidArgumentError(
                f"query must be one str or one 1-D vector, got an array of shape {vector.shape}"
            )
    if isinstance(docs, str):
        raise InvalidTypeError("docs is one str; pass a list of texts, for example [doc]")
    texts = as_list(docs, "docs")
    q, _ = unit_side(encoder, query, dim, "query")
    if not texts:
        return texts, np.zeros(0, np.float32)
    d, _ = unit_side(encoder, texts, dim, "docs")
    same_width(q, d, ("query", "docs"), dim)
    return texts, (d @ q[0]).astype(np.float32)
