"""Chunking: throughput on documents never seen, on a 1 MB document, and quality on Choi.

- **Cold stream** (reported first): a fresh Python process per run chunks a stream of
  Wikipedia articles (``--docs``, default 400: articles 60,000 on of
  ``../shared/corpus/documents/wikipedia_articles.jsonl.gz``, which the model's word
  table was not counted on, see ``scripts/build_word_table.py``). Loading the library and
  model and the chunker's one-time set-up (chunking a one-line text) are timed apart;
  MB/s is over the stream. sememe runs through ``SemanticChunker.chunk_stream`` (the
  batched path; in one process, and with ``workers=2`` and the helper process started
  from the first batch) and one ``chunk()`` call per
  article; peers one call per article. Runs of every contender are interleaved;
  medians reported, with CPU seconds (worker processes included).

- **Quality**: Pk and WindowDiff (lower is better) on ``../shared/eval/choi``
  (sets 1-3, 700 documents of 10 concatenated Brown-corpus segments), each document
  given as one string of its sentences joined by spaces. A chunker's cut is mapped to
  the nearest sentence start. Contenders: sememe's ``SemanticChunker``, sememe's
  ``TokenChunker`` (the fixed-size baseline), WordLlama's ``split``, and Chonkie's
  ``SemanticChunker`` given sememe's encoder through a custom embeddings class (so
  both semantic chunkers see the same vectors and count the same tokens).
- **Throughput**: MB/s on ``../shared/bench/doc_1mb.txt.gz`` (median of repeats), and
  how many non-whitespace characters of the source each chunker's output lost.

    python benchmarks/chunk.py                  # everything (a few minutes)
    python benchmarks/chunk.py --max-tokens 256 --skip-quality --repeats 3   # throughput only
    python benchmarks/chunk.py --quick          # 1 in 10 Choi documents, 2 repeats
    python benchmarks/chunk.py --max-tokens 256

WordLlama sizes chunks in characters; it gets ``target_size = max_tokens * c`` where
``c`` is the characters per token of sememe's tokenizer on the same input.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import sememe
from sememe.chunking import SemanticChunker, TokenChunker, pk, windowdiff
from sememe.chunking.metrics import boundaries_to_lengths

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ARTICLES = SHARED / "corpus" / "documents" / "wikipedia_articles.jsonl.gz"
#: First article of the measured stream: the word table counts only the ones before.
FIRST_ARTICLE = 60_000
#: Contenders of the cold stream, each in its own fresh process.
STREAM = (
    "sememe SemanticChunker.chunk_stream (default)",
    "sememe SemanticChunker.chunk_stream, 2 processes",
    "sememe SemanticChunker.chunk_stream, 1 process",
    "sememe SemanticChunker.chunk_stream of a generator, 2 processes",
    "sememe SemanticChunker.chunk per document",
    "sememe SemanticChunker.chunk_stream, no word table",
    "WordLlama split",
    "Chonkie SemanticChunker (sememe vectors)",
    "tokenizer alone",
)
CHOI = SHARED / "eval" / "choi" / "choi_sets1-3.jsonl"
DOC = SHARED / "bench" / "doc_1mb.txt.gz"

ChunkFn = Callable[[str], list[str]]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- contenders


def sememe_fns(enc: sememe.Encoder, max_tokens: int) -> dict[str, ChunkFn]:
    semantic = SemanticChunker(enc, max_tokens=max_tokens)
    token = TokenChunker(enc, max_tokens=max_tokens)
    return {
        "sememe SemanticChunker": lambda t: [c.text for c in semantic.chunk(t)],
        "sememe TokenChunker (baseline)": lambda t: [c.text for c in token.chunk(t)],
    }


def wordllama_fn(chars_per_token: float, max_tokens: int) -> ChunkFn | None:
    try:
        sys.path.insert(0, str(Path(__file__).parent))
        from _peers import PeerUnavailable, load_wordllama

        wl = load_wordllama()
    except (ImportError, PeerUnavailable) as exc:
        log(f"wordllama unavailable: {exc}")
        return None
    target = int(max_tokens * chars_per_token)
    return lambda t: list(wl.split(t, target_size=target))


def chonkie_fn(enc: sememe.Encoder, max_tokens: int) -> ChunkFn | None:
    try:
        import chonkie
        from chonkie import SemanticChunker as ChonkieSemantic
        from chonkie.embeddings import BaseEmbeddings
    except ImportError as exc:
        log(f"chonkie unavailable ({exc}); pip install chonkie")
        return None

    class SememeEmbeddings(BaseEmbeddings):
        """Chonkie's embeddings interface over a sememe encoder (no torch, no download)."""

        def __init__(self, encoder: sememe.Encoder) -> None:
            super().__init__()
            self.encoder = encoder

        def embed(self, text: str) -> np.ndarray:
            return self.encoder.encode(text)

        def embed_batch(self, texts: list[str]) -> list[np.ndarray]:
            return list(self.encoder.encode(texts))

        @property
        def dimension(self) -> int:
            return self.encoder.dim

        def get_tokenizer(self):
            return self.encoder.tokenizer

    chunker = ChonkieSemantic(embedding_model=SememeEmbeddings(enc), chunk_size=max_tokens)
    log(f"chonkie {chonkie.__version__}: SemanticChunker with sememe's encoder")
    return lambda t: [c.text for c in chunker.chunk(t)]


# --------------------------------------------------------------------------- cold stream


def articles(n: int, first: int = FIRST_ARTICLE) -> list[str]:
    """``n`` whole articles from ``first`` on: title, headings and paragraphs, blank-line
    separated (as a document reaches a chunker)."""
    out: list[str] = []
    with gzip.open(ARTICLES, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < first:
                continue
            if len(out) == n:
                break
            article = json.loads(line)
            parts = [article["title"]]
            for section in article["sections"]:
                if section["heading"]:
                    parts.append(section["heading"])
                parts.extend(section["paragraphs"])
            out.append("\n\n".join(parts))
    return out


def stream_fn(name: str, max_tokens: int) -> tuple[ChunkFn, Callable[[list[str]], None]]:
    """Contender ``name`` of the cold stream, loaded (not yet set up): its one-text call
    (for the set-up) and its call over the whole stream."""
    enc = sememe.load()
    if name.startswith("sememe"):
        if name.endswith("no word table"):
            a = enc.arrays
            enc = sememe.Encoder(
                enc.tokenizer, a.embeddings, weights=a.weights, mapping=a.mapping, config=enc.config
            )
        chunker = SemanticChunker(enc, max_tokens=max_tokens)

        def one(t: str) -> list[str]:
            return [c.text for c in chunker.chunk(t)]

        if "chunk_stream" not in name:
            return one, lambda docs: each(one, docs)
        # The default decides from the input (helpers for a stream of 1 MB or more);
        # "2 processes" asks for one helper from the first batch, "1 process" for none.
        workers = {"2 processes": 2, "1 process": 1}.get(name.rsplit(", ", 1)[-1])

        lazy = "of a generator" in name  # the helper pool's path (batches sent as read)

        def stream(docs: list[str]) -> None:
            for chunks in chunker.chunk_stream(iter(docs) if lazy else docs, workers=workers):
                [c.text for c in chunks]

        return one, stream
    if name == "tokenizer alone":
        tok = enc.tokenizer
        tok.no_truncation()
        tok.no_padding()

        def encode(t: str) -> list[str]:
            tok.encode_batch_fast([t], add_special_tokens=False)
            return []

        return encode, lambda docs: each(encode, docs)
    # WordLlama sizes chunks in characters: about 4 per token on this text.
    fn = wordllama_fn(4.0, max_tokens) if name == "WordLlama split" else chonkie_fn(enc, max_tokens)
    if fn is None:
        raise SystemExit(f"{name} unavailable")
    return fn, lambda docs: each(fn, docs)


def each(fn: ChunkFn, docs: list[str]) -> None:
    """``fn`` on every document in turn (the per-document contenders' stream)."""
    for doc in docs:
        fn(doc)


def stream_child(name: str, n_docs: int, max_tokens: int) -> None:
    """One cold run in this fresh process; prints ``{"load", "setup", "seconds", "cpu"}``
    (``cpu``: CPU seconds of the stream, this process's and its worker processes')."""
    import resource

    def cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    t0 = time.perf_counter()
    one, stream = stream_fn(name, max_tokens)
    docs = articles(n_docs)
    t1 = time.perf_counter()
    one("One line of set-up text.")
    t2 = time.perf_counter()
    c2 = cpu()
    stream(docs)
    t3 = time.perf_counter()
    c3 = cpu()
    print(json.dumps({"load": t1 - t0, "setup": t2 - t1, "seconds": t3 - t2, "cpu": c3 - c2}))


def stream_table(args: argparse.Namespace) -> None:
    """Fresh-process runs of every stream contender, interleaved; prints the cold table."""
    docs = articles(args.docs)
    mb = sum(len(d.encode("utf-8")) for d in docs) / 1e6
    env = dict(os.environ)
    env["TOKENIZERS_PARALLELISM"] = "true"  # as a user's process has it
    names = [n for n in STREAM if not args.only or any(o in n for o in args.only)]
    got: dict[str, list[dict]] = {n: [] for n in names}
    for _ in range(args.repeats):
        for name in names:
            cmd = [sys.executable, __file__, "--stream-child", name]
            cmd += ["--docs", str(args.docs), "--max-tokens", str(args.max_tokens)]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if done.returncode:
                log(f"  {name}: failed\n{done.stderr[-1500:]}")
                continue
            run = json.loads(done.stdout.strip().splitlines()[-1])
            got[name].append(run)
            log(f"  stream {name}: {run['seconds']:.2f}s (setup {run['setup']:.2f}s)")
    print(
        f"### Cold: a stream of {len(docs)} Wikipedia articles never seen ({mb:.2f} MB, "
        f"articles {FIRST_ARTICLE:,} on), a fresh process per run, median of "
        f"{args.repeats} interleaved runs\n"
    )
    print("| chunker | stream s | MB/s | CPU s | MB per CPU s | one-time set-up s | load s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, runs in got.items():
        if not runs:
            continue
        t = statistics.median(r["seconds"] for r in runs)
        c = statistics.median(r["cpu"] for r in runs)
        setup = statistics.median(r["setup"] for r in runs)
        load = statistics.median(r["load"] for r in runs)
        print(
            f"| {name} | {t:.3f} | {mb / t:.2f} | {c:.3f} | {mb / c:.2f} | {setup:.2f} "
            f"| {load:.2f} |"
        )
    print(
        "\n`chunk_stream` takes the whole stream (a list; 64 articles a batch, the batched "
        "path). `(default)`: `workers=None`, which shares the list's batches out over "
        "one process per usable core (forked children claim batches as they are free) "
        "when it holds 0.5 MB of text or more, none below; `2 processes`: `workers=2`, "
        "this process and one forked child whatever the size; `1 process`: `workers=1`; "
        "`of a generator, 2 processes`: the same list given as a generator, so batches go "
        "to a forked helper pool as they are read. "
        "`chunk per document`: one "
        "`chunk()` call per article. CPU s: this process's and its workers' CPU time over the stream (on a "
        "busy machine, MB per CPU s moves less than MB/s). Set-up: the first call (a "
        "one-line text), e.g. sememe's sentence splitter and tokenizer probes; load: "
        "importing the library and reading the model and the articles. WordLlama sizes "
        "chunks in characters (4 per token here).\n"
    )


# --------------------------------------------------------------------------- measuring


def locate(source: str, pieces: list[str]) -> tuple[list[int], int, int]:
    """Start of each piece found in order in ``source``; non-whitespace and whitespace lost.

    Peers return strings only; each is searched from where the previous one ended (its
    stripped form if the exact one is absent). Characters of the source covered by no
    piece, whitespace aside, count as lost.
    """
    starts: list[int] = []
    pos = 0
    covered = np.zeros(len(source) + 1, np.int32)
    for piece in pieces:
        key = piece if piece in source[pos : pos + len(piece) + 1000] else piece.strip()
        at = source.find(key, pos) if key else -1
        if at < 0:
            continue
        starts.append(at)
        covered[at] += 1
        covered[at + len(key)] -= 1
        pos = at + len(key)
    mask = np.cumsum(covered[:-1]) > 0
    solid = np.array([not ch.isspace() for ch in source], bool) if source else mask
    return starts, int((solid & ~mask).sum()), int((~solid & ~mask).sum())


def choi_scores(fn: ChunkFn, docs: list[dict]) -> tuple[float, float, float, int]:
    """Mean Pk, mean WindowDiff, mean chunks per document, total characters lost."""
    pks, wds, counts, lost = [], [], [], 0
    for d in docs:
        sents = d["sentences"]
        text = " ".join(sents)
        sent_starts = np.cumsum([0] + [len(s) + 1 for s in sents[:-1]])
        starts, miss, _ = locate(text, fn(text))
        lost += miss
        cuts = sorted({int(np.argmin(np.abs(sent_starts - s))) for s in starts[1:]})
        n = len(sents)
        ref = boundaries_to_lengths(d["boundaries"], n)
        hyp = boundaries_to_lengths(cuts, n)
        pks.append(pk(ref, hyp))
        wds.append(windowdiff(ref, hyp))
        counts.append(len(starts))
    return float(np.mean(pks)), float(np.mean(wds)), float(np.mean(counts)), lost


def throughput(fns: dict[str, ChunkFn], text: str, repeats: int) -> dict[str, dict]:
    """Median seconds per contender on ``text`` (repeats interleaved), and losses."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    out: dict[str, dict] = {}
    for name, fn in fns.items():  # warm-up run, also gives the output to check
        t0 = time.perf_counter()
        pieces = fn(text)
        first = time.perf_counter() - t0
        _, lost, spaces = locate(text, pieces)
        out[name] = {"first": first, "chunks": len(pieces), "lost": lost, "spaces": spaces}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(text)
            times[name].append(time.perf_counter() - t0)
    for name in fns:
        out[name]["median"] = statistics.median(times[name]) if times[name] else out[name]["first"]
    return out


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5, help="timed runs on the 1 MB document")
    ap.add_argument("--every", type=int, default=1, help="use 1 in N Choi documents")
    ap.add_argument("--quick", action="store_true", help="--every 10 --repeats 2")
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-stream", action="store_true")
    ap.add_argument("--docs", type=int, default=400, help="articles in the cold stream")
    ap.add_argument(
        "--only",
        action="append",
        default=None,
        help="cold-stream contenders whose name holds this text (repeatable; default: all)",
    )
    ap.add_argument("--stream-child", choices=STREAM, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.stream_child:
        stream_child(args.stream_child, args.docs, args.max_tokens)
        return
    if args.quick:
        args.every, args.repeats = 10, 2
    if not SHARED.is_dir():
        sys.exit(f"benchmark inputs not found under {SHARED}")

    enc = sememe.load()
    with gzip.open(DOC, "rt", encoding="utf-8") as f:
        doc = f.read()
    chars_per_token = len(doc) / int(enc.count_tokens(doc))
    fns = sememe_fns(enc, args.max_tokens)
    for name, make in (
        ("WordLlama split", lambda: wordllama_fn(chars_per_token, args.max_tokens)),
        ("Chonkie SemanticChunker (sememe vectors)", lambda: chonkie_fn(enc, args.max_tokens)),
    ):
        fn = make()
        if fn is not None:
            fns[name] = fn

    print(f"## Chunking benchmark (max_tokens={args.max_tokens})\n")
    print(
        f"Machine: {os.cpu_count()} CPUs, load average at the start "
        f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; on a busy machine compare "
        "ratios within a run rather than absolute figures.\n"
    )
    if not args.skip_stream and ARTICLES.is_file():
        stream_table(args)
    if not args.skip_speed:
        # A fresh encoder object has no shared chunking state: time its one-time setup
        # (tokenizer copy and probes) apart from the first chunking with an empty memo.
        setups, colds = [], []
        for _ in range(3):
            cold = SemanticChunker(enc.with_options(), max_tokens=args.max_tokens)
            t0 = time.perf_counter()
            cold._counter()
            setups.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            cold.chunk(doc)
            colds.append(time.perf_counter() - t0)
        setup_s, cold_s = statistics.median(setups), statistics.median(colds)
        res = throughput(fns, doc, args.repeats)
        mb = len(doc.encode("utf-8")) / 1e6
        base = res["sememe SemanticChunker"]["median"]
        print(
            f"### Throughput (warm rows labelled): doc_1mb ({mb:.2f} MB, {len(doc):,} characters)\n"
        )
        print(
            "| chunker | median s | MB/s | vs sememe | chunks | non-space chars lost "
            "| whitespace chars in no chunk | offsets |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for name, r in res.items():
            offsets = (
                "exact"
                if name.startswith("sememe")
                else ("start/end" if name.startswith("Chonkie") else "none")
            )
            print(
                f"| {name} | {r['median']:.3f} | {mb / r['median']:.2f} | "
                f"{r['median'] / base:.2f}x | {r['chunks']:,} | {r['lost']:,} | "
                f"{r['spaces']:,} | {offsets} |"
            )
        print(
            f"| sememe SemanticChunker, first document on a fresh encoder (empty word memo) | "
            f"{cold_s:.3f} | {mb / cold_s:.2f} | {cold_s / base:.2f}x | | | | |"
        )
        print(
            f"\nOne-time setup per encoder before that (tokenizer copy and probes): "
            f"{setup_s:.2f}s. Warm rows reuse the word memo filled by the warm-up run, as "
            "any long-running process does."
        )
        print(
            f"\nMedian of {args.repeats} runs after one warm-up run; 'vs sememe' is time "
            "relative to sememe's SemanticChunker (higher is slower). Whitespace in no chunk: "
            "sememe's chunks exclude the whitespace between them, and their offsets give it "
            "back; a peer without offsets cannot rebuild the source.\n"
        )
    if not args.skip_quality:
        with open(CHOI, encoding="utf-8") as f:
            docs = [json.loads(line) for line in f][:: args.every]
        log(f"Choi: {len(docs)} documents")
        print(f"### Segmentation quality: Choi sets 1-3 ({len(docs)} documents)\n")
        print("| chunker | Pk | WindowDiff | chunks per doc | chars lost |")
        print("|---|---:|---:|---:|---:|")
        for name, fn in fns.items():
            t0 = time.perf_counter()
            p, w, n, lost = choi_scores(fn, docs)
            log(f"  {name}: Pk {p:.3f} WD {w:.3f} ({time.perf_counter() - t0:.1f}s)")
            print(f"| {name} | {p:.3f} | {w:.3f} | {n:.1f} | {lost:,} |")
        print(
            "\nReference segments: 10 per document. Pk/WindowDiff with k = half the mean "
            "reference segment length; mean over documents.\n"
        )


if __name__ == "__main__":
    main()
