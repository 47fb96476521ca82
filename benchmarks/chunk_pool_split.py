"""How ``chunk_stream(workers=2)`` shares a cold stream between this process and its helper.

Run: ``python benchmarks/chunk_pool_split.py --docs 1600`` (400 articles are 0.70 MB,
1,600 are 2.8 MB; the articles of ``benchmarks/chunk.py``'s cold stream). The helper (opt-in:
``workers=2``) starts from the first batch, as in that benchmark's two-process row. Prints the batches, how many this process chunked itself, the wall
time and this process's CPU time (the helper's CPU is in ``chunk.py``'s CPU column). On
a machine whose cores are all busy the wall time cannot fall; this process's CPU shows
how much of the work it handed off.
"""

from __future__ import annotations

import argparse
import time
from chunk import articles  # benchmarks/chunk.py, next to this file

import sememe
from sememe.chunking import SemanticChunker, _pool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--max-tokens", type=int, default=256)
    args = ap.parse_args()
    chunker = SemanticChunker(sememe.load(), max_tokens=args.max_tokens)
    chunker.chunk("One line of set-up text.")
    docs = articles(args.docs)
    here = 0
    local = _pool._Entry.local

    def counted(entry: _pool._Entry, *rest: object) -> None:
        nonlocal here
        here += 1
        local(entry, *rest)  # type: ignore[arg-type]

    _pool._Entry.local = counted  # type: ignore[method-assign]
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in chunker.chunk_stream(docs, workers=2):
        pass
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    batches = -(-len(docs) // 64)
    print(
        f"{len(docs)} articles, {batches} batches, {here} chunked in this process; "
        f"wall {wall:.2f} s, this process's CPU {cpu:.2f} s"
    )


if __name__ == "__main__":
    main()
