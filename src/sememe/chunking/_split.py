"""Several processes for a list of texts (:meth:`ChunkerBase.chunk_stream` and
``chunk_batch`` on a sized input, with helpers; see :func:`sememe.chunking._base.auto_workers`).

The list is read in rounds of about :data:`ROUND_CHARS` characters. For each round,
one child per further process is forked (:class:`sememe._fork.RowSplit`: each inherits
the chunker as it is, nothing is pickled); every process claims the next batch no one
has taken, so a faster one takes over a slower one's share and the last batch is the
only wait. A child writes each batch's chunks as plain ``(start, end, n_tokens)``
triples into anonymous shared memory; this process keeps the chunks of the batches it
chunked itself, builds the others' from their triples (documents get their metadata
back here), and yields the round in input order.

A batch a child could not chunk (an error, such as ``max_tokens`` too small for a
word) is marked as such and chunked again here at its turn, which raises the
in-process exception after the results before it. A child that dies or stalls makes
this process chunk the whole round itself (see :class:`~sememe._fork.RowSplit`). So
the results, and any exception, are the one-process ones.

Layout of one batch of ``d`` texts holding ``c`` characters: its rows are ``c + d``
rows of 4 int32 (``4 * (c + d)`` ints, at least ``1 + d + 3 * chunks`` since a chunk
holds at least one character): a status (:data:`_OK` or :data:`_REDO`), the number of
chunks of each text, then the triples. Only the written pages take memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _fork
from ._documents import split_items, with_metadata
from .types import Chunk

if TYPE_CHECKING:  # pragma: no cover
    from ._base import ChunkerBase

#: Characters of one round: the list is chunked (and yielded) this much at a time; a
#: round costs one fork per helper (about 0.02 s), beside about 2 s of work.
ROUND_CHARS = 8_000_000
#: Ints per row of the shared layout (see the module docstring).
_WIDTH = 4
#: A batch's status in the layout: chunked by a child; to be chunked here.
_OK, _REDO = 1, 2


def split_stream(
    chunker: ChunkerBase, batches: Iterator[list[Any]], n_workers: int
) -> Iterator[list[Chunk]]:
    """:meth:`ChunkerBase.chunk_stream`'s generator for a sized input with ``n_workers``
    processes (this one included), round by round. A batch whose items fail the checks
    is raised at its turn, after every result before it."""
    from ._base import item_chars

    pending: Exception | None = None
    while pending is None:
        prepared: list[list[Any]] = []
        chars = 0
        for batch in batches:
            try:
                items = chunker._batch_items(batch)  # the in-process checks and errors
            except Exception as exc:
                pending = exc
                break
            prepared.append(items)
            chars += sum(map(item_chars, items))
            if chars >= ROUND_CHARS:
                break
        if not prepared:
            break
        for chunks in _round(chunker, prepared, n_workers):
            yield from chunks
        if pending is None and chars < ROUND_CHARS:
            break  # the input is done
    if pending is not None:
        raise pending


def _round(
    chunker: ChunkerBase, prepared: list[list[Any]], n_workers: int
) -> Iterator[list[list[Chunk]]]:
    """Each batch's chunks, in order, the batches shared out over ``n_workers``
    processes."""
    from ._base import item_chars

    rows = [sum(map(item_chars, items)) + len(items) for items in prepared]
    ends = np.cumsum(rows).tolist()
    steps = list(zip([0, *ends[:-1]], ends, strict=True))
    first_row = {lo: b for b, (lo, _) in enumerate(steps)}
    here: dict[int, list[list[Chunk]]] = {}  # batches this process chunked
    failed: dict[int, Exception] = {}

    def compute(lo: int, hi: int, out: np.ndarray) -> None:
        b = first_row[lo]
        if not _fork.in_child():
            try:
                here[b] = chunker._chunk_items(prepared[b])
            except Exception as exc:  # raised at the batch's turn
                failed[b] = exc
            return
        flat = out.reshape(-1)
        try:
            got = chunker._chunk_items(prepared[b])
        except Exception:  # the exception stays here; the parent raises its own
            flat[0] = _REDO
            return
        counts = [len(chunks) for chunks in got]
        triples = [(c.start, c.end, c.n_tokens) for chunks in got for c in chunks]
        d = len(counts)
        if 1 + d + 3 * len(triples) > len(flat):  # pragma: no cover - a chunk per char
            flat[0] = _REDO
            return
        flat[1 : 1 + d] = counts
        if triples:
            flat[1 + d : 1 + d + 3 * len(triples)] = np.asarray(triples, np.int64).ravel()
        flat[0] = _OK

    split = _fork.RowSplit(
        int(ends[-1]), _WIDTH, n_workers, 1, compute, steps=steps, dtype=np.int32, private=False
    )
    try:
        split.fork()
        out = split.run()
    finally:
        split.close()
    for b, items in enumerate(prepared):
        if b in failed:
            raise failed[b]
        got = here.get(b)
        if got is None:
            got = _decode(chunker, items, out[steps[b][0] : steps[b][1]].reshape(-1))
        yield got


def _decode(chunker: ChunkerBase, items: list[Any], flat: np.ndarray) -> list[list[Chunk]]:
    """A child's batch from its layout (chunked here when the child marked it so)."""
    if int(flat[0]) != _OK:
        return chunker._chunk_items(items)
    d = len(items)
    counts = flat[1 : 1 + d].tolist()
    triples = flat[1 + d : 1 + d + 3 * sum(counts)].reshape(-1, 3).tolist()
    texts, metas = split_items(items)
    out: list[list[Chunk]] = []
    k = 0
    for text, meta, n in zip(texts, metas, counts, strict=True):
        chunks = [Chunk(text[s:e], s, e, t, i) for i, (s, e, t) in enumerate(triples[k : k + n])]
        k += n
        out.append(chunks if meta is None else with_metadata(chunks, meta))
    return out
