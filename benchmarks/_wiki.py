"""Large, realistic document collections from ``shared/corpus/documents/wikipedia_articles.jsonl.gz``.

The file holds 72,062 Wikipedia articles with 345,580 paragraphs (about 933k sentences), so it has
fewer than 1M paragraphs. Documents are therefore *sentence groups*, made the way a RAG chunker
with overlap would make them:

- each paragraph is split into sentences (a regular expression: ``.``, ``!`` or ``?``, an optional
  closing quote or bracket, whitespace, then an upper-case letter, digit, quote or bracket);
- phase 0 cuts every paragraph into consecutive groups of 3 sentences (the last group may be
  shorter; a paragraph of 1-3 sentences is one document). This covers the whole text once:
  455,070 documents of ~240 characters (seed 0);
- phases 1 and 2 cut the same paragraphs into groups of 3 starting 1 and 2 sentences later (with
  a leading group of 1 or 2 sentences). A group that phase 0 (or an earlier phase) already made
  for that paragraph is skipped, so no paragraph yields the same text twice.

``documents(n)`` takes phases in order until it has ``n`` documents: all of phase 0 (or a seeded
sample of it when ``n`` is smaller), then phase 1 (508,452, ~185 characters), then a seeded
sample of what is still needed from phase 2 (319,062; 1,282,584 in all), and shuffles the result
with ``seed``. At 1M documents 46% of the collection is phase 0 and the rest overlapping windows: every document is real text, but neighbouring
documents share sentences, as overlapping chunks do in a RAG index.

Held-apart articles (``held_out(article_id, seed)``: about 1 in 100, chosen by a hash of the id)
never contribute documents. ``queries(m, seed)`` returns ``title + " " + heading`` for their
headed sections (for example "Jarred Shaw Professional career"), the kind of query a user of a
search box over such documents would type. Nothing is cached on disk; every call streams the gz.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

ARTICLES = (
    Path(__file__).resolve().parents[1].parent
    / "shared"
    / "corpus"
    / "documents"
    / "wikipedia_articles.jsonl.gz"
)
GROUP = 3
PHASES = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[])")


def held_out(article_id: int, seed: int = 0) -> bool:
    """True for the ~1% of articles kept out of the documents (their headings are queries)."""
    return zlib.crc32(f"{seed}:{article_id}".encode()) % 100 == 0


def _articles(path: Path = ARTICLES) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)


def _sentences(paragraph: str) -> list[str]:
    parts = [part.strip() for part in _SENTENCE_END.split(paragraph)]
    return [part for part in parts if part]


def _groups(count: int, phase: int) -> list[tuple[int, int]]:
    """Sentence ranges of ``phase`` for a paragraph of ``count`` sentences."""
    if phase == 0:
        return [(start, min(start + GROUP, count)) for start in range(0, count, GROUP)]
    ranges = [(0, min(phase, count))]
    ranges += [(start, min(start + GROUP, count)) for start in range(phase, count, GROUP)]
    return ranges


def _phases(seed: int, path: Path = ARTICLES) -> list[list[str]]:
    phases: list[list[str]] = [[] for _ in range(PHASES)]
    for article in _articles(path):
        if held_out(article["id"], seed):
            continue
        for section in article["sections"]:
            for paragraph in section["paragraphs"]:
                sentences = _sentences(paragraph)
                seen: set[tuple[int, int]] = set()
                for phase in range(PHASES):
                    for start, end in _groups(len(sentences), phase):
                        if start == end or (start, end) in seen:
                            continue
                        seen.add((start, end))
                        phases[phase].append(" ".join(sentences[start:end]))
    return phases


def documents(n: int, seed: int = 0) -> list[str]:
    """``n`` Wikipedia sentence-group documents, deterministic for a given ``seed`` (see module doc)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    phases = _phases(seed)
    available = sum(len(phase) for phase in phases)
    if n > available:
        raise ValueError(f"only {available} documents can be made, asked for {n}")
    rng = random.Random(seed)
    out: list[str] = []
    for phase in phases:
        need = n - len(out)
        if need <= 0:
            break
        out.extend(phase if need >= len(phase) else rng.sample(phase, need))
    rng.shuffle(out)
    return out


def queries(m: int, seed: int = 0) -> list[str]:
    """``m`` queries ``title + " " + heading`` from the held-apart articles, seeded order."""
    found = [
        f"{article['title']} {section['heading']}"
        for article in _articles()
        if held_out(article["id"], seed)
        for section in article["sections"]
        if section["heading"]
    ]
    random.Random(seed).shuffle(found)
    if m > len(found):
        raise ValueError(f"only {len(found)} queries, asked for {m}")
    return found[:m]
