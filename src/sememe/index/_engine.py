"""The FAISS engine of an index: vectors and codes by row, and the search over them.

The engine keeps every kind's source of truth (float vectors and/or packed sign bits, one
row per document, in the document store's row order) and answers "which rows are closest
to these queries": an exact first stage (FAISS brute force, or binary+rerank's sign-bit
fast scan), or beyond ``exact_limit`` rows an approximate FAISS structure built from the
factory string, then exact re-scoring of the candidates. It owns the structure's labels
("serials"), the removal of rows (IVF ``remove_ids``, HNSW dead entries, rebuilt once
:data:`REBUILD_FRACTION` of the graph is dead), and its own files (:meth:`Engine.to_files`,
:meth:`Engine.from_files`).

The engine knows nothing of ids or texts. Blank rows (zero vectors) are the document
store's; searches take its blank mask so that blank candidates are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import _progress
from ..errors import InvalidArgumentError
from . import _files
from ._common import (
    DEFAULT_EF_SEARCH,
    REBUILD_FRACTION,
    IndexFormatError,
    Rows,
    faiss_module,
    faiss_threads,
    family_of,
    hamming_score,
    ivf_of,
    sign_centroids,
    sign_scanner,
)

#: Rows added to the binary+rerank scan per FAISS call.
_CHUNK = 65_536
#: Rows added to an approximate structure per FAISS call (the unit of its progress bar:
#: an HNSW block of this size takes a few seconds on two cores).
_ADD_BLOCK = 16_384
#: Queries searched per first-stage call (the unit of the "searching" bar).
_SEARCH_BLOCK = 4_096


@dataclass
class EngineSettings:
    """What the engine is and how it searches; checked by :class:`~sememe.index.Index`.

    ``kind``, ``dim``, ``factory`` and ``scan_dims`` are fixed; the tunables
    (``exact_limit``, ``ef_search``, ``ef_construction``, ``nprobe``) may be changed
    between calls (they are the index's public attributes).
    """

    kind: str
    dim: int
    factory: str
    scan_dims: int | None
    exact_limit: int
    ef_search: int | None
    ef_construction: int
    nprobe: int

    @property
    def family(self) -> str:
        return family_of(self.factory)

    @property
    def binary_factory(self) -> bool:
        return self.factory.startswith("B")


class Engine:
    """Vectors/codes by row, the first stages (exact scan or FAISS structure), re-scoring."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.family = settings.family
        kind, dim = settings.kind, settings.dim
        self.vectors: Rows | None = Rows((dim,), np.float32) if kind != "binary" else None
        self.codes: Rows | None = Rows((dim // 8,), np.uint8) if kind != "float" else None
        # Approximate structure: FAISS labels are "serials"; serials[row] is sorted.
        self.structure: Any = None
        self.serials = Rows((), np.int64)
        self.next_serial = 0
        self.dead: np.ndarray | None = None  # HNSW entries of removed documents
        self._alive_bitmap: np.ndarray | None = None
        # binary+rerank's exact first stage (sign_scanner), one entry per row, kept while
        # there is no structure; FAISS labels are rows.
        self.scan: Any = sign_scanner(settings.scan_dims) if settings.scan_dims else None

    def __len__(self) -> int:
        arr = self.codes if self.codes is not None else self.vectors
        return arr.n  # type: ignore[union-attr]  # every kind has one of them

    @property
    def structure_name(self) -> str:
        """``"exact"`` or the factory string of the structure in use."""
        return "exact" if self.structure is None else self.settings.factory

    def vectors_of(self, rows: np.ndarray) -> np.ndarray:
        """A copy of the float vectors of ``rows`` (kinds that keep them)."""
        return self.vectors.view()[rows].copy()  # type: ignore[union-attr]

    # ------------------------------------------------------------------ adding
    def append(self, vectors: np.ndarray | None, codes: np.ndarray | None) -> None:
        """Append rows (the kind's vectors and/or codes), then build, extend or leave the
        structure. A failure may leave the engine part way: undo with :meth:`restore`."""
        start = len(self)
        if vectors is not None and self.vectors is not None:
            self.vectors.append(vectors)
        if codes is not None and self.codes is not None:
            self.codes.append(codes)
        self._update_structure(start)

    def undo_point(self) -> dict[str, Any]:
        """What :meth:`restore` needs to undo a failed :meth:`append`."""
        structure = self.structure
        return {
            "n": len(self),
            "structure": structure,
            "ntotal": None if structure is None else structure.ntotal,
            "serials": self.serials,
            "serials_n": self.serials.n,
            "next_serial": self.next_serial,
            "dead": self.dead,
            "scan": self.scan,
            "scan_total": None if self.scan is None else self.scan.ntotal,
        }

    def restore(self, undo: dict[str, Any]) -> None:
        """Undo a failed :meth:`append`: keep the rows and structure entries it found."""
        start = undo["n"]
        for arr in (self.vectors, self.codes):
            if arr is not None:
                arr.n = min(arr.n, start)
        self.serials = undo["serials"]
        self.serials.n = min(self.serials.n, undo["serials_n"])
        self.next_serial = undo["next_serial"]
        self.dead = undo["dead"]
        self._alive_bitmap = None
        self.structure = structure = undo["structure"]
        if structure is not None and structure.ntotal != undo["ntotal"]:
            # FAISS took some of the new entries: take them out again (no rebuild, which
            # could fail for the same reason the add did)
            if self.family == "hnsw":
                old = np.zeros(undo["ntotal"], bool) if self.dead is None else self.dead
                extra = structure.ntotal - len(old)
                self.dead = np.concatenate([old, np.ones(extra, bool)])
                self.next_serial = structure.ntotal
            else:
                faiss = faiss_module()
                structure.remove_ids(faiss.IDSelectorRange(undo["next_serial"], 2**62))
        self.scan = undo["scan"]
        if self.scan is not None and self.scan.ntotal != undo["scan_total"]:
            self.rebuild_scan()

    def _first_stage_data(self) -> np.ndarray:
        """What the structure indexes: binary codes or float vectors."""
        arr = self.codes if self.codes is not None else self.vectors
        return arr.view()  # type: ignore[union-attr]  # every kind has one of them

    def _update_structure(self, start: int) -> None:
        """After rows ``start:`` were appended: build, extend or leave the structure."""
        if self.structure is None:
            if self.family != "flat" and len(self) > self.settings.exact_limit:
                self.build_structure()
            elif self.scan is not None:
                self.extend_scan(start)
            return
        data = self._first_stage_data()[start:]
        if not len(data):
            return
        first = self.next_serial
        serials = np.arange(first, first + len(data), dtype=np.int64)
        self.next_serial = first + len(data)
        self.add_to_structure(self.structure, data, serials)
        self.serials.append(serials)
        if self.dead is not None:
            self.dead = np.concatenate([self.dead, np.zeros(len(data), bool)])
        self._alive_bitmap = None

    def extend_scan(self, start: int, scan: Any = None, vectors: np.ndarray | None = None) -> None:
        """Add the sign bits of rows ``start:`` of the stored vectors (or of ``vectors``)
        to the first-stage scan (or to ``scan``), which holds the rows before ``start``."""
        scan = self.scan if scan is None else scan
        if vectors is None:
            vectors = self.vectors.view()  # type: ignore[union-attr]  # binary+rerank has them
        if scan.ntotal != start:
            raise RuntimeError(f"internal: scan holds {scan.ntotal} rows, expected {start}")
        dims = self.settings.scan_dims
        for s in range(start, len(vectors), _CHUNK):
            scan.add(np.ascontiguousarray(vectors[s : s + _CHUNK, :dims]))

    def rebuild_scan(self) -> None:
        """A new first-stage scan over the stored rows.

        Used instead of FAISS's ``remove_ids``: on a fast-scan index it leaves stale bits
        in the last block that corrupt the codes of later additions (FAISS 1.15).
        """
        scan = sign_scanner(self.settings.scan_dims)
        self.extend_scan(0, scan)
        self.scan = scan  # only once complete: a failure leaves the previous scan

    def new_structure(self, data: np.ndarray) -> Any:
        """An empty (trained) FAISS structure of the factory for ``data``."""
        faiss = faiss_module()
        factory, dim = self.settings.factory, self.settings.dim
        if self.settings.binary_factory:
            index = faiss.index_binary_factory(dim, factory)
        else:
            index = faiss.index_factory(dim, factory, faiss.METRIC_INNER_PRODUCT)
        if self.family == "hnsw":
            index.hnsw.efConstruction = self.settings.ef_construction
        if not index.is_trained:
            nlist = int(getattr(index, "nlist", 0) or getattr(ivf_of(index), "nlist", 0))
            if len(data) < nlist:
                raise InvalidArgumentError(
                    f"factory {factory!r} needs at least {nlist} documents to train, the "
                    f"index has {len(data)}; use fewer lists or a larger exact_limit"
                )
            size = max(100_000, 50 * nlist)
            rng = np.random.default_rng(0)
            sample = (
                data
                if len(data) <= size
                else data[np.sort(rng.choice(len(data), size, replace=False))]
            )
            with _progress.ticking("training the index"):
                index.train(np.ascontiguousarray(sample))
        return index

    def add_to_structure(self, index: Any, data: np.ndarray, serials: np.ndarray) -> None:
        """Add ``data`` to the FAISS structure ``index`` under the labels ``serials``.

        Rows go in blocks of :data:`_ADD_BLOCK`, each block one FAISS call, so that a
        long build reports its progress ("building the index", per block) inside a
        CLI's progress scope (:func:`sememe._progress.phase`; silent otherwise). Every
        input is added in the same blocks whether or not a bar is shown, so the
        structure never depends on the terminal.
        """
        if self.family != "ivf" and len(serials) and index.ntotal != serials[0]:
            # HNSW labels are insertion positions, which is what serials are
            raise RuntimeError(
                f"internal: HNSW holds {index.ntotal} entries, next serial is {serials[0]}"
            )
        with _progress.phase("building the index", len(data), unit="vector") as bar:
            for s in range(0, len(data), _ADD_BLOCK):
                block = np.ascontiguousarray(data[s : s + _ADD_BLOCK])
                if self.family == "ivf":
                    index.add_with_ids(block, np.ascontiguousarray(serials[s : s + _ADD_BLOCK]))
                else:
                    index.add(block)
                bar.update(len(block))

    def build_structure(self) -> None:
        """A new structure over every row (replacing the scan and any older structure)."""
        data = self._first_stage_data()
        structure = self.new_structure(data)
        serials = np.arange(len(data), dtype=np.int64)
        if len(data):
            self.add_to_structure(structure, data, serials)
        self.structure = structure
        self.serials = Rows((), np.int64, serials)
        self.next_serial = len(data)
        self.dead = np.zeros(len(data), bool) if self.family == "hnsw" else None
        self._alive_bitmap = None
        self.scan = None  # the structure proposes the candidates from now on

    # ------------------------------------------------------------------ removing
    def remove(self, rows: np.ndarray, keep: np.ndarray) -> None:
        """Drop ``rows`` (``keep`` is false exactly there). Everything new is built before
        anything is replaced, so a failure (memory) leaves the engine as it was."""
        new_vectors = None if self.vectors is None else self.vectors.kept(keep)
        new_codes = None if self.codes is None else self.codes.kept(keep)
        new_scan = None
        if self.scan is not None and new_vectors is not None:
            new_scan = sign_scanner(self.settings.scan_dims)
            self.extend_scan(0, new_scan, vectors=new_vectors.view())
        if self.structure is not None:
            new_serials = self.serials.kept(keep)
            self._forget_in_structure(self.serials.view()[rows])
            self.serials = new_serials
        self.vectors, self.codes = new_vectors, new_codes
        if new_scan is not None:
            self.scan = new_scan

    def rebuild_if_dead(self) -> None:
        """Rebuild an HNSW graph once :data:`REBUILD_FRACTION` of its entries are dead."""
        dead = self.dead
        if dead is not None and dead.sum() > REBUILD_FRACTION * len(dead):
            self.build_structure()

    def compact(self) -> None:
        """Rebuild the structure (if any) without the entries of removed rows."""
        if self.structure is not None:
            self.build_structure()

    def _forget_in_structure(self, serials: np.ndarray) -> None:
        if self.family == "ivf":
            self.structure.remove_ids(faiss_module().IDSelectorBatch(serials.astype(np.int64)))
        elif self.dead is not None:
            self.dead[serials] = True
        self._alive_bitmap = None

    # ------------------------------------------------------------------ searching
    def search(
        self,
        qvec: np.ndarray | None,
        qcodes: np.ndarray | None,
        k: int,
        rows: np.ndarray | None,
        blank: np.ndarray | None,
        blanks: int,
        ef: int | None,
        nprobe: int | None,
        cand: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """First stage and re-scoring for non-blank queries over the non-blank rows:
        scores and rows ``(nq, k)``, best first (``-inf`` and ``-1`` where there are fewer).

        ``rows`` (already free of blank rows) restricts the search; ``blank`` is the blank
        mask by row (``None``: no blank rows). Without ``rows`` every row is searched, the
        ``blanks`` blank rows included: they are dropped from the candidates, and a query
        left with fewer than ``k`` non-blank ones (rare: blank rows score 0, or a Hamming
        distance of half the bits) draws ``blanks`` more. So the usual query pays only a
        mask lookup on its candidates, never a cost that grows with the number of blank
        documents.
        """
        n = len(self) if rows is None else len(rows)
        first_k = max(cand, k) if self.settings.kind == "binary+rerank" else k
        first_k = min(first_k, n)
        cand_rows = self.first_stage(qvec, qcodes, first_k, rows, ef, nprobe)
        if blanks and blank is not None and rows is None and first_k < n:
            safe = cand_rows.clip(0)
            usable = ((cand_rows >= 0) & ~blank[safe]).sum(1)
            short = np.flatnonzero(usable < k)
            if len(short):
                sq = None if qvec is None else qvec[short]
                sc = None if qcodes is None else qcodes[short]
                more = self.first_stage(sq, sc, min(first_k + blanks, n), rows, ef, nprobe)
                scores, found = self.rescore(qvec, qcodes, cand_rows, k, blank)
                again_scores, again = self.rescore(sq, sc, more, k, blank)
                scores[short], found[short] = again_scores, again
                return scores, found
        return self.rescore(qvec, qcodes, cand_rows, k, blank)

    def first_stage(
        self,
        qvec: np.ndarray | None,
        qcodes: np.ndarray | None,
        first_k: int,
        rows: np.ndarray | None,
        ef: int | None,
        nprobe: int | None,
    ) -> np.ndarray:
        """Candidate rows ``(nq, first_k)`` (``-1`` where fewer) from the structure or a scan.

        Many queries go in blocks of :data:`_SEARCH_BLOCK` (each query's candidates do not
        depend on the others), reported as the phase "searching" inside a CLI's progress
        scope.
        """
        nq = len(qvec) if qvec is not None else len(qcodes)  # type: ignore[arg-type]
        if nq > _SEARCH_BLOCK:
            parts = []
            with _progress.phase("searching", nq, unit="query") as bar:
                for s in range(0, nq, _SEARCH_BLOCK):
                    part = slice(s, s + _SEARCH_BLOCK)
                    parts.append(
                        self.first_stage(
                            None if qvec is None else qvec[part],
                            None if qcodes is None else qcodes[part],
                            first_k,
                            rows,
                            ef,
                            nprobe,
                        )
                    )
                    bar.update(len(parts[-1]))
            return np.concatenate(parts)
        n = len(self) if rows is None else len(rows)
        use_structure = self.structure is not None and (
            rows is None or n > self.settings.exact_limit
        )
        binary_ivf = self.family == "ivf" and self.settings.binary_factory
        if use_structure and binary_ivf and rows is not None:
            use_structure = False  # FAISS binary IVF cannot filter by id
        with faiss_threads(1 if nq == 1 else None):
            if use_structure:
                query = qcodes if self.settings.kind != "float" else qvec
                return self.structure_search(query, first_k, rows, ef, nprobe)  # type: ignore[arg-type]
            return self.exact_search(qvec, qcodes, first_k, rows)

    def exact_search(
        self, qvec: np.ndarray | None, qcodes: np.ndarray | None, k: int, rows: np.ndarray | None
    ) -> np.ndarray:
        """Brute-force first stage over all rows (or ``rows``): candidate rows ``(nq, k)``."""
        faiss = faiss_module()
        if rows is None and self.scan is not None and qvec is not None:
            n = len(self)
            if k >= n:  # every row is a candidate
                return np.broadcast_to(np.arange(n), (len(qvec), n))
            query = np.ascontiguousarray(qvec[:, : self.settings.scan_dims])
            labels = self.scan.search(query, k)[1]
            short = (labels < 0).any(1)
            if short.any() and qcodes is not None and self.codes is not None:
                # A query whose leading dimensions are all zero scores every document 0,
                # and the fast scan then returns nothing: take Hamming order.
                _, ham = faiss.knn_hamming(
                    np.ascontiguousarray(qcodes[short]), self.codes.view(), k
                )
                labels[short] = ham
            return labels
        if self.settings.kind == "float":
            vectors = self.vectors.view()  # type: ignore[union-attr]
            base = vectors if rows is None else vectors[rows]
            _, labels = faiss.knn(qvec, base, k, faiss.METRIC_INNER_PRODUCT)
        else:
            codes = self.codes.view()  # type: ignore[union-attr]
            base = codes if rows is None else codes[rows]
            # The counting variant is faster than the heap one for many candidates.
            variant = "mc" if k >= 64 else "hc"
            _, labels = faiss.knn_hamming(
                np.ascontiguousarray(qcodes), np.ascontiguousarray(base), k, variant=variant
            )
        labels = labels.astype(np.int64, copy=False)
        if rows is not None:
            labels = np.where(labels >= 0, rows[labels.clip(0)], -1)
        return labels

    def rescore(
        self,
        qvec: np.ndarray | None,
        qcodes: np.ndarray | None,
        cand: np.ndarray,
        k: int,
        blank: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores of the candidate rows; the best ``k`` per query, best first.

        Blank rows among the candidates (``blank`` mask) are dropped (score ``-inf``, like
        a missing one).
        """
        nq, c = cand.shape
        dim = self.settings.dim
        scores = np.full((nq, c), -np.inf, np.float32)
        valid = cand >= 0
        safe = np.where(valid, cand, 0)
        if blank is not None:
            valid &= ~blank[safe]
        block = max(1, (4 << 20) // max(c * dim, 1))  # ~16 MB of gathered rows
        for s in range(0, nq, block):
            e = min(nq, s + block)
            if self.settings.kind == "binary":
                codes = self.codes.view()[safe[s:e]]  # type: ignore[union-attr]
                dist = np.bitwise_count(np.bitwise_xor(codes, qcodes[s:e, None, :])).sum(  # type: ignore[index]
                    -1, dtype=np.int32
                )
                scores[s:e] = hamming_score(dist, dim)
            else:
                vecs = np.take(self.vectors.view(), safe[s:e], axis=0)  # type: ignore[union-attr]
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

    def scores_of(
        self, qvec: np.ndarray | None, qcodes: np.ndarray | None, rows: np.ndarray
    ) -> np.ndarray:
        """One query's exact scores of ``rows`` (what :meth:`rescore` gives them): the
        cosine, or for ``"binary"`` the cosine estimated from the Hamming distance."""
        if self.settings.kind == "binary":
            codes = self.codes.view()[rows]  # type: ignore[union-attr]
            dist = np.bitwise_count(np.bitwise_xor(codes, qcodes)).sum(-1, dtype=np.int32)  # type: ignore[arg-type]
            return hamming_score(dist, self.settings.dim)
        vecs = np.take(self.vectors.view(), rows, axis=0)  # type: ignore[union-attr]
        return np.einsum("qcd,qd->qc", vecs[None], qvec)[0]  # as rescore computes them

    def _selector_bitmap(self, rows: np.ndarray | None) -> np.ndarray | None:
        """Packed bitmap (FAISS IDSelectorBitmap layout) of the serials that may be returned."""
        if rows is None:
            if self.dead is None or not self.dead.any():
                return None
            if self._alive_bitmap is None:
                self._alive_bitmap = np.packbits(~self.dead, bitorder="little")
            return self._alive_bitmap
        mask = np.zeros(self.next_serial, bool)
        mask[self.serials.view()[rows]] = True
        return np.packbits(mask, bitorder="little")

    def structure_search(
        self,
        queries: np.ndarray,
        k: int,
        rows: np.ndarray | None,
        ef: int | None,
        nprobe: int | None,
    ) -> np.ndarray:
        """Candidate rows ``(nq, k)`` from the structure, ``-1`` where there are fewer."""
        faiss = faiss_module()
        index = self.structure
        bitmap = self._selector_bitmap(rows)
        sel = (
            None
            if bitmap is None
            else faiss.IDSelectorBitmap(self.next_serial, faiss.swig_ptr(bitmap))
        )
        k = min(k, index.ntotal)
        # A breadth past the structure's size finds nothing more but FAISS allocates for
        # it (ef_search=2**31-1 asked for ~16 GB): cap it there, results unchanged.
        if self.family == "hnsw":
            params = faiss.SearchParametersHNSW()
            default = DEFAULT_EF_SEARCH if self.settings.kind == "float" else k
            wanted = ef or self.settings.ef_search or default
            params.efSearch = max(min(wanted, index.ntotal), k, 1)
        else:
            params = faiss.SearchParametersIVF()
            params.nprobe = nprobe or self.settings.nprobe  # FAISS caps it at nlist itself
        if sel is not None:
            params.sel = sel
        _, labels = index.search(np.ascontiguousarray(queries), k, params=params)
        serials = self.serials.view()
        pos = np.searchsorted(serials, labels).clip(0, max(len(serials) - 1, 0))
        ok = (labels >= 0) & (serials[pos] == labels) if len(serials) else labels < -1
        return np.where(ok, pos, -1)

    # ------------------------------------------------------------------ blank rows
    def find_blank_rows(
        self, encode_rows: Callable[[np.ndarray], np.ndarray], chunk: int = 65_536
    ) -> np.ndarray:
        """Rows whose vector is zero, for folders written before ``blank.npy``.

        A zero vector has all-zero sign bits, so where there are codes only the rows with
        a zero code are checked further (their vectors, or for ``"binary"`` the raw
        vectors ``encode_rows(rows)`` gives, their texts encoded again); a float engine
        scans its vectors.
        """
        if self.codes is not None:
            codes = self.codes.view()
            maybe = np.concatenate(
                [
                    s + np.flatnonzero(~codes[s : s + chunk].any(1))
                    for s in range(0, len(codes), chunk)
                ]
                or [np.zeros(0, np.int64)]
            )
            if not len(maybe):
                return maybe.astype(np.int64)
            if self.vectors is not None:
                zero = ~self.vectors.view()[maybe].any(1)
            else:
                zero = ~encode_rows(maybe).any(1)
            return maybe[zero].astype(np.int64)
        vectors = self.vectors.view()  # type: ignore[union-attr]  # float kind
        parts = [
            s + np.flatnonzero(~vectors[s : s + chunk].any(1))
            for s in range(0, len(vectors), chunk)
        ]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    # ------------------------------------------------------------------ files
    def to_files(self, folder: Path) -> dict[str, Any]:
        """Write the vectors/codes, the scan and the structure with its serials (and dead
        entries); returns the engine's manifest fields."""
        if self.vectors is not None:
            np.save(folder / _files.VECTORS, self.vectors.view())
        if self.codes is not None:
            np.save(folder / _files.CODES, self.codes.view())
        faiss = faiss_module()
        if self.scan is not None:
            faiss.write_index(self.scan, str(folder / _files.SCAN))
        if self.structure is not None:
            if self.settings.binary_factory:
                faiss.write_index_binary(self.structure, str(folder / _files.STRUCTURE))
            else:
                faiss.write_index(self.structure, str(folder / _files.STRUCTURE))
            np.save(folder / _files.SERIALS, self.serials.view())
            if self.dead is not None:
                np.save(folder / _files.DEAD, self.dead)
        return {"structure": self.structure_name, "next_serial": self.next_serial}

    @classmethod
    def from_files(
        cls,
        folder: Path,
        files: Mapping[str, Any],
        settings: EngineSettings,
        *,
        n: int,
        next_serial: int,
        mmap: bool,
    ) -> Engine:
        """The engine of ``folder`` for ``n`` rows: vectors/codes (read-only memory maps
        with ``mmap``), then the structure with its serials, or binary+rerank's scan
        (rebuilt from the vectors when the folder lacks it). Everything is checked for
        consistency with ``n`` and ``next_serial``, so later adds and searches work."""
        engine = cls(settings)
        mode = "r" if mmap else None
        dim = settings.dim
        for name, rows, width, dtype in (
            (_files.VECTORS, engine.vectors, dim, np.float32),
            (_files.CODES, engine.codes, dim // 8, np.uint8),
        ):
            if rows is None:
                continue
            if name not in files:
                raise IndexFormatError(
                    f"{folder / name}: missing; a {settings.kind} index needs it"
                )
            rows.data, rows.n = _files.load_npy(folder / name, (n, width), dtype, mode), n
        if _files.STRUCTURE in files:
            engine._read_structure(folder, files, n, next_serial)
        elif engine.scan is not None:
            if _files.SCAN in files:
                engine.scan = _read_scan(folder / _files.SCAN, n, settings.scan_dims)  # type: ignore[arg-type]
            else:  # written without one: rebuild it from the vectors
                with _files.reading(folder / _files.VECTORS):
                    engine.rebuild_scan()
        return engine

    def _read_structure(
        self, folder: Path, files: Mapping[str, Any], n: int, next_serial: int
    ) -> None:
        """The FAISS structure with its serials (and dead entries), checked for consistency
        with the rows and ``next_serial``."""
        faiss = faiss_module()
        path = folder / _files.STRUCTURE
        factory = self.settings.factory
        binary = self.settings.binary_factory
        family = self.family
        structure = _files.read_faiss(path, faiss.read_index_binary if binary else faiss.read_index)
        with _files.reading(path):
            if family == "hnsw":
                ok = hasattr(structure, "hnsw")
            elif family == "ivf":
                ok = (
                    isinstance(structure, faiss.IndexBinaryIVF)
                    if binary
                    else ivf_of(structure) is not None
                )
            else:
                ok = False
            if not binary and structure.metric_type != faiss.METRIC_INNER_PRODUCT:
                ok = False
            ntotal, d = int(structure.ntotal), int(structure.d)
        if not ok:
            raise IndexFormatError(f"{path}: not a {factory!r} structure of this index")
        if d != self.settings.dim:
            raise IndexFormatError(f"{path}: has dimension {d}, the index has {self.settings.dim}")
        serials_path, dead_path, manifest = (
            folder / _files.SERIALS,
            folder / _files.DEAD,
            folder / _files.MANIFEST,
        )
        if _files.SERIALS not in files:
            raise IndexFormatError(f"{serials_path}: missing; {_files.STRUCTURE} needs it")
        serials = np.array(_files.load_npy(serials_path, (n,), np.int64))
        if len(serials) and (serials[0] < 0 or (np.diff(serials) <= 0).any()):
            raise IndexFormatError(f"{serials_path}: serials must be increasing and >= 0")
        if len(serials) and serials[-1] >= next_serial:
            raise IndexFormatError(
                f"{manifest}: next_serial is {next_serial} but serial {serials[-1]} is in use"
            )
        dead = None
        if family == "hnsw":
            # HNSW labels are insertion positions: one entry per serial ever given out
            if ntotal != next_serial:
                raise IndexFormatError(
                    f"{manifest}: next_serial is {next_serial} but {_files.STRUCTURE} holds "
                    f"{ntotal} entries"
                )
            if _files.DEAD in files:
                dead = np.array(_files.load_npy(dead_path, (ntotal,), np.bool_))
            elif ntotal == n:
                dead = np.zeros(ntotal, bool)
            else:
                raise IndexFormatError(f"{dead_path}: missing; {_files.STRUCTURE} needs it")
            alive = np.flatnonzero(~dead)
            if len(alive) != n or not np.array_equal(alive, serials):
                raise IndexFormatError(
                    f"{dead_path}: the live entries of {_files.STRUCTURE} do not match "
                    f"{_files.SERIALS}"
                )
        elif ntotal != n:
            raise IndexFormatError(f"{path}: holds {ntotal} entries for {n} documents")
        self.structure = structure
        self.serials = Rows((), np.int64, serials)
        self.next_serial = next_serial
        self.dead = dead
        self._alive_bitmap = None
        self.scan = None


def _read_scan(path: Path, n: int, dims: int) -> Any:
    """binary+rerank's ``scan.faiss``, checked to be a sign-bit scan of ``n`` rows."""
    faiss = faiss_module()
    scan = _files.read_faiss(path, faiss.read_index)
    with _files.reading(path):
        ok = _is_sign_scanner(scan, faiss)
    if not ok:
        raise IndexFormatError(
            f"{path}: {_files.SCAN} is not a sign-bit scan of this sememe version"
        )
    if scan.ntotal != n or scan.d != dims:
        raise IndexFormatError(
            f"{path}: {_files.SCAN} holds {scan.ntotal} entries of {scan.d} dims, expected "
            f"{n} of {dims}"
        )
    return scan


def _is_sign_scanner(scan: Any, faiss: Any) -> bool:
    """Whether ``scan`` is what :func:`~sememe.index._common.sign_scanner` builds."""
    if (
        not isinstance(scan, faiss.IndexPQFastScan)
        or scan.metric_type != faiss.METRIC_INNER_PRODUCT
    ):
        return False
    if scan.pq.nbits != 4 or scan.d != scan.pq.M * 4:
        return False
    return np.array_equal(faiss.vector_to_array(scan.pq.centroids), sign_centroids(scan.d))
