"""Search benchmark: sememe's Index kinds against WordLlama ``topk`` and vicinity (FAISS backend).

For each collection size (default 100k and 1M documents from ``../shared``) it reports, per
contender: recall@10 against exact float search, build time, bytes per document, batch
queries per second and single-query latency (wall and CPU time, median of interleaved
repeats). Then nDCG@10 on SciFact (train queries) for every kind, and for the lexical and
hybrid modes of a ``lexical=True`` float index.

Retrieval quality (dense / lexical / hybrid against bm25s and all-MiniLM-L6-v2 on SciFact dev
and a Wikipedia set, with query latency) is measured by ``benchmarks/retrieval.py`` (results in
``benchmarks/results/retrieval.md``); the fusion defaults come from ``benchmarks/tune_fusion.py``.

    python benchmarks/search.py                   # 100k and 1M (about 20 minutes on 2 cores)
    python benchmarks/search.py --quick           # 20k documents, fewer queries, no 1M
    python benchmarks/search.py --sizes 100000 --repeats 5 --json out.json
    python benchmarks/search.py --sizes 1000000 --structures --peers "" --kinds binary+rerank
    python benchmarks/search.py --sizes 1000000 --kinds binary+rerank --peers "" --no-scifact \
        --candidates-sweep 300,2000 --scan-dims 256     # the binary+rerank trade-offs

Documents are the distinct non-blank lines of ``shared/corpus/sentences``,
``shared/bench/corpus_100k.txt.gz`` and the WordNet glosses and examples, shuffled with a
fixed seed; the first ``--queries`` lines are held out as queries. The shared text holds
fewer than 1M distinct lines, so the "1M" size is all of them (printed in the table).

Everything runs in one process. Document vectors are encoded once by sememe and given to
every sememe kind and to vicinity, so build times exclude encoding (printed separately);
a reference row re-scores candidates from the Hamming first stage binary+rerank used before
(``--no-hamming`` drops it);
query times include encoding the query. WordLlama's ``topk`` embeds all candidates on
every call, so it runs on a few queries only. ``OMP_WAIT_POLICY=PASSIVE`` is set before
FAISS loads: on a busy machine OpenMP's spinning threads otherwise slow single queries by
10-100x (see docs/search.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import gc
import gzip
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import _peers  # noqa: E402
import quality  # noqa: E402

import sememe  # noqa: E402
from sememe.index import DEFAULT_CANDIDATES, Index  # noqa: E402
from sememe.index._common import faiss_threads  # noqa: E402

SHARED = _HERE.parents[0].parent / "shared"
K = 10
KINDS = ("float", "binary", "binary+rerank")

SearchOne = Callable[[str], list[Any]]  # one query -> ranked row numbers of the documents
SearchMany = Callable[[list[str]], list[list[int]]]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# --------------------------------------------------------------------------- data


def text_pool() -> list[str]:
    """Every distinct non-blank line of the shared text, shuffled with seed 0."""
    seen: dict[str, None] = {}
    files = sorted((SHARED / "corpus" / "sentences").glob("*.txt.gz"))
    files.append(SHARED / "bench" / "corpus_100k.txt.gz")
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    seen.setdefault(line, None)
    wordnet = SHARED / "corpus" / "wordnet.jsonl.gz"
    if wordnet.is_file():
        with gzip.open(wordnet, "rt", encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                for text in [rec.get("gloss", ""), *rec.get("examples", [])]:
                    text = text.strip()
                    if text:
                        seen.setdefault(text, None)
    pool = list(seen)
    order = np.random.default_rng(0).permutation(len(pool))
    return [pool[i] for i in order]


def encode_all(enc: sememe.Encoder, texts: list[str]) -> np.ndarray:
    """Vectors in chunks (with a retry on the encoder's word-memo KeyError, see the report)."""
    parts = []
    for start in range(0, len(texts), 65_536):
        chunk = texts[start : start + 65_536]
        try:
            parts.append(enc.encode(chunk))
        except KeyError:
            parts.append(enc.encode(chunk))
    return np.concatenate(parts) if parts else np.zeros((0, enc.dim), np.float32)


# --------------------------------------------------------------------------- contenders


@dataclass
class Contender:
    """One way of searching the collection, with its measurements."""

    name: str
    search_one: SearchOne
    search_many: SearchMany | None
    build_s: float
    bytes_per_doc: float | None
    recall_queries: int | None = None  # None: all queries
    notes: str = ""
    results: dict[str, Any] = field(default_factory=dict)


def faiss_bytes(index: Any) -> int:
    import faiss

    if index is None:
        return 0
    if isinstance(index, faiss.IndexBinary):
        return int(faiss.serialize_index_binary(index).nbytes)
    return int(faiss.serialize_index(index).nbytes)


def index_bytes(index: Index) -> int:
    """Vectors, codes and FAISS structure of a sememe Index (texts and ids excluded)."""
    total, engine = 0, index._engine
    for rows in (engine.vectors, engine.codes):
        if rows is not None:
            total += rows.view().nbytes
    if engine.structure is not None:
        total += faiss_bytes(engine.structure) + engine.serials.view().nbytes
    if engine.scan is not None:  # binary+rerank's first stage
        total += faiss_bytes(engine.scan)
    return total


def sememe_contenders(
    name: str,
    docs: list[str],
    vectors: np.ndarray,
    variants: list[dict[str, int]],
    **options: Any,
) -> list[Contender]:
    """The index built with ``options``, then one row per variant of per-call search options."""
    t0 = time.perf_counter()
    index = Index.from_texts(docs, vectors=vectors, **options)
    build = time.perf_counter() - t0
    size = index_bytes(index) / max(len(index), 1)
    out = []
    for n, variant in enumerate([{}, *variants]):

        def one(q: str, variant: dict[str, int] = variant) -> list[int]:
            return [h.id for h in index.search(q, k=K, **variant)]

        def many(qs: list[str], variant: dict[str, int] = variant) -> list[list[int]]:
            return [[h.id for h in hits] for hits in index.search(qs, k=K, **variant)]

        label = ", ".join(f"{k}={v}" for k, v in variant.items())
        label = f"{name} ({label})" if label else name
        note = f"structure: {index.structure}" if n == 0 else "same index as above"
        out.append(Contender(label, one, many, build if n == 0 else 0.0, size, notes=note))
    return out


#: ``--structures``: the alternatives behind the default structures, as (name, options,
#: per-call variants). Approximate structures are forced with a tiny ``exact_limit``.
STRUCTURES: list[tuple[str, dict[str, Any], list[dict[str, int]]]] = [
    ("sememe float IVF1024,Flat", {"kind": "float", "factory": "IVF1024,Flat"}, [{"nprobe": 128}]),
    (
        "sememe binary+rerank BIVF1024",
        {"kind": "binary+rerank", "factory": "BIVF1024"},
        [{"nprobe": 128}],
    ),
    (
        "sememe binary+rerank BHNSW32",
        {"kind": "binary+rerank", "factory": "BHNSW32"},
        [{"ef_search": 2000}],
    ),
]


def hamming_rerank_contender(
    enc: sememe.Encoder, vectors: np.ndarray, candidates: int
) -> Contender:
    """Reference: the Hamming first stage binary+rerank used before (FAISS ``knn_hamming``
    over all 256-bit codes, then the same float re-scoring), to compare in one process."""
    import faiss

    t0 = time.perf_counter()
    codes = sememe.pack_bits(vectors)
    build = time.perf_counter() - t0

    def many(qs: list[str]) -> list[list[int]]:
        q = enc.encode(qs)
        with faiss_threads(1 if len(qs) == 1 else None):
            _, cand = faiss.knn_hamming(sememe.pack_bits(q), codes, candidates, variant="mc")
        out = []
        for row, qv in zip(cand, q, strict=True):
            row = row[row >= 0]
            scores = np.take(vectors, row, axis=0) @ qv
            top = np.argpartition(-scores, K - 1)[:K] if len(row) > K else np.arange(len(row))
            out.append(row[top[np.argsort(-scores[top], kind="stable")]].tolist())
        return out

    def one(q: str) -> list[int]:
        return many([q])[0]

    size = (codes.nbytes + vectors.nbytes) / max(len(vectors), 1)
    name = f"hamming+rerank (candidates={candidates})"
    return Contender(name, one, many, build, size, notes="previous binary+rerank first stage")


def vicinity_contenders(
    enc: sememe.Encoder, docs: list[str], vectors: np.ndarray, ef_search: int
) -> list[Contender]:
    try:
        from vicinity import Backend, Vicinity
    except ImportError:
        _log("vicinity not installed; skipped (pip install vicinity)")
        return []
    out = []
    for index_type, extra in (("flat", {}), ("hnsw", {"m": 32})):
        t0 = time.perf_counter()
        vic = Vicinity.from_vectors_and_items(
            vectors=vectors,
            items=list(range(len(docs))),
            backend_type=Backend.FAISS,
            index_type=index_type,
            metric="cosine",
            **extra,
        )
        build = time.perf_counter() - t0
        size = faiss_bytes(vic.backend.index) / len(docs)

        def one(q: str, vic: Any = vic) -> list[int]:
            return [item for item, _ in vic.query(enc.encode([q]), k=K)[0]]

        def many(qs: list[str], vic: Any = vic) -> list[list[int]]:
            return [[item for item, _ in res] for res in vic.query(enc.encode(qs), k=K)]

        if index_type == "flat":
            out.append(Contender("vicinity faiss flat", one, many, build, size))
            continue
        hnsw = vic.backend.index.hnsw
        default_ef = hnsw.efSearch

        def with_ef(fn: Callable[..., Any], ef: int, hnsw: Any = hnsw) -> Callable[..., Any]:
            def run(arg: Any) -> Any:
                hnsw.efSearch = ef
                return fn(arg)

            return run

        out.append(
            Contender(
                f"vicinity faiss hnsw (M=32, efSearch={default_ef}, as shipped)",
                with_ef(one, default_ef),
                with_ef(many, default_ef),
                build,
                size,
            )
        )
        out.append(
            Contender(
                f"vicinity faiss hnsw (M=32, efSearch={ef_search}, set by hand)",
                with_ef(one, ef_search),
                with_ef(many, ef_search),
                0.0,
                size,
                notes="same index as the row above",
            )
        )
    return out


def wordllama_contender(docs: list[str], n_queries: int) -> Contender | None:
    try:
        wl = _peers.load_wordllama(256)
    except _peers.PeerUnavailable as exc:
        _log(f"wordllama skipped: {exc}")
        return None
    row_of: dict[str, int] = {}
    for r, d in enumerate(docs):
        row_of.setdefault(d, r)

    def one(q: str) -> list[int]:
        return [row_of[d] for d in wl.topk(q, docs, k=K)]

    return Contender(
        "wordllama topk (embeds all docs per call)",
        one,
        None,
        0.0,
        None,
        recall_queries=n_queries,
        notes="own embeddings; recall is agreement with sememe's exact float ranking",
    )


# --------------------------------------------------------------------------- measuring


def recall_at_k(got: list[list[int]], truth: np.ndarray) -> float:
    return float(
        np.mean([len(set(g) & set(t.tolist())) / K for g, t in zip(got, truth, strict=False)])
    )


def measure(
    contenders: list[Contender],
    queries: list[str],
    truth: np.ndarray,
    latency_queries: int,
    repeats: int,
) -> None:
    """Recall and batch QPS once each, then interleaved single-query latency repeats."""
    for c in contenders:
        n = len(queries) if c.recall_queries is None else c.recall_queries
        if c.search_many is not None:
            c.search_many(queries[:50])  # warm up
            t0 = time.perf_counter()
            got = c.search_many(queries[:n])
            c.results["batch_qps"] = n / (time.perf_counter() - t0)
        else:
            got = [c.search_one(q) for q in queries[:n]]
        c.results["recall@10"] = recall_at_k(got, truth[:n])
        c.results["recall_queries"] = n
        _log(f"  {c.name}: recall@10 {c.results['recall@10']:.3f} over {n} queries")
    walls: dict[str, list[float]] = {c.name: [] for c in contenders}
    cpus: dict[str, list[float]] = {c.name: [] for c in contenders}
    per_query: dict[str, list[float]] = {c.name: [] for c in contenders}
    for rep in range(repeats):
        for c in contenders:
            n = (
                latency_queries
                if c.recall_queries is None
                else min(latency_queries, c.recall_queries)
            )
            if c.recall_queries is not None and rep > 0:
                continue  # slow peer: one pass only
            qs = queries[:n]
            cpu0, wall0 = time.thread_time(), time.perf_counter()
            for q in qs:
                t = time.perf_counter()
                c.search_one(q)
                per_query[c.name].append(time.perf_counter() - t)
            walls[c.name].append((time.perf_counter() - wall0) / n * 1000)
            cpus[c.name].append((time.thread_time() - cpu0) / n * 1000)
        _log(f"  latency repeat {rep + 1}/{repeats} done (load {load_average()})")
    for c in contenders:
        c.results["ms_per_query"] = statistics.median(walls[c.name])
        c.results["cpu_ms_per_query"] = statistics.median(cpus[c.name])
        c.results["p50_ms"] = float(np.median(per_query[c.name])) * 1000
        c.results["p95_ms"] = float(np.percentile(per_query[c.name], 95)) * 1000


def table(contenders: list[Contender], base: str) -> str:
    ref = next((c for c in contenders if c.name == base), contenders[0])
    lines = [
        "| contender | recall@10 | build s | bytes/doc | batch q/s | ms/query | CPU ms/query | p95 ms | time vs "
        + ref.name
        + " |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in contenders:
        r = c.results
        rec = f"{r['recall@10']:.3f}" + ("*" if c.recall_queries else "")
        size = "-" if c.bytes_per_doc is None else f"{c.bytes_per_doc:,.0f}"
        qps = f"{r['batch_qps']:,.0f}" if "batch_qps" in r else "-"
        ratio = r["ms_per_query"] / ref.results["ms_per_query"]
        lines.append(
            f"| {c.name} | {rec} | {c.build_s:.1f} | {size} | {qps} | {r['ms_per_query']:.2f} | "
            f"{r['cpu_ms_per_query']:.2f} | {r['p95_ms']:.2f} | {ratio:.2f}x |"
        )
    return "\n".join(lines)


def run_size(
    enc: sememe.Encoder,
    pool: list[str],
    n_docs: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    import faiss

    queries = pool[: args.queries]
    docs = pool[args.queries : args.queries + n_docs]
    _log(f"== {len(docs):,} documents, {len(queries):,} queries (load {load_average()})")
    t0 = time.perf_counter()
    vectors = encode_all(enc, docs)
    encode_s = time.perf_counter() - t0
    _log(f"  encoded documents in {encode_s:.1f}s")
    t0 = time.perf_counter()
    _, truth = faiss.knn(enc.encode(queries), vectors, K, faiss.METRIC_INNER_PRODUCT)
    _log(f"  exact ground truth in {time.perf_counter() - t0:.1f}s")

    contenders: list[Contender] = []
    for kind in args.kinds:
        _log(f"  building sememe {kind}")
        sweep = args.candidates_sweep if kind == "binary+rerank" else []
        variants = [{"candidates": c} for c in sweep]
        contenders += sememe_contenders(
            f"sememe {kind}", docs, vectors, variants, encoder=enc, kind=kind
        )
        gc.collect()
        if kind == "binary+rerank":
            for dims in args.scan_dims:
                contenders += sememe_contenders(
                    f"sememe {kind} (scan_dims={dims})",
                    docs,
                    vectors,
                    [],
                    encoder=enc,
                    kind=kind,
                    scan_dims=dims,
                )
                gc.collect()
            if args.hamming:
                contenders.append(hamming_rerank_contender(enc, vectors, DEFAULT_CANDIDATES))
    if args.structures:
        for name, options, variants in STRUCTURES:
            _log(f"  building {name}")
            contenders += sememe_contenders(
                name, docs, vectors, variants, encoder=enc, exact_limit=1, **options
            )
            gc.collect()
    if "vicinity" in args.peers:
        _log("  building vicinity")
        contenders += vicinity_contenders(enc, docs, vectors, args.ef_search)
    if "wordllama" in args.peers:
        n = args.wordllama_queries if len(docs) <= 200_000 else max(1, args.wordllama_queries // 3)
        wl = wordllama_contender(docs, n)
        if wl is not None:
            contenders.append(wl)
    measure(contenders, queries, truth, args.latency_queries, args.repeats)
    md = table(contenders, "sememe float")
    print(
        f"\n### {len(docs):,} documents, {len(queries):,} queries, k={K} "
        f"(encoding the documents: {encode_s:.1f}s, {len(docs) / encode_s:,.0f} texts/s)\n"
    )
    print(md)
    print(
        "\n*recall from fewer queries. Query times include encoding the query; build times "
        "exclude encoding the documents. bytes/doc: vectors, codes and FAISS structure "
        "(texts excluded)."
    )
    for c in contenders:
        if c.notes:
            print(f"- {c.name}: {c.notes}")
    return {
        "documents": len(docs),
        "queries": len(queries),
        "encode_s": encode_s,
        "contenders": [
            {"name": c.name, "build_s": c.build_s, "bytes_per_doc": c.bytes_per_doc, **c.results}
            for c in contenders
        ],
    }


# --------------------------------------------------------------------------- SciFact


def scifact(enc: sememe.Encoder, peers: list[str]) -> dict[str, float]:
    folder = SHARED / "eval" / "scifact"
    if not (folder / "corpus.jsonl").is_file():
        _log("SciFact not found; skipped")
        return {}
    qrels: dict[str, dict[str, float]] = {}
    for qid, did, grade in quality._read_tsv(folder / "qrels_train.tsv"):
        qrels.setdefault(qid, {})[did] = float(grade)
    queries = {q["_id"]: q["text"] for q in quality._read_jsonl(folder / "queries.jsonl")}
    corpus = quality._read_jsonl(folder / "corpus.jsonl")
    qids = [q for q in qrels if any(g > 0 for g in qrels[q].values())]
    texts = [f"{d['title']} {d['text']}" for d in corpus]
    doc_ids = [d["_id"] for d in corpus]
    qtexts = [queries[q] for q in qids]
    vectors = encode_all(enc, texts)

    def score(ranked: list[list[str]]) -> float:
        return 100 * float(
            np.mean([quality.ndcg_at_k(r, qrels[q], K) for q, r in zip(qids, ranked, strict=True)])
        )

    out: dict[str, float] = {}
    variants: list[tuple[str, dict[str, Any]]] = [
        ("sememe float (exact)", {"kind": "float"}),
        ("sememe float (HNSW32 forced)", {"kind": "float", "exact_limit": 100}),
        ("sememe binary (exact Hamming)", {"kind": "binary"}),
        ("sememe binary+rerank (candidates=1000)", {"kind": "binary+rerank"}),
        ("sememe binary+rerank (candidates=100)", {"kind": "binary+rerank", "candidates": 100}),
    ]
    for name, options in variants:
        index = Index.from_texts(texts, doc_ids, vectors=vectors, encoder=enc, **options)
        out[name] = score([[h.id for h in hits] for hits in index.search(qtexts, k=K)])
        _log(f"  scifact {name}: {out[name]:.2f}")
    # The lexical side and the fused ranking of a lexical=True index (default settings).
    index = Index.from_texts(
        texts, doc_ids, vectors=vectors, encoder=enc, kind="float", lexical=True
    )
    for mode in ("hybrid", "lexical"):
        name = f"sememe float {mode} (lexical=True, mode={mode!r})"
        hits = index.search(qtexts, k=K, mode=mode)
        out[name] = score([[h.id for h in row] for row in hits])
        _log(f"  scifact {name}: {out[name]:.2f}")
    if "wordllama" in peers:
        try:
            wl = _peers.load_wordllama(256)
        except _peers.PeerUnavailable as exc:
            _log(f"wordllama skipped: {exc}")
        else:
            # topk ranks by cosine of embed(norm=True); embedding the corpus once gives
            # the same ranking as calling topk per query, in a fraction of the time.
            dv = _peers.l2_normalize(wl.embed(texts, norm=True))
            qv = _peers.l2_normalize(wl.embed(qtexts, norm=True))
            top = np.argsort(-(qv @ dv.T), axis=1, kind="stable")[:, :K]
            out["wordllama topk ranking"] = score([[doc_ids[j] for j in row] for row in top])
    return out


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100000,1000000", help="comma list of document counts")
    ap.add_argument("--queries", type=int, default=1000, help="held-out queries for recall")
    ap.add_argument("--latency-queries", type=int, default=300, help="single queries timed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--peers", default="vicinity,wordllama")
    ap.add_argument("--wordllama-queries", type=int, default=3)
    ap.add_argument(
        "--ef-search", type=int, default=256, help="efSearch for the tuned vicinity row"
    )
    ap.add_argument("--candidates-sweep", default="", help="extra binary+rerank candidate counts")
    ap.add_argument(
        "--scan-dims", default="", help="extra binary+rerank indexes with these scan_dims"
    )
    ap.add_argument(
        "--no-hamming",
        dest="hamming",
        action="store_false",
        help="skip the reference row with the previous (Hamming) first stage",
    )
    ap.add_argument(
        "--structures",
        action="store_true",
        help="also measure the alternative FAISS structures (IVF, binary IVF, binary HNSW)",
    )
    ap.add_argument("--no-scifact", action="store_true")
    ap.add_argument("--quick", action="store_true", help="20k documents, 200 queries, 1 repeat")
    ap.add_argument("--json", type=Path, default=None, help="write raw numbers here")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.queries, args.latency_queries, args.repeats = "20000", 200, 100, 1
    args.kinds = [k for k in args.kinds.split(",") if k]
    args.peers = [p for p in args.peers.split(",") if p]
    args.candidates_sweep = [int(c) for c in args.candidates_sweep.split(",") if c]
    args.scan_dims = [int(c) for c in args.scan_dims.split(",") if c]
    if not SHARED.is_dir():
        print(f"{SHARED} not found; nothing to benchmark")
        return 0

    import faiss

    enc = sememe.load()
    _log(
        f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads, load {load_average()}"
    )
    pool = text_pool()
    available = len(pool) - args.queries
    print(
        f"# sememe search benchmark\n\n{os.cpu_count()} CPUs, load average at start "
        f"{load_average()} (other jobs share this machine: timings are under contention). "
        f"Text pool: {len(pool):,} distinct lines; {args.queries:,} held out as queries."
    )
    report: dict[str, Any] = {"sizes": []}
    for size in [int(s) for s in args.sizes.split(",") if s]:
        n = min(size, available)
        if n < size:
            print(
                f"\nOnly {available:,} distinct documents exist; the {size:,} size uses all of them."
            )
        report["sizes"].append(run_size(enc, pool, n, args))
        gc.collect()
    if not args.no_scifact:
        _log("== SciFact")
        scores = scifact(enc, args.peers)
        if scores:
            report["scifact"] = scores
            print("\n### SciFact (train queries), nDCG@10 x100\n")
            print("| contender | nDCG@10 |\n|---|---:|")
            for name, value in scores.items():
                print(f"| {name} | {value:.2f} |")
    print(f"\nload average at end: {load_average()}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
        _log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
