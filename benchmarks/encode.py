"""Encoding throughput: sememe vs Model2Vec (same table and tokenizer) vs WordLlama.

The input is ``../shared/bench/corpus_100k.txt.gz`` (100,000 lines of man pages and
program documentation); none of it is in the text the model or its word table were built
from (``scripts/build_word_table.py``), so to a fresh process it is text never seen.

    python benchmarks/encode.py                 # cold table (fresh processes), then warm
    python benchmarks/encode.py --repeats 5 --limit 20000
    python benchmarks/encode.py --skip-warm

**Cold** (reported first): every run is a fresh Python process that loads its library and
model, reads the lines, then times one call that embeds all of them: the first call of a
process on text it has never seen (sememe's word memo starts from the model's shipped word
table, or empty for "sememe, no word table"). "sememe" is the default: a list of 2 MB of
text or more is shared out over one process per usable core (this one and forked children,
``sememe.encoder.FORK_MIN_CHARS``); "sememe, one process" keeps it in this process
(``SEMEME_ENCODE_WORKERS=1``). Model2Vec's default (``use_multiprocessing=True``) is its
multiprocessing row.
Runs of all contenders are interleaved, so machine noise hits them alike; medians are
reported. Loading is timed apart.

**Warm** (labelled): one process, repeats of the same call; sememe's memo then holds every
word of the input, the steady state of a long-running process re-encoding known text.

Model2Vec is given sememe's own table with the per-token weights folded into the rows
(so it takes its fastest, unweighted code path) and the very same tokenizer; the vectors
are checked to agree before timing.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

import sememe
from sememe.encoder import WORKERS_ENV

BENCH = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "corpus_100k.txt.gz"
#: Contenders of the cold table, each timed in its own fresh process.
COLD = (
    "sememe",
    "sememe, no word table",
    "sememe, one process",
    "model2vec (1 process)",
    "model2vec (multiprocessing)",
    "wordllama (256-d)",
    "tokenizer alone",
)
REFERENCE = "model2vec (1 process)"


def read_lines(path: Path, limit: int | None) -> list[str]:
    """The benchmark corpus, one text per line."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().splitlines()
    return lines[:limit] if limit else lines


def plain_encoder(enc: sememe.Encoder) -> sememe.Encoder:
    """``enc`` without its word table (same tokenizer, arrays and config)."""
    a = enc.arrays
    return sememe.Encoder(
        enc.tokenizer, a.embeddings, weights=a.weights, mapping=a.mapping, config=enc.config
    )


def model2vec_model(enc: sememe.Encoder) -> object:
    """Model2Vec's StaticModel on ``enc``'s table (weights folded in) and tokenizer."""
    from model2vec import StaticModel

    table = enc.arrays.table * enc.arrays.token_weights[:, None]
    return StaticModel(vectors=table, tokenizer=enc.tokenizer, normalize=True)


def make_run(name: str, model: str | None) -> Callable[[list[str]], object]:
    """Load contender ``name`` and return its embed-all-texts function (load not timed)."""
    if name == "wordllama (256-d)":
        sys.path.insert(0, str(Path(__file__).parent))
        from _peers import load_wordllama

        wl = load_wordllama()
        return lambda texts: wl.embed(texts, norm=True)
    if name == "sememe, one process":  # no forked helpers
        os.environ[WORKERS_ENV] = "1"
    enc = sememe.load(model)
    if name in ("sememe", "sememe, one process"):
        return enc.encode
    if name == "sememe, no word table":
        return plain_encoder(enc).encode
    if name == "tokenizer alone":
        tok = enc.tokenizer
        tok.no_truncation()
        tok.no_padding()
        return lambda texts: tok.encode_batch_fast(texts, add_special_tokens=False)
    m2v = model2vec_model(enc)
    multi = name == "model2vec (multiprocessing)"
    return lambda texts: m2v.encode(texts, use_multiprocessing=multi)  # type: ignore[attr-defined]


def child(name: str, path: Path, limit: int | None, model: str | None) -> None:
    """One cold run in this fresh process: prints ``{"load": s, "seconds": s}``."""
    t0 = time.perf_counter()
    run = make_run(name, model)
    texts = read_lines(path, limit)
    t1 = time.perf_counter()
    run(texts)
    t2 = time.perf_counter()
    print(json.dumps({"load": t1 - t0, "seconds": t2 - t1}))


def cold_table(args: argparse.Namespace, n_texts: int, mb: float) -> None:
    """Fresh-process runs of every contender, interleaved; prints the cold table."""
    env = dict(os.environ)
    env["TOKENIZERS_PARALLELISM"] = "true"  # as a user's process has it (both cores)
    times: dict[str, list[float]] = {n: [] for n in COLD}
    loads: dict[str, list[float]] = {n: [] for n in COLD}
    for _ in range(args.repeats):
        for name in COLD:
            cmd = [sys.executable, __file__, "--child", name, "--input", str(args.input)]
            if args.limit:
                cmd += ["--limit", str(args.limit)]
            if args.model:
                cmd += ["--model", args.model]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if done.returncode:
                print(f"  {name}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            got = json.loads(done.stdout.strip().splitlines()[-1])
            times[name].append(got["seconds"])
            loads[name].append(got["load"])
            print(
                f"  cold {name}: {got['seconds']:.2f}s (load {got['load']:.2f}s)", file=sys.stderr
            )
    med = {n: statistics.median(t) for n, t in times.items() if t}
    ref = med.get(REFERENCE)
    print(
        f"### Cold: first call of a fresh process, text never seen ({n_texts:,} lines, "
        f"{mb:.1f} MB; median of {args.repeats} interleaved runs)\n"
    )
    print("| contender | median s | texts/s | MB/s | speed vs Model2Vec 1 process | load s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, t in med.items():
        vs = f"{ref / t:.2f}x" if ref else "-"
        load = statistics.median(loads[name])
        print(f"| {name} | {t:.2f} | {n_texts / t:,.0f} | {mb / t:.2f} | {vs} | {load:.2f} |")
    print()


@contextlib.contextmanager
def one_process_env() -> Iterator[None]:
    """``SEMEME_ENCODE_WORKERS=1`` for the block: sememe encodes in this process only."""
    before = os.environ.get(WORKERS_ENV)
    os.environ[WORKERS_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[WORKERS_ENV]
        else:
            os.environ[WORKERS_ENV] = before


def warm_contenders(enc: sememe.Encoder, texts: list[str]) -> dict[str, Callable[[], object]]:
    """Name -> zero-argument callable that embeds all ``texts`` (one process, warm)."""
    tok = enc.tokenizer
    tok.no_truncation()
    tok.no_padding()

    def one_process() -> object:
        with one_process_env():
            return enc.encode(texts)

    runs: dict[str, Callable[[], object]] = {
        "sememe (warm memo)": lambda: enc.encode(texts),
        "sememe (warm memo, one process)": one_process,
        "tokenizer alone": lambda: tok.encode_batch_fast(texts, add_special_tokens=False),
    }
    try:
        m2v = model2vec_model(enc)
    except ImportError:
        print("model2vec not installed; skipped (pip install sememe[bench])", file=sys.stderr)
    else:
        check = texts[:2000]
        agree = np.einsum("ij,ij->i", m2v.encode(check), enc.encode(check))  # type: ignore[attr-defined]
        nonblank = np.array([bool(t.strip()) for t in check])
        print(
            f"model2vec vs sememe cosine on 2000 texts: min {agree[nonblank].min():.6f}",
            file=sys.stderr,
        )
        runs["model2vec (1 process)"] = lambda: m2v.encode(texts, use_multiprocessing=False)  # type: ignore[attr-defined]
        runs["model2vec (multiprocessing)"] = lambda: m2v.encode(texts, use_multiprocessing=True)  # type: ignore[attr-defined]
    try:
        sys.path.insert(0, str(Path(__file__).parent))
        from _peers import load_wordllama
    except ImportError:
        print("wordllama not available; skipped", file=sys.stderr)
    else:
        wl = load_wordllama()
        runs["wordllama (256-d)"] = lambda: wl.embed(texts, norm=True)
    return runs


def warm_table(args: argparse.Namespace, texts: list[str], mb: float) -> None:
    """Repeats in this process (sememe's memo warm after the first); prints the warm table."""
    enc = sememe.load(args.model)
    # Fill the memo in one process (a call shared out over forked children leaves their
    # words in the children): every later sememe run is warm.
    with one_process_env():
        enc.encode(texts)
    runs = warm_contenders(enc, texts)
    times: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(args.repeats):
        # The order turns each repeat: the run after a peer's (WordLlama's, say) large
        # allocations was measured slower, whoever it was.
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = runs[name]
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            print(f"  warm {name}: {times[name][-1]:.2f}s", file=sys.stderr)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    ref = med.get(REFERENCE)
    print(
        f"### Warm (labelled): the same {len(texts):,} lines again in one process, "
        f"median of {args.repeats} interleaved runs\n"
    )
    print("| contender | median s | texts/s | MB/s | speed vs Model2Vec 1 process |")
    print("|---|---:|---:|---:|---:|")
    for name, t in med.items():
        vs = f"{ref / t:.2f}x" if ref else "-"
        print(f"| {name} | {t:.2f} | {len(texts) / t:,.0f} | {mb / t:.2f} | {vs} |")
    print()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, default=BENCH)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N lines")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None, help="sememe model (default: the bundled one)")
    ap.add_argument("--skip-cold", action="store_true")
    ap.add_argument("--skip-warm", action="store_true")
    ap.add_argument("--child", choices=COLD, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.input.is_file():
        sys.exit(f"benchmark input {args.input} not found (it lives in ../shared/bench)")
    if args.child:
        child(args.child, args.input, args.limit, args.model)
        return
    texts = read_lines(args.input, args.limit)
    mb = sum(len(t.encode("utf-8")) + 1 for t in texts) / 1e6
    print(f"## Encoding benchmark: {args.input.name}, model {args.model or 'sememe-base'}\n")
    if not args.skip_cold:
        cold_table(args, len(texts), mb)
    if not args.skip_warm:
        warm_table(args, texts, mb)


if __name__ == "__main__":
    main()
