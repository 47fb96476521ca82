"""Clustering texts: labels, centroids, representatives and keywords.

:func:`cluster` embeds texts with the shared encoder and groups them; the result is a
:class:`Clusters` object that also explains the groups (the texts nearest each centroid,
class-based TF-IDF keywords) and exports them. :class:`TextClusterer` wraps the same code
as a scikit-learn estimator for pipelines.

Why these choices:

* **k-means is spherical and runs in FAISS.** Sentence vectors are compared by cosine, so
  clusters are found on L2-normalised vectors with unit-length centroids. FAISS trains on
  at most 256 points per centroid and assigns everything else with one matrix product, so
  a million texts cost little more than encoding them.
* **Duplicates are clustered once.** Every method works on the distinct texts, so a
  corpus full of repeats costs what its distinct texts cost. k-means weights each
  distinct text by how often it occurs. HDBSCAN takes no weights: it sees each distinct
  text ``min(count, min_cluster_size)`` times. Its densities (the distance to a point's
  ``min_cluster_size``-th neighbour) only look that many copies deep, so they are exactly
  those of the full input, and a text repeated ``min_cluster_size`` times can form a
  cluster of its own; a text repeated thousands of times just does not outweigh the
  rest when HDBSCAN chooses between nested clusters. Ward linkage (agglomerative) takes
  no weights either and merges distinct texts; centroids and sizes count every copy.
* **No cluster is a valid result.** HDBSCAN may call everything noise (one text, a few
  texts, all copies of one text): the result then has no clusters, every label is
  ``-1``, and centroids, sizes, keywords and representatives are empty.
* **Empty texts are not clustered.** Blank texts (and texts whose vector is zero) carry
  no meaning; they get the label ``-1``, like HDBSCAN's noise, instead of being forced
  into an arbitrary cluster.
* **Labels are ordered by size.** Cluster ``0`` is the largest, so output is stable and
  readable whatever order the algorithm found the clusters in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _inputs, _progress, _text
from ._resolve import EncoderParamMixin, resolve_encoder
from ._validate import check_choice, check_int
from ._vectors import spherical_kmeans, unit_rows
from .errors import InvalidArgumentError, InvalidTypeError, MissingDependencyError

if TYPE_CHECKING:
    from .encoder import Encoder

Method = Literal["kmeans", "hdbscan", "agglomerative"]
METHODS: tuple[str, ...] = ("kmeans", "hdbscan", "agglomerative")

#: Label of texts that belong to no cluster: blank texts and HDBSCAN's noise.
NOISE = -1

#: Agglomerative clustering needs memory quadratic in the number of distinct texts.
MAX_AGGLOMERATIVE = 20_000

#: Texts clustered (on a sample) and scored when ``n_clusters=None`` picks k.
AUTO_K_SAMPLE = 10_000
#: Texts the silhouette score is computed on for each candidate k.
SILHOUETTE_SAMPLE = 3_000
#: Largest k tried when ``n_clusters=None``.
AUTO_K_MAX = 100

_KMEANS_ITERATIONS = 25
#: Text-centroid pairs per k-means run that ``n_init=None`` spends on restarts.
AUTO_INIT_BUDGET = 2_000_000


# --------------------------------------------------------------------------- result


class LabelError(InvalidArgumentError, IndexError):
    """A cluster label outside ``-1 .. n_clusters - 1`` (also an ``IndexError``)."""


@dataclass(frozen=True)
class ClusterSummary:
    """One line of :meth:`Clusters.describe`: a cluster's size, keywords and examples."""

    label: int
    size: int
    keywords: list[str]
    representatives: list[str]


@dataclass(eq=False)
class Clusters:
    """The result of :func:`cluster`.

    Attributes
    ----------
    texts:
        The input texts, in input order.
    labels:
        ``int64 (n,)``: the cluster of each text; ``-1`` for blank texts and HDBSCAN noise.
        Clusters are numbered by size, ``0`` being the largest.
    centroids:
        ``float32 (k, dim)``: unit-length centre of each cluster.
    sizes:
        ``int64 (k,)``: texts in each cluster (duplicates counted).
    distances:
        ``float32 (n,)``: cosine distance (``1 - cosine``) of each text to its cluster's
        centroid; the outlier score, larger is more atypical. Noise points get the
        distance to the nearest centroid, blank texts ``1.0``.
    method:
        ``"kmeans"``, ``"hdbscan"`` or ``"agglomerative"``.
    seed:
        The random seed used.
    k_scores:
        When k was chosen automatically, the silhouette score of each candidate k;
        empty otherwise.
    vectors:
        ``float32 (m, dim)``: unit vectors of the ``m`` distinct non-blank texts, kept for
        :meth:`plot` and left out of :meth:`to_dict`.
    vector_index:
        ``int64 (n,)``: row of ``vectors`` holding each text's vector; ``-1`` for blank
        texts (whose vector is zero). Duplicated texts share a row.
    """

    texts: list[str]
    labels: np.ndarray
    centroids: np.ndarray
    sizes: np.ndarray
    distances: np.ndarray
    method: str
    seed: int
    k_scores: dict[int, float] = field(default_factory=dict)
    vectors: np.ndarray | None = field(default=None, repr=False)
    vector_index: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_clusters(self) -> int:
        """Number of clusters (noise not counted)."""
        return len(self.sizes)

    @property
    def n_noise(self) -> int:
        """Texts labelled ``-1`` (blank texts and HDBSCAN noise)."""
        return int(np.count_nonzero(self.labels == NOISE))

    def __len__(self) -> int:
        return self.n_clusters

    def __repr__(self) -> str:
        sizes = ", ".join(map(str, self.sizes[:8].tolist()))
        more = ", ..." if self.n_clusters > 8 else ""
        return (
            f"Clusters(n_texts={len(self.texts)}, n_clusters={self.n_clusters}, "
            f"method={self.method!r}, sizes=[{sizes}{more}], noise={self.n_noise})"
        )

    def members(self, label: int) -> np.ndarray:
        """Indices of the texts in cluster ``label`` (``-1`` for noise), in input order."""
        label = check_int(label, "label")
        if not NOISE <= label < self.n_clusters:
            raise LabelError(f"label {label} is outside -1..{self.n_clusters - 1}")
        return np.flatnonzero(self.labels == label)

    def representatives(self, n: int = 3) -> list[list[str]]:
        """For each cluster, its ``n`` distinct texts nearest the centroid, nearest first."""
        _check_positive(n, "n")
        order = np.lexsort((self.distances, self.labels))
        bounds = np.searchsorted(self.labels[order], np.arange(self.n_clusters + 1))
        out = []
        for c in range(self.n_clusters):
            picked: dict[str, None] = {}
            for i in order[bounds[c] : bounds[c + 1]]:
                picked.setdefault(self.texts[i], None)
                if len(picked) == n:
                    break
            out.append(list(picked))
        return out

    def keywords(
        self,
        n: int = 5,
        *,
        stop_words: str | list[str] | None = "english",
        ngram_range: tuple[int, int] = (1, 1),
        max_texts: int = 200_000,
    ) -> list[list[str]]:
        """For each cluster, the ``n`` terms that characterise it best (class-based TF-IDF).

        Each cluster's texts are treated as one document: a term scores high when it is
        frequent in this cluster and rare across clusters. Counting uses scikit-learn's
        ``CountVectorizer`` (lower-cased words of two or more characters starting with a
        letter; ``stop_words`` and ``ngram_range`` are passed to it). Above ``max_texts``
        clustered texts a seeded random sample of that size is counted.
        """
        from sklearn.feature_extraction.text import CountVectorizer

        _check_positive(n, "n")
        _check_positive(max_texts, "max_texts")
        k = self.n_clusters
        rows = np.flatnonzero(self.labels >= 0)
        if k == 0 or rows.size == 0:
            return [[] for _ in range(k)]
        if rows.size > max_texts:
            rng = np.random.default_rng(self.seed)
            rows = np.sort(rng.choice(rows, max_texts, replace=False))
        vectorizer = CountVectorizer(
            stop_words=stop_words,
            ngram_range=ngram_range,
            token_pattern=r"(?u)\b[^\W\d_][^\W_]+\b",
            dtype=np.float64,
        )
        try:
            counts = vectorizer.fit_transform([self.texts[i] for i in rows])
        except ValueError:  # no term at all (only stop words, digits or punctuation)
            return [[] for _ in range(k)]
        import scipy.sparse as sp

        onehot = sp.csr_matrix(
            (np.ones(rows.size), (self.labels[rows], np.arange(rows.size))), shape=(k, rows.size)
        )
        per_class = np.asarray((onehot @ counts).todense())
        tf = per_class / np.maximum(per_class.sum(axis=1, keepdims=True), 1.0)
        term_total = per_class.sum(axis=0)
        avg_words = per_class.sum() / k
        idf = np.log1p(avg_words / np.maximum(term_total, 1.0))
        scores = tf * idf
        vocab = vectorizer.get_feature_names_out()
        out = []
        for row in scores:
            top = np.argsort(-row, kind="stable")[:n]
            out.append([str(vocab[j]) for j in top if row[j] > 0])
        return out

    def outliers(self, n: int = 10) -> np.ndarray:
        """Indices of the ``n`` clustered texts farthest from their centroid, farthest first."""
        _check_positive(n, "n")
        rows = np.flatnonzero(self.labels >= 0)
        order = np.argsort(-self.distances[rows], kind="stable")
        return rows[order[:n]]

    def describe(self, n_keywords: int = 5, n_representatives: int = 1) -> list[ClusterSummary]:
        """One :class:`ClusterSummary` per cluster, largest first (what the CLI prints)."""
        words = self.keywords(n_keywords)
        reps = self.representatives(n_representatives)
        return [ClusterSummary(c, int(self.sizes[c]), words[c], reps[c]) for c in range(len(words))]

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per text: ``index``, ``text``, ``label`` and ``distance``."""
        return [
            {"index": i, "text": t, "label": int(lab), "distance": float(d)}
            for i, (t, lab, d) in enumerate(
                zip(self.texts, self.labels.tolist(), self.distances.tolist(), strict=True)
            )
        ]

    def to_dataframe(self) -> Any:
        """The records as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependencyError(
                "Clusters.to_dataframe needs pandas: pip install pandas "
                '(or pip install "sememe[pandas]"; or use Clusters.to_records)'
            ) from None
        return pd.DataFrame(
            {
                "text": self.texts,
                "label": self.labels,
                "distance": self.distances,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (without the vectors)."""
        return {
            "method": self.method,
            "seed": self.seed,
            "n_clusters": self.n_clusters,
            "texts": list(self.texts),
            "labels": self.labels.tolist(),
            "sizes": self.sizes.tolist(),
            "distances": self.distances.tolist(),
            "centroids": self.centroids.tolist(),
            "k_scores": {str(k): v for k, v in self.k_scores.items()},
        }

    def plot(
        self,
        path: str | Path | None = None,
        *,
        max_points: int = 50_000,
        title: str | None = None,
        annotate: bool = True,
    ) -> Any:
        """Draw a 2-D map of the texts coloured by cluster; save it to ``path`` if given.

        The map is a PCA projection of the unit vectors (fast and deterministic; it keeps
        the directions of largest spread, so well separated clusters stay apart).
        At most ``max_points`` texts are drawn (a seeded sample); noise is grey. Needs
        matplotlib (``pip install 'sememe[plot]'``). Returns the matplotlib figure.
        """
        figure_cls, colormaps = _require_matplotlib()
        from sklearn.decomposition import PCA

        _check_positive(max_points, "max_points")
        if self.vectors is None or self.vector_index is None:
            raise InvalidArgumentError(
                "these Clusters have no vectors to plot (built without them)"
            )
        rows = np.arange(len(self.texts))
        if rows.size > max_points:
            rng = np.random.default_rng(self.seed)
            rows = np.sort(rng.choice(rows, max_points, replace=False))
        index = self.vector_index[rows]
        vectors = self.vectors[np.maximum(index, 0)]
        vectors[index < 0] = 0.0
        labels = self.labels[rows]
        fig = figure_cls(figsize=(9, 7), dpi=110)
        ax = fig.add_subplot()
        if len(rows) >= 2 and vectors.shape[1] >= 2:
            xy = PCA(n_components=2, random_state=self.seed).fit_transform(vectors)
        else:
            xy = np.zeros((len(rows), 2))
        noise = labels == NOISE
        size = max(1.0, min(12.0, 4000.0 / max(len(rows), 1)))
        ax.scatter(xy[noise, 0], xy[noise, 1], s=size, c="lightgrey", label="noise / blank")
        cmap = colormaps["tab20" if self.n_clusters > 10 else "tab10"]
        ax.scatter(
            xy[~noise, 0],
            xy[~noise, 1],
            s=size,
            c=[cmap(int(lab) % cmap.N) for lab in labels[~noise]],
        )
        if annotate:  # each label at the median position of its drawn members
            for c in range(min(self.n_clusters, 50)):
                drawn = xy[labels == c]
                if len(drawn):
                    x, y = np.median(drawn, axis=0)
                    ax.annotate(str(c), (x, y), fontsize=9, weight="bold", ha="center")
        ax.set_title(title or f"{self.n_clusters} clusters of {len(self.texts):,} texts (PCA)")
        ax.set_xticks([])
        ax.set_yticks([])
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig


# --------------------------------------------------------------------------- cluster()


def cluster(
    texts: Iterable[str],
    n_clusters: int | None = None,
    *,
    method: Method = "kmeans",
    encoder: Encoder | str | Path | None = None,
    seed: int = 0,
    dim: int | None = None,
    min_cluster_size: int = 5,
    k_range: tuple[int, int] | None = None,
    n_init: int | None = None,
    show_progress: bool | None = None,
) -> Clusters:
    """Group texts by meaning.

    Parameters
    ----------
    texts:
        Any iterable of ``str``. Blank texts get label ``-1``; duplicates are fine.
    n_clusters:
        Number of clusters for ``"kmeans"`` and ``"agglomerative"``. ``None`` picks it:
        candidates k between ``k_range`` (default ``2`` to ``sqrt(n / 2)``, at most 100)
        are each run with k-means on a sample of up to 10,000 distinct texts, and the k
        with the best cosine silhouette (on up to 3,000 of them) wins. Must be ``None``
        for ``"hdbscan"``, which finds the number of clusters itself.
    method:
        ``"kmeans"`` (spherical k-means in FAISS, k-means++ start; scales to millions),
        ``"hdbscan"`` (scikit-learn's HDBSCAN; density-based, leaves outliers as noise
        ``-1``; slow above ~50,000 texts) or ``"agglomerative"`` (scikit-learn, Ward
        linkage on unit vectors; at most 20,000 distinct texts).
    encoder:
        An :class:`~sememe.Encoder`, a model name or path for :func:`sememe.load`, or
        ``None`` for the bundled model.
    seed:
        Seed for every random choice (sampling, k-means start); the same seed and input
        give the same clusters.
    dim:
        Cluster on the first ``dim`` dimensions (Matryoshka truncation); faster, coarser.
    min_cluster_size:
        HDBSCAN's smallest cluster.
    k_range:
        ``(low, high)`` candidates for the automatic k.
    n_init:
        k-means restarts from different k-means++ starts; the run with the best objective
        (total cosine to the centroids) is kept. ``None``: as many as fit a budget of
        2 million text-centroid pairs per run, between 1 and 10 (10 for a few thousand
        texts, 1 for a million at k=100).
    show_progress:
        Progress bar while encoding (``None``: automatic).

    Raises
    ------
    ValueError
        Empty input, only blank texts, ``n_clusters < 1``, or more clusters than
        distinct texts.
    TypeError
        A text that is not a ``str`` (the message names its position).

    Both are sememe errors (:class:`~sememe.errors.InvalidArgumentError`,
    :class:`~sememe.errors.InvalidTypeError`), raised before any text is encoded.
    """
    items = _text.as_list(texts)
    _check_method(method)
    _check_n_clusters(n_clusters, method)
    seed = check_int(seed, "seed")
    _check_positive(min_cluster_size, "min_cluster_size")
    if n_init is not None:
        _check_positive(n_init, "n_init")
    k_range = _check_k_range(k_range)
    if dim is not None:
        _check_positive(dim, "dim")
    if not items:
        raise InvalidArgumentError("texts is empty; nothing to cluster")

    enc = resolve_encoder(encoder)
    # Cluster each distinct non-blank text once; row_of[i] is text i's row among them.
    unique, row_of, counts = _distinct(items)
    if not unique:
        raise InvalidArgumentError(
            f"all {len(items)} texts are empty or whitespace; nothing to cluster"
        )
    vectors = enc.encode(unique, normalize=True, dim=dim, show_progress=show_progress)
    return _cluster_rows(
        items,
        vectors,
        row_of,
        counts,
        n_clusters,
        method=method,
        seed=seed,
        min_cluster_size=min_cluster_size,
        k_range=k_range,
        n_init=n_init,
        what="texts",
    )


def _cluster_rows(
    items: list[str],
    vectors: np.ndarray,
    row_of: np.ndarray,
    counts: np.ndarray,
    n_clusters: int | None,
    *,
    method: str,
    seed: int,
    min_cluster_size: int,
    k_range: tuple[int, int] | None,
    n_init: int | None,
    what: str,
) -> Clusters:
    """Cluster unit ``vectors`` (distinct rows, weighted by ``counts``); ``row_of[i]`` is
    item ``i``'s row (``-1``: blank). Shared by texts and by vectors given directly."""
    # Rows whose vector is zero (texts of only ignored tokens) cannot be placed either.
    zero = np.einsum("ij,ij->i", vectors, vectors) <= 0
    if zero.all():
        raise InvalidArgumentError(
            f"none of the {len(items)} {what} has a non-zero vector to cluster"
        )
    if zero.any():
        keep = np.flatnonzero(~zero)
        remap = np.full(len(vectors), -1, np.int64)
        remap[keep] = np.arange(keep.size)
        row_of = np.where(row_of >= 0, remap[np.maximum(row_of, 0)], -1)
        vectors, counts = vectors[keep], counts[keep]
    n_distinct = len(vectors)
    if n_clusters is not None and n_clusters > n_distinct:
        raise InvalidArgumentError(
            f"n_clusters={n_clusters} is larger than the {n_distinct} distinct non-empty "
            f"{what}; use n_clusters <= {n_distinct}"
        )
    if method == "agglomerative" and n_distinct > MAX_AGGLOMERATIVE:
        raise InvalidArgumentError(
            f"agglomerative clustering of {n_distinct:,} distinct {what} needs too much memory "
            f"(limit {MAX_AGGLOMERATIVE:,}); use method='kmeans'"
        )

    k_scores: dict[int, float] = {}
    if n_clusters is None and method != "hdbscan":
        n_clusters, k_scores = _choose_k(vectors, counts, seed, k_range)

    # Each method is one long library call: a ticker names it inside a CLI's progress
    # scope (silent otherwise), "choosing k" above counts its candidates.
    if method == "kmeans":
        if n_init is None:
            n_init = max(1, min(10, AUTO_INIT_BUDGET // (n_distinct * n_clusters)))
        with _progress.ticking("clustering (k-means)"):
            centroids, distinct_labels = _spherical_kmeans(
                vectors, counts, n_clusters, seed, n_init
            )
        labels = _expand(distinct_labels, row_of)
    elif method == "agglomerative":
        with _progress.ticking("clustering (agglomerative)"):
            distinct_labels = _agglomerative(vectors, n_clusters)
        centroids = _centroids_of(vectors, distinct_labels, counts)
        labels = _expand(distinct_labels, row_of)
    else:
        with _progress.ticking("clustering (HDBSCAN)"):
            distinct_labels = _hdbscan(vectors, counts, min_cluster_size)
        centroids = _centroids_of(vectors, distinct_labels, counts)
        labels = _expand(distinct_labels, row_of)

    labels, centroids = _order_by_size(labels, centroids)
    return Clusters(
        texts=items,
        labels=labels,
        centroids=centroids,
        sizes=np.bincount(labels[labels >= 0], minlength=len(centroids)).astype(np.int64),
        distances=_distances(vectors, row_of, labels, centroids),
        method=method,
        seed=seed,
        k_scores=k_scores,
        vectors=vectors,
        vector_index=row_of,
    )


# --------------------------------------------------------------------------- estimator


class TextClusterer(EncoderParamMixin, ClusterMixin, TransformerMixin, BaseEstimator):
    """scikit-learn clusterer for raw texts, backed by :func:`cluster`.

    Parameters mirror :func:`cluster` (``random_state`` is its ``seed``). After ``fit``:
    ``labels_`` (the training texts' clusters), ``cluster_centers_`` (unit centroids),
    ``n_clusters_``, ``n_features_in_`` (the vectors' width) and ``clusters_`` (the full
    :class:`Clusters` result, with keywords and representatives). ``predict`` assigns
    new texts to the nearest centroid by cosine (blank texts get ``-1``); ``transform``
    gives cosine distances to every centroid.

    ``X`` is texts (a list, tuple, numpy array or pandas Series of ``str``) *or* an
    ``(n, d)`` array of vectors already made (by the same encoder, or any other: they
    are L2-normalised here and clustered as they are; ``dim`` and the encoder are not
    used, rows of zeros get ``-1``). The vector form is what scikit-learn's estimator
    checks, which feed numeric arrays, run on; ``clusters_.texts`` are then empty
    strings, so it has no keywords or representatives.

    ``clone`` shares the ``encoder`` (encoders are immutable) and pickling stores the
    bundled or any registered model by name, not its table.

    Example
    -------
    >>> from sklearn.pipeline import make_pipeline
    >>> model = TextClusterer(n_clusters=2).fit(["cats purr", "dogs bark", "stocks fell"])
    """

    def __init__(
        self,
        n_clusters: int | None = None,
        *,
        method: Method = "kmeans",
        encoder: Encoder | str | Path | None = None,
        dim: int | None = None,
        min_cluster_size: int = 5,
        k_range: tuple[int, int] | None = None,
        n_init: int | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.method = method
        self.encoder = encoder
        self.dim = dim
        self.min_cluster_size = min_cluster_size
        self.k_range = k_range
        self.n_init = n_init
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True  # vectors already made
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags

    def _seed(self) -> int:
        seed = self.random_state
        if seed is None:
            return int(np.random.default_rng().integers(2**31 - 1))
        if isinstance(seed, np.random.RandomState):
            return int(seed.randint(2**31 - 1))
        return seed

    def fit(self, X: Any, y: Any = None) -> TextClusterer:
        """Cluster the texts (or vectors) ``X``; ``y`` is ignored."""
        if _is_vectors(X):
            vectors = unit_rows(validate_data(self, X, reset=True, dtype=[np.float32, np.float64]))
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            _check_method(self.method)
            _check_n_clusters(self.n_clusters, self.method)
            seed = check_int(self._seed(), "random_state")
            _check_positive(self.min_cluster_size, "min_cluster_size")
            if self.n_init is not None:
                _check_positive(self.n_init, "n_init")
            result = _cluster_rows(
                [""] * len(vectors),
                vectors,
                np.arange(len(vectors), dtype=np.int64),
                np.ones(len(vectors), np.float32),
                self.n_clusters,
                method=self.method,
                seed=seed,
                min_cluster_size=self.min_cluster_size,
                k_range=_check_k_range(self.k_range),
                n_init=self.n_init,
                what="vectors",
            )
        else:
            result = cluster(
                X,
                self.n_clusters,
                method=self.method,
                encoder=self.encoder,
                seed=self._seed(),
                dim=self.dim,
                min_cluster_size=self.min_cluster_size,
                k_range=self.k_range,
                n_init=self.n_init,
            )
            self.n_features_in_ = result.centroids.shape[1]
        self.clusters_ = result
        self.labels_ = result.labels
        self.cluster_centers_ = result.centroids
        self.n_clusters_ = result.n_clusters
        return self

    def _vectors(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "cluster_centers_")
        if _is_vectors(X):
            vectors = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
            return unit_rows(np.asarray(vectors, dtype=np.float32))
        items = _text.as_list(X, "X")
        enc = resolve_encoder(self.encoder)
        return enc.encode(items, normalize=True, dim=self.dim)

    def predict(self, X: Any) -> np.ndarray:
        """Cluster of each text: the nearest centroid by cosine; ``-1`` for blank texts."""
        vectors = self._vectors(X)
        return _nearest(vectors, self.cluster_centers_)[0]

    def transform(self, X: Any) -> np.ndarray:
        """Cosine distance (``1 - cosine``) of each text to each centroid: ``(n, k)``."""
        vectors = self._vectors(X)
        return (1.0 - vectors @ self.cluster_centers_.T).astype(np.float32)


def _is_vectors(X: Any) -> bool:
    """Whether ``X`` is numbers (vectors already made) rather than texts: a sparse
    matrix, a numeric or 2-d array, a frame, or a sequence of rows. A 1-d numeric array
    counts, so that it is refused as "expected a 2-d array", not as "not a text"."""
    if sp.issparse(X):
        return True
    if _inputs.is_frame(X):  # pandas/polars/pyarrow: numeric columns are vectors
        return not _inputs.has_text_columns(X)
    if hasattr(X, "dtypes") and hasattr(X, "columns"):  # another library's DataFrame
        return True
    if isinstance(X, np.ndarray) or (hasattr(X, "__array__") and not hasattr(X, "iloc")):
        arr = np.asarray(X)
        return arr.ndim >= 2 or arr.dtype.kind in "biufc"
    if isinstance(X, (list, tuple)) and X:
        return isinstance(X[0], (list, tuple, np.ndarray))
    return False


# --------------------------------------------------------------------------- helpers


def _check_positive(n: Any, name: str) -> None:
    """A count >= 1; ``bool`` and floats are refused (``True`` is not 1 here)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise InvalidTypeError(f"{name} must be an int >= 1, got {n!r} ({type(n).__name__})")
    if n < 1:
        raise InvalidArgumentError(f"{name} must be an int >= 1, got {n!r}")


def _check_method(method: str) -> None:
    check_choice(method, "method", METHODS)


def _check_n_clusters(n_clusters: Any, method: str) -> None:
    if n_clusters is None:
        return
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise InvalidTypeError(
            f"n_clusters must be an int or None, got {n_clusters!r} ({type(n_clusters).__name__})"
        )
    if n_clusters < 1:
        raise InvalidArgumentError(f"n_clusters must be >= 1, got {n_clusters}")
    if method == "hdbscan":
        raise InvalidArgumentError(
            "hdbscan finds the number of clusters itself; pass n_clusters=None "
            "(tune min_cluster_size instead)"
        )


def _check_k_range(k_range: Any) -> tuple[int, int] | None:
    """``k_range`` as ``(low, high)`` ints with ``1 <= low <= high``, or None."""
    if k_range is None:
        return None
    if isinstance(k_range, (str, bytes)) or not isinstance(k_range, Sequence) or len(k_range) != 2:
        raise InvalidTypeError(f"k_range must be a pair (low, high) of ints, got {k_range!r}")
    low = check_int(k_range[0], "k_range[0]", minimum=1)
    high = check_int(k_range[1], "k_range[1]", minimum=1)
    if high < low:
        raise InvalidArgumentError(
            f"k_range must be (low, high) with 1 <= low <= high, got {tuple(k_range)}"
        )
    return low, high


def _distinct(items: Sequence[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Distinct non-blank texts, each text's row among them (``-1`` if blank), and counts."""
    index: dict[str, int] = {}
    inverse = np.empty(len(items), np.int64)
    for i, t in enumerate(items):
        if t and not t.isspace():
            inverse[i] = index.setdefault(t, len(index))
        else:
            inverse[i] = -1
    counts = np.bincount(inverse[inverse >= 0], minlength=len(index)).astype(np.float32)
    return list(index), inverse, counts


def _expand(unique_labels: np.ndarray, inverse: np.ndarray) -> np.ndarray:
    """Labels of distinct texts spread back to every row; blank rows get -1."""
    labels = np.full(len(inverse), NOISE, np.int64)
    rows = inverse >= 0
    labels[rows] = unique_labels[inverse[rows]]
    return labels


def _spherical_kmeans(
    vectors: np.ndarray, weights: np.ndarray, k: int, seed: int, n_init: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means (k-means++ start, 256 points per centroid), then every label.

    One cluster is the weighted mean direction itself, without a FAISS run.
    """
    if k == 1:
        centroids = unit_rows(np.average(vectors, axis=0, weights=weights)[None, :])
    else:
        centroids = spherical_kmeans(
            vectors,
            k,
            seed=seed,
            niter=_KMEANS_ITERATIONS,
            weights=weights,
            n_init=n_init,
            max_points_per_centroid=256,
            init="k-means++",
        )
    labels, _ = _nearest(vectors, centroids)
    return centroids, labels


def _agglomerative(vectors: np.ndarray, k: int) -> np.ndarray:
    """Ward linkage on unit vectors (Euclidean there is a monotone function of cosine)."""
    if k == 1:
        return np.zeros(len(vectors), np.int64)
    from sklearn.cluster import AgglomerativeClustering

    model = AgglomerativeClustering(n_clusters=int(k), linkage="ward")
    return model.fit_predict(vectors).astype(np.int64)


def _hdbscan(vectors: np.ndarray, counts: np.ndarray, min_cluster_size: int) -> np.ndarray:
    """scikit-learn HDBSCAN on the distinct unit vectors; noise keeps the label -1.

    HDBSCAN takes no sample weights, so each distinct vector is repeated
    ``min(count, m)`` times (``m = max(2, min_cluster_size)``, also HDBSCAN's
    ``min_samples``). A point's core distance is the distance to its ``m``-th nearest
    neighbour, which never looks past ``m`` copies of any point, so core and mutual
    reachability distances are exactly those of the input with every copy; only the
    weight of a text repeated more than ``m`` times in the choice among nested
    clusters is capped. Copies of one vector always share a label (identical points
    join at distance 0); each distinct vector takes its first copy's label.
    """
    m = max(2, int(min_cluster_size))
    repeats = np.minimum(counts.astype(np.int64), m)
    if int(repeats.sum()) < m:
        return np.full(len(vectors), NOISE, np.int64)
    from sklearn.cluster import HDBSCAN

    rows = np.repeat(np.arange(len(vectors)), repeats)
    model = HDBSCAN(min_cluster_size=m, copy=False)
    labels = model.fit_predict(vectors[rows]).astype(np.int64)
    first = np.concatenate(([0], np.cumsum(repeats)[:-1]))
    return labels[first]


def _choose_k(
    vectors: np.ndarray, weights: np.ndarray, seed: int, k_range: tuple[int, int] | None
) -> tuple[int, dict[int, float]]:
    """The k with the best cosine silhouette among a geometric grid of candidates."""
    from sklearn.metrics import silhouette_score

    n = len(vectors)
    if k_range is None:
        total = float(weights.sum())
        high = int(min(AUTO_K_MAX, max(2, round(math.sqrt(total / 2)))))
        low = 2
    else:
        low, high = k_range  # checked by _check_k_range
    if n < 3:
        return 1, {}
    rng = np.random.default_rng(seed)
    sample = rng.choice(n, min(n, AUTO_K_SAMPLE), replace=False) if n > AUTO_K_SAMPLE else None
    x = vectors if sample is None else vectors[sample]
    w = weights if sample is None else weights[sample]
    high = min(high, len(x) - 1)
    low = min(max(low, 2), high)
    if high < 2:
        return 1, {}
    grid = np.unique(np.round(np.geomspace(low, high, num=min(12, high - low + 1))).astype(int))
    score_rows = (
        rng.choice(len(x), SILHOUETTE_SAMPLE, replace=False) if len(x) > SILHOUETTE_SAMPLE else None
    )
    scores: dict[int, float] = {}
    # one tick per candidate k (k-means and its silhouette), inside a CLI's progress scope
    with _progress.phase("choosing k", len(grid), unit="k") as bar:
        for k in grid.tolist():
            _, labels = _spherical_kmeans(x, w, k, seed)
            xs, ls = (x, labels) if score_rows is None else (x[score_rows], labels[score_rows])
            if len(np.unique(ls)) >= 2 and len(np.unique(ls)) < len(ls):
                scores[k] = float(silhouette_score(xs, ls, metric="cosine"))
            bar.update(1)
    if not scores:
        return 1, {}
    best = max(scores, key=lambda k: (scores[k], -k))
    return best, scores


def _centroids_of(
    vectors: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Unit (weighted) mean vector of each label >= 0; rows labelled -1 are ignored."""
    import scipy.sparse as sp

    k = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    rows = np.flatnonzero(labels >= 0)
    w = np.ones(rows.size) if weights is None else weights[rows]
    onehot = sp.csr_matrix((w, (labels[rows], rows)), shape=(k, len(vectors)))
    return unit_rows(np.asarray(onehot @ vectors.astype(np.float64)))


def _nearest(
    vectors: np.ndarray, centroids: np.ndarray, chunk: int = 65_536
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid (by cosine) and the similarity to it; zero vectors get -1 and 0."""
    n = len(vectors)
    labels = np.full(n, NOISE, np.int64)
    sims = np.zeros(n, np.float32)
    if len(centroids) == 0:
        return labels, sims
    for start in range(0, n, chunk):
        block = vectors[start : start + chunk] @ centroids.T
        labels[start : start + chunk] = block.argmax(axis=1)
        sims[start : start + chunk] = block.max(axis=1)
    zero = np.einsum("ij,ij->i", vectors, vectors) <= 0
    labels[zero] = NOISE
    sims[zero] = 0.0
    return labels, sims


def _order_by_size(labels: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber clusters by decreasing size (ties: lower old label first); drop empty ones."""
    sizes = np.bincount(labels[labels >= 0], minlength=len(centroids))
    order = np.lexsort((np.arange(len(sizes)), -sizes))
    order = order[sizes[order] > 0]
    new_of_old = np.full(len(sizes), NOISE, np.int64)
    new_of_old[order] = np.arange(len(order))
    out = np.full(len(labels), NOISE, np.int64)
    member = labels >= 0  # all noise (no cluster at all) is a valid result
    out[member] = new_of_old[labels[member]]
    return out, np.ascontiguousarray(centroids[order], dtype=np.float32)


def _distances(
    vectors: np.ndarray,
    row_of: np.ndarray,
    labels: np.ndarray,
    centroids: np.ndarray,
    chunk: int = 65_536,
) -> np.ndarray:
    """Cosine distance of each text to its centroid; noise: to the nearest one; blank: 1.

    Works through the texts in chunks so that no (n, dim) copy is ever made.
    """
    out = np.ones(len(labels), np.float32)
    if len(centroids) == 0:
        return out
    for start in range(0, len(labels), chunk):
        rows = row_of[start : start + chunk]
        has = np.flatnonzero(rows >= 0)
        v = vectors[rows[has]]
        lab = labels[start : start + chunk][has]
        sims = np.empty(len(has), np.float32)
        member = lab >= 0
        sims[member] = np.einsum("ij,ij->i", v[member], centroids[lab[member]])
        if not member.all():
            sims[~member] = (v[~member] @ centroids.T).max(axis=1)
        out[start + has] = 1.0 - sims
    return np.clip(out, 0.0, 2.0)


def _require_matplotlib() -> tuple[Any, Any]:
    """matplotlib's Figure class and colormap registry, or a MissingDependencyError naming
    the extra (an ``ImportError`` too).

    Figures are built without pyplot, so plotting never changes the caller's backend.
    """
    try:
        from matplotlib import colormaps
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError(
            'plotting needs matplotlib, an optional extra: pip install "sememe[plot]" '
            "(or pip install matplotlib)"
        ) from None
    return Figure, colormaps
