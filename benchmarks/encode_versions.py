"""Two versions of sememe on the same cold encode, fresh processes alternating.

Each run is a fresh Python process that loads the bundled model and times one
``encode`` call over the 100,000 never-seen lines of ``../shared/bench/corpus_100k.txt.gz``
(the cold case of ``benchmarks/encode.py``, its default settings). Runs alternate between
this checkout's ``src`` and another's, so the machine's drift falls on both alike; prints
each run and the medians. Make the other version with a git worktree::

    git worktree add /tmp/base <commit>
    cp -r src/sememe/models/sememe-base/* /tmp/base/src/sememe/models/sememe-base/
    python benchmarks/encode_versions.py --other /tmp/base/src --pairs 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "corpus_100k.txt.gz"
CHILD = """
import gzip, sys, time
import sememe
assert sememe.__file__.startswith(sys.argv[1]), sememe.__file__
enc = sememe.load()
with gzip.open(sys.argv[2], "rt", encoding="utf-8") as f:
    lines = f.read().splitlines()
t = time.perf_counter()
enc.encode(lines)
print(time.perf_counter() - t)
"""


def run(src: Path, env: dict[str, str]) -> float:
    """Seconds of one cold encode call in a fresh process importing sememe from ``src``."""
    env = {**env, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-c", CHILD, str(src), str(CORPUS)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--other", type=Path, required=True, help="the other version's src folder")
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument(
        "--tokenizers-parallelism",
        choices=("true", "unset"),
        default="true",
        help="TOKENIZERS_PARALLELISM of the runs: true (as benchmarks/encode.py) or unset",
    )
    args = ap.parse_args(argv)
    env = dict(os.environ)
    env.pop("TOKENIZERS_PARALLELISM", None)
    if args.tokenizers_parallelism == "true":
        env["TOKENIZERS_PARALLELISM"] = "true"
    times: dict[str, list[float]] = {"this": [], "other": []}
    for i in range(args.pairs):
        for name, src in (("other", args.other.resolve()), ("this", SRC)):
            times[name].append(run(src, env))
            print(f"pair {i + 1} {name}: {times[name][-1]:.3f} s", file=sys.stderr, flush=True)
    this, other = statistics.median(times["this"]), statistics.median(times["other"])
    faster = sum(a < b for a, b in zip(times["this"], times["other"], strict=True))
    print(
        f"cold encode of {CORPUS.name}, median of {args.pairs} alternating fresh processes: "
        f"this checkout {this:.3f} s, other ({args.other}) {other:.3f} s, ratio "
        f"{other / this:.2f}x; this one faster in {faster} of {args.pairs} pairs "
        f"(TOKENIZERS_PARALLELISM {args.tokenizers_parallelism})"
    )


if __name__ == "__main__":
    main()
