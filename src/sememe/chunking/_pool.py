"""Chunking a long stream of documents on several cores: forked workers over batches.

:meth:`ChunkerBase.chunk_stream` reads its input ``batch_size`` items at a time. A short
input is chunked here, in this process. Once the input has shown at least
:data:`PARALLEL_CHARS` characters (a forked helper costs some tens of milliseconds to
start, and more while it first writes to the pages it shares with this process, which
pays for itself only on longer inputs), ``workers - 1`` forked helper processes join in:
each inherits the chunker as it is (encoder, tokenizer, warm word memo; nothing is
pickled), chunks a batch's texts with :meth:`ChunkerBase.chunk_batch`'s own code and
sends back plain ``(start, end, n_tokens)`` triples, from which this process builds the
chunks (documents get their metadata back here). This process chunks a batch itself
whenever the helpers have two batches queued each, and yields results in input order;
at most ``4 * workers`` batches are held, so memory stays bounded whatever the input's
length.

Results are exactly the in-process ones. A batch whose worker fails is chunked again in
this process, which raises the same exception the in-process call raises (exceptions do
not always survive pickling intact); if a worker dies, the pool is broken and the rest of
the stream is chunked in this process. Where ``fork`` is unavailable (Windows, macOS's
default), or a pool cannot start, everything runs in this process. The pool is shut
down when the stream ends, fails, or its generator is closed.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any

from ._documents import is_document, split_document, with_metadata
from .types import Chunk

if TYPE_CHECKING:  # pragma: no cover
    from ._base import ChunkerBase

#: Characters of input read before helper processes start (for a stream, and for one
#: :meth:`ChunkerBase.chunk_batch` call, which starts its own). Starting a helper and its
#: first writes to the pages it shares with this process cost about 0.09 CPU s, and a
#: helper spends 10-20% more CPU than this process on the same batches (measured on
#: 2,800 kB of never-seen articles at load 7-9: ``benchmarks/results/chunk.md``); from
#: 2,000,000 characters that is a small part of the work. ``Index.from_documents`` and
#: ``sememe chunk`` read their documents through one stream, so this applies to them.
PARALLEL_CHARS = 2_000_000
#: Most worker processes started by default.
MAX_WORKERS = 4

#: The chunker a forked worker runs (set in the parent just before the pool forks).
_WORKER_CHUNKER: ChunkerBase | None = None
#: True in a worker process: workers never start pools of their own.
_IN_WORKER = False

Triples = list[list[tuple[int, int, int]]]  # per text: (start, end, n_tokens) per chunk


def default_workers() -> int:
    """Workers for a large stream: the cores this process may use, at most :data:`MAX_WORKERS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def fork_available() -> bool:
    """True where worker processes can be forked (they inherit the chunker unpickled)."""
    import multiprocessing  # here: a small call never pays for the import

    return "fork" in multiprocessing.get_all_start_methods()


def _ping() -> bool:
    """A no-op task that makes the executor start a worker."""
    return _IN_WORKER


def _init_worker() -> None:
    """In a new worker: mark the process as one (no nested pools)."""
    global _IN_WORKER
    _IN_WORKER = True


def worth_parallel(items: list[Any], workers: int | None) -> bool:
    """True when :meth:`ChunkerBase.chunk_batch` of ``items`` should use worker processes."""
    n_workers = default_workers() if workers is None else workers
    if n_workers < 2 or _IN_WORKER:
        return False
    chars = sum(len(t) if isinstance(t, str) else 0 for t in _split_loose(items))
    return chars >= PARALLEL_CHARS and fork_available()


def _work(texts: list[str]) -> Triples | None:
    """In a worker: the chunks of each text as ``(start, end, n_tokens)`` triples.

    None when chunking raised: the exception stays here (one that does not unpickle,
    such as an error class with its own constructor arguments, would break the pool's
    result thread and hang the caller); the parent chunks the batch again to raise it.
    """
    chunker = _WORKER_CHUNKER
    if chunker is None:  # pragma: no cover - only reachable if the fork went wrong
        return None
    try:
        got = chunker._chunk_items(chunker._batch_items(texts))
    except Exception:
        return None
    return [[(c.start, c.end, c.n_tokens) for c in chunks] for chunks in got]


def _split(items: list[Any]) -> tuple[list[str], list[Any]]:
    """Checked items as texts and metadata (None for a plain str)."""
    texts: list[str] = []
    metas: list[Any] = []
    for item in items:
        if is_document(item):
            content, metadata = split_document(item)
        else:
            content, metadata = item, None
        texts.append(content)
        metas.append(metadata)
    return texts, metas


def _build(texts: list[str], metas: list[Any], got: Triples) -> list[list[Chunk]]:
    """The chunks of each text from a worker's triples (with metadata for documents)."""
    out = []
    for text, meta, triples in zip(texts, metas, got, strict=True):
        chunks = [Chunk(text[s:e], s, e, n, i) for i, (s, e, n) in enumerate(triples)]
        out.append(chunks if meta is None else with_metadata(chunks, meta))
    return out


def _start_pool(chunker: ChunkerBase, workers: int) -> Any:
    """A forked pool whose workers run ``chunker``, or None when one cannot start."""
    global _WORKER_CHUNKER
    # Forked workers must not use the tokenizers library's thread pool (its threads do not
    # survive a fork); saying so in the environment also keeps the library from printing
    # a warning in each worker. Restored at once: this process keeps its own setting.
    key = "TOKENIZERS_PARALLELISM"
    saved = os.environ.get(key)
    os.environ[key] = "false"
    _WORKER_CHUNKER = chunker
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("fork"), initializer=_init_worker
        )
        # Fork the workers now, while the chunker is in place: the executor forks them
        # inside submit() (all at the first one with "fork", or one per submission), so
        # there is no need to wait for the pings to run.
        for _ in range(workers):
            pool.submit(_ping)
        return pool
    except (OSError, BrokenProcessPool):  # no processes to be had (limits): stay here
        return None
    finally:
        _WORKER_CHUNKER = None
        if saved is None:
            del os.environ[key]
        else:
            os.environ[key] = saved


def stream_batches(
    chunker: ChunkerBase, items: Iterator[Any], size: int, workers: int | None
) -> Iterator[list[Chunk]]:
    """:meth:`ChunkerBase.chunk_stream`'s generator (arguments already checked)."""
    n_workers = default_workers() if workers is None else workers
    parallel = n_workers > 1 and not _IN_WORKER
    batches = iter(lambda: list(islice(items, size)), [])
    # Read ahead until the input is long enough for a pool (or runs out).
    ahead: list[list[Any]] = []
    seen = 0
    if parallel:
        for batch in batches:
            ahead.append(batch)
            seen += sum(len(t) if isinstance(t, str) else 0 for t in _split_loose(batch))
            if seen >= PARALLEL_CHARS:
                break
        else:
            parallel = False
        parallel = parallel and fork_available()
    # This process chunks too: with n workers it forks n - 1 helpers and takes a batch
    # itself whenever the helpers have enough queued (a forked helper pays for the
    # pages it writes; this process does not).
    helpers = n_workers - 1
    pool = _start_pool(chunker, helpers) if parallel else None
    if pool is None:
        for batch in _chain(ahead, batches):
            yield from chunker._chunk_items(chunker._batch_items(batch))
        return
    from concurrent.futures.process import BrokenProcessPool

    try:
        pending: deque[_Entry] = deque()
        for batch in _chain(ahead, batches):
            entry = _Entry(batch)
            try:
                items_ = chunker._batch_items(batch)  # the in-process checks and errors
            except Exception as exc:  # raised in turn, after the batches before it
                entry.error = exc
            else:
                queued = sum(1 for e in pending if e.future is not None and not e.future.done())
                if queued < 2 * helpers:
                    entry.texts, entry.metas = _split(items_)
                    try:
                        entry.future = pool.submit(_work, entry.texts)
                    except BrokenProcessPool:  # a helper died: chunk here from now on
                        entry.local(chunker, items_)
                else:
                    entry.local(chunker, items_)
            pending.append(entry)
            while pending and (pending[0].ready() or len(pending) > 4 * n_workers):
                yield from pending.popleft().collect(chunker)
        while pending:
            yield from pending.popleft().collect(chunker)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Entry:
    """One batch of the stream: chunked here (``result``), by a helper (``future``),
    or refused by the checks (``error``, raised when its turn comes)."""

    __slots__ = ("batch", "error", "future", "metas", "result", "texts")

    def __init__(self, batch: list[Any]) -> None:
        self.batch = batch
        self.error: Exception | None = None
        self.future: Any = None
        self.result: list[list[Chunk]] | None = None
        self.texts: list[str] = []
        self.metas: list[Any] = []

    def local(self, chunker: ChunkerBase, items: list[Any]) -> None:
        """Chunk the batch in this process now (an error is kept for its turn)."""
        try:
            self.result = chunker._chunk_items(items)
        except Exception as exc:
            self.error = exc

    def ready(self) -> bool:
        return self.future is None or self.future.done()

    def collect(self, chunker: ChunkerBase) -> list[list[Chunk]]:
        """The batch's chunks (waiting for its helper), or its error raised."""
        if self.error is not None:
            raise self.error
        if self.result is not None:
            return self.result
        try:
            got = self.future.result()
        except Exception:  # the helper died (killed, out of memory): chunk here
            got = None
        if got is None:  # chunk here: the same result, or the in-process exception
            return chunker._chunk_items(chunker._batch_items(self.batch))
        return _build(self.texts, self.metas, got)


def _split_loose(batch: list[Any]) -> Iterator[Any]:
    """The texts of a batch's items, unchecked (only to measure the input's length)."""
    for item in batch:
        content = getattr(item, "page_content", item)
        yield content


def _chain(first: list[list[Any]], rest: Iterator[list[Any]]) -> Iterator[list[Any]]:
    """The read-ahead batches, then the rest (the read-ahead list is released as it goes)."""
    while first:
        yield first.pop(0)
    yield from rest
