"""The semantic chunker's batched path: many documents analysed in flat arrays at once.

:meth:`SemanticChunker.chunk` pays a fixed cost per document: a word-memo look-up and
maybe a tokenizer call, a token count of its units, one sparse product for its unit
vectors and two more for its windows, each with numpy and scipy set-up that costs more
than the arithmetic on a short document. :func:`chunk_texts` does those steps once for a
whole batch, on the batch's texts laid end to end (the *joined* text):

- the words of every text (single-space words, the bundled tokenizer's mode) in one
  memo look-up, so the unseen words of the batch go to the tokenizer in one call;
- every unit's exact token count in one :meth:`TokenizerCounter.span_counts` over the
  joined words, and every chunk's likewise at the end;
- every unit's vector in one :meth:`sememe.Encoder.span_sums`;
- every gap's similarity, depth and score in one pass, with each document's first and
  last unit acting as window and depth boundaries.

Sentences come from :func:`.sentences.split_units_many` (Punkt once over the joined
text). What stays per document is finding markdown blocks (a loop over lines) and the
choice of cuts (small Python loops over a document's groups). Every array a document sees holds the values the
per-document path computes (sums over the same terms in the same order), so the chunks
are identical; ``tests/test_chunk_batch.py`` checks that on random and real documents.

The path applies to the encoder's own tokenizer in ``"space"`` mode (Llama-like, the
bundled model's); other set-ups, and any error, go through :meth:`chunk` one document at
a time, so results and exceptions are exactly the per-document ones.
"""

from __future__ import annotations

from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from ._counting import DocWords, TokenizerCounter
from .sentences import HEADING, TextInfo, split_units_many
from .types import Chunk

if TYPE_CHECKING:  # pragma: no cover
    from .semantic import SemanticChunker


def batchable(chunker: SemanticChunker) -> bool:
    """True when :func:`chunk_texts` gives ``chunker``'s per-document results."""
    if chunker.tokenizer is not None:
        return False
    counter = chunker._counter()
    return isinstance(counter, TokenizerCounter) and counter.mode == "space"


def chunk_texts(chunker: SemanticChunker, texts: list[str]) -> list[list[Chunk]]:
    """``[chunker._chunk_text(t) for t in texts]`` for non-blank texts, batched.

    ``chunker`` must be :func:`batchable` and have no overlap (the caller extends the
    chunks afterwards, as :meth:`ChunkerBase.chunk` does).
    """
    from .semantic import SEGMENT_DIM, _depth_bounded, _Doc, bonus_table, window_similarity

    if not texts:
        return []
    enc = chunker._get_encoder()
    counter: TokenizerCounter = chunker._counter()  # type: ignore[assignment]
    memo = counter.words.memo()  # one memo for the batch (replaced between batches)
    n_docs = len(texts)
    lengths = np.fromiter(map(len, texts), np.int64, n_docs)
    offs = np.concatenate(([0], np.cumsum(lengths)))
    joined = "".join(texts)
    jinfo = TextInfo(joined)
    codes = jinfo.codes

    # Words: single-space words of each text, laid end to end (see the module docstring).
    spaces = np.flatnonzero(codes == 32)
    w_starts = np.sort(np.concatenate((offs[:-1], spaces + 1)), kind="stable")
    w_ends = np.sort(np.concatenate((spaces, offs[1:])), kind="stable")
    words = list(chain.from_iterable(t.split(" ") for t in texts))
    if len(words) != len(w_starts):  # pragma: no cover - split and the arrays disagree
        raise RuntimeError("word boundaries disagree with str.split")
    jwords = DocWords(memo, w_starts, w_ends, memo.rows(words))
    # Word range of each text: a text holds its spaces + 1 words.
    n_spaces = np.searchsorted(spaces, offs[1:]) - np.searchsorted(spaces, offs[:-1])
    w_offs = np.concatenate(([0], np.cumsum(n_spaces + 1)))

    # Units of every text (markdown blocks text by text, Punkt over the joined text),
    # then their exact counts.
    units, u_offs = split_units_many(texts, joined, jinfo, offs)
    u_starts, u_ends, kinds = units.starts, units.ends, units.kinds
    counts = counter.span_counts(jinfo, jwords, u_starts, u_ends)
    big_docs = np.unique(
        np.searchsorted(u_offs, np.flatnonzero(counts > chunker.max_tokens), "right") - 1
    )
    if len(big_docs):
        # A unit over max_tokens: that text's units come from the per-document code,
        # which cuts it at token boundaries (rare: a sentence of hundreds of tokens).
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        redo = set(big_docs.tolist())
        for d in range(n_docs):
            a, b = int(u_offs[d]), int(u_offs[d + 1])
            if d in redo:
                w0, w1, base = int(w_offs[d]), int(w_offs[d + 1]), int(offs[d])
                dw = DocWords(
                    memo, w_starts[w0:w1] - base, w_ends[w0:w1] - base, jwords.rows[w0:w1]
                )
                units, c = chunker._units(TextInfo(texts[d]), dw)
                parts.append((units.starts + base, units.ends + base, units.kinds, c))
            else:
                parts.append((u_starts[a:b], u_ends[a:b], kinds[a:b], counts[a:b]))
        u_starts = np.concatenate([p[0] for p in parts])
        u_ends = np.concatenate([p[1] for p in parts])
        kinds = np.concatenate([p[2] for p in parts])
        counts = np.concatenate([p[3] for p in parts]).astype(np.int64)
        n_units = np.fromiter((len(p[0]) for p in parts), np.int64, n_docs)
        u_offs = np.concatenate(([0], np.cumsum(n_units)))
    n_all = int(u_offs[-1])
    first = u_offs[:-1]  # each text's first unit (every non-blank text has one)

    # Unit vectors: one sparse product for the batch. A text's first unit takes its
    # tokens from the text's first word on, as the per-document path's indptr[0] = 0.
    ids = memo.gather(jwords.rows)
    tok_cum = jwords.cum
    indptr = np.concatenate((tok_cum[np.searchsorted(w_starts, u_starts)], [tok_cum[-1]]))
    indptr[first] = tok_cum[w_offs[:-1]]
    vectors = enc.span_sums(ids, indptr, dim=min(SEGMENT_DIM, enc.dim))

    # Newline tokens between units (none before a text's first unit).
    gap = np.zeros(n_all, np.float64)
    if counter.newline_cost and n_all > 1:
        newlines = jinfo.newlines
        between = np.searchsorted(newlines, u_starts[1:]) - np.searchsorted(newlines, u_ends[:-1])
        gap[1:] = counter.newline_cost * between
        gap[first] = 0.0

    # Gap scores (gap i: between units i - 1 and i of one text), all texts at once.
    idx = np.arange(n_all)
    is_first = np.zeros(n_all, bool)
    is_first[first] = True
    mark = (kinds == HEADING) | is_first  # windows stop at headings and at text edges
    section_start = np.maximum.accumulate(np.where(mark, idx, 0))
    section_end = np.minimum.accumulate(np.where(mark, idx, n_all)[::-1])[::-1]
    section_end = np.concatenate((section_end[1:], [n_all]))
    gaps = np.flatnonzero(~is_first)
    sim_all = np.ones(n_all, np.float64)
    depth_all = np.zeros(n_all, np.float64)
    score_all = np.full(n_all, -np.inf)
    if len(gaps):
        w = chunker.window
        lo = np.maximum(gaps - w, section_start[gaps - 1])
        hi = np.minimum(gaps + w, section_end[gaps])
        sim = window_similarity(vectors, lo, gaps, hi)
        # A gap starts a run where it is a text's first gap; ends one at a text's last.
        last = np.ones(len(gaps), bool)
        last[:-1] = gaps[1:] != gaps[:-1] + 1
        depth = _depth_bounded(sim, is_first[gaps - 1], last)
        sim_all[gaps] = sim
        depth_all[gaps] = depth
        score_all[gaps] = depth + bonus_table()[kinds[gaps]]

    # Cuts of every text at once where they need no size repairs; the texts whose
    # first cut gives a group over the limit, or one small enough to merge, go through
    # the per-document choice (_segment: small Python loops over their groups).
    est = counts.astype(np.float64)
    docs: dict[int, _Doc] = {}

    def doc_of(d: int) -> _Doc:
        """Text ``d``'s analysis, as the per-document path builds it (made on demand)."""
        doc = docs.get(d)
        if doc is None:
            a, b = int(u_offs[d]), int(u_offs[d + 1])
            base = int(offs[d])
            units_d = _Units(u_starts[a:b] - base, u_ends[a:b] - base, kinds[a:b])
            doc = docs[d] = _Doc(None, None, units_d, est[a:b], gap[a:b], vectors[a:b])
            doc.cache = (sim_all[a:b], depth_all[a:b], score_all[a:b])
        return doc

    unit_doc = np.repeat(np.arange(n_docs), np.diff(u_offs))
    g_start, repair = _first_cuts(
        chunker, u_offs, unit_doc, kinds, is_first, sim_all, depth_all, score_all, est, gap
    )
    g_end = np.concatenate((g_start[1:], [n_all]))
    g_doc = unit_doc[g_start]
    base_of = offs[g_doc]
    pairs = list(
        zip(
            (u_starts[g_start] - base_of).tolist(),
            (u_ends[g_end - 1] - base_of).tolist(),
            strict=True,
        )
    )
    g_offs = np.concatenate(([0], np.cumsum(np.bincount(g_doc, minlength=n_docs)))).tolist()
    spans: list[list[tuple[int, int]]] = []
    for d in range(n_docs):
        if repair[d]:  # sizes to enforce: _segment's own code, from the same first cuts
            doc = doc_of(d)
            s_list = doc.starts.tolist()
            e_list = doc.ends.tolist()
            a, b = g_offs[d], g_offs[d + 1]
            first_unit = int(u_offs[d])
            bounds = np.append(g_start[a:b] - first_unit, int(u_offs[d + 1]) - first_unit)
            groups = chunker._fit_groups(doc, bounds, doc.cache[2])  # type: ignore[index]
            spans.append([(s_list[x], e_list[y - 1]) for x, y in groups])
        else:
            spans.append(pairs[g_offs[d] : g_offs[d + 1]])
    n_spans = [len(s) for s in spans]
    flat = np.asarray(list(chain.from_iterable(spans)), np.int64).reshape(-1, 2)
    shift = np.repeat(offs[:-1], n_spans)
    exact = counter.span_counts(jinfo, jwords, flat[:, 0] + shift, flat[:, 1] + shift).tolist()
    out = []
    k = 0
    limit = chunker.max_tokens
    for d, text in enumerate(texts):
        got = exact[k : k + n_spans[d]]
        k += n_spans[d]
        if max(got) <= limit:  # the usual case: every chunk fits as counted
            out.append(
                [
                    Chunk(text[s:e], s, e, n, i)
                    for i, ((s, e), n) in enumerate(zip(spans[d], got, strict=True))
                ]
            )
            continue
        out.append(
            chunker._finish(
                text, spans[d], lambda span, d=d: chunker._recut(doc_of(d), span), counts=got
            )
        )
    return out


def _first_cuts(
    chunker: SemanticChunker,
    u_offs: np.ndarray,
    unit_doc: np.ndarray,
    kinds: np.ndarray,
    is_first: np.ndarray,
    sim: np.ndarray,
    depth: np.ndarray,
    score: np.ndarray,
    est: np.ndarray,
    gap: np.ndarray,
) -> tuple[np.ndarray, list[bool]]:
    """The first unit of every group of :meth:`SemanticChunker._segment`'s first cut, for
    all texts at once, and which texts need its size repairs (a group over the limit, or
    one under ``min_tokens`` beside another): those go through
    :meth:`SemanticChunker._fit_groups` from these cuts.

    The level, peaks and candidate cuts are :meth:`SemanticChunker._segment`'s, text by
    text: the level from each text's own depths (the same numpy reductions over the same
    values), the peaks compared within each text. Group sizes are sums of whole token
    counts and newline costs (multiples of one half), exact in float64, so a size test
    here agrees with the per-document one.
    """
    from .semantic import AUTO_STD, PARAGRAPH

    n_docs = len(u_offs) - 1
    if chunker.threshold == "auto":
        level = np.full(n_docs, np.inf)
        plain = (kinds <= PARAGRAPH) & ~is_first  # SENTENCE, ITEM, PARAGRAPH gaps
        bounds = u_offs.tolist()
        for d in np.flatnonzero(np.diff(u_offs) >= 2).tolist():
            a, b = bounds[d], bounds[d + 1]
            vals = depth[a:b][plain[a:b]]
            if len(vals):
                level[d] = vals.mean() + AUTO_STD * vals.std()
        cand = score > level[unit_doc]
        curve = score
    else:
        cand = sim < float(chunker.threshold)
        curve = -sim
    n = len(kinds)
    left = np.ones(n, bool)
    left[1:] = curve[1:] >= curve[:-1]
    right = np.ones(n, bool)
    right[:-1] = curve[:-1] >= curve[1:]
    is_last = np.zeros(n, bool)
    is_last[u_offs[1:] - 1] = True
    peak = left & (right | is_last)
    cand = (cand & peak) | (kinds == HEADING)
    cand[is_first] = False
    g_start = np.flatnonzero(cand | is_first)
    g_end = np.concatenate((g_start[1:], [n]))
    units = np.concatenate(([0.0], np.cumsum(est)))
    gaps = np.concatenate(([0.0], np.cumsum(gap)))
    size = units[g_end] - units[g_start] + gaps[g_end] - gaps[g_start + 1]
    g_doc = unit_doc[g_start]
    over = np.bincount(g_doc, weights=size > chunker._limit(), minlength=n_docs) > 0
    low = chunker.min_tokens_
    if low > 0:
        n_groups = np.bincount(g_doc, minlength=n_docs)
        small = np.bincount(g_doc, weights=size < low, minlength=n_docs) > 0
        over |= small & (n_groups >= 2)
    return g_start, over.tolist()


class _Units:
    """The unit arrays one document's :class:`_Doc` is built from (as ``Units``)."""

    __slots__ = ("ends", "kinds", "starts")

    def __init__(self, starts: np.ndarray, ends: np.ndarray, kinds: np.ndarray) -> None:
        self.starts, self.ends, self.kinds = starts, ends, kinds
