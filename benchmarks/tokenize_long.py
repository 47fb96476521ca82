"""Time and peak memory of ``count_tokens`` / ``tokenize`` on one very long string.

Builds one string of ``--mb`` million characters from the benchmark corpus (lines joined
by newlines) and measures each operation in a fresh subprocess, so the peak RSS is that
operation's own. ``--whole`` also measures the tokenizer on the whole string at once (what
sememe did before it cut long texts into pieces; slow: about 220 s for 50 MB).

    python benchmarks/tokenize_long.py              # 50 MB, pieces
    python benchmarks/tokenize_long.py --mb 5 --whole
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "corpus_100k.txt.gz"


def build(mb: float) -> str:
    with gzip.open(BENCH, "rt", encoding="utf-8") as f:
        base = f.read()
    n = int(mb * 1_000_000)
    return (base * (n // len(base) + 1))[:n]


def child(op: str, mb: float) -> None:
    import sememe

    enc = sememe.load()
    text = build(mb)
    t0 = time.perf_counter()
    if op == "count_tokens":
        n = enc.count_tokens(text)
    elif op == "tokenize":
        n = len(enc.tokenize(text))
    else:  # the tokenizer on the whole string, as before
        tok = enc.tokenizer
        tok.no_truncation()
        n = len(tok.encode(text, add_special_tokens=False))
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"op": op, "mb": mb, "tokens": int(n), "seconds": secs, "peak_mb": peak}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0, help="million characters (default 50)")
    ap.add_argument("--whole", action="store_true", help="also time the whole-string tokenizer")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.mb)
        return
    ops = ["count_tokens", "tokenize"] + (["whole"] if args.whole else [])
    for op in ops:
        out = subprocess.run(
            [sys.executable, __file__, "--child", op, "--mb", str(args.mb)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['op']:>12}  {r['mb']:g} M chars  {r['tokens']:,} tokens  "
            f"{r['seconds']:.2f} s  peak RSS {r['peak_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
