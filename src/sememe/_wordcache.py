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
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Literal

import numpy as np
import scipy.sparse as sp
from tokenizers import Tokenizer

SplitMode = Literal["space", "whitespace"]

#: Distinct words remembered per encoder before the memo starts afresh (about 40 MB).
CAPACITY = 400_000

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
