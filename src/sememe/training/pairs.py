"""Sentence pairs that can be had offline, for the contrastive stage.

* positive pairs (anchor, positive) for in-batch-negative training: WordNet lemma/gloss and
  synonym pairs, the positive pairs of the STS-B, SICK, MRPC and Quora sets in
  ``shared/eval`` (train splits only, and Quora's dev split, which the quality harness does
  not score), and teacher-mined neighbours from the corpus;
* scored pairs (a, b, similarity in 0..1) from the STS-B and SICK train splits.

The texts that ``benchmarks/quality.py`` scores (STS-B dev, SICK trial, the TREC and Banking77
sets, SciFact) must not be trained on, and some of them hide in the training sets (part of
STS-B was built from MRPC: 60 MRPC train positives are STS-B dev pairs). :func:`scored_texts`
reads them only to build a blocklist; every loader here drops a pair if either side is on it.
"""

from __future__ import annotations

import gzip
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError


@dataclass
class Pairs:
    """Positive pairs with the name of the source each came from."""

    anchors: list[str] = field(default_factory=list)
    positives: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add(self, a: str, b: str, source: str) -> None:
        a, b = a.strip(), b.strip()
        if a and b and a != b:
            self.anchors.append(a)
            self.positives.append(b)
            self.sources.append(source)

    def extend(self, other: Pairs) -> None:
        self.anchors += other.anchors
        self.positives += other.positives
        self.sources += other.sources

    def __len__(self) -> int:
        return len(self.anchors)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.sources:
            out[s] = out.get(s, 0) + 1
        return out


@dataclass
class ScoredPairs:
    """Sentence pairs with a gold similarity scaled to 0..1."""

    a: list[str] = field(default_factory=list)
    b: list[str] = field(default_factory=list)
    score: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.a)

    def split(self, fraction: float, seed: int = 0) -> tuple[ScoredPairs, ScoredPairs]:
        """(train, held-out) with ``fraction`` of the pairs held out at random."""
        idx = list(range(len(self)))
        random.Random(seed).shuffle(idx)
        cut = int(len(idx) * fraction)
        parts = []
        for rows in (idx[cut:], idx[:cut]):
            parts.append(
                ScoredPairs(
                    [self.a[i] for i in rows],
                    [self.b[i] for i in rows],
                    [self.score[i] for i in rows],
                )
            )
        return parts[0], parts[1]


def _tsv(path: Path, columns: int = 3) -> list[list[str]]:
    """Rows of a tab-separated file with a header line, each with exactly ``columns`` fields."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()[1:], start=2):
        if not line.strip():
            continue
        row = line.split("\t")
        if len(row) != columns:
            raise InvalidArgumentError(
                f"{path}:{number}: expected {columns} tab-separated fields, got {len(row)}"
            )
        rows.append(row)
    return rows


def text_key(text: str) -> str:
    """The form in which texts are compared against the blocklist (case and spaces folded)."""
    return " ".join(text.lower().split())


def scored_texts(eval_dir: str | os.PathLike[str]) -> set[str]:
    """Keys of every text the quality harness scores, to keep them out of training."""
    root = Path(eval_dir)
    out: set[str] = set()
    for file in ("stsb/dev.tsv", "sick/trial.tsv"):
        if (root / file).is_file():
            for _, a, b in _tsv(root / file):
                out.update((text_key(a), text_key(b)))
    for file in ("trec/train.jsonl", "banking77/train.jsonl", "scifact/queries.jsonl"):
        if (root / file).is_file():
            with (root / file).open(encoding="utf-8") as f:
                out.update(text_key(json.loads(line)["text"]) for line in f if line.strip())
    if (root / "scifact/corpus.jsonl").is_file():
        with (root / "scifact/corpus.jsonl").open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    doc = json.loads(line)
                    out.update((text_key(doc.get("title", "")), text_key(doc.get("text", ""))))
    out.discard("")
    return out


def _blocked(a: str, b: str, exclude: set[str] | None) -> bool:
    return bool(exclude) and (text_key(a) in exclude or text_key(b) in exclude)  # type: ignore[operator]


def wikipedia_pairs(
    path: str | os.PathLike[str], exclude: set[str] | None = None
) -> tuple[list[str], list[str]]:
    """Retrieval-style (queries, paragraphs) from a gzipped JSON-lines file of articles
    (``title`` and ``sections`` of ``heading`` and ``paragraphs``, as
    ``shared/corpus/documents`` has them): for every section with a paragraph, the title
    (or "title heading") and the section's first paragraph.

    Pairs with a text in ``exclude`` (see :func:`scored_texts`) are dropped; the texts are
    as in the file (:meth:`Pairs.add` strips them and drops empty or identical pairs).
    """
    queries: list[str] = []
    paragraphs: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            article = json.loads(line)
            for section in article["sections"]:
                if not section["paragraphs"]:
                    continue
                heading = section["heading"]
                query = article["title"] if heading is None else f"{article['title']} {heading}"
                para = section["paragraphs"][0]
                if not _blocked(query, para, exclude):
                    queries.append(query)
                    paragraphs.append(para)
    return queries, paragraphs


def wordnet_pairs(path: str | os.PathLike[str], *, seed: int = 0) -> Pairs:
    """(lemma, gloss), (lemma, synonym) and (example, gloss) pairs from a WordNet JSONL dump."""
    out = Pairs()
    rng = random.Random(seed)
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            syn = json.loads(line)
            lemmas = [lemma.replace("_", " ") for lemma in syn.get("lemmas", [])]
            gloss = syn.get("gloss", "")
            if not lemmas:
                continue
            out.add(lemmas[0], gloss, "wordnet-gloss")
            if len(lemmas) > 1:
                a, b = rng.sample(lemmas, 2)
                out.add(a, b, "wordnet-synonym")
            for example in syn.get("examples", [])[:1]:
                out.add(example, gloss, "wordnet-example")
    return out


def eval_pairs(eval_dir: str | os.PathLike[str], exclude: set[str] | None = None) -> Pairs:
    """Positive pairs from the STS-B/SICK train splits (score >= 4 of 5), MRPC train and Quora.

    Pairs with a text in ``exclude`` (see :func:`scored_texts`) are dropped.
    """
    root = Path(eval_dir)
    out = Pairs()
    for name, file in (("stsb", "stsb/train.tsv"), ("sick", "sick/train.tsv")):
        if (root / file).is_file():
            for score, a, b in _tsv(root / file):
                if float(score) >= 4.0 and not _blocked(a, b, exclude):
                    out.add(a, b, name)
    for name, file in (("mrpc", "mrpc/train.tsv"), ("quora", "quora/dev.tsv")):
        if (root / file).is_file():
            for label, a, b in _tsv(root / file):
                if label.strip() == "1" and not _blocked(a, b, exclude):
                    out.add(a, b, name)
    return out


def scored_pairs(eval_dir: str | os.PathLike[str], exclude: set[str] | None = None) -> ScoredPairs:
    """STS-B train (0..5) and SICK train (1..5) pairs, scores scaled to 0..1."""
    root = Path(eval_dir)
    out = ScoredPairs()
    for file, low, high in (("stsb/train.tsv", 0.0, 5.0), ("sick/train.tsv", 1.0, 5.0)):
        if (root / file).is_file():
            for score, a, b in _tsv(root / file):
                if _blocked(a, b, exclude):
                    continue
                out.a.append(a)
                out.b.append(b)
                out.score.append((float(score) - low) / (high - low))
    return out


def mined_pairs(
    texts: list[str],
    vectors: np.ndarray,
    *,
    sample: int = 100_000,
    threshold: float = 0.75,
    seed: int = 0,
) -> Pairs:
    """Each sampled text with its nearest other sampled text by teacher cosine, if close enough.

    Near-copies (cosine above 0.98) are skipped: they teach nothing but string overlap.
    """
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(texts), size=min(sample, len(texts)), replace=False)
    v = vectors[rows].astype(np.float32)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    out = Pairs()
    for start in range(0, len(rows), 2048):
        sims = v[start : start + 2048] @ v.T
        for i in range(len(sims)):
            sims[i, start + i] = -1.0
        best = sims.argmax(axis=1)
        for i, j in enumerate(best):
            score = sims[i, j]
            if threshold <= score <= 0.98:
                out.add(texts[rows[start + i]], texts[rows[j]], "teacher-mined")
    return out


def pair_texts(
    pairs: Pairs, scored: ScoredPairs, limit: int | None = None, seed: int = 0
) -> list[str]:
    """Distinct single-line texts of all pairs, shuffled (extra teacher-pass material)."""
    seen: dict[str, None] = {}
    for text in (*pairs.anchors, *pairs.positives, *scored.a, *scored.b):
        text = " ".join(text.split())
        if text:
            seen.setdefault(text, None)
    out = list(seen)
    random.Random(seed).shuffle(out)
    return out[:limit] if limit is not None else out
