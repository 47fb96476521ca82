"""CPU seconds of sememe's cold paths, a figure that machine load disturbs little.

Wall-clock throughput on a shared machine swings with other jobs; the CPU time a process
spends (all its threads, ``time.process_time``) mostly does not. Each row is a fresh
process: load the bundled model, then time, in CPU seconds,

- ``encode``: one call on the 100,000 lines of ``../shared/bench/corpus_100k.txt.gz``
  (never seen: the first call of the process), and Model2Vec (one process) on the same
  table and tokenizer for the ratio;
- ``chunk set-up``: a SemanticChunker's first call (a one-line text);
- ``chunk stream``: SemanticChunker(max_tokens=256) over 400 Wikipedia articles from
  60,000 on (as ``benchmarks/chunk.py``) through ``chunk_stream(..., workers=1)``, the
  batched path in one process; ``chunk stream (per document)``: the same articles one
  ``chunk()`` call at a time.

    python benchmarks/cold_cpu.py
    PYTHONPATH=/path/to/other/checkout/src python benchmarks/cold_cpu.py   # compare a version

Prints the median of ``--repeats`` fresh processes per row.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = (
    "sememe encode",
    "model2vec (1 process) encode",
    "chunk set-up",
    "chunk stream",
    "chunk stream (per document)",
)


def child(row: str, docs: int) -> None:
    sys.path.insert(0, str(HERE))
    import sememe

    enc = sememe.load()
    if row.endswith("encode"):
        from encode import BENCH, model2vec_model, read_lines

        texts = read_lines(BENCH, None)
        if row.startswith("model2vec"):
            m2v = model2vec_model(enc)

            def run() -> object:
                return m2v.encode(texts, use_multiprocessing=False)  # type: ignore[attr-defined]
        else:

            def run() -> object:
                return enc.encode(texts)

        t0 = time.process_time()
        run()
        print(json.dumps({"cpu": time.process_time() - t0}))
        return
    from chunk import articles

    from sememe.chunking import SemanticChunker

    stream = articles(docs)
    chunker = SemanticChunker(enc, max_tokens=256)
    t0 = time.process_time()
    chunker.chunk("One line of set-up text.")
    t1 = time.process_time()
    # The batched stream, in this process (CPU time is its own); an older checkout
    # without chunk_stream runs the per-document loop for both rows.
    if row == "chunk stream" and hasattr(chunker, "chunk_stream"):
        for _ in chunker.chunk_stream(stream, workers=1):
            pass
    else:
        for doc in stream:
            chunker.chunk(doc)
    t2 = time.process_time()
    mb = sum(len(d.encode("utf-8")) for d in stream) / 1e6
    print(json.dumps({"cpu": t1 - t0 if row == "chunk set-up" else t2 - t1, "mb": mb}))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--docs", type=int, default=400)
    ap.add_argument("--child", choices=ROWS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.docs)
        return
    got: dict[str, list[dict]] = {r: [] for r in ROWS}
    for _ in range(args.repeats):
        for row in ROWS:
            cmd = [sys.executable, __file__, "--child", row, "--docs", str(args.docs)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            got[row].append(json.loads(out.stdout.strip().splitlines()[-1]))
    import sememe

    print(f"sememe from {Path(sememe.__file__).parent}; median of {args.repeats} processes\n")
    print("| row | CPU s |")
    print("|---|---:|")
    for row, runs in got.items():
        print(f"| {row} | {statistics.median(r['cpu'] for r in runs):.2f} |")
    enc_cpu = statistics.median(r["cpu"] for r in got["sememe encode"])
    m2v_cpu = statistics.median(r["cpu"] for r in got["model2vec (1 process) encode"])
    print(f"\nModel2Vec CPU / sememe CPU, cold encode: {m2v_cpu / enc_cpu:.2f}x")
    for row in ("chunk stream", "chunk stream (per document)"):
        mb = got[row][0]["mb"]
        stream = statistics.median(r["cpu"] for r in got[row])
        print(f"{row}: {mb:.2f} MB, {mb / stream:.2f} MB per CPU second")


if __name__ == "__main__":
    main()
