"""Semantic chunking: cut where the topic changes, within hard token limits.

How :class:`SemanticChunker` works, in one pass over a document:

1. Split it into *units* (:mod:`.sentences`): sentences of prose, whole lines of
   headings, tables and code. A unit over ``max_tokens`` is cut at token boundaries.
2. Count every unit's tokens and embed it. The document is tokenized once, word by
   word through a memo (see :mod:`._counting`); a unit's vector is the weighted sum
   of its tokens' table rows, as the encoder pools a text, for all units at once with
   one sparse product.
3. At each gap between units, compare the ``window`` units before it with the
   ``window`` units after it (cosine of the summed vectors; windows stop at headings)
   and score the gap by its *depth*: how far the similarity climbs back up on either
   side before falling again (TextTiling's measure). Markdown shifts the score: a gap
   before a heading scores high, one inside a code block low.
4. Cut at the deep gaps (``threshold``), then enforce the sizes: a piece over
   ``max_tokens`` is split at its best-scoring gaps near either end until it fits;
   a piece under ``min_tokens`` is merged across its weaker neighbouring gap when
   the result fits.
5. Count every chunk exactly with the chosen tokenizer; a chunk still over the limit
   (sizes in step 4 are sums over units plus the newlines between them, which can be
   a few tokens off) is split again at its best gap, or at token boundaries.
"""

from __future__ import annotations

import functools
import heapq
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidArgumentError, InvalidTypeError
from . import _batch
from ._base import ALONE_CHARS, BATCH_CHARS, ChunkerBase, Span, check_int, check_text
from ._counting import TokenizerCounter, encoder_counter
from ._documents import split_items, with_metadata
from .sentences import CODE, HEADING, ITEM, PARAGRAPH, SENTENCE, TextInfo, Units, split_units
from .types import Chunk

#: Boundary kind of the gap between two pieces of one unit cut at token boundaries.
PIECE = 5

#: Score added to a gap's depth for each boundary kind (see the module docstring).
KIND_BONUS = {
    SENTENCE: 0.0,
    ITEM: 0.03,
    PARAGRAPH: 0.1,
    HEADING: 1.0,
    CODE: -1.0,
    PIECE: 0.0,
}

#: ``threshold="auto"`` cuts gaps deeper than the mean depth plus this many standard deviations.
AUTO_STD = 0.75

#: Dimensions of the encoder used for the similarity curve (its leading, Matryoshka ones).
SEGMENT_DIM = 128


class SemanticChunker(ChunkerBase):
    """Split documents into chunks of related sentences, each at most ``max_tokens`` tokens.

    Parameters
    ----------
    encoder:
        The :class:`sememe.Encoder` whose vectors measure similarity; None loads the
        bundled model on first use.
    max_tokens:
        Hard upper bound on every chunk's token count (default 512), counted on the
        chunk's own text with ``tokenizer``. Holds for any input: a sentence or a word
        longer than this is cut at token boundaries (never inside a character).
    min_tokens:
        Chunks smaller than this are merged into a neighbour when the merge stays
        within ``max_tokens`` (default: ``max_tokens // 6``, so no chunk is a lone
        "5.3."). A document shorter than ``min_tokens`` is still one chunk.
    threshold:
        ``"auto"`` (default): cut at gaps whose depth is more than 0.75 standard
        deviations above the mean depth of the document's gaps, so each document gets
        its own cut level. A float: cut at the local minima of the similarity between
        the windows on either side of a gap that fall below it (cosine, -1 to 1).
        Either way, sizes are enforced after.
    window:
        Units (sentences) on each side of a gap that are compared (default 4).
    tokenizer:
        What counts tokens: None (default) uses the encoder's tokenizer, with its
        special tokens; a ``tokenizers.Tokenizer`` (e.g. your LLM's, from
        ``Tokenizer.from_file``) counts without special tokens; any callable
        ``str -> int`` (e.g. ``lambda s: len(tiktoken_enc.encode(s))``) is called on
        whole texts and is slower.
    overlap:
        Tokens of the previous chunk each chunk after the first starts with: an int
        below ``max_tokens``, or a fraction of ``max_tokens`` in ``[0, 1)`` (Chonkie's
        ``chunk_overlap``). Part of the budget: chunks still have at most
        ``max_tokens`` tokens. Default 0.

    Notes
    -----
    Every chunk's ``text`` equals ``source[start:end]``; chunks are in order and
    together cover the whole source except whitespace between chunks. With the
    default ``overlap=0`` they do not overlap.
    """

    def __init__(
        self,
        encoder: Any = None,
        *,
        max_tokens: int = 512,
        min_tokens: int | None = None,
        threshold: str | float = "auto",
        window: int = 4,
        tokenizer: Any = None,
        overlap: int | float = 0,
    ) -> None:
        super().__init__(encoder, max_tokens=max_tokens, tokenizer=tokenizer, overlap=overlap)
        if min_tokens is not None:
            min_tokens = check_int("min_tokens", min_tokens, 0)
            if min_tokens > self.max_tokens:
                raise InvalidArgumentError(
                    f"min_tokens ({min_tokens}) must not exceed max_tokens ({self.max_tokens})"
                )
        self.min_tokens = min_tokens
        if isinstance(threshold, str):
            if threshold != "auto":
                raise InvalidArgumentError(
                    f"threshold must be 'auto' or a float, got {threshold!r}"
                )
        elif isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
            raise InvalidTypeError(
                f"threshold must be 'auto' or a float, got {type(threshold).__name__}"
            )
        elif not -1.0 <= float(threshold) <= 1.0:  # NaN fails this too
            raise InvalidArgumentError(
                f"threshold is a cosine similarity in [-1, 1], got {threshold}"
            )
        self.threshold = threshold
        self.window = check_int("window", window, 1)

    def _params(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "min_tokens": self.min_tokens,
            "threshold": self.threshold,
            "window": self.window,
            **({"overlap": self.overlap} if self.overlap else {}),
        }

    def _limit(self) -> float:
        """The size aimed at while choosing cuts, a little under ``max_tokens``.

        While choosing, a group's size is the sum of its units' exact counts plus the
        newline tokens between them, which can be a few tokens off the count of the
        joined text; aiming 2% lower makes re-cutting after the exact count rare.
        """
        return self.max_tokens - max(1.0, 0.02 * self.max_tokens)

    @property
    def min_tokens_(self) -> int:
        """The ``min_tokens`` in effect (``max_tokens // 6`` when not given)."""
        return self.max_tokens // 6 if self.min_tokens is None else self.min_tokens

    # ------------------------------------------------------------------ public API
    def chunk(self, text: str) -> list[Chunk]:
        """Cut ``text`` into semantic chunks (empty or blank text gives ``[]``)."""
        text = check_text(text)
        if not text or text.isspace():
            return []
        doc = self._analyse(TextInfo(text))
        groups = self._segment(doc)
        spans = [(int(doc.starts[a]), int(doc.ends[b - 1])) for a, b in groups]
        return self._finish(text, spans, lambda span: self._recut(doc, span), doc.info, doc.words)

    def _helpers_pay(self) -> bool:
        """Helper processes pay on large inputs where the batched path applies (measured
        there: ``benchmarks/chunk.py``)."""
        try:
            return _batch.batchable(self)
        except Exception:  # the chunking itself reports the problem, in its turn
            return False

    def _chunk_items(self, items: list[Any]) -> list[list[Chunk]]:
        """The chunks of each checked item, through the batched path where it applies.

        Equal to ``[self.chunk(item) for item in items]``, exceptions included: the
        batched path (:mod:`._batch`) only runs for the encoder's own tokenizer in
        ``"space"`` mode, and on any error the items are chunked one by one, which
        raises the error the per-document call raises.
        """
        if len(items) < 2 or not _batch.batchable(self):
            return super()._chunk_items(items)
        contents, metas = split_items(items)
        texts: list[str] = [check_text(c) for c in contents]
        todo = [i for i, t in enumerate(texts) if t and not t.isspace()]
        inner = self
        if self.overlap_tokens:
            counter = self._counter()
            if self.max_tokens - self.overlap_tokens <= counter.n_special:
                return super()._chunk_items(items)  # raises chunk()'s error
            inner = self._content_chunker()  # type: ignore[assignment]
        try:
            got = self._batched(inner, texts, todo)
        except Exception:  # the per-document path raises the right error (or succeeds)
            return super()._chunk_items(items)
        out: list[list[Chunk]] = [[] for _ in items]
        for i, chunks in zip(todo, got, strict=True):
            out[i] = chunks
        return [c if m is None else with_metadata(c, m) for c, m in zip(out, metas, strict=True)]

    def _batched(
        self, inner: SemanticChunker, texts: list[str], todo: list[int]
    ) -> list[list[Chunk]]:
        """The chunks of ``texts[i]`` for each ``i`` in ``todo``: texts of at least
        :data:`ALONE_CHARS` characters one by one, the others through the batched path in
        groups of at most :data:`BATCH_CHARS` characters (its arrays hold an entry per
        character of a group, so the cap bounds its memory)."""
        got: list[list[Chunk]] = [[] for _ in todo]
        group: list[int] = []  # positions in todo
        chars = 0

        def flush() -> None:
            nonlocal chars
            if group:
                done = _batch.chunk_texts(inner, [texts[todo[k]] for k in group])
                for k, chunks in zip(group, done, strict=True):
                    got[k] = chunks
                group.clear()
            chars = 0

        for k, i in enumerate(todo):
            n = len(texts[i])
            if n >= ALONE_CHARS:
                got[k] = inner._chunk_text(texts[i])
                continue
            if chars + n > BATCH_CHARS:
                flush()
            group.append(k)
            chars += n
        flush()
        if self.overlap_tokens:
            got = [self._overlap(texts[i], c) for i, c in zip(todo, got, strict=True)]
        return got

    def split_sentences(self, text: str) -> list[Chunk]:
        """The units the chunker groups: sentences, and lines of headings, tables and code.

        Units over ``max_tokens`` come already cut at token boundaries. Each is a
        :class:`Chunk` with its exact token count.
        """
        text = check_text(text)
        if not text or text.isspace():
            return []
        info = TextInfo(text)
        counter = self._counter()
        words = counter.doc_words(info)
        units, counts = self._units(info, words)
        return [
            Chunk(text[s:e], s, e, n, i)
            for i, (s, e, n) in enumerate(
                zip(units.starts.tolist(), units.ends.tolist(), counts.tolist(), strict=True)
            )
        ]

    # ------------------------------------------------------------------ analysis
    def _units(self, info: TextInfo, words: Any) -> tuple[Units, np.ndarray]:
        """The text's units with their exact token counts; long ones cut at token boundaries."""
        text = info.text
        counter = self._counter()
        units = split_units(text, info=info)
        counts = counter.span_counts(info, words, units.starts, units.ends)
        big = np.flatnonzero(counts > self.max_tokens)
        if len(big) == 0:
            return units, counts
        starts, ends, kinds, sizes = [], [], [], []
        prev = 0
        for i in big.tolist():
            starts.append(units.starts[prev:i])
            ends.append(units.ends[prev:i])
            kinds.append(units.kinds[prev:i])
            sizes.append(counts[prev:i])
            pieces = self._split_long(text, int(units.starts[i]), int(units.ends[i]))
            p_start = np.array([a for a, _ in pieces], np.int64)
            p_end = np.array([b for _, b in pieces], np.int64)
            starts.append(p_start)
            ends.append(p_end)
            k = np.full(len(pieces), PIECE, np.int8)
            k[0] = units.kinds[i]
            kinds.append(k)
            sizes.append(counter.span_counts(info, words, p_start, p_end))
            prev = i + 1
        starts.append(units.starts[prev:])
        ends.append(units.ends[prev:])
        kinds.append(units.kinds[prev:])
        sizes.append(counts[prev:])
        return (
            Units(np.concatenate(starts), np.concatenate(ends), np.concatenate(kinds)),
            np.concatenate(sizes).astype(np.int64),
        )

    def _analyse(self, info: TextInfo) -> _Doc:
        """Units, their exact token counts and their vectors for one text."""
        enc = self._get_encoder()
        counter = self._counter()
        words = counter.doc_words(info)
        units, counts = self._units(info, words)

        # Unit vectors: weighted sums of token rows, as the encoder pools (sparse product).
        vec_counter = self._vector_counter()
        vwords = words if vec_counter is counter else vec_counter.doc_words(info)
        ids = vwords.memo.gather(vwords.rows)
        tok_cum = np.concatenate(([0], np.cumsum(vwords.lens)))
        # Each word goes to the unit it starts in (a word that runs across a unit
        # boundary, e.g. "end.\n\nNext" for Llama-like tokenizers, goes to the first).
        first_word = np.searchsorted(vwords.starts, units.starts)
        indptr = np.concatenate((tok_cum[first_word], [tok_cum[-1]]))
        indptr[0] = 0
        vectors = enc.span_sums(ids, indptr, dim=min(SEGMENT_DIM, enc.dim))

        # Tokens between units (newlines) count towards a chunk that spans them.
        gap = np.zeros(len(units), np.float64)
        if isinstance(counter, TokenizerCounter) and counter.newline_cost and len(units) > 1:
            newlines = info.newlines
            between = np.searchsorted(newlines, units.starts[1:]) - np.searchsorted(
                newlines, units.ends[:-1]
            )
            gap[1:] = counter.newline_cost * between
        return _Doc(info, words, units, counts.astype(np.float64), gap, vectors)

    def _vector_counter(self) -> TokenizerCounter:
        """The encoder's tokenizer with its word memo (the counter too, by default)."""
        if self.tokenizer is None:
            return self._counter()  # type: ignore[return-value]  # the encoder's counter
        counter = self._state.get("vector_counter")
        if counter is None:  # a race builds two equal ones: harmless
            counter = self._state["vector_counter"] = encoder_counter(self._get_encoder())
        return counter

    # ------------------------------------------------------------------ segmentation
    def _scores(self, doc: _Doc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Similarity, depth and score of each gap (i: between units i - 1 and i; 0 unused)."""
        n = len(doc.starts)
        w = self.window
        # Window sums as sparse products (each window a row of ones over its units).
        # Windows stop at headings: the units of another section say nothing about
        # where this one should be cut.
        units = np.arange(n)
        heading = doc.kinds == HEADING
        section_start = np.maximum.accumulate(np.where(heading, units, 0))
        section_end = np.minimum.accumulate(np.where(heading, units, n)[::-1])[::-1]
        section_end = np.concatenate((section_end[1:], [n]))  # first heading after the unit
        i = units[1:]  # gap i lies between units i - 1 and i
        lo = np.maximum(i - w, section_start[i - 1])
        hi = np.minimum(i + w, section_end[i])
        vectors = doc.vectors
        sim = window_similarity(vectors, lo, i, hi)
        depth = _depth(sim)
        score = depth + bonus_table()[doc.kinds[1:]]
        return (
            np.concatenate(([1.0], sim)),
            np.concatenate(([0.0], depth)),
            np.concatenate(([-np.inf], score)),
        )

    def _segment(self, doc: _Doc) -> list[tuple[int, int]]:
        """Groups of units ``[a, b)`` forming the chunks."""
        n = len(doc.starts)
        if n == 1:
            return [(0, 1)]
        sim, depth, score = self._scores_cached(doc)
        if self.threshold == "auto":
            # The level comes from the depths of ordinary gaps (between sentences, items,
            # paragraphs); headings and code shift scores but not the level.
            plain = depth[1:][np.isin(doc.kinds[1:], (SENTENCE, ITEM, PARAGRAPH))]
            level = plain.mean() + AUTO_STD * plain.std() if len(plain) else np.inf
            cand = score > level
            curve = score
        else:
            cand = sim < float(self.threshold)
            curve = -sim
        # Only the deepest gap of each dip: local maxima of the curve.
        peak = np.ones(n, bool)
        peak[1:-1] = (curve[1:-1] >= curve[:-2]) & (curve[1:-1] >= curve[2:])
        peak[-1] = curve[-1] >= curve[-2]
        heading = doc.kinds == HEADING
        cand = (cand & peak) | heading
        cand[0] = False  # gap 0 does not exist
        cuts = np.flatnonzero(cand)
        return self._fit_groups(doc, np.concatenate(([0], cuts, [n])), score)

    def _fit_groups(
        self, doc: _Doc, bounds: np.ndarray, score: np.ndarray
    ) -> list[tuple[int, int]]:
        """The groups between the first cuts ``bounds`` (``0, cuts..., n``), with their
        sizes enforced: those over the limit split, those under ``min_tokens`` merged."""
        sizes = _Sizes(doc)
        big = sizes.many(bounds[:-1], bounds[1:]) > self._limit()
        groups: list[tuple[int, int]] = []
        for (a, b), over in zip(pairwise(bounds.tolist()), big.tolist(), strict=True):
            if over:
                groups.extend(self._split_big(a, b, score, sizes))
            else:
                groups.append((a, b))
        return self._merge_small(groups, score, sizes)

    def _split_big(self, a: int, b: int, score: np.ndarray, sizes: _Sizes) -> list[tuple[int, int]]:
        """Split ``[a, b)`` into parts that fit ``max_tokens``, each cut at a deep gap.

        Repeatedly peels a part off either end: among the gaps that make the first or
        the last part between ``min_tokens`` and the limit (leaving at least
        ``min_tokens`` for the rest, when possible), it cuts at the highest-scoring one.
        Each step looks only at gaps near the ends, so the whole is linear.
        """
        limit, low = self._limit(), self.min_tokens_
        head: list[tuple[int, int]] = []
        tail: list[tuple[int, int]] = []
        run = sizes.run
        while b - a >= 2 and sizes(a, b) > limit:
            base = sizes.units[a] + sizes.gaps[a + 1]  # size of [a, g) is run[g] - base
            lo = max(a + 1, int(np.searchsorted(run, base + low, side="left")))
            hi = min(b - 1, int(np.searchsorted(run, base + limit, side="right")) - 1)
            if lo > hi:
                lo, hi = a + 1, max(a + 1, hi)
            # size of [g, b) is about run[b] - run[g] (plus or minus gap g).
            r_lo = max(a + 1, int(np.searchsorted(run, run[b] - limit, side="left")))
            r_hi = min(b - 1, int(np.searchsorted(run, run[b] - low, side="right")))
            gaps = np.unique(np.concatenate((np.arange(lo, hi + 1), np.arange(r_lo, r_hi + 1))))
            left = sizes.many(np.full(len(gaps), a), gaps)
            right = sizes.many(gaps, np.full(len(gaps), b))
            fits_left = left <= limit
            fits_right = right <= limit
            usable = fits_left | fits_right
            if not usable.any():  # a single unit over the limit at an end: peel it
                head.append((a, a + 1))
                a += 1
                continue
            good = usable & (left >= low) & (right >= low)
            pick = good if good.any() else usable
            i = int(np.flatnonzero(pick)[np.argmax(score[gaps[pick]])])
            g = int(gaps[i])
            if fits_left[i]:
                head.append((a, g))
                a = g
            else:
                tail.append((g, b))
                b = g
        return [*head, (a, b), *reversed(tail)]

    def _merge_small(
        self, groups: list[tuple[int, int]], score: np.ndarray, sizes: _Sizes
    ) -> list[tuple[int, int]]:
        """Merge groups under ``min_tokens`` across their weaker gap when the result fits.

        Smallest groups first; a group that cannot merge either way (the result would
        exceed ``max_tokens``) stays as it is.
        """
        low, limit = self.min_tokens_, self._limit()
        n = len(groups)
        if low <= 0 or n < 2:
            return groups
        start = [a for a, _ in groups]
        end = [b for _, b in groups]
        size = sizes.many(np.array(start), np.array(end)).tolist()
        prev = list(range(-1, n - 1))
        nxt = [*range(1, n), -1]
        alive = [True] * n
        heap = [(size[i], i) for i in range(n) if size[i] < low]
        heapq.heapify(heap)
        while heap:
            s, i = heapq.heappop(heap)
            if not alive[i] or s != size[i] or s >= low:
                continue
            options = []
            p, q = prev[i], nxt[i]
            if p >= 0 and sizes(start[p], end[i]) <= limit:
                options.append((score[start[i]], p, i))
            if q >= 0 and sizes(start[i], end[q]) <= limit:
                options.append((score[start[q]], i, q))
            if not options:
                continue
            _, keep, gone = min(options)  # remove the weaker gap
            end[keep] = end[gone]
            size[keep] = sizes(start[keep], end[keep])
            alive[gone] = False
            nxt[keep] = nxt[gone]
            if nxt[gone] >= 0:
                prev[nxt[gone]] = keep
            if size[keep] < low:
                heapq.heappush(heap, (size[keep], keep))
        return [(start[i], end[i]) for i in range(n) if alive[i]]

    def _recut(self, doc: _Doc, span: Span) -> list[Span]:
        """Split a chunk found over the limit when counted exactly: at its best gap."""
        a = int(np.searchsorted(doc.starts, span[0]))
        b = int(np.searchsorted(doc.ends, span[1], side="right"))
        if b - a < 2:
            return [span]
        score = self._scores_cached(doc)[2]
        g = a + 1 + int(np.argmax(score[a + 1 : b]))
        return [
            (int(doc.starts[a]), int(doc.ends[g - 1])),
            (int(doc.starts[g]), int(doc.ends[b - 1])),
        ]

    def _scores_cached(self, doc: _Doc) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if doc.cache is None:
            doc.cache = self._scores(doc)
        return doc.cache


class _Doc:
    """Per-text analysis: the text, its words, units (spans, kinds), token counts, vectors."""

    __slots__ = ("cache", "ends", "est", "gap", "info", "kinds", "starts", "vectors", "words")

    def __init__(self, info, words, units: Units, est, gap, vectors) -> None:
        self.info = info
        self.words = words
        self.starts = units.starts
        self.ends = units.ends
        self.kinds = units.kinds
        self.est = est
        self.gap = gap
        self.vectors = vectors
        self.cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


class _Sizes:
    """Estimated tokens of unit ranges ``[a, b)``: units plus the gaps inside."""

    def __init__(self, doc: _Doc) -> None:
        self.units = np.concatenate(([0.0], np.cumsum(doc.est)))
        self.gaps = np.concatenate(([0.0], np.cumsum(doc.gap)))
        #: ``run[g] - run0(a)`` is the size of ``[a, g)``: non-decreasing, for searching.
        self.run = self.units + self.gaps
        # The same sums as Python floats, for the size of one range at a time (a Python
        # float sum, in the same order, is the float64 one bit for bit, without numpy's
        # cost per scalar).
        self._units_list: list[float] = self.units.tolist()
        self._gaps_list: list[float] = self.gaps.tolist()

    def __call__(self, a: int, b: int) -> float:
        units, gaps = self._units_list, self._gaps_list
        return units[b] - units[a] + gaps[b] - gaps[a + 1]

    def many(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.units[b] - self.units[a] + self.gaps[b] - self.gaps[a + 1]


def window_similarity(
    vectors: np.ndarray, lo: np.ndarray, gap: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Cosine between the summed unit vectors ``lo[k]:gap[k]`` and ``gap[k]:hi[k]`` of each
    gap ``k`` (1 where either window sums to zero): how alike the text on each side is."""
    n = len(vectors)
    left = _window_matrix(lo, gap, n) @ vectors
    right = _window_matrix(gap, hi, n) @ vectors
    nl = np.sqrt(np.einsum("ij,ij->i", left, left))
    nr = np.sqrt(np.einsum("ij,ij->i", right, right))
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.einsum("ij,ij->i", left, right) / (nl * nr)
    return np.where((nl > 0) & (nr > 0), sim, 1.0)


def _window_matrix(lo: np.ndarray, hi: np.ndarray, n: int) -> sp.csr_matrix:
    """Sparse 0/1 matrix whose row k has ones at columns ``lo[k]`` to ``hi[k] - 1``."""
    lens = hi - lo
    indptr = np.concatenate(([0], np.cumsum(lens)))
    cols = np.repeat(lo - indptr[:-1], lens) + np.arange(indptr[-1])
    data = np.ones(len(cols), np.float32)
    return sp.csr_matrix((data, cols, indptr), shape=(len(lo), n))


@functools.lru_cache(maxsize=1)
def bonus_table() -> np.ndarray:
    """:data:`KIND_BONUS` as an array indexed by boundary kind."""
    table = np.array([KIND_BONUS.get(k, 0.0) for k in range(6)])
    table.setflags(write=False)
    return table


def _depth_bounded(sim: np.ndarray, run_start: np.ndarray, run_end: np.ndarray) -> np.ndarray:
    """:func:`_depth` of several documents' similarity curves laid end to end.

    ``run_start`` marks each document's first gap and ``run_end`` its last: the walks
    to the left and right peaks stop there, so each document's depths are exactly what
    :func:`_depth` gives for its curve alone.
    """
    n = len(sim)
    if n == 0:
        return sim
    idx = np.arange(n)
    rises = run_start.copy()
    rises[0] = True
    rises[1:] |= sim[1:] > sim[:-1]
    left = sim[np.maximum.accumulate(np.where(rises, idx, 0))]
    rises_back = run_end.copy()
    rises_back[-1] = True
    rises_back[:-1] |= sim[:-1] > sim[1:]
    right = sim[np.minimum.accumulate(np.where(rises_back, idx, n - 1)[::-1])[::-1]]
    return (left - sim) + (right - sim)


def _depth(sim: np.ndarray) -> np.ndarray:
    """TextTiling's depth of each value: the climb to the peak on its left and on its right.

    From each gap, walk left while the similarity does not fall, and right likewise;
    the depth is (left peak - value) + (right peak - value). A gap on the slope of a
    deeper valley gets little depth, so a topic change is scored at its lowest point
    and not also on its shoulders.
    """
    n = len(sim)
    if n == 0:
        return sim
    idx = np.arange(n)
    # Left peak: the start of the run sim[j] >= ... >= sim[i] that ends at i.
    rises = np.ones(n, bool)
    rises[1:] = sim[1:] > sim[:-1]  # a run starts where the value went up
    left = sim[np.maximum.accumulate(np.where(rises, idx, 0))]
    # Right peak: the end of the run sim[i] <= ... <= sim[k] that starts at i.
    rises_back = np.ones(n, bool)
    rises_back[:-1] = sim[:-1] > sim[1:]
    right = sim[np.minimum.accumulate(np.where(rises_back, idx, n - 1)[::-1])[::-1]]
    return (left - sim) + (right - sim)


__all__ = ["SemanticChunker", "check_text"]
