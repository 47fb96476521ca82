"""Build a model folder's word table, ``word_tokens.safetensors`` (the last model build stage).

The table holds the most frequent words (``str.split`` words) of the corpus with their
token ids, each word tokenized alone without special tokens by the model's own tokenizer,
exactly as the encoder's and chunkers' word memos would. A process that loads the model
starts its memos from it, so new text mostly needs no tokenizer call (vectors and chunks
are unchanged: ``tests/test_word_table.py``).

Counted text, held apart from what the benchmarks measure:

- every ``../shared/corpus/sentences/*.txt.gz`` file except ``wikipedia_en_wikitasks``
  (the same Wikipedia slice as the documents, split into sentences);
- the title, headings and paragraphs of the first :data:`TABLE_ARTICLES` articles of
  ``../shared/corpus/documents/wikipedia_articles.jsonl.gz``. ``benchmarks/chunk.py
  --stream`` measures articles from :data:`TABLE_ARTICLES` on, and ``benchmarks/encode.py``
  measures ``../shared/bench/corpus_100k.txt.gz``, which is not counted at all.

    python scripts/build_word_table.py                          # the bundled model, 200k words
    python scripts/build_word_table.py --model path/to/model --words 100000
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tokenizers import Tokenizer

from sememe import _folder, _wordcache
from sememe.persistence import MANIFEST_VERSION, TOKENIZER_FILE, WORD_TABLE_FILE

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEFAULT_MODEL = ROOT / "src" / "sememe" / "models" / "sememe-base"
#: Articles (in file order) counted for the table; the benchmarks measure the ones after.
TABLE_ARTICLES = 60_000
#: Longest word kept in the table (longer ones are rare and cheap to tokenize when met).
MAX_WORD_CHARS = 64


def corpus_lines(shared: Path, articles: int) -> Iterator[str]:
    """The counted text, one line or paragraph at a time (see the module docstring)."""
    for path in sorted((shared / "corpus" / "sentences").glob("*.txt.gz")):
        if "wikitasks" in path.name:
            continue
        with gzip.open(path, "rt", encoding="utf-8") as f:
            yield from f
    docs = shared / "corpus" / "documents" / "wikipedia_articles.jsonl.gz"
    with gzip.open(docs, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= articles:
                break
            article = json.loads(line)
            yield article["title"]
            for section in article["sections"]:
                if section["heading"]:
                    yield section["heading"]
                yield from section["paragraphs"]


def frequent_words(lines: Iterator[str], n: int) -> list[str]:
    """The ``n`` most frequent whitespace-free words of ``lines`` (ties: first seen first)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in lines:
        counts.update(line.split())
    return [w for w, _ in counts.most_common() if len(w) <= MAX_WORD_CHARS][:n]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model folder to write into")
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--words", type=int, default=200_000, help="words in the table")
    ap.add_argument("--articles", type=int, default=TABLE_ARTICLES)
    args = ap.parse_args(argv)
    if not (args.model / TOKENIZER_FILE).is_file():
        sys.exit(f"{args.model}: no {TOKENIZER_FILE}; not a model folder")
    t0 = time.perf_counter()
    words = frequent_words(corpus_lines(args.shared, args.articles), args.words)
    t1 = time.perf_counter()
    tok = Tokenizer.from_file(str(args.model / TOKENIZER_FILE))
    tok.no_truncation()
    tok.no_padding()
    out = args.model / WORD_TABLE_FILE
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        n = _wordcache.write_word_table(tmp, tok, tok.to_str(), words)
        tmp.chmod(0o644)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    manifest = args.model / _folder.MANIFEST
    if manifest.is_file():  # keep a saved folder's checksums whole: list the new file too
        fields = json.loads(manifest.read_text(encoding="utf-8"))
        _folder.write_manifest(
            args.model, "model", MANIFEST_VERSION, {"fingerprint": fields.get("fingerprint")}
        )
    print(
        f"wrote {out}: {n:,} words, {out.stat().st_size / 1e6:.1f} MB "
        f"(counting {t1 - t0:.0f} s, tokenizing {time.perf_counter() - t1:.1f} s)"
    )


if __name__ == "__main__":
    main()
