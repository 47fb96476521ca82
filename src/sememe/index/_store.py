"""The document store of an index: ids, texts, metadata, the id -> row map, blank rows.

Rows are insertion positions; the FAISS engine (:mod:`._engine`) keeps the vectors and
codes of the same rows. The store knows nothing of vectors: it validates new ids and
metadata, hands out automatic ids, filters rows by metadata (``where``), turns rows into
:class:`Hit` objects and reads and writes ``docs.jsonl`` and ``blank.npy``.

Mutation follows the index's "failed calls change nothing" rule: :meth:`DocStore.append`
is undone by :meth:`DocStore.restore` from an :meth:`DocStore.undo_point`, and removal
builds a new store (:meth:`DocStore.kept`) that replaces the old one only once complete.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, InvalidTypeError
from . import _files
from ._common import (
    DocId,
    Hit,
    IndexFormatError,
    Rows,
    UnknownIdError,
    Where,
    check_id,
    describe,
    id_list,
    normalise_metadata,
)


def check_new_ids(ids: Iterable[DocId], n: int) -> list[DocId]:
    """``ids`` for ``n`` new texts: a list of str/int ids, one per text, no repeats."""
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


def check_metadata(metadata: Any, n: int) -> list[dict[str, Any] | None]:
    """``metadata`` for ``n`` new texts: one JSON-normalised dict (or None) per text."""
    if metadata is None:
        return [None] * n
    if isinstance(metadata, (str, bytes, bytearray, memoryview, Mapping)) or not (
        isinstance(metadata, Iterable)
    ):
        raise InvalidTypeError(
            f"metadata is {describe(metadata)}; expected a list with one dict (or None) per text"
        )
    meta = [normalise_metadata(m, f"metadata[{i}]") for i, m in enumerate(metadata)]
    if len(meta) != n:
        raise InvalidArgumentError(f"metadata has {len(meta)} entries for {n} texts")
    return meta


def where_test(where: Where) -> Callable[[dict[str, Any]], bool]:
    """The per-document test of a ``where`` filter (a dict of wanted values or a function)."""
    if callable(where):
        return where
    if not isinstance(where, Mapping):
        raise InvalidTypeError(f"where must be a dict or a function, got {type(where).__name__}")
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

    return test


def _is_in(value: Any, want: Any) -> bool:
    """``value in want`` for a ``where`` filter, also for unhashable metadata values
    (a list in the metadata against a set of wanted values compares by equality)."""
    try:
        return value in want
    except TypeError:
        return any(value == w for w in want)


class DocStore:
    """Ids, texts and metadata by row, the id -> row map and the blank-row mask.

    Blank documents are those whose vector is zero (empty and whitespace-only texts).
    Their sign bits (all 0) look like a real code, so they are tracked here and kept out
    of every first stage; ``blank_rows`` lists the rows where ``blank`` is true.
    """

    def __init__(self) -> None:
        self.ids: list[DocId] = []
        self.texts: list[str] = []
        self.meta: list[dict[str, Any] | None] = []
        self.row_of: dict[DocId, int] = {}
        self.next_auto = 0
        self.blank = Rows((), np.bool_)
        self.blank_rows = np.zeros(0, np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    # ------------------------------------------------------------------ reading
    def row(self, doc_id: DocId) -> int:
        """Row of an id already checked by :func:`check_id`; :class:`UnknownIdError` if absent."""
        row = self.row_of.get(doc_id)
        if row is None:
            raise UnknownIdError(f"id {doc_id!r} is not in the index")
        return row

    def rows(self, ids: list[DocId]) -> np.ndarray:
        """Rows of checked ids, in their order."""
        return np.fromiter((self.row(i) for i in ids), np.int64, len(ids))

    def hit(self, row: int, score: float) -> Hit:
        return Hit(self.ids[row], score, self.texts[row], self.meta[row])

    def hits(self, scores: np.ndarray, rows: np.ndarray) -> list[list[Hit]]:
        """One hit list per query from ``(nq, c)`` scores and rows (``-1``/``-inf``: none)."""
        ids, texts, meta = self.ids, self.texts, self.meta
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

    def zero_hits(self, rows: np.ndarray) -> list[Hit]:
        ids, texts, meta = self.ids, self.texts, self.meta
        return [Hit(ids[r], 0.0, texts[r], meta[r]) for r in rows.tolist()]

    def blank_mask(self) -> np.ndarray | None:
        """The blank mask by row, or ``None`` when no document is blank."""
        return self.blank.view() if len(self.blank_rows) else None

    def allowed_rows(self, where: Where | None) -> np.ndarray | None:
        """Rows whose metadata passes ``where`` (``None``: no filter, every row)."""
        if where is None:
            return None
        test = where_test(where)
        empty: dict[str, Any] = {}
        return np.fromiter(
            (i for i, m in enumerate(self.meta) if test(empty if m is None else m)), np.int64
        )

    def scope(self, where: Where | None) -> tuple[np.ndarray | None, np.ndarray, int]:
        """What a search covers: the non-blank rows passing ``where`` (``None``: all rows,
        blank ones included), the blank rows passing it, and the number of non-blank ones."""
        scope = self.allowed_rows(where)
        if scope is None:
            return None, self.blank_rows, len(self.ids) - len(self.blank_rows)
        in_scope = self.blank.view()[scope]
        blank_rows = scope[in_scope]
        rows = scope[~in_scope] if len(blank_rows) else scope
        return rows, blank_rows, len(rows)

    def first_rows(self, rows: np.ndarray | None, k: int) -> np.ndarray:
        """The first ``k`` non-blank rows (of ``rows``, already free of blank rows)."""
        if rows is not None:
            return rows[:k]
        head = np.arange(min(len(self.ids), k + len(self.blank_rows)))
        if len(self.blank_rows):
            head = head[~self.blank.view()[head]]
        return head[:k]

    # ------------------------------------------------------------------ adding / removing
    def check_unknown(self, ids: list[DocId]) -> None:
        """Refuse ids that are already in the store."""
        for i, doc_id in enumerate(ids):
            if doc_id in self.row_of:
                raise InvalidArgumentError(f"ids[{i}] = {doc_id!r} is already in the index")

    def auto_ids(self, n: int) -> list[DocId]:
        """The next ``n`` integers (from a counter) that are not in use as ids."""
        out: list[DocId] = []
        nxt = self.next_auto
        while len(out) < n:
            if nxt not in self.row_of:
                out.append(nxt)
            nxt += 1
        self.next_auto = nxt
        return out

    def undo_point(self) -> tuple[int, int, np.ndarray]:
        """What :meth:`restore` needs to undo a failed :meth:`append`."""
        return len(self.ids), self.next_auto, self.blank_rows

    def append(
        self,
        ids: list[DocId] | None,
        texts: list[str],
        meta: list[dict[str, Any] | None],
        zero: np.ndarray,
    ) -> int:
        """Append documents (``ids=None``: automatic ids; ``zero``: which are blank);
        returns the first new row."""
        n = len(texts)
        added = self.auto_ids(n) if ids is None else ids
        start = len(self.ids)
        self.ids.extend(added)
        self.texts.extend(texts)
        self.meta.extend(meta)
        self.row_of.update(zip(added, range(start, start + n), strict=True))
        self.blank.append(zero)
        if zero.any():
            self.blank_rows = np.concatenate([self.blank_rows, start + np.flatnonzero(zero)])
        return start

    def restore(self, undo: tuple[int, int, np.ndarray]) -> None:
        """Undo a failed :meth:`append`."""
        start, next_auto, blank_rows = undo
        for doc_id in self.ids[start:]:
            self.row_of.pop(doc_id, None)
        del self.ids[start:], self.texts[start:], self.meta[start:]
        self.blank.n = min(self.blank.n, start)
        self.blank_rows = blank_rows
        self.next_auto = next_auto

    def kept(self, keep: np.ndarray) -> DocStore:
        """A new store with the rows where ``keep`` is true (``self`` unchanged)."""
        new = DocStore()
        kept = np.flatnonzero(keep).tolist()
        new.ids = [self.ids[r] for r in kept]
        new.texts = [self.texts[r] for r in kept]
        new.meta = [self.meta[r] for r in kept]
        new.row_of = {doc_id: r for r, doc_id in enumerate(new.ids)}
        new.next_auto = self.next_auto
        new.blank = self.blank.kept(keep)
        new.blank_rows = np.flatnonzero(new.blank.view()).astype(np.int64)
        return new

    def set_blank_rows(self, rows: np.ndarray) -> None:
        """Mark ``rows`` (increasing) as the blank ones."""
        mask = np.zeros(len(self.ids), bool)
        mask[rows] = True
        self.blank = Rows((), np.bool_, mask)
        self.blank_rows = rows.astype(np.int64)

    # ------------------------------------------------------------------ files
    def to_files(self, folder: Path) -> dict[str, Any]:
        """Write ``docs.jsonl`` and ``blank.npy``; returns the store's manifest fields."""
        with open(folder / _files.DOCS, "w", encoding="utf-8", newline="\n") as f:
            for doc_id, text, meta in zip(self.ids, self.texts, self.meta, strict=True):
                f.write(_files.json_line({"id": doc_id, "text": text, "metadata": meta}))
        np.save(folder / _files.BLANK, self.blank_rows.astype(np.int64))
        return {"documents": len(self.ids), "next_auto_id": self.next_auto}

    @classmethod
    def from_files(
        cls, folder: Path, files: Mapping[str, Any], *, documents: int, next_auto: int
    ) -> DocStore:
        """The store of ``folder``: ``docs.jsonl`` (``documents`` lines) and ``blank.npy``.

        A folder written before ``blank.npy`` gives a store without blank rows: call
        :meth:`set_blank_rows` with the rows found from the vectors.
        """
        store = cls()
        store._read_docs(folder / _files.DOCS, documents)
        store.next_auto = next_auto
        n = len(store.ids)
        path = folder / _files.BLANK
        if _files.BLANK in files:
            rows = np.array(_files.load_npy(path, None, np.int64))
            if len(rows) and (rows[0] < 0 or rows[-1] >= n or (np.diff(rows) <= 0).any()):
                raise IndexFormatError(
                    f"{path}: blank rows must be increasing and within 0..{n - 1}"
                )
        else:
            rows = np.zeros(0, np.int64)
        store.set_blank_rows(rows)
        return store

    def _read_docs(self, path: Path, documents: int) -> None:
        """Fill ids, texts and metadata from ``docs.jsonl``."""
        ids, texts, meta = self.ids, self.texts, self.meta
        with _files.reading(path), open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                where = f"{path}:{lineno}"
                try:
                    rec = json.loads(line)
                except ValueError as exc:
                    raise IndexFormatError(f"{where}: not a JSON line ({exc})") from None
                if not isinstance(rec, dict) or not {"id", "text", "metadata"} <= set(rec):
                    raise IndexFormatError(
                        f"{where}: expected an object with 'id', 'text' and 'metadata'"
                    )
                try:
                    doc_id = check_id(rec["id"], "the id")
                except TypeError as exc:
                    raise IndexFormatError(f"{where}: {exc}") from None
                text, metadata = rec["text"], rec["metadata"]
                if not isinstance(text, str):
                    raise IndexFormatError(f"{where}: the text is {describe(text)}; expected str")
                if metadata is not None and not isinstance(metadata, dict):
                    raise IndexFormatError(
                        f"{where}: the metadata is {describe(metadata)}; expected an object or null"
                    )
                ids.append(doc_id)
                texts.append(text)
                meta.append(metadata)
        self.row_of = {doc_id: r for r, doc_id in enumerate(ids)}
        if len(self.row_of) != len(ids):
            seen: set[Any] = set()
            for lineno, doc_id in enumerate(ids, 1):
                if doc_id in seen:
                    raise IndexFormatError(
                        f"{path}:{lineno}: id {doc_id!r} repeats an earlier line"
                    )
                seen.add(doc_id)
        if len(ids) != documents:
            raise IndexFormatError(f"{path}: {len(ids)} documents, the manifest says {documents}")
