"""Encoding throughput: sememe vs Model2Vec (same table and tokenizer) vs WordLlama.

Runs every contender in one process on the fixed input ``../shared/bench/corpus_100k.txt.gz``,
interleaving repeats so machine noise hits all of them alike, and prints the median
texts/s with ratios against sememe and against tokenizing alone.

    python benchmarks/encode.py                 # 3 repeats, all texts
    python benchmarks/encode.py --repeats 5 --limit 20000

"sememe" reuses one encoder, so after the first repeat its word memo is warm (the steady
state of a long-running process); "sememe (first call)" builds a fresh encoder every repeat,
so each of its runs pays for tokenizing every distinct word once.

Model2Vec is given sememe's own table with the per-token weights folded into the rows
(so it takes its fastest, unweighted code path) and the very same tokenizer; the vectors
are checked to agree before timing.
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

import sememe

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "corpus_100k.txt.gz"


def read_lines(path: Path, limit: int | None) -> list[str]:
    """The benchmark corpus, one text per line."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    return lines[:limit] if limit else lines


def contenders(enc: sememe.Encoder, texts: list[str]) -> dict[str, Callable[[], object]]:
    """Name -> zero-argument callable that embeds all ``texts``."""
    tok = enc.tokenizer
    tok.no_truncation()
    tok.no_padding()
    runs: dict[str, Callable[[], object]] = {
        "tokenizer alone": lambda: tok.encode_batch_fast(texts, add_special_tokens=False),
        "sememe": lambda: enc.encode(texts),
        # A fresh encoder each time: its word memo starts empty, as on a process's first call.
        "sememe (first call)": lambda: enc.with_options().encode(texts),
    }
    try:
        from model2vec import StaticModel
    except ImportError:
        print("model2vec not installed; skipped (pip install sememe[bench])", file=sys.stderr)
    else:
        table = enc._table * enc._token_weight[:, None]
        m2v = StaticModel(vectors=table, tokenizer=enc.tokenizer, normalize=True)
        check = texts[:2000]
        agree = np.einsum("ij,ij->i", m2v.encode(check), enc.encode(check))
        nonblank = np.array([bool(t.strip()) for t in check])
        print(
            f"model2vec vs sememe cosine on 2000 texts: min {agree[nonblank].min():.6f}",
            file=sys.stderr,
        )
        runs["model2vec (1 process)"] = lambda: m2v.encode(texts, use_multiprocessing=False)
        runs["model2vec (multiprocessing)"] = lambda: m2v.encode(texts, use_multiprocessing=True)
    try:
        sys.path.insert(0, str(Path(__file__).parent))
        from _peers import load_wordllama
    except ImportError:
        print("wordllama not available; skipped", file=sys.stderr)
    else:
        wl = load_wordllama()
        runs["wordllama (256-d)"] = lambda: wl.embed(texts, norm=True)
    return runs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, default=BENCH)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N lines")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="sememe model (default: the bundled one)")
    args = ap.parse_args(argv)
    if not args.input.is_file():
        sys.exit(f"benchmark input {args.input} not found (it lives in ../shared/bench)")

    texts = read_lines(args.input, args.limit)
    enc = sememe.load(args.model)
    runs = contenders(enc, texts)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            print(f"  {name}: {times[name][-1]:.2f}s", file=sys.stderr)

    med = {name: statistics.median(ts) for name, ts in times.items()}
    base = med["sememe"]
    tok_t = med["tokenizer alone"]
    print(
        f"\n{len(texts):,} texts from {args.input.name}, model {enc.config.name}, "
        f"median of {args.repeats} interleaved runs\n"
    )
    print("| contender | median s | texts/s | time / sememe | time / tokenizer alone |")
    print("|---|---:|---:|---:|---:|")
    for name, t in med.items():
        print(f"| {name} | {t:.2f} | {len(texts) / t:,.0f} | {t / base:.2f}x | {t / tok_t:.2f} |")


if __name__ == "__main__":
    main()
