"""Fixed-size chunking: as many whole words as fit in ``max_tokens``, then the next chunk.

The baseline that semantic chunking is measured against, and a fallback when meaning
does not matter (or no encoder is wanted: give a ``tokenizer`` and no model is loaded).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import ChunkerBase, _bisect_pieces, check_text, strip_span
from ._counting import TokenizerCounter
from .sentences import TextInfo
from .types import Chunk

__all__ = ["Chunk", "TokenChunker"]


class TokenChunker(ChunkerBase):
    """Cut text into consecutive windows of at most ``max_tokens`` tokens.

    Each chunk takes as many whole words (whitespace-separated) as fit; a word longer
    than the limit on its own is cut at token boundaries, never inside a character.
    Chunks share the :class:`~sememe.chunking.Chunk` type and guarantees of
    :class:`~sememe.chunking.SemanticChunker`: exact offsets, in order, no overlap
    (unless ``overlap`` asks for it), nothing but whitespace left out,
    ``n_tokens <= max_tokens``. ``chunker(text)`` is ``chunker.chunk(text)``.

    Parameters
    ----------
    encoder:
        Gives the default tokenizer; None loads the bundled model, but only when
        ``tokenizer`` is None too.
    max_tokens:
        Hard upper bound on each chunk's token count (default 512).
    tokenizer:
        None (the encoder's tokenizer, with its special tokens), a
        ``tokenizers.Tokenizer`` (counted without special tokens), or any callable
        ``str -> int``.
    overlap:
        Tokens of the previous window each window after the first starts with: an int
        below ``max_tokens``, or a fraction of ``max_tokens`` in ``[0, 1)`` (Chonkie's
        ``chunk_overlap``). Part of the budget: windows still have at most
        ``max_tokens`` tokens. Default 0.
    """

    def __init__(
        self,
        encoder: Any = None,
        *,
        max_tokens: int = 512,
        tokenizer: Any = None,
        overlap: int | float = 0,
    ) -> None:
        super().__init__(encoder, max_tokens=max_tokens, tokenizer=tokenizer, overlap=overlap)

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"max_tokens": self.max_tokens}
        if self.overlap:
            params["overlap"] = self.overlap
        return params

    def _chunk_text(self, text: str) -> list[Chunk]:
        """Cut a non-blank ``text`` into consecutive windows, without overlap."""
        text = check_text(text)
        counter = self._counter()
        if not isinstance(counter, TokenizerCounter):
            return self._finish(text, _bisect_pieces(text, counter, self.max_tokens))
        return self._pack(TextInfo(text), counter)

    def _pack(self, info: TextInfo, counter: TokenizerCounter) -> list[Chunk]:
        """Greedy packing of whole words by their token counts, each window counted exactly.

        For word-local tokenizers the sum over words is the exact count (up to words cut
        by stripping, and runs of spaces), so the exact check rarely shrinks a window.
        """
        text = info.text
        words = counter.doc_words(info)
        ws, we = words.starts, words.ends
        cum = words.cum
        budget = self.max_tokens - counter.n_special
        limit = self.max_tokens
        out: list[tuple[int, int, int]] = []
        i, n = 0, len(ws)
        while i < n:
            j = int(np.searchsorted(cum, cum[i] + budget, side="right")) - 1
            j = min(max(j, i + 1), n)
            while True:
                s, e = strip_span(text, int(ws[i]), int(we[j - 1]))
                if e <= s:  # only whitespace (a "word" of newlines)
                    size = 0
                    break
                size = int(counter.span_counts(info, words, [s], [e])[0])
                if size <= limit or j == i + 1:
                    break
                # Drop words from the end worth at least the excess (by their counts).
                drop = np.searchsorted(cum[i:j], cum[j] - (size - limit), side="right")
                j = max(i + 1, min(j - 1, i + int(drop) - 1))
            if e > s and size > limit:  # one word over the limit: cut at token boundaries
                pieces = self._split_long(text, s, e)
                sizes = counter.span_counts(
                    info, words, [a for a, _ in pieces], [b for _, b in pieces]
                ).tolist()
                out.extend((a, b, k) for (a, b), k in zip(pieces, sizes, strict=True))
            elif e > s:
                out.append((s, e, size))
            i = j
        return [Chunk(text[a:b], a, b, k, idx) for idx, (a, b, k) in enumerate(out)]
