"""The trainable form of a static model: a table and per-token weights in torch.

Pooling is exactly the encoder's ``weighted_mean`` (sum of weight x row over the tokens,
divided by the sum of the weights), so what is trained here is what ``sememe.load`` serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from .._torch import pool_bags, require_torch
from ..config import ModelConfig
from ..encoder import Encoder

torch = require_torch()
nn = torch.nn
F = torch.nn.functional


@dataclass
class Tokenized:
    """Texts as one flat id array plus start offsets (row ``i`` is ``ids[starts[i]:starts[i+1]]``)."""

    ids: np.ndarray
    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.starts) - 1

    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)

    def batch(self, rows: np.ndarray) -> tuple[Any, Any]:
        """torch (flat ids, bag offsets) for ``rows``."""
        parts = [self.ids[self.starts[r] : self.starts[r + 1]] for r in rows]
        lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
        offsets = np.zeros(len(parts), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        flat = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return torch.from_numpy(flat.astype(np.int64)), torch.from_numpy(offsets)


def tokenize(tokenizer: Tokenizer, texts: Sequence[str], max_tokens: int = 512) -> Tokenized:
    """Token ids of ``texts`` without special tokens, cut at ``max_tokens``.

    A text with no tokens gives an empty row, which pools to a zero vector.
    """
    tok = Tokenizer.from_str(tokenizer.to_str())
    tok.no_padding()
    tok.enable_truncation(max_tokens)
    ids: list[np.ndarray] = []
    for start in range(0, len(texts), 20_000):
        encs = tok.encode_batch_fast(list(texts[start : start + 20_000]), add_special_tokens=False)
        ids.extend(np.asarray(e.ids, dtype=np.int32) for e in encs)
    starts = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum([len(x) for x in ids], out=starts[1:])
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int32)
    return Tokenized(flat, starts)


class Student(nn.Module):  # type: ignore[misc]
    """Table (vocab, dim) and log token weights, pooled as a weighted mean."""

    def __init__(self, table: np.ndarray, weights: np.ndarray | None = None) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.tensor(np.asarray(table, dtype=np.float32)))
        w = np.ones(len(table), np.float32) if weights is None else np.asarray(weights, np.float32)
        self.log_weight = nn.Parameter(torch.tensor(np.log(np.clip(w, 1e-4, None))))
        # A square map applied after pooling, shared by every token: training it moves rows
        # that the training text never contains as well. Folded into the table by arrays().
        dim = self.table.shape[1]
        self.projection = nn.Parameter(torch.eye(dim))

    def forward(self, ids: Any, offsets: Any) -> Any:
        w = self.log_weight[ids].exp()
        return pool_bags(ids, self.table, offsets, w, eps=1e-6) @ self.projection

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(table float32, weights float32) as numpy."""
        with torch.no_grad():
            return (
                (self.table @ self.projection).detach().numpy().copy(),
                self.log_weight.detach().exp().numpy().astype(np.float32),
            )


def encoder_arrays(encoder: Encoder) -> tuple[np.ndarray, np.ndarray | None]:
    """A model's table as float32 with any token-to-row mapping resolved, and its weights."""
    arrays = encoder.arrays
    table = np.array(arrays.embeddings, dtype=np.float32)  # a writable copy
    if arrays.mapping is not None:
        table = table[arrays.mapping]
    weights = None if arrays.weights is None else np.array(arrays.weights, np.float32)
    return table, weights


def to_encoder(
    tokenizer: Tokenizer,
    table: np.ndarray,
    weights: np.ndarray | None,
    *,
    name: str,
    description: str,
    provenance: dict[str, Any],
    license: str,
    matryoshka_dims: tuple[int, ...] = (),
    max_tokens: int = 2048,
) -> Encoder:
    """A servable :class:`~sememe.Encoder` (float16 table) from trained arrays."""
    config = ModelConfig(
        dim=int(table.shape[1]),
        vocab_size=tokenizer.get_vocab_size(with_added_tokens=True),
        name=name,
        pooling="weighted_mean",
        normalize=True,
        max_tokens=max_tokens,
        matryoshka_dims=matryoshka_dims,
        license=license,
        description=description,
        provenance=provenance,
    )
    return Encoder(
        tokenizer,
        np.asarray(table, dtype=np.float16),
        weights=None if weights is None else np.asarray(weights, dtype=np.float32),
        config=config,
    )
