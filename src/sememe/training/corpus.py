"""Training text: sentences from the shared corpus, and token frequencies for SIF weights."""

from __future__ import annotations

import gzip
import os
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

MIN_CHARS = 20
MAX_CHARS = 1000


def corpus_files(corpus_dir: str | os.PathLike[str]) -> list[Path]:
    """The sentence files (``*.txt`` or ``*.txt.gz``) under ``corpus_dir``, sorted."""
    root = Path(corpus_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.name.endswith((".txt", ".txt.gz")))
    if not files:
        raise FileNotFoundError(f"no .txt or .txt.gz files under {root}")
    return files


def iter_lines(files: Iterable[Path]) -> Iterator[str]:
    """Stripped non-empty lines of plain or gzip text files."""
    for path in files:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if line:
                    yield line


def training_sentences(
    corpus_dir: str | os.PathLike[str],
    *,
    min_chars: int = MIN_CHARS,
    max_chars: int = MAX_CHARS,
    seed: int = 0,
    limit: int | None = None,
) -> list[str]:
    """Distinct corpus lines of a useful length, shuffled with ``seed``.

    The shuffle makes every prefix a random sample, so a cache of teacher vectors that
    is only partly built is still a fair training set.
    """
    seen: set[str] = set()
    out: list[str] = []
    for line in iter_lines(corpus_files(corpus_dir)):
        if min_chars <= len(line) <= max_chars and line not in seen:
            seen.add(line)
            out.append(line)
    random.Random(seed).shuffle(out)
    return out[:limit] if limit is not None else out


def token_counts(
    tokenizer: object, texts: Iterable[str], vocab_size: int, batch: int = 4096
) -> np.ndarray:
    """How often each token id occurs when ``tokenizer`` (a ``tokenizers.Tokenizer``) reads ``texts``."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer.to_str())  # type: ignore[attr-defined]
    tokenizer.no_padding()
    tokenizer.no_truncation()
    counts = np.zeros(vocab_size, dtype=np.int64)
    buffer: list[str] = []

    def flush() -> None:
        encodings = tokenizer.encode_batch(buffer, add_special_tokens=False)  # type: ignore[attr-defined]
        ids = np.fromiter((i for e in encodings for i in e.ids), dtype=np.int64)
        counts[:] += np.bincount(ids[ids < vocab_size], minlength=vocab_size)
        buffer.clear()

    for text in texts:
        buffer.append(text)
        if len(buffer) >= batch:
            flush()
    if buffer:
        flush()
    return counts


def sif_weights(counts: np.ndarray, a: float = 1e-3, *, add_one: bool = False) -> np.ndarray:
    """Smooth inverse frequency weights ``a / (a + p(token))`` (Arora et al., 2017).

    Without ``add_one`` unseen tokens get probability 0 and so the largest weight, 1; with
    it every count is raised by one first (add-one smoothing of p).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if add_one:
        counts = counts + 1.0
    total = counts.sum()
    p = counts / total if total else np.zeros(len(counts))
    return (a / (a + p)).astype(np.float32)


def word_counts(texts: Iterable[str]) -> Counter[str]:
    """Lower-cased whitespace word counts (used to pick a vocabulary by frequency)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(text.lower().split())
    return counts
