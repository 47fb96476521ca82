"""Time and peak memory of ``count_tokens`` / ``tokenize`` on one very long string.

Builds one string of ``--mb`` million characters from the benchmark corpus (lines joined
by newlines) and measures each operation in a fresh subprocess, so the peak RSS is that
operation's own. ``--whole`` also measures the tokenizer on the whole string at once (what
sememe did before it cut long texts into pieces; slow: about 220 s for 50 MB).

``--spaceless`` measures texts with no space at all instead: ``--kind chinese`` (generated
CJK characters with a comma or full stop every 5 to 25 characters, no spaces; default),
``x`` (``"x" * n``) or ``base64`` (a random blob). Such a text is cut at character
boundaries (after punctuation where possible) into pieces of at most 32,768 characters.
``encode`` of a spaceless text is measured as well: it reads only a prefix.

    python benchmarks/tokenize_long.py              # 50 MB, pieces
    python benchmarks/tokenize_long.py --mb 5 --whole
    python benchmarks/tokenize_long.py --spaceless --kind chinese --ops count_tokens
    python benchmarks/tokenize_long.py --spaceless --kind x --mb 2 --whole
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


def build(mb: float, kind: str = "corpus") -> str:
    n = int(mb * 1_000_000)
    if kind == "x":
        return "x" * n
    if kind == "base64":
        import base64
        import random

        return base64.b64encode(random.Random(0).randbytes(n * 3 // 4 + 3)).decode()[:n]
    if kind == "chinese":  # 200k generated characters, repeated
        import random

        rng = random.Random(0)
        chars = [chr(0x4E00 + i) for i in range(3000)]
        parts = []
        while sum(map(len, parts)) < 200_000:
            parts.append("".join(rng.choices(chars, k=rng.randint(5, 25))))
            parts.append(rng.choice("，，，。"))
        base = "".join(parts)
    else:
        with gzip.open(BENCH, "rt", encoding="utf-8") as f:
            base = f.read()
    return (base * (n // len(base) + 1))[:n]


def child(op: str, mb: float, kind: str) -> None:
    import sememe

    enc = sememe.load()
    text = build(mb, kind)
    t0 = time.perf_counter()
    if op == "count_tokens":
        n = enc.count_tokens(text)
    elif op == "tokenize":
        n = len(enc.tokenize(text))
    elif op == "encode":
        n = int(enc.encode(text).shape[0])  # the vector's size
    else:  # the tokenizer on the whole string, as before
        tok = enc.tokenizer
        tok.no_truncation()
        n = len(tok.encode(text, add_special_tokens=False))
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"op": op, "mb": mb, "kind": kind, "tokens": int(n), "seconds": secs, "peak_mb": peak}
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0, help="million characters (default 50)")
    ap.add_argument("--whole", action="store_true", help="also time the whole-string tokenizer")
    ap.add_argument("--spaceless", action="store_true", help="a text without any space")
    ap.add_argument("--kind", choices=["chinese", "x", "base64"], default="chinese")
    ap.add_argument("--ops", help="comma-separated subset of count_tokens,tokenize,encode,whole")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    kind = args.kind if args.spaceless else "corpus"
    if args.child:
        child(args.child, args.mb, kind)
        return
    ops = ["count_tokens", "tokenize"] + (["encode"] if args.spaceless else [])
    ops += ["whole"] if args.whole else []
    if args.ops:
        ops = args.ops.split(",")
    for op in ops:
        cmd = [sys.executable, __file__, "--child", op, "--mb", str(args.mb)]
        cmd += ["--spaceless", "--kind", kind] if args.spaceless else []
        out = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['op']:>12}  {r['mb']:g} M chars {r['kind']}  {r['tokens']:,} "
            f"{'dims' if r['op'] == 'encode' else 'tokens'}  "
            f"{r['seconds']:.2f} s  peak RSS {r['peak_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
