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
from .._validate import check_choice
from ..encoder import Encoder, pack_bits
from ..errors import InvalidArgumentError, InvalidTypeError, SememeError
from . import _persist
from ._common import (
    C_INT_MAX,
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
    describe,
    faiss_module,
    faiss_threads,
    family_of,
    hamming_score,
    id_list,
    is_id,
    ivf_of,
    normalise_metadata,
    shown,
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
            raise InvalidTypeError(
                f"encoder must be a sememe.Encoder, got {type(encoder).__name__}"
            )
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
        self._family = family_of(factory)
        if factory.startswith("B") != binary:
            hint = (
                "a binary factory such as 'BHNSW32'"
                if binary
                else "a float factory such as 'HNSW32'"
            )
            raise InvalidArgumentError(
                f"factory {factory!r} does not fit kind={kind!r}; use {hint}"
            )
        self._kind: str = kind
        self._factory = factory
        self.exact_limit = (
            DEFAULT_EXACT_LIMIT[kind]
            if exact_limit is None
            else check_positive("exact_limit", exact_limit)
        )
        self.ef_search = check_positive("ef_search", ef_search, True, C_INT_MAX)
        self.ef_construction = check_positive("ef_construction", ef_construction, False, C_INT_MAX)
        self.nprobe = check_positive("nprobe", nprobe, False, C_INT_MAX)
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
        self._scan_dims = scan_dims
        self.batch_size = check_positive("batch_size", batch_size, False)
        if show_progress is not None and not isinstance(show_progress, bool):
            raise InvalidTypeError(
                f"show_progress must be True, False or None, got {shown(show_progress)}"
            )
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
        # Blank documents: those whose vector is zero (empty and whitespace-only texts).
        # Their sign bits (all 0) look like a real code, so they are tracked here and kept
        # out of every first stage; _blank_rows lists the rows where _blank is true.
        self._blank = Rows((), np.bool_)
        self._blank_rows = np.zeros(0, np.int64)
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
        """``id in index``; ``False`` for anything that is not a str or int (``True``,
        ``1.0``, ``b"a"``, ``[1]``), as those can never be ids."""
        return is_id(doc_id) and check_id(doc_id, "id") in self._row_of

    def __repr__(self) -> str:
        return (
            f"Index(kind={self.kind!r}, documents={len(self):,}, dim={self._dim}, "
            f"structure={self.structure!r}, encoder={self._encoder.config.name!r})"
        )

    def get(self, doc_id: DocId) -> Hit:
        """The stored document ``doc_id`` as a :class:`Hit` with ``score=1.0``.

        An id of the wrong type (``None``, ``1.0``, ``b"a"``) raises
        :class:`~sememe.errors.InvalidTypeError`; an unknown one :class:`UnknownIdError`.
        """
        doc_id = check_id(doc_id, "id")
        with self._lock.read():
            row = self._row(doc_id)
            return Hit(self._ids[row], 1.0, self._texts[row], self._meta[row])

    def get_vectors(self, ids: Iterable[DocId]) -> np.ndarray:
        """Float vectors of the given documents, ``(n, dim)``, L2-normalised.

        Stored vectors for ``"float"`` and ``"binary+rerank"``; a ``"binary"`` index keeps
        only codes, so its texts are encoded again. ``ids`` is a list (or other iterable)
        of ids; for one document pass ``[id]``.
        """
        ids = id_list(ids, "ids", single=False)
        with self._lock.read():
            rows = np.fromiter((self._row(i) for i in ids), np.int64, len(ids))
            if self._vectors is not None:
                return self._vectors.view()[rows].copy()
            texts = [self._texts[r] for r in rows]
        return self._encode(texts, normalize=True)

    def _row(self, doc_id: DocId) -> int:
        """Row of an id already checked by :func:`check_id`."""
        row = self._row_of.get(doc_id)
        if row is None:
            raise UnknownIdError(f"id {doc_id!r} is not in the index")
        return row

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
        id_list_ = None if ids is None else self._check_new_ids(ids, n)
        if metadata is None:
            meta: list[dict[str, Any] | None] = [None] * n
        else:
            if isinstance(metadata, (str, bytes, bytearray, memoryview, Mapping)) or not (
                isinstance(metadata, Iterable)
            ):
                raise InvalidTypeError(
                    f"metadata is {describe(metadata)}; expected a list with one dict (or "
                    "None) per text"
                )
            meta = [normalise_metadata(m, f"metadata[{i}]") for i, m in enumerate(metadata)]
            if len(meta) != n:
                raise InvalidArgumentError(f"metadata has {len(meta)} entries for {n} texts")
        codes = None
        if vectors is not None:
            vectors = self._check_vectors(vectors, "vectors")
            if len(vectors) != n:
                raise InvalidArgumentError(f"vectors has {len(vectors)} rows for {n} texts")
            zero = ~vectors.any(axis=1)
            if self.kind != "float":
                codes = pack_bits(vectors) if n else np.zeros((0, self._dim // 8), np.uint8)
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
            if id_list_ is not None:
                for i, doc_id in enumerate(id_list_):
                    if doc_id in self._row_of:
                        raise InvalidArgumentError(f"ids[{i}] = {doc_id!r} is already in the index")
            undo = self._undo_point()
            try:
                added = self._auto_ids(n) if id_list_ is None else id_list_
                start = len(self._ids)
                self._ids.extend(added)
                self._texts.extend(texts)
                self._meta.extend(meta)
                self._row_of.update(zip(added, range(start, start + n), strict=True))
                if vectors is not None and self._vectors is not None:
                    self._vectors.append(vectors)
                if codes is not None and self._codes is not None:
                    self._codes.append(codes)
                self._blank.append(zero)
                if zero.any():
                    self._blank_rows = np.concatenate(
                        [self._blank_rows, start + np.flatnonzero(zero)]
                    )
                self._update_structure(start)
            except BaseException:
                self._restore(undo)
                raise
        return self

    def _undo_point(self) -> dict[str, Any]:
        """What :meth:`_restore` needs to undo a failed ``add``: sizes and counters."""
        structure = self._structure
        return {
            "n": len(self._ids),
            "next_auto": self._next_auto,
            "structure": structure,
            "ntotal": None if structure is None else structure.ntotal,
            "serials": self._serials,
            "serials_n": self._serials.n,
            "next_serial": self._next_serial,
            "dead": self._dead,
            "scan": self._scan,
            "scan_total": None if self._scan is None else self._scan.ntotal,
            "blank_rows": self._blank_rows,
        }

    def _restore(self, undo: dict[str, Any]) -> None:
        """Undo a failed ``add``: keep the rows and structure entries it found."""
        start = undo["n"]
        for doc_id in self._ids[start:]:
            self._row_of.pop(doc_id, None)
        del self._ids[start:], self._texts[start:], self._meta[start:]
        for arr in (self._vectors, self._codes, self._blank):
            if arr is not None:
                arr.n = min(arr.n, start)
        self._blank_rows = undo["blank_rows"]
        self._next_auto = undo["next_auto"]
        self._serials = undo["serials"]
        self._serials.n = min(self._serials.n, undo["serials_n"])
        self._next_serial = undo["next_serial"]
        self._dead = undo["dead"]
        self._alive_bitmap = None
        self._structure = structure = undo["structure"]
        if structure is not None and structure.ntotal != undo["ntotal"]:
            # FAISS took some of the new entries: take them out again (no rebuild, which
            # could fail for the same reason the add did)
            if self._family == "hnsw":
                old = np.zeros(undo["ntotal"], bool) if self._dead is None else self._dead
                extra = structure.ntotal - len(old)
                self._dead = np.concatenate([old, np.ones(extra, bool)])
                self._next_serial = structure.ntotal
            else:
                faiss = faiss_module()
                structure.remove_ids(faiss.IDSelectorRange(undo["next_serial"], 2**62))
        self._scan = undo["scan"]
        if self._scan is not None and self._scan.ntotal != undo["scan_total"]:
            self._rebuild_scan()

    def remove(self, ids: DocId | Iterable[DocId]) -> None:
        """Remove documents by id; all ids must be present (else nothing is removed).

        ``ids`` is one id (a str or int) or an iterable of them; anything else
        (``None``, ``b"ab"``, ``1.0``, a dict) raises
        :class:`~sememe.errors.InvalidTypeError` and removes nothing. Costs one pass over
        the stored vectors, so remove many ids in one call.
        """
        id_list_ = id_list(ids, "ids", single=True)
        with self._lock.write():
            rows = np.fromiter((self._row(i) for i in id_list_), np.int64, len(id_list_))
            rows = np.unique(rows)
            if not len(rows):
                return
            keep = np.ones(len(self._ids), bool)
            keep[rows] = False
            # Everything new is built before anything is replaced: a failure (memory)
            # leaves the index as it was.
            kept = np.flatnonzero(keep).tolist()
            new_ids = [self._ids[r] for r in kept]
            new_texts = [self._texts[r] for r in kept]
            new_meta = [self._meta[r] for r in kept]
            new_row_of = {doc_id: r for r, doc_id in enumerate(new_ids)}
            new_vectors = None if self._vectors is None else self._vectors.kept(keep)
            new_codes = None if self._codes is None else self._codes.kept(keep)
            new_blank = self._blank.kept(keep)
            new_scan = None
            if self._scan is not None and new_vectors is not None:
                new_scan = sign_scanner(self._scan_dims)
                self._extend_scan(0, new_scan, vectors=new_vectors.view())
            new_serials = None
            if self._structure is not None:
                new_serials = self._serials.kept(keep)
                self._forget_in_structure(self._serials.view()[rows])
                self._serials = new_serials
            self._ids, self._texts, self._meta = new_ids, new_texts, new_meta
            self._row_of = new_row_of
            self._vectors, self._codes = new_vectors, new_codes
            self._blank = new_blank
            self._blank_rows = np.flatnonzero(new_blank.view()).astype(np.int64)
            if new_scan is not None:
                self._scan = new_scan
            dead = self._dead
            if dead is not None and dead.sum() > REBUILD_FRACTION * len(dead):
                self._build_structure()

    def compact(self) -> None:
        """Rebuild the approximate structure without the entries of removed documents."""
        with self._lock.write():
            if self._structure is not None:
                self._build_structure()

    def _check_new_ids(self, ids: Iterable[DocId], n: int) -> list[DocId]:
        out = id_list(ids, "ids", single=False, what="a list with one id per text")
        if len(out) != n:
            raise InvalidArgumentError(f"ids has {len(out)} entries for {n} texts")
        seen: dict[DocId, int] = {}
        for i, doc_id in enumerate(out):
            first = seen.setdefault(doc_id, i)
            if first != i:
                raise InvalidArgumentError(
                    f"ids[{i}] repeats ids[{first}] ({doc_id!r}); ids must be unique"
                )
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
            return np.zeros((0, self._dim // 8), np.uint8), np.zeros(0, bool)
        if len(parts) == 1:
            return parts[0], zeros[0]
        return np.concatenate(parts), np.concatenate(zeros)

    # ------------------------------------------------------------------ the approximate structure
    def _first_stage_data(self) -> np.ndarray:
        """What the structure indexes: binary codes or float vectors."""
        arr = self._codes if self._codes is not None else self._vectors
        return arr.view()  # type: ignore[union-attr]  # every kind has one of them

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

    def _extend_scan(self, start: int, scan: Any = None, vectors: np.ndarray | None = None) -> None:
        """Add the sign bits of rows ``start:`` of the stored vectors (or of ``vectors``)
        to the first-stage scan (or to ``scan``), which holds the rows before ``start``."""
        scan = self._scan if scan is None else scan
        if vectors is None:
            vectors = self._vectors.view()  # type: ignore[union-attr]  # binary+rerank has them
        if scan.ntotal != start:
            raise RuntimeError(f"internal: scan holds {scan.ntotal} rows, expected {start}")
        dims = self._scan_dims
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
                raise InvalidArgumentError(
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
            if len(serials) and index.ntotal != serials[0]:
                raise RuntimeError(
                    f"internal: HNSW holds {index.ntotal} entries, next serial is {serials[0]}"
                )
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
        elif self._dead is not None:
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
        if not queries:
            return []
        if self.kind == "binary":
            qvec = None
            qcodes, qzero = self._encode_binary(queries, show_progress=False)
        else:
            qvec = self._encode(queries, normalize=True, show_progress=False)
            qzero = ~qvec.any(axis=1)
            qcodes = pack_bits(qvec) if self.kind == "binary+rerank" else None
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
                f"{name} cannot be read as a numeric array ({exc}); expected shape (n, {self._dim})"
            ) from None
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self._dim:
            raise InvalidArgumentError(
                f"{name} must have shape (n, {self._dim}), got {np.shape(vectors)}"
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
                        if not _is_in(value, want):
                            return False
                    elif value != want:
                        return False
                return True
        else:
            raise InvalidTypeError(
                f"where must be a dict or a function, got {type(where).__name__}"
            )
        empty: dict[str, Any] = {}
        return np.fromiter(
            (i for i, m in enumerate(self._meta) if test(empty if m is None else m)), np.int64
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
            scope = self._allowed_rows(where)
            if scope is None:
                rows = None
                blank_rows = self._blank_rows
                total = len(self._ids) - len(blank_rows)  # non-blank documents
            else:
                in_scope = self._blank.view()[scope]
                blank_rows = scope[in_scope]
                rows = scope[~in_scope] if len(blank_rows) else scope
                total = len(rows)
            out: list[list[Hit]] = [[] for _ in range(nq)]
            if total + len(blank_rows) == 0:
                return out
            k_real = min(k, total)
            live = np.flatnonzero(~qzero)
            if k_real and len(live):
                sub = slice(None) if len(live) == nq else live
                hits = self._search_live(
                    None if qvec is None else qvec[sub],
                    None if qcodes is None else qcodes[sub],
                    k_real,
                    rows,
                    len(blank_rows),
                    ef,
                    nprobe,
                    cand,
                )
                for i, h in zip(live.tolist(), hits, strict=True):
                    out[i] = h
            if k_real and len(live) < nq:
                first = self._first_rows(rows, k_real)
                for i in np.flatnonzero(qzero).tolist():
                    out[i] = self._zero_hits(first)
            if k > total and len(blank_rows):
                fill = self._zero_hits(blank_rows[: k - total])
                for h in out:
                    h.extend(fill)
            return out

    def _search_live(
        self,
        qvec: np.ndarray | None,
        qcodes: np.ndarray | None,
        k: int,
        rows: np.ndarray | None,
        blanks: int,
        ef: int | None,
        nprobe: int | None,
        cand: int,
    ) -> list[list[Hit]]:
        """First stage and re-scoring for non-blank queries over the non-blank documents.

        ``rows`` (already free of blank rows) restricts the search. Without ``rows`` every
        row is searched, the ``blanks`` blank rows included: they are dropped from the
        candidates, and a query left with fewer than ``k`` non-blank ones (rare: blank
        rows score 0, or a Hamming distance of half the bits) draws ``blanks`` more. So
        the usual query pays only a mask lookup on its candidates, never a cost that
        grows with the number of blank documents.
        """
        n = len(self._ids) if rows is None else len(rows)
        first_k = max(cand, k) if self.kind == "binary+rerank" else k
        first_k = min(first_k, n)
        cand_rows = self._first_stage(qvec, qcodes, first_k, rows, ef, nprobe)
        if blanks and rows is None and first_k < n:
            safe = cand_rows.clip(0)
            usable = ((cand_rows >= 0) & ~self._blank.view()[safe]).sum(1)
            short = np.flatnonzero(usable < k)
            if len(short):
                more = self._first_stage(
                    None if qvec is None else qvec[short],
                    None if qcodes is None else qcodes[short],
                    min(first_k + blanks, n),
                    rows,
                    ef,
                    nprobe,
                )
                hits = self._hits(*self._rescore(qvec, qcodes, cand_rows, k))
                again = self._hits(
                    *self._rescore(
                        None if qvec is None else qvec[short],
                        None if qcodes is None else qcodes[short],
                        more,
                        k,
                    )
                )
                for i, h in zip(short.tolist(), again, strict=True):
                    hits[i] = h
                return hits
        return self._hits(*self._rescore(qvec, qcodes, cand_rows, k))

    def _first_stage(
        self,
        qvec: np.ndarray | None,
        qcodes: np.ndarray | None,
        first_k: int,
        rows: np.ndarray | None,
        ef: int | None,
        nprobe: int | None,
    ) -> np.ndarray:
        """Candidate rows ``(nq, first_k)`` (``-1`` where fewer) from the structure or a scan."""
        n = len(self._ids) if rows is None else len(rows)
        nq = len(qvec) if qvec is not None else len(qcodes)  # type: ignore[arg-type]
        use_structure = self._structure is not None and (rows is None or n > self.exact_limit)
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
                return self._structure_search(query, first_k, rows, ef, nprobe)
            return self._exact_search(qvec, qcodes, first_k, rows)

    def _first_rows(self, rows: np.ndarray | None, k: int) -> np.ndarray:
        """The first ``k`` non-blank rows (of ``rows``, already free of blank rows)."""
        if rows is not None:
            return rows[:k]
        head = np.arange(min(len(self._ids), k + len(self._blank_rows)))
        if len(self._blank_rows):
            head = head[~self._blank.view()[head]]
        return head[:k]

    def _zero_hits(self, rows: np.ndarray) -> list[Hit]:
        ids, texts, meta = self._ids, self._texts, self._meta
        return [Hit(ids[r], 0.0, texts[r], meta[r]) for r in rows.tolist()]

    def _exact_search(
        self, qvec: np.ndarray | None, qcodes: np.ndarray | None, k: int, rows: np.ndarray | None
    ) -> np.ndarray:
        """Brute-force first stage over all rows (or ``rows``): candidate rows ``(nq, k)``."""
        faiss = faiss_module()
        if rows is None and self._scan is not None and qvec is not None:
            if k >= len(self._ids):  # every row is a candidate
                return np.broadcast_to(np.arange(len(self._ids)), (len(qvec), len(self._ids)))
            query = np.ascontiguousarray(qvec[:, : self._scan_dims])
            labels = self._scan.search(query, k)[1]
            short = (labels < 0).any(1)
            if short.any() and qcodes is not None and self._codes is not None:
                # A query whose leading dimensions are all zero scores every document 0,
                # and the fast scan then returns nothing: take Hamming order.
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
        """Exact scores of the candidate rows; the best ``k`` per query, best first.

        Blank rows among the candidates are dropped (score ``-inf``, like a missing one).
        """
        nq, c = cand.shape
        scores = np.full((nq, c), -np.inf, np.float32)
        valid = cand >= 0
        safe = np.where(valid, cand, 0)
        if len(self._blank_rows):
            valid &= ~self._blank.view()[safe]
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
        ``codes.npy``, ``blank.npy`` (rows of the blank documents), ``scan.faiss`` (the
        binary+rerank first stage), and the FAISS structure (``structure.faiss``,
        ``serials.npy``) when one is built. Everything is written to a temporary folder
        beside ``path`` and renamed into place, so ``path`` never holds a half-written
        index; a save killed mid-swap is completed by the next load. An existing ``path``
        is replaced only with ``overwrite=True`` and only if it is a sememe index folder
        (an empty folder is fine); anything else raises
        :class:`~sememe.errors.FolderExistsError`.
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
        return _persist.load_index(cls, path, encoder, verify=verify, mmap=mmap)


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


def _is_in(value: Any, want: Any) -> bool:
    """``value in want`` for a ``where`` filter, also for unhashable metadata values
    (a list in the metadata against a set of wanted values compares by equality)."""
    try:
        return value in want
    except TypeError:
        return any(value == w for w in want)
