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

Text a process has never seen is what costs: every new word goes through the tokenizer.
Two things make that cheap. A model folder may ship a :class:`WordTable` (frequent words
with their ids, built with the model) that both memos start from, so most words of new
text are known before the first call; and the words still unknown are tokenized many per
tokenizer input (:func:`word_ids`, exact for Llama-like tokenizers, probed by
:func:`word_starts`), about twice as fast as one input per word.
"""

from __future__ import annotations

import json
import operator
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from itertools import chain, compress, islice, repeat
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
_SPACE_NOT_NEWLINE = re.compile(r"[^\S\n]")

_MARKERS = (" ", "\u2581", "\u0120")  # space, sentencepiece's "▁", GPT-2's "Ġ"
_MARKER = re.compile("[ \u2581\u0120]")
# A marker right after another character (the first marker after a token's leading ones is).
_MARKER_INSIDE = re.compile("[^\x00 \u2581\u0120][ \u2581\u0120]")
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
    pre = tokenizer.pre_tokenizer  # its own JSON: no serialising of the whole tokenizer
    types = _pre_tokenizer_types(None if pre is None else json.loads(pre.__getstate__()))
    if types:
        return any(t in _SPLITTING_PRE_TOKENIZERS for t in types) and all(
            t in _SPLITTING_PRE_TOKENIZERS | _NEUTRAL_PRE_TOKENIZERS for t in types
        )
    # No pre-tokenizer (Llama-style BPE): safe only if no vocabulary entry has a space
    # marker after another character, so that no merge can cross a word boundary. One
    # search over the tokens joined by NUL (not a marker, so a join never matches).
    vocab = tokenizer.get_vocab()
    tokens = "\x00".join(vocab)
    if tokens.count("\x00") == len(vocab) - 1:  # no token holds a NUL (the usual case)
        return _MARKER_INSIDE.search(tokens) is None
    for token in vocab:
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
        return operator.methodcaller("split", " ")
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
        #: Words seen so far -> row. Words of a seeded table enter it when first seen, so
        #: it stays the size of the text's vocabulary: a lookup per word of every text
        #: goes to it, and a small dictionary is a faster one (fewer cache misses).
        self.index: dict[str, int] = {"": 0}
        #: A seeded table's words -> row (the table's own index, shared, never written).
        self._table_index: dict[str, int] | None = None
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
        #: Rows of words holding an added token's literal (``"<s>"``): the encoder sends
        #: texts with such a word down the exact path. Filled by the encoder, usually empty.
        self.literal_rows: frozenset[int] = frozenset()

    def __len__(self) -> int:
        """Rows (distinct words) held, the table's included."""
        return self._published[0].shape[0]

    def row(self, word: str) -> int | None:
        """The row of ``word``, or None if it is not held."""
        got = self.index.get(word)
        if got is None and self._table_index is not None:
            got = self._table_index.get(word)
        return got

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

    def add_words(self, words: Iterable[str], tokenize: WordIdsFn) -> None:
        """Append the ``words`` not yet known, tokenized by ``tokenize`` (:func:`word_ids`
        with the owner's tokenizer: whole batches at once, flat arrays, no lists per word)."""
        with self.lock:
            new = self._unknown(words)
            if new:
                self._append(*tokenize(new))

    def _unknown(self, words: Iterable[str]) -> list[str]:
        """The distinct ``words`` in neither index, by set differences against the
        dictionaries (done in C with the strings' cached hashes, no Python call per word:
        a first call on new text brings tens of thousands of words)."""
        new = words if isinstance(words, set) else set(words)
        new = new.difference(self.index)
        if self._table_index is not None and new:
            new = new.difference(self._table_index)
        return list(new)

    def lookup(self, words: list[str]) -> tuple[np.ndarray, set[str]]:
        """Each word's row (-1 for a word not in the memo) and the set of those words.

        One dictionary probe per word and no set of all the words: on text never seen
        most words are known (from a shipped table) and the unknown ones are collected
        from the few -1 rows. :meth:`fill` completes the rows once they are added.
        """
        rows = np.fromiter(map(self.index.get, words, repeat(-1)), np.int64, len(words))
        unknown = np.flatnonzero(rows < 0)
        if not unknown.size:
            return rows, set()
        missing = set(map(words.__getitem__, unknown.tolist()))
        table = self._table_index
        if table is not None:  # words of the table seen for the first time: no tokenizing
            rest = missing.difference(table)  # in C, with the words' cached hashes
            if len(rest) < len(missing):
                found = missing.difference(rest)
                with self.lock:
                    self.index.update(zip(found, map(table.__getitem__, found), strict=True))
                missing = rest
        return rows, missing

    def fill(self, rows: np.ndarray, words: list[str]) -> None:
        """Replace the -1 entries of ``rows`` (from :meth:`lookup`) by the rows of their
        words, which must have been added since (the missing ones with :meth:`add_words`)."""
        unknown = np.flatnonzero(rows < 0)
        if unknown.size:
            index = self.index
            got = map(index.__getitem__, map(words.__getitem__, unknown.tolist()))
            rows[unknown] = np.fromiter(got, np.int64, unknown.size)

    def seed(self, table: LoadedWordTable) -> None:
        """Fill an empty cache with every word of a shipped :class:`WordTable` at once.

        Vectorized over the whole table (no tokenizer call): row ``r`` is the table's row
        ``r``. The table's index is kept as it is (shared, never written, no copy); its
        words enter :attr:`index` as texts use them (:meth:`lookup`).
        """
        with self.lock:
            if len(self.index) != 1 or len(self) != 1:
                raise RuntimeError("seed() needs an empty word cache")
            self._append([], table.ids, table.lens[1:], rows=len(table.lens) - 1)
            self._table_index = table.index

    def _append(
        self,
        new: list[str],
        flat: np.ndarray,
        lens: np.ndarray,
        rows: int | None = None,
    ) -> None:
        """Publish rows for the words ``new`` (token ids ``flat``, ``lens`` per word); the
        caller holds the lock. ``rows``: that many rows whose words are indexed elsewhere
        (a seeded table's), ``new`` then empty."""
        cols = flat if self._row_of is None else self._row_of[flat]
        cum = np.zeros(len(flat) + 1, np.float64)
        np.cumsum(self._den[flat], out=cum[1:])
        ends = np.cumsum(lens)
        starts = ends - lens
        base = self.matrix.shape[0]
        nnz = int(self._indptr[base])
        words, total = base + (len(new) if rows is None else rows), nnz + len(flat)
        if total > np.iinfo(np.int32).max:
            raise OverflowError("word memo too large for 32-bit sparse indices")
        self._reserve(words, total)
        self._data[nnz:total] = self._weight[flat]
        self._indices[nnz:total] = cols
        self._indptr[base + 1 : words + 1] = nnz + ends
        self._n_tokens[base:words] = lens
        self._denominator[base:words] = cum[ends] - cum[starts]
        self._published = self._snapshot(words, total)
        if rows is None:
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


def space_words(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """The words of ``texts`` split at single spaces (``"space"`` mode), all texts'
    words in one list, and ``indptr``: the words of ``texts[i]`` are
    ``words[indptr[i]:indptr[i + 1]]``.

    One split of the texts joined by spaces gives exactly the per-text splits one after
    the other (text ``i`` has ``texts[i].count(" ") + 1`` words), without a list per text.
    """
    n = len(texts)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.fromiter(map(str.count, texts, repeat(" ")), np.int64, n) + 1, out=indptr[1:])
    return (" ".join(texts).split(" ") if n else []), indptr


def matching(words: list[str], pattern: re.Pattern[str]) -> list[str]:
    """The words in which ``pattern`` (which matches no whitespace) is found.

    One search over the words joined by newlines instead of one per word (a shipped
    table has 200,000 words): a match holds no newline, so it lies inside one word.
    """
    joined = "\n".join(words)
    hits = [m.start() for m in pattern.finditer(joined)]
    if not hits:
        return []
    sizes = np.fromiter(map(len, words), np.int64, len(words)) + 1
    starts = np.cumsum(sizes) - sizes
    at = np.unique(np.searchsorted(starts, hits, side="right") - 1)
    return [words[i] for i in at.tolist()]


def unique_rows(rows: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, return_inverse=True)`` for ``rows`` in ``[0, n_rows)``.

    The same arrays (sorted distinct rows, int64; inverse, int32), through a mark array
    over all ``n_rows`` rows instead of a sort when that is cheaper (many rows: a batch
    of texts), so vectors do not change.
    """
    if len(rows) * 8 < n_rows:
        uniq, inv = np.unique(rows, return_inverse=True)
        return uniq, inv.astype(np.int32).ravel()
    seen = np.zeros(n_rows, bool)
    seen[rows] = True
    uniq = np.flatnonzero(seen)
    position = np.empty(n_rows, np.int32)
    position[uniq] = np.arange(len(uniq), dtype=np.int32)
    return uniq, position[rows]


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
#: Words per joined string when :func:`word_ids` tokenizes many words in one input.
JOIN_WORDS = 256
#: Words longer than this are tokenized alone by :func:`word_ids` (keeps joined inputs short).
JOIN_CHARS = 256

#: ``word_ids(words) -> (words, flat ids, tokens per word)``, words possibly reordered.
WordIdsFn = Callable[[list[str]], tuple[list[str], np.ndarray, np.ndarray]]


def word_starts(tok: Tokenizer, mode: SplitMode | None) -> np.ndarray | None:
    """Per token id, True where the token opens a word, for tokenizing words joined.

    For Llama-like tokenizers (``"space"`` mode: a space marker is put before every word
    and no token holds a marker after another character), the tokens of
    ``" ".join(words)`` are the words' own tokens one after the other, and the tokens
    that begin with a marker are exactly the words' first tokens: one tokenizer input
    then serves hundreds of words, which is about twice as fast as one input per word
    and makes no Python object per word. None (tokenize each word alone) for other
    tokenizers, or when the probe words disagree with tokenizing each alone.
    """
    if mode != "space":
        return None
    vocab = tok.get_vocab(with_added_tokens=True)
    starts = np.zeros(max(vocab.values(), default=-1) + 1, bool)
    for token, i in vocab.items():
        starts[i] = token[:1] in _MARKERS
    words = list(dict.fromkeys(w for text in _PROBES for w in text.split(" ") if _joinable(w)))
    alone = [e.ids for e in encode_batch(tok, words, add_special_tokens=False)]
    got = _joined_ids(tok, words, starts, fallback=False)
    if got is None:
        return None
    flat, lens = got
    ends = np.cumsum(lens)
    if [flat[e - n : e].tolist() for e, n in zip(ends, lens, strict=True)] != alone:
        return None
    return starts


def _joinable(word: str) -> bool:
    """A word :func:`word_ids` may tokenize joined: not empty, short, no marker or space."""
    return 0 < len(word) <= JOIN_CHARS and _MARKER.search(word) is None


def _joinable_mask(words: list[str]) -> np.ndarray:
    """:func:`_joinable` of each word, without a Python call per word in the usual case
    (no marker character in any word)."""
    lens = np.fromiter(map(len, words), np.int64, len(words))
    ok = (lens > 0) & (lens <= JOIN_CHARS)
    text = " ".join(words)
    if text.count(" ") != len(words) - 1 or any(m in text for m in _MARKERS[1:]):
        ok &= np.fromiter((_MARKER.search(w) is None for w in words), bool, len(words))
    return ok


def _joined_ids(
    tok: Tokenizer, words: list[str], starts: np.ndarray, *, fallback: bool = True
) -> tuple[np.ndarray, np.ndarray] | None:
    """Flat ids and tokens per word of ``words`` (all :func:`_joinable`), tokenized
    :data:`JOIN_WORDS` at a time; a group whose word openings do not line up with its
    words (never seen; a safety net) is tokenized word by word. None: no words, or
    (``fallback=False``, for probing) a group did not line up."""
    if not words:
        return None
    groups = [words[g : g + JOIN_WORDS] for g in range(0, len(words), JOIN_WORDS)]
    encs = encode_batch(tok, [" ".join(g) for g in groups], add_special_tokens=False)
    flats: list[np.ndarray] = []
    lens: list[np.ndarray] = []
    for group, enc in zip(groups, encs, strict=True):
        ids = np.asarray(enc.ids, np.int32)
        opens = np.flatnonzero(starts[ids]) if len(ids) else ids
        if len(opens) != len(group) or opens[0] != 0:
            if not fallback:
                return None
            alone = [e.ids for e in encode_batch(tok, group, add_special_tokens=False)]
            ids = np.fromiter(chain.from_iterable(alone), np.int32, sum(map(len, alone)))
            flats.append(ids)
            lens.append(np.fromiter(map(len, alone), np.int64, len(alone)))
            continue
        flats.append(ids)
        lens.append(np.diff(np.append(opens, len(ids))).astype(np.int64))
    return np.concatenate(flats), np.concatenate(lens)


def word_ids(
    tok: Tokenizer, words: list[str], starts: np.ndarray | None
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Token ids of each word tokenized alone (no special tokens), for many words at once.

    Returns ``(words, flat, lens)``: the same words, possibly in another order, their
    ids concatenated (int32) and the tokens of each (int64). With ``starts``
    (:func:`word_starts`) short words are tokenized joined; the others one input each,
    a word over :data:`LONG_WORD` characters (a run without spaces) in pieces
    (:func:`long_ids`), which keeps the time linear.
    """
    if starts is not None:
        ok = _joinable_mask(words)
        joined = list(compress(words, ok))
        rest = list(compress(words, ~ok)) if len(joined) < len(words) else []
    else:
        joined, rest = [], words
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    got = _joined_ids(tok, joined, starts) if joined else None  # type: ignore[arg-type]
    if got is not None:
        parts.append(got)
    if rest:
        short = [w for w in rest if len(w) <= LONG_WORD]
        encs = iter(encode_batch(tok, short, add_special_tokens=False) if short else [])
        ids = [
            next(encs).ids if len(w) <= LONG_WORD else list(chain.from_iterable(long_ids(tok, w)))
            for w in rest
        ]
        lens = np.fromiter(map(len, ids), np.int64, len(ids))
        parts.append((np.fromiter(chain.from_iterable(ids), np.int32, int(lens.sum())), lens))
    if not parts:
        return [], np.zeros(0, np.int32), np.zeros(0, np.int64)
    flat = np.concatenate([p[0] for p in parts])
    lens = np.concatenate([p[1] for p in parts])
    return joined + rest, flat, lens


class TokenMemo:
    """Distinct words with their token ids (tokenized alone, without special tokens).

    ``rows(words)`` gives each word's row; ``lens[row]`` is its token count and
    ``ids[indptr[row]:indptr[row + 1]]`` its token ids. A word over :data:`LONG_WORD`
    characters (a run without spaces) is tokenized in pieces (:func:`long_ids`).
    A memo may start from a shipped :class:`WordTable` (``table``), so the words of new
    text mostly need no tokenizer call; ``starts`` (:func:`word_starts`) lets the rest
    be tokenized joined. Thread-safe: rows are added under a lock into buffers that
    grow by doubling (adding a few words costs time for those words, not a copy of the
    memo), and a published row is never written again, so rows handed out stay valid.
    A memo only grows; its owner replaces it with a fresh one when it is :meth:`full`
    (between texts, never while one is being processed).
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        table: LoadedWordTable | None = None,
        starts: np.ndarray | None = None,
    ) -> None:
        self._tok = tokenizer
        self._starts = starts
        self._lock = threading.Lock()
        #: Words seen so far -> row. A table's words enter it when a text first uses them,
        #: so it stays the size of the text's vocabulary: every word of every text is looked
        #: up here, and a small dictionary is a faster one (fewer cache misses).
        self.index: dict[str, int] = {}
        #: A table's words -> row (the table's own index, shared, never written).
        self._table_index: dict[str, int] | None = None
        if table is None:
            self._ids = np.zeros(1024, np.int32)
            self._indptr = np.zeros(1025, np.int64)
            self._lens = np.zeros(1024, np.int64)
            self._words, self._nnz = 0, 0
        else:
            self._table_index = table.index
            n, nnz = len(table.lens), len(table.ids)
            self._ids = _grown(table.ids, 2 * nnz)
            self._indptr = _grown(table.indptr, 2 * n + 1)
            self._lens = _grown(table.lens, 2 * n)
            self._words, self._nnz = n, nnz
        self._publish()

    def _publish(self) -> None:
        n, nnz = self._words, self._nnz
        self._view = (self._lens[:n], self._indptr[: n + 1], self._ids[:nnz])

    @property
    def lens(self) -> np.ndarray:
        """Tokens of each word (by row)."""
        return self._view[0]

    @property
    def indptr(self) -> np.ndarray:
        """``ids[indptr[row]:indptr[row + 1]]`` are the ids of the word at ``row``."""
        return self._view[1]

    @property
    def ids(self) -> np.ndarray:
        """Every word's token ids, concatenated (int32)."""
        return self._view[2]

    def rows(self, words: list[str]) -> np.ndarray:
        """Row of each word, tokenizing the ones not seen before.

        One look-up pass over ``words``; only the words it did not find are looked up
        again (in the table, then tokenized), once each.
        """
        index = self.index
        rows = np.fromiter(map(index.get, words, repeat(-1)), np.int64, len(words))
        miss = np.flatnonzero(rows < 0)
        table = self._table_index
        if miss.size and table is not None:  # a table's words first used: no tokenizing
            wanted = list(map(words.__getitem__, miss.tolist()))
            got = np.fromiter(map(table.get, wanted, repeat(-1)), np.int64, len(wanted))
            hit = got >= 0
            rows[miss] = got
            with self._lock:
                index.update(zip(compress(wanted, hit), got[hit].tolist(), strict=True))
            miss = miss[~hit]
        if miss.size:
            wanted = list(map(words.__getitem__, miss.tolist()))
            with self._lock:
                self._add([w for w in set(wanted) if w not in self.index])
            index = self.index
            rows[miss] = np.fromiter(map(index.__getitem__, wanted), np.int64, len(wanted))
        return rows

    def _add(self, words: list[str]) -> None:
        if not words:
            return
        words, flat, lens = word_ids(self._tok, words, self._starts)
        base, nnz = self._words, self._nnz
        n, total = base + len(words), nnz + len(flat)
        if n > len(self._lens):
            size = max(n, 2 * len(self._lens))
            self._lens = _grown(self._lens, size)
            self._indptr = _grown(self._indptr, size + 1)
        if total > len(self._ids):
            self._ids = _grown(self._ids, max(total, 2 * len(self._ids)))
        self._ids[nnz:total] = flat
        self._lens[base:n] = lens
        self._indptr[base + 1 : n + 1] = nnz + np.cumsum(lens)
        self._words, self._nnz = n, total
        self._publish()
        self.index.update(zip(words, range(base, n), strict=True))

    def full(self) -> bool:
        """True once the memo holds more than :data:`MEMO_WORDS` words (a table's
        included) or :data:`MEMO_TOKENS` token ids."""
        return self._words > MEMO_WORDS or self._nnz > MEMO_TOKENS

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The token ids of the words ``rows``, concatenated."""
        lens_all, indptr, ids = self._view
        lens = lens_all[rows]
        total = int(lens.sum())
        if total == 0:
            return np.zeros(0, np.int32)
        ends = np.cumsum(lens)
        offsets = np.repeat(indptr[rows] - ends + lens, lens) + np.arange(total)
        return ids[offsets]


class WordTokens:
    """A tokenizer (truncation and padding off, never reconfigured) with its word memo.

    ``mode`` is its :func:`split_mode` (with ``add_special_tokens``), probed here unless
    given; ``starts`` its :func:`word_starts` (probed here unless given). ``table``: a
    shipped :class:`WordTable` every memo starts from (loaded on first use).
    :meth:`memo` is the current :class:`TokenMemo`, replaced by a fresh one once full;
    take it once per text. Thread-safe; shared by every chunker of one encoder
    (:meth:`sememe.Encoder.word_tokens`), so the memo stays warm.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        add_special_tokens: bool,
        mode: SplitMode | Literal["probe"] | None = "probe",
        starts: np.ndarray | Literal["probe"] | None = "probe",
        table: WordTable | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.add_special_tokens = add_special_tokens
        self.mode = split_mode(tokenizer, add_special_tokens) if mode == "probe" else mode
        self.starts = word_starts(tokenizer, self.mode) if isinstance(starts, str) else starts
        self.table = table if self.mode is not None else None
        self._memo: TokenMemo | None = None
        self._lock = threading.Lock()

    def _fresh(self) -> TokenMemo:
        loaded = None if self.table is None else self.table.load()
        return TokenMemo(self.tokenizer, table=loaded, starts=self.starts)

    def memo(self) -> TokenMemo:
        """The memo to use for the next text (a fresh one when the current is full)."""
        memo = self._memo
        if memo is None or memo.full():
            with self._lock:
                if self._memo is None or self._memo.full():
                    self._memo = self._fresh()
                memo = self._memo
        return memo

    def encode(self, texts: list[str], *, offsets: bool = False) -> list[Any]:
        """:func:`encode_batch` with this tokenizer and its ``add_special_tokens``."""
        return encode_batch(
            self.tokenizer, texts, add_special_tokens=self.add_special_tokens, offsets=offsets
        )


# ---------------------------------------------------------------------- shipped word table
#: Metadata key of a word table's tokenizer hash (:func:`tokenizer_sha256`).
TABLE_TOKENIZER_KEY = "tokenizer_sha256"
#: Metadata key and value naming the file's kind.
TABLE_FORMAT = ("format", "sememe-word-table-1")


def tokenizer_sha256(tokenizer_json: str) -> str:
    """SHA-256 of a tokenizer's JSON (``Tokenizer.to_str()``): what a word table is for."""
    import hashlib

    return hashlib.sha256(tokenizer_json.encode("utf-8")).hexdigest()


class LoadedWordTable:
    """A word table in memory: ``words[row]``, ``index[word] -> row``, ``lens[row]`` and
    ``ids[indptr[row]:indptr[row + 1]]``. Row 0 is the empty word (no tokens)."""

    __slots__ = ("ids", "index", "indptr", "lens", "words")

    def __init__(self, words: list[str], ids: np.ndarray, lens: np.ndarray) -> None:
        self.words = words
        self.ids = ids
        self.lens = lens
        self.indptr = np.zeros(len(lens) + 1, np.int64)
        np.cumsum(lens, out=self.indptr[1:])
        self.index = dict(zip(words, range(len(words)), strict=True))

    def nbytes(self) -> int:
        """Approximate memory held: arrays, word strings and the index."""
        import sys

        arrays = self.ids.nbytes + self.lens.nbytes + self.indptr.nbytes
        strings = sum(map(sys.getsizeof, self.words))
        return arrays + strings + sys.getsizeof(self.words) + sys.getsizeof(self.index)


class WordTable:
    """Frequent words with their token ids, shipped in a model folder (``word_tokens.
    safetensors``) so that text a process has never seen mostly needs no tokenizer call.

    Built with the model (``scripts/build_word_table.py``): each word is tokenized alone,
    without special tokens, exactly as the memos would. The file holds ``words`` (UTF-8,
    joined by ``"\\n"``; words hold no whitespace; the first is the empty word), ``lens``
    (int32 tokens per word) and ``ids`` (int32, concatenated), with the SHA-256 of the
    tokenizer it was built with in its metadata. Nothing is read but that metadata until
    :meth:`load` (the first encode or chunk); the loaded table is shared by every memo.
    """

    def __init__(self, path: Any, tokenizer_sha: str, vocab_size: int) -> None:
        self.path = path
        self.tokenizer_sha256 = tokenizer_sha
        self.vocab_size = vocab_size
        self._loaded: LoadedWordTable | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"WordTable({str(self.path)!r})"

    @classmethod
    def open(cls, path: Any, vocab_size: int, error: type[Exception]) -> WordTable:
        """Read the metadata of the table file at ``path``; ``error`` names it if malformed."""
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                keys = set(f.keys())
        except (SafetensorError, OSError, ValueError, TypeError) as exc:
            raise error(f"{path}: not a readable safetensors file: {exc}") from None
        if meta.get(TABLE_FORMAT[0]) != TABLE_FORMAT[1] or TABLE_TOKENIZER_KEY not in meta:
            raise error(f"{path}: not a sememe word table (metadata {sorted(meta)})")
        if keys != {"words", "lens", "ids"}:
            raise error(f"{path}: expected tensors ids, lens, words; found {sorted(keys)}")
        return cls(path, meta[TABLE_TOKENIZER_KEY], vocab_size)

    def load(self, error: type[Exception] = ValueError) -> LoadedWordTable:
        """The table's words and ids (read and checked once; later calls share them)."""
        loaded = self._loaded
        if loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._read(error)
                loaded = self._loaded
        return loaded

    def _read(self, error: type[Exception]) -> LoadedWordTable:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            arrays = load_file(str(self.path))
        except (SafetensorError, OSError, ValueError, TypeError) as exc:
            raise error(f"{self.path}: not a readable safetensors file: {exc}") from None
        blob, lens, ids = arrays.get("words"), arrays.get("lens"), arrays.get("ids")
        if (
            blob is None
            or lens is None
            or ids is None
            or blob.dtype != np.uint8
            or lens.dtype != np.int32
            or ids.dtype != np.int32
            or blob.ndim != 1
            or lens.ndim != 1
            or ids.ndim != 1
        ):
            raise error(f"{self.path}: word table needs 1-D uint8 words, int32 lens and ids")
        try:
            text = blob.tobytes().decode("utf-8")
        except UnicodeDecodeError:
            raise error(f"{self.path}: words are not UTF-8") from None
        if _SPACE_NOT_NEWLINE.search(text):
            raise error(f"{self.path}: a word holds whitespace")
        words = text.split("\n")
        if len(words) != len(lens) or words[0] != "" or lens[0] != 0:
            raise error(
                f"{self.path}: {len(words)} words but {len(lens)} lengths "
                "(the first word must be the empty word, with no tokens)"
            )
        if (lens < 0).any() or int(lens.sum(dtype=np.int64)) != len(ids):
            raise error(f"{self.path}: lengths do not add up to the {len(ids)} ids")
        if len(ids) and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise error(f"{self.path}: token ids outside the vocabulary of {self.vocab_size}")
        table = LoadedWordTable(words, ids, lens.astype(np.int64))
        if len(table.index) != len(words):
            raise error(f"{self.path}: words repeat")
        return table


def write_word_table(path: Any, tok: Tokenizer, tokenizer_json: str, words: list[str]) -> int:
    """Write a word table for ``words`` (distinct, no whitespace) tokenized alone by ``tok``
    (no special tokens) to the safetensors file ``path``; returns the number of words.

    The empty word goes first. Words are tokenized one input each (not joined), so the
    table does not depend on :func:`word_starts`.
    """
    from safetensors.numpy import save_file

    words = ["", *dict.fromkeys(w for w in words if w)]
    bad = [w for w in words if _SPACE.search(w)]
    if bad:
        raise ValueError(f"word table words must hold no whitespace, got {bad[0]!r}")
    _, flat, lens = word_ids(tok, words[1:], None)
    blob = np.frombuffer("\n".join(words).encode("utf-8"), np.uint8)
    save_file(
        {
            "words": blob.copy(),
            "lens": np.concatenate(([0], lens)).astype(np.int32),
            "ids": flat.astype(np.int32),
        },
        str(path),
        metadata={
            TABLE_FORMAT[0]: TABLE_FORMAT[1],
            TABLE_TOKENIZER_KEY: tokenizer_sha256(tokenizer_json),
        },
    )
    return len(words)
