"""Peak memory of chunking long documents: ``chunk_batch`` against one ``chunk()`` each.

Run: ``python benchmarks/chunk_memory.py --docs 16 --chars 292000`` (each document is
consecutive articles of ``benchmarks/chunk.py`` joined to about ``--chars`` characters;
``--mode batch`` or ``--mode single``, one per process, so one run's memo and arenas do
not flatter the other). Prints the peak of Python's and numpy's allocations (tracemalloc)
during the call over the documents, above what was allocated before it.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from chunk import articles  # benchmarks/chunk.py, next to this file

import sememe
from sememe.chunking import SemanticChunker


def documents(n: int, chars: int) -> list[str]:
    """``n`` documents of about ``chars`` characters each, from consecutive articles."""
    pool = articles(n * max(1, chars // 1500))
    out: list[str] = []
    parts: list[str] = []
    size = 0
    for text in pool:
        parts.append(text)
        size += len(text) + 2
        if size >= chars:
            out.append("\n\n".join(parts))
            parts, size = [], 0
            if len(out) == n:
                break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=16)
    ap.add_argument("--chars", type=int, default=292_000)
    ap.add_argument("--mode", choices=["batch", "single"], default="batch")
    args = ap.parse_args()
    chunker = SemanticChunker(sememe.load(), max_tokens=256)
    chunker.chunk("One line of set-up text.")
    docs = documents(args.docs, args.chars)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    c0 = time.process_time()
    batch = args.mode == "batch"
    got = chunker.chunk_batch(docs) if batch else [chunker.chunk(d) for d in docs]
    cpu = time.process_time() - c0
    peak = tracemalloc.get_traced_memory()[1] - base
    chunks = sum(map(len, got))
    print(
        f"{args.mode}: {len(docs)} documents, {sum(map(len, docs)):,} characters, "
        f"{chunks:,} chunks; peak +{peak / 2**20:.0f} MB (tracemalloc), CPU {cpu:.1f} s"
    )


if __name__ == "__main__":
    main()
