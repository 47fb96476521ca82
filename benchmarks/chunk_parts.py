"""Where the cold stream's CPU goes: ``SemanticChunker.chunk_stream`` (one process) over
the 400-article stream of ``benchmarks/chunk.py``, repeated in one process.

Each repeat takes a fresh chunker and a fresh word memo (the memo the encoder's chunkers
share is dropped first, so every repeat sees the words as new: the cold case; the shipped
word table stays loaded, as after a process's first document). Prints the median CPU
seconds (``time.process_time``) of the whole stream and of its main steps, each timed by
wrapping the function (steps nest: ``rows`` includes ``_add``, the tokenizer on unseen
words; ``split_units_many`` includes ``span_arrays_many`` and ``_blocks``). On a shared
machine, compare two versions by running this for each, interleaved:

    python benchmarks/chunk_parts.py --repeats 7
    PYTHONPATH=/path/to/other/checkout/src python benchmarks/chunk_parts.py --repeats 7
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chunk as chunk_bench  # benchmarks/chunk.py: the same articles

import sememe
from sememe import _wordcache
from sememe.chunking import SemanticChunker, _batch, semantic, sentences

STEPS = [
    (_wordcache.TokenMemo, "rows"),
    (_wordcache.TokenMemo, "_add"),
    (_batch, "split_units_many"),
    (sentences.PunktSplitter, "span_arrays_many"),
    (sentences.PunktSplitter, "contains_break"),
    (sentences, "_blocks"),
    (semantic.SemanticChunker, "_fit_groups"),
]


def timed(owner: Any, name: str, spent: dict[str, float]) -> None:
    """Replace ``owner.name`` by a wrapper adding its CPU seconds to ``spent[name]``."""
    inner = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - t0

    setattr(owner, name, wrapper)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    docs = chunk_bench.articles(args.docs)
    enc = sememe.load()
    per_run: list[dict[str, float]] = []
    spent: dict[str, float] = {}
    for owner, name in STEPS:
        timed(owner, name, spent)

    def run() -> float:
        chunker = SemanticChunker(enc, max_tokens=args.max_tokens)
        chunker._counter().words._memo = None  # a fresh memo: every word new to it
        t0 = time.process_time()
        for chunks in chunker.chunk_stream(docs, workers=1):
            [c.text for c in chunks]
        return time.process_time() - t0

    run()  # set-up (table load, first calls) outside the figures
    for _ in range(args.repeats):
        spent.clear()
        total = run()
        per_run.append({"stream": total, **spent})

    def median(key: str) -> float:
        vals = sorted(r.get(key, 0.0) for r in per_run)
        return round(vals[len(vals) // 2], 4)

    mb = sum(len(d.encode()) for d in docs) / 1e6
    keys = ["stream"] + [name for _, name in STEPS]
    out = {k: median(k) for k in keys}
    out["MB"] = round(mb, 3)
    out["MB per CPU s"] = round(mb / out["stream"], 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
