"""Retrieval benchmark: sememe dense / lexical / hybrid search against BM25 and a transformer.

nDCG@10 on SciFact dev (every query with train qrels; the test qrels are never read) and on the
Wikipedia "check" split of ``_retrieval.wikipedia`` (title + heading -> first paragraph of the
section), for:

- sememe ``Index`` (this project's default model) in modes dense, lexical (tantivy BM25) and
  hybrid with the index's default fusion settings, for kinds float and binary+rerank;
- bm25s alone (PyStemmer English stemmer, bm25s's English stop words, default k1/b/method);
- all-MiniLM-L6-v2 dense (exact cosine; vectors cached by ``_peers.MiniLMEncoder``);
- a reference fusion of bm25s and sememe dense: each side's scores standardised (z-score) over
  the whole corpus, summed with equal weights.

Also the median wall time of one query (``search(query, k=10)`` one at a time, modes interleaved,
query encoding included) per mode, and for bm25s and MiniLM. Writes
``benchmarks/results/retrieval.md`` (machine, versions, command).

    python benchmarks/retrieval.py            # both sets, all contenders (MiniLM: slow the first time)
    python benchmarks/retrieval.py --quick    # SciFact only, no MiniLM
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import contextlib
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import _peers  # noqa: E402
import _retrieval  # noqa: E402

import sememe  # noqa: E402
from sememe.index import Index  # noqa: E402

K = 10
RESULTS = _HERE / "results" / "retrieval.md"
MODES = ("dense", "lexical", "hybrid")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu})"


def versions() -> str:
    names = ("sememe", "numpy", "faiss-cpu", "tantivy", "bm25s", "PyStemmer", "torch")
    parts = [f"Python {platform.python_version()}"]
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            parts.append(f"{name} {metadata.version(name)}")
    return ", ".join(parts)


def median_ms(fn: Callable[[str], Any], queries: Sequence[str]) -> float:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times) if times else float("nan")


def interleaved_latency(
    fns: dict[str, Callable[[str], Any]], queries: Sequence[str], repeats: int = 3
) -> dict[str, float]:
    """Median single-query wall ms per contender; contenders alternate query by query."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for q in queries:
            for name, fn in fns.items():
                t0 = time.perf_counter()
                fn(q)
                times[name].append(time.perf_counter() - t0)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


# --------------------------------------------------------------------------- bm25s


class BM25s:
    """bm25s with PyStemmer's English stemmer and English stop words, default parameters."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s
        import Stemmer

        self._bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        t0 = time.perf_counter()
        tokens = bm25s.tokenize(texts, stopwords="en", stemmer=self.stemmer, show_progress=False)
        self.retriever = bm25s.BM25()
        self.retriever.index(tokens, show_progress=False)
        self.build_s = time.perf_counter() - t0
        self.n = len(texts)

    def _tokens(self, queries: list[str]) -> list[list[str]]:
        return self._bm25s.tokenize(
            queries,
            stopwords="en",
            stemmer=self.stemmer,
            return_ids=False,
            show_progress=False,
        )

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for ``query`` (all 0 when no term is known)."""
        tokens = [t for t in self._tokens([query])[0] if t in self.retriever.vocab_dict]
        if not tokens:
            return np.zeros(self.n, np.float32)
        return np.asarray(self.retriever.get_scores(tokens), np.float32)

    def top(self, query: str, k: int = K) -> list[int]:
        s = self.scores(query)
        if not s.any():
            return []
        top = np.argpartition(-s, min(k, len(s) - 1))[:k]
        top = top[s[top] > 0]
        return top[np.argsort(-s[top], kind="stable")].tolist()


def zscore(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return (x - float(x.mean())) / std if std > 0 else np.zeros_like(x)


# --------------------------------------------------------------------------- one set


def run_set(
    rs: _retrieval.RetrievalSet,
    enc: sememe.Encoder,
    kinds: Sequence[str],
    minilm: _peers.MiniLMEncoder | None,
    latency_queries: int,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    _log(f"== {rs.describe()} (load {load_average()})")
    rows: list[dict[str, Any]] = []
    qtexts = rs.query_texts
    lat_q = qtexts[:latency_queries]
    t0 = time.perf_counter()
    vectors = enc.encode(rs.texts)
    encode_s = time.perf_counter() - t0
    info: dict[str, Any] = {"encode_s": encode_s}
    _log(f"  sememe encoded {len(rs.texts):,} documents in {encode_s:.1f}s")

    for kind in kinds:
        t0 = time.perf_counter()
        index = Index.from_texts(
            rs.texts, rs.doc_ids, encoder=enc, vectors=vectors, kind=kind, lexical=True
        )
        build_s = time.perf_counter() - t0
        info.setdefault(
            "defaults",
            f"alpha={index.alpha}, fusion={index.fusion!r}, "
            f"fusion_candidates={index.fusion_candidates}",
        )
        scores = {}
        for mode in MODES:
            hits = index.search(qtexts, k=K, mode=mode)
            scores[mode] = rs.ndcg10([[h.id for h in row] for row in hits])
            _log(f"  sememe {kind} {mode}: {scores[mode]:.2f}")
        fns = {mode: (lambda q, m=mode, ix=index: ix.search(q, k=K, mode=m)) for mode in MODES}
        index.search(lat_q[:20], k=K)  # warm up
        lat = interleaved_latency(fns, lat_q)
        for mode in MODES:
            rows.append(
                {
                    "name": f"sememe {kind} {mode}",
                    "ndcg": scores[mode],
                    "ms": lat[mode],
                    "build_s": build_s if mode == "dense" else None,
                }
            )
        rows[-3]["note"] = "build: dense + lexical index from given vectors"

    _log("  bm25s")
    bm = BM25s(rs.texts)
    ranked = [[rs.doc_ids[j] for j in bm.top(q)] for q in qtexts]
    rows.append(
        {
            "name": "bm25s (PyStemmer English, stop words en)",
            "ndcg": rs.ndcg10(ranked),
            "ms": median_ms(bm.top, lat_q),
            "build_s": bm.build_s,
        }
    )

    qvec = enc.encode(qtexts)
    fused_ranked = []
    for n, q in enumerate(qtexts):
        fused = zscore(vectors @ qvec[n]) + zscore(bm.scores(q))
        top = np.argpartition(-fused, K)[:K]
        fused_ranked.append([rs.doc_ids[j] for j in top[np.argsort(-fused[top], kind="stable")]])
    rows.append(
        {
            "name": "reference: z-score(bm25s) + z-score(sememe dense)",
            "ndcg": rs.ndcg10(fused_ranked),
            "ms": None,
            "build_s": None,
            "note": "standardised over the whole corpus, equal weights",
        }
    )

    if minilm is not None:
        _log("  MiniLM (cached vectors where present)")
        t0 = time.perf_counter()
        dv = _retrieval.encode_chunked(minilm, rs.texts)
        qv = _retrieval.encode_chunked(minilm, qtexts)
        minilm_s = time.perf_counter() - t0
        ranked = []
        for start in range(0, len(qtexts), 256):
            sims = qv[start : start + 256] @ dv.T
            top = np.argsort(-sims, axis=1, kind="stable")[:, :K]
            ranked += [[rs.doc_ids[j] for j in row] for row in top]
        live = _peers.MiniLMEncoder(cache_dir=None)
        live(["warm up"])

        def minilm_one(q: str) -> list[int]:
            v = live([q])[0]
            return np.argsort(-(dv @ v))[:K].tolist()

        rows.append(
            {
                "name": "all-MiniLM-L6-v2 dense (exact cosine)",
                "ndcg": rs.ndcg10(ranked),
                "ms": median_ms(minilm_one, lat_q[:30]),
                "build_s": None,
                "note": f"encoding took {minilm_s:.0f}s this run (cache hits: {minilm.hits})",
            }
        )
    return rows, info


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| contender | nDCG@10 | median ms/query | build s |", "|---|---:|---:|---:|"]
    for r in rows:
        ms = "-" if r.get("ms") is None else f"{r['ms']:.2f}"
        build = "-" if r.get("build_s") is None else f"{r['build_s']:.2f}"
        out.append(f"| {r['name']} | {r['ndcg']:.2f} | {ms} | {build} |")
    notes = [f"- {r['name']}: {r['note']}" for r in rows if r.get("note")]
    return "\n".join(out + (["", *notes] if notes else []))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="SciFact only, no MiniLM")
    ap.add_argument(
        "--sets",
        default="scifact,wikipedia",
        help="comma list of scifact, wikipedia, quora (duplicate questions: short texts)",
    )
    ap.add_argument("--kinds", default="float,binary+rerank")
    ap.add_argument("--no-minilm", action="store_true")
    ap.add_argument(
        "--minilm-sets",
        default="scifact,wikipedia",
        help="sets with the MiniLM peer (its first run encodes the corpus on CPU: slow)",
    )
    ap.add_argument("--latency-queries", type=int, default=100)
    ap.add_argument("--n-articles", type=int, default=6000, help="Wikipedia slice size")
    ap.add_argument("--out", type=Path, default=RESULTS, help="markdown report ('-': none)")
    args = ap.parse_args(argv)
    sets = ["scifact"] if args.quick else [s for s in args.sets.split(",") if s]
    kinds = [k for k in args.kinds.split(",") if k]
    minilm = None
    if not (args.quick or args.no_minilm):
        try:
            minilm = _peers.MiniLMEncoder()
        except _peers.PeerUnavailable as exc:
            _log(f"MiniLM skipped: {exc}")
    if not _retrieval.SCIFACT.is_dir():
        print(f"{_retrieval.SHARED} not found; nothing to benchmark")
        return 0
    enc = sememe.load()
    start_load = load_average()
    sections = []
    for name in sets:
        if name == "scifact":
            rs = _retrieval.scifact("dev")
        elif name == "quora":
            rs = _retrieval.quora("dev")
        else:
            rs = _retrieval.wikipedia("check", n_articles=args.n_articles)
        with_minilm = minilm if name in args.minilm_sets.split(",") else None
        rows, info = run_set(rs, enc, kinds, with_minilm, args.latency_queries)
        if minilm is not None and with_minilm is None:
            info["skipped"] = "all-MiniLM-L6-v2: not run on this set (--minilm-sets)."
        md = (
            f"### {rs.describe()}\n\n"
            f"sememe encoded the documents in {info['encode_s']:.1f}s; hybrid defaults: "
            f"{info['defaults']}.\n\n{table(rows)}\n"
            + (f"\n{info['skipped']}\n" if "skipped" in info else "")
        )
        print("\n" + md, flush=True)
        sections.append(md)
    command = "python benchmarks/retrieval.py " + " ".join(sys.argv[1:] if argv is None else argv)
    report = (
        "# Retrieval: sememe dense / lexical / hybrid against bm25s and all-MiniLM-L6-v2\n\n"
        f"Command: `{command.strip()}`  \n"
        f"Machine: {machine()}; load average {start_load} at start, {load_average()} at end "
        "(other jobs share this machine: latencies are under contention).  \n"
        f"Versions: {versions()}  \n"
        f"Model: sememe default (`sememe.load()`), dim {enc.dim}.\n\n"
        "nDCG@10 x100. SciFact dev = all queries with train qrels (test qrels never read); "
        "Wikipedia check = `_retrieval.wikipedia('check')` (title + heading -> first "
        "paragraph of the section; fusion was tuned on the disjoint 'tune' split). Latency: "
        "median wall time of one `search(query, k=10)` call (query encoding included), modes "
        "interleaved, 3 passes; bm25s from a numpy score vector over all documents; MiniLM "
        "over 30 queries with the model on CPU.\n\n" + "\n".join(sections)
    )
    if str(args.out) != "-":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
        _log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
