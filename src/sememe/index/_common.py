"""Shared pieces of the index package: result and error types, defaults, small helpers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import reprlib
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._validate import MAX_COUNT, check_int
from ..errors import FolderFormatError, InvalidArgumentError, InvalidTypeError, SememeError

Kind = Literal["float", "binary", "binary+rerank"]
DocId = str | int
Where = Mapping[str, Any] | Callable[[dict[str, Any]], bool]

KINDS: tuple[str, ...] = ("float", "binary", "binary+rerank")

#: Structure used beyond ``exact_limit`` documents when no ``factory`` is given.
DEFAULT_FACTORY: dict[str, str] = {
    "float": "HNSW32",
    "binary": "BHNSW32",
    "binary+rerank": "BHNSW32",
}

#: Collections up to this many documents are searched exactly (brute force). On one core
#: a float scan costs about 0.1 ms per 1,000 documents and a Hamming scan about 0.002 ms,
#: so an exact query stays near 5 ms at these sizes. Beyond them HNSW is far faster for
#: floats; for binary codes FAISS's approximate structures (IVF, HNSW) lose more recall
#: than they save time on this kind of embedding, hence the high binary limits.
DEFAULT_EXACT_LIMIT: dict[str, int] = {
    "float": 50_000,
    "binary": 2_000_000,
    "binary+rerank": 2_000_000,
}

#: HNSW ``efSearch`` for float indexes: breadth of the graph search (recall vs speed).
DEFAULT_EF_SEARCH = 256
#: HNSW ``efConstruction``: breadth of the graph search while inserting.
DEFAULT_EF_CONSTRUCTION = 40
#: IVF ``nprobe``: inverted lists visited per query.
DEFAULT_NPROBE = 32
#: First-stage candidates re-scored with the float vectors per query by ``"binary+rerank"``.
DEFAULT_CANDIDATES = 1000
#: ``"binary+rerank"`` first stage: sign bits of this many leading dimensions, when the model
#: declares such a Matryoshka prefix (see :func:`default_scan_dims`).
SCAN_PREFIX = 128
#: Hybrid search: weight of the dense side in the fused score (1.0: dense only). Chosen on
#: development data only (benchmarks/tune_fusion.py; docs/search.md has the table).
DEFAULT_ALPHA = 0.3
#: Hybrid search: how each side's scores are made comparable before they are added.
FUSIONS: tuple[str, ...] = ("zscore", "rrf")
DEFAULT_FUSION = "zscore"
#: Hybrid search: candidates each side proposes per query (at least ``k``).
DEFAULT_FUSION_CANDIDATES = 100
#: Reciprocal rank fusion's rank offset (the value of Cormack et al.).
RRF_K = 60
MODES: tuple[str, ...] = ("hybrid", "dense", "lexical")

#: An HNSW graph is rebuilt once this share of its entries belongs to removed documents.
REBUILD_FRACTION = 0.3


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Hit:
    """One search result: the document's id, its score for the query, text and metadata.

    ``score`` orders the hits, higher is closer. In ``mode="dense"`` it is a cosine
    similarity in [-1, 1] (estimated from the Hamming distance for ``kind="binary"``); in
    ``mode="lexical"`` the BM25 score; in ``mode="hybrid"`` the fused score (see
    :meth:`Index.search`), comparable between the hits of one query only.
    ``dense_score`` and ``lexical_score`` are the two sides' scores behind a hybrid or
    lexical hit (``None`` where a side was not asked, or, for ``lexical_score``, when the
    document was not among the lexical candidates). ``metadata`` is the dict given on
    ``add`` (as a JSON round trip would give it back) or ``None``.
    """

    id: DocId
    score: float
    text: str
    metadata: dict[str, Any] | None = None
    dense_score: float | None = None
    lexical_score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, ready for ``json.dumps`` (side scores only where they are set)."""
        d = asdict(self)
        for key in ("dense_score", "lexical_score"):
            if d[key] is None:
                del d[key]
        return d


class IndexFormatError(FolderFormatError):
    """A saved index folder that is missing, corrupt, inconsistent, or built with another
    encoder. The message starts with the path at fault (a ``ValueError``, like every
    :class:`~sememe.errors.FolderFormatError`)."""


class UnknownIdError(SememeError, KeyError):
    """An id that is not in the index."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


# ----------------------------------------------------------------------------- helpers


class RWLock:
    """Many readers or one writer; a waiting writer holds back new readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._writers_waiting += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class Rows:
    """A growable array of rows (amortised O(1) append); may start as a read-only memmap."""

    def __init__(self, shape: tuple[int, ...], dtype: Any, data: np.ndarray | None = None):
        self.data = np.empty((0, *shape), dtype) if data is None else data
        self.n = len(self.data)

    def view(self) -> np.ndarray:
        return self.data[: self.n]

    def append(self, rows: np.ndarray) -> None:
        need = self.n + len(rows)
        if need > len(self.data) or not self.data.flags.writeable:
            grown = np.empty((max(need, 2 * self.n, 1024), *self.data.shape[1:]), self.data.dtype)
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n : need] = rows
        self.n = need

    def keep(self, mask: np.ndarray) -> None:
        self.data = np.ascontiguousarray(self.data[: self.n][mask])
        self.n = len(self.data)

    def kept(self, mask: np.ndarray) -> Rows:
        """A new :class:`Rows` with the rows where ``mask`` is true (``self`` unchanged)."""
        return Rows(self.data.shape[1:], self.data.dtype, np.ascontiguousarray(self.view()[mask]))


def faiss_module() -> Any:
    import faiss

    return faiss


@contextlib.contextmanager
def faiss_threads(n: int | None) -> Iterator[None]:
    """Run FAISS with ``n`` OpenMP threads in this thread only (``None``: unchanged).

    OpenMP's thread count is a per-thread setting, so this does not affect searches
    running in other threads. A single query gains nothing from FAISS's threads (they
    split the work by query) but pays to wake them: about 1 ms per query at 1M codes.
    """
    faiss = faiss_module()
    before = faiss.omp_get_max_threads()
    if n is None or n == before:
        yield
        return
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def ivf_of(index: Any) -> Any:
    try:
        return faiss_module().extract_index_ivf(index)
    except RuntimeError:
        return None


#: Iterables that are not lists of ids although Python can iterate them: ``remove(b"ab")``
#: would otherwise remove the ids 97 and 98.
_NOT_ID_LISTS = (bytes, bytearray, memoryview, Mapping)


def describe(value: Any) -> str:
    """``None``, ``a bool (True)`` or ``of type float (1.5)``: for "X is ..." messages."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return f"a bool ({value!r})"
    return f"of type {type(value).__name__} ({reprlib.repr(value)})"


def shown(value: Any) -> str:
    """``'12' (str)``: a value and its type, for "must be ..., got ..." messages."""
    return f"{reprlib.repr(value)} ({type(value).__name__})"


def check_id(value: Any, where: str) -> DocId:
    """``value`` as a document id: a ``str`` or an ``int`` (numpy integers become ``int``).

    Everything else is refused with :class:`~sememe.errors.InvalidTypeError` naming
    ``where``: ``bool`` (``True == 1`` would find document 1), ``float`` (``1.0`` too),
    ``bytes``, ``None``, containers.
    """
    if isinstance(value, (bool, np.bool_)):
        raise InvalidTypeError(f"{where} is {describe(value)}; ids must be str or int")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        return str(value)  # a plain str, also for str subclasses such as numpy.str_
    raise InvalidTypeError(f"{where} is {describe(value)}; ids must be str or int")


def is_id(value: Any) -> bool:
    """Whether ``value`` has the type of a document id (what :func:`check_id` accepts)."""
    return isinstance(value, (str, int, np.integer)) and not isinstance(value, (bool, np.bool_))


def id_list(value: Any, name: str, *, single: bool, what: str = "a list of ids") -> list[DocId]:
    """The ``ids`` argument of ``remove``, ``get_vectors`` or ``add`` as a list of ids.

    ``single``: one id (a ``str`` or ``int``) stands for itself; otherwise an iterable
    is required (``what`` says which, for the message). ``bytes``, mappings, ``None``,
    floats and other non-iterables are refused naming ``name``; so is any element that is
    not an id (naming its position).
    """
    if is_id(value):
        if single:
            return [check_id(value, name)]
        raise InvalidTypeError(
            f"{name} must be {what}, got a single {type(value).__name__} ({reprlib.repr(value)})"
            "; wrap one id in a list"
        )
    expected = "an id (str or int) or a list of ids" if single else f"{what} (str or int)"
    if value is None or isinstance(value, _NOT_ID_LISTS) or not isinstance(value, Iterable):
        raise InvalidTypeError(f"{name} is {describe(value)}; expected {expected}")
    if isinstance(value, np.ndarray) and value.ndim != 1:
        raise InvalidTypeError(
            f"{name} is a {value.ndim}-d array; expected {expected} (a 1-d array works)"
        )
    return [check_id(v, f"{name}[{i}]") for i, v in enumerate(value)]


#: FAISS takes ``efSearch``, ``efConstruction`` and ``nprobe`` as C ints.
C_INT_MAX = 2**31 - 1


def check_positive(
    name: str, value: Any, allow_none: bool = True, maximum: int | None = None
) -> int | None:
    """A count of at least 1 and at most ``maximum`` (default: the 32-bit limit FAISS and
    numpy take; ``None`` allowed where the option has a default)."""
    limit = MAX_COUNT if maximum is None else maximum
    return check_int(value, name, minimum=1, maximum=limit, allow_none=allow_none)


def check_flag(value: Any, name: str) -> bool:
    """A ``True``/``False`` option (a truthy string such as ``"no"`` is a mistake)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidTypeError(f"{name} must be True or False, got {shown(value)}")
    return bool(value)


def check_path(value: Any, name: str = "path") -> Path:
    """A folder argument as a :class:`~pathlib.Path` (a non-empty ``str`` or ``os.PathLike``)."""
    raw: Any = None
    if isinstance(value, (str, os.PathLike)):
        try:
            raw = os.fspath(value)
        except TypeError:
            raw = None
    if not isinstance(raw, str) or not raw:
        raise InvalidTypeError(
            f"{name} must be a str or os.PathLike folder path, got {shown(value)}"
        )
    return Path(raw)


def normalise_metadata(value: Any, where: str) -> dict[str, Any] | None:
    """A JSON round trip of ``value``: what a saved and reloaded index will hold."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidTypeError(f"{where} is {type(value).__name__}; expected a dict or None")
    try:
        return json.loads(json.dumps(dict(value), ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidArgumentError(f"{where} is not JSON-serialisable ({exc})") from None


def hamming_score(distances: np.ndarray, bits: int) -> np.ndarray:
    """Cosine estimated from the Hamming distance of sign bits (the SimHash angle)."""
    return np.cos(np.pi * np.asarray(distances, np.float64) / bits).astype(np.float32)


def default_scan_dims(dim: int, matryoshka_dims: tuple[int, ...]) -> int:
    """Leading dimensions the ``"binary+rerank"`` first stage scores by default.

    The smallest Matryoshka prefix of at least :data:`SCAN_PREFIX` dimensions the model
    declares (a prefix trained to stand alone ranks nearly as well at half the bits, and
    the scan reads half the memory), else all ``dim`` dimensions.
    """
    usable = sorted(d for d in matryoshka_dims if SCAN_PREFIX <= d <= dim and d % 8 == 0)
    return usable[0] if usable else dim


def sign_scanner(dims: int) -> Any:
    """An empty FAISS fast-scan index that scores a float query against documents' sign bits.

    A product quantizer with one sub-quantizer per 4 dimensions whose 16 centroids are the
    16 sign patterns (+-1 per dimension): encoding a vector keeps exactly its sign bits
    (4 bits per 4 dimensions, as compact as packed codes), and the asymmetric score is
    ``query . sign(document)``, a better ranking than the Hamming distance between both
    sides' bits. FAISS's 4-bit fast scan keeps the lookup tables in SIMD registers, so a
    scan costs about what a Hamming scan costs.
    """
    faiss = faiss_module()
    if dims % 4:
        raise InvalidArgumentError(f"scan dims must be a multiple of 4, got {dims}")
    index = faiss.IndexPQFastScan(dims, dims // 4, 4, faiss.METRIC_INNER_PRODUCT)
    faiss.copy_array_to_vector(sign_centroids(dims), index.pq.centroids)
    index.is_trained = True
    return index


def sign_centroids(dims: int) -> np.ndarray:
    """The codebook of :func:`sign_scanner`, flat in FAISS's (sub-quantizer, code, 4) order."""
    patterns = np.array(
        [[1.0 if (c >> b) & 1 else -1.0 for b in range(4)] for c in range(16)], np.float32
    )
    return np.tile(patterns, (dims // 4, 1, 1)).ravel()


def family_of(factory: str) -> str:
    """``"flat"``, ``"hnsw"`` or ``"ivf"`` for a supported factory string, else raise."""
    spec = factory.strip()
    body = spec[1:] if spec.startswith("B") else spec
    if body == "Flat":
        return "flat"
    if re.fullmatch(r"HNSW\d+(,(Flat|SQ8|SQfp16|SQ4))?", body):
        return "hnsw"
    if re.fullmatch(r"IVF\d+(,(Flat|SQ8|SQfp16|SQ4|PQ\d+(x\d+)?))?", body):
        return "ivf"
    raise InvalidArgumentError(
        f"factory {factory!r} is not supported; use a FAISS factory string of the form "
        "'Flat', 'HNSW32', 'HNSW32,SQ8', 'IVF4096,Flat' (float) or 'BFlat', 'BHNSW32', "
        "'BIVF1024' (binary kinds)"
    )
