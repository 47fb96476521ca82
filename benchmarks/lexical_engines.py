"""Lexical engines for sememe's hybrid retrieval (issue 15): tantivy (tantivy-py) against bm25s.

Both engines get the same analysis as far as their APIs allow: split on non-alphanumeric
characters, lowercase, the same 33 English stop words (tantivy's builtin "english" list, which is
also bm25s's ``STOPWORDS_EN``), English Snowball stemming (tantivy's ``stemmer("english")`` and
PyStemmer ``english``), BM25 with k1=1.2, b=0.75. Differences left: tantivy drops tokens of 40+
bytes (``remove_long(40)``), bm25s has no such filter; tantivy's simple tokenizer splits on
``!char::is_alphanumeric`` and bm25s uses the regex ``[^\\W_]+`` (Python's ``isalnum``). Query
terms are de-duplicated for both engines (a repeated term is not counted twice).

Documents: ``_wiki.documents(n)`` (Wikipedia sentence groups with overlap, see ``_wiki.py``);
queries: ``title + " " + heading`` of held-apart articles (``_wiki.queries``). Each engine (and each
tantivy writer setting) runs in a fresh subprocess, so memory figures do not mix; peak RSS is
measured as VmHWM after resetting it (``/proc/self/clear_refs``) once the documents are in memory.
Query latency: one query at a time, top-100, after 20 warm-up queries, single thread; for tantivy
it includes analysing the text and building the BooleanQuery of Should term queries, and mapping
the hits to serial numbers is timed on its own (stored-document fetch against the ``serial`` fast
field). bm25s returns row numbers, so it has no mapping cost; its ``retrieve`` is also timed
against ``get_scores`` + one numpy argpartition (the same ranking).

Add 1,000 documents: tantivy = new writer, ``add_document`` x1000, ``commit``; bm25s has no
incremental add, so the figure is a full rebuild (tokenise + index) of n + 1,000 documents.
Remove 1,000: tantivy = ``delete_documents_by_query(term_query("serial", i))`` x1000 + ``commit``; bm25s =
a ``weight_mask`` (zeros for removed rows) passed to ``retrieve``, its query latency with the mask
is reported; compacting a bm25s index needs a full rebuild (same cost as the add row).

    python benchmarks/lexical_engines.py --quick        # 100k documents (a few minutes)
    python benchmarks/lexical_engines.py                # 1M documents (about 20 minutes)
    python benchmarks/lexical_engines.py --n 300000 --engines tantivy:1:256,bm25s

Writes a markdown table to stdout and to benchmarks/results/lexical_engines.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import _wiki  # noqa: E402

SCIFACT = _HERE.parents[0].parent / "shared" / "eval" / "scifact"
RESULTS = _HERE / "results" / "lexical_engines.md"
MB = 1024 * 1024
WARMUP = 20
CHANGES = 1000
K1, B = 1.2, 0.75


# ----------------------------------------------------------------------------- measuring helpers
def _status_kb(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> int:
    """Reset VmHWM to the current RSS (Linux >= 4.0) and return the current RSS in kB."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass
    return _status_kb("VmRSS")


def _peak_increase_mb(base_kb: int) -> float:
    return (_status_kb("VmHWM") - base_kb) / 1024


def _du_mb(path: str) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total / MB


def _ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


def _ndcg10(ranked: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    scores = []
    for qid, relevant in qrels.items():
        gains = [relevant.get(doc, 0) for doc in ranked.get(qid, [])[:10]]
        dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
        ideal = sorted(relevant.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        scores.append(dcg / idcg if idcg else 0.0)
    return sum(scores) / len(scores)


def _scifact() -> tuple[list[str], list[str], dict[str, str], dict[str, dict[str, int]]]:
    ids, texts = [], []
    with open(SCIFACT / "corpus.jsonl") as handle:
        for line in handle:
            row = json.loads(line)
            ids.append(row["_id"])
            texts.append(f"{row['title']} {row['text']}")
    qrels: dict[str, dict[str, int]] = {}
    with open(SCIFACT / "qrels_train.tsv") as handle:
        next(handle)
        for line in handle:
            qid, doc, score = line.rstrip("\n").split("\t")
            qrels.setdefault(qid, {})[doc] = int(score)
    queries = {}
    with open(SCIFACT / "queries.jsonl") as handle:
        for line in handle:
            row = json.loads(line)
            if row["_id"] in qrels:
                queries[row["_id"]] = row["text"]
    return ids, texts, queries, qrels


# ----------------------------------------------------------------------------- tantivy
class _Tantivy:
    NAME = "en_stem"

    def __init__(self, path: str, heap_mb: int, threads: int, index_option: str) -> None:
        import tantivy

        self.t = tantivy
        self.path, self.heap, self.threads = path, heap_mb * MB, threads
        builder = tantivy.SchemaBuilder()
        builder.add_text_field(
            "text", stored=False, tokenizer_name=self.NAME, index_option=index_option
        )
        builder.add_unsigned_field("serial", stored=True, fast=True, indexed=True)
        self.schema = builder.build()
        self.analyzer = self._analyzer()
        self.index = tantivy.Index(self.schema, path=path)
        self.index.register_tokenizer(self.NAME, self.analyzer)

    def _analyzer(self):
        t = self.t
        return (
            t.TextAnalyzerBuilder(t.Tokenizer.simple())
            .filter(t.Filter.remove_long(40))
            .filter(t.Filter.lowercase())
            .filter(t.Filter.stopword("english"))
            .filter(t.Filter.stemmer("english"))
            .build()
        )

    def writer(self):
        return self.index.writer(self.heap, self.threads)

    def add(self, writer, texts: list[str], first: int) -> None:
        Document = self.t.Document
        for i, text in enumerate(texts, first):
            doc = Document()
            doc.add_text("text", text)
            doc.add_unsigned("serial", i)
            writer.add_document(doc)

    def query(self, text: str):
        t = self.t
        terms = list(dict.fromkeys(self.analyzer.analyze(text)))
        if not terms:
            return None
        return t.Query.boolean_query(
            [(t.Occur.Should, t.Query.term_query(self.schema, "text", term)) for term in terms]
        )

    def search(self, searcher, text: str, k: int):
        query = self.query(text)
        return [] if query is None else searcher.search(query, k, count=False).hits

    @classmethod
    def reopen(cls, path: str):
        import tantivy

        index = tantivy.Index.open(path)
        holder = cls.__new__(cls)
        holder.t, holder.path, holder.index = tantivy, path, index
        holder.analyzer = holder._analyzer()
        index.register_tokenizer(cls.NAME, holder.analyzer)
        holder.schema = index.schema
        return holder


def _tantivy_worker(args) -> dict:
    import tantivy

    texts = _wiki.documents(args.n + CHANGES)
    texts, extra = texts[: args.n], texts[args.n :]
    queries = _wiki.queries(args.queries)
    tmp = tempfile.mkdtemp(prefix="lexbench-tantivy-")
    out: dict = {"engine": f"tantivy threads={args.threads} heap={args.heap}MB", "n": args.n}
    try:
        base = _reset_peak()
        start = time.perf_counter()
        engine = _Tantivy(tmp, args.heap, args.threads, args.index_option)
        writer = engine.writer()
        engine.add(writer, texts, 0)
        add_done = time.perf_counter()
        writer.commit()
        commit_done = time.perf_counter()
        writer.wait_merging_threads()
        end = time.perf_counter()
        out["build_s"] = end - start
        out["build_note"] = (
            f"add {add_done - start:.1f} s + commit {commit_done - add_done:.1f} s "
            f"+ merges {end - commit_done:.1f} s"
        )
        engine.index.reload()
        searcher = engine.index.searcher()
        out["peak_rss_mb"] = _peak_increase_mb(base)
        out["disk_mb"] = _du_mb(tmp)
        out["segments"] = searcher.num_segments
        out["save_s"] = commit_done - add_done
        del writer, texts
        gc.collect()

        for text in queries[:WARMUP]:
            engine.search(searcher, text, 100)
        times, via_doc, via_fast = [], [], []
        for text in queries:
            t0 = time.perf_counter()
            hits = engine.search(searcher, text, 100)
            t1 = time.perf_counter()
            serial_doc = [searcher.doc(addr)["serial"][0] for _, addr in hits]
            t2 = time.perf_counter()
            serial_fast = searcher.fast_field_values("serial", [addr for _, addr in hits])
            t3 = time.perf_counter()
            assert serial_doc == serial_fast, "fast field and stored serial differ"
            times.append(t1 - t0)
            via_doc.append(t2 - t1)
            via_fast.append(t3 - t2)
        out["query_ms"] = _ms(times)
        out["map_doc_ms"] = _ms(via_doc)
        out["map_fast_ms"] = _ms(via_fast)

        # load: a fresh Index object over the saved folder
        t0 = time.perf_counter()
        loaded = _Tantivy.reopen(tmp)
        loaded_searcher = loaded.index.searcher()
        loaded.search(loaded_searcher, queries[0], 100)
        out["load_s"] = time.perf_counter() - t0
        del loaded, loaded_searcher

        t0 = time.perf_counter()
        writer = engine.writer()
        t1 = time.perf_counter()
        engine.add(writer, extra, args.n)
        writer.commit()
        t2 = time.perf_counter()
        out["add_s"] = t2 - t0
        out["add_note"] = f"writer {t1 - t0:.2f} s + add/commit {t2 - t1:.2f} s"

        t0 = time.perf_counter()
        for serial in range(0, args.n, args.n // CHANGES)[:CHANGES]:
            # delete_documents_by_term("serial", serial) deletes nothing on a u64 field (the
            # Python int becomes an I64 term); a term query built from the schema matches.
            writer.delete_documents_by_query(
                tantivy.Query.term_query(engine.schema, "serial", serial)
            )
        writer.commit()
        t1 = time.perf_counter()
        out["remove_s"] = t1 - t0
        out["remove_note"] = "delete_documents_by_query(term_query(serial)) x1000 + commit"
        writer.wait_merging_threads()
        engine.index.reload()
        searcher = engine.index.searcher()
        out["docs_after"] = searcher.num_docs
        times = []
        for text in queries:
            t0 = time.perf_counter()
            engine.search(searcher, text, 100)
            times.append(time.perf_counter() - t0)
        out["query_after_ms"] = _ms(times)
        out["version"] = _version("tantivy")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _tantivy_scifact(args) -> dict:
    ids, texts, queries, qrels = _scifact()
    tmp = tempfile.mkdtemp(prefix="lexbench-tantivy-sf-")
    try:
        engine = _Tantivy(tmp, 256, 1, args.index_option)
        writer = engine.writer()
        engine.add(writer, texts, 0)
        writer.commit()
        writer.wait_merging_threads()
        engine.index.reload()
        searcher = engine.index.searcher()
        ranked = {}
        for qid, text in queries.items():
            hits = engine.search(searcher, text, 100)
            serials = searcher.fast_field_values("serial", [addr for _, addr in hits])
            ranked[qid] = [ids[s] for s in serials]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"engine": "tantivy", "ndcg10": _ndcg10(ranked, qrels), "queries": len(queries)}


# ----------------------------------------------------------------------------- bm25s
def _bm25s_tokenizer():
    import bm25s.stopwords
    import Stemmer
    from bm25s.tokenization import Tokenizer

    return Tokenizer(
        lower=True,
        splitter=r"(?u)[^\W_]+",
        stopwords=list(bm25s.stopwords.STOPWORDS_EN),
        stemmer=Stemmer.Stemmer("english"),
    )


def _bm25s_build(texts: list[str]):
    import bm25s

    tokenizer = _bm25s_tokenizer()
    tokens = tokenizer.tokenize(texts, return_as="tuple", show_progress=False)
    retriever = bm25s.BM25(k1=K1, b=B, method="lucene")
    retriever.index(tokens, show_progress=False)
    return tokenizer, retriever


def _bm25s_search(tokenizer, retriever, text: str, k: int, mask=None):
    terms = tokenizer.tokenize([text], update_vocab=False, return_as="ids", show_progress=False)[0]
    terms = list(dict.fromkeys(terms))
    if not terms:
        return []
    k = min(k, retriever.scores["num_docs"])
    rows, _ = retriever.retrieve([terms], k=k, show_progress=False, n_threads=0, weight_mask=mask)
    return rows[0].tolist()


def _bm25s_scores_top(tokenizer, retriever, text: str, k: int) -> list[int]:
    """The same ranking without ``retrieve``: ``get_scores`` and one argpartition."""
    import numpy as np

    terms = tokenizer.tokenize([text], update_vocab=False, return_as="ids", show_progress=False)[0]
    terms = list(dict.fromkeys(terms))
    if not terms:
        return []
    scores = retriever.get_scores(terms)
    k = min(k, len(scores))
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")].tolist()


def _bm25s_worker(args) -> dict:
    import bm25s
    import numpy as np

    texts = _wiki.documents(args.n + CHANGES)
    queries = _wiki.queries(args.queries)
    tmp = tempfile.mkdtemp(prefix="lexbench-bm25s-")
    out: dict = {"engine": "bm25s + PyStemmer", "n": args.n}
    try:
        base = _reset_peak()
        start = time.perf_counter()
        tokenizer, retriever = _bm25s_build(texts[: args.n])
        out["build_s"] = time.perf_counter() - start
        out["peak_rss_mb"] = _peak_increase_mb(base)
        out["build_note"] = "tokenise + index"

        t0 = time.perf_counter()
        retriever.save(tmp, show_progress=False)
        tokenizer.save_vocab(tmp)
        out["save_s"] = time.perf_counter() - t0
        out["disk_mb"] = _du_mb(tmp)

        for text in queries[:WARMUP]:
            _bm25s_search(tokenizer, retriever, text, 100)
        times = []
        for text in queries:
            t0 = time.perf_counter()
            _bm25s_search(tokenizer, retriever, text, 100)
            times.append(time.perf_counter() - t0)
        out["query_ms"] = _ms(times)
        out["map_doc_ms"] = out["map_fast_ms"] = (0.0, 0.0)
        times = []
        for text in queries:
            t0 = time.perf_counter()
            _bm25s_scores_top(tokenizer, retriever, text, 100)
            times.append(time.perf_counter() - t0)
        out["query_scores_ms"] = _ms(times)

        t0 = time.perf_counter()
        loaded = bm25s.BM25.load(tmp, show_progress=False)
        loaded_tok = _bm25s_tokenizer()
        loaded_tok.load_vocab(tmp)
        _bm25s_search(loaded_tok, loaded, queries[0], 100)
        out["load_s"] = time.perf_counter() - t0
        del loaded, loaded_tok

        mask = np.ones(args.n, dtype=np.float32)
        t0 = time.perf_counter()
        mask[np.arange(0, args.n, args.n // CHANGES)[:CHANGES]] = 0
        out["remove_s"] = time.perf_counter() - t0
        out["remove_note"] = "weight_mask (rows stay; compaction = full rebuild)"
        times = []
        for text in queries:
            t0 = time.perf_counter()
            _bm25s_search(tokenizer, retriever, text, 100, mask)
            times.append(time.perf_counter() - t0)
        out["query_after_ms"] = _ms(times)
        out["docs_after"] = int(mask.sum())

        del tokenizer, retriever
        gc.collect()
        t0 = time.perf_counter()
        _bm25s_build(texts)
        out["add_s"] = time.perf_counter() - t0
        out["add_note"] = "no incremental add: full rebuild of n + 1000"
        out["version"] = _version("bm25s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _bm25s_scifact(args) -> dict:
    ids, texts, queries, qrels = _scifact()
    tokenizer, retriever = _bm25s_build(texts)
    ranked = {
        qid: [ids[r] for r in _bm25s_search(tokenizer, retriever, text, 100)]
        for qid, text in queries.items()
    }
    return {"engine": "bm25s", "ndcg10": _ndcg10(ranked, qrels), "queries": len(queries)}


# ----------------------------------------------------------------------------- driver
def _worker(args) -> None:
    jobs = {
        ("tantivy", False): _tantivy_worker,
        ("tantivy", True): _tantivy_scifact,
        ("bm25s", False): _bm25s_worker,
        ("bm25s", True): _bm25s_scifact,
    }
    result = jobs[(args.worker, args.scifact)](args)
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.json).write_text(json.dumps(result))


def _spawn(extra: list[str], timeout: float) -> dict | None:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        path = handle.name
    command = [sys.executable, __file__, "--json", path, *extra]
    print("#", " ".join(command[1:]), file=sys.stderr, flush=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    try:
        done = subprocess.run(command, env=env, timeout=timeout)
        if done.returncode != 0:
            return {"error": f"exit {done.returncode}"}
        return json.loads(Path(path).read_text())
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    finally:
        os.unlink(path)


def _row(r: dict) -> str:
    if "error" in r:
        return f"| {r['engine']} | {r.get('n', ''):,} | failed: {r['error']} |" + " |" * 9
    q, qa, md, mf = r["query_ms"], r["query_after_ms"], r["map_doc_ms"], r["map_fast_ms"]
    return (
        f"| {r['engine']} | {r['n']:,} | {r['build_s']:.1f} | {r['peak_rss_mb']:,.0f} | {r['disk_mb']:,.0f} "
        f"| {q[0]:.2f} / {q[1]:.2f} | {md[0]:.2f} / {mf[0]:.3f} | {r['add_s']:.2f} | {r['remove_s']:.3f} "
        f"| {qa[0]:.2f} | {r['save_s']:.2f} | {r['load_s']:.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100k documents instead of 1M")
    parser.add_argument(
        "--n", type=int, default=None, help="number of documents (default 1M, 100k with --quick)"
    )
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument(
        "--engines",
        default="tantivy:1:256,tantivy:2:512,bm25s",
        help="comma list: tantivy:THREADS:HEAP_MB and/or bm25s",
    )
    parser.add_argument("--index-option", default="freq", choices=["freq", "position", "basic"])
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per engine subprocess")
    parser.add_argument("--no-scifact", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--worker", choices=["tantivy", "bm25s"], help=argparse.SUPPRESS)
    parser.add_argument("--scifact", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--heap", type=int, default=256, help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    n = args.n or (100_000 if args.quick else 1_000_000)
    common = ["--n", str(n), "--queries", str(args.queries), "--index-option", args.index_option]
    rows, quality = [], []
    load_before = os.getloadavg()
    for spec in args.engines.split(","):
        name, *rest = spec.strip().split(":")
        extra = ["--worker", name, *common]
        label = name
        if name == "tantivy":
            threads, heap = [*rest, "1", "256"][:2] if rest else ("1", "256")
            extra += ["--threads", threads, "--heap", heap]
            label = f"tantivy threads={threads} heap={heap}MB"
        result = _spawn(extra, args.timeout)
        result.setdefault("engine", label)
        result.setdefault("n", n)
        rows.append(result)
        print(_row(result), file=sys.stderr, flush=True)
    if not args.no_scifact:
        for name in dict.fromkeys(spec.split(":")[0].strip() for spec in args.engines.split(",")):
            quality.append(
                _spawn(["--worker", name, "--scifact", "--index-option", args.index_option], 600)
            )

    versions = {r["engine"].split()[0]: r["version"] for r in rows if "version" in r}
    lines = [
        "# Lexical engines: tantivy vs bm25s (issue 15)",
        "",
        f"Command: `python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:])}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {_mem_gb():.0f} GB RAM, "
        f"{platform.platform()}, Python {platform.python_version()}  ",
        f"Versions: tantivy-py {versions.get('tantivy', '?')}, bm25s {versions.get('bm25s', '?')}, "
        f"PyStemmer {_version('PyStemmer')}, numpy {_version('numpy')}  ",
        f"Documents: {n:,} Wikipedia sentence groups (benchmarks/_wiki.py); {args.queries} queries "
        f"(title + heading of held-apart articles), top-100, one at a time, single thread; "
        f"tantivy text field index_option={args.index_option!r}.  ",
        f"Load average (1 min) at start {load_before[0]:.1f}, at end {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores: other work on the machine slows every figure alike.",
        "",
        "| engine | docs | build s | peak RSS +MB | disk MB | query ms median / p95 "
        "| hit->serial ms: doc() / fast field | add 1k s | remove 1k s | query ms after | save s | load s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(_row(r) for r in rows),
        "",
        "Notes per row:",
        "",
    ]
    for r in rows:
        if "error" not in r:
            lines.append(
                f"- {r['engine']}: build = {r['build_note']}; add = {r['add_note']}; remove = {r['remove_note']}; "
                f"docs after add+remove {r['docs_after']:,}; query ms after (median/p95) "
                f"{r['query_after_ms'][0]:.2f}/{r['query_after_ms'][1]:.2f}; "
                + (f"segments {r['segments']}; " if "segments" in r else "")
                + (
                    "query ms with `get_scores` + one numpy argpartition instead of `retrieve` (median/p95) "
                    f"{r['query_scores_ms'][0]:.2f}/{r['query_scores_ms'][1]:.2f}; "
                    if "query_scores_ms" in r
                    else ""
                )
                + f"process max RSS {r['maxrss_mb']:,.0f} MB (includes the documents)."
            )
    lines += [
        "- tantivy save = the commit (the index lives in its folder); bm25s save = `BM25.save` + vocab. "
        "Load = open + first query.",
        "- bm25s rows are already row numbers: hit->serial costs nothing.",
    ]
    if quality:
        lines += [
            "",
            "SciFact (train qrels, title + text), nDCG@10:",
            "",
            "| engine | nDCG@10 | queries |",
            "|---|---|---|",
        ]
        for q in quality:
            if "error" in q:
                lines.append(f"| ? | failed: {q['error']} | |")
            else:
                lines.append(f"| {q['engine']} | {100 * q['ndcg10']:.2f} | {q['queries']} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


def _mem_gb() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3


def _version(package: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


if __name__ == "__main__":
    main()
