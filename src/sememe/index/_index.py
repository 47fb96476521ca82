"""The :class:`Index` class: validates arguments and orchestrates its two parts.

The documents (ids, texts, metadata, blank rows) live in a :class:`~._store.DocStore`, the
vectors, codes and FAISS first stages in an :class:`~._engine.Engine`, the folder format in
:mod:`._persist`. ``Index`` checks every argument before anything changes, encodes texts
(outside the lock), takes the read/write lock and calls the parts; a failed ``add`` or
``remove`` leaves both as they were. See the package docstring (:mod:`sememe.index`) for
the kinds and the design.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, overload

import numpy as np

from .. import _text
from .._progress import progress as _progress
from .._resolve import resolve_encoder
from .._validate import check_choice, check_float
from ..encoder import Encoder, pack_bits
from ..errors import InvalidArgumentError, InvalidTypeError, SememeError
from . import _hybrid, _persist
from ._common import (
    C_INT_MAX,
    DEFAULT_ALPHA,
    DEFAULT_CANDIDATES,
    DEFAULT_EF_CONSTRUCTION,
    DEFAULT_EXACT_LIMIT,
    DEFAULT_FACTORY,
    DEFAULT_FUSION,
    DEFAULT_FUSION_CANDIDATES,
    DEFAULT_NPROBE,
    FUSIONS,
    KINDS,
    MODES,
    DocId,
    Hit,
    Kind,
    RWLock,
    Where,
    check_id,
    check_positive,
    default_scan_dims,
    describe,
    family_of,
    id_list,
    is_id,
    shown,
)
from ._engine import Engine, EngineSettings
from ._lexical import Analyzer, Lexical, as_analyzer
from ._store import DocStore, check_metadata, check_new_ids

#: Texts encoded per step when adding (bounds the work lost to an encoder retry).
_ENCODE_CHUNK = 65_536


class Index:
    """A searchable collection of texts, embedded by the shared encoder.

    Parameters
    ----------
    encoder:
        The :class:`~sememe.Encoder` that embeds documents and queries; default: the
        bundled model (``sememe.load()``).
    kind:
        ``"float"``, ``"binary"`` or ``"binary+rerank"`` (see the module docs).
    factory:
        FAISS factory string of the approximate structure used beyond ``exact_limit``
        documents: ``"HNSW32"``, ``"HNSW32,SQ8"``, ``"IVF4096,Flat"`` for ``"float"``;
        ``"BHNSW32"``, ``"BIVF1024"`` for the binary kinds; ``"Flat"``/``"BFlat"`` for
        always exact. Default :data:`DEFAULT_FACTORY`.
    exact_limit:
        Collections up to this size are searched by brute force (exact); beyond it the
        ``factory`` structure is built over all documents (once; later additions are
        inserted into it). Default :data:`DEFAULT_EXACT_LIMIT` for the kind.
    ef_search, ef_construction:
        HNSW search and build breadth. ``ef_search`` defaults to
        :data:`DEFAULT_EF_SEARCH` (float) and to the number of wanted results or
        candidates for the binary kinds.
    nprobe:
        IVF lists visited per query.
    candidates:
        ``"binary+rerank"``: first-stage candidates re-scored per query (at least ``k``).
    scan_dims:
        ``"binary+rerank"``: how many leading dimensions' sign bits the exact first stage
        scores against the float query (a multiple of 8). Default: the model's smallest
        Matryoshka prefix of at least 128 dimensions, else all (see
        :func:`~sememe.index._common.default_scan_dims`).
    batch_size, show_progress:
        Passed to the encoder when adding texts.
    lexical:
        Also keep a BM25 index (tantivy) over the same documents, for ``mode="hybrid"``
        (the default of :meth:`search` then) and ``mode="lexical"``. Off by default: it
        costs build time and disk, and pays off on passage retrieval (keyword-heavy
        queries against longer documents), not on short-text similarity; see
        docs/search.md for the measurements behind both.
    analyzer:
        How texts become lexical terms (an :class:`~sememe.Analyzer` or a dict of its
        settings); default English: lowercase, stop words, Snowball stemming.
    alpha:
        Hybrid search: weight of the dense side in the fused score, in [0, 1]
        (1.0 ranks by the dense side alone). Default :data:`DEFAULT_ALPHA`.
    fusion:
        Hybrid search: ``"zscore"`` (standardised score fusion, default) or ``"rrf"``
        (reciprocal rank fusion); see :mod:`sememe.index._fusion`.
    fusion_candidates:
        Hybrid search: candidates each side proposes per query (at least ``k`` are used).
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        kind: Kind = "float",
        factory: str | None = None,
        exact_limit: int | None = None,
        ef_search: int | None = None,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        nprobe: int = DEFAULT_NPROBE,
        candidates: int = DEFAULT_CANDIDATES,
        scan_dims: int | None = None,
        batch_size: int = 8192,
        show_progress: bool | None = None,
        lexical: bool = False,
        analyzer: Analyzer | Mapping[str, Any] | None = None,
        alpha: float = DEFAULT_ALPHA,
        fusion: str = DEFAULT_FUSION,
        fusion_candidates: int = DEFAULT_FUSION_CANDIDATES,
    ) -> None:
        if not isinstance(lexical, bool):
            raise InvalidTypeError(f"lexical must be True or False, got {shown(lexical)}")
        if analyzer is not None and not lexical:
            raise InvalidArgumentError("analyzer applies to lexical=True indexes only")
        lexical_analyzer = as_analyzer(analyzer) if lexical else None
        self.alpha = alpha  # checked by the setters
        self.fusion = fusion
        self.fusion_candidates = fusion_candidates
        encoder = resolve_encoder(encoder)  # an Encoder, a model name or path, or None
        check_choice(kind, "kind", KINDS)
        if kind != "float" and encoder.dim % 8:
            raise InvalidArgumentError(
                f"kind={kind!r} needs an encoder dim divisible by 8, got {encoder.dim}"
            )
        binary = kind != "float"
        factory = DEFAULT_FACTORY[kind] if factory is None else factory
        if not isinstance(factory, str):
            raise InvalidTypeError(f"factory must be a str, got {type(factory).__name__}")
        factory = factory.strip()
        family_of(factory)  # refuses factory strings of no supported family
        if factory.startswith("B") != binary:
            hint = (
                "a binary factory such as 'BHNSW32'"
                if binary
                else "a float factory such as 'HNSW32'"
            )
            raise InvalidArgumentError(
                f"factory {factory!r} does not fit kind={kind!r}; use {hint}"
            )
        exact_limit = (
            DEFAULT_EXACT_LIMIT[kind]
            if exact_limit is None
            else check_positive("exact_limit", exact_limit)
        )
        ef_search = check_positive("ef_search", ef_search, True, C_INT_MAX)
        ef_construction = check_positive("ef_construction", ef_construction, False, C_INT_MAX)
        nprobe = check_positive("nprobe", nprobe, False, C_INT_MAX)
        self.candidates = check_positive("candidates", candidates, False)
        scan_dims = check_positive("scan_dims", scan_dims)
        if kind != "binary+rerank":
            if scan_dims is not None:
                raise InvalidArgumentError(
                    f"scan_dims applies to kind='binary+rerank' only, not {kind!r}"
                )
        elif scan_dims is None:
            scan_dims = default_scan_dims(encoder.dim, encoder.config.matryoshka_dims)
        elif scan_dims > encoder.dim or scan_dims % 8:
            raise InvalidArgumentError(
                f"scan_dims must be a multiple of 8 between 8 and dim={encoder.dim}, got {scan_dims}"
            )
        self.batch_size = check_positive("batch_size", batch_size, False)
        if show_progress is not None and not isinstance(show_progress, bool):
            raise InvalidTypeError(
                f"show_progress must be True, False or None, got {shown(show_progress)}"
            )
        self.show_progress = show_progress
        self._encoder = encoder
        self._lock = RWLock()
        self._store = DocStore()
        # last: it makes a scratch folder, so only once every argument has passed
        self._lexical = None if lexical_analyzer is None else Lexical(lexical_analyzer)
        self._engine = Engine(
            EngineSettings(
                kind=kind,
                dim=encoder.dim,
                factory=factory,
                scan_dims=scan_dims,
                exact_limit=exact_limit,  # type: ignore[arg-type]  # set above
                ef_search=ef_search,
                ef_construction=ef_construction,  # type: ignore[arg-type]
                nprobe=nprobe,  # type: ignore[arg-type]
            )
        )

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str],
        ids: Iterable[DocId] | None = None,
        metadata: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        encoder: Encoder | None = None,
        vectors: np.ndarray | None = None,
        **options: Any,
    ) -> Index:
        """Build an index over ``texts``; ``options`` are those of :class:`Index`.

        ``vectors``: see :meth:`add`.
        """
        return cls(encoder, **options).add(texts, ids, metadata, vectors=vectors)

    @classmethod
    def from_vectors(
        cls,
        texts: Iterable[str],
        vectors: np.ndarray,
        ids: Iterable[DocId] | None = None,
        metadata: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        encoder: Encoder | None = None,
        **options: Any,
    ) -> Index:
        """Build an index from texts and their stored float vectors, encoding nothing.

        ``vectors`` are ``encoder.encode(texts)`` computed elsewhere (by
        :func:`sememe.spark.encode`, say); they are normalised, not compared with the texts.
        ``options`` are those of :class:`Index`.
        """
        return cls(encoder, **options).add(texts, ids, metadata, vectors=vectors)

    @classmethod
    def from_parquet(
        cls,
        path: str | os.PathLike[str],
        *,
        text: str = "text",
        vector: str = "embedding",
        id: str | None = None,
        metadata: Iterable[str] | None = None,
        encoder: Encoder | None = None,
        batch_rows: int = 65_536,
        **options: Any,
    ) -> Index:
        """Build an index from a Parquet file or folder (a Spark ``write.parquet`` output).

        ``text`` and ``vector`` (``list<float>``, the encoder's ``dim`` per row) name the
        columns; ``id`` a str or int id column (default: consecutive integers); ``metadata``
        columns stored as each document's metadata. Read in batches of ``batch_rows``, so
        memory is the index plus one batch. Needs pyarrow (the ``spark`` extra).
        """
        from ._parquet import read_batches

        index = cls(encoder, **options)
        for texts, vectors, ids, meta in read_batches(
            path, text, vector, id, metadata, index.dim, batch_rows
        ):
            index.add(texts, ids, meta, vectors=vectors)
        return index

    @classmethod
    def from_documents(
        cls,
        documents: Iterable[str],
        ids: Iterable[DocId] | None = None,
        metadata: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        chunker: Any = None,
        max_tokens: int | None = None,
        encoder: Encoder | None = None,
        lexical: bool = True,
        **options: Any,
    ) -> Index:
        """Chunk ``documents`` and index the chunks (the RAG path); see :meth:`add_documents`.

        Hybrid (``lexical=True``) by default: on passage retrieval it beats either side
        alone by a wide margin (docs/search.md). ``options`` are those of :class:`Index`.
        """
        index = cls(encoder, lexical=lexical, **options)
        return index.add_documents(documents, ids, metadata, chunker=chunker, max_tokens=max_tokens)

    def add_documents(
        self,
        documents: Iterable[str],
        ids: Iterable[DocId] | None = None,
        metadata: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        chunker: Any = None,
        max_tokens: int | None = None,
    ) -> Index:
        """Cut each document into chunks and index them; returns ``self``.

        ``chunker`` is any sememe chunker (default: a :class:`~sememe.SemanticChunker` on
        this index's encoder with ``max_tokens`` tokens per chunk, default 256; give
        either, not both). Each chunk becomes a document with id ``"<document>#<n>"`` and
        metadata ``{**document metadata, "document": id, "start": s, "end": e}``, where
        ``document[s:e]`` is the chunk's text exactly, so a hit names its document and
        where its passage is. ``ids`` are the documents' ids (str or int, unique, not
        already indexed), default the next unused integers. Nothing is added if any
        input is invalid.
        """
        from ._documents import chunk_documents, default_chunker, document_of

        docs = _as_texts(documents, "documents")
        if chunker is None:
            chunker = default_chunker(self._encoder, max_tokens)
        elif max_tokens is not None:
            raise InvalidArgumentError("give chunker or max_tokens, not both")
        with self._lock.read():
            known = {d for d in map(document_of, self._store.meta) if d is not None}
            taken = set(self._store.row_of)
        chunked = chunk_documents(docs, ids, metadata, chunker, known, taken)
        return self.add(chunked.texts, chunked.ids, chunked.metadata)

    def remove_documents(self, ids: DocId | Iterable[DocId]) -> None:
        """Remove every chunk of the given documents (added by :meth:`add_documents`).

        All documents must be present, else nothing is removed
        (:class:`~sememe.index.UnknownIdError`).
        """
        from ._common import UnknownIdError
        from ._documents import document_of

        wanted = id_list(ids, "ids", single=True)
        with self._lock.read():
            chunk_ids: dict[DocId, list[DocId]] = {d: [] for d in wanted}
            for doc_id, meta in zip(self._store.ids, self._store.meta, strict=True):
                doc = document_of(meta)
                if doc is not None and doc in chunk_ids:
                    chunk_ids[doc].append(doc_id)
        missing = [d for d, c in chunk_ids.items() if not c]
        if missing:
            raise UnknownIdError(f"document {missing[0]!r} is not in the index")
        self.remove([c for cs in chunk_ids.values() for c in cs])

    # ------------------------------------------------------------------ accessors
    @property
    def encoder(self) -> Encoder:
        """The encoder that embeds documents and queries."""
        return self._encoder

    @property
    def kind(self) -> str:
        """``"float"``, ``"binary"`` or ``"binary+rerank"``."""
        return self._engine.settings.kind

    @property
    def factory(self) -> str:
        """FAISS factory string of the structure used beyond ``exact_limit`` documents."""
        return self._engine.settings.factory

    @property
    def scan_dims(self) -> int | None:
        """``"binary+rerank"``: leading dimensions whose sign bits the first stage scores."""
        return self._engine.settings.scan_dims

    @property
    def dim(self) -> int:
        """Vector dimension (bits per binary code)."""
        return self._engine.settings.dim

    # Hybrid settings: defaults of search(), checked when set (a save writes them).
    @property
    def alpha(self) -> float:
        """Hybrid search: weight of the dense side in the fused score, in [0, 1]."""
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        self._alpha = _check_alpha(value)

    @property
    def fusion(self) -> str:
        """Hybrid search: ``"zscore"`` or ``"rrf"``."""
        return self._fusion

    @fusion.setter
    def fusion(self, value: str) -> None:
        self._fusion = check_choice(value, "fusion", FUSIONS)

    @property
    def fusion_candidates(self) -> int:
        """Hybrid search: candidates each side proposes per query (at least ``k``)."""
        return self._fusion_candidates

    @fusion_candidates.setter
    def fusion_candidates(self, value: int) -> None:
        self._fusion_candidates: int = check_positive("fusion_candidates", value, False)  # type: ignore[assignment]

    @property
    def lexical(self) -> bool:
        """Whether the index keeps a BM25 side (``mode="hybrid"`` and ``"lexical"``)."""
        return self._lexical is not None

    @property
    def analyzer(self) -> Analyzer | None:
        """The lexical analyzer (``None`` without a lexical side)."""
        return None if self._lexical is None else self._lexical.analyzer

    # The engine's tunables, settable between calls as before the split (unchecked).
    @property
    def exact_limit(self) -> int:
        """Collections up to this size are searched exactly (see :class:`Index`)."""
        return self._engine.settings.exact_limit

    @exact_limit.setter
    def exact_limit(self, value: int) -> None:
        self._engine.settings.exact_limit = value

    @property
    def ef_search(self) -> int | None:
        """HNSW search breadth (``None``: the kind's default)."""
        return self._engine.settings.ef_search

    @ef_search.setter
    def ef_search(self, value: int | None) -> None:
        self._engine.settings.ef_search = value

    @property
    def ef_construction(self) -> int:
        """HNSW build breadth."""
        return self._engine.settings.ef_construction

    @ef_construction.setter
    def ef_construction(self, value: int) -> None:
        self._engine.settings.ef_construction = value

    @property
    def nprobe(self) -> int:
        """IVF lists visited per query."""
        return self._engine.settings.nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self._engine.settings.nprobe = value

    @property
    def ids(self) -> tuple[DocId, ...]:
        """Document ids in insertion order (a copy)."""
        with self._lock.read():
            return tuple(self._store.ids)

    @property
    def texts(self) -> tuple[str, ...]:
        """Document texts in insertion order (a copy)."""
        with self._lock.read():
            return tuple(self._store.texts)

    @property
    def structure(self) -> str:
        """What answers queries now: ``"exact"`` or the factory string in use."""
        return self._engine.structure_name

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, doc_id: object) -> bool:
        """``id in index``; ``False`` for anything that is not a str or int (``True``,
        ``1.0``, ``b"a"``, ``[1]``), as those can never be ids."""
        return is_id(doc_id) and check_id(doc_id, "id") in self._store.row_of

    def __repr__(self) -> str:
        return (
            f"Index(kind={self.kind!r}, documents={len(self):,}, dim={self.dim}, "
            f"structure={self.structure!r}, encoder={self._encoder.config.name!r}"
            f"{', lexical=True' if self.lexical else ''})"
        )

    def get(self, doc_id: DocId) -> Hit:
        """The stored document ``doc_id`` as a :class:`Hit` with ``score=1.0``.

        An id of the wrong type (``None``, ``1.0``, ``b"a"``) raises
        :class:`~sememe.errors.InvalidTypeError`; an unknown one :class:`UnknownIdError`.
        """
        doc_id = check_id(doc_id, "id")
        with self._lock.read():
            store = self._store
            return store.hit(store.row(doc_id), 1.0)

    def get_vectors(self, ids: Iterable[DocId]) -> np.ndarray:
        """Float vectors of the given documents, ``(n, dim)``, L2-normalised.

        Stored vectors for ``"float"`` and ``"binary+rerank"``; a ``"binary"`` index keeps
        only codes, so its texts are encoded again. ``ids`` is a list (or other iterable)
        of ids; for one document pass ``[id]``.
        """
        ids = id_list(ids, "ids", single=False)
        with self._lock.read():
            rows = self._store.rows(ids)
            if self._engine.vectors is not None:
                return self._engine.vectors_of(rows)
            texts = [self._store.texts[r] for r in rows]
        return self._encode(texts, normalize=True)

    # ------------------------------------------------------------------ adding / removing
    def add(
        self,
        texts: Iterable[str],
        ids: Iterable[DocId] | None = None,
        metadata: Iterable[Mapping[str, Any] | None] | None = None,
        *,
        vectors: np.ndarray | None = None,
    ) -> Index:
        """Embed and add documents; returns ``self``.

        ``ids`` (str or int, unique) default to consecutive integers not yet in use.
        ``metadata`` is one dict (or None) per text and must be JSON-serialisable; it is
        stored as a JSON round trip gives it back. ``vectors`` may give the texts'
        float vectors from this index's encoder (``encoder.encode(texts)``) when the
        caller has them already; they are not checked against the texts (a zero row makes
        its document blank). Nothing is changed if any input is invalid (a non-str text,
        a repeated or known id, an id that is not a str or int, mismatched lengths, NaN
        in ``vectors``) or if the call fails part way.
        """
        texts = _as_texts(texts, "texts")
        n = len(texts)
        id_list_ = None if ids is None else check_new_ids(ids, n)
        meta = check_metadata(metadata, n)
        codes = None
        if vectors is not None:
            vectors = self._check_vectors(vectors, "vectors")
            if len(vectors) != n:
                raise InvalidArgumentError(f"vectors has {len(vectors)} rows for {n} texts")
            zero = ~vectors.any(axis=1)
            if self.kind != "float":
                codes = pack_bits(vectors) if n else np.zeros((0, self.dim // 8), np.uint8)
            if self.kind == "binary":
                vectors = None
        elif self.kind == "binary":
            codes, zero = self._encode_binary(texts)
        else:
            vectors = self._encode(texts, normalize=True)
            zero = ~vectors.any(axis=1)
            if self.kind == "binary+rerank":
                # Same bits as Encoder.encode_binary (signs do not change with scaling);
                # avoids encoding the texts twice.
                codes = pack_bits(vectors)
        with self._lock.write():
            store, engine = self._store, self._engine
            if id_list_ is not None:
                store.check_unknown(id_list_)
            store_undo, engine_undo = store.undo_point(), engine.undo_point()
            try:
                store.append(id_list_, texts, meta, zero)
                engine.append(vectors, codes)
                if self._lexical is not None:
                    self._lexical.append(texts)  # last: it commits only when complete
            except BaseException:
                store.restore(store_undo)
                engine.restore(engine_undo)
                raise
        return self

    def remove(self, ids: DocId | Iterable[DocId]) -> None:
        """Remove documents by id; all ids must be present (else nothing is removed).

        ``ids`` is one id (a str or int) or an iterable of them; anything else
        (``None``, ``b"ab"``, ``1.0``, a dict) raises
        :class:`~sememe.errors.InvalidTypeError` and removes nothing. Costs one pass over
        the stored vectors, so remove many ids in one call.
        """
        id_list_ = id_list(ids, "ids", single=True)
        with self._lock.write():
            rows = np.unique(self._store.rows(id_list_))
            if not len(rows):
                return
            keep = np.ones(len(self._store), bool)
            keep[rows] = False
            # The new store is built first and the engine replaces its parts only once
            # they are complete: a failure (memory) leaves the index as it was.
            new_store = self._store.kept(keep)
            install = None if self._lexical is None else self._lexical.forget(rows, keep)
            self._engine.remove(rows, keep)
            self._store = new_store
            if install is not None:
                install()  # plain assignments: all three parts agree from here on
            self._engine.rebuild_if_dead()
            if self._lexical is not None:
                # tantivy's delete commit; a failure keeps the deletions pending (_lexical)
                self._lexical.flush()

    def compact(self) -> None:
        """Rebuild the approximate structure without the entries of removed documents."""
        with self._lock.write():
            self._engine.compact()

    # ------------------------------------------------------------------ encoding
    def _encode(
        self, texts: list[str], normalize: bool, show_progress: bool | None = None
    ) -> np.ndarray:
        parts = []
        show = self.show_progress if show_progress is None else show_progress
        with _progress(len(texts), show, "index") as bar:
            for start in range(0, len(texts), _ENCODE_CHUNK):
                chunk = texts[start : start + _ENCODE_CHUNK]
                parts.append(self._encode_chunk(chunk, normalize))
                bar.update(len(chunk))
        if not parts:
            return np.zeros((0, self.dim), np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _encode_chunk(self, chunk: list[str], normalize: bool) -> np.ndarray:
        enc = self._encoder
        return enc.encode(
            chunk, batch_size=self.batch_size, normalize=normalize, show_progress=False
        )

    def _encode_binary(
        self, texts: list[str], show_progress: bool | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Packed sign bits of ``texts`` (what ``Encoder.encode_binary`` gives) and which
        of them are blank (a zero vector, whose bits alone would look like a real code)."""
        parts, zeros = [], []
        show = self.show_progress if show_progress is None else show_progress
        with _progress(len(texts), show, "index") as bar:
            for start in range(0, len(texts), _ENCODE_CHUNK):
                chunk = texts[start : start + _ENCODE_CHUNK]
                vectors = self._encode_chunk(chunk, normalize=False)
                parts.append(pack_bits(vectors))
                zeros.append(~vectors.any(axis=1))
                bar.update(len(chunk))
        if not parts:
            return np.zeros((0, self.dim // 8), np.uint8), np.zeros(0, bool)
        if len(parts) == 1:
            return parts[0], zeros[0]
        return np.concatenate(parts), np.concatenate(zeros)

    # ------------------------------------------------------------------ searching
    @overload
    def search(self, query: str, k: int = 10, **options: Any) -> list[Hit]: ...
    @overload
    def search(self, query: Iterable[str], k: int = 10, **options: Any) -> list[list[Hit]]: ...

    def search(
        self,
        query: str | Iterable[str],
        k: int = 10,
        *,
        where: Where | None = None,
        ef_search: int | None = None,
        nprobe: int | None = None,
        candidates: int | None = None,
        mode: str | None = None,
        alpha: float | None = None,
        fusion: str | None = None,
    ) -> list[Hit] | list[list[Hit]]:
        """The ``k`` documents closest to ``query``, best first.

        ``mode`` picks the ranking: ``"hybrid"`` (the default of a ``lexical=True``
        index) fuses the dense and BM25 sides, ``"dense"`` (the default otherwise) ranks
        by the vectors alone, ``"lexical"`` by BM25 alone. ``alpha`` and ``fusion``
        override the index's hybrid settings for this call. In hybrid mode each side
        proposes ``max(k, fusion_candidates)`` documents, every candidate gets its exact
        dense score, and the fused score orders them (see :class:`Hit` for the scores);
        a query with no lexical match (only stop words, or words no document has) keeps
        the dense order. Lexical mode returns only documents holding a query term, so
        possibly fewer than ``k`` and none for a query of stop words. Neither returns
        blank documents (the dense mode lists them last when ``k`` exceeds the others).

        A ``str`` gives a list of :class:`Hit`; a list of strings gives one list per
        query. Fewer than ``k`` hits come back when the index (or the filtered part of
        it) is smaller. ``where`` keeps only documents whose metadata matches: a dict
        (every key equal to the value, or in it when the value is a list, tuple or set)
        or a function ``metadata -> bool`` (documents without metadata get ``{}``).
        ``ef_search``, ``nprobe`` and ``candidates`` override the index's settings for
        this call.

        Blank documents (a zero vector: empty or whitespace-only text) are near nothing:
        they come back only when ``k`` exceeds the number of other documents (that pass
        ``where``), after all of them, with score 0.0, in insertion order. A blank query
        is near nothing too: every document scores 0.0 for it, so it gets the first
        ``k`` documents in insertion order (non-blank ones first), each with score 0.0.
        """
        single = isinstance(query, str)
        if not single and (
            query is None
            or isinstance(query, (bytes, bytearray, memoryview, Mapping))
            or not isinstance(query, Iterable)
        ):
            raise InvalidTypeError(
                f"query is {'None' if query is None else type(query).__name__}; expected str "
                "or a list of str"
            )
        queries = _as_texts(query, "query" if single else "queries")
        k = self._check_k(k)
        options = self._check_options(ef_search, nprobe, candidates)
        mode = self._check_mode(mode, alpha, fusion)
        alpha = self.alpha if alpha is None else _check_alpha(alpha)
        fusion = self.fusion if fusion is None else check_choice(fusion, "fusion", FUSIONS)
        if not queries:
            return []
        if mode == "lexical":
            out = self._lexical_search(queries, k, where)
            return out[0] if single else out
        if self.kind == "binary":
            qvec = None
            qcodes, qzero = self._encode_binary(queries, show_progress=False)
        else:
            qvec = self._encode(queries, normalize=True, show_progress=False)
            qzero = ~qvec.any(axis=1)
            qcodes = pack_bits(qvec) if self.kind == "binary+rerank" else None
        if mode == "hybrid":
            fusion_options = (alpha, fusion)
            out = self._hybrid_search(
                queries, qvec, qcodes, qzero, k, where, fusion_options, *options
            )
        else:
            out = self._search(qvec, qcodes, qzero, k, where, *options)
        return out[0] if single else out

    def search_vectors(
        self,
        vectors: np.ndarray,
        k: int = 10,
        *,
        where: Where | None = None,
        ef_search: int | None = None,
        nprobe: int | None = None,
        candidates: int | None = None,
    ) -> list[list[Hit]]:
        """Like :meth:`search` for already-encoded queries: one hit list per row.

        ``vectors`` is ``(n, dim)`` (or one ``(dim,)`` vector) from this index's encoder,
        rows L2-normalised; ``"binary"`` takes their sign bits. A zero row is a blank
        query (see :meth:`search`).
        """
        qvec = self._check_vectors(vectors, "vectors")
        k = self._check_k(k)
        options = self._check_options(ef_search, nprobe, candidates)
        if not len(qvec):
            return []
        qzero = ~qvec.any(axis=1)
        qcodes = pack_bits(qvec) if self.kind != "float" else None
        if self.kind == "binary":
            qvec = None
        return self._search(qvec, qcodes, qzero, k, where, *options)

    def _check_vectors(self, vectors: Any, name: str) -> np.ndarray:
        """``vectors`` as C-contiguous float32 ``(n, dim)`` rows, L2-normalised."""
        if vectors is None or isinstance(vectors, (str, bytes, bytearray, memoryview, Mapping)):
            raise InvalidTypeError(f"{name} is {describe(vectors)}; expected a numeric array")
        try:
            arr = np.asarray(vectors)
        except (TypeError, ValueError) as exc:  # ragged lists
            raise InvalidTypeError(
                f"{name} cannot be read as a numeric array ({exc}); expected shape (n, {self.dim})"
            ) from None
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise InvalidArgumentError(
                f"{name} must have shape (n, {self.dim}), got {np.shape(vectors)}"
            )
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise InvalidTypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        out = np.array(arr, dtype=np.float32, order="C")
        if not np.isfinite(out).all():
            raise InvalidArgumentError(f"{name} contain NaN or infinity")
        # norms in float64: squares of large float32 values overflow to inf
        norms = np.sqrt(np.einsum("ij,ij->i", out, out, dtype=np.float64))
        fix = (np.abs(norms - 1.0) > 1e-4) & (norms > 0)  # leave normalised rows bit-exact
        if fix.any():
            out[fix] = (out[fix] / norms[fix, None]).astype(np.float32)
        return out

    @staticmethod
    def _check_k(k: Any) -> int:
        return check_positive("k", k, False)  # type: ignore[return-value]

    def _check_mode(self, mode: Any, alpha: Any, fusion: Any) -> str:
        """The search mode: the given one, else hybrid for a lexical index, else dense."""
        if mode is None:
            mode = "hybrid" if self._lexical is not None else "dense"
        mode = check_choice(mode, "mode", MODES)
        if mode != "dense" and self._lexical is None:
            raise InvalidArgumentError(
                f"mode={mode!r} needs a lexical side; build the index with lexical=True"
            )
        if mode != "hybrid" and (alpha is not None or fusion is not None):
            raise InvalidArgumentError(f"alpha and fusion apply to mode='hybrid', not {mode!r}")
        return mode

    @staticmethod
    def _check_options(
        ef: Any, nprobe: Any, candidates: Any
    ) -> tuple[int | None, int | None, int | None]:
        """The per-call overrides of :meth:`search`, checked before any work is done."""
        return (
            check_positive("ef_search", ef, True, C_INT_MAX),
            check_positive("nprobe", nprobe, True, C_INT_MAX),
            check_positive("candidates", candidates),
        )

    def _search(
        self,
        qvec: np.ndarray | None,
        qcodes: np.ndarray | None,
        qzero: np.ndarray,
        k: int,
        where: Where | None,
        ef: int | None,
        nprobe: int | None,
        candidates: int | None,
    ) -> list[list[Hit]]:
        """Search for every query; ``qzero`` marks the blank queries (zero vectors)."""
        cand = candidates or self.candidates
        nq = len(qzero)
        with self._lock.read():
            store = self._store
            rows, blank_rows, total = store.scope(where)
            out: list[list[Hit]] = [[] for _ in range(nq)]
            if total + len(blank_rows) == 0:
                return out
            k_real = min(k, total)
            live = np.flatnonzero(~qzero)
            if k_real and len(live):
                sub = slice(None) if len(live) == nq else live
                scores, found = self._engine.search(
                    None if qvec is None else qvec[sub],
                    None if qcodes is None else qcodes[sub],
                    k_real,
                    rows,
                    store.blank_mask(),
                    len(blank_rows),
                    ef,
                    nprobe,
                    cand,
                )
                for i, h in zip(live.tolist(), store.hits(scores, found), strict=True):
                    out[i] = h
            if k_real and len(live) < nq:
                first = store.first_rows(rows, k_real)
                for i in np.flatnonzero(qzero).tolist():
                    out[i] = store.zero_hits(first)
            if k > total and len(blank_rows):
                fill = store.zero_hits(blank_rows[: k - total])
                for h in out:
                    h.extend(fill)
            return out

    def _side(self) -> Lexical:
        """The lexical side (``_check_mode`` refused lexical modes without one)."""
        if self._lexical is None:  # pragma: no cover - _check_mode refused the mode
            raise InvalidArgumentError("this index has no lexical side")
        return self._lexical

    def _lexical_search(self, queries: list[str], k: int, where: Where | None) -> list[list[Hit]]:
        """``mode="lexical"`` (see :mod:`._hybrid`)."""
        lexical = self._side()
        terms = [lexical.terms(q) for q in queries]  # analysed outside the lock
        with self._lock.read():
            return _hybrid.lexical_search(self._store, lexical, terms, k, where)

    def _hybrid_search(
        self,
        queries: list[str],
        qvec: np.ndarray | None,
        qcodes: np.ndarray | None,
        qzero: np.ndarray,
        k: int,
        where: Where | None,
        fusion_options: tuple[float, str],
        ef: int | None,
        nprobe: int | None,
        candidates: int | None,
    ) -> list[list[Hit]]:
        """``mode="hybrid"`` (see :mod:`._hybrid`)."""
        lexical = self._side()
        terms = [lexical.terms(q) for q in queries]
        fusion = (*fusion_options, self.fusion_candidates)
        dense_options = (ef, nprobe, candidates or self.candidates)
        with self._lock.read():
            return _hybrid.hybrid_search(
                self._store,
                self._engine,
                lexical,
                terms,
                (qvec, qcodes, qzero),
                k,
                where,
                fusion,
                dense_options,
            )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the index to folder ``path`` atomically; returns the path.

        Files: ``manifest.json`` (settings, encoder fingerprint, SHA-256 of every file),
        ``docs.jsonl`` (id, text, metadata per line), ``vectors.npy`` and/or
        ``codes.npy``, ``blank.npy`` (rows of the blank documents), ``scan.faiss`` (the
        binary+rerank first stage), and the FAISS structure (``structure.faiss``,
        ``serials.npy``) when one is built. Everything is written to a temporary folder
        beside ``path`` and renamed into place, so ``path`` never holds a half-written
        index; a save killed mid-swap is completed by the next load. An existing ``path``
        is replaced only with ``overwrite=True`` and only if it is a sememe index folder
        (an empty folder is fine); anything else raises
        :class:`~sememe.errors.FolderExistsError`.
        """
        return _persist.save_index(path, overwrite=overwrite, lock=self._lock, parts=self._parts)

    def _parts(self) -> _persist.Parts:
        """What a save writes (called by :mod:`._persist` under the read lock)."""
        settings = self._engine.settings
        return _persist.Parts(
            kind=self.kind,
            dim=self.dim,
            encoder=self._encoder,
            settings={
                "factory": settings.factory,
                "exact_limit": settings.exact_limit,
                "ef_search": settings.ef_search,
                "ef_construction": settings.ef_construction,
                "nprobe": settings.nprobe,
                "candidates": self.candidates,
                # only where it applies, so that float and binary indexes stay readable by
                # sememe versions from before the option
                **({"scan_dims": settings.scan_dims} if settings.scan_dims is not None else {}),
                # likewise only for hybrid indexes
                **(
                    {
                        "alpha": self.alpha,
                        "fusion": self.fusion,
                        "fusion_candidates": self.fusion_candidates,
                    }
                    if self._lexical is not None
                    else {}
                ),
            },
            store=self._store,
            engine=self._engine,
            lexical=self._lexical,
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        encoder: Encoder | None = None,
        *,
        verify: bool = True,
        mmap: bool = False,
    ) -> Index:
        """Read an index written by :meth:`save`.

        ``encoder`` defaults to the model named in the manifest (the bundled one when
        the name is unknown); its fingerprint must match the one the index was built
        with. The manifest's fields are checked for type, range and consistency, every
        file for its size and SHA-256, then each file as it is parsed. ``verify=False``
        skips the SHA-256 of the document, vector and code files (not of the FAISS files,
        which FAISS cannot parse safely when damaged). Anything wrong raises
        :class:`IndexFormatError` naming the file, verified or not. ``mmap=True`` maps the
        vector and code files read-only instead of reading them (less memory; the first
        ``add`` or ``remove`` copies them); FAISS files are read into memory
        (binary+rerank's scan is 16 bytes per document at 128 scan dims, and is rebuilt
        from the vectors, reading them all, when the folder lacks it).
        """
        opened = _persist.open_index(path, encoder, verify=verify, mmap=mmap)
        try:
            new = cls(opened.encoder, kind=opened.kind, **opened.settings)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise opened.invalid_settings(exc) from None
        lexical = _persist.read_lexical(opened)

        def encode(texts: list[str]) -> np.ndarray:
            return new._encode(texts, normalize=False, show_progress=False)

        new._store, new._engine = _persist.read_parts(opened, new._engine.settings, encode)
        new._lexical = lexical
        return new


def _check_alpha(alpha: Any) -> float:
    return check_float(alpha, "alpha", low=0.0, high=1.0)  # type: ignore[return-value]


def _as_texts(texts: Any, name: str) -> list[str]:
    """``texts`` (a str or an iterable of str) as a list; bytes and mappings refused.

    ``bytes`` would otherwise become a list of ints and a dict the list of its keys.
    """
    if isinstance(texts, (bytes, bytearray, memoryview, Mapping)):
        raise InvalidTypeError(
            f"{name} is {type(texts).__name__}; expected a str or an iterable of str"
        )
    try:
        return _text.as_list(texts, name)
    except TypeError as exc:
        if isinstance(exc, SememeError):
            raise
        raise InvalidTypeError(str(exc)) from None
