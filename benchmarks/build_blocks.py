"""HNSW built in one FAISS call vs in blocks (issue 17): what block-wise adding costs.

``sememe.index`` adds vectors to an approximate structure in blocks of
``sememe.index._engine._ADD_BLOCK`` rows, one FAISS call each, so that a long build can
report progress per block. For IVF the result is identical (tested in
tests/test_cli_conventions.py); an HNSW graph built block by block differs from one built
in a single call (FAISS orders each call's insertions by level). This script measures
both on Wikipedia sentence groups encoded with the bundled model: build time and
recall@10 of the HNSW candidates against exact search, same efSearch.

Queries are further documents of the same set, left out of the index.

Usage::

    python benchmarks/build_blocks.py --n 100000 --queries 1000

Needs /work/shared (benchmarks/_wiki.py's articles).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _wiki

import sememe
from sememe.index import _engine
from sememe.index._common import (
    DEFAULT_EF_CONSTRUCTION,
    DEFAULT_EF_SEARCH,
    faiss_module,
)


def build(x: np.ndarray, block: int, ef_construction: int) -> tuple[object, float]:
    faiss = faiss_module()
    index = faiss.index_factory(x.shape[1], "HNSW32", faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = ef_construction
    t0 = time.perf_counter()
    for s in range(0, len(x), block):
        index.add(np.ascontiguousarray(x[s : s + block]))
    return index, time.perf_counter() - t0


def recall(index: object, q: np.ndarray, truth: np.ndarray, ef: int, k: int = 10) -> float:
    faiss = faiss_module()
    params = faiss.SearchParametersHNSW()
    params.efSearch = ef
    _, found = index.search(q, k, params=params)  # type: ignore[attr-defined]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(found, truth, strict=True)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="documents indexed")
    ap.add_argument(
        "--queries", type=int, default=1_000, help="held-out documents as queries (recall@10)"
    )
    ap.add_argument("--ef-search", type=int, default=DEFAULT_EF_SEARCH, help="HNSW efSearch")
    ap.add_argument(
        "--ef-construction", type=int, default=DEFAULT_EF_CONSTRUCTION, help="efConstruction"
    )
    args = ap.parse_args()
    faiss = faiss_module()
    enc = sememe.load()
    texts = _wiki.documents(args.n + args.queries)  # the last ones query, not indexed
    vectors = enc.encode(texts, normalize=True)
    x, q = vectors[: args.n], vectors[args.n :]
    _, truth = faiss.knn(q, x, 10, faiss.METRIC_INNER_PRODUCT)
    print(
        f"{len(x):,} documents, {len(q):,} queries, dim {x.shape[1]}, HNSW32, "
        f"efConstruction {args.ef_construction}, efSearch {args.ef_search}, "
        f"{faiss.omp_get_max_threads()} threads"
    )
    print("| adding | build s | recall@10 |\n|---|---:|---:|")
    for label, block in [
        ("one call", len(x)),
        (f"blocks of {_engine._ADD_BLOCK:,}", _engine._ADD_BLOCK),
    ]:
        index, secs = build(x, block, args.ef_construction)
        print(f"| {label} | {secs:.1f} | {recall(index, q, truth, args.ef_search):.4f} |")


if __name__ == "__main__":
    main()
