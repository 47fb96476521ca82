"""Helper processes for :meth:`ChunkerBase.chunk_stream` on a generator or other unsized
input (``workers=N``, ``SEMEME_CHUNK_WORKERS=N`` with N > 1, or the default once a large
input has been read, see :func:`sememe.chunking._base.auto_workers`); never imported
otherwise. A list is shared out by :mod:`sememe.chunking._split` instead.

``N - 1`` forked helpers inherit the chunker as it is (encoder, tokenizer, warm word
memo; nothing is pickled), chunk whole batches with the in-process code and send back
plain ``(start, end, n_tokens)`` triples, from which this process builds the chunks
(documents get their metadata back here). This process chunks a batch itself whenever
the helpers have two batches queued each, and yields results in input order as they
come; at most ``4 * N`` batches are held, so memory stays bounded.

Safety, since this runs inside library calls:

- a pool is forked only where ``fork`` exists and this process runs one thread
  (``threading.active_count() == 1``): forking while another thread holds a lock (a
  word memo's, the encoder's) would leave the helper deadlocked; otherwise the stream is
  chunked here. The environment is set (``TOKENIZERS_PARALLELISM=false``) only then.
- helpers ignore SIGINT: Ctrl-C interrupts this process alone, which then terminates them.
- results are awaited in short polls that check the helpers are alive; a helper that
  died, or a batch that takes longer than :data:`STALL_S`, ends the pool (its helpers
  are terminated) and the batch and the rest of the stream are chunked here.
- on any exception, ``KeyboardInterrupt`` or the generator's close, the helpers are
  terminated (never a ``shutdown(wait=True)`` that can hang).

Results are exactly the in-process ones. A batch whose helper fails is chunked again in
this process, which raises the same exception the in-process call raises (exceptions do
not always survive pickling intact).
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from ._documents import split_items, with_metadata
from .types import Chunk

if TYPE_CHECKING:  # pragma: no cover
    from ._base import ChunkerBase

#: Seconds between checks that the helpers are alive, while waiting for a batch.
POLL_S = 0.5
#: Seconds one batch may take in a helper before the pool is deemed stuck (a batch holds
#: at most about 1 MB of text: some seconds of work even on a loaded machine).
STALL_S = 120.0

#: The chunker a forked worker runs (set in the parent just before the pool forks).
_WORKER_CHUNKER: ChunkerBase | None = None
#: True in a worker process: workers never start pools of their own.
_IN_WORKER = False

Triples = list[list[tuple[int, int, int]]]  # per text: (start, end, n_tokens) per chunk


def fork_available() -> bool:
    """True where worker processes can be forked (they inherit the chunker unpickled)."""
    import multiprocessing  # here: a small call never pays for the import

    return "fork" in multiprocessing.get_all_start_methods()


def _ping() -> bool:
    """A no-op task that makes the executor start a worker."""
    return _IN_WORKER


def _init_worker() -> None:
    """In a new helper: mark the process as one (no nested pools), leave Ctrl-C to the
    parent (which terminates the helpers) and keep the tokenizers library's thread pool
    off (its threads do not survive a fork)."""
    global _IN_WORKER
    _IN_WORKER = True
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ["TOKENIZERS_PARALLELISM"] = "false"


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


def _build(texts: list[str], metas: list[Any], got: Triples) -> list[list[Chunk]]:
    """The chunks of each text from a worker's triples (with metadata for documents)."""
    out = []
    for text, meta, triples in zip(texts, metas, got, strict=True):
        chunks = [Chunk(text[s:e], s, e, n, i) for i, (s, e, n) in enumerate(triples)]
        out.append(chunks if meta is None else with_metadata(chunks, meta))
    return out


def can_fork() -> bool:
    """True where a pool may be forked now: ``fork`` exists and
    :func:`sememe._fork.fork_is_safe_here` (not a helper, not a daemonic process, one
    thread: no other thread can hold a lock a helper needs)."""
    from .. import _fork

    return _fork.fork_is_safe_here() and fork_available()


def _start_pool(chunker: ChunkerBase, workers: int) -> Any:
    """A forked pool whose helpers run ``chunker``, or None when one cannot start."""
    global _WORKER_CHUNKER
    if not can_fork():
        return None
    # One thread runs (checked above), so setting the environment races with nobody; the
    # variable keeps the tokenizers library from warning in each forked helper.
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
        # With "fork" the executor forks every helper in the first submit(), before it
        # starts its own threads, while the chunker is in place.
        pool.submit(_ping)
        return pool
    except (OSError, BrokenProcessPool, AssertionError):  # limits, or a daemonic process
        return None
    finally:
        _WORKER_CHUNKER = None
        if saved is None:
            del os.environ[key]
        else:
            os.environ[key] = saved


def _processes(pool: Any) -> list[Any]:
    """The pool's helper processes (a snapshot)."""
    return list((getattr(pool, "_processes", None) or {}).values())


def _close(pool: Any, kill: bool) -> None:
    """End the pool without waiting on it: helpers terminated when ``kill`` (or when they
    do not exit within a second of the shutdown)."""
    procs = _processes(pool)
    if kill:
        for p in procs:
            p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.join(timeout=1.0)
        if p.is_alive():
            p.kill()
            p.join(timeout=1.0)
    # The executor's manager thread ends once its helpers have: wait for it (briefly), so
    # that this process is back to one thread and the next stream may fork again.
    manager = getattr(pool, "_executor_manager_thread", None)
    if manager is not None:
        manager.join(timeout=2.0)


class _Stuck(Exception):
    """A helper died or a batch took longer than :data:`STALL_S`: the pool is ended."""


def pooled_stream(
    chunker: ChunkerBase, batches: Iterator[list[Any]], n_workers: int
) -> Iterator[list[Chunk]]:
    """:meth:`ChunkerBase.chunk_stream`'s generator with ``n_workers`` processes (this
    one included); everything runs here where a pool cannot be forked."""
    helpers = n_workers - 1
    pool = _start_pool(chunker, helpers)
    if pool is None:
        yield from chunker._stream_here(batches)
        return
    from concurrent.futures.process import BrokenProcessPool

    state = {"pool": pool}
    try:
        pending: deque[_Entry] = deque()
        for batch in batches:
            entry = _Entry(batch)
            try:
                items_ = chunker._batch_items(batch)  # the in-process checks and errors
            except Exception as exc:  # raised in turn, after the batches before it
                entry.error = exc
            else:
                live = state["pool"]
                queued = sum(1 for e in pending if e.future is not None and not e.future.done())
                if live is not None and queued < 2 * helpers:
                    entry.texts, entry.metas = split_items(items_)
                    try:
                        entry.future = live.submit(_work, entry.texts)
                    except BrokenProcessPool:  # a helper died: chunk here from now on
                        entry.local(chunker, items_)
                else:
                    entry.local(chunker, items_)
            pending.append(entry)
            while pending and (pending[0].ready() or len(pending) > 4 * n_workers):
                yield from pending.popleft().collect(chunker, state)
        while pending:
            yield from pending.popleft().collect(chunker, state)
    except BaseException:  # includes KeyboardInterrupt and GeneratorExit
        if state["pool"] is not None:
            _close(state["pool"], kill=True)
            state["pool"] = None
        raise
    if state["pool"] is not None:
        _close(state["pool"], kill=False)


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

    def _wait(self, pool: Any) -> Triples | None:
        """The helper's triples (None: it failed), waiting in polls that check the
        helpers are alive; raises :class:`_Stuck` when the pool is gone or stuck."""
        if pool is None:
            raise _Stuck
        waited = 0.0
        while True:
            try:
                return self.future.result(timeout=POLL_S)
            except FutureTimeout:
                waited += POLL_S
                if waited >= STALL_S or not all(p.is_alive() for p in _processes(pool)):
                    raise _Stuck from None
            except Exception:  # the helper died (killed, out of memory): chunk here
                return None

    def collect(self, chunker: ChunkerBase, state: dict[str, Any]) -> list[list[Chunk]]:
        """The batch's chunks (waiting for its helper), or its error raised."""
        if self.error is not None:
            raise self.error
        if self.result is not None:
            return self.result
        try:
            got = self._wait(state["pool"])
        except _Stuck:  # end the pool; this batch and the rest are chunked here
            if state["pool"] is not None:
                _close(state["pool"], kill=True)
                state["pool"] = None
            got = None
        if got is None:  # chunk here: the same result, or the in-process exception
            return chunker._chunk_items(chunker._batch_items(self.batch))
        return _build(self.texts, self.metas, got)
