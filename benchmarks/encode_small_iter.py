"""A small call given as a list and as a generator: since a generator of up to
:data:`sememe.encoder.THREAD_MIN_TEXTS` texts stays in the caller's thread, both should
cost the same (before, every generator started the pooling thread).

    python benchmarks/encode_small_iter.py
    python benchmarks/encode_small_iter.py --texts 50 --repeats 401

One process, the bundled model, the first lines of ``../shared/bench/corpus_100k.txt.gz``,
warm (their words are in the memo before timing). List and generator calls alternate;
medians of wall and CPU time (``time.process_time``, both threads) per call are printed.
State the load (``uptime``) beside the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import sememe

sys.path.insert(0, str(Path(__file__).parent))
from encode import BENCH, read_lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=201)
    args = ap.parse_args(argv)
    if not BENCH.is_file():
        sys.exit(f"benchmark input {BENCH} not found (it lives in ../shared/bench)")
    enc = sememe.load()
    texts = read_lines(BENCH, args.texts)
    enc.encode(texts)  # warm: every word in the memo
    wall: dict[str, list[float]] = {"list": [], "iter()": []}
    cpu: dict[str, list[float]] = {"list": [], "iter()": []}
    for _ in range(args.repeats):
        for kind in wall:
            arg = texts if kind == "list" else iter(texts)
            c0, t0 = time.process_time(), time.perf_counter()
            enc.encode(arg)
            wall[kind].append(time.perf_counter() - t0)
            cpu[kind].append(time.process_time() - c0)
    print(
        f"load average {os.getloadavg()[0]:.1f}; {args.texts} warm texts, median of "
        f"{args.repeats} calls\n"
    )
    print("| input | wall, us | CPU, us |")
    print("|---|---:|---:|")
    for kind in wall:
        w, c = statistics.median(wall[kind]), statistics.median(cpu[kind])
        print(f"| {kind} | {w * 1e6:.0f} | {c * 1e6:.0f} |")


if __name__ == "__main__":
    main()
