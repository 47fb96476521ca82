"""Stage 1: a static table from a teacher's view of each vocabulary token (Model2Vec-style).

Every token of the student tokenizer is decoded to its text and encoded by the teacher as a
tiny sentence; the token vectors are reduced with PCA and paired with SIF weights from corpus
token frequencies. The result is a fair static model on its own and the usual starting point
for :mod:`.tokenlearn`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

from ..errors import InvalidArgumentError
from .teacher import Teacher


@dataclass
class Pca:
    """A fitted principal-component projection: ``(x - mean) @ components.T``."""

    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) @ self.components.T).astype(np.float32)


def fit_pca(x: np.ndarray, dim: int, *, center: bool = True) -> Pca:
    """Leading ``dim`` principal axes of the rows of ``x`` (ordered, so prefixes nest)."""
    if dim > x.shape[1]:
        raise InvalidArgumentError(f"PCA to {dim} dimensions needs at least {dim} input dimensions")
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=0) if center else np.zeros(x.shape[1])
    cov = np.cov((x64 - mean).T, bias=True) if center else (x64.T @ x64) / len(x64)
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1][:dim]
    explained = eigval[order] / max(eigval.sum(), 1e-12)
    return Pca(mean.astype(np.float32), eigvec[:, order].T.astype(np.float32), explained)


def token_texts(tokenizer: Tokenizer) -> list[str]:
    """The text each token id stands for (SentencePiece ``▁`` and WordPiece ``##`` removed).

    Byte-fallback pieces that are not text on their own keep their raw token string.
    """
    out: list[str] = []
    for i in range(tokenizer.get_vocab_size(with_added_tokens=True)):
        raw = tokenizer.id_to_token(i) or ""
        text = tokenizer.decode([i], skip_special_tokens=False)
        if not text.strip() or "\ufffd" in text:  # a byte piece that is no text on its own
            text = raw
        text = text.replace("\u2581", " ").removeprefix("##").strip() or raw
        out.append(text)
    return out


def teacher_token_vectors(
    teacher: Teacher, tokenizer: Tokenizer, *, batch_size: int = 512
) -> np.ndarray:
    """Teacher vectors of every token's text, (vocab_size, teacher_dim) float32."""
    return teacher.encode(token_texts(tokenizer), batch_size=batch_size)


def distilled_table(token_vectors: np.ndarray, dim: int) -> tuple[np.ndarray, Pca]:
    """PCA-reduced token table (vocab_size, dim) and the projection used."""
    pca = fit_pca(token_vectors, dim)
    return pca.transform(token_vectors), pca
