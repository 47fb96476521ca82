"""The no-chaining decision over candidate edges, distributed in rounds, finished on the driver.

Nodes are record ranks (0 = visited first); an edge ``(a, b, s)`` has ``a < b``: ``a`` comes
first and ``b`` is removed if ``a`` is kept (``s >= threshold``). The rule of
:func:`sememe.deduplication._result.resolve`: visiting nodes in rank order, a node is removed
when some *kept* earlier neighbour exists (its duplicate is the most similar one), else kept.

Spark rounds (no connected components, so no component lands on one executor): a node that
is the later end of an edge is *undecided*; an edge whose earlier end is not undecided has a
kept earlier end (edges from removed nodes are dropped). Each round removes every undecided
node with such an edge and no undecided earlier neighbour (duplicate: its best kept one), then drops the edges of removed nodes; a node whose
edges are all dropped is kept. A node waits while an earlier neighbour is undecided, so
its duplicate is the most similar kept neighbour, as in one process. The lowest undecided node always has only kept earlier
neighbours, so every round decides at least one node; in practice a round decides nearly all
of them (duplicate chains are short). Once the remaining edges fit ``driver_edges`` they are
collected and finished by one sorted pass (:func:`decide_local`), which is the same rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Remaining edges collected to the driver for the final pass (about 20 bytes each there).
DRIVER_EDGES = 2_000_000


def decide_local(
    a: np.ndarray, b: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Removed nodes, the kept node each duplicates and the similarity, from edges ``a < b``.

    Edges are visited grouped by their later node in rank order, most similar (then lowest
    earlier node) first, so every earlier node's fate is final when it is consulted.
    """
    if not len(a):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    order = np.lexsort((a, -s, b))
    a, b, s = a[order].tolist(), b[order].tolist(), s[order].tolist()
    removed: dict[int, tuple[int, float]] = {}
    current = None
    for e, late, sim in zip(a, b, s, strict=True):
        if late == current:
            continue
        if e not in removed:
            removed[late] = (e, sim)
            current = late
    nodes = np.fromiter(removed, np.int64, len(removed))
    dups = np.fromiter((v[0] for v in removed.values()), np.int64, len(removed))
    sims = np.fromiter((v[1] for v in removed.values()), np.float32, len(removed))
    return nodes, dups, sims


def decide(edges: Any, spark: Any, driver_edges: int = DRIVER_EDGES) -> tuple[Any, int]:
    """A DataFrame ``(node, dup, sim)`` of the removed nodes, and the number of Spark rounds.

    ``edges`` has columns ``a < b`` (long) and ``s`` (float), one row per pair.
    """
    from pyspark.sql import functions as F

    removed_parts = []
    rounds = 0
    e = edges.select("a", "b", "s").localCheckpoint()
    while e.count() > driver_edges:
        rounds += 1
        late = e.select(F.col("b").alias("a")).distinct()
        from_kept = e.join(late, "a", "left_anti")  # earlier end decided, hence kept
        waiting = e.join(late, "a", "left_semi").select("b").distinct()
        # a node is decided once all its earlier neighbours are (its duplicate is then the
        # most similar kept one, as in the one-process rule)
        best = (
            from_kept.join(waiting, "b", "left_anti")
            .groupBy("b")
            .agg(F.max(F.struct(F.col("s"), (-F.col("a")).alias("na"))).alias("m"))
        )
        newly = best.select(
            F.col("b").alias("node"), (-F.col("m.na")).alias("dup"), F.col("m.s").alias("sim")
        ).localCheckpoint()
        removed_parts.append(newly)
        gone = newly.select(F.col("node"))
        e = (
            e.join(gone.withColumnRenamed("node", "b"), "b", "left_anti")
            .join(gone.withColumnRenamed("node", "a"), "a", "left_anti")
            .select("a", "b", "s")
            .localCheckpoint()
        )
    rest = e.toArrow() if hasattr(e, "toArrow") else None
    if rest is not None:
        a = rest.column("a").to_numpy()
        b = rest.column("b").to_numpy()
        s = rest.column("s").to_numpy().astype(np.float32)
    else:  # pragma: no cover - pyspark < 4 has no toArrow
        pdf = e.toPandas()
        a, b, s = pdf.a.to_numpy(), pdf.b.to_numpy(), pdf.s.to_numpy(np.float32)
    nodes, dups, sims = decide_local(
        np.asarray(a, np.int64), np.asarray(b, np.int64), np.asarray(s, np.float32)
    )
    import pandas as pd

    last = spark.createDataFrame(
        pd.DataFrame({"node": nodes, "dup": dups, "sim": sims}),
        "node long, dup long, sim float",
    )
    out = last
    for part in removed_parts:
        out = out.unionByName(part)
    return out, rounds
