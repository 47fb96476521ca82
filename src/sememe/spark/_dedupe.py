"""``sememe.spark.dedupe``: :func:`sememe.dedupe`'s decision, planned for a Spark cluster.

The plan (docs/spark.md measures it):

1. **Rank.** Each record gets its place in ``keep`` order (``_rk``, a long: a sort by the
   keep key, then ``order``, then input position, numbered by ``monotonically_increasing_id``
   after the range-partitioned sort, which follows the sort order). The ranked frame is
   checkpointed, so every later step sees the same ranks.
2. **Exact duplicates.** A 128-bit BLAKE2b hash of :func:`~sememe.normalize_text` groups
   records into *items*, represented by their lowest rank (a shuffle of 24 bytes a record).
3. **Encode** each item's representative once on the executors. Texts the model barely
   covers (``sememe.deduplication``'s *uncovered* texts) get no vector; as in one process they
   are compared by character 3-grams (on the driver: their number is bounded by
   ``max_uncovered``). Items with identical vectors (same tokens in another order) merge into
   one *node*, like one-process dedupe does; blank texts get the zero vector, near nothing.
4. **Cells.** Spherical k-means centroids (:func:`sememe._vectors.spherical_kmeans`) from a
   sample of node vectors, on the driver, broadcast. A node is *stored* in its nearest cell
   and *probes* up to ``nprobe`` cells whose centroid is within ``margin`` of its best one.
5. **Tiled range search.** A cell's queries and its stored nodes are each cut into blocks of
   at most ``block`` (``ceil(queries / block)`` by ``ceil(stored / block)``: more than one only
   for a dense neighbourhood, near-identical inputs); each task scores one (query block,
   stored block) tile with one float32 matrix product, so no task
   holds more than ``2 * block`` vectors, however skewed the cells. Every pair at or above the
   threshold is kept with its float cosine (the exact score, verification included).
6. **Decide** (:mod:`._decide`): the no-chaining rule in rank order, in Spark rounds (no
   connected components, so a giant group of duplicates is never one task), the tail on the
   driver. Results go back to records by joins.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_choice, check_int, check_positive_int
from .._vectors import spherical_kmeans
from ..deduplication import (
    KEEP_OPTIONS,
    TOLERANCE,
    check_threshold,
    jaccard_cutoff,
    ngram_best,
    ngram_pairs,
    normalize_text,
    shingles,
    uncovered,
)
from ..encoder import Encoder, single_threaded
from ..errors import InvalidArgumentError, InvalidTypeError
from ._decide import DRIVER_EDGES, decide
from ._frames import (
    check_dataframe,
    check_new_column,
    check_no_nulls,
    check_text_column,
    packed_array,
    packed_matrix,
)
from ._model import ModelSpec, model_spec
from ._session import require_pyspark

#: Stored nodes per k-means cell (on average).
CELL_SIZE = 1024
#: Cells a node probes at most, and how much lower than its best centroid similarity a
#: probed cell's may be.
NPROBE = 4
MARGIN = 0.08
#: Nodes per side of one tile (a task scores at most ``BLOCK x BLOCK`` pairs at once).
BLOCK = 2048
#: Bytes of tile rows (vectors and keys) per partition of the tile stage.
TILE_BYTES = 128 << 20
#: Up to this many nodes, one cell: the exact all-pairs search (still tiled).
EXACT_LIMIT = 8192
#: Vectors sampled per centroid for k-means (FAISS trains on at most 256 per centroid).
SAMPLE_PER_CELL = 64
#: Uncovered items are compared on the driver; more than this is refused.
MAX_UNCOVERED = 200_000
SEARCHES = ("auto", "exact", "ivf")


def _digest(text: str) -> bytes:
    return hashlib.blake2b(
        normalize_text(text).encode("utf-8", "surrogatepass"), digest_size=16
    ).digest()


def _hash_batches(batches: Iterator[Any], column: str) -> Iterator[Any]:
    """Worker side: ``(_rk, _h)`` with ``_h`` the normalised text's 128-bit hash."""
    import pyarrow as pa

    for batch in batches:
        texts = batch.column(column).to_pylist()
        h = pa.array([_digest(t) for t in texts], pa.binary())
        yield pa.RecordBatch.from_arrays([batch.column("_rk"), h], ["_rk", "_h"])


def _vector_key(v: np.ndarray) -> bytes:
    return hashlib.blake2b(np.rint(v * 1e5).astype(np.int32).tobytes(), digest_size=16).digest()


def _encode_items(batches: Iterator[Any], spec: ModelSpec, column: str) -> Iterator[Any]:
    """Worker side: per item ``_item, _weak, _vk, _v``: uncovered?, identical-vector key
    (null for uncovered and blank texts) and the unit vector (null where ``_vk`` is)."""
    import pyarrow as pa

    enc = spec.load()
    for batch in batches:
        texts = batch.column(column).to_pylist()
        n = len(texts)
        weak = uncovered(enc, texts) if n else np.zeros(0, bool)
        vectors = np.zeros((n, enc.dim), np.float32)
        todo = np.flatnonzero(~weak)
        if len(todo):
            with single_threaded():  # one Python worker per core already (docs/spark.md)
                vectors[todo] = enc.encode([texts[i] for i in todo.tolist()], normalize=True)
        has = ~weak & np.any(vectors != 0, axis=1)
        keys = [_vector_key(vectors[i]) if has[i] else None for i in range(n)]
        v = packed_array(vectors, has)
        yield pa.RecordBatch.from_arrays(
            [batch.column("_item"), pa.array(weak), pa.array(keys, pa.binary()), v],
            ["_item", "_weak", "_vk", "_v"],
        )


def _probe_batches(
    batches: Iterator[Any], centroids: Any, dim: int, nprobe: int, margin: float
) -> Iterator[Any]:
    """Worker side: per node its cells, nearest first (``_cells``: the stored one, then the
    probed ones within ``margin`` of it)."""
    import pyarrow as pa

    c = centroids.value
    for batch in batches:
        x = packed_matrix(batch.column("_v"), dim)
        n = len(x)
        if len(c) == 1 or not n:
            cells = pa.array([[0]] * n, pa.list_(pa.int32()))
        else:
            scores = x @ c.T
            p = min(nprobe, len(c))
            top = np.argpartition(-scores, p - 1, axis=1)[:, :p] if p < len(c) else None
            if top is None:
                top = np.tile(np.arange(len(c)), (n, 1))
            ts = np.take_along_axis(scores, top, axis=1)
            order = np.argsort(-ts, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            ts = np.take_along_axis(ts, order, axis=1)
            ok = ts >= ts[:, :1] - margin
            counts = ok.sum(axis=1)
            flat = top[ok].astype(np.int32)
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            cells = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))
        yield pa.RecordBatch.from_arrays(
            [batch.column("_node"), batch.column("_ref"), batch.column("_v"), cells],
            ["_node", "_ref", "_v", "_cells"],
        )


def _tile(table: Any, dim: int, floor: float) -> Any:
    """Worker side, one tile: every (query, stored) pair at or above ``floor``.

    Rows: ``_node``, ``_ref`` (stored reference row), ``_q`` (a query here), ``_d`` (stored
    here; a row can be both), ``_home`` (this is the node's own cell), ``_v`` (packed float32
    vector). Node pairs come out as ``a < b``; a pair of two nodes stored in this cell is reported by the tile where the lower one is the
    query, so it comes out once per cell; other duplicates are removed by the caller.
    """
    import pyarrow as pa

    node = table.column("_node").to_numpy()
    ref = table.column("_ref").to_numpy(zero_copy_only=False)
    q = table.column("_q").to_numpy(zero_copy_only=False)
    d = table.column("_d").to_numpy(zero_copy_only=False)
    home = table.column("_home").to_numpy(zero_copy_only=False)
    x = packed_matrix(table.column("_v"), dim)
    qi, di = np.flatnonzero(q), np.flatnonzero(d)
    out_a, out_b, out_s, out_r = [], [], [], []
    if len(qi) and len(di):
        sims = x[qi] @ x[di].T
        r, c = np.nonzero(sims >= floor - TOLERANCE)
        a, b, s = node[qi[r]], node[di[c]], sims[r, c]
        is_ref = ref[di[c]]
        both_home = home[qi[r]] & home[di[c]] & ~is_ref
        keep = (a != b) | is_ref
        keep &= ~both_home | (a < b)
        a, b, s, is_ref = a[keep], b[keep], s[keep], is_ref[keep]
        lo = np.where(is_ref, a, np.minimum(a, b))
        hi = np.where(is_ref, b, np.maximum(a, b))
        out_a, out_b, out_s, out_r = [lo], [hi], [s], [is_ref]
    cat = lambda xs, t: np.concatenate(xs).astype(t) if xs else np.zeros(0, t)  # noqa: E731
    return pa.table(
        {
            "a": pa.array(cat(out_a, np.int64)),
            "b": pa.array(cat(out_b, np.int64)),
            "s": pa.array(cat(out_s, np.float32)),
            "r": pa.array(cat(out_r, bool)),
        }
    )


def _ranked(df: Any, column: str, keep: str, id: str | None, order: str | None) -> Any:
    """``df`` with ``_rk``: the place of each row in ``keep`` order (unique, from 0 upward,
    not contiguous), ties broken by ``order``/``id`` and then input position."""
    from pyspark.sql import functions as F

    pos = df.withColumn("_pos", F.monotonically_increasing_id())
    by = order if order is not None else id
    keys: list[Any] = []
    if keep in ("longest", "shortest"):
        length = F.length(F.col(column))
        keys.append(length.desc() if keep == "longest" else length.asc())
    if keep == "last":
        keys += ([F.col(by).desc()] if by else []) + [F.col("_pos").desc()]
    else:
        keys += ([F.col(by).asc()] if by else []) + [F.col("_pos").asc()]
    if by is None and keep == "first":
        return pos.withColumn("_rk", F.col("_pos")).localCheckpoint()
    return pos.orderBy(*keys).withColumn("_rk", F.monotonically_increasing_id()).localCheckpoint()


def _check_args(
    df: Any,
    column: str,
    threshold: Any,
    id: Any,
    order: Any,
    keep: Any,
    search: Any,
    nprobe: Any,
    margin: Any,
) -> tuple[float, float]:
    check_dataframe(df)
    check_text_column(df, column)
    threshold = check_threshold(threshold)
    check_choice(keep, "keep", KEEP_OPTIONS)
    check_choice(search, "search", SEARCHES)
    check_positive_int(nprobe, "nprobe")
    if not isinstance(margin, (int, float)) or isinstance(margin, bool) or not 0 <= margin <= 2:
        raise InvalidArgumentError(f"margin must be a number in [0, 2], got {margin!r}")
    for name, value in (("id", id), ("order", order)):
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidTypeError(f"{name} must be a column name (str) or None, got {value!r}")
        if value not in df.columns:
            raise InvalidArgumentError(f"{name}={value!r}: df has no such column ({df.columns})")
    for name in ("kept", "duplicate_of", "similarity"):
        check_new_column(df, name, "the result column")
    return threshold, float(margin)


def dedupe(
    df: Any,
    column: str = "text",
    *,
    threshold: float = 0.9,
    id: str | None = None,
    order: str | None = None,
    keep: str = "first",
    against: Any = None,
    model: Encoder | str | Path | None = None,
    search: str = "auto",
    cell_size: int = CELL_SIZE,
    nprobe: int = NPROBE,
    margin: float = MARGIN,
    block: int = BLOCK,
    driver_edges: int = DRIVER_EDGES,
    max_uncovered: int = MAX_UNCOVERED,
) -> Any:
    """``df`` with ``kept``, ``duplicate_of`` and ``similarity`` columns: :func:`sememe.dedupe`
    on a Spark cluster.

    The rule is :func:`sememe.dedupe`'s: texts equal after :func:`~sememe.normalize_text` are
    exact duplicates (similarity 1.0); others are near duplicates when their cosine is >=
    ``threshold``; records are visited in ``keep`` order and one is removed only when an
    already *kept* record is within the threshold (no chaining). ``search="exact"`` finds every
    pair (the one-process exact answer); the default cells find all but a few in a thousand
    (docs/spark.md measures it). Every reported pair is scored with float vectors.

    Parameters
    ----------
    df, column:
        The DataFrame and its string text column (no nulls: :class:`InvalidTypeError`).
    threshold:
        Cosine similarity in (0, 1] at or above which two records are duplicates.
    id:
        Column whose value ``duplicate_of`` gives (default: a new ``row_id`` column, the
        input position as ``monotonically_increasing_id`` numbers it).
    order:
        Column giving input order for ``keep`` (default ``id``, else the input position).
    keep:
        ``"first"``, ``"last"``, ``"longest"`` or ``"shortest"`` (ties: earlier in order).
    against:
        A reference DataFrame with the same text ``column`` (and ``id`` column, if given):
        records duplicating a reference record are removed whatever their rank; the result
        gains a ``by_reference`` column and ``duplicate_of`` gives the reference's id.
    model:
        ``None`` (bundled), a model name or folder path present on every executor, or an
        :class:`~sememe.Encoder` (broadcast once).
    search:
        ``"auto"`` (one exact cell up to 8,192 distinct texts, k-means cells above),
        ``"exact"`` (all pairs, tiled) or ``"ivf"`` (always cells).
    cell_size, nprobe, margin:
        Nodes per cell on average; cells probed at most per node, and how far below its
        nearest centroid's similarity a probed centroid may be.
    block:
        Nodes per side of one tile task (bounds a task's memory; a larger cell is split).
    driver_edges:
        Candidate edges left when the decision moves to the driver.
    max_uncovered:
        Most uncovered texts (compared by 3-grams on the driver) accepted.

    Returns
    -------
    DataFrame
        The input rows with ``kept`` (bool), ``duplicate_of`` (the kept record's id, null
        for kept rows) and ``similarity`` (float, null for kept rows), plus ``row_id`` when
        ``id`` is None, plus ``by_reference`` with ``against``.
    """
    require_pyspark()
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    threshold, margin = _check_args(df, column, threshold, id, order, keep, search, nprobe, margin)
    cell_size = check_positive_int(cell_size, "cell_size")
    block = check_positive_int(block, "block")
    driver_edges = check_int(driver_edges, "driver_edges", minimum=0)
    max_uncovered = check_int(max_uncovered, "max_uncovered", minimum=0)
    id_col = id if id is not None else check_new_column(df, "row_id", "the row_id column")
    spark = SparkSession.getActiveSession() or df.sparkSession
    check_no_nulls(df, column)
    if against is not None:
        check_dataframe(against, "against")
        check_text_column(against, column, "against")
        if id is not None and id not in against.columns:
            raise InvalidArgumentError(
                f"id={id!r}: against has no such column ({against.columns}); the reference's "
                "ids are what duplicate_of gives for its matches"
            )
        check_no_nulls(against, column, "against")
    spec, enc = model_spec(spark, model)
    dim = enc.dim

    ranked = _ranked(df, column, keep, id, order)
    if id is None:
        ranked = ranked.withColumn("row_id", F.col("_pos"))
    hashes = ranked.select("_rk", column).mapInArrow(
        lambda it: _hash_batches(it, column), "_rk long, _h binary"
    )
    records = hashes.localCheckpoint()
    items = records.groupBy("_h").agg(F.min("_rk").alias("_item"))
    rep_texts = items.join(ranked.select(F.col("_rk").alias("_item"), column), "_item")
    encoded = (
        rep_texts.select("_item", column)
        .mapInArrow(
            lambda it: _encode_items(it, spec, column),
            "_item long, _weak boolean, _vk binary, _v binary",
        )
        .localCheckpoint()
    )

    # ---- the reference: its exact hashes and its items, encoded the same way
    ref_ids = None
    if against is not None:
        ref = against.withColumn("_pos", F.monotonically_increasing_id())
        ref = ref.withColumn("_rid", F.col("_pos"))
        ref_ids = ref.select("_rid", F.col(id_col if id is not None else "_pos").alias("_ref_id"))
        ref_hash = ref.select(F.col("_rid").alias("_rk"), column).mapInArrow(
            lambda it: _hash_batches(it, column), "_rk long, _h binary"
        )
        ref_items = ref_hash.groupBy("_h").agg(F.min("_rk").alias("_item")).localCheckpoint()
        ref_enc = (
            ref_items.join(ref.select(F.col("_rid").alias("_item"), column), "_item")
            .select("_item", column)
            .mapInArrow(
                lambda it: _encode_items(it, spec, column),
                "_item long, _weak boolean, _vk binary, _v binary",
            )
            .localCheckpoint()
        )

    # ---- nodes: items with identical vectors merged (best rank represents them)
    vec_items = encoded.where(F.col("_vk").isNotNull())
    node_of = vec_items.groupBy("_vk").agg(F.min("_item").alias("_node"))
    item_node = vec_items.select("_item", "_vk").join(node_of, "_vk").select("_item", "_node")
    nodes = encoded.join(node_of, "_vk").where(F.col("_item") == F.col("_node"))
    nodes = nodes.select("_node", F.lit(False).alias("_ref"), "_v")
    if against is not None:
        ref_vec = ref_enc.where(F.col("_vk").isNotNull()).select(
            F.col("_item").alias("_node"), F.lit(True).alias("_ref"), "_v"
        )
        nodes = nodes.unionByName(ref_vec)
    nodes = nodes.localCheckpoint()
    n_nodes = nodes.where(~F.col("_ref")).count()

    # ---- cells
    if search == "exact" or (search == "auto" and n_nodes <= EXACT_LIMIT) or n_nodes < 2:
        centroids = np.zeros((1, dim), np.float32)
    else:
        nlist = max(1, min(n_nodes // cell_size, 65_536))
        want = min(n_nodes, nlist * SAMPLE_PER_CELL)
        sample = nodes.where(~F.col("_ref")).sample(fraction=min(1.0, 1.2 * want / n_nodes), seed=0)
        arr = sample.select("_v").limit(want).toArrow()
        x = packed_matrix(arr.column("_v"), dim) if arr.num_rows else np.zeros((0, dim), np.float32)
        nlist = max(1, min(nlist, len(x)))
        centroids = (
            spherical_kmeans(x, nlist, seed=0, niter=20)
            if nlist > 1
            else np.zeros((1, dim), np.float32)
        )
    bc = spark.sparkContext.broadcast(centroids)
    probed = nodes.mapInArrow(
        lambda it: _probe_batches(it, bc, dim, nprobe, margin),
        "_node long, _ref boolean, _v binary, _cells array<int>",
    ).localCheckpoint()
    # per cell: stored nodes and queries -> blocks per side
    home = probed.select(F.col("_cells")[0].alias("_c")).groupBy("_c").count()
    asked = (
        probed.where(~F.col("_ref"))
        .select(F.explode("_cells").alias("_c"))
        .groupBy("_c")
        .count()
        .withColumnRenamed("count", "qcount")
    )
    sizes = home.join(asked, "_c", "full_outer").fillna(0).collect()
    # a cell's queries and its stored nodes are cut into blocks separately: a grid of
    # nq x nd tiles, each stored node copied to its nq query blocks' tiles and each query to
    # its cell's nd stored blocks' (a square grid of max(nq, nd) copied both sides more)
    nq = {int(r["_c"]): max(1, math.ceil(r["qcount"] / block)) for r in sizes}
    nd = {int(r["_c"]): max(1, math.ceil(r["count"] / block)) for r in sizes}

    def int_map(values: dict[int, int]) -> Any:
        pairs = [x for c, k in values.items() for x in (F.lit(c), F.lit(k))]
        return F.create_map(*pairs).cast("map<int,int>")  # typed even when empty

    pc = probed.select("_node", "_ref", "_v", F.posexplode("_cells").alias("_rank", "_c"))
    pc = pc.withColumn("_nq", int_map(nq)[F.col("_c")]).withColumn("_nd", int_map(nd)[F.col("_c")])
    pc = pc.withColumn("_home", F.col("_rank") == 0).withColumn("_hash", F.xxhash64("_node"))
    pc = pc.withColumn("_qblk", F.pmod("_hash", "_nq")).withColumn("_dblk", F.pmod("_hash", "_nd"))
    # stored copies (c, every query block, own stored block), query copies (c, own query block,
    # every stored block). In a node's own cell they meet at (c, own query block, own stored
    # block): one row there is both, so a node with no probed cell travels once
    stored = (
        pc.where(F.col("_home"))
        .withColumn("_other", F.explode(F.sequence(F.lit(0), F.col("_nq") - 1)))
        .where(F.col("_ref") | (F.col("_other") != F.col("_qblk")))
        .select(
            "_node",
            "_ref",
            "_v",
            "_c",
            F.col("_other").alias("_qb"),
            F.col("_dblk").alias("_db"),
            F.lit(False).alias("_q"),
            F.lit(True).alias("_d"),
            F.lit(True).alias("_home"),
        )
    )
    queries = (
        pc.where(~F.col("_ref"))
        .withColumn("_other", F.explode(F.sequence(F.lit(0), F.col("_nd") - 1)))
        .select(
            "_node",
            "_ref",
            "_v",
            "_c",
            F.col("_qblk").alias("_qb"),
            F.col("_other").alias("_db"),
            F.lit(True).alias("_q"),
            (F.col("_home") & (F.col("_other") == F.col("_dblk"))).alias("_d"),
            "_home",
        )
    )
    # partitions sized by the data (the session's spark.sql.shuffle.partitions knows nothing
    # of it): about TILE_BYTES of vectors each, never more than the tiles; the groupBy below
    # then reuses this partitioning (one shuffle)
    copies = sum(r["count"] * nq[int(r["_c"])] + r["qcount"] * nd[int(r["_c"])] for r in sizes)
    tiles = sum(nq[c] * nd[c] for c in nq)
    parts = max(1, min(tiles, math.ceil(copies * (4 * dim + 64) / TILE_BYTES)))
    rows = stored.unionByName(queries).repartition(parts, "_c", "_qb", "_db")
    found = rows.groupBy("_c", "_qb", "_db").applyInArrow(
        lambda t: _tile(t, dim, threshold), "a long, b long, s float, r boolean"
    )
    found = found.localCheckpoint()
    pairs = found.where(~F.col("r")).groupBy("a", "b").agg(F.max("s").alias("s"))
    ref_best = None
    if against is not None:
        ref_best = (
            found.where(F.col("r"))
            .groupBy(F.col("a").alias("_node"))
            .agg(F.max(F.struct(F.col("s"), (-F.col("b")).alias("nb"))).alias("m"))
            .select("_node", F.col("m.s").alias("_rs"), (-F.col("m.nb")).alias("_ritem"))
        )

    # ---- uncovered items: character 3-grams, on the driver
    weak_rows = encoded.where(F.col("_weak")).select("_item")
    n_weak = weak_rows.count()
    if n_weak > max_uncovered:
        raise InvalidArgumentError(
            f"{n_weak} distinct texts are mostly made of tokens the model does not cover; "
            f"they are compared by character 3-grams on the driver, at most max_uncovered="
            f"{max_uncovered} (raise it, or use a model that covers their script)"
        )
    weak_edges = None
    weak_ref = None
    if n_weak:
        warnings.warn(
            f"sememe.spark.dedupe: {n_weak} distinct texts are mostly made of tokens the model "
            "does not cover (e.g. Korean or Arabic under an English model); as in "
            "sememe.dedupe they were compared by character 3-grams instead of vectors (duplicates "
            f"when the 3-gram Jaccard is >= {jaccard_cutoff(threshold):.2f}; see docs/dedupe.md)",
            UserWarning,
            stacklevel=2,
        )
        wt = weak_rows.join(ranked.select(F.col("_rk").alias("_item"), column), "_item").toPandas()
        w_ids = wt["_item"].to_numpy(np.int64)
        sets = [shingles(normalize_text(t)) for t in wt[column].tolist()]
        wa, wb, ws = ngram_pairs(sets, threshold)
        if len(wa):
            lo, hi = np.minimum(w_ids[wa], w_ids[wb]), np.maximum(w_ids[wa], w_ids[wb])
            import pandas as pd

            weak_edges = spark.createDataFrame(
                pd.DataFrame({"a": lo, "b": hi, "s": ws.astype(np.float32)}),
                "a long, b long, s float",
            )
        if against is not None:
            rw = ref_enc.where(F.col("_weak")).select("_item")
            rw = rw.join(ref.select(F.col("_rid").alias("_item"), column), "_item").toPandas()
            rsets = [shingles(normalize_text(t)) for t in rw[column].tolist()]
            best, where = ngram_best(sets, rsets, threshold)
            hit = where >= 0
            if hit.any():
                import pandas as pd

                weak_ref = spark.createDataFrame(
                    pd.DataFrame(
                        {
                            "_node": w_ids[hit],
                            "_rs": best[hit].astype(np.float32),
                            "_ritem": rw["_item"].to_numpy(np.int64)[where[hit]],
                        }
                    ),
                    "_node long, _rs float, _ritem long",
                )

    # ---- the reference decides first: exact hashes, then best near match >= threshold
    by_ref = None
    if against is not None:
        exact_ref = items.join(ref_items.withColumnRenamed("_item", "_ritem"), "_h").select(
            F.col("_item").alias("_i"), F.lit(1.0).cast("float").alias("_rs"), "_ritem"
        )
        near = ref_best if weak_ref is None else ref_best.unionByName(weak_ref)
        # node-level near matches apply to every item of the node
        all_nodes = item_node.unionByName(
            encoded.where(F.col("_vk").isNull()).select("_item", F.col("_item").alias("_node"))
        )
        near_items = all_nodes.join(near, "_node").select(
            F.col("_item").alias("_i"), "_rs", "_ritem"
        )
        exact_ids = exact_ref.select("_i")
        by_ref = (
            exact_ref.withColumn("_rexact", F.lit(True))
            .unionByName(
                near_items.join(exact_ids, "_i", "left_anti").withColumn("_rexact", F.lit(False))
            )
            .localCheckpoint()
        )

    # ---- decide nodes (edges between nodes not removed by the reference)
    edges = pairs if weak_edges is None else pairs.unionByName(weak_edges)
    if by_ref is not None:
        gone_nodes = by_ref.join(item_node.withColumnRenamed("_item", "_i"), "_i", "left").select(
            F.coalesce("_node", "_i").alias("n")
        )
        edges = edges.join(gone_nodes.withColumnRenamed("n", "a"), "a", "left_anti").join(
            gone_nodes.withColumnRenamed("n", "b"), "b", "left_anti"
        )
    removed_nodes, _rounds = decide(edges, spark, driver_edges)

    # ---- back to records: record -> item -> node -> decision
    rec = records.join(items, "_h").select("_rk", "_item")
    rec = rec.join(item_node, "_item", "left").withColumn("_node", F.coalesce("_node", "_item"))
    rec = rec.join(
        removed_nodes.select(F.col("node").alias("_node"), "dup", "sim"), "_node", "left"
    )
    if by_ref is not None:
        rec = rec.join(by_ref.withColumnRenamed("_i", "_item"), "_item", "left")
        ref_of = ref_ids.select(F.col("_rid").alias("_ritem"), "_ref_id")
        rec = rec.join(ref_of, "_ritem", "left")
        reference = F.col("_rs").isNotNull()
    else:
        reference = F.lit(False)
    kept = ~reference & F.col("dup").isNull() & (F.col("_rk") == F.col("_node"))
    # removed by a node: that node's rank; else a duplicate of its own node's record
    dup_rank = F.when(F.col("dup").isNotNull(), F.col("dup")).when(~kept, F.col("_node"))
    sim = F.when(F.col("dup").isNotNull(), F.col("sim")).when(~kept, F.lit(1.0))
    if by_ref is not None:
        dup_rank = F.when(reference, F.lit(None)).otherwise(dup_rank)
        sim = F.when(reference, F.col("_rs")).otherwise(sim)
    decided = rec.select(
        "_rk",
        kept.alias("kept"),
        dup_rank.alias("_dup_rk"),
        sim.cast("float").alias("similarity"),
        reference.alias("by_reference"),
        *([F.col("_ref_id")] if by_ref is not None else []),
    )
    id_of = ranked.select(F.col("_rk").alias("_dup_rk"), F.col(id_col).alias("_dup_id"))
    decided = decided.join(id_of, "_dup_rk", "left")
    dup_id = F.col("_dup_id")
    if by_ref is not None:
        dup_id = F.when(F.col("by_reference"), F.col("_ref_id")).otherwise(F.col("_dup_id"))
    decided = decided.select(
        "_rk", "kept", dup_id.alias("duplicate_of"), "similarity", "by_reference"
    )
    out = ranked.join(decided, "_rk")
    columns = [*df.columns, *([] if id is not None else ["row_id"])]
    extra = [
        "kept",
        "duplicate_of",
        "similarity",
        *(["by_reference"] if against is not None else []),
    ]
    return out.select(*columns, *extra)
