"""Peer habits (issue 16): chunk overlap and RecursiveChunker speed, outliers/representatives.

- **Chunking**: MB/s of ``TokenChunker`` and ``RecursiveChunker`` (``--max-tokens``,
  default 256) without and with ``overlap`` (default 32 tokens) on
  ``../shared/bench/doc_1mb.txt.gz``, beside Chonkie's ``RecursiveChunker`` and
  ``TokenChunker`` (``chunk_overlap``) counting with the same tokenizer. Each chunker
  first chunks a short text (its one-time set-up), then the document ``--repeats``
  times; medians reported. The word memo is warm after the first repeat, for all.
  "over cap" recounts every chunk's text alone with the same tokenizer; "miscounted" is
  how many chunks state a token count other than that recount.
- **Representatives**: seconds for ``sememe.filter_outliers`` and
  ``sememe.find_representative`` on the first ``--n`` distinct lines of
  ``../shared/bench/corpus_100k.txt.gz`` (encoding included), beside SemHash 0.5's
  ``self_filter_outliers`` / ``self_find_representative`` on the same vectors with its
  exact (``BASIC``) backend, and whether both picked the same records. The texts are
  encoded once first, so both sides encode with a warm word memo.

    python benchmarks/habits.py                     # both parts, a minute or two
    python benchmarks/habits.py --skip-representatives --repeats 5
    python benchmarks/habits.py --n 20000 --skip-chunking
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from pathlib import Path
from typing import Any

import sememe

SHARED = Path(__file__).resolve().parents[2] / "shared"
DOC = SHARED / "bench" / "doc_1mb.txt.gz"
LINES = SHARED / "bench" / "corpus_100k.txt.gz"


def _median_seconds(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def chunking(enc: sememe.Encoder, max_tokens: int, overlap: int, repeats: int) -> None:
    import chonkie

    with gzip.open(DOC, "rt", encoding="utf-8") as f:
        text = f.read()
    mb = len(text.encode("utf-8")) / 1e6
    contenders: dict[str, Any] = {
        "sememe TokenChunker": sememe.TokenChunker(enc, max_tokens=max_tokens),
        f"sememe TokenChunker overlap={overlap}": sememe.TokenChunker(
            enc, max_tokens=max_tokens, overlap=overlap
        ),
        "sememe RecursiveChunker": sememe.RecursiveChunker(enc, max_tokens=max_tokens),
        f"sememe RecursiveChunker overlap={overlap}": sememe.RecursiveChunker(
            enc, max_tokens=max_tokens, overlap=overlap
        ),
        "chonkie RecursiveChunker": chonkie.RecursiveChunker(
            tokenizer=enc.tokenizer, chunk_size=max_tokens
        ),
        f"chonkie TokenChunker chunk_overlap={overlap}": chonkie.TokenChunker(
            tokenizer=enc.tokenizer, chunk_size=max_tokens, chunk_overlap=overlap
        ),
    }
    print(f"\nChunking {DOC.name} ({mb:.2f} MB), max_tokens={max_tokens}, median of {repeats}")
    print(f"{'chunker':45s} {'MB/s':>7s} {'chunks':>7s} {'over cap':>8s} {'miscounted':>10s}")
    for name, chunker in contenders.items():
        chunker("A short text to set the chunker up.")
        chunks = chunker(text)
        seconds = _median_seconds(lambda c=chunker: c(text), repeats)
        said = [getattr(c, "n_tokens", getattr(c, "token_count", 0)) for c in chunks]
        # Every chunk recounted alone with the same tokenizer: the cap as a reader sees it.
        exact = enc.count_tokens([c.text for c in chunks]).tolist()
        over = sum(n > max_tokens for n in exact)
        wrong = sum(a != b for a, b in zip(said, exact, strict=True))
        print(f"{name:45s} {mb / seconds:7.2f} {len(chunks):7d} {over:8d} {wrong:10d}")


def representatives(enc: sememe.Encoder, n: int, k: int) -> None:
    from semhash import SemHash
    from vicinity import Backend

    lines: dict[str, None] = {}
    with gzip.open(LINES, "rt", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                lines.setdefault(line, None)
            if len(lines) == n:
                break
    texts = list(lines)
    print(f"\nRepresentatives on {len(texts)} distinct lines of {LINES.name}")

    class Model:  # SemHash's encoder protocol, on sememe's vectors
        def encode(self, batch: list[str], **kwargs: Any) -> Any:
            return enc.encode(list(batch), normalize=True)

    enc.encode(texts)  # warm the word memo, so neither side pays for first-seen words
    # ...nor for importing its modules (sememe's resolve step imports scikit-learn).
    sememe.find_representative(texts[:20], 2, encoder=enc)
    SemHash.from_records(
        texts[:20], model=Model(), ann_backend=Backend.BASIC
    ).self_filter_outliers()
    t0 = time.perf_counter()
    ours_out = sememe.filter_outliers(texts, 0.1, encoder=enc)
    t_out = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours_rep = sememe.find_representative(texts, k, encoder=enc)
    t_rep = time.perf_counter() - t0
    t0 = time.perf_counter()
    sh = SemHash.from_records(texts, model=Model(), ann_backend=Backend.BASIC)
    theirs_out = sh.self_filter_outliers(outlier_percentage=0.1)
    t_sh_out = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs_rep = sh.self_find_representative(selection_size=k)
    t_sh_rep = time.perf_counter() - t0
    same_out = set(ours_out.filtered) == set(theirs_out.filtered)
    same_rep = list(ours_rep.selected) == list(theirs_rep.selected)
    print(f"{'call':44s} {'sememe s':>9s} {'SemHash s':>10s} {'same':>5s}")
    print(f"{'filter_outliers(0.1)':44s} {t_out:9.2f} {t_sh_out:10.2f} {same_out!s:>5s}")
    print(f"{f'find_representative(k={k})':44s} {t_rep:9.2f} {t_sh_rep:10.2f} {same_rep!s:>5s}")
    print("(SemHash's first call includes building its index; both encode with sememe.)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--overlap", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=5000, help="distinct lines for representatives")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--skip-chunking", action="store_true")
    ap.add_argument("--skip-representatives", action="store_true")
    args = ap.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"{SHARED} is not available")
    enc = sememe.load()
    if not args.skip_chunking:
        chunking(enc, args.max_tokens, args.overlap, args.repeats)
    if not args.skip_representatives:
        representatives(enc, args.n, args.k)


if __name__ == "__main__":
    main()
