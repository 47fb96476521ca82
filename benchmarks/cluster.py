"""Clustering benchmark: quality (V-measure) and speed, sememe beside WordLlama.

    python benchmarks/cluster.py            # full run (several minutes on 2 cores)
    python benchmarks/cluster.py --quick    # small subsets, for development

Quality: V-measure x100 of k-means with k = number of gold labels on Banking77 train
(77 intents) and TREC train (6 coarse classes), for ``sememe.cluster`` and WordLlama's
``WordLlama.cluster`` on the same texts; median over seeds 0, 1, 2, with the median
wall time (encoding included).

Speed: ``sememe.cluster(texts, 100)`` on every line of ``../shared/corpus/sentences`` plus
``../shared/bench/corpus_100k.txt.gz`` (about 820k lines: the largest input the shared
folder gives), once cold (first encoding of these texts in the process) and warm (the
encoder's word memo filled); sememe and WordLlama (one k-means run) side by side on 20k
bench lines, then sememe alone on 100k bench lines and on the whole corpus.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import v_measure_score

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import _peers  # noqa: E402

SHARED = _HERE.parent.parent / "shared"
SEEDS = (0, 1, 2)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def read_labelled(path: Path, limit: int | None = None) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if limit:
        rows = rows[:: max(1, len(rows) // limit)][:limit]
    return [r["text"] for r in rows], [str(r["label"]) for r in rows]


def read_corpus(limit: int | None = None) -> list[str]:
    files = sorted((SHARED / "corpus" / "sentences").glob("*.txt.gz"))
    files.append(SHARED / "bench" / "corpus_100k.txt.gz")
    lines: list[str] = []
    for f in files:
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            lines.extend(line.rstrip("\n") for line in fh)
    return lines[:limit] if limit else lines


def read_bench(limit: int | None = None) -> list[str]:
    with gzip.open(SHARED / "bench" / "corpus_100k.txt.gz", "rt", encoding="utf-8") as fh:
        lines = [line.rstrip("\n") for line in fh]
    return lines[:limit] if limit else lines


def timed(fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float]:
    gc.collect()
    start = time.perf_counter()
    out = fn()
    return np.asarray(out), time.perf_counter() - start


def quality(datasets: dict[str, tuple[list[str], list[str]]], wl: object | None) -> list[str]:
    import sememe

    enc = sememe.load()
    rows = []
    for name, (texts, gold) in datasets.items():
        k = len(set(gold))
        enc.encode(texts)  # same warm-up for both: each library's first call loads files
        runs: dict[str, list[tuple[float, float]]] = {"sememe": [], "wordllama": []}
        for seed in SEEDS:
            labels, secs = timed(lambda s=seed, t=texts, k=k: sememe.cluster(t, k, seed=s).labels)
            runs["sememe"].append((100 * v_measure_score(gold, labels), secs))
            if wl is not None:
                labels, secs = timed(
                    lambda s=seed, t=texts, k=k: wl.cluster(
                        t, k, random_state=np.random.RandomState(s)
                    )[0]
                )
                runs["wordllama"].append((100 * v_measure_score(gold, labels), secs))
        for lib, results in runs.items():
            if results:
                v = statistics.median(r[0] for r in results)
                t = statistics.median(r[1] for r in results)
                rows.append((name, len(texts), k, lib, v, t))
                _log(f"  {name} {lib}: V={v:.1f} ({[round(r[0], 1) for r in results]}) {t:.2f}s")
    lines = [
        "| data | texts | k | library | V-measure | time s | vs sememe |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    base = {(r[0], r[3]): r for r in rows}
    for name, n, k, lib, v, t in rows:
        ref = base[(name, "sememe")]
        ratio = f"{t / ref[5]:.1f}x time" if lib != "sememe" else ""
        lines.append(f"| {name} | {n:,} | {k} | {lib} | {v:.1f} | {t:.2f} | {ratio} |")
    return lines


def speed(
    inputs: dict[str, list[str]], wl: object | None, repeats: int, peer_max: int
) -> list[str]:
    import sememe

    lines = [
        "| input | texts | k | library | cold s | warm s (median) | texts/s warm | vs sememe |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for label, texts in inputs.items():
        enc = sememe.load().with_options()  # a fresh word memo: the first run is cold
        _, cold = timed(lambda t=texts, e=enc: sememe.cluster(t, 100, encoder=e).labels)
        warm = [
            timed(lambda t=texts, e=enc: sememe.cluster(t, 100, encoder=e).labels)[1]
            for _ in range(repeats)
        ]
        base = statistics.median(warm)
        _log(f"  {label} sememe: cold {cold:.1f}s warm {[round(x, 1) for x in warm]}")
        lines.append(
            f"| {label} | {len(texts):,} | 100 | sememe | {cold:.1f} | {base:.1f} | "
            f"{len(texts) / base:,.0f} | |"
        )
        if wl is not None and len(texts) <= peer_max:
            # WordLlama's default n_init=10 runs ten full k-means; one run is the fair match.
            runs = [
                timed(
                    lambda t=texts: wl.cluster(
                        t, 100, n_init=1, random_state=np.random.RandomState(0)
                    )[0]
                )[1]
                for _ in range(repeats + 1)
            ]
            w = statistics.median(runs[1:])
            _log(f"  {label} wordllama: {[round(x, 1) for x in runs]}")
            lines.append(
                f"| {label} | {len(texts):,} | 100 | wordllama (n_init=1) | {runs[0]:.1f} | "
                f"{w:.1f} | {len(texts) / w:,.0f} | {w / base:.1f}x time |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subsets")
    parser.add_argument("--no-speed", action="store_true", help="quality only")
    parser.add_argument("--no-quality", action="store_true", help="speed only")
    parser.add_argument("--repeats", type=int, default=2, help="warm repeats (default 2)")
    parser.add_argument(
        "--threads", type=int, default=None, help="limit BLAS/OpenMP/FAISS threads (default: all)"
    )
    parser.add_argument(
        "--peer-max", type=int, default=20_000, help="largest input WordLlama is timed on"
    )
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"{SHARED} not found; nothing to measure")
        return 0
    try:
        wl = _peers.load_wordllama(256)
    except _peers.PeerUnavailable as exc:
        _log(f"wordllama skipped: {exc}")
        wl = None
    for name in ("kmeans_logger", "faiss.loader"):  # per-iteration INFO lines
        logging.getLogger(name).setLevel(logging.WARNING)

    if args.threads:
        import faiss
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        faiss.omp_set_num_threads(args.threads)
    limit = 2000 if args.quick else None
    threads = args.threads or "all"
    print(
        f"Timings on a shared 2-core machine under contention from other jobs; threads: {threads}.\n"
    )
    if not args.no_quality:
        datasets = {
            "banking77": read_labelled(SHARED / "eval/banking77/train.jsonl", limit),
            "trec": read_labelled(SHARED / "eval/trec/train.jsonl", limit),
        }
        _log("quality")
        print("\n".join(quality(datasets, wl)) + "\n")
    if not args.no_speed:
        _log("speed")
        big = read_corpus(100_000 if args.quick else None)
        bench = read_bench()
        inputs = {
            "bench 20k": bench[:20_000],
            **({} if args.quick else {"bench 100k": bench}),
            "corpus + bench": big,
        }
        repeats = 1 if args.quick else args.repeats
        print("\n".join(speed(inputs, wl, repeats, args.peer_max)))
        print(
            f"\n1M-text target (<= 60 s): measured on {len(big):,} lines, the largest input "
            f"../shared gives; linear extrapolation to 1M: cold x{1e6 / len(big):.2f}."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
