"""Token counting for the chunkers: exact counts of spans, and cuts at token boundaries.

A chunk's ``n_tokens`` is the number of tokens of its text counted alone with the chosen
tokenizer, and ``max_tokens`` bounds that number. Tokenizing every candidate chunk
would be slow, so a text is cut into words once, each distinct word is tokenized once
(and remembered across calls), and counts of spans are sums over words.

That sum is exact for tokenizers whose tokens never span two words (BERT-like ones,
split at any whitespace, and Llama-like ones, split at single spaces; the property is
checked on probe texts by :func:`sememe._wordcache.split_mode`). A word cut by a span's
edge is counted as the piece inside the span. Other tokenizers, spans with runs of
spaces in Llama-like ones, and plain ``str -> int`` callables count whole texts.

A word of more than :data:`LONG_WORD` characters (a run without spaces: CJK text, a blob),
and a text that long that would be tokenized whole, is tokenized (for the memo) or counted
in pieces of 16k to 32k characters, cut before a whitespace or else at a character boundary
(as :meth:`sememe.Encoder.count_tokens` does), which keeps the time linear; that count
may differ from tokenizing it whole by a token or two per cut. Chunks shorter than
``LONG_WORD`` characters are always counted exactly, so the ``max_tokens`` cap is exact
for them. :meth:`TokenizerCounter.token_starts` tokenizes long texts in pieces too.

The memo, the surrogate-safe tokenize and the piece cuts live in :mod:`sememe._wordcache`;
a counter for the encoder's own tokenizer uses :meth:`sememe.Encoder.word_tokens`, so
every chunker of one encoder shares its tokenizer and memo (nothing is copied or probed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from .. import _wordcache
from .._wordcache import TokenMemo as WordMemo  # noqa: F401 - the name before the move
from ..errors import InvalidTypeError
from .sentences import TextInfo

#: Words remembered per tokenizer before the memo starts afresh.
MEMO_WORDS = _wordcache.MEMO_WORDS
#: Token ids remembered per tokenizer before the memo starts afresh.
MEMO_TOKENS = _wordcache.MEMO_TOKENS
#: Texts longer than this many characters are counted (and :meth:`TokenizerCounter.
#: token_starts` tokenized) in pieces of about :data:`PIECE_CHARS` (at most twice that);
#: the memo cuts words longer than :data:`sememe._wordcache.LONG_WORD` likewise.
LONG_WORD = _wordcache.LONG_WORD
PIECE_CHARS = _wordcache.PIECE_CHARS
_PIECES_PER_BATCH = 64


def _encode(
    tok: Tokenizer, texts: list[str], *, add_special_tokens: bool, offsets: bool = False
) -> list[Any]:
    """Tokenize a batch, replacing lone surrogates first (:func:`sememe._wordcache.encode_batch`)."""
    return _wordcache.encode_batch(
        tok, texts, add_special_tokens=add_special_tokens, offsets=offsets
    )


def _piece_bounds(text: str, piece: int | None = None) -> list[int]:
    """:func:`sememe._wordcache.piece_bounds`, by default with :data:`PIECE_CHARS`."""
    return _wordcache.piece_bounds(text, PIECE_CHARS if piece is None else piece)


def _count_long(tok: Tokenizer, text: str) -> int:
    """Tokens of one long text or word, counted in pieces (:func:`sememe._wordcache.long_ids`)."""
    return sum(map(len, _wordcache.long_ids(tok, text, PIECE_CHARS)))


class DocWords:
    """The words of one text: offsets, token counts and memo rows (for the token ids)."""

    __slots__ = ("cum", "empty", "ends", "lens", "memo", "rows", "starts")

    def __init__(
        self,
        memo: _wordcache.TokenMemo,
        starts: np.ndarray,
        ends: np.ndarray,
        rows: np.ndarray,
    ) -> None:
        lens = memo.lens[rows]
        self.memo = memo  # the memo the rows belong to
        self.starts = starts
        self.ends = ends
        self.lens = lens
        self.rows = rows
        #: ``cum[k]``: tokens in words ``0..k-1``; ``empty[k]``: empty words among them.
        self.cum = np.concatenate(([0], np.cumsum(lens)))
        self.empty = np.concatenate(([0], np.cumsum(ends == starts)))


class TokenCounter:
    """Counts tokens of texts with one tokenizer; see the module docstring.

    Subclasses: :class:`TokenizerCounter` (a ``tokenizers.Tokenizer``) and
    :class:`CallableCounter` (any ``str -> int`` function).
    """

    def count(self, texts: Sequence[str]) -> np.ndarray:
        """Exact token count of each text, counted alone (int64 array)."""
        raise NotImplementedError

    def span_counts(self, info: TextInfo, words: Any, starts, ends) -> np.ndarray:
        """Exact counts of the spans ``info.text[starts[i]:ends[i]]``, each counted alone."""
        return self.count(_pieces(info.text, starts, ends))

    def doc_words(self, info: TextInfo) -> Any:
        """Per-text word data that makes :meth:`span_counts` fast (None: not needed)."""
        return None

    def token_starts(self, text: str) -> tuple[np.ndarray, np.ndarray, int] | None:
        """Where ``text`` may be cut between tokens, or None when the tokenizer cannot tell.

        Returns ``(offsets, index, n)``: character offsets (increasing, inside the
        text) where a token starts on a character boundary, the index of that token,
        and the number of tokens. Byte-fallback tokens that share one character's
        offsets give a single offset, so a cut never splits a character.
        """
        return None


class TokenizerCounter(TokenCounter):
    """Counts with a Hugging Face ``tokenizers.Tokenizer`` (truncation and padding off).

    Parameters
    ----------
    tokenizer:
        The tokenizer; copied (unless ``copy=False``: for a private copy, such as
        :attr:`sememe.Encoder.tokenizer` returns), so the caller's object is never
        reconfigured.
    add_special_tokens:
        Count the special tokens (``[CLS]``, ``<s>``, ...) the tokenizer adds to every
        text. Off for user tokenizers: chunks are usually pasted into larger prompts.
    words:
        Count with this tokenizer and word memo instead (``tokenizer`` and the options
        above are then ignored): :meth:`sememe.Encoder.word_tokens` for the encoder's.
    """

    def __init__(
        self,
        tokenizer: Tokenizer | None,
        *,
        add_special_tokens: bool = False,
        copy: bool = True,
        words: _wordcache.WordTokens | None = None,
    ) -> None:
        if words is None:
            if tokenizer is None:
                raise InvalidTypeError("TokenizerCounter needs a tokenizer or words")
            tok = Tokenizer.from_str(tokenizer.to_str()) if copy else tokenizer
            tok.no_truncation()
            tok.no_padding()
            words = _wordcache.WordTokens(tok, add_special_tokens=add_special_tokens)
        self.words = words
        tok = words.tokenizer
        add_special_tokens = words.add_special_tokens
        self.tokenizer = tok
        self.add_special_tokens = add_special_tokens
        self.mode = words.mode
        self.n_special = (
            len(tok.encode("", add_special_tokens=True).ids) if add_special_tokens else 0
        )
        probe = self.count_exact(["x y", "x\n\ny"])
        #: Estimated tokens per newline between two pieces of text (0 for BERT, 1 for Llama).
        self.newline_cost = max(0.0, float(probe[1] - probe[0]) / 2.0)

    def count_exact(self, texts: Sequence[str]) -> np.ndarray:
        """Counts by tokenizing each whole text (in pieces over :data:`LONG_WORD` characters)."""
        if not texts:
            return np.zeros(0, np.int64)
        texts = list(texts)
        long = [i for i, t in enumerate(texts) if len(t) > LONG_WORD]
        if long:
            out = self.count_exact(["" if len(t) > LONG_WORD else t for t in texts])
            for i in long:
                out[i] = _count_long(self.tokenizer, texts[i]) + self.n_special
            return out
        encs = _encode(self.tokenizer, texts, add_special_tokens=self.add_special_tokens)
        return np.fromiter((len(e.ids) for e in encs), np.int64, len(encs))

    def count(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if self.mode is None or not texts:
            return self.count_exact(texts)
        split = str.split if self.mode == "whitespace" else _split_spaces
        parts = [split(t) for t in texts]
        out = np.zeros(len(texts), np.int64)
        exact = [i for i, p in enumerate(parts) if p is None]
        if exact:
            out[exact] = self.count_exact([texts[i] for i in exact])
            parts = [p or [] for p in parts]
        sizes = np.fromiter(map(len, parts), np.int64, len(parts))
        words = list(chain.from_iterable(parts))
        long = [k for k, w in enumerate(words) if len(w) > LONG_WORD]
        if long:  # counted in pieces, not remembered
            long_counts = [_count_long(self.tokenizer, words[k]) for k in long]
            for k in long:
                words[k] = ""
        memo = self.words.memo()
        rows = memo.rows(words)  # before reading lens: it may add rows
        lens = memo.lens[rows]
        if long:
            lens = lens.copy()
            lens[long] = long_counts
        cum = np.concatenate(([0], np.cumsum(lens)))
        bounds = np.concatenate(([0], np.cumsum(sizes)))
        summed = cum[bounds[1:]] - cum[bounds[:-1]]
        keep = np.ones(len(texts), bool)
        keep[exact] = False
        out[keep] = summed[keep]
        return out

    def doc_words(self, info: TextInfo) -> DocWords:
        """The text cut into the words this tokenizer's counts add up over.

        Single spaces for tokenizers in ``"space"`` mode (Llama-like: a word may hold a
        newline), any whitespace otherwise. Each word is tokenized once via the memo.
        """
        text = info.text
        memo = self.words.memo()  # a fresh one when full: between texts
        if self.mode == "space":
            words = text.split(" ")
            spaces = np.flatnonzero(info.codes == 32)
            starts = np.concatenate(([0], spaces + 1))
            ends = np.concatenate((spaces, [len(text)]))
        else:
            solid = ~info.space
            edge = np.diff(np.concatenate(([False], solid, [False])).astype(np.int8))
            starts = np.flatnonzero(edge == 1)
            ends = np.flatnonzero(edge == -1)
            words = text.split()
            if len(words) != len(starts):  # pragma: no cover - split and isspace disagree
                raise RuntimeError("word boundaries disagree with str.split")
        return DocWords(memo, starts, ends, memo.rows(words))

    def span_counts(self, info: TextInfo, words: DocWords, starts, ends) -> np.ndarray:
        """Exact counts of the spans ``text[starts[i]:ends[i]]``, each counted alone.

        For word-local tokenizers a span's count is the sum over its words: whole
        words come from the memo, and a word cut by the span's edge is counted as the
        piece inside. Spans with a run of spaces (``"space"`` mode) and all spans of
        other tokenizers are tokenized whole.
        """
        starts = np.asarray(starts, np.int64)
        ends = np.asarray(ends, np.int64)
        text = info.text
        if self.mode is None or len(starts) == 0:
            return self.count_exact(_pieces(text, starts, ends))
        ws, we, lens, cum = words.starts, words.ends, words.lens, words.cum
        a = np.searchsorted(we, starts, side="right")  # first word ending after the start
        b = np.searchsorted(ws, ends, side="left") - 1  # last word starting before the end
        out = cum[b + 1] - cum[a]
        cut_left = ws[a] < starts
        cut_right = we[b] > ends
        # Edge pieces of cut words: count the piece instead of the whole word.
        single = (a == b) & (cut_left | cut_right)
        left = np.flatnonzero(cut_left & ~single)
        right = np.flatnonzero(cut_right & ~single)
        one = np.flatnonzero(single)
        pieces = (
            _pieces(text, starts[left], we[a[left]])
            + _pieces(text, ws[b[right]], ends[right])
            + _pieces(text, starts[one], ends[one])
        )
        if pieces:
            memo = words.memo
            rows = memo.rows(pieces)
            got = memo.lens[rows]
            k, m = len(left), len(right)
            out[left] += got[:k] - lens[a[left]]
            out[right] += got[k : k + m] - lens[b[right]]
            out[one] = got[k + m :]
        if self.mode == "space":
            # A run of spaces shows up as an empty word; such spans are tokenized whole.
            empty = words.empty
            runs = np.flatnonzero(empty[b + 1] - empty[a] > 0)
            if len(runs):
                out[runs] = self.count_exact(_pieces(text, starts[runs], ends[runs]))
        return out

    def token_starts(self, text: str) -> tuple[np.ndarray, np.ndarray, int]:
        """See :meth:`TokenCounter.token_starts`. A text over :data:`LONG_WORD` characters
        is tokenized in pieces (:func:`_piece_bounds`), so the time stays linear; the
        pieces' token boundaries are candidates only, every chunk is counted again."""
        if len(text) <= LONG_WORD:
            encs = _encode(self.tokenizer, [text], add_special_tokens=False, offsets=True)
            offsets = np.asarray(encs[0].offsets, np.int64).reshape(-1, 2)
        else:
            bounds = _piece_bounds(text)
            parts = []
            for g in range(0, len(bounds) - 1, _PIECES_PER_BATCH):
                starts = bounds[:-1][g : g + _PIECES_PER_BATCH]
                ends = bounds[g + 1 : g + 1 + _PIECES_PER_BATCH]
                pieces = [text[a:b] for a, b in zip(starts, ends, strict=True)]
                encs = _encode(self.tokenizer, pieces, add_special_tokens=False, offsets=True)
                for a, e in zip(starts, encs, strict=True):
                    parts.append(np.asarray(e.offsets, np.int64).reshape(-1, 2) + a)
            offsets = np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
        if len(offsets) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
        starts = offsets[:, 0]
        prev_end = np.maximum.accumulate(offsets[:, 1])
        # A token may start a piece only if it begins after everything before it ends
        # (byte-fallback pieces of one character share that character's offsets).
        ok = np.zeros(len(starts), bool)
        ok[1:] = (starts[1:] >= prev_end[:-1]) & (starts[1:] > 0) & (starts[1:] < len(text))
        index = np.flatnonzero(ok)
        return starts[index], index, len(offsets)


class CallableCounter(TokenCounter):
    """Counts with any function ``str -> int`` (e.g. ``lambda s: len(tiktoken_enc.encode(s))``)."""

    def __init__(self, fn: Callable[[str], int]) -> None:
        self.fn = fn
        self.n_special = 0

    def count(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(texts), np.int64)
        for i, t in enumerate(texts):
            n = self.fn(t)
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise InvalidTypeError(
                    f"tokenizer callable returned {n!r} for a text; expected an int >= 0"
                )
            out[i] = n
        return out


def _pieces(text: str, starts: Any, ends: Any) -> list[str]:
    """``[text[s:e] for each span]``."""
    spans = map(slice, np.asarray(starts).tolist(), np.asarray(ends).tolist())
    return list(map(text.__getitem__, spans))


def _split_spaces(text: str) -> list[str] | None:
    """Single-space words, or None when the text has runs of spaces or edge spaces."""
    words = text.split(" ")
    return None if "" in words else words


def encoder_counter(encoder: Any) -> TokenizerCounter:
    """A counter for ``encoder``'s own tokenizer (with its special tokens).

    Cheap: it counts through :meth:`sememe.Encoder.word_tokens`, the encoder's tokenizer
    and word memo, shared by every chunker of that encoder.
    """
    return TokenizerCounter(None, words=encoder.word_tokens())


def make_counter(tokenizer: Any, encoder: Any) -> TokenCounter:
    """The counter for a chunker's ``tokenizer`` argument (None: the encoder's tokenizer)."""
    if tokenizer is None:
        return encoder_counter(encoder)
    if isinstance(tokenizer, Tokenizer):
        return TokenizerCounter(tokenizer)
    if callable(tokenizer):
        return CallableCounter(tokenizer)
    raise InvalidTypeError(
        f"tokenizer must be None, a tokenizers.Tokenizer or a callable str -> int, "
        f"got {type(tokenizer).__name__}"
    )
