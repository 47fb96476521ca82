"""Merging static models that share a tokenizer into one table of the usual size.

Pooling is linear in the table, so concatenating two tables gives sentence vectors that are
the concatenation of both models' vectors, and a PCA fitted on pooled corpus vectors maps the
concatenation back to ``dim`` columns: still one table, one lookup per token, and prefixes of
the result are its best smaller versions (Matryoshka truncation keeps working).

Each model's token weights are folded into its rows (``row * w / mean(w)``) and the merged
model pools with a plain mean; the two models are scaled so their typical sentence vectors
have the same length before ``alpha`` weights them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..encoder import Encoder
from ..errors import InvalidArgumentError
from .distill import fit_pca
from .student import encoder_arrays, to_encoder


def _plain_table(encoder: Encoder) -> np.ndarray:
    """The table with the token weights folded into its rows (for plain mean pooling)."""
    table, w = encoder_arrays(encoder)
    return table if w is None else table * (w / w.mean())[:, None]


def pooled_vectors(encoder: Encoder, table: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """Unnormalised plain-mean pooled vectors of ``texts`` over ``table``.

    ``encoder`` gives the tokenizer and the token limit; its own table and weights are unused.
    """
    plain = to_encoder(
        encoder.tokenizer,
        table,
        None,
        name="merge",
        description="",
        provenance={},
        license="",
        max_tokens=encoder.config.max_tokens,
    )
    return plain.with_options(normalize=False).encode(list(texts))


def merge_tables(
    models: Sequence[Encoder],
    alphas: Sequence[float],
    sample: Sequence[str],
    dim: int,
) -> np.ndarray:
    """One (vocab, dim) mean-pooling table from ``models`` weighted by ``alphas``."""
    if len(models) != len(alphas) or not models:
        raise InvalidArgumentError("give one alpha per model, and at least one model")
    first = models[0].tokenizer.to_str()
    if any(m.tokenizer.to_str() != first for m in models[1:]):
        raise InvalidArgumentError("only models with the same tokenizer can be merged")
    parts = []
    for model, alpha in zip(models, alphas, strict=True):
        table = _plain_table(model)
        norms = np.linalg.norm(pooled_vectors(model, table, sample), axis=1)
        scale = float(np.median(norms[norms > 0])) if np.any(norms > 0) else 1.0
        parts.append(table * (alpha / scale))
    merged = np.concatenate(parts, axis=1)
    if dim > merged.shape[1]:
        raise InvalidArgumentError(f"cannot merge into {dim} dimensions from {merged.shape[1]}")
    pca = fit_pca(pooled_vectors(models[0], merged, sample), dim, center=False)
    return (merged @ pca.components.T).astype(np.float32)
