"""Deduplication: correctness against exact all-pairs, and speed, vs semhash and WordLlama.

On ``../shared/bench/corpus_100k.txt.gz`` at threshold 0.9, in one process:

* **sememe** ``dedupe(texts, exact=False)`` (default cell search) and the same with
  ``search="exact"`` (all pairs, the reference);
* **semhash 0.5** ``SemHash.from_records(texts, model=m).self_deduplicate(0.9)``, with
  ``m`` a model2vec ``StaticModel`` made from sememe's own table and tokenizer (as
  ``benchmarks/encode.py`` does), so only the algorithm differs;
* **WordLlama** ``deduplicate(texts, threshold=0.9, return_indices=True)`` (the same
  256-d codebook and tokenizer that sememe-base ships, average pooling).

Every contender's removed set is checked against the exact keep-first answer computed
from sememe's float vectors: ``recall`` is the share of the reference's removed
records that it removes too, ``precision`` the share of its removals that have a kept
record within the threshold (exact float cosine) - a removal without one is wrong.
Timings are medians of interleaved repeats, encoding included.

``--dense`` times the pathological near-identical input ``line 1`` ... ``line N`` (N = 100,000
by default, ``--dense-n``) against the first N lines of the bench corpus: each run in a fresh
subprocess, so its peak memory (``ru_maxrss``) is measured on its own, alternating the two
inputs; the goal is the dense input within 2x the bench time and under 2 GB.

``--large`` also runs sememe alone on every text line in ``../shared`` (corpus sentences,
WordNet glosses and examples, the bench lines and the 1 MB document's lines: about one
million), timing encode and search separately and estimating pair recall from a
brute-force check of sampled lines.

    python benchmarks/dedupe.py                 # 100k, 3 repeats, peers included
    python benchmarks/dedupe.py --quick         # 20k lines, 1 repeat
    python benchmarks/dedupe.py --large         # plus the ~820k-line run
    python benchmarks/dedupe.py --dense         # line 1 ... line 100000 vs 100k bench lines
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import PeerUnavailable, load_wordllama

import sememe
from sememe.deduplication import dedupe

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BENCH = SHARED / "bench" / "corpus_100k.txt.gz"
CORPUS = SHARED / "corpus" / "sentences"


def read_lines(path: Path, limit: int | None = None) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    return lines[:limit] if limit else lines


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- reference


def reference_kept(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """Exact keep-first decision from all pairs (blocked matrix products): kept mask, #pairs."""
    n = len(vectors)
    earlier: dict[int, list[int]] = {}
    n_pairs = 0
    block = 4096
    for s in range(0, n, block):
        sims = vectors[s : s + block] @ vectors[s:].T
        a, b = np.nonzero(sims >= threshold - 1e-6)  # sememe's float32 tolerance
        a, b = a + s, b + s
        keep = a < b
        n_pairs += int(keep.sum())
        for i, j in zip(a[keep].tolist(), b[keep].tolist(), strict=True):
            earlier.setdefault(j, []).append(i)
    kept = np.ones(n, bool)
    for j in sorted(earlier):
        if any(kept[i] for i in earlier[j]):
            kept[j] = False
    return kept, n_pairs


def score(removed: set[int], ref_kept: np.ndarray, vectors: np.ndarray, t: float) -> dict:
    """Recall against the reference and precision against exact float similarity."""
    ref_removed = set(np.flatnonzero(~ref_kept).tolist())
    kept = np.ones(len(vectors), bool)
    kept[list(removed)] = False
    kept_rows = vectors[kept]
    wrong = 0
    rem = sorted(removed)
    for s in range(0, len(rem), 2048):
        best = (vectors[rem[s : s + 2048]] @ kept_rows.T).max(axis=1) if len(kept_rows) else []
        wrong += int(np.sum(np.asarray(best) < t - 1e-5))
    return {
        "removed": len(removed),
        "recall": len(removed & ref_removed) / max(1, len(ref_removed)),
        "precision": 1.0 - wrong / max(1, len(removed)),
        "missed": len(ref_removed - removed),
        "wrong": wrong,
    }


# ---------------------------------------------------------------------- contenders


def contenders(
    texts: list[str], threshold: float, peers: bool
) -> dict[str, Callable[[], set[int]]]:
    """Name -> callable returning the set of removed positions."""
    enc = sememe.load()
    runs: dict[str, Callable[[], set[int]]] = {
        "sememe dedupe": lambda: {
            d.index for d in dedupe(texts, threshold=threshold, exact=False).removed
        },
    }
    if not peers:
        return runs
    try:
        from model2vec import StaticModel
        from semhash import SemHash
    except ImportError as exc:
        log(f"semhash skipped: {exc} (pip install semhash==0.5.0)")
    else:
        table = enc._table * enc._token_weight[:, None]
        m2v = StaticModel(vectors=table, tokenizer=enc.tokenizer, normalize=True)
        position = {t: i for i, t in enumerate(texts)}

        def run_semhash() -> set[int]:
            res = SemHash.from_records(list(texts), model=m2v).self_deduplicate(threshold=threshold)
            return {position[d.record] for d in res.filtered}

        if len(position) == len(texts):
            runs["semhash 0.5 self_deduplicate"] = run_semhash
        else:
            log("semhash skipped: input has repeated lines (positions would be ambiguous)")
    try:
        wl = load_wordllama()
    except PeerUnavailable as exc:
        log(f"wordllama skipped: {exc}")
    else:
        runs["wordllama deduplicate"] = lambda: set(
            wl.deduplicate(list(texts), threshold=threshold, return_indices=True)
        )
    return runs


def bench_100k(args: argparse.Namespace) -> None:
    texts = read_lines(BENCH, args.limit)
    enc = sememe.load()
    t = args.threshold
    log(f"{len(texts):,} lines; encoding for the reference ...")
    vectors = enc.encode(texts)
    t0 = time.perf_counter()
    ref_kept, n_pairs = reference_kept(vectors, t)
    ref_secs = time.perf_counter() - t0
    log(
        f"reference: {int((~ref_kept).sum()):,} removed, {n_pairs:,} pairs >= {t} ({ref_secs:.1f}s)"
    )

    runs = contenders(texts, t, peers=not args.no_peers)
    if args.exact_timing:
        runs["sememe dedupe search='exact'"] = lambda: {
            d.index for d in dedupe(texts, threshold=t, exact=False, search="exact").removed
        }
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, set[int]] = {}
    for rep in range(args.repeats):
        for name, fn in runs.items():
            if rep and name.startswith("sememe dedupe search"):
                continue
            t1 = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - t1)
            log(f"  {name}: {times[name][-1]:.2f}s, removed {len(results[name]):,}")

    med = {name: statistics.median(ts) for name, ts in times.items()}
    base = med["sememe dedupe"]
    print(
        f"\n{len(texts):,} lines of {BENCH.name}, threshold {t}, median of {args.repeats} "
        f"interleaved runs (encoding included). Reference (exact all pairs, keep-first): "
        f"{int((~ref_kept).sum()):,} removed, {n_pairs:,} pairs; computed in {ref_secs:.0f}s.\n"
    )
    print("| contender | median s | vs sememe | removed | recall | precision | missed | wrong |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, secs in med.items():
        s = score(results[name], ref_kept, vectors, t)
        print(
            f"| {name} | {secs:.2f} | {secs / base:.1f}x | {s['removed']:,} | {s['recall']:.4f} "
            f"| {s['precision']:.4f} | {s['missed']:,} | {s['wrong']:,} |"
        )


# ---------------------------------------------------------------------- large


def large_corpus() -> list[str]:
    """Every text line in ../shared: corpus sentences, WordNet glosses and examples, the
    100k bench lines and the 1 MB document's lines (about 1.0 million)."""
    import json

    lines: list[str] = []
    for path in sorted(CORPUS.glob("*.txt.gz")):
        lines += read_lines(path)
    wordnet = CORPUS.parent / "wordnet.jsonl.gz"
    if wordnet.is_file():
        with gzip.open(wordnet, "rt", encoding="utf-8") as f:
            for line in f:
                synset = json.loads(line)
                lines.append(synset["gloss"])
                lines += synset.get("examples", [])
    lines += read_lines(BENCH)
    doc = SHARED / "bench" / "doc_1mb.txt.gz"
    if doc.is_file():
        lines += [x for x in read_lines(doc) if x.strip()]
    return lines


def bench_large(args: argparse.Namespace) -> None:
    lines = large_corpus()
    if args.large_limit:
        lines = lines[: args.large_limit]
    enc = sememe.load()
    t = args.threshold
    log(f"large: {len(lines):,} lines")
    t0 = time.perf_counter()
    c0 = time.process_time()
    result = dedupe(lines, threshold=t)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    graph = result._graph
    n_items = graph.n_items
    # Time the stages on their own: encoding the distinct texts, then the pair search.
    from sememe.deduplication._encoding import encode_texts as _encode
    from sememe.deduplication._encoding import index_args as _index_args
    from sememe.deduplication._search import CellIndex

    reps = [lines[r] for r in graph.rep.tolist()]
    t1 = time.perf_counter()
    vectors = _encode(enc, reps, False)
    enc_secs = time.perf_counter() - t1
    t2 = time.perf_counter()
    index = CellIndex(enc.dim, **_index_args(enc, "auto", 128, sememe.deduplication._search.NPROBE))
    index.add(vectors)
    a, b, _ = index.self_pairs(t)
    search_secs = time.perf_counter() - t2
    # Pair recall from sampled items: brute force each sampled item against all.
    rng = np.random.default_rng(0)
    sample = rng.choice(n_items, min(args.sample, n_items), replace=False)
    found = set(zip(a.tolist(), b.tolist(), strict=True))
    want = got = 0
    for s in range(0, len(sample), 1024):
        q = sample[s : s + 1024]
        sims = vectors[q] @ vectors.T
        qi, other = np.nonzero(sims >= t)
        for i, j in zip(q[qi].tolist(), other.tolist(), strict=True):
            if i == j:
                continue
            want += 1
            got += (min(i, j), max(i, j)) in found
    print(
        f"\n{len(lines):,} lines ({n_items:,} distinct after normalisation): every line of "
        f"../shared/corpus (sentences, WordNet glosses and examples) and ../shared/bench, "
        f"threshold {t}, one run\n"
    )
    print("| stage | seconds |")
    print("|---|---:|")
    print(f"| dedupe() end to end | {secs:.1f} (cpu {cpu:.1f}) |")
    print(f"| of which: encode distinct texts (re-timed alone) | {enc_secs:.1f} |")
    print(f"| of which: pair search (re-timed alone) | {search_secs:.1f} |")
    print(
        f"\nremoved {result.n_removed:,} ({result.duplicate_ratio:.2%}); pairs found {len(a):,}; "
        f"pair recall on {len(sample):,} sampled lines (brute force): {got}/{want} = "
        f"{got / max(1, want):.4f}"
    )


# ---------------------------------------------------------------------- dense


def dense_lines(n: int) -> list[str]:
    """``line 1`` ... ``line n``: every line a near duplicate of thousands of others."""
    return [f"line {i}" for i in range(1, n + 1)]


def one_run(which: str, n: int, threshold: float, search: str) -> None:
    """Child process: one dedupe() of one input; prints a JSON line with time and memory."""
    import json
    import resource
    import warnings

    texts = dense_lines(n) if which == "dense" else read_lines(BENCH, n)
    enc = sememe.load()
    enc.encode(["warm up"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the few Korean bench lines: compared by 3-grams
        t0 = time.perf_counter()
        result = dedupe(texts, threshold=threshold, encoder=enc, search=search)
        secs = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"secs": secs, "rss_mb": rss, "kept": result.n_kept, "n": len(texts)}))


def bench_dense(args: argparse.Namespace) -> None:
    import json
    import subprocess

    n, t = args.dense_n, args.threshold
    runs: dict[str, list[dict]] = {"bench": [], "dense": []}
    for _ in range(args.repeats):
        for which in ("bench", "dense"):
            cmd = [sys.executable, __file__, "--one", which, str(n), str(t), args.dense_search]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=True)
            runs[which].append(json.loads(out.stdout.strip().splitlines()[-1]))
            r = runs[which][-1]
            log(f"  {which}: {r['secs']:.2f}s, peak RSS {r['rss_mb']:.0f} MB, kept {r['kept']:,}")
    med = {k: statistics.median(r["secs"] for r in v) for k, v in runs.items()}
    rss = {k: max(r["rss_mb"] for r in v) for k, v in runs.items()}
    print(
        f"\ndense input vs bench, {n:,} lines each, threshold {t}, search={args.dense_search!r}, "
        f"median of {args.repeats} alternating runs, each in a fresh process (encoding included)\n"
    )
    print("| input | median s | peak RSS MB | kept |")
    print("|---|---:|---:|---:|")
    print(
        f"| first {n:,} lines of {BENCH.name} | {med['bench']:.2f} | {rss['bench']:.0f} | "
        f"{runs['bench'][-1]['kept']:,} |"
    )
    print(
        f"| `line 1` ... `line {n}` | {med['dense']:.2f} | {rss['dense']:.0f} | "
        f"{runs['dense'][-1]['kept']:,} |"
    )
    print(
        f"\ndense / bench time: {med['dense'] / med['bench']:.2f}x (goal <= 2x); "
        f"dense peak memory {rss['dense']:.0f} MB (goal < 2048)"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--limit", type=int, default=None, help="first N bench lines only")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="20k lines, 1 repeat")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--exact-timing", action="store_true", help="also time search='exact'")
    ap.add_argument("--large", action="store_true", help="also the ~1M-line run")
    ap.add_argument("--large-only", action="store_true")
    ap.add_argument("--large-limit", type=int, default=None)
    ap.add_argument("--sample", type=int, default=5000, help="lines checked by brute force (large)")
    ap.add_argument("--dense", action="store_true", help="only the dense-input comparison")
    ap.add_argument("--dense-n", type=int, default=100_000)
    ap.add_argument("--dense-search", default="auto", choices=["auto", "exact", "cells"])
    ap.add_argument("--one", nargs=4, metavar=("WHICH", "N", "T", "SEARCH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        which, n, t, search = args.one
        one_run(which, int(n), float(t), search)
        return
    if not BENCH.is_file():
        sys.exit(f"benchmark input {BENCH} not found (it lives in ../shared/bench)")
    if args.quick:
        args.limit, args.repeats = args.limit or 20_000, 1
    if args.dense:
        bench_dense(args)
        return
    if not args.large_only:
        bench_100k(args)
    if args.large or args.large_only:
        bench_large(args)


if __name__ == "__main__":
    main()
