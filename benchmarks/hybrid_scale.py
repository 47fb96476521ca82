"""Hybrid search at scale: build time, memory and query latency of ``Index(lexical=True)``.

    python benchmarks/hybrid_scale.py                      # 1M documents, float and binary+rerank
    python benchmarks/hybrid_scale.py --quick              # 100k documents
    python benchmarks/hybrid_scale.py --n 1000000 --kinds binary+rerank --queries 300

Documents come from ``benchmarks/_wiki.py`` (Wikipedia sentence groups from ``../shared``,
~210 characters each); queries are "title heading" strings of held-apart articles, never seen
in the documents. The document vectors are encoded once per collection size and cached under
the system temp folder, so every kind indexes the same vectors; each kind then runs in a fresh
subprocess so that its memory figure is its own: peak RSS (VmHWM) and RSS after the build minus
RSS before it, with the texts and vectors already loaded.

Per kind it reports: the hybrid build (``Index(kind, lexical=True).add`` with the vectors
given, so encoding is not in it), the lexical build (the tantivy side alone, built first on
its own) and the dense part (their difference), the lexical
index's size on disk after ``save``, and single-query latency (wall, median and p95 of
interleaved modes: each query runs dense, lexical and hybrid in turn, query encoding included).
``OMP_WAIT_POLICY=PASSIVE`` is set before FAISS loads (see docs/search.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import _wiki  # noqa: E402

import sememe  # noqa: E402
from sememe import Analyzer, Index  # noqa: E402
from sememe.index._lexical import Lexical  # noqa: E402  (the lexical side alone, for its build time)

CACHE = Path(tempfile.gettempdir()) / "sememe-bench-hybrid"
MODES = ("dense", "lexical", "hybrid")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _data(n: int, m: int) -> tuple[list[str], np.ndarray, list[str]]:
    """The documents, their cached vectors and the queries."""
    docs = _wiki.documents(n)
    queries = _wiki.queries(m)
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"vectors-{n}.npy"
    if path.is_file():
        vectors = np.load(path)
        if len(vectors) == len(docs):
            return docs, vectors, queries
    t = time.perf_counter()
    vectors = sememe.load().encode(docs, normalize=True)
    secs = time.perf_counter() - t
    _log(f"encoded {len(docs):,} documents in {secs:.1f}s")
    (CACHE / f"encode-{n}.txt").write_text(f"{secs:.1f}")
    np.save(path, vectors)
    return docs, vectors, queries


def run_kind(kind: str, n: int, m: int) -> dict[str, object]:
    """One kind in this process: builds, sizes and latencies."""
    docs, vectors, queries = _data(n, m)
    enc = sememe.load()
    ids = list(range(len(docs)))
    t = time.perf_counter()
    side = Lexical(Analyzer())
    side.append(docs)
    lexical_build = time.perf_counter() - t
    del side
    rss0 = _rss_kib()
    t = time.perf_counter()
    index = Index(enc, kind=kind, lexical=True).add(docs, ids, vectors=vectors)
    hybrid_build = time.perf_counter() - t
    rss1 = _rss_kib()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        index.save(Path(tmp) / "idx")
        save_s = time.perf_counter() - t
        lexical_bytes = sum(
            p.stat().st_size for p in (Path(tmp) / "idx" / "lexical").iterdir() if p.is_file()
        )
        t = time.perf_counter()
        loaded = Index.load(Path(tmp) / "idx", enc, verify=False)
        load_s = time.perf_counter() - t
        del loaded
    for q in queries[:50]:  # warm the query path (the words of queries are then known)
        index.search(q, k=10)
    variants: dict[str, dict[str, object]] = {mode: {"mode": mode} for mode in MODES}
    if kind == "binary+rerank":  # hybrid needs far fewer re-scored dense candidates
        variants["hybrid_c300"] = {"mode": "hybrid", "candidates": 300}
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for j, q in enumerate(queries):
        for name in names[j % len(names) :] + names[: j % len(names)]:
            t = time.perf_counter()
            index.search(q, k=10, **variants[name])  # type: ignore[arg-type]
            times[name].append(time.perf_counter() - t)
    out: dict[str, object] = {
        "kind": kind,
        "documents": len(docs),
        "queries": len(queries),
        "hybrid_build_s": round(hybrid_build, 1),
        "lexical_build_s": round(lexical_build, 1),
        "dense_build_s": round(hybrid_build - lexical_build, 1),
        "rss_increase_mb": round((rss1 - rss0) / 1024, 1),
        "peak_rss_mb": round(_rss_kib("VmHWM") / 1024, 1),
        "lexical_disk_mb": round(lexical_bytes / 2**20, 1),
        "lexical_bytes_per_doc": round(lexical_bytes / max(len(docs), 1), 1),
        "save_s": round(save_s, 1),
        "load_s": round(load_s, 1),
    }
    for name, ts in times.items():
        out[f"{name}_median_ms"] = round(1000 * statistics.median(ts), 2)
        out[f"{name}_p95_ms"] = round(1000 * float(np.percentile(ts, 95)), 2)
    return out


def table(rows: list[dict[str, object]]) -> str:
    head = (
        "| kind | documents | hybrid build s (dense + lexical) | RSS +MB (hybrid) | lexical disk MB "
        "(B/doc) | save s | load s | dense ms (p95) | lexical ms (p95) | hybrid ms (p95) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    body = "".join(
        f"| {r['kind']} | {r['documents']:,} | {r['hybrid_build_s']} ({r['dense_build_s']} + "
        f"{r['lexical_build_s']}) | "
        f"{r['rss_increase_mb']} | {r['lexical_disk_mb']} ({r['lexical_bytes_per_doc']}) | "
        f"{r['save_s']} | {r['load_s']} | {r['dense_median_ms']} ({r['dense_p95_ms']}) | "
        f"{r['lexical_median_ms']} ({r['lexical_p95_ms']}) | "
        f"{r['hybrid_median_ms']} ({r['hybrid_p95_ms']}) |\n"
        for r in rows
    )
    extra = "".join(
        f"\n{r['kind']} hybrid with candidates=300 (re-scored dense candidates; dense mode "
        f"keeps {r.get('candidates', 1000)}): {r['hybrid_c300_median_ms']} ms median "
        f"({r['hybrid_c300_p95_ms']} p95).\n"
        for r in rows
        if "hybrid_c300_median_ms" in r
    )
    return head + body + extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="documents")
    ap.add_argument("--queries", type=int, default=500, help="single queries timed per mode")
    ap.add_argument("--kinds", default="float,binary+rerank")
    ap.add_argument("--quick", action="store_true", help="100k documents, 200 queries")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: one kind
    ap.add_argument("--out", default=str(_HERE / "results" / "hybrid_scale.md"))
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.queries = 100_000, 200
    if args.one:
        print(json.dumps(run_kind(args.one, args.n, args.queries)))
        return 0
    _data(args.n, args.queries)  # encode and cache once, outside the timed subprocesses
    rows = []
    for kind in args.kinds.split(","):
        _log(f"{kind}: building and timing in a fresh process ...")
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                kind,
                "--n",
                str(args.n),
                "--queries",
                str(args.queries),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        _log(json.dumps(rows[-1]))
    load = os.getloadavg()
    timing = CACHE / f"encode-{args.n}.txt"
    encoded = (
        f"Encoding the documents (a fresh process, text never seen; not in the build column): "
        f"{timing.read_text()} s.\n\n"
        if timing.is_file()
        else ""
    )
    text = (
        f"# Hybrid search at scale\n\n`python benchmarks/hybrid_scale.py {' '.join(argv or sys.argv[1:])}`"
        f"\n\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, sememe {sememe.__version__}; load average at the end "
        f"{load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (other jobs share the cores: read ratios, "
        "not absolute times).\n\n" + encoded + table(rows)
    )
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
