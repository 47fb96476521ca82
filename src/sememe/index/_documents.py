"""Documents -> chunks for the RAG path of :class:`~sememe.index.Index`.

``Index.add_documents`` cuts each document with a chunker (a
:class:`~sememe.SemanticChunker` by default) and indexes the chunks, one row each. A chunk
keeps where it came from in its metadata, beside the document's own metadata:

``"document"``
    the document's id (given, or the next unused integer);
``"start"``, ``"end"``
    the chunk's character offsets in the document: ``document[start:end] == hit.text``.

The chunk's own id is ``f"{document}#{n}"`` (``n`` counts the document's chunks from 0),
so a hit names its passage, and ``where={"document": ...}`` searches within documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import _progress
from ..errors import InvalidArgumentError, InvalidTypeError
from ._common import DocId, check_id, shown
from ._store import check_metadata

#: Metadata keys a chunk's position takes; a document's own metadata may not use them.
RESERVED = ("document", "start", "end")

#: A sememe chunker (Semantic-, Token- or RecursiveChunker) takes all the documents
#: in one ``chunk_stream`` (its batched path, in batches of at most 64 documents and
#: ``BATCH_CHARS`` characters; with helper processes as ``chunk_stream``'s default or
#: ``SEMEME_CHUNK_WORKERS`` decides; :data:`_BLOCK_DOCUMENTS` documents per step of the "chunking"
#: bar, shown only inside a CLI's progress scope). Any other chunker gets
#: ``chunker.chunk_batch`` calls of at most these documents and characters, whichever
#: fills first. A chunker cuts each document on its own, so either gives the chunks one
#: call would.
_BLOCK_DOCUMENTS = 64
_BLOCK_CHARS = 1_000_000


@dataclass(frozen=True)
class Chunked:
    """What ``add_documents`` indexes: chunk texts, ids and metadata, row by row."""

    texts: list[str]
    ids: list[DocId]
    metadata: list[dict[str, Any]]


def default_chunker(encoder: Any, max_tokens: int | None) -> Any:
    """A :class:`~sememe.SemanticChunker` on ``encoder`` (``max_tokens`` default 256)."""
    from ..chunking import SemanticChunker

    return SemanticChunker(encoder, max_tokens=256 if max_tokens is None else max_tokens)


def chunk_documents(
    documents: list[str],
    ids: Iterable[DocId] | None,
    metadata: Iterable[Mapping[str, Any] | None] | None,
    chunker: Any,
    known: set[DocId],
    taken: Any = frozenset(),
) -> Chunked:
    """Cut ``documents`` with ``chunker``; ``known`` holds the document ids already indexed
    and ``taken`` the ids already in the index (a chunk id must be new).

    Everything is checked before anything is chunked: ids (str or int, unique, not in
    ``known``), metadata (one JSON-serialisable dict or None per document, without the
    :data:`RESERVED` keys). An empty or blank document gives no chunk, so it is not
    recorded: its id can be given again and ``remove_documents`` does not know it.
    """
    n = len(documents)
    if ids is None:  # the next integers whose text is no document id or chunk id yet
        used = {str(d) for d in known}
        doc_ids: list[DocId] = []
        nxt = 0
        while len(doc_ids) < n:
            if str(nxt) not in used and f"{nxt}#0" not in taken:
                doc_ids.append(nxt)
            nxt += 1
    else:
        if isinstance(ids, (str, bytes, Mapping)) or not isinstance(ids, Iterable):
            raise InvalidTypeError(f"ids must be a list of str or int ids, got {shown(ids)}")
        doc_ids = [check_id(i, f"ids[{k}]") for k, i in enumerate(ids)]
        if len(doc_ids) != n:
            raise InvalidArgumentError(f"{len(doc_ids)} ids for {n} documents")
        seen: set[DocId] = set()
        for k, d in enumerate(doc_ids):
            if d in seen:
                raise InvalidArgumentError(f"ids[{k}] = {d!r} is repeated")
            if d in known:
                raise InvalidArgumentError(f"ids[{k}] = {d!r}: that document is already indexed")
            seen.add(d)
        # chunk ids are strings: 1 and "1" would give the same ones
        by_text: dict[str, DocId] = {str(d): d for d in known}
        for k, d in enumerate(doc_ids):
            other = by_text.setdefault(str(d), d)
            if other != d or type(other) is not type(d):
                raise InvalidArgumentError(
                    f"ids[{k}] = {d!r} and document {other!r} are the same as text, so their "
                    "chunk ids ('<document>#<n>') would clash; use ids that differ as text"
                )
    metas = check_metadata(metadata, n)
    for k, m in enumerate(metas):
        clash = sorted(set(m or ()) & set(RESERVED))
        if clash:
            raise InvalidArgumentError(
                f"metadata[{k}] uses {clash}, which hold a chunk's document and offsets"
            )
    if not callable(getattr(chunker, "chunk_batch", None)):
        raise InvalidTypeError(
            f"chunker must have a chunk_batch(texts) method (a sememe chunker), got {shown(chunker)}"
        )
    texts: list[str] = []
    chunk_ids: list[DocId] = []
    chunk_meta: list[dict[str, Any]] = []
    batches: list[Any] = []
    from ..chunking import RecursiveChunker, SemanticChunker, TokenChunker

    with _progress.phase("chunking", n, unit="document") as bar:
        sememe_chunker = isinstance(chunker, (SemanticChunker, TokenChunker, RecursiveChunker))
        if sememe_chunker:  # one stream, batched
            reported = 0
            for chunks in chunker.chunk_stream(documents):
                batches.append(chunks)
                if len(batches) - reported >= _BLOCK_DOCUMENTS or len(batches) == n:
                    bar.update(len(batches) - reported)
                    reported = len(batches)
            if len(batches) != n:
                raise InvalidArgumentError(
                    f"chunker.chunk_stream gave {len(batches)} chunk lists for {n} documents"
                )
        else:
            for lo, hi in _blocks(documents):
                got = list(chunker.chunk_batch(documents[lo:hi]))
                if len(got) != hi - lo:
                    raise InvalidArgumentError(
                        f"chunker.chunk_batch gave {len(got)} chunk lists for {hi - lo} documents"
                    )
                batches.extend(got)
                bar.update(hi - lo)
    for doc, doc_id, meta, chunks in zip(documents, doc_ids, metas, batches, strict=True):
        for n_chunk, c in enumerate(chunks):
            if not all(
                isinstance(getattr(c, a, None), int) and not isinstance(getattr(c, a), bool)
                for a in ("start", "end")
            ) or not isinstance(getattr(c, "text", None), str):
                raise InvalidTypeError(
                    f"chunker gave {shown(c)} for document {doc_id!r}; a chunk needs a str "
                    "text and int start and end"
                )
            chunk_id = f"{doc_id}#{n_chunk}"
            if chunk_id in taken:
                raise InvalidArgumentError(
                    f"document {doc_id!r}: its chunk id {chunk_id!r} is already an id in the index"
                )
            start, end = c.start, c.end
            if doc[start:end] != c.text:  # a foreign chunker must keep exact offsets
                raise InvalidArgumentError(
                    f"chunker gave a chunk whose text is not document[{start}:{end}] "
                    f"(document {doc_id!r}); offsets must be exact"
                )
            texts.append(c.text)
            chunk_ids.append(chunk_id)
            chunk_meta.append({**(meta or {}), "document": doc_id, "start": start, "end": end})
    return Chunked(texts, chunk_ids, chunk_meta)


def _blocks(documents: list[str]) -> list[tuple[int, int]]:
    """``(start, end)`` of consecutive runs of at most :data:`_BLOCK_DOCUMENTS` documents
    and, unless one document alone is longer, :data:`_BLOCK_CHARS` characters."""
    out: list[tuple[int, int]] = []
    lo, chars = 0, 0
    for i, doc in enumerate(documents):
        if i > lo and (i - lo >= _BLOCK_DOCUMENTS or chars + len(doc) > _BLOCK_CHARS):
            out.append((lo, i))
            lo, chars = i, 0
        chars += len(doc)
    if lo < len(documents):
        out.append((lo, len(documents)))
    return out


def document_of(meta: dict[str, Any] | None) -> DocId | None:
    """The document id in a chunk's metadata (``None`` for a row added by ``add``)."""
    if meta is None:
        return None
    doc = meta.get("document")
    return doc if isinstance(doc, (str, int)) and not isinstance(doc, bool) else None
