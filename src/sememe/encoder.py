"""The static encoder: tokenize, look up, pool. Every sememe module is built on it.

A text's vector is the weighted mean of the table rows of its tokens, optionally
L2-normalised. Pooling a whole batch is one sparse-matrix product (texts x vocab
times vocab x dim), so the cost beyond tokenization is small. A call over more than
8,192 texts can run in two stages: the caller's thread splits a batch into words and looks
them up in the word memo (Python work) while one worker thread, started for that call,
tokenizes the previous batch's new words and pools it (the tokenizer, numpy and scipy,
which release the GIL), when ``SEMEME_ENCODE_THREADS=1`` opts in (off by default: it did
not pay on a quiet 2-core machine). Either way every text's vector is the same, bit for bit.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import scipy.sparse as sp
from tokenizers import Tokenizer

from . import _compare, _st_habits, _text, _wordcache
from . import _progress as _progress_mod
from ._inputs import is_frame
from ._progress import progress as _progress
from ._validate import check_float, check_positive_int
from ._wordcache import forced_cut as _forced_cut
from ._wordcache import is_boundary as _is_boundary  # noqa: F401 - tests read it here
from ._wordcache import leading_within as _leading_within
from .config import ModelConfig
from .errors import InvalidArgumentError, InvalidTypeError, ModelFormatError

#: Characters kept per allowed token before tokenizing a very long text. Texts
#: longer than ``max_tokens * CHARS_PER_TOKEN`` are cut at a space first, so a 1 GB
#: string costs no more than a few pages; see :meth:`Encoder.encode`.
CHARS_PER_TOKEN = 8

_DEFAULT_BATCH = 8192

#: With the pooling thread turned on (:data:`THREADS_ENV`), calls with more texts than this
#: prepare one batch while a worker thread pools the previous one; smaller calls stay in
#: the caller's thread, so they never pay for a thread's hand-over
#: (``benchmarks/encode_threads.py`` measures it by call size; with no free core a thread
#: loses 25-45% on warm calls of 1-2k texts, 5% at 8k). The thread is off by default: on a
#: quiet 2-core machine (``benchmarks/encode.py``, 2026-12-02 07:11-07:19) it lost on warm
#: 100k-line calls (0.82 / 0.75 s against 0.70 / 0.65 s in one thread) and did not win cold.
THREAD_MIN_TEXTS = 8192
#: Environment variable that turns the pooling thread on when set to ``1`` (or
#: ``true``/``yes``/``on``); anything else, or unset, keeps every call in one thread.
THREADS_ENV = "SEMEME_ENCODE_THREADS"

#: Environment variable: processes of a large :meth:`Encoder.encode` call. ``1``: this
#: process only; ``N``: ``N`` processes for a list of at least ``N *``
#: :data:`FORK_MIN_TEXTS` texts; unset: the default, see :data:`FORK_MIN_CHARS`.
WORKERS_ENV = "SEMEME_ENCODE_WORKERS"
#: By default a list (or other sized input) of at least this many characters is encoded
#: by one process per usable core (at most :data:`FORK_MAX`), on Linux, from a process
#: running one thread: this process and forked children, which inherit the encoder
#: unpickled, share the steps (:mod:`sememe._fork`; see :data:`FORK_NEW_WORDS` for when a
#: call forks at all). Forking costs a few tens of milliseconds; one process encodes
#: never-seen text at about 6 MB/s (``benchmarks/encode.py``), so from about 1 MB on a
#: child pays for itself.
FORK_MIN_CHARS = 2_000_000
#: Most processes (this one included) of one call.
FORK_MAX = 4
#: Fewest texts per process when :data:`WORKERS_ENV` asks for processes.
FORK_MIN_TEXTS = 1024
#: Texts per step of a shared-out call: each process claims the next step not yet
#: taken, so a faster process takes over a slower one's work.
FORK_STEP = 4096
#: An encoder whose memo holds no word yet (its first call, or the first after the memo
#: was emptied on reaching its capacity) forks at once. Otherwise children are forked
#: only when the call's first step (encoded here) added at least this many new words per
#: text to the memo: on a warm memo (100k lines seen before) two processes were slower
#: than one (1.19 s against 0.88 s, ``benchmarks/encode.py``), on never-seen text faster
#: (1.16 s against 1.53 s), where the first step adds about 1.5 new words per text.
#: :data:`WORKERS_ENV` set to ``N > 1`` always forks.
FORK_NEW_WORDS = 0.25

#: Set by :func:`single_threaded` for the calls made inside it (per thread and per
#: asyncio task, so one caller turning the thread off never affects another).
_THREADS_OFF: ContextVar[bool] = ContextVar("sememe_encode_threads_off", default=False)


def runs_single() -> bool:
    """True inside :func:`single_threaded` (the caller's thread and process only)."""
    return _THREADS_OFF.get()


@contextmanager
def single_threaded() -> Iterator[None]:
    """Encode in the caller's thread and process only, for the calls made inside this block.

    :meth:`Encoder.encode` shares a large list out over forked processes (see
    :data:`FORK_MIN_CHARS`), as the chunkers' ``chunk_stream`` does by default with a large
    input, and, when :data:`THREADS_ENV` asks for it, pools large calls
    in a second thread (see :data:`THREAD_MIN_TEXTS`); where every core already runs its
    own encoding process (a Spark Python worker per core, a process pool) both only
    compete with the other processes. Unlike the environment variables, this changes
    nothing for other threads and needs no change to ``os.environ`` (unsafe while other
    threads run). The vectors are the same either way.

    Example::

        with single_threaded():
            vectors = encoder.encode(texts)
    """
    token = _THREADS_OFF.set(True)
    try:
        yield
    finally:
        _THREADS_OFF.reset(token)


#: Texts longer than this many characters are tokenized in pieces by :meth:`Encoder.tokenize`
#: and :meth:`Encoder.count_tokens` (tokenizing one huge string whole is superlinear in time
#: and memory: 220 s and 4.4 GB for 50 MB).
LONG_TEXT = 65_536
#: Target characters per piece of a long text (a piece ends at the first safe cut after it).
#: A piece never holds more than ``2 * PIECE_CHARS`` characters (plus one of context): a
#: longer stretch without a safe cut is cut at a character boundary (see ``_forced_cut``).
PIECE_CHARS = 16_384
#: Pieces tokenized per batch: memory is bounded by the batch, not by the text.
PIECES_PER_BATCH = 64
#: Characters tokenized after a forced cut to find the tokens of its context character.
_CONTEXT_WINDOW = 64

# Safe cuts of a long text: a whitespace right after a letter or digit. For tokenizers whose
# tokens never span a word (``_wordcache.split_mode``), the tokens of ``text`` are those of
# ``text[:c]`` followed by those of ``text[c:]``. "space" mode cuts only at " " (words may
# hold newlines); a letter before it rules out a run of spaces or a space marker character.
_CUTS = {
    "space": re.compile(r"(?<=[^\W_\u0120]) "),
    "whitespace": re.compile(r"(?<=[^\W_\u0120])[ \t\n]"),
}


@dataclass(frozen=True)
class TokenizedText:
    """The tokens of one text.

    ``ids[i]`` covers ``text[offsets[i, 0]:offsets[i, 1]]`` (character offsets into
    the original string; byte-fallback pieces of one character share its span).
    """

    ids: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def _read_only(arr: np.ndarray | None) -> np.ndarray | None:
    """A view of ``arr`` that cannot be written through (None stays None)."""
    if arr is None:
        return None
    view = arr.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class EncoderArrays:
    """Read-only view of what an :class:`Encoder` is made of, for modules built on it.

    Persistence writes ``tokenizer_json``, ``embeddings``, ``weights`` and ``mapping``;
    training and fine-tuning start from ``table`` and ``token_weights``. Every array is a
    read-only view (``flags.writeable`` is False), so the encoder stays immutable; copy
    one to change it.
    """

    #: The tokenizer, as ``tokenizers.Tokenizer.to_str()`` gives it.
    tokenizer_json: str
    #: The stored table, ``(rows, full_dim)``, in its stored dtype (float16 or float32).
    embeddings: np.ndarray
    #: Stored per-token-id weights, ``(vocab_size,)``, or None.
    weights: np.ndarray | None
    #: Stored token id -> table row map, ``(vocab_size,)``, or None (row = id).
    mapping: np.ndarray | None
    #: ``embeddings`` as float32: what pooling reads.
    table: np.ndarray
    #: Pooling weight of each token id, float32: ``weights`` (or 1), 0 for ignored ids.
    token_weights: np.ndarray
    #: Pooling denominator of each token id: ``token_weights`` for ``weighted_mean``
    #: pooling, else 1 (0 for ignored ids).
    denominators: np.ndarray


@dataclass(frozen=True)
class _Prepared:
    """One batch between the two stages of :meth:`Encoder.encode` (see ``_prepare_batch``).

    Without the word path only ``ids`` (each text's token ids) is set. With it: ``exact``
    marks texts that take the whole-text path, ``words`` are all the texts' words
    (``indptr`` per text), ``rows`` their rows in the memo ``cache`` (-1 for the words of
    ``missing``, which the second stage tokenizes).
    """

    batch: list[str]
    ids: list[Any] | None
    exact: np.ndarray | None = None
    words: list[str] | None = None
    indptr: np.ndarray | None = None
    rows: np.ndarray | None = None
    missing: set[str] | None = None
    cache: _wordcache.WordCache | None = None


class Encoder:
    """Turns text into vectors with a static token table.

    Build one with :func:`sememe.load`. An encoder is immutable once built, so one
    instance can be shared by every module and called from many threads at once.

    Parameters
    ----------
    tokenizer:
        A Hugging Face ``tokenizers.Tokenizer``.
    embeddings:
        Table of shape ``(rows, dim)``; float16 or float32.
    weights:
        Optional per-token-id weights, shape ``(vocab_size,)``.
    mapping:
        Optional token id -> table row map, shape ``(vocab_size,)`` (Model2Vec's
        vocabulary-quantised models).
    config:
        The model's :class:`~sememe.config.ModelConfig`.
    dim:
        Default output size; smaller than the table keeps the leading dimensions
        (Matryoshka truncation).
    source:
        Where the model came from, used in error messages and :meth:`info`.
    word_table:
        Optional :class:`sememe._wordcache.WordTable` (a model folder's
        ``word_tokens.safetensors``): frequent words with their token ids, which the
        word memos start from, so text never seen before mostly needs no tokenizer call.
        Vectors are the same with or without it. Read on the first encode or chunk; a
        table built for another tokenizer is ignored with a warning.
    copy_tokenizer:
        ``True`` (the default): the encoder tokenizes with its own copy of ``tokenizer``
        (parsed again from its JSON, about 0.1 s for the bundled model), so the caller
        may go on using or reconfiguring ``tokenizer``. ``False``: the encoder takes
        ``tokenizer`` itself and switches off its padding and truncation; pass it only
        for a tokenizer nothing else holds, such as one just read from a file (as
        :func:`sememe.load` does), since changing it later, or while the encoder runs,
        would change or break encoding. Vectors are the same either way.
    """

    def __init__(
        self,
        tokenizer: Tokenizer,
        embeddings: np.ndarray,
        *,
        weights: np.ndarray | None = None,
        mapping: np.ndarray | None = None,
        config: ModelConfig | None = None,
        dim: int | None = None,
        source: str = "<memory>",
        word_table: _wordcache.WordTable | None = None,
        copy_tokenizer: bool = True,
    ) -> None:
        if not isinstance(tokenizer, Tokenizer):
            raise InvalidTypeError(
                f"tokenizer must be a tokenizers.Tokenizer, got {type(tokenizer).__name__}"
            )
        embeddings = np.asarray(embeddings)
        vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
        if config is None:
            config = ModelConfig(dim=int(embeddings.shape[-1]), vocab_size=vocab_size)
        _check_arrays(embeddings, weights, mapping, config, vocab_size, source)
        self.config = config
        self.source = source
        self._embeddings = embeddings
        self._weights = None if weights is None else np.asarray(weights)
        self._mapping = None if mapping is None else np.asarray(mapping)
        self._tokenizer_json = tokenizer.to_str()

        # A private tokenizer copy whose settings never change after this point: mutating a
        # shared tokenizer while another thread encodes with it raises inside tokenizers.
        # Parsing one costs about 0.1 s, so there is one, untruncated; truncation to
        # max_tokens is a slice of its ids (``_truncated``), except where special tokens
        # are added (the post-processor adds them after truncating), which takes a second.
        # With copy_tokenizer=False the caller's own (fresh, unshared) tokenizer is that copy.
        if not isinstance(copy_tokenizer, bool):
            raise InvalidTypeError(
                f"copy_tokenizer must be a bool, got {type(copy_tokenizer).__name__}"
            )
        self._offsets_tokenizer = (
            Tokenizer.from_str(self._tokenizer_json) if copy_tokenizer else tokenizer
        )
        self._offsets_tokenizer.no_padding()
        self._offsets_tokenizer.no_truncation()
        self._tokenizer = self._offsets_tokenizer
        if config.add_special_tokens:
            tok = Tokenizer.from_str(self._tokenizer_json)
            tok.no_padding()
            tok.enable_truncation(config.max_tokens)
            self._tokenizer = tok
        self._max_chars = config.max_tokens * CHARS_PER_TOKEN

        self._table = np.ascontiguousarray(embeddings, dtype=np.float32)
        w = np.ones(vocab_size, np.float32) if weights is None else weights.astype(np.float32)
        counts = np.ones(vocab_size, np.float32)
        if config.ignore_token_ids:
            ignored = np.asarray(config.ignore_token_ids)
            w[ignored] = 0.0
            counts[ignored] = 0.0
        self._token_weight = w
        self._denominator = w if config.pooling == "weighted_mean" else counts
        self._row_of = None if mapping is None else mapping.astype(np.int32)
        self._tables: dict[int, np.ndarray] = {config.dim: self._table}
        self._lock = threading.Lock()
        self._fingerprint: str | None = None
        self._split_mode = _wordcache.split_mode(self._offsets_tokenizer, config.add_special_tokens)
        self._split = None if self._split_mode is None else _wordcache.splitter(self._split_mode)
        self._word_starts = _wordcache.word_starts(self._offsets_tokenizer, self._split_mode)
        self._word_table = self._check_word_table(word_table)
        # The tokenizer matches its added tokens ("<s>", "<unk>", ...) in raw text before
        # splitting words, so a text holding one's literal must not go through the word
        # memo (a word " <s>" alone tokenizes differently). A case-insensitive superset of
        # the literals: a false hit only sends a text down the exact path. Literals without
        # whitespace lie inside one word (words split at spaces), so memo words are
        # flagged once, when they enter a memo; literals with whitespace are searched for
        # in every batch.
        literals = sorted(
            {t.content for t in tokenizer.get_added_tokens_decoder().values() if t.content},
            key=len,
            reverse=True,
        )
        self._word_literal = _literal_pattern([t for t in literals if not _has_space(t)])
        self._text_literal = _literal_pattern([t for t in literals if _has_space(t)])
        # With a table, the first memo is built (and the table read) on the first encode.
        self._cache: _wordcache.WordCache | None = (
            None if self._word_table is not None else self._new_cache()
        )
        self._word_tokens: _wordcache.WordTokens | None = None
        self._arrays = EncoderArrays(
            tokenizer_json=self._tokenizer_json,
            embeddings=_read_only(self._embeddings),
            weights=_read_only(self._weights),
            mapping=_read_only(self._mapping),
            table=_read_only(self._table),
            token_weights=_read_only(self._token_weight),
            denominators=_read_only(self._denominator),
        )
        self.dim = self._check_dim(dim) if dim is not None else config.dim

    # ------------------------------------------------------------------ properties
    @property
    def full_dim(self) -> int:
        """Columns of the table: the largest ``dim`` this encoder can give."""
        return self.config.dim

    @property
    def max_tokens(self) -> int:
        """Tokens per text that count; later ones are ignored."""
        return self.config.max_tokens

    @property
    def vocab_size(self) -> int:
        """Number of token ids."""
        return self.config.vocab_size

    @property
    def arrays(self) -> EncoderArrays:
        """The tokenizer and arrays this encoder pools with, as read-only views."""
        return self._arrays

    @property
    def split_mode(self) -> str | None:
        """How texts split into independently tokenizable words: ``"space"`` (single
        spaces: Llama-like), ``"whitespace"`` (any whitespace: BERT-like), or None when
        tokens may span words (or special tokens are added). Probed when the encoder is
        built; see :func:`sememe._wordcache.split_mode`."""
        return self._split_mode

    @property
    def word_table(self) -> _wordcache.WordTable | None:
        """The model's shipped word table (frequent words with their token ids), or None.

        The word memos of :meth:`encode` and of the chunkers start from it, so text never
        seen before mostly needs no tokenizer call; results are identical without it.
        Its words are read on first use; ``word_table.load().nbytes()`` is their memory.
        """
        return self._word_table

    def word_tokens(self) -> _wordcache.WordTokens:
        """This encoder's tokenizer (no truncation) with its memo of words' token ids.

        Built on first use and shared by every caller (the chunkers count and pool
        through it), so the memo stays warm across chunkers of one encoder. Its
        tokenizer is the encoder's own and must not be reconfigured.
        """
        words = self._word_tokens
        if words is None:
            with self._lock:
                if self._word_tokens is None:
                    self._word_tokens = _wordcache.WordTokens(
                        self._offsets_tokenizer,
                        add_special_tokens=self.config.add_special_tokens,
                        mode=self._split_mode,
                        starts=self._word_starts,
                        table=self._word_table,
                    )
                words = self._word_tokens
        return words

    def shares_arrays(self, other: Encoder) -> bool:
        """True when ``other`` pools with this encoder's very arrays and tokenizer.

        A cheap identity test (no hashing): :meth:`with_options` variants share them;
        an encoder rebuilt from equal arrays does not (compare :attr:`fingerprint` then).
        """
        if not isinstance(other, Encoder):
            raise InvalidTypeError(f"other must be an Encoder, got {type(other).__name__}")
        if other is self:
            return True
        same = (
            other._embeddings is self._embeddings
            and other._weights is self._weights
            and other._mapping is self._mapping
        )
        return same and other._tokenizer_json == self._tokenizer_json

    @property
    def tokenizer(self) -> Tokenizer:
        """A fresh copy of the model's tokenizer, safe to reconfigure."""
        return Tokenizer.from_str(self._tokenizer_json)

    @property
    def fingerprint(self) -> str:
        """SHA-256 over everything that determines the vectors: tokenizer, table, weights, pooling.

        Indexes store it so that vectors from different models are never mixed.
        """
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(self._tokenizer_json.encode("utf-8"))
            for arr in (self._embeddings, self._weights, self._mapping):
                if arr is not None:
                    h.update(str((arr.dtype.str, arr.shape)).encode())
                    h.update(np.ascontiguousarray(arr).tobytes())
            cfg = self.config
            h.update(
                repr(
                    (cfg.pooling, cfg.max_tokens, cfg.add_special_tokens, cfg.ignore_token_ids)
                ).encode()
            )
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def __repr__(self) -> str:
        return (
            f"Encoder(name={self.config.name!r}, dim={self.dim}, full_dim={self.full_dim}, "
            f"vocab_size={self.vocab_size}, max_tokens={self.max_tokens})"
        )

    # ------------------------------------------------------------------ encoding
    @overload
    def encode(
        self, texts: Any, *, convert_to_tensor: Literal[False] = False, **kwargs: Any
    ) -> np.ndarray: ...
    @overload
    def encode(self, texts: Any, *, convert_to_tensor: Literal[True], **kwargs: Any) -> Any: ...

    def encode(
        self,
        texts: Any,
        *,
        batch_size: int = _DEFAULT_BATCH,
        normalize: bool | None = None,
        dim: int | None = None,
        show_progress: bool | None = None,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool | None = None,
        truncate_dim: int | None = None,
        convert_to_numpy: bool = True,
        convert_to_tensor: bool = False,
        precision: str = "float32",
    ) -> Any:
        """Embed texts as float32 vectors.

        Parameters
        ----------
        texts:
            One ``str`` (gives a 1-D vector) or a collection of ``str`` (gives an
            ``(n, dim)`` array, in input order): a list, tuple or generator (consumed in
            batches), a numpy array, a pandas ``Series`` or one-column ``DataFrame``, a
            polars ``Series`` or one-column ``DataFrame``, a pyarrow ``Array``,
            ``ChunkedArray`` or one-column ``Table``. A frame with several columns is an
            error (pick one: ``df["text"]``); a missing value is an error naming its row.
        batch_size:
            Texts tokenized per step; larger uses more memory, rarely more speed.
        normalize:
            L2-normalise each vector; defaults to the model's setting (True for
            bundled models).
        dim:
            Keep only the first ``dim`` dimensions (Matryoshka truncation), then
            normalise. Defaults to the encoder's ``dim``.
        show_progress:
            Draw a progress bar on stderr; ``None`` shows one for inputs over
            50,000 texts when stderr is a terminal.

        Notes
        -----
        Empty and whitespace-only texts give the zero vector (also when
        normalised), whose cosine similarity to anything is 0. Only the first
        ``max_tokens`` tokens of a text count. Texts longer than
        ``max_tokens * 8`` characters are first cut at the last space before that
        length (or at that length if there is none); for tokenizers that split on
        whitespace this gives exactly the first ``max_tokens`` tokens. Lone
        surrogates are treated as U+FFFD.

        sentence-transformers keywords
            Accepted so that code written for ``SentenceTransformer.encode`` runs
            unchanged: ``show_progress_bar`` (= ``show_progress``),
            ``normalize_embeddings`` (= ``normalize``), ``truncate_dim`` (= ``dim``);
            giving both names with different values is an error. ``batch_size`` is
            sememe's own. ``convert_to_tensor=True`` returns a CPU ``torch.Tensor`` (torch
            must be installed); ``convert_to_numpy=False`` only goes with it.
            ``precision="ubinary"`` / ``"binary"`` return sentence-transformers' exact
            quantized bytes (sign bits, most significant bit first, ``"binary"`` as int8
            minus 128); :meth:`encode_binary` gives FAISS's bit order instead, with the
            same Hamming distances. ``"int8"``/``"uint8"`` need calibration ranges and
            are refused.
        """
        output = _st_habits.Output.of(precision, convert_to_numpy, convert_to_tensor)
        show_progress = _st_habits.merge_alias(
            show_progress, show_progress_bar, "show_progress", "show_progress_bar"
        )
        normalize = _st_habits.merge_alias(
            normalize, normalize_embeddings, "normalize", "normalize_embeddings"
        )
        dim = _st_habits.merge_alias(dim, truncate_dim, "dim", "truncate_dim")
        single = _text.is_single_text(texts)
        check_positive_int(batch_size, "batch_size")
        dim = self.dim if dim is None else self._check_dim(dim)
        normalize = self._check_normalize(normalize)
        total = 1 if single else len(texts) if hasattr(texts, "__len__") else None
        table = self._table_for(dim)
        processes, asked = 1, None
        if not (single or total is None or total < 2 or _THREADS_OFF.get()) and _splittable(texts):
            from . import _fork

            asked = _fork.env_processes(WORKERS_ENV)
            processes = _processes_allowed(total, asked)
            if processes > 1:
                # Read once and checked (an error names its row) before anything forks.
                texts = (
                    _text.check_texts(texts) if isinstance(texts, list) else _text.as_list(texts)
                )
                if asked is None and not _holds_chars(texts, FORK_MIN_CHARS):
                    processes = 1
        threaded = _use_threads() and (total is None or total > THREAD_MIN_TEXTS)
        if processes > 1:
            out = self._encode_split(
                texts,
                processes,
                asked is not None,
                batch_size,
                table,
                normalize,
                show_progress,
                threaded,
            )
            return output.apply(out)
        if threaded and total is not None and total <= batch_size:
            batch_size = -(-total // 2)  # two halves, so that the stages overlap
        with _progress(total, show_progress, "encode") as bar:
            batches = _text.iter_batches(texts, batch_size)
            if threaded and total is None:  # a generator: read enough to know it is large
                batches, threaded = _worth_a_thread(batches)
            out = self._encode_batches(batches, total, table, normalize, bar, threaded)
        return output.apply(out[0] if single else out)

    def _encode_split(
        self,
        texts: list[str],
        processes: int,
        asked: bool,
        batch_size: int,
        table: np.ndarray,
        normalize: bool,
        show_progress: bool | None,
        threaded: bool,
    ) -> np.ndarray:
        """The vectors of ``texts``, the same as one process's, shared out over forked
        children (:class:`sememe._fork.RowSplit`) when that pays.

        On an encoder whose memo holds no word of a text yet (none encoded: every word
        is new) the children are forked at once, and each process reads the shipped word
        table itself, in parallel, rather than one reading it while the other cores
        wait. Otherwise the first :data:`FORK_STEP` texts are encoded here, and the rest
        is shared out only when they brought many new words (or ``asked``:
        :data:`WORKERS_ENV` asks for processes), else encoded here as usual."""
        from . import _fork

        n = len(texts)
        out = np.empty((n, table.shape[1]), np.float32)
        head = 0
        if self._cache is not None and len(self._cache.index) > 1:  # it has seen words
            grown = len(self._cache)
            head = min(FORK_STEP, n)
            self._encode_batches(
                _text.iter_batches(texts[:head], batch_size),  # checks them (names the row)
                head,
                table,
                normalize,
                _progress_mod.NULL_BAR,
                False,
                dest=out[:head],
            )
            # Children pay only while many words are new: a warm memo's work is look-ups
            # and sparse products, which two processes share badly (memory bandwidth).
            many_new = len(self._memo()) - grown >= FORK_NEW_WORDS * head

        def here() -> np.ndarray:  # the rest in this process, threaded as usual
            with _progress(n, show_progress, "encode") as bar:
                bar.update(head)
                rest = _text.iter_batches(texts[head:], batch_size)
                self._encode_batches(
                    rest, n - head, table, normalize, bar, threaded, dest=out[head:]
                )
            return out

        if head and (not (asked or many_new) or n == head):
            return here()

        def compute(lo: int, hi: int, rows: np.ndarray) -> None:
            part = _text.iter_batches(texts[head + lo : head + hi], batch_size)  # checked
            self._encode_batches(
                part, hi - lo, table, normalize, _progress_mod.NULL_BAR, False, dest=rows
            )

        split = _fork.RowSplit(
            n - head, table.shape[1], processes, FORK_STEP, compute, out=out[head:]
        )
        if split.processes == 1:  # it cannot fork after all (too few steps, a thread)
            return here()
        try:
            split.fork()  # before the bar exists: a bar may start a thread
            with _progress(n, show_progress, "encode") as bar:
                bar.update(head)
                split.run(on_rows=bar.update)  # into out: its rows, then the children's
        finally:
            split.close()
        return out

    def _encode_batches(
        self,
        batches: Iterator[list[str]],
        total: int | None,
        table: np.ndarray,
        normalize: bool,
        bar: Any,
        threaded: bool,
        dest: np.ndarray | None = None,
    ) -> np.ndarray:
        """Every batch's vectors, in order, in one array (``dest``, of ``total`` rows,
        when given).

        ``threaded``: pool each batch in a worker thread while this thread prepares the
        next (``_prepare_batch`` is mostly Python, ``_pool_batch`` mostly numpy and scipy,
        which release the GIL), so a large call uses two cores. The thread lives for this
        call only (nothing survives a fork) and the vectors are those of the serial loop:
        every text's vector depends on that text alone.
        """
        # Written in place when the input's length is known (no copy of every batch at the
        # end); an input yielding more texts than its len() falls back to a list of parts.
        out = dest
        if out is None and total is not None:
            out = np.empty((total, table.shape[1]), np.float32)
        parts: list[np.ndarray] = []
        done = 0

        def put(vectors: np.ndarray) -> None:
            nonlocal done, out
            if out is not None and done + len(vectors) > len(out):
                parts.append(out[:done])
                out = None
            if out is None:
                parts.append(vectors)
            elif not np.shares_memory(vectors, out):  # not written in place already
                out[done : done + len(vectors)] = vectors
            done += len(vectors)
            bar.update(len(vectors))

        if not threaded:
            for batch in batches:
                # Pooled straight into the output's rows where they exist (one pass over
                # the vectors fewer: normalising writes them there).
                fits = out is not None and done + len(batch) <= len(out)
                dest = out[done : done + len(batch)] if fits else None  # type: ignore[index]
                put(self._encode_batch(batch, table, normalize, dest))
        else:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sememe-pool") as pool:
                pending: Future[np.ndarray] | None = None
                for batch in batches:
                    prepared = self._prepare_batch(batch)
                    if pending is not None:
                        put(pending.result())
                    pending = pool.submit(self._pool_batch, prepared, table, normalize)
                if pending is not None:
                    put(pending.result())
        if out is not None:
            return out if done == len(out) else out[:done].copy()
        if not parts:
            return np.zeros((0, table.shape[1]), np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def encode_binary(
        self,
        texts: str | Iterable[str],
        *,
        dim: int | None = None,
        batch_size: int = _DEFAULT_BATCH,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        """Embed texts as packed sign bits: uint8, ``(n, dim // 8)`` (``(dim // 8,)`` for a str).

        Bit ``j`` of a vector (``1`` when component ``j`` is > 0) is stored in byte
        ``j // 8`` at bit position ``j % 8``, least significant bit first: the
        layout of ``faiss.real_to_binary`` and what ``faiss.IndexBinary*`` take.
        The Hamming distance between two codes approximates the angle between the
        float vectors. ``dim`` must be a multiple of 8.
        """
        check_positive_int(batch_size, "batch_size")
        dim = self.dim if dim is None else self._check_dim(dim)
        if dim % 8:
            raise InvalidArgumentError(f"binary codes need dim to be a multiple of 8, got {dim}")
        vectors = self.encode(
            texts, batch_size=batch_size, normalize=False, dim=dim, show_progress=show_progress
        )
        codes = pack_bits(vectors)
        return codes[0] if vectors.ndim == 1 else codes

    def similarity(self, a: Any, b: Any, *, dim: int | None = None) -> float | np.ndarray:
        """Cosine similarity of texts or vectors: a float for two single items, else a
        ``(len(a), len(b))`` matrix.

        ``a`` and ``b`` are each one text, a collection of texts (as :meth:`encode`
        takes), or vectors: a numeric numpy array (1-D: one, 2-D: one per row) or a torch
        tensor, as :meth:`encode` returned them (normalised or not). Texts are encoded at
        ``dim`` (default: the encoder's); vectors are used as given, so both sides must
        have as many dimensions. A zero vector (an empty text) has similarity 0 to
        everything.
        """
        va, one_a = _compare.unit_side(self, a, dim, "a")
        vb, one_b = _compare.unit_side(self, b, dim, "b")
        _compare.same_width(va, vb, ("a", "b"), dim)
        scores = va @ vb.T
        if one_a and one_b:
            return float(scores[0, 0])
        return scores

    def rank(
        self,
        query: Any,
        docs: Any,
        sort: bool = True,
        *,
        dim: int | None = None,
    ) -> list[tuple[str, float]]:
        """``(doc, cosine similarity to query)`` for every doc, best first, as WordLlama's
        ``rank`` returns them.

        ``query`` is one text (or one 1-D vector); ``docs`` any collection of texts that
        :meth:`encode` takes. With ``sort=False`` the pairs keep the order of ``docs``;
        sorted, equal scores keep it too. No docs give ``[]``.
        """
        if not isinstance(sort, (bool, np.bool_)):
            raise InvalidTypeError(f"sort must be a bool, got {sort!r} ({type(sort).__name__})")
        texts, scores = _compare.query_scores(self, query, docs, dim)
        order = np.argsort(-scores, kind="stable") if sort else range(len(texts))
        return [(texts[i], float(scores[i])) for i in order]

    def topk(self, query: Any, docs: Any, k: int = 3, *, dim: int | None = None) -> list[str]:
        """The ``k`` docs most similar to ``query``, best first (WordLlama's ``topk``).

        Fewer than ``k`` docs give all of them, sorted; ties keep the order of ``docs``.
        ``k`` must be an int >= 1.
        """
        k = int(check_positive_int(k, "k"))
        texts, scores = _compare.query_scores(self, query, docs, dim)
        return [texts[i] for i in np.argsort(-scores, kind="stable")[:k]]

    def filter(
        self, query: Any, docs: Any, threshold: float = 0.3, *, dim: int | None = None
    ) -> list[str]:
        """The docs whose cosine similarity to ``query`` is above ``threshold``, in their
        order (WordLlama's ``filter``, with its default 0.3).

        ``threshold`` is a cosine in ``[-1, 1]``; a doc scoring exactly ``threshold`` is
        left out, as in WordLlama. Good values depend on the model: look at a few
        :meth:`rank` scores of your data first.
        """
        limit = check_float(threshold, "threshold", low=-1.0, high=1.0)
        texts, scores = _compare.query_scores(self, query, docs, dim)
        return [t for t, s in zip(texts, scores.tolist(), strict=True) if s > limit]

    # ------------------------------------------------------------------ token-level API
    def tokenize(self, texts: str | Iterable[str], *, truncate: bool = False) -> Any:
        """Token ids and character offsets, for modules that work below the text level.

        Returns a :class:`TokenizedText` for a ``str``, else a list of them.
        Unlike :meth:`encode`, nothing is truncated unless ``truncate=True``.

        Texts over 65,536 characters are tokenized in pieces (see :meth:`count_tokens`),
        with exact character offsets into the original string, in order. The result is
        that of tokenizing the text whole where it has spaces; a run of more than 16,384
        characters without a space may be cut at character boundaries, near which the ids
        may differ (a token or two per cut).
        """
        single = _text.is_single_text(texts)
        items = _text.as_list(texts)
        if not isinstance(truncate, (bool, np.bool_)):
            raise InvalidTypeError(f"truncate must be a bool, got {truncate!r}")
        tok = self._tokenizer if truncate else self._offsets_tokenizer
        long = self._long_rows(items)
        short = [i for i in range(len(items)) if i not in long] if long else range(len(items))
        out: list[Any] = [None] * len(items)
        encs = self._encode_raw(tok, [items[i] for i in short], fast=False)
        cut = self.max_tokens if truncate and tok is self._offsets_tokenizer else None
        for i, e in zip(short, encs, strict=True):
            ids, offsets = e.ids, e.offsets
            if cut is not None and len(ids) > cut:
                ids, offsets = ids[:cut], offsets[:cut]
            out[i] = TokenizedText(
                np.asarray(ids, dtype=np.int32),
                np.asarray(offsets, dtype=np.int64).reshape(-1, 2),
            )
        for i in long:
            out[i] = self._tokenize_long(items[i], limit=self.max_tokens if truncate else None)
        return out[0] if single else out

    def count_tokens(self, texts: str | Iterable[str]) -> Any:
        """Number of tokens of each text, without truncation (an int for a ``str``).

        A text over 65,536 characters is counted in pieces of about 16,384 characters, which
        costs time and memory linear in its length, for tokenizers whose tokens never span
        two words (checked when the encoder is built; true of the bundled model; other
        tokenizers count long texts whole). A piece ends at a space (or tab, newline) right
        after a letter or digit, where the count is exact. Where the 16,384 characters
        after a piece's target size hold no such space (inside a longer run without one:
        CJK text, a base64 blob), the text is cut at a character boundary instead, after
        punctuation where there is some; there the count can differ
        by a token or two per cut from tokenizing the text whole (a token that would span
        the cut is counted as two). ``count_tokens(t) == len(tokenize(t))`` always.
        """
        single = _text.is_single_text(texts)
        items = _text.as_list(texts)
        long = self._long_rows(items)
        if long:
            counts = np.zeros(len(items), np.int64)
            short = [i for i in range(len(items)) if i not in long]
            encs = self._encode_raw(self._offsets_tokenizer, [items[i] for i in short], fast=True)
            counts[short] = [len(e) for e in encs]
            for i in long:
                counts[i] = sum(len(e) - d for e, d, _, _ in self._long_pieces(items[i]))
        else:
            encs = self._encode_raw(self._offsets_tokenizer, items, fast=True)
            counts = np.fromiter((len(e) for e in encs), dtype=np.int64, count=len(encs))
        return int(counts[0]) if single else counts

    # ------------------------------------------------------------------ long texts in pieces
    def _long_rows(self, items: list[str]) -> set[int]:
        """Rows of ``items`` long enough to tokenize in pieces (none without a split mode)."""
        if self._split_mode is None:
            return set()
        limit = LONG_TEXT
        return {i for i, t in enumerate(items) if len(t) > limit}

    def _cuts(self, text: str, piece_chars: int, max_chars: int) -> Iterator[tuple[int, bool]]:
        """Cut positions ``(c, forced)``, increasing, about ``piece_chars`` apart.

        ``forced`` is False at a safe cut (``_CUTS``: a space after a letter, searched in
        ``[prev + piece_chars, prev + max_chars)``) and True where that stretch has none and
        the text is cut at a character boundary instead (:func:`_forced_cut`). Lazy, and each
        step reads at most ``max_chars`` characters, so the work is linear in the text.
        """
        pattern = _CUTS[self._split_mode] if self._split_mode else None
        if pattern is None:
            return
        n = len(text)
        prev = 0
        while True:
            pos = prev + piece_chars
            if pos >= n:
                return
            hi = min(prev + max(max_chars, piece_chars + 1), n)
            m = pattern.search(text, pos, hi)
            if m is not None:
                cut, forced = m.start(), False
            elif hi >= n:
                return  # the rest is short enough to be one piece
            else:
                found = _forced_cut(text, pos, hi)
                if found is None:
                    return
                cut, forced = found, True
            yield cut, forced
            prev = cut

    def _long_pieces(
        self,
        text: str,
        *,
        offsets: bool = False,
        piece_chars: int | None = None,
        max_chars: int | None = None,
        limited: bool = False,
    ) -> Iterator[tuple[Any, int, int, int]]:
        """Yield ``(encoding, n_drop, base, floor)`` for consecutive pieces of ``text``.

        Piece ``k > 0`` starts one character before its cut: that character is context
        whose ``n_drop`` leading tokens are dropped. At a safe cut (a letter before a space)
        they are the tokens of the letter alone, so the first kept token sees the space
        before it as in the whole text (Llama-like tokenizers fold the space into the next
        token: ``"▁sat"`` covers ``" sat"``) and the result is exact. At a forced cut they are
        the leading tokens lying within the context character (counted on the first
        :data:`_CONTEXT_WINDOW` characters of the piece), which keeps a sentencepiece-style
        tokenizer from adding its start-of-text marker mid-text; tokens next to a forced cut
        may differ from the whole text's. ``base`` is the piece's offset in ``text``;
        ``floor`` its cut (0 for the first piece), below which no kept token may start.

        Pieces hold at most ``max_chars`` (default ``2 * piece_chars``) characters plus the
        context one, and are tokenized :data:`PIECES_PER_BATCH` at a time; ``limited``
        starts with one piece per batch and doubles, for callers that stop early.
        """
        tok = self._offsets_tokenizer
        piece_chars = PIECE_CHARS if piece_chars is None else piece_chars
        max_chars = 2 * piece_chars if max_chars is None else max_chars
        cuts = chain([(0, None)], self._cuts(text, piece_chars, max_chars))
        nxt: tuple[int, bool | None] | None = next(cuts)
        size = 1 if limited else PIECES_PER_BATCH
        while nxt is not None:
            group: list[tuple[int, bool | None, int]] = []
            while nxt is not None and len(group) < size:
                cut, forced = nxt
                nxt = next(cuts, None)
                group.append((cut, forced, len(text) if nxt is None else nxt[0]))
            bases = [c if f is None else c - 1 for c, f, _ in group]
            pieces = [text[b:e] for b, (_, _, e) in zip(bases, group, strict=True)]
            drops = [0] * len(group)
            safe = [k for k, (_, f, _) in enumerate(group) if f is False]
            if safe:
                context = self._encode_raw(tok, [pieces[k][0] for k in safe], fast=True)
                for k, e in zip(safe, context, strict=True):
                    drops[k] = len(e)
            forced = [k for k, (_, f, _) in enumerate(group) if f]
            if forced:
                windows = [pieces[k][:_CONTEXT_WINDOW] for k in forced]
                for k, e in zip(forced, self._encode_raw(tok, windows, fast=False), strict=True):
                    drops[k] = _leading_within(e.offsets, 1)
            encs = self._encode_raw(tok, pieces, fast=not offsets)
            floors = [c for c, _, _ in group]
            yield from zip(encs, drops, bases, floors, strict=True)
            if limited:
                size = min(2 * size, PIECES_PER_BATCH)

    def _tokenize_long(
        self,
        text: str,
        *,
        limit: int | None = None,
        piece_chars: int | None = None,
        max_chars: int | None = None,
    ) -> TokenizedText:
        """:meth:`tokenize` of one long text, piece by piece; at most ``limit`` tokens."""
        ids: list[np.ndarray] = []
        offs: list[np.ndarray] = []
        total = 0
        pieces = self._long_pieces(
            text,
            offsets=True,
            piece_chars=piece_chars,
            max_chars=max_chars,
            limited=limit is not None,
        )
        for enc, drop, base, floor in pieces:
            ids.append(np.asarray(enc.ids, dtype=np.int32)[drop:])
            spans = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)[drop:] + base
            offs.append(np.maximum(spans, floor))  # a no-op except right after a forced cut
            total += len(ids[-1])
            if limit is not None and total >= limit:
                break
        out_ids = np.concatenate(ids) if ids else np.zeros(0, np.int32)
        out_offs = np.concatenate(offs) if offs else np.zeros((0, 2), np.int64)
        if limit is not None:
            out_ids, out_offs = out_ids[:limit], out_offs[:limit]
        return TokenizedText(out_ids, out_offs)

    def encode_ids(
        self,
        ids: Iterable[Iterable[int]],
        *,
        normalize: bool | None = None,
        dim: int | None = None,
    ) -> np.ndarray:
        """Pool given token-id sequences, as :meth:`encode` does after tokenizing.

        Lets a module tokenize a document once and embed many spans of it (the
        chunker does this) without re-tokenizing. No truncation is applied.
        Each sequence must be a flat sequence of integers in ``0 .. vocab_size - 1``.
        """
        dim = self.dim if dim is None else self._check_dim(dim)
        normalize = self._check_normalize(normalize)
        if ids is None or isinstance(ids, (str, bytes)):
            raise InvalidTypeError(f"ids must be a sequence of token-id sequences, got {ids!r}")
        lists = [self._check_ids(x, f"ids[{i}]") for i, x in enumerate(ids)]
        return self._pool(lists, self._table_for(dim), normalize)

    def _check_ids(self, x: Any, name: str) -> np.ndarray:
        """``x`` as a 1-D int64 array of valid token ids, or an error naming ``name``."""
        if isinstance(x, (str, bytes)):
            raise InvalidTypeError(f"{name} is {type(x).__name__}; expected a sequence of ints")
        try:
            arr = np.asarray(x)
        except ValueError:  # ragged nesting
            raise InvalidTypeError(f"{name} is not a flat sequence of ints") from None
        if arr.ndim != 1:
            if arr.ndim == 0 or arr.size:  # a bare int, or nested sequences
                raise InvalidTypeError(f"{name} must be a flat sequence of ints, got {x!r:.60}")
            arr = arr.ravel()
        if arr.size and (arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer)):
            raise InvalidTypeError(f"{name} must hold integer token ids, got dtype {arr.dtype}")
        arr = arr.astype(np.int64, copy=False)
        if arr.size and (arr.min() < 0 or arr.max() >= self.vocab_size):
            raise InvalidArgumentError(
                f"{name} has token ids outside 0..{self.vocab_size - 1} "
                f"(min {arr.min()}, max {arr.max()})"
            )
        return arr

    def span_sums(self, ids: Any, indptr: Any, *, dim: int | None = None) -> np.ndarray:
        """Unnormalised pooled sums of spans of one token-id sequence.

        Row ``i`` is the sum of ``token_weight[t] * table[t, :dim]`` over the tokens
        ``ids[indptr[i]:indptr[i + 1]]``: what :meth:`encode` adds up for those tokens
        before dividing. Sums of neighbouring spans add up to the sum of their union,
        which is what the semantic chunker needs (it embeds many windows of one text
        from the tokens of its units, tokenized once). ``indptr`` must be
        non-decreasing from 0 to ``len(ids)``.
        """
        dim = self.dim if dim is None else self._check_dim(dim)
        flat = self._check_ids(ids, "ids")
        bounds = np.asarray(indptr)
        if (
            bounds.ndim != 1
            or not bounds.size
            or not np.issubdtype(bounds.dtype, np.integer)
            or bounds[0] != 0
            or bounds[-1] != len(flat)
            or np.any(np.diff(bounds) < 0)
        ):
            raise InvalidArgumentError(
                f"indptr must be non-decreasing integers from 0 to len(ids) = {len(flat)}"
            )
        table = self._table_for(dim)
        # int32 indices: scipy keeps them and multiplies faster than with int64 ones.
        index = np.int32 if len(flat) < np.iinfo(np.int32).max else np.int64
        cols = flat.astype(np.int32) if self._row_of is None else self._row_of[flat]
        matrix = sp.csr_matrix(
            (self._token_weight[flat], cols, bounds.astype(index)),
            shape=(len(bounds) - 1, table.shape[0]),
            copy=False,
        )
        return np.asarray(matrix @ table, dtype=np.float32)

    def token_vectors(
        self, text: str, *, dim: int | None = None
    ) -> tuple[np.ndarray, TokenizedText]:
        """The (unnormalised, unweighted) table row of each token of ``text``, with the tokens.

        .. deprecated:: nothing in sememe uses it; it goes in the next release. Use
           :meth:`tokenize` and ``arrays.table`` (rows through ``arrays.mapping``).
        """
        if not isinstance(text, str):
            raise InvalidTypeError(f"text is {type(text).__name__}; expected str")
        warnings.warn(
            "Encoder.token_vectors is deprecated and goes in the next release; "
            "use tokenize() and the rows of Encoder.arrays.table",
            DeprecationWarning,
            stacklevel=2,
        )
        dim = self.dim if dim is None else self._check_dim(dim)
        toks = self.tokenize(text)
        rows = toks.ids if self._row_of is None else self._row_of[toks.ids]
        return self._table_for(dim)[rows], toks

    def token_weights(self, ids: np.ndarray) -> np.ndarray:
        """Pooling weight of each token id (0 for ignored ids)."""
        arr = np.asarray(ids)
        flat = self._check_ids(arr.ravel(), "ids")
        return self._token_weight[flat].reshape(arr.shape)

    # ------------------------------------------------------------------ variants / persistence
    def with_options(
        self,
        *,
        dim: int | None = None,
        max_tokens: int | None = None,
        normalize: bool | None = None,
    ) -> Encoder:
        """A new encoder sharing this one's table, with other defaults.

        ``max_tokens`` must be an int >= 1, ``dim`` an int in ``1 .. full_dim`` and
        ``normalize`` a bool (each ``None`` keeps this encoder's value).
        """
        check_positive_int(max_tokens, "max_tokens", allow_none=True)
        if dim is not None:
            self._check_dim(dim)
        normalize = None if normalize is None else self._check_normalize(normalize)
        cfg = self.config
        if max_tokens is not None or normalize is not None:
            cfg = replace(
                cfg,
                max_tokens=cfg.max_tokens if max_tokens is None else max_tokens,
                normalize=cfg.normalize if normalize is None else normalize,
            )
        return Encoder(
            Tokenizer.from_str(self._tokenizer_json),
            self._embeddings,
            weights=self._weights,
            mapping=self._mapping,
            config=cfg,
            dim=self.dim if dim is None else dim,
            source=self.source,
            word_table=self._word_table,
            copy_tokenizer=False,  # the tokenizer parsed just above is the new encoder's alone
        )

    def save(
        self,
        path: str | Path,
        *,
        format: str = "sememe",
        quantize_to: str | None = None,
        vocabulary_quantization: int | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write the model as a folder; returns its path.

        ``format="sememe"`` (default) writes a folder that :func:`sememe.load` reads back
        bit-exactly. ``"model2vec"`` writes one that ``model2vec.StaticModel.from_pretrained``
        loads, ``"sentence-transformers"`` one that ``SentenceTransformer`` loads, both
        giving this encoder's vectors (same token limit, normalisation and ``dim``); a
        setting a format cannot express raises :class:`~sememe.errors.InvalidArgumentError`
        instead (see :mod:`sememe._export`). ``quantize_to`` (``"float16"``, ``"int8"``,
        ``"float32"``) and ``vocabulary_quantization`` (rows to keep) store a smaller table,
        as :func:`sememe.quantization.quantize` does; without them an int8-loaded encoder is
        stored as int8 again. Saves are atomic; ``overwrite=True`` replaces only a folder of
        the same kind.
        """
        from ._export import save_as

        return save_as(
            self,
            path,
            format=format,
            quantize_to=quantize_to,
            vocabulary_quantization=vocabulary_quantization,
            overwrite=overwrite,
        )

    def info(self) -> dict[str, Any]:
        """A summary: name, sizes, provenance and licence."""
        n_params = int(self._embeddings.size + (0 if self._weights is None else self._weights.size))
        return {
            "name": self.config.name,
            "source": self.source,
            "dim": self.dim,
            "full_dim": self.full_dim,
            "vocab_size": self.vocab_size,
            "table_rows": int(self._embeddings.shape[0]),
            "parameters": n_params,
            "table_dtype": str(self._embeddings.dtype),
            "table_bytes": int(self._embeddings.nbytes),
            "pooling": self.config.pooling,
            "token_weights": self._weights is not None,
            "normalize": self.config.normalize,
            "max_tokens": self.max_tokens,
            "matryoshka_dims": list(self.config.matryoshka_dims),
            "license": self.config.license,
            "description": self.config.description,
            "provenance": self.config.provenance,
            "fingerprint": self.fingerprint[:16],
        }

    # ------------------------------------------------------------------ internals
    def _check_normalize(self, normalize: Any) -> bool:
        """``normalize`` as a bool; None gives the model's default."""
        if normalize is None:
            return self.config.normalize
        if not isinstance(normalize, (bool, np.bool_)):
            raise InvalidTypeError(
                f"normalize must be a bool or None, got {normalize!r} ({type(normalize).__name__})"
            )
        return bool(normalize)

    def _check_dim(self, dim: int) -> int:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise InvalidTypeError(f"dim must be an int, got {dim!r} ({type(dim).__name__})")
        if not 1 <= dim <= self.config.dim:
            raise InvalidArgumentError(f"dim must be between 1 and {self.config.dim}, got {dim}")
        return int(dim)

    def _table_for(self, dim: int) -> np.ndarray:
        table = self._tables.get(dim)
        if table is None:
            with self._lock:
                table = self._tables.get(dim)
                if table is None:
                    table = np.ascontiguousarray(self._table[:, :dim])
                    self._tables[dim] = table
        return table

    def _prepare(self, batch: list[str]) -> tuple[list[str], list[int]]:
        """Blank out empty texts and cut very long ones; return the indices that were cut."""
        limit = self._max_chars
        cut: list[int] = []
        out = batch
        for i, t in enumerate(batch):
            if len(t) > limit:
                if out is batch:
                    out = list(batch)
                space = t.rfind(" ", limit // 2, limit)
                out[i] = t[: space if space > 0 else limit]
                cut.append(i)
            elif t.isspace():
                if out is batch:
                    out = list(batch)
                out[i] = ""
        return out, cut

    def _encode_raw(self, tok: Tokenizer, texts: list[str], fast: bool) -> list[Any]:
        """Tokenize, replacing lone surrogates (which tokenizers cannot take) on the way."""
        return _wordcache.encode_batch(
            tok, texts, add_special_tokens=self.config.add_special_tokens, offsets=not fast
        )

    def _token_ids(self, batch: list[str]) -> list[list[int]]:
        prepared, cut = self._prepare(batch)
        # Without special tokens, cut prefixes are tokenized untruncated (truncation does
        # the same work, then cuts): more than max_tokens tokens means the first max_tokens
        # are exact, as only the last token can touch the cut.
        counted = cut and not self.config.add_special_tokens
        first = prepared
        if counted:
            first = list(prepared)
            for i in cut:
                first[i] = ""
        ids = self._truncated([e.ids for e in self._encode_raw(self._tokenizer, first, fast=True)])
        if cut:
            limit = self.config.max_tokens
            if counted:
                whole = self._encode_raw(
                    self._offsets_tokenizer, [prepared[i] for i in cut], fast=True
                )
                redo = []
                for i, e in zip(cut, whole, strict=True):
                    ids[i] = e.ids[:limit]
                    if len(e.ids) <= limit:
                        redo.append(i)
            else:
                redo = [i for i in cut if len(ids[i]) <= limit]
            # A prefix with at most max_tokens tokens (very long tokens, or exactly that
            # many with the last at the cut, which may sit in a run of spaces): tokenize
            # those few texts again so truncation stays exact, in pieces when the tokenizer
            # allows (stopping once max_tokens are reached).
            if redo and self._split_mode is not None:
                for i in redo:
                    ids[i] = self._tokenize_long(batch[i], limit=limit).ids.tolist()
            elif redo:
                for i in redo:
                    ids[i] = self._prefix_ids(batch[i], limit)
        return ids

    def _prefix_ids(self, text: str, limit: int) -> list[int]:
        """The first ``limit`` tokens of a long text, for tokenizers without safe cuts.

        Tokenizes ever longer prefixes (from ``2 * max_tokens * CHARS_PER_TOKEN``
        characters, doubling, never splitting a surrogate pair) until one gives more than
        ``limit + 16`` tokens, and keeps its first ``limit``: only the last tokens of a
        prefix can differ from the whole text's. The work is linear in the characters
        those tokens cover, not in the text's length (tokenizing a 2 MB run without
        spaces whole takes seconds).
        """
        n = 2 * self._max_chars
        while n < len(text):
            if "\ud800" <= text[n - 1] <= "\udbff" and "\udc00" <= text[n] <= "\udfff":
                n += 1
            enc = self._encode_raw(self._offsets_tokenizer, [text[:n]], fast=True)[0]
            if len(enc.ids) > limit + 16:
                return enc.ids[:limit]
            n *= 2
        return self._truncated([self._encode_raw(self._tokenizer, [text], fast=True)[0].ids])[0]

    def _truncated(self, ids: list[list[int]]) -> list[list[int]]:
        """Token ids from ``self._tokenizer`` cut to ``max_tokens``, as a truncating
        tokenizer gives them (the untruncated one is used where no special tokens are
        added; a truncating one, which needs no cut, where they are)."""
        if self._tokenizer is not self._offsets_tokenizer:
            return ids
        limit = self.config.max_tokens
        return [row if len(row) <= limit else row[:limit] for row in ids]

    def _word_token_ids(self, words: list[str]) -> list[list[int]]:
        """Each word tokenized alone, one input per word: the reference the faster
        :meth:`_tokenize_words` must equal (tests compare them)."""
        return [e.ids for e in self._encode_raw(self._offsets_tokenizer, words, fast=True)]

    def _tokenize_words(self, words: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Words' token ids for the memo, many words per tokenizer input where exact
        (:func:`sememe._wordcache.word_ids`)."""
        return _wordcache.word_ids(self._offsets_tokenizer, words, self._word_starts)

    def _check_word_table(self, table: _wordcache.WordTable | None) -> _wordcache.WordTable | None:
        """``table`` if it was built for this tokenizer and the word path is used, else None."""
        if table is None:
            return None
        if not isinstance(table, _wordcache.WordTable):
            raise InvalidTypeError(
                f"word_table must be a sememe WordTable or None, got {type(table).__name__}"
            )
        if table.tokenizer_sha256 != _wordcache.tokenizer_sha256(self._tokenizer_json):
            warnings.warn(
                f"{table.path}: word table built for another tokenizer; ignored "
                "(vectors are unchanged, new text is only tokenized more slowly)",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        return table if self._split_mode is not None else None

    def _encode_batch(
        self,
        batch: list[str],
        table: np.ndarray,
        normalize: bool,
        dest: np.ndarray | None = None,
    ) -> np.ndarray:
        """Vectors for one batch: through the word memo where exact, else whole-text
        tokenizing; written into ``dest`` (``len(batch)`` rows) when given."""
        return self._pool_batch(self._prepare_batch(batch), table, normalize, dest)

    def _prepare_batch(self, batch: list[str]) -> _Prepared:
        """First stage of a batch: its words and their memo rows (the words not yet known
        are left to the second stage), or, without the word path, its texts' token ids.
        Python work, under the GIL."""
        if self._split is None:
            return _Prepared(batch, self._token_ids(batch))
        n = len(batch)
        exact = np.fromiter(map(len, batch), np.int64, n) > self._max_chars
        literal = self._text_literal
        if literal is not None and literal.search("\x00".join(batch)):  # rare: check each
            exact |= np.fromiter((literal.search(t) is not None for t in batch), bool, n)
        texts = (
            ["" if e else t for t, e in zip(batch, exact, strict=True)] if exact.any() else batch
        )
        if self._split_mode == "space":
            words, indptr = _wordcache.space_words(texts)
        else:
            parts = list(map(self._split, texts))
            indptr = np.zeros(n + 1, np.int64)
            np.cumsum(np.fromiter(map(len, parts), np.int64, n), out=indptr[1:])
            words = list(chain.from_iterable(parts))
        cache = self._memo()
        rows, missing = cache.lookup(words)
        return _Prepared(batch, None, exact, words, indptr, rows, missing, cache)

    def _pool_batch(
        self,
        prep: _Prepared,
        table: np.ndarray,
        normalize: bool,
        dest: np.ndarray | None = None,
    ) -> np.ndarray:
        """Second stage of a batch: tokenize its unknown words into the memo, then pool.
        Mostly the tokenizer, numpy and scipy, which release the GIL, so it can run in a
        thread beside the next batch's first stage (one such thread: batches add their
        words in order, and the first stage only reads the memo). ``dest``: the rows to
        write the vectors into (returned), else a new array."""
        if prep.ids is not None:
            vectors = self._pool(prep.ids, table, normalize)
            if dest is None:
                return vectors
            dest[...] = vectors
            return dest
        batch, exact, words, idx, cache = prep.batch, prep.exact, prep.words, prep.rows, prep.cache
        missing = prep.missing
        current = self._cache
        if current is not None and cache is not current:
            # A batch pooled meanwhile (the previous one, in the pooling thread) replaced a
            # full memo: use its fresh one rather than filling the old one and replacing
            # it again (each new memo re-seeds the word table).
            cache = current
            idx, missing = cache.lookup(words)
        if missing:
            if len(cache) + len(missing) > _wordcache.CAPACITY:
                cache = self._cache = self._new_cache()
                idx, missing = cache.lookup(words)  # rows of the fresh memo
            cache.add_words(missing, self._tokenize_words)
            self._flag_literals(cache, missing)
        cache.fill(idx, words)  # the missing words, and the table's seen the first time
        # A snapshot of the memo: rows published so far never change; words added later
        # (by the next batch, or another thread) do not touch these.
        matrix, n_tokens, denominator = cache.matrix, cache.n_tokens, cache.denominator
        literal_rows = cache.literal_rows
        uniq, inv = _wordcache.unique_rows(idx, matrix.shape[0])
        texts_words = sp.csr_matrix(
            (np.ones(len(idx), np.float32), inv, prep.indptr), shape=(len(batch), len(uniq))
        )
        out = np.asarray(texts_words @ (matrix[uniq] @ table), dtype=np.float32)
        exact |= texts_words @ n_tokens[uniq].astype(np.float32) > self.config.max_tokens
        if literal_rows:
            flagged = np.isin(uniq, np.fromiter(literal_rows, np.int64))
            exact |= texts_words @ flagged.astype(np.float32) > 0
        if self._split_mode == "space" and uniq.size and uniq[0] == 0:
            exact |= texts_words[:, 0].toarray().ravel() > 0  # runs of spaces
        if normalize:
            norms = np.sqrt(np.einsum("ij,ij->i", out, out))
        else:
            norms = texts_words @ denominator[uniq]
        norms[norms <= 0] = 1.0
        out = np.divide(out, norms[:, None].astype(np.float32), out=out if dest is None else dest)
        if exact.any():
            rows = np.flatnonzero(exact)
            out[rows] = self._pool(self._token_ids([batch[i] for i in rows]), table, normalize)
        out[np.fromiter(map(str.isspace, batch), bool, len(batch))] = 0.0  # e.g. "\x85"
        return out

    def _memo(self) -> _wordcache.WordCache:
        """The word memo, made on first use (then reading the shipped word table)."""
        cache = self._cache
        if cache is None:
            with self._lock:
                if self._cache is None:
                    self._cache = self._new_cache()
                cache = self._cache
        return cache

    def _new_cache(self) -> _wordcache.WordCache:
        """An empty word memo, or one holding the shipped word table's words."""
        cache = _wordcache.WordCache(
            self._table.shape[0], self._token_weight, self._denominator, self._row_of
        )
        if self._word_table is not None:
            table = self._word_table.load(ModelFormatError)
            cache.seed(table)
            self._flag_literals(cache, table.words)
        return cache

    def _flag_literals(self, cache: _wordcache.WordCache, words: Iterable[str]) -> None:
        """Record the memo rows of ``words`` (just added) that hold an added token's literal."""
        literal = self._word_literal
        if literal is None:
            return
        hits = _wordcache.matching(list(words), literal)
        if hits:
            with cache.lock:
                cache.literal_rows = cache.literal_rows | {cache.row(w) for w in hits}

    def _pool(self, ids: list[Any], table: np.ndarray, normalize: bool) -> np.ndarray:
        n = len(ids)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, ids), dtype=np.int64, count=n), out=indptr[1:])
        nnz = int(indptr[-1])
        if ids and isinstance(ids[0], np.ndarray):
            flat = np.concatenate(ids).astype(np.int32) if nnz else np.zeros(0, np.int32)
        else:
            flat = np.fromiter(chain.from_iterable(ids), dtype=np.int32, count=nnz)
        cols = flat if self._row_of is None else self._row_of[flat]
        matrix = sp.csr_matrix(
            (self._token_weight[flat], cols, indptr), shape=(n, table.shape[0]), copy=False
        )
        out = np.asarray(matrix @ table, dtype=np.float32)
        if normalize:
            norms = np.sqrt(np.einsum("ij,ij->i", out, out))
        else:
            cum = np.zeros(nnz + 1, dtype=np.float64)
            np.cumsum(self._denominator[flat], out=cum[1:])
            norms = cum[indptr[1:]] - cum[indptr[:-1]]
        norms[norms <= 0] = 1.0
        out /= norms[:, None].astype(np.float32)
        return out


def _splittable(texts: Any) -> bool:
    """True for inputs that may be read twice (a list, tuple, numpy array, or a pandas,
    polars or pyarrow column or frame): only those are shared out over processes. A
    sized iterator (``tqdm(generator, total=n)``) is read once, in this process."""
    if isinstance(texts, (list, tuple)) or hasattr(texts, "tolist"):
        return True
    return is_frame(texts) or hasattr(texts, "to_pylist")


def _processes_allowed(total: int, asked: int | None) -> int:
    """The most processes a call of ``total`` texts may use here: 1 inside
    :func:`single_threaded` or where forking is not possible now
    (:func:`sememe._fork.can_fork`: threads, not Linux, a child, a daemonic process); else
    ``asked`` (:data:`WORKERS_ENV`, at most one per :data:`FORK_MIN_TEXTS` texts) if set,
    else, outside ``multiprocessing`` children, the usable cores (at most :data:`FORK_MAX`)."""
    from . import _fork

    if _THREADS_OFF.get() or total < 2 or asked == 1 or not _fork.can_fork():
        return 1
    if asked is not None:
        return asked if total >= asked * FORK_MIN_TEXTS else max(1, total // FORK_MIN_TEXTS)
    if _fork.in_worker_process():
        return 1
    return max(1, min(_fork.usable_cores(), FORK_MAX))


def _holds_chars(texts: list[str], chars: int) -> bool:
    """True when ``texts`` hold at least ``chars`` characters (stops counting there)."""
    seen = 0
    for t in texts:
        seen += len(t)
        if seen >= chars:
            return True
    return False


def _worth_a_thread(batches: Iterator[list[str]]) -> tuple[Iterator[list[str]], bool]:
    """``batches`` (of an input of unknown length) unchanged, and whether they hold more
    than :data:`THREAD_MIN_TEXTS` texts: reads batches until they do, or to the end, so a
    small generator stays in the caller's thread like a small list."""
    head: list[list[str]] = []
    seen = 0
    for batch in batches:
        head.append(batch)
        seen += len(batch)
        if seen > THREAD_MIN_TEXTS:
            return chain(head, batches), True
    return iter(head), False


def _use_threads() -> bool:
    """Whether :meth:`Encoder.encode` may pool in a second thread: more than one core is
    available to this process, the call is not inside :func:`single_threaded` and
    :data:`THREADS_ENV` opts in."""
    if _THREADS_OFF.get():
        return False
    if os.environ.get(THREADS_ENV, "").strip().lower() not in ("1", "true", "yes", "on"):
        return False  # opt-in: on a quiet 2-core machine the thread lost (see THREAD_MIN_TEXTS)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores > 1


def _has_space(text: str) -> bool:
    return any(c.isspace() for c in text)


def _literal_pattern(literals: list[str]) -> re.Pattern[str] | None:
    """A case-insensitive pattern matching any of ``literals`` (longest first), or None."""
    if not literals:
        return None
    return re.compile("|".join(map(re.escape, literals)), re.IGNORECASE)


def pack_bits(vectors: np.ndarray) -> np.ndarray:
    """Pack the signs of float vectors (> 0 is 1) into uint8 codes, LSB first (FAISS layout)."""
    vectors = np.atleast_2d(vectors)
    if vectors.ndim != 2:
        raise InvalidArgumentError(f"vectors must be 1-D or 2-D, got shape {vectors.shape}")
    if vectors.shape[1] % 8:
        raise InvalidArgumentError(
            f"binary codes need a dimension that is a multiple of 8, got {vectors.shape[1]}"
        )
    return np.packbits(vectors > 0, axis=1, bitorder="little")


def _check_arrays(
    embeddings: np.ndarray,
    weights: np.ndarray | None,
    mapping: np.ndarray | None,
    config: ModelConfig,
    vocab_size: int,
    source: str,
) -> None:
    """Raise ModelFormatError when tables, tokenizer and config disagree."""
    if embeddings.ndim != 2:
        raise ModelFormatError(
            f"{source}: embedding table must be 2-D, got shape {embeddings.shape}"
        )
    if embeddings.dtype not in (np.float16, np.float32, np.float64):
        raise ModelFormatError(
            f"{source}: embedding table has dtype {embeddings.dtype}; expected float"
        )
    rows, cols = embeddings.shape
    if cols != config.dim:
        raise ModelFormatError(
            f"{source}: embedding table has {cols} columns but config says dim={config.dim}"
        )
    if config.vocab_size != vocab_size:
        raise ModelFormatError(
            f"{source}: tokenizer has {vocab_size} tokens but config says vocab_size={config.vocab_size}"
        )
    if mapping is None:
        if rows != vocab_size:
            raise ModelFormatError(
                f"{source}: embedding table has {rows} rows but the tokenizer has {vocab_size} tokens"
            )
    else:
        if mapping.shape != (vocab_size,) or not np.issubdtype(mapping.dtype, np.integer):
            raise ModelFormatError(
                f"{source}: token mapping must be {vocab_size} integers, got {mapping.dtype} {mapping.shape}"
            )
        if mapping.size and (mapping.min() < 0 or mapping.max() >= rows):
            raise ModelFormatError(
                f"{source}: token mapping points outside the table's {rows} rows"
            )
    if weights is not None:
        if weights.shape != (vocab_size,):
            raise ModelFormatError(
                f"{source}: token weights have shape {weights.shape}; expected ({vocab_size},)"
            )
        if not np.all(np.isfinite(weights)):
            raise ModelFormatError(f"{source}: token weights contain NaN or infinity")
    if not np.all(np.isfinite(embeddings)):
        raise ModelFormatError(f"{source}: embedding table contains NaN or infinity")
    bad = [i for i in config.ignore_token_ids if not 0 <= i < vocab_size]
    if bad:
        raise ModelFormatError(f"{source}: ignore_token_ids {bad} are outside the vocabulary")
