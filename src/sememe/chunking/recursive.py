"""Recursive chunking: cut at the coarsest separator that makes the pieces fit.

:class:`RecursiveChunker` is the chunker of LangChain's ``RecursiveCharacterTextSplitter``
and Chonkie's ``RecursiveChunker``, with sememe's guarantees (exact offsets, exact token
counts, a hard cap):

1. A text within ``max_tokens`` is one chunk.
2. Otherwise it is cut at the first level of ``separators`` that occurs in it
   (default: blank lines, line breaks, sentence ends, pauses such as commas, spaces);
   a separator stays with the piece before it.
3. Neighbouring pieces are merged back, in order, while the merged text fits
   ``max_tokens`` (counted exactly on the merged text), so small pieces do not become
   tiny chunks.
4. A piece still over the limit is cut again at the next level, and so on; below the
   last level (a single word longer than the cap) it is cut between tokens, never
   inside a character.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, InvalidTypeError
from ._base import ChunkerBase, check_text, strip_span
from ._counting import TokenCounter
from .sentences import TextInfo
from .types import Chunk

__all__ = ["DEFAULT_SEPARATORS", "RecursiveChunker"]

#: The default levels, coarsest first: paragraphs (blank lines), lines, sentence ends,
#: pauses (``,`` ``;`` ``:`` and dashes between spaces), words. Below them, tokens.
DEFAULT_SEPARATORS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\n[ \t]*(?:\r?\n[ \t]*)+"),
    re.compile(r"\r?\n"),
    re.compile(r"[.!?\u3002\uff01\uff1f]+[\"'\u201d\u2019)\]]*\s+"),
    re.compile(r"[,;:\u3001\uff0c]\s+|\s[-\u2013\u2014]+\s+"),
    re.compile(r"\s+"),
)

Separators = Sequence[str | Sequence[str] | re.Pattern[str]]


def _compile_levels(separators: Any) -> tuple[re.Pattern[str], ...]:
    """The separator levels as patterns; literal strings are matched as they are."""
    if separators is None:
        return DEFAULT_SEPARATORS
    if isinstance(separators, (str, bytes)) or not isinstance(separators, Sequence):
        raise InvalidTypeError(
            "separators must be a list of levels (each a str, a list of str or a compiled "
            f"re.Pattern), coarsest first, e.g. ['\\n\\n', '\\n', ' ']; got {separators!r}"
        )
    levels = []
    for i, level in enumerate(separators):
        if isinstance(level, re.Pattern):
            if not isinstance(level.pattern, str):
                raise InvalidTypeError(f"separators[{i}] is a bytes pattern; expected a str one")
            levels.append(level)
            continue
        alternatives = [level] if isinstance(level, str) else level
        if isinstance(alternatives, bytes) or not isinstance(alternatives, Sequence):
            raise InvalidTypeError(
                f"separators[{i}] is of type {type(level).__name__}; expected a str, a list "
                "of str or a compiled re.Pattern"
            )
        if not alternatives:
            raise InvalidArgumentError(f"separators[{i}] is an empty list")
        for j, alt in enumerate(alternatives):
            if not isinstance(alt, str):
                raise InvalidTypeError(
                    f"separators[{i}][{j}] is of type {type(alt).__name__}; expected str"
                )
            if not alt:
                raise InvalidArgumentError(
                    f"separators[{i}] contains an empty string; leave it out: cutting "
                    "between tokens always comes after the last level"
                )
        # Longest first, so "\r\n" wins over "\n" at the same place.
        ordered = sorted(set(alternatives), key=len, reverse=True)
        levels.append(re.compile("|".join(re.escape(a) for a in ordered)))
    return tuple(levels)


class RecursiveChunker(ChunkerBase):
    """Split text at a hierarchy of separators, each chunk at most ``max_tokens`` tokens.

    Parameters
    ----------
    encoder:
        Gives the default tokenizer; None loads the bundled model, but only when
        ``tokenizer`` is None too.
    max_tokens:
        Hard upper bound on every chunk's token count (default 512), counted exactly
        on the chunk's own text (Chonkie's and LangChain's ``chunk_size``).
    separators:
        The levels to cut at, coarsest first: each a literal str, a list of literal
        str (alternatives of one level) or a compiled ``re.Pattern``. A separator stays
        with the piece before it. Default :data:`DEFAULT_SEPARATORS`: blank lines,
        line breaks, sentence ends, pauses, spaces. After the last level, text is cut
        between tokens.
    tokenizer:
        None (the encoder's tokenizer, with its special tokens), a
        ``tokenizers.Tokenizer`` (counted without special tokens), or any callable
        ``str -> int``.
    overlap:
        Tokens of the text before it each chunk after the first also takes (an int
        below ``max_tokens``, or a fraction of ``max_tokens`` in ``[0, 1)``); part of
        the budget. Default 0.

    Notes
    -----
    Every chunk's ``text`` equals ``source[start:end]``, starts and ends on
    non-whitespace; without overlap, chunks are in order, disjoint, and cover every
    non-whitespace character of the source.

    Example::

        chunker = RecursiveChunker(max_tokens=128)
        for c in chunker(open("notes.md").read()):
            print(c.start, c.end, c.n_tokens)
    """

    def __init__(
        self,
        encoder: Any = None,
        *,
        max_tokens: int = 512,
        separators: Separators | None = None,
        tokenizer: Any = None,
        overlap: int | float = 0,
    ) -> None:
        super().__init__(encoder, max_tokens=max_tokens, tokenizer=tokenizer, overlap=overlap)
        self._levels = _compile_levels(separators)
        self.separators = separators

    @property
    def levels(self) -> tuple[re.Pattern[str], ...]:
        """The separator levels in effect, as compiled patterns, coarsest first."""
        return self._levels

    def _params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"max_tokens": self.max_tokens}
        if self.separators is not None:
            params["separators"] = self.separators
        if self.overlap:
            params["overlap"] = self.overlap
        return params

    def _chunk_text(self, text: str) -> list[Chunk]:
        """Cut a non-blank ``text`` (see the module docstring), without overlap."""
        text = check_text(text)
        count = _SpanCounter(self._counter(), text)
        a, b = strip_span(text, 0, len(text))
        n = int(count([(a, b)])[0])
        pieces = [(a, b, n)] if n <= self.max_tokens else self._split(text, a, b, 0, count)
        return [Chunk(text[s:e], s, e, k, i) for i, (s, e, k) in enumerate(pieces)]

    # ------------------------------------------------------------------ the recursion
    def _split(
        self, text: str, a: int, b: int, level: int, count: _SpanCounter
    ) -> list[tuple[int, int, int]]:
        """``text[a:b]`` (over the limit) as pieces within it, with their exact counts."""
        limit = self.max_tokens
        spans: list[tuple[int, int]] = []
        while level < len(self._levels):
            spans = _cut(text, a, b, self._levels[level])
            if len(spans) > 1:
                break
            level += 1
        else:
            pieces = self._split_long(text, a, b)
            sizes = count(pieces).tolist()
            return [(x, y, k) for (x, y), k in zip(pieces, sizes, strict=True)]
        counts = count(spans).tolist()
        out: list[tuple[int, int, int]] = []
        run: list[int] = []  # indices of consecutive pieces that fit, waiting to be merged
        for i, n in enumerate(counts):
            if n <= limit:
                run.append(i)
                continue
            out.extend(self._merge(count, [spans[j] for j in run], [counts[j] for j in run]))
            run = []
            x, y = spans[i]
            out.extend(self._split(text, x, y, level + 1, count))
        out.extend(self._merge(count, [spans[j] for j in run], [counts[j] for j in run]))
        return out

    def _merge(
        self, count: _SpanCounter, spans: list[tuple[int, int]], counts: list[int]
    ) -> list[tuple[int, int, int]]:
        """Greedy merge of consecutive pieces (each within the limit) into chunks that fit.

        Each chunk takes as many pieces as their counts allow (the sum of their tokens
        beyond the special ones). The chunks planned that way are counted exactly in one
        call; the first one over the limit (the separators between pieces may cost
        tokens of their own) is shortened, by pieces worth at least the excess, until it
        fits, and the plan resumes after it.
        """
        if not spans:
            return []
        special = count.counter.n_special
        limit = self.max_tokens
        m = len(spans)
        inner = np.maximum(np.asarray(counts, np.int64) - special, 0)
        # What joining two neighbours adds (the separator's own tokens, often a newline),
        # from one count of every neighbouring pair: the plan then rarely overshoots.
        gap = np.zeros(m, np.int64)
        if m > 1:
            pairs = count([(spans[k][0], spans[k + 1][1]) for k in range(m - 1)])
            gap[1:] = np.maximum(pairs - special - inner[:-1] - inner[1:], 0)
        cum = np.concatenate(([0], np.cumsum(inner + gap)))

        def next_end(i: int) -> int:
            # pieces i..j-1 cost cum[j] - cum[i] - gap[i] (no separator before the first)
            room = cum[i] + gap[i] + (limit - special)
            j = int(np.searchsorted(cum, room, side="right")) - 1
            return min(max(j, i + 1), m)

        out: list[tuple[int, int, int]] = []
        i = 0
        while i < m:
            plan = []  # (i, j): pieces i..j-1 make one chunk
            k = i
            while k < m:
                plan.append((k, next_end(k)))
                k = plan[-1][1]
            sizes = count([(spans[x][0], spans[y - 1][1]) for x, y in plan]).tolist()
            for (x, y), n in zip(plan, sizes, strict=True):
                if n > limit:  # shorten this one, then plan again after it
                    while n > limit:
                        drop = int(np.searchsorted(cum[x:y], cum[y] - (n - limit), side="right"))
                        y = max(x + 1, min(y - 1, x + drop - 1))
                        n = int(count([(spans[x][0], spans[y - 1][1])])[0])
                    out.append((spans[x][0], spans[y - 1][1], n))
                    i = y
                    break
                out.append((spans[x][0], spans[y - 1][1], n))
            else:
                i = m
        return out


class _SpanCounter:
    """Exact counts of spans of one text, through the counter's per-text word data
    (fast for word-local tokenizers; whole-text tokenizing otherwise)."""

    def __init__(self, counter: TokenCounter, text: str) -> None:
        self.counter = counter
        self.info = TextInfo(text)
        self.words = counter.doc_words(self.info)

    def __call__(self, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        if not spans:
            return np.zeros(0, np.int64)
        arr = np.asarray(spans, np.int64).reshape(-1, 2)
        if self.words is None:
            text = self.info.text
            return self.counter.count([text[a:b] for a, b in arr.tolist()])
        return np.asarray(self.counter.span_counts(self.info, self.words, arr[:, 0], arr[:, 1]))


def _cut(text: str, a: int, b: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """``text[a:b]`` cut after each match of ``pattern``: stripped, non-empty spans."""
    cuts = [a]
    for m in pattern.finditer(text, a, b):
        end = m.end()
        if cuts[-1] < end < b:
            cuts.append(end)
    cuts.append(b)
    out = []
    for x, y in itertools.pairwise(cuts):
        x, y = strip_span(text, x, y)
        if y > x:
            out.append((x, y))
    return out
