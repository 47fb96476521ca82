"""The :class:`Index` class: documents, their vectors or codes, and search over them.

See the package docstring (:mod:`sememe.index`) for the kinds and the design.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, overload

import numpy as np

from .. import _text
from .._progress import progress as _progress
from ..encoder import Encoder, pack_bits
from . import _persist
from ._common import (
    DEFAULT_CANDIDATES,
    DEFAULT_EF_CONSTRUCTION,
    DEFAULT_EF_SEARCH,
    DEFAULT_EXACT_LIMIT,
    DEFAULT_FACTORY,
    DEFAULT_NPROBE,
    KINDS,
    REBUILD_FRACTION,
    DocId,
    Hit,
    Kind,
    Rows,
    RWLock,
    UnknownIdError,
    Where,
    check_id,
    check_positive,
    default_scan_dims,
    faiss_module,
    faiss_threads,
    family_of,
    hamming_score,
    ivf_of,
    normalise_metadata,
    sign_scanner,
)

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
    ) -> None:
        if encoder is None:
            from ..loading import load

            encoder = load()
        if not isinstance(encoder, Encoder):
            raise TypeError(f"encoder must be a sememe.Encoder, got {type(encoder).__name__}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}; got {kind!r}")
        if kind != "float" and encoder.dim % 8:
            raise ValueError(
                f"kind={kind!r} needs an encoder dim divisible by 8, got {encoder.dim}"
            )
        binary = kind != "float"
        factory = DEFAULT_FACTORY[kind] if factory is None else factory
        if not isinstance(factory, str):
            raise TypeError(f"factory must be a str, got {type(factory).__name__}")
        factory = factory.strip()
        self._family = family_of(factory)
        if factory.startswith("B") != binary:
            hint = (
                "a binary factory such as 'BHNSW32'"
                if binary
                else "a float factory such as 'HNSW32'"
            )
            raise ValueError(f"factory {factory!r} does not fit kind={kind!r}; use {hint}")
        self._kind: str = kind
        self._factory = factory
        self.exact_limit = (
            DEFAULT_EXACT_LIMIT[kind]
            if exact_limit is None
            else check_positive("exact_limit", exact_limit)
        )
        self.ef_search = check_positive("ef_search", ef_search)
        self.ef_construction = check_positive("ef_construction", ef_construction)
        self.nprobe = check_positive("nprobe", nprobe)
        self.candidates = check_positive("candidates", candidates)
        scan_dims = check_positive("scan_dims", scan_dims)
        if kind != "binary+rerank":
            if scan_dims is not None:
                raise ValueError(f"scan_dims applies to kind='binary+rerank' only, not {kind!r}")
        elif scan_dims is None:
            scan_dims = default_scan_dims(encoder.dim, encoder.config.matryoshka_dims)
        elif scan_dims > encoder.dim or scan_dims % 8:
            raise ValueError(
                f"scan_dims must be a multiple of 8 between 8 and dim={encoder.dim}, got {scan_dims}"
            )
        self._scan_dims = scan_dims
        self.batch_size = check_positive("batch_size", batch_size)
        self.show_progress = show_progress
        self._encoder = encoder
        self._dim = encoder.dim
        self._lock = RWLock()
        self._ids: list[DocId] = []
        self._texts: list[str] = []
        self._meta: list[dict[str, Any] | None] = []
        self._row_of: dict[DocId, int] = {}
        self._next_auto = 0
        self._vectors = Rows((self._dim,), np.float32) if kind != "binary" else None
        self._codes = Rows((self._dim // 8,), np.uint8) if binary else None
        # Approximate structure: FAISS labels are "serials"; serials[row] is sorted.
        self._structure: Any = None
        self._serials = Rows((), np.int64)
        self._next_serial = 0
        self._dead: np.ndarray | None = None  # HNSW entries of removed documents
        self._alive_bitmap: np.ndarray | None = None
        # binary+rerank's exact first stage (sign_scanner), one entry per row, kept while
        # there is no structure; FAISS labels are rows.
        self._scan: Any = sign_scanner(scan_dims) if scan_dims else None

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

    # ------------------------------------------------------------------ accessors
    @property
    def encoder(self) -> Encoder:
        """The encoder that embeds documents and queries."""
        return self._encoder

    @property
    def kind(self) -> str:
        """``"float"``, ``"binary"`` or ``"binary+rerank"``."""
        return self._kind

    @property
    def factory(self) -> str:
        """FAISS factory string of the structure used beyond ``exact_limit`` documents."""
        return self._factory

    @property
    def scan_dims(self) -> int | None:
        """``"binary+rerank"``: leading dimensions whose sign bits the first stage scores."""
        return self._scan_dims

    @property
    def dim(self) -> int:
        """Vector dimension (bits per binary code)."""
        return self._dim

    @property
    def ids(self) -> tuple[DocId, ...]:
        """Document ids in insertion order (a copy)."""
        with self._lock.read():
            return tuple(self._ids)

    @property
    def texts(self) -> tuple[str, ...]:
        """Document texts in insertion order (a copy)."""
        with self._lock.read():
            return tuple(self._texts)

    @property
    def structure(self) -> str:
        """What answers queries now: ``"exact"`` or the factory string in use."""
        return "exact" if self._structure is None else self.factory

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, doc_id: object) -> bool:
        try:
            return doc_id in self._row_of
        except TypeError:
            return False

    def __repr__(self) -> str:
        return (
            f"Index(kind={self.kind!r}, documents={len(self):,}, dim={self._dim}, "
            f"structure={self.structure!r}, encoder={self._encoder.config.name!r})"
        )

    def get(self, doc_id: DocId) -> Hit:
        """The stored document ``doc_id`` as a :class:`Hit` with ``score=1.0``."""
        with self._lock.read():
            row = self._row(doc_id)
            return Hit(self._ids[row], 1.0, self._texts[row], self._meta[row])

    def get_vectors(self, ids: Iterable[DocId]) -> np.ndarray:
        """Float vectors of the given documents, ``(n, dim)``, L2-normalised.

        Stored vectors for ``"float"`` and ``"binary+rerank"``; a ``"binary"`` index keeps
        only codes, so its texts are encoded again.
        """
        ids = list(ids)
        with self._lock.read():
            rows = np.fromiter((self._row(i) for i in ids), np.int64, len(ids))
            if self._vectors is not None:
                return self._vectors.view()[rows].copy()
            texts = [self._texts[r] for r in rows]
        return self._encode(texts, normalize=True)

    def _row(self, doc_id: Any) -> int:
        try:
            return self._row_of[doc_id]
        except (KeyError, TypeError):
            raise UnknownIdError(f"id {doc_id!r} is not in the index") from None

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
        caller has them already; they are not checked against the texts. Nothing is
        changed if any input is invalid (a non-str text, a repeated or known id,
        mismatched lengths).
        """
        texts = _text.as_list(texts, "texts")
        n = len(texts)
        id_list = None if ids is None else self._check_new_ids(ids, n)
        if metadata is None:
            meta: list[dict[str, Any] | None] = [None] * n
        else:
            if isinstance(metadata, Mapping):
                raise TypeError("metadata must be a list with one dict (or None) per text")
            meta = [normalise_metadata(m, f"metadata[{i}]") for i, m in enumerate(metadata)]
            if len(meta) != n:
                raise ValueError(f"metadata has {len(meta)} entries for {n} texts")
        codes = None
        if vectors is not None:
            vectors = self._check_vectors(vectors, "vectors")
            if len(vectors) != n:
                raise ValueError(f"vectors has {len(vectors)} rows for {n} texts")
            if self.kind != "float":
                codes = pack_bits(vectors) if n else np.zeros((0, self._dim // 8), np.uint8)
            if self.kind == "binary":
                vectors = None
        elif self.kind == "binary":
            codes = self._encode_binary(texts)
        else:
            vectors = self._encode(texts, normalize=True)
            if self.kind == "binary+rerank":
                # Same bits as Encoder.encode_binary (signs do not change with scaling);
                # avoids encoding the texts twice.
                codes = pack_bits(vectors)
        with self._lock.write():
            auto = self._next_auto  # restored if the add fails: no ids are used up
            if id_list is None:
                id_list = self._auto_ids(n)
            else:
                for i, doc_id in enumerate(id_list):
                    if doc_id in self._row_of:
                        raise ValueError(f"ids[{i}] = {doc_id!r} is already in the index")
            start = len(self._ids)
            self._ids.extend(id_list)
            self._texts.extend(texts)
            self._meta.extend(meta)
            self._row_of.update(zip(id_list, range(start, start + n), strict=True))
            if vectors is not None and self._vectors is not None:
                self._vectors.append(vectors)
            if codes is not None and self._codes is not None:
                self._codes.append(codes)
            try:
                self._update_structure(start)
            except BaseException:
                self._next_auto = auto
                self._truncate(start, id_list)
                raise
        return self

    def _truncate(self, start: int, added: list[DocId]) -> None:
        """Undo an add whose structure update failed: keep rows ``:start``."""
        del self._ids[start:], self._texts[start:], self._meta[start:]
        for doc_id in added:
            self._row_of.pop(doc_id, None)
        for arr in (self._vectors, self._codes):
            if arr is not None:
                arr.n = min(arr.n, start)
        if self._scan is not None and self._scan.ntotal > start:
            self._rebuild_scan()

    def remove(self, ids: DocId | Iterable[DocId]) -> None:
        """Remove documents by id; all ids must be present (else nothing is removed).

        Costs one pass over the stored vectors, so remove many ids in one call.
        """
        id_list = [ids] if isinstance(ids, (str, int, np.integer)) else list(ids)
        with self._lock.write():
            rows = np.fromiter((self._row(i) for i in id_list), np.int64, len(id_list))
            rows = np.unique(rows)
            if not len(rows):
                return
            keep = np.ones(len(self._ids), bool)
            keep[rows] = False
            if self._structure is not None:
                self._forget_in_structure(self._serials.view()[rows])
                self._serials.keep(keep)
            for arr in (self._vectors, self._codes):
                if arr is not None:
                    arr.keep(keep)
            kept = np.flatnonzero(keep).tolist()
            self._ids = [self._ids[r] for r in kept]
            self._texts = [self._texts[r] for r in kept]
            self._meta = [self._meta[r] for r in kept]
            self._row_of = {doc_id: r for r, doc_id in enumerate(self._ids)}
            if self._scan is not None:
                self._rebuild_scan()
            dead = self._dead
            if dead is not None and dead.sum() > REBUILD_FRACTION * len(dead):
                self._build_structure()

    def compact(self) -> None:
        """Rebuild the approximate structure without the entries of removed documents."""
        with self._lock.write():
            if self._structure is not None:
                self._build_structure()

    def _check_new_ids(self, ids: Iterable[DocId], n: int) -> list[DocId]:
        if isinstance(ids, (str, int)):
            raise TypeError("ids must be a list with one id per text")
        out = [check_id(v, f"ids[{i}]") for i, v in enumerate(ids)]
        if len(out) != n:
            raise ValueError(f"ids has {len(out)} entries for {n} texts")
        seen: dict[DocId, int] = {}
        for i, doc_id in enumerate(out):
            first = seen.setdefault(doc_id, i)
            if first != i:
                raise ValueError(f"ids[{i}] repeats ids[{first}] ({doc_id!r}); ids must be unique")
        return out

    def _auto_ids(self, n: int) -> list[DocId]:
        """The next ``n`` integers (from a counter) that are not in use as ids."""
        out: list[DocId] = []
        nxt = self._next_auto
        while len(out) < n:
            if nxt not in self._row_of:
                out.append(nxt)
            nxt += 1
        self._next_auto = nxt
        return out

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
            return np.zeros((0, self._dim), np.float32)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _encode_chunk(self, chunk: list[str], normalize: bool) -> np.ndarray:
        enc = self._encoder
        return enc.encode(
            chunk, batch_size=self.batch_size, normalize=normalize, show_progress=False
        )

    def _encode_binary(self, texts: list[str], show_progress: bool | None = None) -> np.ndarray:
        enc = self._encoder
        parts = []
        show = self.show_progress if show_progress is None else show_progress
        with _progress(len(texts), show, "index") as bar:
            for start in range(0, len(texts), _ENCODE_CHUNK):
                chunk = texts[start : start + _ENCODE_CHUNK]
                parts.append(
                    enc.encode_binary(chunk, batch_size=self.batch_size, show_progress=False)
                )
                bar.update(len(chunk))
        if not parts:
            return np.zeros((0, self._dim // 8), np.uint8)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    # ------------------------------------------------------------------ the approximate structure
    def _first_stage_data(self) -> np.ndarray:
        """What the structure indexes: binary codes or float vectors."""
        arr = self._codes if self._codes is not None else self._vectors
        assert arr is not None
        return arr.view()

    def _update_structure(self, start: int) -> None:
        """After rows ``start:`` were appended: build, extend or leave the structure."""
        if self._structure is None:
            if self._family != "flat" and len(self._ids) > self.exact_limit:
                self._build_structure()
            elif self._scan is not None:
                self._extend_scan(start)
            return
        data = self._first_stage_data()[start:]
        if not len(data):
            return
        first = self._next_serial
        serials = np.arange(first, first + len(data), dtype=np.int64)
        self._next_serial = first + len(data)
        self._add_to_structure(self._structure, data, serials)
        self._serials.append(serials)
        if self._dead is not None:
            self._dead = np.concatenate([self._dead, np.zeros(len(data), bool)])
        self._alive_bitmap = None

    def _extend_scan(self, start: int, scan: Any = None) -> None:
        """Add the sign bits of rows ``start:`` to the first-stage scan (or to ``scan``)."""
        scan = self._scan if scan is None else scan
        assert self._vectors is not None and scan.ntotal == start
        vectors, dims = self._vectors.view(), self._scan_dims
        for s in range(start, len(vectors), _ENCODE_CHUNK):
            scan.add(np.ascontiguousarray(vectors[s : s + _ENCODE_CHUNK, :dims]))

    def _rebuild_scan(self) -> None:
        """A new first-stage scan over the stored rows.

        Used instead of FAISS's ``remove_ids``: on a fast-scan index it leaves stale bits
        in the last block that corrupt the codes of later additions (FAISS 1.15).
        """
        scan = sign_scanner(self._scan_dims)
        self._extend_scan(0, scan)
        self._scan = scan  # only once complete: a failure leaves the previous scan

    def _new_structure(self, data: np.ndarray) -> Any:
        faiss = faiss_module()
        if self.factory.startswith("B"):
            index = faiss.index_binary_factory(self._dim, self.factory)
        else:
            index = faiss.index_factory(self._dim, self.factory, faiss.METRIC_INNER_PRODUCT)
        if self._family == "hnsw":
            index.hnsw.efConstruction = self.ef_construction
        if not index.is_trained:
            nlist = int(getattr(index, "nlist", 0) or getattr(ivf_of(index), "nlist", 0))
            if len(data) < nlist:
                raise ValueError(
                    f"factory {self.factory!r} needs at least {nlist} documents to train, the "
                    f"index has {len(data)}; use fewer lists or a larger exact_limit"
                )
            size = max(100_000, 50 * nlist)
            rng = np.random.default_rng(0)
            sample = (
                data
                if len(data) <= size
                else data[np.sort(rng.choice(len(data), size, replace=False))]
            )
            index.train(np.ascontiguousarray(sample))
        return index

    def _add_to_structure(self, index: Any, data: np.ndarray, serials: np.ndarray) -> None:
        data = np.ascontiguousarray(data)
        if self._family == "ivf":
            index.add_with_ids(data, serials)
        else:  # HNSW labels are insertion positions, which is what serials are
            assert index.ntotal == serials[0] if len(serials) else True
            index.add(data)

    def _build_structure(self) -> None:
        data = self._first_stage_data()
        structure = self._new_structure(data)
        serials = np.arange(len(data), dtype=np.int64)
        if len(data):
            self._add_to_structure(structure, data, serials)
        self._structure = structure
        self._serials = Rows((), np.int64, serials)
        self._next_serial = len(data)
        self._dead = np.zeros(len(data), bool) if self._family == "hnsw" else None
        self._alive_bitmap = None
        self._scan = None  # the structure proposes the candidates from now on

    def _forget_in_structure(self, serials: np.ndarray) -> None:
        if self._family == "ivf":
            self._structure.remove_ids(faiss_module().IDSelectorBatch(serials.astype(np.int64)))
        else:
            assert self._dead is not None
            self._dead[serials] = True
        self._alive_bitmap = None

    def _selector_bitmap(self, rows: np.ndarray | None) -> np.ndarray | None:
        """Packed bitmap (FAISS IDSelectorBitmap layout) of the serials that may be returned."""
        if rows is None:
            if self._dead is None or not self._dead.any():
                return None
            if self._alive_bitmap is None:
                self._alive_bitmap = np.packbits(~self._dead, bitorder="little")
            return self._alive_bitmap
        mask = np.zeros(self._next_serial, bool)
        mask[self._serials.view()[rows]] = True
        return np.packbits(mask, bitorder="little")

    def _structure_search(
        self,
        queries: np.ndarray,
        k: int,
        rows: np.ndarray | None,
        ef: int | None,
        nprobe: int | None,
    ) -> np.ndarray:
        """Candidate rows ``(nq, k)`` from the structure, ``-1`` where there are fewer."""
        faiss = faiss_module()
        index = self._structure
        bitmap = self._selector_bitmap(rows)
        sel = (
            None
            if bitmap is None
            else faiss.IDSelectorBitmap(self._next_serial, faiss.swig_ptr(bitmap))
        )
        if self._family == "hnsw":
            params = faiss.SearchParametersHNSW()
            default = DEFAULT_EF_SEARCH if self.kind == "float" else k
            params.efSearch = max(ef or self.ef_search or default, k)
        else:
            params = faiss.SearchParametersIVF()
            params.nprobe = nprobe or self.nprobe
        if sel is not None:
            params.sel = sel
        k = min(k, index.ntotal)
        _, labels = index.search(np.ascontiguousarray(queries), k, params=params)
        serials = self._serials.view()
        pos = np.searchsorted(serials, labels).clip(0, max(len(serials) - 1, 0))
        ok = (labels >= 0) & (serials[pos] == labels) if len(serials) else labels < -1
        return np.where(ok, pos, -1)

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
    ) -> list[Hit] | list[list[Hit]]:
        """The ``k`` documents closest to ``query``, best first.

        A ``str`` gives a list of :class:`Hit`; a list of strings gives one list per
        query. Fewer than ``k`` hits come back when the index (or the filtered part of
        it) is smaller. ``where`` keeps only documents whose metadata matches: a dict
        (every key equal to the value, or in it when the value is a list, tuple or set)
        or a function ``metadata -> bool`` (documents without metadata get ``{}``).
        ``ef_search``, ``nprobe`` and ``candidates`` override the index's settings for
        this call.
        """
        single = isinstance(query, str)
        if not single and (
            query is None or isinstance(query, (bytes, Mapping)) or not isinstance(query, Iterable)
        ):
            raise TypeError(
                f"query is {'None' if query is None else type(query).__name__}; expected str or a list of str"
            )
        queries = _text.as_list(query, "query" if single else "queries")
        k = self._check_k(k)
        if not queries:
            return []
        if self.kind == "binary":
            qvec = None
            qcodes = self._encode_binary(queries, show_progress=False)
        else:
            qvec = self._encode(queries, normalize=True, show_progress=False)
            qcodes = pack_bits(qvec) if self.kind == "binary+rerank" else None
        out = self._search(qvec, qcodes, k, where, ef_search, nprobe, candidates)
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
        rows L2-normalised; ``"binary"`` takes their sign bits.
        """
        qvec = self._check_vectors(vectors, "vectors")
        k = self._check_k(k)
        if not len(qvec):
            return []
        qcodes = pack_bits(qvec) if self.kind != "float" else None
        if self.kind == "binary":
            qvec = None
        return self._search(qvec, qcodes, k, where, ef_search, nprobe, candidates)

    def _check_vectors(self, vectors: Any, name: str) -> np.ndarray:
        """``vectors`` as C-contiguous float32 ``(n, dim)`` rows, L2-normalised."""
        arr = np.asarray(vectors)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self._dim:
            raise ValueError(f"{name} must have shape (n, {self._dim}), got {np.shape(vectors)}")
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        out = np.array(arr, dtype=np.float32, order="C")
        if not np.isfinite(out).all():
            raise ValueError(f"{name} contain NaN or infinity")
        norms = np.sqrt(np.einsum("ij,ij->i", out, out))
        fix = (np.abs(norms - 1.0) > 1e-4) & (norms > 0)  # leave normalised rows bit-exact
        if fix.any():
            out[fix] /= norms[fix, None]
        return out

    @staticmethod
    def _check_k(k: Any) -> int:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"k must be an int, got {type(k).__name__}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        return int(k)

    def _allowed_rows(self, where: Where | None) -> np.ndarray | None:
        if where is None:
            return None
        if callable(where):
            test = where
        elif isinstance(where, Mapping):
            conditions = list(where.items())

            def test(meta: dict[str, Any]) -> bool:
                for key, want in conditions:
                    if key not in meta:
                        return False
                    value = meta[key]
                    if isinstance(want, (list, tuple, set, frozenset)):
                        if value not in want:
                            return False
                    elif value != want:
                        return False
                return True
        else:
            raise TypeError(f"where must be a dict or a function, got {type(where).__name__}")
        empty: dict[str, Any] = {}
        return np.fromiter(
            (i for i, m in enumerate(self._meta) if test(empty if m is None else m)), np.int64
        )

    def _search(
        self,
        qvec: np.ndarray | None,
        qcodes: np.ndarray | None,
        k: int,
        where: Where | None,
        ef: int | None,
        nprobe: int | None,
        candidates: int | None,
    ) -> list[list[Hit]]:
        ef = check_positive("ef_search", ef)
        nprobe = check_positive("nprobe", nprobe)
        cand = check_positive("candidates", candidates) or self.candidates
        nq = len(qvec) if qvec is not None else len(qcodes)  # type: ignore[arg-type]
        with self._lock.read():
            rows = self._allowed_rows(where)
            total = len(self._ids) if rows is None else len(rows)
            if total == 0:
                return [[] for _ in range(nq)]
            k = min(k, total)
            first_k = max(cand, k) if self.kind == "binary+rerank" else k
            first_k = min(first_k, total)
            use_structure = self._structure is not None and (
                rows is None or total > self.exact_limit
            )
            if (
                use_structure
                and self._family == "ivf"
                and rows is not None
                and self.factory.startswith("B")
            ):
                use_structure = False  # FAISS binary IVF cannot filter by id
            with faiss_threads(1 if nq == 1 else None):
                if use_structure:
                    query = qcodes if self.kind != "float" else qvec
                    cand_rows = self._structure_search(query, first_k, rows, ef, nprobe)
                else:
                    cand_rows = self._exact_search(qvec, qcodes, first_k, rows)
            scores, top = self._rescore(qvec, qcodes, cand_rows, k)
            return self._hits(scores, top)

    def _exact_search(
        self, qvec: np.ndarray | None, qcodes: np.ndarray | None, k: int, rows: np.ndarray | None
    ) -> np.ndarray:
        """Brute-force first stage over all rows (or ``rows``): candidate rows ``(nq, k)``."""
        faiss = faiss_module()
        if rows is None and self._scan is not None:
            assert qvec is not None and self._scan.ntotal == len(self._ids)
            if k >= len(self._ids):  # every row is a candidate
                return np.broadcast_to(np.arange(len(self._ids)), (len(qvec), len(self._ids)))
            query = np.ascontiguousarray(qvec[:, : self._scan_dims])
            labels = self._scan.search(query, k)[1]
            short = (labels < 0).any(1)
            if short.any():
                # A query whose leading dimensions are all zero (an empty text) scores every
                # document 0, and the fast scan then returns nothing: take Hamming order.
                assert qcodes is not None and self._codes is not None
                _, ham = faiss.knn_hamming(
                    np.ascontiguousarray(qcodes[short]), self._codes.view(), k
                )
                labels[short] = ham
            return labels
        if self.kind == "float":
            base = self._vectors.view() if rows is None else self._vectors.view()[rows]  # type: ignore[union-attr]
            _, labels = faiss.knn(qvec, base, k, faiss.METRIC_INNER_PRODUCT)
        else:
            base = self._codes.view() if rows is None else self._codes.view()[rows]  # type: ignore[union-attr]
            # The counting variant is faster than the heap one for many candidates.
            variant = "mc" if k >= 64 else "hc"
            _, labels = faiss.knn_hamming(
                np.ascontiguousarray(qcodes), np.ascontiguousarray(base), k, variant=variant
            )
        labels = labels.astype(np.int64, copy=False)
        if rows is not None:
            labels = np.where(labels >= 0, rows[labels.clip(0)], -1)
        return labels

    def _rescore(
        self, qvec: np.ndarray | None, qcodes: np.ndarray | None, cand: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of the candidate rows; the best ``k`` per query, best first."""
        nq, c = cand.shape
        scores = np.full((nq, c), -np.inf, np.float32)
        valid = cand >= 0
        safe = np.where(valid, cand, 0)
        block = max(1, (4 << 20) // max(c * self._dim, 1))  # ~16 MB of gathered rows
        for s in range(0, nq, block):
            e = min(nq, s + block)
            if self.kind == "binary":
                codes = self._codes.view()[safe[s:e]]  # type: ignore[union-attr]
                dist = np.bitwise_count(np.bitwise_xor(codes, qcodes[s:e, None, :])).sum(
                    -1, dtype=np.int32
                )  # type: ignore[index]
                scores[s:e] = hamming_score(dist, self._dim)
            else:
                vecs = np.take(self._vectors.view(), safe[s:e], axis=0)  # type: ignore[union-attr]
                # einsum, not matmul: a score must not depend on the number of candidates
                scores[s:e] = np.einsum("qcd,qd->qc", vecs, qvec[s:e])  # type: ignore[index]
        scores[~valid] = -np.inf
        if c > k:
            part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(c), (nq, c))
        part_scores = np.take_along_axis(scores, part, 1)
        part_rows = np.take_along_axis(cand, part, 1)
        # Best first; ties by row (insertion order) so results are deterministic.
        order = np.lexsort((part_rows, -part_scores), axis=1)
        return np.take_along_axis(part_scores, order, 1), np.take_along_axis(part_rows, order, 1)

    def _hits(self, scores: np.ndarray, rows: np.ndarray) -> list[list[Hit]]:
        ids, texts, meta = self._ids, self._texts, self._meta
        out = []
        for srow, rrow in zip(scores.tolist(), rows.tolist(), strict=True):
            out.append(
                [
                    Hit(ids[r], s, texts[r], meta[r])
                    for s, r in zip(srow, rrow, strict=True)
                    if r >= 0 and s != -math.inf
                ]
            )
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the index to folder ``path`` atomically; returns the path.

        Files: ``manifest.json`` (settings, encoder fingerprint, SHA-256 of every file),
        ``docs.jsonl`` (id, text, metadata per line), ``vectors.npy`` and/or
        ``codes.npy``, ``scan.faiss`` (the binary+rerank first stage), and the FAISS
        structure (``structure.faiss``, ``serials.npy``) when one is built. Everything is written to a temporary folder beside ``path``
        and renamed into place, so ``path`` never holds a half-written index. An existing
        ``path`` is replaced only with ``overwrite=True`` and only if it is an index.
        """
        return _persist.save_index(self, path, overwrite=overwrite)

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
        with. ``verify`` checks every file's SHA-256. ``mmap=True`` maps the vector and
        code files read-only instead of reading them (less memory; the first ``add`` or
        ``remove`` copies them); FAISS files are read into memory (binary+rerank's scan
        is 16 bytes per document at 128 scan dims, and is rebuilt from the vectors, reading
        them all, when the folder lacks it).
        """
        return _persist.load_index(cls, path, encoder, verify=verify, mmap=mmap)
