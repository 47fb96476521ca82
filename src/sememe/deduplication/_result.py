"""What deduplication decided, and why: :class:`DedupeResult` and the rule behind it.

The rule (no chaining): records are visited in priority order (input order for
``keep="first"``); a record is removed when some already *kept* record is within
the threshold, and kept otherwise. With A~B, B~C and A not ~ C, keeping A removes B,
and C stays, because B (removed) removes nothing.

Internally the decision works on *items*: groups of records that are exact
duplicates of each other (equal after :func:`normalize_text`), represented by their
best-priority member. :class:`_Graph` holds the items, the similar pairs between them
(down to ``floor``) and the best match of each item in a reference collection, so that
:meth:`DedupeResult.rethreshold` can decide again for any threshold >= ``floor``
without encoding or searching anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_choice, check_float, check_int
from ..errors import InvalidArgumentError
from ..records import FORMATS, format_of, write_records
from ._coverage import from_scale, jaccard_cutoff
from ._records import plain_rows, select_records
from ._search import TOLERANCE

KEEP_OPTIONS = ("first", "last", "longest", "shortest")


class RecordPositionError(InvalidArgumentError, IndexError):
    """A record position outside the result (also an ``IndexError``)."""


@dataclass(frozen=True)
class Duplicate:
    """One removed record and the kept record it duplicates.

    Attributes
    ----------
    index:
        Position of the removed record in the input.
    duplicate_of:
        The kept record it duplicates: a position in the input, or, when
        ``reference`` is true, an id in the reference collection (a position in
        ``against`` records, an :class:`~sememe.Index` id, or a stream position of a
        record kept earlier by a :class:`~sememe.Deduplicator`).
    similarity:
        Cosine similarity of the two records (1.0 for exact duplicates).
    exact:
        True when the texts are equal after normalisation (found by hashing).
    reference:
        True when ``duplicate_of`` refers to the reference collection.
    ngram:
        True when the pair was decided by character 3-grams, not vectors: the model
        barely covers the texts' tokens (see "Texts the model does not cover" in
        docs/dedupe.md). ``similarity`` is then the 3-gram Jaccard ``J`` put on the
        threshold's scale, ``1 - (1 - J) / 5``.
    """

    index: int
    duplicate_of: int | str
    similarity: float
    exact: bool = False
    reference: bool = False
    ngram: bool = False

    @property
    def jaccard(self) -> float | None:
        """The character 3-gram Jaccard behind an ``ngram`` decision (else ``None``)."""
        return from_scale(self.similarity) if self.ngram else None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "duplicate_of": self.duplicate_of,
            "similarity": round(self.similarity, 6),
            "exact": self.exact,
            "reference": self.reference,
        }
        if self.ngram:
            out["ngram"] = True
            out["jaccard"] = round(from_scale(self.similarity), 6)
        return out


@dataclass
class _Graph:
    """Everything needed to decide at any threshold >= ``floor`` (all arrays per item).

    ``item_of[i]`` is the item of record ``i``; ``rep[u]`` is the record whose vector
    represents item ``u``. ``ua < ub`` index items; ``sims`` is their cosine. ``ref_sim[u]``
    is the best similarity to the reference collection (-inf if none >= floor) and
    ``ref_id[u]`` that reference record's id. ``ref_exact[u]`` marks items whose text
    is in the reference exactly. ``solo[u]`` marks items whose records are not
    duplicates of each other (blank texts with ``exact=False``: zero vectors).
    """

    n_records: int
    rank: np.ndarray
    rep: np.ndarray
    item_of: np.ndarray
    ua: np.ndarray
    ub: np.ndarray
    sims: np.ndarray
    floor: float
    ref_sim: np.ndarray
    ref_id: list[Any]
    ref_exact: np.ndarray
    solo: np.ndarray
    #: per record, the representative of its exact-text group (equal after normalisation);
    #: an item can also hold texts with identical vectors (same tokens, another order)
    text_rep: np.ndarray | None = None
    #: per item, whether the model barely covers its text (compared by character 3-grams,
    #: see ``_coverage``), and those items' 3-gram sets in item order
    weak: np.ndarray | None = None
    weak_sets: list[frozenset[str]] = field(default_factory=list)

    @property
    def n_items(self) -> int:
        return len(self.rep)


def resolve(graph: _Graph, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy decision at ``threshold``: per item, kept?, the item it duplicates, similarity.

    ``dup_of[u]`` is -1 for kept items and for items removed by the reference (their
    match is in ``graph.ref_id``), else the kept item with the highest similarity among
    those that come earlier in priority order.
    """
    n = graph.n_items
    by_ref = graph.ref_exact | (graph.ref_sim >= threshold - TOLERANCE)
    kept = ~by_ref
    dup_of = np.full(n, -1, np.int64)
    dup_sim = np.where(graph.ref_exact, np.float32(1.0), graph.ref_sim).astype(np.float32)
    m = graph.sims >= threshold - TOLERANCE
    a, b, s = graph.ua[m], graph.ub[m], graph.sims[m]
    if len(a):
        a_first = graph.rank[a] < graph.rank[b]
        early = np.where(a_first, a, b)
        late = np.where(a_first, b, a)
        useful = ~by_ref[early] & ~by_ref[late]
        early, late, s = early[useful], late[useful], s[useful]
        order = np.lexsort((-s, graph.rank[late]))
        early, late, s = early[order].tolist(), late[order].tolist(), s[order].tolist()
        kept_list = kept.tolist()
        # Edges come grouped by their later item, in priority order, so every earlier
        # item's fate is final when it is consulted; within a group the most similar
        # earlier item comes first.
        current = -1
        for e, lt, sim in zip(early, late, s, strict=True):
            if lt == current:
                continue
            if kept_list[e]:
                kept_list[lt] = False
                dup_of[lt] = e
                dup_sim[lt] = sim
                current = lt
        kept = np.array(kept_list, dtype=bool)
    return kept, dup_of, dup_sim


@dataclass(repr=False)
class DedupeResult:
    """The outcome of :func:`~sememe.dedupe`: which records stay, which go, and why.

    Attributes
    ----------
    kept:
        Positions of the kept records, in input order.
    removed:
        One :class:`Duplicate` per removed record, in input order.
    threshold:
        Cosine similarity at or above which records count as duplicates.
    n_records:
        Number of input records; every position is in exactly one of ``kept``
        and ``removed``.
    floor:
        Lowest threshold the similar pairs were collected for; :meth:`rethreshold`
        answers any threshold >= ``floor`` from them (``floor == threshold`` unless
        ``min_threshold`` or ``target_size`` was given).
    offset:
        Stream position of the first record: for a :class:`~sememe.Deduplicator`
        batch, record ``i`` of the batch is record ``offset + i`` of the stream (the
        id that later batches' ``duplicate_of`` uses). 0 for :func:`~sememe.dedupe`.
    """

    kept: list[int]
    removed: list[Duplicate]
    threshold: float
    n_records: int
    floor: float
    keep: str = "first"
    offset: int = 0
    records: Any = field(default=None, compare=False)
    _graph: _Graph | None = field(default=None, compare=False)
    _texts: Sequence[str] | None = field(default=None, compare=False)
    #: a Deduplicator batch: reference ids are stream positions (see report_rows)
    _stream: bool = field(default=False, compare=False)

    # ------------------------------------------------------------------ summaries
    @property
    def texts(self) -> Sequence[str] | None:
        """The text of each input record, by position, as it was compared (``None`` when
        the result was built without them)."""
        return self._texts

    @property
    def n_kept(self) -> int:
        return len(self.kept)

    @property
    def n_removed(self) -> int:
        return len(self.removed)

    @property
    def duplicate_ratio(self) -> float:
        """Share of records removed (0.0 for no records)."""
        return self.n_removed / self.n_records if self.n_records else 0.0

    @property
    def deduplicated(self) -> Any:
        """The kept records, in input order, in the input's type (``select_records``): a
        list, a pandas object's ``.iloc`` rows, polars rows, a pyarrow array's or table's."""
        if self.records is None:
            raise InvalidArgumentError(
                "this result does not hold the records (Deduplicator results keep only "
                "positions); select them with result.kept"
            )
        return select_records(self.records, self.kept)

    @property
    def groups(self) -> dict[int, list[int]]:
        """Each kept record that has duplicates in the input -> those duplicates' positions."""
        out: dict[int, list[int]] = {}
        for d in self.removed:
            if not d.reference:
                out.setdefault(int(d.duplicate_of), []).append(d.index)
        return dict(sorted(out.items()))

    def __repr__(self) -> str:
        return (
            f"DedupeResult(n_records={self.n_records}, kept={self.n_kept}, "
            f"removed={self.n_removed}, duplicate_ratio={self.duplicate_ratio:.4f}, "
            f"threshold={self.threshold:g}, keep={self.keep!r})"
        )

    __str__ = __repr__

    # ------------------------------------------------------------------ explanations
    def explain(self, i: int) -> str:
        """Why record ``i`` was kept or removed, in one or a few sentences."""
        i = check_int(i, "i")
        if not -self.n_records <= i < self.n_records:
            raise RecordPositionError(f"record {i} is out of range for {self.n_records} records")
        i = i % self.n_records
        dup = self._duplicate_of(i)
        t = self.threshold
        if dup is not None:
            if dup.reference:
                what = (
                    "an exact duplicate"
                    if dup.exact
                    else f"a near duplicate ({self._measure(dup)})"
                )
                return f"record {i}{self._quote(i)} was removed: {what} of reference record {dup.duplicate_of!r}."
            j = int(dup.duplicate_of)
            if dup.exact:
                return (
                    f"record {i}{self._quote(i)} was removed: its text equals record {j}'s after "
                    f"normalisation (case, Unicode form and whitespace ignored), and record {j} was kept."
                )
            return (
                f"record {i}{self._quote(i)} was removed: {self._measure(dup)} with "
                f"record {j}{self._quote(j)}, which was kept and comes first in keep={self.keep!r} order."
            )
        lines = [f"record {i}{self._quote(i)} was kept."]
        mine = self.groups.get(i, [])
        if mine:
            shown = ", ".join(str(k) for k in mine[:10]) + (" ..." if len(mine) > 10 else "")
            lines.append(f"It removed {len(mine)} duplicate(s): {shown}.")
        for j, sim in self._neighbours(i)[:5]:
            other = self._duplicate_of(j)
            if other is not None and int(other.duplicate_of) != i and not other.reference:
                lines.append(
                    f"It is similar to record {j} (similarity {sim:.4f}), but record {j} was itself "
                    f"removed as a duplicate of record {other.duplicate_of}, and removed records "
                    f"remove nothing (no chaining)."
                )
            elif other is not None and other.reference:
                lines.append(
                    f"It is similar to record {j} (similarity {sim:.4f}), which was removed as a "
                    f"duplicate of reference record {other.duplicate_of!r}."
                )
        if len(lines) == 1:
            lines.append(f"No kept record before it is within similarity {t:g}.")
        return " ".join(lines)

    def _measure(self, dup: Duplicate) -> str:
        """How a near-duplicate pair was judged, in words."""
        t = self.threshold
        if dup.ngram:
            return (
                f"character 3-gram Jaccard {dup.jaccard:.4f} >= {jaccard_cutoff(t):.4f} (the "
                f"cut-off for threshold {t:g}; decided by characters, not vectors, because the "
                f"model barely covers these texts' tokens)"
            )
        return f"cosine {dup.similarity:.4f} >= {t:g}"

    def _duplicate_of(self, i: int) -> Duplicate | None:
        if not hasattr(self, "_by_index"):
            self._by_index = {d.index: d for d in self.removed}
        return self._by_index.get(i)

    def _neighbours(self, i: int) -> list[tuple[int, float]]:
        """Records whose item is >= threshold from record ``i``'s item, most similar first."""
        g = self._graph
        if g is None:
            return []
        u = g.item_of[i]
        m = ((g.ua == u) | (g.ub == u)) & (g.sims >= self.threshold - TOLERANCE)
        other = np.where(g.ua[m] == u, g.ub[m], g.ua[m])
        out = [(int(g.rep[o]), float(s)) for o, s in zip(other, g.sims[m], strict=True)]
        return sorted(out, key=lambda x: -x[1])

    def _quote(self, i: int) -> str:
        if self._texts is None:
            return ""
        text = self._texts[i]
        short = text if len(text) <= 60 else text[:57] + "..."
        return f" ({short!r})"

    # ------------------------------------------------------------------ other thresholds
    def rethreshold(self, threshold: float) -> DedupeResult:
        """The decision at another threshold, from the pairs already found.

        Answers exactly what :func:`~sememe.dedupe` would at ``threshold`` for any
        ``threshold >= self.floor`` (pairs below ``floor`` were never collected).
        To allow lower thresholds later, pass ``min_threshold`` to ``dedupe``.
        """
        threshold = check_threshold(threshold)
        if self._graph is None:
            raise InvalidArgumentError(
                "this result cannot be re-thresholded: Deduplicator batches are decided "
                "against a state that has moved on; re-run dedupe() on the records"
            )
        if threshold < self.floor - 1e-12:
            raise InvalidArgumentError(
                f"rethreshold({threshold:g}) is below the lowest threshold pairs were "
                f"collected for ({self.floor:g}); call dedupe(..., min_threshold={threshold:g}) "
                f"to collect pairs down to it"
            )
        return build_result(
            self._graph, threshold, keep=self.keep, records=self.records, texts=self._texts
        )

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable summary: parameters, kept positions, removed records."""
        return {
            "n_records": self.n_records,
            "threshold": self.threshold,
            "floor": self.floor,
            "keep": self.keep,
            "offset": self.offset,
            "n_kept": self.n_kept,
            "n_removed": self.n_removed,
            "duplicate_ratio": self.duplicate_ratio,
            "kept": list(self.kept),
            "removed": [d.to_dict() for d in self.removed],
        }

    def report_rows(self, *, positions: str = "batch") -> list[dict[str, Any]]:
        """One dict per removed record: the :class:`Duplicate` fields plus both texts.

        ``positions="batch"``: ``index`` (and ``duplicate_of`` of an in-input duplicate)
        are positions in this result's records, as in :attr:`removed`.
        ``positions="stream"`` (a :class:`~sememe.Deduplicator` batch only): both are
        stream positions (``offset`` added where needed) and ``reference`` is false,
        since earlier batches' records and this batch's are then numbered alike: the
        rows of all batches form one report of the whole stream.
        """
        check_choice(positions, "positions", ("batch", "stream"))
        if positions == "stream" and not self._stream:
            raise InvalidArgumentError(
                "positions='stream' is for the results of a Deduplicator (update/stream); "
                "this result's reference ids are not stream positions"
            )
        rows = []
        for d in self.removed:
            row = d.to_dict()
            if self._texts is not None:
                row["text"] = self._texts[d.index]
                if not d.reference:
                    row["duplicate_text"] = self._texts[int(d.duplicate_of)]
            if positions == "stream":
                row["index"] += self.offset
                if not row["reference"]:
                    row["duplicate_of"] += self.offset
                row["reference"] = False
            rows.append(row)
        return rows

    def write_report(self, path: str | Path) -> Path:
        """Write :meth:`report_rows` as JSON lines: an audit trail of what was removed."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_records(path, self.report_rows(), "jsonl")

    def write(self, path: str | Path, *, format: str | None = None) -> Path:
        """Write the kept records: ``txt`` (one text per line), ``jsonl`` or ``csv``.

        The format comes from the extension unless given, by :mod:`sememe.records`'
        rules (``.tsv`` is csv with tabs, a trailing ``.gz`` compresses, an unknown
        extension is txt). Text records go to txt as they are; dict records go to
        jsonl/csv with all their fields.
        """
        path = Path(path)
        fmt = format or format_of(path)
        check_choice(fmt, "format", FORMATS)
        rows = plain_rows(self.deduplicated)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_records(
            path,
            rows,
            fmt,
            texts=[self._texts[i] for i in self.kept] if self._texts is not None else None,
        )
        return path


def check_threshold(threshold: float, name: str = "threshold") -> float:
    """``threshold`` as a float in (0, 1] (a cosine similarity).

    A non-number is an :class:`~sememe.errors.InvalidTypeError`; NaN, infinities and
    values outside (0, 1] an :class:`~sememe.errors.InvalidArgumentError` (NaN would
    otherwise pass every comparison silently and remove nothing, or everything).
    """
    return check_float(threshold, name, low=0, high=1, low_open=True)


def build_result(
    graph: _Graph,
    threshold: float,
    *,
    keep: str,
    records: Any = None,
    texts: Sequence[str] | None = None,
    offset: int = 0,
    stream: bool = False,
) -> DedupeResult:
    """Decide at ``threshold`` and map item decisions back to record positions.

    ``stream``: the result of a Deduplicator batch (``report_rows(positions="stream")``).
    """
    kept_item, dup_of, dup_sim = resolve(graph, threshold)
    n = graph.n_records
    u = graph.item_of
    is_rep = graph.rep[u] == np.arange(n) if n else np.zeros(0, bool)
    # Blank texts compared by vector only (solo) duplicate nothing: all kept.
    is_kept = graph.solo[u] | (is_rep & kept_item[u])
    kept = np.flatnonzero(is_kept).tolist()
    gone = np.flatnonzero(~is_kept)
    items = u[gone]
    heads = graph.rep[items]
    if graph.text_rep is None:
        same_text = np.ones(len(gone), bool)
    else:  # same text after normalisation, or only the same vector (same tokens, other order)
        same_text = graph.text_rep[gone] == graph.text_rep[heads]
    targets = graph.rep[np.maximum(dup_of[items], 0)] if len(gone) else heads
    weak = graph.weak[items] if graph.weak is not None else np.zeros(len(gone), bool)
    removed = []
    for i, item, head, same, by_item, target, sim, by_ngram in zip(
        gone.tolist(),
        items.tolist(),
        heads.tolist(),
        same_text.tolist(),
        kept_item[items].tolist(),
        np.where(dup_of[items] >= 0, targets, -1).tolist(),
        dup_sim[items].tolist(),
        weak.tolist(),
        strict=True,
    ):
        if by_item:  # a duplicate of its item's kept representative
            removed.append(Duplicate(i, head, 1.0, exact=same))
        elif target >= 0:
            removed.append(Duplicate(i, target, sim, ngram=by_ngram))
        else:
            ref_exact = bool(graph.ref_exact[item])
            removed.append(
                Duplicate(
                    i,
                    graph.ref_id[item],
                    sim,
                    exact=ref_exact,
                    reference=True,
                    ngram=by_ngram and not ref_exact,
                )
            )
    return DedupeResult(
        kept=kept,
        removed=removed,
        threshold=threshold,
        n_records=n,
        floor=graph.floor,
        keep=keep,
        offset=offset,
        records=records,
        _graph=graph,
        _texts=texts,
        _stream=stream,
    )
