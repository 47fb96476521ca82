"""What every chunker shares: arguments, the public calls, overlap, exact size checks,
splitting at token boundaries.

A chunker subclasses :class:`ChunkerBase` and implements ``_chunk_text(text) ->
list[Chunk]`` (chunks of a str, without overlap, each within ``max_tokens``). The base
class gives every chunker the same public surface, as Chonkie users expect it:

* ``chunker.chunk(text)`` and ``chunker(text)`` (the same call); a list of texts to
  ``chunker(texts)`` or :meth:`ChunkerBase.chunk_batch`;
* documents: any object with a ``page_content`` str (a LangChain ``Document``) is
  chunked by its text, and its ``metadata`` is copied onto each chunk
  (:class:`~sememe.chunking.DocumentChunk`);
* ``overlap=``: each chunk after the first also takes up to that many tokens of the
  text before it, with exact offsets and the hard cap ``max_tokens`` still holding.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from .. import _text, _validate
from .._inputs import columnar
from .._resolve import resolve_encoder
from .._validate import MAX_COUNT
from ..errors import InvalidArgumentError, InvalidTypeError
from ._counting import TokenCounter, make_counter
from ._documents import is_document, split_document, with_metadata
from .sentences import TextInfo, space_mask
from .types import Chunk

Span = tuple[int, int]

#: Documents per batch when :meth:`ChunkerBase.chunk_batch` hands a large input to
#: worker processes (the default ``batch_size`` of :meth:`ChunkerBase.chunk_stream`).
BATCH_SIZE = 64


def check_int(name: str, value: Any, low: int) -> int:
    """A chunker's count argument: an int in ``[low, MAX_COUNT]`` (floats, NaN, bools
    refused). The check is :func:`sememe._validate.check_int`'s; only the argument order
    (``semantic.py`` calls it as ``check_int(name, value, low)``) and the chunkers'
    wording (``max_tokens must be an int, got nan``) are kept here."""
    return int(_validate.check_int(value, name, minimum=low, maximum=MAX_COUNT, expected="an int"))


def check_text(text: Any, name: str = "text") -> str:
    if not isinstance(text, str):
        what = "None" if text is None else f"of type {type(text).__name__}"
        hint = " (decode bytes to str first)" if isinstance(text, (bytes, bytearray)) else ""
        raise InvalidTypeError(f"{name} is {what}; expected str{hint}")
    return text


def check_overlap(overlap: Any, max_tokens: int) -> int | float:
    """``overlap`` as Chonkie's ``chunk_overlap`` takes it: an int number of tokens in
    ``[0, max_tokens)``, or a float fraction of ``max_tokens`` in ``[0, 1)``."""
    if isinstance(overlap, (float, np.floating)):
        return float(_validate.check_float(overlap, "overlap", low=0.0, high=1.0, high_open=True))
    value = check_int("overlap", overlap, 0)
    if value >= max_tokens:
        raise InvalidArgumentError(
            f"overlap ({value}) must be less than max_tokens ({max_tokens}): the overlap is "
            "part of each chunk's token budget"
        )
    return value


#: Most characters of one batch of :meth:`ChunkerBase.chunk_stream`, and of one call of
#: the semantic chunker's batched path: the batched path holds a few arrays of one entry
#: per character of its joined texts, so a cap keeps its memory near the per-document
#: path's (16 articles of 292 kB in one batch took +267 MB, against +29 MB one by one).
BATCH_CHARS = 1_000_000
#: Documents at least this long are chunked alone (:meth:`ChunkerBase.chunk`): batching
#: saves per-document set-up, which is nothing beside such a document's own work.
ALONE_CHARS = 256_000
#: The environment variable that sets the processes of :meth:`ChunkerBase.chunk_stream`
#: (and ``chunk_batch``, ``sememe chunk``, ``Index.add_documents``): ``1`` never starts a
#: helper, ``N`` uses ``N`` processes from the first batch; unset: :data:`AUTO`.
WORKERS_ENV = "SEMEME_CHUNK_WORKERS"
#: ``stream_workers`` value for "decide from the input" (the default): one helper
#: process per further usable core (at most :data:`AUTO_MAX` processes in all) for a
#: list of at least :data:`AUTO_LIST_CHARS` characters, or once a generator has given
#: :data:`AUTO_CHARS`, on Linux only; everything in this process otherwise.
AUTO = 0
#: Characters a generator (or other unsized stream) must have given, chunked here,
#: before the default starts helpers (:mod:`sememe.chunking._pool`, which sends batches
#: as they are read). Starting them costs about 0.05-0.1 s of CPU; one process chunks
#: never-seen articles at about 4 MB/s and two at about 6 (``benchmarks/chunk.py``), so
#: from about 0.8 MB on they pay for themselves.
AUTO_CHARS = 1_000_000
#: Characters a list (or other sized input) must hold in all before the default shares
#: it out over processes (:mod:`sememe.chunking._split`: forked per round, the batches
#: claimed by whichever process is free). On never-seen articles two processes took
#: 0.185 s against 0.219 for 698,000 characters, 0.136 against 0.195 for 555,000, and
#: 0.135 against 0.126 for 402,000 (too few batches to share the fixed costs of a child;
#: ``benchmarks/results/chunk.md``).
AUTO_LIST_CHARS = 500_000
#: Most processes (this one included) the default uses.
AUTO_MAX = 4


def stream_workers(workers: int | None) -> int:
    """The processes a stream uses: ``workers`` checked, or :data:`WORKERS_ENV`, or
    :data:`AUTO` (decided from the input and the machine, see :func:`auto_workers`)."""
    if workers is not None:
        return check_int("workers", workers, 1)
    from .. import _fork

    n = _fork.env_processes(WORKERS_ENV)
    return AUTO if n is None else n


def auto_workers() -> int:
    """Processes the default may use here: the usable cores (CPU affinity and cgroup
    quota, at most :data:`AUTO_MAX`), on Linux only (elsewhere ``fork`` is unsafe or
    missing); 1 inside :func:`sememe.encoder.single_threaded` and in a
    ``multiprocessing`` child (every core likely runs such a worker already)."""
    import sys

    from .. import _fork
    from ..encoder import runs_single

    if not sys.platform.startswith("linux") or runs_single() or _fork.in_worker_process():
        return 1
    return max(1, min(_fork.usable_cores(), AUTO_MAX))


def item_chars(item: Any) -> int:
    """The characters of an item's text, unchecked (0 for what is not text)."""
    content = getattr(item, "page_content", item)
    return len(content) if isinstance(content, str) else 0


def _known_chars(texts: Any) -> int | None:
    """Characters of a sized input (a list, tuple or checked column), None for an
    iterator or generator (reading it to count would consume it)."""
    if isinstance(texts, (list, tuple)):
        return sum(map(item_chars, texts))
    return None


def stream_batches(
    items: Iterator[Any], size: int, max_chars: int = BATCH_CHARS
) -> Iterator[list[Any]]:
    """``items`` in lists of at most ``size`` items and ``max_chars`` characters (an item
    longer than ``max_chars`` comes alone)."""
    batch: list[Any] = []
    chars = 0
    for item in items:
        n = item_chars(item)
        if batch and (len(batch) >= size or chars + n > max_chars):
            yield batch
            batch = []
            chars = 0
        batch.append(item)
        chars += n
    if batch:
        yield batch


class ChunkerBase:
    """Common machinery; subclasses implement ``_chunk_text(text) -> list[Chunk]``.

    Arguments are checked and stored as given; the encoder (loaded on first use when
    None) and the token counter are created lazily and kept (the counter of an
    encoder's own tokenizer is shared by all chunkers of that encoder), so a chunker
    is cheap to build and gets faster as the word memo warms up. Instances are safe
    to share between threads.

    ``overlap`` (tokens, or a fraction of ``max_tokens``; default 0) makes each chunk
    after the first start earlier, at a word start inside the previous chunk, taking
    at most ``overlap`` tokens of it (all of it when it is that short, as in Chonkie). The overlap is part of the budget: the chunker
    cuts the text into pieces of at most ``max_tokens - overlap`` tokens and then
    extends each piece backwards, so every chunk, overlap included, still has at most
    ``max_tokens`` tokens (counted exactly; an extension that would break the cap is
    shortened, down to none). Offsets stay exact: ``text[start:end] == chunk.text``.
    """

    encoder: Any
    max_tokens: int
    tokenizer: Any
    overlap: int | float

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass that defines ``chunk`` itself (the older protocol) has it adopted
        as its ``_chunk_text``, so documents, ``overlap`` and calling apply to it too."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("chunk")
        if own is not None and "_chunk_text" not in cls.__dict__:
            cls._chunk_text = own  # type: ignore[method-assign]
            cls.chunk = ChunkerBase.chunk  # type: ignore[method-assign]

    def __init__(
        self,
        encoder: Any = None,
        *,
        max_tokens: int = 512,
        tokenizer: Any = None,
        overlap: int | float = 0,
    ):
        self.encoder = encoder
        self.max_tokens = check_int("max_tokens", max_tokens, 1)
        self.overlap = check_overlap(overlap, self.max_tokens)
        if tokenizer is not None and not callable(tokenizer):
            from tokenizers import Tokenizer

            if not isinstance(tokenizer, Tokenizer):
                raise InvalidTypeError(
                    "tokenizer must be None (the encoder's), a tokenizers.Tokenizer or a "
                    f"callable str -> int, got {type(tokenizer).__name__}"
                )
        self.tokenizer = tokenizer
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {}

    # ------------------------------------------------------------------ public API
    def chunk(self, text: Any) -> list[Chunk]:
        """Cut ``text`` into chunks; see the class docstring.

        ``text`` is a str, or a document (any object with a ``page_content`` str, such
        as a LangChain ``Document``): its text is chunked and each chunk is a
        :class:`~sememe.chunking.DocumentChunk` carrying a copy of its ``metadata``.
        Empty or blank text gives ``[]``.
        """
        if is_document(text):
            content, metadata = split_document(text)
            return with_metadata(self.chunk(content), metadata)
        text = check_text(text)
        if not text or text.isspace():
            return []
        if not self.overlap_tokens:
            return self._chunk_text(text)
        counter = self._counter()
        room = self.max_tokens - self.overlap_tokens
        if room <= counter.n_special:
            raise InvalidArgumentError(
                f"overlap={self.overlap!r} leaves no room: max_tokens={self.max_tokens} minus "
                f"the overlap is {room} tokens, and the tokenizer adds {counter.n_special} "
                "special tokens to every text"
            )
        try:
            chunks = self._content_chunker()._chunk_text(text)
        except _TooSmall as exc:
            raise exc.with_overlap(self.max_tokens, self.overlap_tokens) from None
        return self._overlap(text, chunks)

    def chunk_batch(self, texts: Iterable[Any]) -> list[list[Chunk]]:
        """:meth:`chunk` for each item of ``texts`` (a list or any iterable of str or
        documents; a single str or document counts as one).

        The result equals ``[chunker.chunk(t) for t in texts]``; chunkers with a batched
        path (:class:`~sememe.chunking.SemanticChunker`) process the items together,
        which is several times faster on many small documents (in groups of at most
        :data:`BATCH_CHARS` characters, so memory stays bounded). Helper processes as for
        :meth:`chunk_stream`'s default: for an input of :data:`AUTO_LIST_CHARS`
        characters or more, or as ``SEMEME_CHUNK_WORKERS`` sets.
        """
        items = self._batch_items(texts)
        workers = stream_workers(None)
        if workers == AUTO:
            big = sum(map(item_chars, items)) >= AUTO_LIST_CHARS
            workers = self._auto_workers() if big else 1
        if workers > 1 and len(items) > BATCH_SIZE:
            return list(self.chunk_stream(items, workers=workers))
        return self._chunk_items(items)

    def chunk_stream(
        self, texts: Iterable[Any], *, batch_size: int = BATCH_SIZE, workers: int | None = None
    ) -> Iterator[list[Chunk]]:
        """Chunks of each item of ``texts``, yielded one list per item, in input order.

        ``texts`` may be any iterable (a generator over a file, say) or a pandas, polars
        or pyarrow column or one-column frame, as for :meth:`chunk_batch`. It is read in
        batches of at most ``batch_size`` items and :data:`BATCH_CHARS` characters, each
        chunked as :meth:`chunk_batch` chunks a list (the same batched path), so memory
        stays bounded by a few batches and the first results come after the first batch
        (with several processes on a list: after the first round of
        :data:`sememe.chunking._split.ROUND_CHARS` characters).

        ``workers``: processes that chunk. ``1``: this process only. ``N > 1``: ``N - 1``
        helper processes are forked from the first batch. None (the default): the
        ``SEMEME_CHUNK_WORKERS`` environment variable if set, else decided from the
        input, on a Linux machine with several usable cores: a list (or other sized
        input) holding at least :data:`AUTO_LIST_CHARS` characters, or a generator once
        :data:`AUTO_CHARS` have been read and chunked here, gets one helper per further
        core (at most :data:`AUTO_MAX` processes); smaller inputs never start one. A
        list's batches are shared out round by round (:mod:`sememe.chunking._split`:
        whichever process is free takes the next batch); a generator's are sent to
        helpers as they are read (:mod:`sememe.chunking._pool`). On never-seen
        Wikipedia articles two processes take a 6 MB list from about 2.7-3.0 to about
        4.9-5.4 MB/s on two cores (``benchmarks/results/chunk.md``). Processes are forked only
        where ``fork`` exists and this process runs a single thread (a threaded host,
        such as a notebook kernel or a web server, chunks everything here); a helper
        that dies or stalls is replaced by this process. The results, and any
        exception, equal :meth:`chunk` of each item's either way.
        """
        size = check_int("batch_size", batch_size, 1)
        n_workers = stream_workers(workers)
        if isinstance(texts, str) or is_document(texts):
            texts = [texts]
        elif texts is None or isinstance(texts, (bytes, bytearray, Mapping)):
            raise InvalidTypeError(
                f"texts is of type {type(texts).__name__}; expected an iterable of str or documents"
            )
        elif hasattr(texts, "columns") or hasattr(texts, "tolist"):
            # A frame or column: chunk_batch's handling (iterating a frame gives its
            # column names, never its texts).
            texts = self._batch_items(texts)
        try:
            iterator = iter(texts)
        except TypeError:
            raise InvalidTypeError(
                f"texts is of type {type(texts).__name__}; expected an iterable of str or documents"
            ) from None
        if n_workers == AUTO:
            n_workers = self._auto_workers()
            if n_workers > 1:
                known = _known_chars(texts)
                if known is not None and known < AUTO_LIST_CHARS:
                    n_workers = 1  # too small to pay for a helper
                elif known is None:  # a generator: helpers once AUTO_CHARS are read
                    return self._stream_then_pool(stream_batches(iterator, size), n_workers)
        batches = stream_batches(iterator, size)
        if n_workers > 1:
            if isinstance(texts, (list, tuple)):  # sized: batches shared out round by round
                from ._split import split_stream  # only imported when asked for

                return split_stream(self, batches, n_workers)
            from ._pool import pooled_stream  # a generator: batches sent as they are read

            return pooled_stream(self, batches, n_workers)
        return self._stream_here(batches)

    def _auto_workers(self) -> int:
        """Processes the default may use for this chunker: :func:`auto_workers` where
        helpers pay (:meth:`_helpers_pay`, asked only then: it may load the encoder)."""
        n = auto_workers()
        return n if n > 1 and self._helpers_pay() else 1

    def _helpers_pay(self) -> bool:
        """True when this chunker chunks a batch faster than one text at a time (then
        helpers pay on a large input); subclasses with a batched path say so."""
        return False

    def _stream_then_pool(
        self, batches: Iterator[list[Any]], n_workers: int
    ) -> Iterator[list[Chunk]]:
        """The default for an input of unknown size: batches chunked here until
        :data:`AUTO_CHARS` characters are done, the rest (if any) with helpers."""
        done = 0
        for batch in batches:
            yield from self._chunk_items(self._batch_items(batch))
            done += sum(map(item_chars, batch))
            if done >= AUTO_CHARS:
                break
        else:
            return
        from ._pool import pooled_stream

        yield from pooled_stream(self, batches, n_workers)

    def _stream_here(self, batches: Iterator[list[Any]]) -> Iterator[list[Chunk]]:
        """:meth:`chunk_stream`'s generator in this process (arguments already checked)."""
        for batch in batches:
            yield from self._chunk_items(self._batch_items(batch))

    def _batch_items(self, texts: Iterable[Any]) -> list[Any]:
        """The items of a :meth:`chunk_batch` argument, each a str or a document (checked)."""
        if isinstance(texts, str) or is_document(texts):
            return [texts]
        items = columnar(texts)  # a pandas/polars/pyarrow column or one-column frame
        if items is not None:
            return list(_text.check_texts(items))
        if (
            texts is None
            or isinstance(texts, (bytes, bytearray, Mapping, set, frozenset))
            or hasattr(texts, "columns")  # another frame: iterating gives its column names
            or hasattr(texts, "tolist")  # numpy, pandas Series: 1-D only
        ):
            return list(_text.as_list(texts))  # as the encoder takes them
        try:
            items = list(texts)
        except TypeError:
            raise InvalidTypeError(
                f"texts is of type {type(texts).__name__}; expected a str, a document or an "
                "iterable of them"
            ) from None
        for i, item in enumerate(items):
            if not isinstance(item, str) and not is_document(item):
                check_text(item, f"texts[{i}]")
        return items

    def _chunk_items(self, items: list[Any]) -> list[list[Chunk]]:
        """:meth:`chunk` of each checked item (str or document); subclasses batch it."""
        return [self.chunk(item) for item in items]

    def __call__(self, text: Any) -> Any:
        """``chunker(text)`` is ``chunker.chunk(text)``; ``chunker(texts)`` (a list or
        other iterable) is ``chunker.chunk_batch(texts)``, as with Chonkie's chunkers."""
        if isinstance(text, str) or is_document(text):
            return self.chunk(text)
        return self.chunk_batch(text)

    @property
    def overlap_tokens(self) -> int:
        """The overlap in tokens (a fractional ``overlap`` times ``max_tokens``, rounded down)."""
        if isinstance(self.overlap, float):
            return int(self.overlap * self.max_tokens)
        return self.overlap

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def _params(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens}

    def _chunk_text(self, text: str) -> list[Chunk]:
        """The chunks of a non-blank str, without overlap (the subclass's algorithm)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ overlap
    def _content_chunker(self) -> ChunkerBase:
        """This chunker with ``max_tokens`` lowered by the overlap and no overlap.

        A shallow copy: it shares the encoder, the token counter and its word memo
        (``_state``), so it costs nothing to keep; made once, on first use.
        """
        inner = self._state.get("content")
        if inner is None:
            inner = copy.copy(self)
            inner.max_tokens = self.max_tokens - self.overlap_tokens
            inner.overlap = 0
            self._state["content"] = inner
        return inner

    def _overlap(self, text: str, chunks: list[Chunk]) -> list[Chunk]:
        """Extend each chunk after the first backwards by up to ``overlap_tokens`` tokens.

        The new start is the earliest word start from the previous chunk's start on whose
        extension ``text[new:start]`` has at most ``overlap_tokens`` tokens (beyond the
        special ones) and whose whole chunk ``text[new:end]`` has at most ``max_tokens``
        tokens, both counted exactly. Text without whitespace before the chunk is entered
        at token boundaries instead; where nothing fits the chunk keeps its start.

        Every word (and token) start begins at least one token, so only the last
        ``overlap_tokens + 1`` starts before a chunk can begin an extension that fits;
        their extensions are counted in one vectorised call per chunk.
        """
        if len(chunks) < 2:
            return chunks
        counter = self._counter()
        budget = self.overlap_tokens + counter.n_special
        reach = self.overlap_tokens + 1
        info = TextInfo(text)
        words = counter.doc_words(info)
        space = info.space
        word_start = ~space
        word_start[1:] &= space[:-1]
        word_starts = np.flatnonzero(word_start)

        def counts(starts: np.ndarray, end: int) -> np.ndarray:
            ends = np.full(len(starts), end, np.int64)
            if words is not None:
                return np.asarray(counter.span_counts(info, words, starts, ends))
            return counter.count([text[int(x) : end] for x in starts])

        out = [chunks[0]]
        for prev, cur in itertools.pairwise(chunks):
            lo, s, e = prev.start, cur.start, cur.end
            i, j = np.searchsorted(word_starts, [lo, s])
            cands = word_starts[max(i, j - reach) : j]
            if len(cands) == 0:
                cuts = counter.token_starts(text[lo:s])
                if cuts is not None:
                    cands = (cuts[0] + lo)[~space[cuts[0] + lo]][-reach:]
            if len(cands) == 0:
                out.append(cur)
                continue
            tail = strip_span(text, lo, s)[1]  # the extension ends at the last solid char
            best = cur
            # Extensions are short: count them all at once; whole chunks one at a time,
            # from the longest fitting extension on (the first almost always fits).
            for c in cands[counts(cands, tail) <= budget].tolist():
                total = int(counts(np.array([c], np.int64), e)[0])
                if total <= self.max_tokens:
                    best = Chunk(text[c:e], c, e, total, cur.index)
                    break
            out.append(best)
        return out

    # ------------------------------------------------------------------ lazily built state
    def _get_encoder(self) -> Any:
        enc = self._state.get("encoder")
        if enc is None:
            enc = resolve_encoder(self.encoder)  # an Encoder, a model name or path, or None
            self._state["encoder"] = enc
        return enc

    def _counter(self) -> TokenCounter:
        counter = self._state.get("counter")
        if counter is None:
            with self._lock:
                counter = self._state.get("counter")
                if counter is None:
                    enc = self._get_encoder() if self.tokenizer is None else None
                    counter = make_counter(self.tokenizer, enc)
                    if counter.n_special >= self.max_tokens:
                        raise InvalidArgumentError(
                            f"max_tokens={self.max_tokens} leaves no room: the tokenizer adds "
                            f"{counter.n_special} special tokens to every text"
                        )
                    self._state["counter"] = counter
        return counter

    # ------------------------------------------------------------------ exact sizes
    def _finish(
        self,
        text: str,
        spans: list[Span],
        repair: Any = None,
        info: TextInfo | None = None,
        words: Any = None,
        counts: list[int] | None = None,
    ) -> list[Chunk]:
        """Count every span exactly, re-cut the ones over the limit, build the chunks.

        ``repair(span) -> list[Span]`` re-cuts a span found over the limit (default:
        at token boundaries); pieces still over the limit are cut at token boundaries.
        ``words`` (the counter's :meth:`doc_words` of the text) makes counting fast;
        ``counts``, the exact counts of the non-empty ``spans`` (the batched path counts
        many texts' spans at once), skips counting.
        """
        repair = repair or (lambda span: self._split_long(text, *span))
        counter = self._counter()
        limit = self.max_tokens
        spans = [s for s in spans if s[1] > s[0]]
        if counts is not None:
            if len(counts) != len(spans):  # pragma: no cover - a caller's bug
                raise RuntimeError("counts must match the non-empty spans")
        elif words is not None and spans:
            arr = np.asarray(spans, np.int64)
            counts = counter.span_counts(info, words, arr[:, 0], arr[:, 1]).tolist()
        else:
            counts = counter.count([text[s:e] for s, e in spans]).tolist()
        out: list[tuple[int, int, int]] = []
        for (s, e), n in zip(spans, counts, strict=True):
            if n <= limit:
                out.append((s, e, n))
                continue
            parts = repair((s, e))
            sub = counter.count([text[a:b] for a, b in parts]).tolist()
            for (a, b), m in zip(parts, sub, strict=True):
                if m <= limit:
                    out.append((a, b, m))
                else:  # the repair's own split was too coarse: go to token boundaries
                    pieces = self._split_long(text, a, b)
                    sizes = counter.count([text[x:y] for x, y in pieces]).tolist()
                    out.extend((x, y, k) for (x, y), k in zip(pieces, sizes, strict=True))
        return [Chunk(text[s:e], s, e, n, i) for i, (s, e, n) in enumerate(out)]

    def _split_long(self, text: str, start: int, end: int) -> list[Span]:
        """Cut ``text[start:end]`` into pieces of at most ``max_tokens`` tokens each.

        Cuts fall on token boundaries that are also character boundaries, preferring a
        whitespace in the last half of each piece; every piece is counted exactly.
        With a plain callable as tokenizer the cut points are found by bisection over
        word starts (or characters, inside one long word).
        """
        counter = self._counter()
        piece = text[start:end]
        try:
            cuts = counter.token_starts(piece)
            if cuts is None:
                spans = _bisect_pieces(piece, counter, self.max_tokens)
            else:
                spans = _token_pieces(piece, cuts, counter, self.max_tokens)
        except _TooSmall as exc:
            raise exc.shifted(start) from None
        return [(start + a, start + b) for a, b in spans]


def strip_span(text: str, a: int, b: int) -> Span:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


class _TooSmall(InvalidArgumentError):
    """``max_tokens`` below the tokens of one indivisible piece of text."""

    def __init__(self, piece: str, at: int, n: int, limit: int) -> None:
        self.piece, self.at, self.n, self.limit = piece, at, n, limit
        super().__init__(self._message())

    def _message(self) -> str:
        shown = self.piece if len(self.piece) <= 20 else self.piece[:20] + "..."
        return (
            f"max_tokens={self.limit} is too small for this text: {shown!r} at offset "
            f"{self.at} is {self.n} tokens and cannot be cut further (chunks never split "
            "a character); use a larger max_tokens"
        )

    def shifted(self, base: int) -> _TooSmall:
        return _TooSmall(self.piece, self.at + base, self.n, self.limit)

    def with_overlap(self, max_tokens: int, overlap: int) -> InvalidArgumentError:
        """The error as the caller of a chunker with ``overlap`` should read it."""
        shown = self.piece if len(self.piece) <= 20 else self.piece[:20] + "..."
        return InvalidArgumentError(
            f"max_tokens={max_tokens} with overlap={overlap} leaves {self.limit} tokens for "
            f"each chunk's own text, too few for this text: {shown!r} at offset {self.at} is "
            f"{self.n} tokens and cannot be cut further (chunks never split a character); use "
            "a larger max_tokens or a smaller overlap"
        )


def _too_small(text: str, at: int, counter: TokenCounter, limit: int, stop: int) -> _TooSmall:
    piece = text[at : max(stop, at + 1)]
    return _TooSmall(piece, at, int(counter.count([piece])[0]), limit)


def _token_pieces(
    text: str, cuts: tuple[np.ndarray, np.ndarray, int], counter: TokenCounter, limit: int
) -> list[Span]:
    """Greedy pieces of ``text`` cut between tokens, each counted exactly to fit ``limit``.

    ``cuts`` is :meth:`TokenCounter.token_starts` of ``text``. Each piece takes the
    tokens that fit the budget, ending at whitespace when there is some in the last
    half; if the exact count of the piece (tokenized alone) is over, it is shortened in
    proportion and counted again.
    """
    offsets, index, n_tokens = cuts
    budget = max(1, limit - getattr(counter, "n_special", 0))
    spaces = space_mask(text)
    out: list[Span] = []
    a, end = strip_span(text, 0, len(text))
    t_a = 0  # index of the token at a
    while a < end:
        pos = int(np.searchsorted(offsets, a, side="right"))  # first cut after a
        if n_tokens - t_a <= budget:
            s, e = strip_span(text, a, end)
            if int(counter.count([text[s:e]])[0]) <= limit:
                out.append((s, e))
                break
        hi = int(np.searchsorted(index, t_a + budget, side="right")) - 1
        hi = min(hi, len(offsets) - 1)
        if hi < pos:  # the next token group alone is over the limit
            nxt = int(offsets[pos]) if pos < len(offsets) else end
            raise _too_small(text, a, counter, limit, nxt)
        pick = hi
        for j in range(hi, pos + (hi - pos) // 2 - 1, -1):  # prefer ending at whitespace
            c = int(offsets[j])
            if spaces[c - 1] or spaces[c]:
                pick = j
                break
        while True:
            s, e = strip_span(text, a, int(offsets[pick]))
            n = int(counter.count([text[s:e]])[0]) if e > s else 0
            if n <= limit:
                break
            pick = min(pick - 1, pos + (pick - pos) * limit // n)
            if pick < pos:
                raise _too_small(text, a, counter, limit, int(offsets[pos]))
        if e > s:
            out.append((s, e))
        a, t_a = int(offsets[pick]), int(index[pick])
    return out


def _bisect_pieces(text: str, counter: TokenCounter, limit: int) -> list[Span]:
    """Pieces for counters without token offsets: the longest prefix that fits, by bisection.

    Candidate ends are word starts (every character inside one long word). The search
    looks at a window a few times the previous piece's length, widening it while the
    whole window fits, so long texts cost about ``log`` calls per piece.
    """
    spaces = space_mask(text)
    word_starts = np.flatnonzero(~spaces & np.concatenate(([True], spaces[:-1])))
    out: list[Span] = []
    a, end = strip_span(text, 0, len(text))

    def fits(s: int, e: int) -> bool:
        s, e = strip_span(text, s, e)
        return e <= s or int(counter.count([text[s:e]])[0]) <= limit

    reach = max(64, limit * 16)  # characters to look ahead; adapts to the text
    while a < end:
        stop = min(end, a + reach)
        while stop < end and fits(a, stop):
            stop = min(end, a + 2 * (stop - a))
        if stop == end and fits(a, end):
            out.append(strip_span(text, a, end))
            break
        cands = word_starts[(word_starts > a) & (word_starts < stop)]
        if len(cands) == 0 or not fits(a, int(cands[0])):
            nxt = int(cands[0]) if len(cands) else stop
            cands = np.arange(a + 1, nxt, dtype=np.int64)
        lo, hi = -1, len(cands) - 1  # invariant: cands[lo] fits (lo = -1: nothing yet)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(a, int(cands[mid])):
                lo = mid
            else:
                hi = mid - 1
        if lo < 0:
            raise _too_small(text, a, counter, limit, int(cands[0]) if len(cands) else stop)
        cut = int(cands[lo])
        s, e = strip_span(text, a, cut)
        if e > s:
            out.append((s, e))
        reach = max(64, 4 * (cut - a))
        a = strip_span(text, cut, end)[0]
    return out
