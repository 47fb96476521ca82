"""Word-level memo of tokenization, the reason sememe encodes faster than it tokenizes.

For most tokenizers a text's tokens are the concatenation of its words' tokens:
pre-tokenizers split at whitespace (BERT, Metaspace) or, as in Llama's BPE
without pre-tokenizer, no merge can cross the space marker. Real text repeats
words heavily, so sememe tokenizes each distinct word once, remembers its token
ids, and builds a batch's vectors as (texts x words) @ (words x tokens) @ table
with sparse products.

:func:`split_mode` decides from the tokenizer's definition *and* by checking probe
texts whether this shortcut is exact; when it is not, the encoder tokenizes whole
texts instead. Texts the shortcut cannot represent (runs of spaces in ``"space"``
mode, very long texts, texts over the token limit) also take the exact path.

The chunkers need each word's token *ids* (to count spans and pool units), not its
pooling row: :class:`TokenMemo` remembers those, and :class:`WordTokens` bundles a
tokenizer with its split mode and memo. :meth:`sememe.Encoder.word_tokens` gives the
encoder's own, shared by every chunker of that encoder. This module also holds the one
surrogate-safe batch tokenize (:func:`encode_batch`) and the cuts of long texts into
pieces (:func:`forced_cut`, :func:`piece_bounds`, :func:`long_ids`).
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from itertools import chain, islice
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from tokenizers import Tokenizer

from . import _text

SplitMode = Literal["space", "whitespace"]

#: Distinct words remembered per encoder before the memo starts afresh (about 40 MB).
CAPACITY = 400_000
#: Words remembered by a :class:`TokenMemo` before its owner starts a fresh one.
MEMO_WORDS = 500_000
#: Token ids remembered by a :class:`TokenMemo` before its owner starts a fresh one.
MEMO_TOKENS = 20_000_000
#: Words longer than this many characters are tokenized in pieces by :class:`TokenMemo`.
LONG_WORD = 65_536
#: Target characters per piece of :func:`piece_bounds` (a piece is at most twice that).
PIECE_CHARS = 16_384
_PIECES_PER_BATCH = 64
_SPACE = re.compile(r"\s")

_MARKERS = (" ", "\u2581", "\u0120")  # space, sentencepiece's "▁", GPT-2's "Ġ"
_SPLITTING_PRE_TOKENIZERS = {"Whitespace", "WhitespaceSplit", "BertPreTokenizer", "Metaspace"}
_NEUTRAL_PRE_TOKENIZERS = {"Punctuation", "Digits", "UnicodeScripts", "CharDelimiterSplit"}

_PROBES = (
    "The quick brown fox jumps over the lazy dog.",
    "Hello, World! It's 3:45pm on 2024-01-02; e-mail me@example.com or visit https://x.org/a?b=c.",
    "naïve café Straße ÆØÅ résumé coöperate",
    "日本語のテキスト と 中文 文本 and 한국어 텍스트",
    "emoji 😀👍🏽 and symbols ©®™ ½ → ∑ ∞",
    "tabs\tand\nnewlines\r\nmixed in words",
    "UPPER lower MiXeD CamelCase snake_case kebab-case",
    "numbers 1234567 3.14159 -42 1e-9 0xFF",
    "quotes \"double\" 'single' «guillemets» (parens) [brackets] {braces}",
    "don't won't y'all rock'n'roll",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
)


def _pre_tokenizer_types(spec: dict | None) -> list[str]:
    if spec is None:
        return []
    if spec.get("type") == "Sequence":
        return [t for sub in spec.get("pretokenizers", []) for t in _pre_tokenizer_types(sub)]
    return [spec.get("type", "?")]


def _structurally_word_local(tokenizer: Tokenizer) -> bool:
    """True when the tokenizer's definition rules out tokens spanning two words."""
    spec = json.loads(tokenizer.to_str())
    types = _pre_tokenizer_types(spec.get("pre_tokenizer"))
    if types:
        return any(t in _SPLITTING_PRE_TOKENIZERS for t in types) and all(
            t in _SPLITTING_PRE_TOKENIZERS | _NEUTRAL_PRE_TOKENIZERS for t in types
        )
    # No pre-tokenizer (Llama-style BPE): safe only if no vocabulary entry has a space
    # marker after another character, so that no merge can cross a word boundary.
    for token in tokenizer.get_vocab():
        body = token.lstrip("".join(_MARKERS))
        if any(m in body for m in _MARKERS):
            return False
    return True


def split_mode(tokenizer: Tokenizer, add_special_tokens: bool) -> SplitMode | None:
    """How texts may be cut into independently tokenizable words, or None if they may not."""
    if add_special_tokens or not _structurally_word_local(tokenizer):
        return None
    for mode in ("space", "whitespace"):
        split = splitter(mode)
        ok = True
        for text in _PROBES:
            whole = tokenizer.encode(text, add_special_tokens=False).ids
            words = split(text)
            parts = tokenizer.encode_batch(words, add_special_tokens=False) if words else []
            if [i for p in parts for i in p.ids] != whole:
                ok = False
                break
        if ok:
            return mode
    return None


def splitter(mode: SplitMode) -> Callable[[str], list[str]]:
    """The word splitter for a mode: single spaces, or any run of whitespace."""
    if mode == "space":
        return lambda text: text.split(" ")
    return str.split


class WordCache:
    """Distinct words seen so far, each with its tokens as one row of a sparse matrix.

    Rows hold pooling weights at the columns of the tokens' table rows. Row 0 is the empty
    word, which marks a run of spaces in ``"space"`` mode. The rows live in buffers that
    grow by doubling, so adding a few words costs time for those words, not a copy of the
    whole memo (which holds hundreds of thousands of words once a large corpus has been
    encoded, and a search query often brings one new word). Readers may use the index while
    another thread adds words: a word enters the index only after its row is published,
    and published rows are never written again.
    """

    def __init__(
        self,
        n_rows: int,
        token_weight: np.ndarray,
        denominator: np.ndarray,
        row_of: np.ndarray | None = None,
    ) -> None:
        self.index: dict[str, int] = {"": 0}
        self.n_rows = n_rows
        self._row_of = row_of
        self._weight = token_weight
        self._den = denominator
        # CSR buffers and per-word arrays; only their first `words` rows / `nnz` entries are
        # in use. int32 indices spare scipy a scan of their contents; it copies a slice only
        # while it is under half its buffer, i.e. in the first, small buffer.
        self._data = np.zeros(1024, np.float32)
        self._indices = np.zeros(1024, np.int32)
        self._indptr = np.zeros(1025, np.int32)
        self._n_tokens = np.zeros(1024, np.int64)
        self._denominator = np.zeros(1024, np.float64)
        self._published: tuple[sp.csr_matrix, np.ndarray, np.ndarray] = self._snapshot(1, 0)
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.index)

    @property
    def matrix(self) -> sp.csr_matrix:
        """(words x table rows) pooling weights of every word's tokens."""
        return self._published[0]

    @property
    def n_tokens(self) -> np.ndarray:
        """Tokens per word."""
        return self._published[1]

    @property
    def denominator(self) -> np.ndarray:
        """Sum of the pooling denominators of each word's tokens."""
        return self._published[2]

    def _snapshot(self, words: int, nnz: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        matrix = sp.csr_matrix(
            (self._data[:nnz], self._indices[:nnz], self._indptr[: words + 1]),
            shape=(words, self.n_rows),
            copy=False,
        )
        return matrix, self._n_tokens[:words], self._denominator[:words]

    def add(self, words: Iterable[str], token_ids: Callable[[list[str]], list[list[int]]]) -> None:
        """Tokenize ``words`` (with ``token_ids``) and append them."""
        with self.lock:
            new = [w for w in words if w not in self.index]
            if not new:
                return
            ids = token_ids(new)
            lens = np.fromiter(map(len, ids), np.int64, len(ids))
            flat = np.fromiter((i for row in ids for i in row), np.int32, int(lens.sum()))
            cols = flat if self._row_of is None else self._row_of[flat]
            cum = np.zeros(len(flat) + 1, np.float64)
            np.cumsum(self._den[flat], out=cum[1:])
            ends = np.cumsum(lens)
            starts = ends - lens
            base = self.matrix.shape[0]
            nnz = int(self._indptr[base])
            words, total = base + len(new), nnz + len(flat)
            if total > np.iinfo(np.int32).max:
                raise OverflowError("word memo too large for 32-bit sparse indices")
            self._reserve(words, total)
            self._data[nnz:total] = self._weight[flat]
            self._indices[nnz:total] = cols
            self._indptr[base + 1 : words + 1] = nnz + ends
            self._n_tokens[base:words] = lens
            self._denominator[base:words] = cum[ends] - cum[starts]
            self._published = self._snapshot(words, total)
            self.index.update(zip(new, range(base, words), strict=True))

    def _reserve(self, words: int, nnz: int) -> None:
        """Grow the buffers (doubling) to hold ``words`` rows and ``nnz`` entries.

        Growing copies into new arrays; the published snapshot keeps the old ones, so
        readers never see a buffer change under them.
        """
        if words > len(self._n_tokens):
            size = max(words, 2 * len(self._n_tokens))
            self._n_tokens = _grown(self._n_tokens, size)
            self._denominator = _grown(self._denominator, size)
            self._indptr = _grown(self._indptr, size + 1)
        if nnz > len(self._data):
            size = max(nnz, 2 * len(self._data))
            self._data = _grown(self._data, size)
            self._indices = _grown(self._indices, size)


def _grown(arr: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, arr.dtype)
    out[: len(arr)] = arr
    return out


# ---------------------------------------------------------------------- tokenizing batches
def encode_batch(
    tok: Tokenizer, texts: list[str], *, add_special_tokens: bool, offsets: bool = False
) -> list[Any]:
    """Tokenize a batch (``offsets``: with character offsets, slower), replacing lone
    surrogates, which tokenizers refuse, by U+FFFD first (lengths, so offsets, unchanged)."""
    run = tok.encode_batch if offsets else tok.encode_batch_fast
    try:
        return run(texts, add_special_tokens=add_special_tokens)
    except (TypeError, UnicodeError):
        return run(
            [_text.replace_surrogates(t) for t in texts], add_special_tokens=add_special_tokens
        )


# ---------------------------------------------------------------------- cuts of long texts
# Forced cuts, for a stretch of 2 * PIECE_CHARS characters without a safe cut (CJK text, a
# base64 blob, "x" * 10**6), best first: after a run of punctuation or newlines, then at a
# change between CJK and other characters (merges across either are rare), else anywhere.
_CJK = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_FORCED_CUTS = (
    re.compile(
        "[\n\u3001\u3002\uff0c\uff1b\uff1a\uff01\uff1f\u2026,.;:!?)\\]"
        "\u300b\u300d\u300f\u3011\uff09]+"
    ),
    re.compile(f"(?<=[{_CJK}])(?=[^{_CJK}])|(?<=[^{_CJK}])(?=[{_CJK}])"),
)


def leading_within(offsets: list[tuple[int, int]], end: int) -> int:
    """Number of leading tokens whose span ends at or before character ``end``."""
    n = 0
    while n < len(offsets) and offsets[n][1] <= end:
        n += 1
    return n


def is_boundary(text: str, p: int) -> bool:
    """True when cutting ``text`` before position ``p`` (``0 < p < len(text)``) splits no
    character: not inside a surrogate pair or ``"\r\n"``, not before a combining mark, an emoji
    skin tone or a zero-width joiner, not after a joiner."""
    a, b = text[p - 1], text[p]
    if "\ud800" <= a <= "\udbff" and "\udc00" <= b <= "\udfff":
        return False
    if (a == "\r" and b == "\n") or a == "\u200d" or b == "\u200d":
        return False
    if "\U0001f3fb" <= b <= "\U0001f3ff":
        return False
    return not unicodedata.category(b).startswith("M")


def forced_cut(text: str, lo: int, hi: int) -> int | None:
    """Where to cut ``text`` in ``[lo, hi]`` when no safe cut is there (``0 < lo < len(text)``).

    The first place after punctuation, else the first change of script, else ``lo`` moved
    forward to a character boundary (at most 16 characters: past a run of combining marks
    only a surrogate pair is kept whole). None when that is the end of the text.
    """
    n = len(text)
    for pattern in _FORCED_CUTS:
        for m in islice(pattern.finditer(text, lo, hi), 8):
            p = m.end()
            if lo <= p < n and is_boundary(text, p):
                return p
    for p in range(lo, min(lo + 16, n)):
        if is_boundary(text, p):
            return p
    p = lo + 1 if "\ud800" <= text[lo - 1] <= "\udbff" and "\udc00" <= text[lo] <= "\udfff" else lo
    return p if p < n else None


def piece_bounds(text: str, piece: int = PIECE_CHARS) -> list[int]:
    """``[0, c1, ..., len(text)]``: cuts about ``piece`` characters apart, each before a
    whitespace when there is one in the next ``piece`` characters, else at a character
    boundary (:func:`forced_cut`); no piece is over ``2 * piece``."""
    n = len(text)
    out = [0]
    prev = 0
    while prev + piece < n:
        lo, hi = prev + piece, min(prev + 2 * piece, n)
        m = _SPACE.search(text, lo, hi)
        if m is not None:
            cut: int | None = m.start()
        elif hi >= n:
            break
        else:
            cut = forced_cut(text, lo, hi)
            if cut is None:
                break
        out.append(cut)
        prev = cut
    out.append(n)
    return out


def long_ids(tok: Tokenizer, text: str, piece: int = PIECE_CHARS) -> list[list[int]]:
    """Token ids (no special tokens) of one long text or word, tokenized in pieces
    (:func:`piece_bounds`), which keeps the time linear.

    Each piece after the first is tokenized with the character before it as context, and
    the leading tokens lying within that character are dropped (so a sentencepiece-style
    tokenizer does not add a start-of-text marker at every piece).
    """
    bounds = piece_bounds(text, piece)
    out: list[list[int]] = []
    for g in range(0, len(bounds) - 1, _PIECES_PER_BATCH):
        starts = bounds[:-1][g : g + _PIECES_PER_BATCH]
        ends = bounds[g + 1 : g + 1 + _PIECES_PER_BATCH]
        pieces = [text[max(a - 1, 0) : b] for a, b in zip(starts, ends, strict=True)]
        encs = encode_batch(tok, pieces, add_special_tokens=False)
        windows = [p[:64] for a, p in zip(starts, pieces, strict=True) if a > 0]
        drops = iter(
            leading_within(e.offsets, 1)
            for e in encode_batch(tok, windows, add_special_tokens=False, offsets=True)
        )
        out.extend(e.ids[next(drops) if a > 0 else 0 :] for a, e in zip(starts, encs, strict=True))
    return out


# ---------------------------------------------------------------------- words' token ids
class TokenMemo:
    """Distinct words with their token ids (tokenized alone, without special tokens).

    ``rows(words)`` gives each word's row; ``lens[row]`` is its token count and
    ``ids[indptr[row]:indptr[row + 1]]`` its token ids. A word over :data:`LONG_WORD`
    characters (a run without spaces) is tokenized in pieces (:func:`long_ids`).
    Thread-safe: rows are added under a lock, and arrays are replaced, never changed in
    place, so rows handed out stay valid. A memo only grows; its owner replaces it with a
    fresh one when it is :meth:`full` (between texts, never while one is being processed).
    """

    def __init__(self, tokenizer: Tokenizer) -> None:
        self._tok = tokenizer
        self._lock = threading.Lock()
        self.index: dict[str, int] = {}
        self.lens = np.zeros(0, np.int64)
        self.indptr = np.zeros(1, np.int64)
        self.ids = np.zeros(0, np.int32)

    def rows(self, words: list[str]) -> np.ndarray:
        """Row of each word, tokenizing the ones not seen before."""
        index = self.index
        try:  # the usual case once the memo is warm: every word known
            return np.fromiter(map(index.__getitem__, words), np.int64, len(words))
        except KeyError:
            pass
        missing = set(words).difference(index)
        if missing:
            with self._lock:
                self._add([w for w in missing if w not in self.index])
            index = self.index
        return np.fromiter(map(index.__getitem__, words), np.int64, len(words))

    def _add(self, words: list[str]) -> None:
        if not words:
            return
        short = [w for w in words if len(w) <= LONG_WORD]
        encs = iter(encode_batch(self._tok, short, add_special_tokens=False) if short else [])
        ids = [  # a long word (a run without spaces) in pieces: linear time
            next(encs).ids
            if len(w) <= LONG_WORD
            else list(chain.from_iterable(long_ids(self._tok, w)))
            for w in words
        ]
        lens = np.fromiter(map(len, ids), np.int64, len(ids))
        flat = np.fromiter(chain.from_iterable(ids), np.int32, int(lens.sum()))
        base = len(self.lens)
        self.ids = np.concatenate([self.ids, flat])
        self.indptr = np.concatenate([self.indptr, self.indptr[-1] + np.cumsum(lens)])
        self.lens = np.concatenate([self.lens, lens])
        self.index.update(zip(words, range(base, base + len(words)), strict=True))

    def full(self) -> bool:
        return len(self.index) > MEMO_WORDS or len(self.ids) > MEMO_TOKENS

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The token ids of the words ``rows``, concatenated."""
        lens = self.lens[rows]
        total = int(lens.sum())
        if total == 0:
            return np.zeros(0, np.int32)
        ends = np.cumsum(lens)
        offsets = np.repeat(self.indptr[rows] - ends + lens, lens) + np.arange(total)
        return self.ids[offsets]


class WordTokens:
    """A tokenizer (truncation and padding off, never reconfigured) with its word memo.

    ``mode`` is its :func:`split_mode` (with ``add_special_tokens``), probed here unless
    given. :meth:`memo` is the current :class:`TokenMemo`, replaced by a fresh one once
    full; take it once per text. Thread-safe; shared by every chunker of one encoder
    (:meth:`sememe.Encoder.word_tokens`), so the memo stays warm.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        add_special_tokens: bool,
        mode: SplitMode | Literal["probe"] | None = "probe",
    ) -> None:
        self.tokenizer = tokenizer
        self.add_special_tokens = add_special_tokens
        self.mode = split_mode(tokenizer, add_special_tokens) if mode == "probe" else mode
        self._memo = TokenMemo(tokenizer)
        self._lock = threading.Lock()

    def memo(self) -> TokenMemo:
        """The memo to use for the next text (a fresh one when the current is full)."""
        memo = self._memo
        if memo.full():
            with self._lock:
                if self._memo.full():
                    self._memo = TokenMemo(self.tokenizer)
                memo = self._memo
        return memo

    def encode(self, texts: list[str], *, offsets: bool = False) -> list[Any]:
        """:func:`encode_batch` with this tokenizer and its ``add_special_tokens``."""
        return encode_batch(
            self.tokenizer, texts, add_special_tokens=self.add_special_tokens, offsets=offsets
        )
