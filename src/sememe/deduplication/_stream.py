"""``Deduplicator``: deduplicate a stream batch by batch against everything kept so far.

The streaming state (kept vectors in a growing :class:`~._search.CellIndex`, their stream
positions, digests of kept texts, 3-grams of kept uncovered texts, the stream position) is
created by :meth:`Deduplicator.reset` (or the first batch) and by :meth:`Deduplicator.load`,
never by reading an attribute: before that the estimator is *unfitted*, an empty stream,
and ``n_seen_``, ``n_kept_``, ``len()`` and ``repr()`` say 0 without creating anything. Each batch goes through the same pipeline as
:func:`~sememe.dedupe` (:func:`._pipeline.build_graph`) with the kept records as the
reference (:class:`._references.StreamReference`). :meth:`Deduplicator.stream` cuts an
iterable of records into batches and yields one result per batch; with
``report_rows(positions="stream")`` every position in it is a stream position. The state
folder format is in ``_state``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_positive_int
from ..encoder import Encoder
from ..errors import InvalidArgumentError
from ._encoding import index_args, resolve_encoder
from ._pipeline import build_graph
from ._records import Key, iter_record_batches, normalize_text, texts_of
from ._references import StreamReference, digest
from ._result import DedupeResult, build_result, check_threshold, resolve
from ._search import CELL_SIZE, NPROBE, CellIndex, SearchMode, search_settings
from ._state import DedupeStateError, read_state, save_state

#: Records per batch of :meth:`Deduplicator.stream` (and the CLI's ``--batch-size``).
BATCH_SIZE = 100_000


class Deduplicator:
    """Deduplicate a stream batch by batch against everything kept so far.

    Each :meth:`update` removes the batch's records that duplicate a record kept in an
    earlier batch, or an earlier record of the same batch (keep-first order, no
    chaining), then remembers the batch's kept records. Kept vectors go into a
    growing cell index (cells are re-trained only when it has grown fourfold), so a
    batch costs about the same however long the stream is. The result over a stream
    equals ``dedupe(all_records, keep="first")`` (up to the candidate search's recall).

    Parameters mirror :func:`~sememe.dedupe`; ``keep`` is always ``"first"``.
    :meth:`save` and :meth:`load` persist the state (kept vectors, text hashes,
    positions) so a stream can be resumed in another process.

    Attributes
    ----------
    n_seen_:
        Records given so far (the stream position of the next record).
    n_kept_:
        Records kept so far.

    Notes
    -----
    Before the first batch (no :meth:`update`, :meth:`fit`, :meth:`partial_fit`,
    :meth:`reset` or :meth:`load` yet) the Deduplicator is unfitted: an empty stream, so
    both are 0 (documented defaults, not an error: a stream of no records has seen and
    kept none). Reading them, ``len()`` (``n_kept_``) or ``repr()`` never creates state;
    only those methods do (and :meth:`save`, which saves an empty stream).

    It follows scikit-learn's conventions (parameters stored by ``__init__``, ``fit``,
    ``partial_fit``, fitted attributes ending in ``_``) without being a scikit-learn
    estimator: it is a stream's state, not a model to clone or grid-search.
    """

    def __init__(
        self,
        threshold: float = 0.9,
        *,
        key: Key = None,
        encoder: Encoder | None = None,
        exact: bool = True,
        search: SearchMode = "auto",
        nlist: int | None = None,
        nprobe: int = NPROBE,
        cell_size: int | None = None,
        show_progress: bool | None = None,
    ) -> None:
        # Deprecated spellings warn here, where the caller wrote them; values are checked
        # when the state is created (reset, first update), scikit-learn style.
        if search == "cells" or cell_size is not None:
            with contextlib.suppress(InvalidArgumentError, TypeError):
                search_settings(search, None, cell_size)
        self.threshold = threshold
        self.key = key
        self.encoder = encoder
        self.exact = exact
        self.search = search
        self.nlist = nlist
        self.nprobe = nprobe
        self.cell_size = CELL_SIZE if cell_size is None else cell_size
        self.show_progress = show_progress

    # -- state -----------------------------------------------------------------
    def _encoder(self) -> Encoder:
        if getattr(self, "_enc", None) is None:
            self._enc = resolve_encoder(self.encoder)
        return self._enc

    def _index_args(self, enc: Encoder) -> dict[str, Any]:
        search, nlist, cell_size = search_settings(
            self.search, self.nlist, self.cell_size, warn=False
        )
        return index_args(enc, search, cell_size, self.nprobe, nlist)

    @property
    def _fitted(self) -> bool:
        return "_index" in vars(self)

    def reset(self) -> Deduplicator:
        """Forget everything seen so far (and create the empty state: the stream starts)."""
        check_threshold(self.threshold)
        enc = self._encoder()
        self._index = CellIndex(enc.dim, **self._index_args(enc))
        self._ids = np.zeros(0, np.int64)
        self._hashes: dict[int, int] = {}
        # kept texts the model barely covers: stream positions and character 3-grams
        self._weak_ids: list[int] = []
        self._weak_sets: list[frozenset[str]] = []
        self._n_seen = 0
        return self

    def _reference(self) -> StreamReference:
        """The kept records as the reference of a batch or of ``dedupe(against=self)``.

        Unfitted: an empty reference (nothing kept yet), and no state is created.
        """
        if not self._fitted:
            enc = self._encoder()
            return StreamReference(
                exact=self.exact,
                hashes={},
                index=CellIndex(enc.dim, **self._index_args(enc)),
                ids=np.zeros(0, np.int64),
                weak_ids=[],
                weak_sets=[],
            )
        return StreamReference(
            exact=self.exact,
            hashes=self._hashes,
            index=self._index,
            ids=self._ids,
            weak_ids=self._weak_ids,
            weak_sets=self._weak_sets,
        )

    @property
    def n_seen_(self) -> int:
        """Records given so far; 0 before the first batch (reading it creates nothing)."""
        return self._n_seen if self._fitted else 0

    @property
    def n_kept_(self) -> int:
        """Records kept so far; 0 before the first batch (reading it creates nothing)."""
        return len(self._ids) + len(self._weak_ids) if self._fitted else 0

    def __len__(self) -> int:
        return self.n_kept_

    def __repr__(self) -> str:
        seen = self._n_seen if self._fitted else 0
        kept = len(self._ids) if self._fitted else 0
        return f"Deduplicator(threshold={self.threshold}, seen={seen}, kept={kept})"

    # -- work ------------------------------------------------------------------
    def update(self, records: Any) -> DedupeResult:
        """Deduplicate one batch against the stream so far; remember its kept records.

        Positions in the result are within the batch; ``result.offset`` is the
        stream position of the batch's first record. ``duplicate_of`` of a record
        removed because of an earlier batch (``reference=True``) is that record's
        stream position.
        """
        threshold = check_threshold(self.threshold)
        enc = self._encoder()
        got = texts_of(records, self.key)
        if not self._fitted:
            self.reset()
        return self._update(got, threshold, enc)

    def _update(self, got: tuple[list[str], Any], threshold: float, enc: Encoder) -> DedupeResult:
        texts, container = got
        graph, index, todo = build_graph(
            texts,
            floor=threshold,
            encoder=enc,
            keep="first",
            exact=self.exact,
            reference=self._reference(),
            index_args=self._index_args(enc),
            show_progress=self.show_progress,
            stacklevel=4,  # build_graph <- _update <- update/stream <- the caller
        )
        result = build_result(
            graph,
            threshold,
            keep="first",
            records=container,
            texts=texts,
            offset=self._n_seen,
            stream=True,
        )
        kept_items, _, _ = resolve(graph, threshold)
        row_of = np.full(graph.n_items, -1, np.int64)
        row_of[todo] = np.arange(len(todo))
        new = np.flatnonzero(kept_items & (row_of >= 0))
        self._index.add(index.vectors[row_of[new]])
        positions = graph.rep[new] + self._n_seen
        self._ids = np.concatenate([self._ids, positions])
        weak_new = np.flatnonzero(kept_items & graph.weak) if graph.weak is not None else new[:0]
        weak_positions = graph.rep[weak_new] + self._n_seen
        weak_at = {int(u): k for k, u in enumerate(np.flatnonzero(graph.weak).tolist())}
        self._weak_ids = [*self._weak_ids, *weak_positions.tolist()]
        self._weak_sets = [
            *self._weak_sets,
            *(graph.weak_sets[weak_at[u]] for u in weak_new.tolist()),
        ]
        if self.exact:
            both = np.concatenate([new, weak_new])
            where = graph.rep[both] + self._n_seen
            for u, pos in zip(both.tolist(), where.tolist(), strict=True):
                self._hashes.setdefault(digest(normalize_text(texts[graph.rep[u]])), pos)
        # Blank texts compared by vector (exact=False) are kept but match nothing: skip.
        self._n_seen += len(texts)
        result._graph = None  # the state moved on; this batch cannot be re-decided
        return result

    def partial_fit(self, records: Any) -> Deduplicator:
        """:meth:`update`, returning ``self`` (scikit-learn style)."""
        self.update(records)
        return self

    def fit(self, records: Any) -> Deduplicator:
        """Start afresh and take ``records`` as the first batch."""
        self.reset()
        return self.partial_fit(records)

    def filter(self, records: Any) -> Any:
        """The records of a batch that survive (:meth:`update` then ``deduplicated``)."""
        return self.update(records).deduplicated

    def run(self, batches: Iterable[Any]) -> Iterator[DedupeResult]:
        """:meth:`update` each batch of an iterable, yielding results as they come."""
        for batch in batches:
            yield self.update(batch)

    def stream(
        self,
        records: Iterable[Any],
        *,
        batch_size: int = BATCH_SIZE,
        texts: Callable[[list[Any]], list[str]] | None = None,
    ) -> Iterator[DedupeResult]:
        """Deduplicate an iterable of records, ``batch_size`` at a time, lazily.

        Records are read only as the results are consumed, so a file larger than memory
        can be streamed (only the kept records' vectors and hashes stay). Yields one
        :class:`DedupeResult` per batch: ``result.records`` is the batch (a list; a pandas,
        polars or pyarrow frame or column is sliced by rows in its own type),
        ``result.deduplicated`` its kept records, ``result.offset`` the stream position
        of its first record, and ``result.report_rows(positions="stream")`` the removed
        records with every position a stream position (the line of a txt/jsonl file, 0
        based). The stream continues from the current state: :meth:`reset` first to
        start afresh.

        ``texts``, when given, takes each batch (a list of records) and returns their
        texts, instead of ``key`` (for example to read a file's records with errors that
        name its lines). A failed batch raises before anything of it is remembered;
        earlier batches stay remembered.
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        for batch in iter_record_batches(records, batch_size):
            threshold = check_threshold(self.threshold)
            enc = self._encoder()
            got = texts_of(batch, self.key) if texts is None else (texts(batch), batch)
            if not self._fitted:
                self.reset()
            yield self._update(got, threshold, enc)

    # -- persistence -----------------------------------------------------------
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the state to folder ``path`` atomically, with checksums.

        The folder (``arrays.npz`` and ``manifest.json``) is filled beside ``path`` and
        swapped in with renames, so a process killed at any moment leaves the previous
        state or the new one, never a mix. An existing ``path`` is replaced only with
        ``overwrite=True`` and only if it is a Deduplicator state (the checkpointing
        case: save to the same folder after every few batches); a folder of other files
        is never replaced (:class:`~sememe.errors.FolderExistsError`).
        """
        if not self._fitted:
            self.reset()  # an empty stream: saved explicitly, so the state is created
        return save_state(self, path, overwrite=bool(overwrite))

    @classmethod
    def load(
        cls, path: str | Path, *, encoder: Encoder | None = None, key: Key = None
    ) -> Deduplicator:
        """Read a state written by :meth:`save`; ``encoder`` must be the model it used.

        Every file is checked against the manifest's checksums and the parts against
        each other (stored positions below ``n_seen``, shapes, types) before use;
        anything missing, damaged or inconsistent raises :class:`DedupeStateError`
        naming the file. States in the previous format (``state.json`` +
        ``arrays.npz``) load with a warning to save them again.
        """
        path = Path(path)
        meta, arrays, _ = read_state(path)
        enc = resolve_encoder(encoder)
        if enc.dim != meta["dim"] and encoder is None and meta["dim"] <= enc.full_dim:
            # not a dimension of this model: reported as a different model below
            with contextlib.suppress(ValueError):
                enc = enc.with_options(dim=meta["dim"])
        if enc.fingerprint != meta["fingerprint"] or enc.dim != meta["dim"]:
            raise DedupeStateError(
                f"{path}: saved with model {meta['model']!r} (dim {meta['dim']}); the given "
                f"encoder is a different model; pass encoder=<that model>"
            )
        dd = cls(
            meta["threshold"],
            key=meta["key"] if key is None else key,
            encoder=enc,
            exact=meta["exact"],
            search="ivf" if meta["search"] == "cells" else meta["search"],
            nlist=meta.get("nlist"),
            nprobe=meta["nprobe"],
        )
        dd.cell_size = meta["cell_size"]  # set, not passed: no deprecation warning on load
        dd.reset()
        index = {k[len("index_") :]: v for k, v in arrays.items() if k.startswith("index_")}
        if "fine" in index and index["fine"].shape[1] != dd._index.screen_dim:
            raise DedupeStateError(
                f"{path / 'arrays.npz'}: cell centroids have {index['fine'].shape[1]} "
                f"dimensions; this model screens on {dd._index.screen_dim}; the state is "
                "damaged or inconsistent"
            )
        dd._index.load_arrays(index)
        dd._ids = arrays["ids"].astype(np.int64)
        dd._hashes = dict(
            zip(
                arrays["hashes"].astype(np.uint64).tolist(),
                arrays["hash_ids"].astype(np.int64).tolist(),
                strict=True,
            )
        )
        if "weak_ids" in arrays:
            offsets = arrays["weak_offsets"].tolist()
            grams = [g[:-1] for g in arrays["weak_grams"].tolist()]  # minus GRAM_END
            dd._weak_ids = arrays["weak_ids"].astype(np.int64).tolist()
            dd._weak_sets = [frozenset(grams[a:b]) for a, b in itertools.pairwise(offsets)]
        dd._n_seen = int(meta["n_seen"])
        return dd
