"""Where the encoder's pooling thread starts to pay: wall time of one encode call, with and
without the worker thread, by call size.

    python benchmarks/encode_threads.py
    python benchmarks/encode_threads.py --repeats 31 --sizes 512 2048 8192 32768

One process, the bundled model, lines of ``../shared/bench/corpus_100k.txt.gz`` whose words
are already in the memo (a warm call: the common case for small calls in a running service).
For each size, calls with the thread (``SEMEME_ENCODE_THREADS=1``, the size threshold
:data:`sememe.encoder.THREAD_MIN_TEXTS` lowered to 0 for the run) and without it alternate;
medians are printed. The answer depends on how busy the machine is: a worker thread only
helps when a core is free for it, so state the load (``uptime``) beside the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import sememe
from sememe import encoder

sys.path.insert(0, str(Path(__file__).parent))
from encode import BENCH, read_lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 2048, 4096, 8192, 16384])
    args = ap.parse_args(argv)
    if not BENCH.is_file():
        sys.exit(f"benchmark input {BENCH} not found (it lives in ../shared/bench)")
    enc = sememe.load()
    texts = read_lines(BENCH, max(args.sizes))
    enc.encode(texts)  # every word of the runs in the memo
    encoder.THREAD_MIN_TEXTS = 0
    print(f"load average {os.getloadavg()[0]:.1f}; median of {args.repeats} calls per cell\n")
    print("| texts | one thread, ms | with the worker thread, ms | speed-up |")
    print("|---:|---:|---:|---:|")
    for n in args.sizes:
        sub = texts[:n]
        times: dict[str, list[float]] = {"0": [], "1": []}
        for _ in range(args.repeats):
            for flag in ("0", "1"):
                os.environ[encoder.THREADS_ENV] = flag
                t0 = time.perf_counter()
                enc.encode(sub)
                times[flag].append(time.perf_counter() - t0)
        one, two = statistics.median(times["0"]), statistics.median(times["1"])
        print(f"| {n:,} | {one * 1e3:.1f} | {two * 1e3:.1f} | {one / two:.2f}x |")


if __name__ == "__main__":
    main()
