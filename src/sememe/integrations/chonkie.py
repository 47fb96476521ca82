"""Chonkie with sememe's encoder: ``chonkie.SemanticChunker(embedding_model=...)``.

Chonkie's chunkers take an ``embedding_model`` that is a model name or a
``chonkie.embeddings.BaseEmbeddings``; a plain :class:`sememe.Encoder` is neither, so
wrap it::

    import chonkie
    from sememe.integrations.chonkie import SememeChonkieEmbeddings

    chunker = chonkie.SemanticChunker(embedding_model=SememeChonkieEmbeddings(enc))

Importing this module also registers sememe with Chonkie's ``AutoEmbeddings``: the
model name ``"sememe://<model name or folder>"`` (``"sememe://sememe-base"`` for the
bundled model) and an :class:`~sememe.Encoder` object both resolve to
:class:`SememeChonkieEmbeddings`. Needs the ``chonkie`` extra (``pip install
sememe[chonkie]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._resolve import resolve_encoder
from ..errors import InvalidTypeError, MissingDependencyError

try:
    from chonkie.embeddings import BaseEmbeddings
    from chonkie.embeddings.registry import EmbeddingsRegistry
except ImportError as exc:  # pragma: no cover - exercised only without chonkie
    raise MissingDependencyError(
        "sememe.integrations.chonkie needs chonkie: pip install 'sememe[chonkie]'"
    ) from exc

__all__ = ["SememeChonkieEmbeddings"]


class SememeChonkieEmbeddings(BaseEmbeddings):
    """A sememe encoder as a Chonkie ``BaseEmbeddings``.

    Parameters
    ----------
    encoder:
        An :class:`~sememe.Encoder`, a model name or folder for :func:`sememe.load`, or
        None (the bundled model).
    normalize:
        Return unit vectors (default True). Chonkie compares by cosine either way.

    Notes
    -----
    ``embed`` gives one float32 vector, ``embed_batch`` a list of them (one encoder
    call for the batch), ``dimension`` the vector length, and ``get_tokenizer`` the
    encoder's own ``tokenizers.Tokenizer``, so Chonkie counts tokens as the encoder
    does.
    """

    def __init__(self, encoder: Any = None, *, normalize: bool = True) -> None:
        super().__init__()
        if not isinstance(normalize, bool):
            raise InvalidTypeError(f"normalize must be a bool, got {type(normalize).__name__}")
        self.encoder = resolve_encoder(encoder)
        self.normalize = normalize

    @property
    def dimension(self) -> int:
        """Length of the vectors."""
        return int(self.encoder.dim)

    def embed(self, text: str) -> np.ndarray:
        """The vector of one text (float32, ``(dimension,)``)."""
        if not isinstance(text, str):
            what = "None" if text is None else f"of type {type(text).__name__}"
            raise InvalidTypeError(f"text is {what}; expected str")
        return self.encoder.encode(text, normalize=self.normalize)

    def embed_batch(self, texts: list[str]) -> list[np.ndarray]:
        """The vectors of ``texts``, in one encoder call."""
        if not len(texts):
            return []
        vectors = self.encoder.encode(list(texts), normalize=self.normalize)
        return list(vectors)

    def similarity(self, u: np.ndarray, v: np.ndarray) -> np.float32:
        """Cosine similarity of two vectors (0 when either is all zeros: a blank text)."""
        nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
        if nu == 0.0 or nv == 0.0:
            return np.float32(0.0)
        return np.float32(np.dot(u, v) / (nu * nv))

    def get_tokenizer(self) -> Any:
        """The encoder's ``tokenizers.Tokenizer`` (a private copy)."""
        return self.encoder.tokenizer

    def __repr__(self) -> str:
        return f"SememeChonkieEmbeddings(encoder={self.encoder!r})"


# "sememe://name" in AutoEmbeddings, and Encoder objects in EmbeddingsRegistry.wrap.
EmbeddingsRegistry.register_provider("sememe", SememeChonkieEmbeddings)
EmbeddingsRegistry.register_types("sememe.encoder.Encoder", SememeChonkieEmbeddings)
