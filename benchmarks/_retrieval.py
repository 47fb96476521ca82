"""Development retrieval sets for the hybrid-search benchmarks (``retrieval.py``, ``tune_fusion.py``).

Each set is a :class:`RetrievalSet`: a corpus (``doc_ids``, ``texts``), ``queries`` (query id ->
text) and ``qrels`` (query id -> {doc id: grade}). Only development data from ``../shared`` is
used; no test split is read anywhere.

- :func:`scifact`: ``shared/eval/scifact``; documents are ``title + " " + text`` (all 5,183), the
  queries are those with a positive grade in ``qrels_train.tsv`` (809). The test qrels are not in
  that folder and are never used. Splits over the query ids sorted as integers: ``"tune"`` = even
  positions, ``"check"`` = odd positions, ``"dev"`` = all.
- :func:`wikipedia`: ``shared/corpus/documents/wikipedia_articles.jsonl.gz``, streamed, stopping
  after the first ``n_articles`` articles of the file (6,000 by default: about 29k paragraphs).
  One document per paragraph, id ``"<article id>:<section>:<paragraph>"`` (positions counted from
  0), text = the paragraph alone (no title). Every headed section gives one query
  ``"<title> <heading>"`` whose one relevant document (grade 1) is the *first paragraph of that
  section*: the passage a reader jumping to that heading sees first. (Other paragraphs of the
  section are not graded; so a ranking that puts the section's second paragraph first scores 0
  for it, which makes the set strict but unambiguous.) A query whose text repeats an earlier
  query of the same article (two sections with one heading) is dropped, and so is one that holds
  its paragraph's text (none do in practice: paragraphs have >= 20 characters of prose).
  Splits by a CRC32 of the article id: ``"tune"`` = even, ``"check"`` = odd; both search the
  same whole corpus (every paragraph of the slice), so only the queries differ. ``max_queries``
  keeps a deterministic subset (smallest CRC32 of the query id first) to bound the cost.

:func:`ndcg10` scores rankings with :func:`quality.ndcg_at_k` (linear gain, log2 discount, as
trec_eval and BEIR compute it).
"""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import quality  # noqa: E402

SHARED = _HERE.parents[0].parent / "shared"
SCIFACT = SHARED / "eval" / "scifact"
ARTICLES = SHARED / "corpus" / "documents" / "wikipedia_articles.jsonl.gz"
SPLITS = ("tune", "check", "dev")
K = 10


@dataclass(frozen=True)
class RetrievalSet:
    """A corpus, queries and graded relevance (``qrels[qid][doc_id] = grade``, grade > 0)."""

    name: str
    doc_ids: list[str]
    texts: list[str]
    queries: dict[str, str]
    qrels: dict[str, dict[str, float]]

    def __post_init__(self) -> None:
        if len(self.doc_ids) != len(self.texts):
            raise ValueError("doc_ids and texts differ in length")
        if set(self.queries) != set(self.qrels):
            raise ValueError("queries and qrels name different query ids")

    @property
    def qids(self) -> list[str]:
        """Query ids in a fixed order (the order of ``queries``)."""
        return list(self.queries)

    @property
    def query_texts(self) -> list[str]:
        return [self.queries[q] for q in self.qids]

    def ndcg10(self, ranked: Sequence[Sequence[str]]) -> float:
        """Mean nDCG@10 x100 of one ranking of doc ids per query, in :attr:`qids` order."""
        return ndcg10(self.qids, ranked, self.qrels)

    def describe(self) -> str:
        graded = sum(len(r) for r in self.qrels.values())
        return (
            f"{self.name}: {len(self.texts):,} documents, {len(self.queries):,} queries, "
            f"{graded:,} graded pairs"
        )


def ndcg10(
    qids: Sequence[str],
    ranked: Sequence[Sequence[str]],
    qrels: Mapping[str, Mapping[str, float]],
    k: int = K,
) -> float:
    """Mean nDCG@k x100 over ``qids`` (``ranked[i]`` is the ranking for ``qids[i]``)."""
    if len(qids) != len(ranked):
        raise ValueError(f"{len(qids)} queries but {len(ranked)} rankings")
    if not qids:
        return 0.0
    scores = [
        quality.ndcg_at_k(list(r), dict(qrels[q]), k) for q, r in zip(qids, ranked, strict=True)
    ]
    return 100.0 * float(np.mean(scores))


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _numeric_key(qid: str) -> tuple[int, int | str]:
    return (0, int(qid)) if qid.isdigit() else (1, qid)


# --------------------------------------------------------------------------- SciFact


def scifact(split: str = "dev", folder: Path = SCIFACT) -> RetrievalSet:
    """SciFact with the train qrels; ``split`` in ``"tune"``, ``"check"``, ``"dev"`` (see module doc)."""
    _check_split(split)
    qrels: dict[str, dict[str, float]] = {}
    for qid, did, grade in quality._read_tsv(folder / "qrels_train.tsv"):
        if float(grade) > 0:
            qrels.setdefault(qid, {})[did] = float(grade)
    texts_of = {q["_id"]: q["text"] for q in quality._read_jsonl(folder / "queries.jsonl")}
    qids = sorted(qrels, key=_numeric_key)
    if split == "tune":
        qids = qids[0::2]
    elif split == "check":
        qids = qids[1::2]
    corpus = quality._read_jsonl(folder / "corpus.jsonl")
    return RetrievalSet(
        name=f"scifact-{split}",
        doc_ids=[d["_id"] for d in corpus],
        texts=[f"{d['title']} {d['text']}" for d in corpus],
        queries={q: texts_of[q] for q in qids},
        qrels={q: qrels[q] for q in qids},
    )


# --------------------------------------------------------------------------- Wikipedia


def _hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _articles(path: Path, n_articles: int) -> Iterable[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for n, line in enumerate(handle):
            if n >= n_articles:
                return  # stop early: the rest of the file is never decompressed
            yield json.loads(line)


def wikipedia(
    split: str = "tune",
    n_articles: int = 6000,
    max_queries: int | None = 1500,
    path: Path = ARTICLES,
) -> RetrievalSet:
    """Wikipedia ``title + heading`` -> first paragraph of the section (see module doc).

    ``split="dev"`` takes the queries of both halves.
    """
    _check_split(split)
    doc_ids: list[str] = []
    texts: list[str] = []
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, float]] = {}
    for article in _articles(path, n_articles):
        aid = article["id"]
        parity = _hash(str(aid)) % 2
        wanted = split == "dev" or (split == "tune") == (parity == 0)
        seen: set[str] = set()
        for s, section in enumerate(article["sections"]):
            first = None
            for p, paragraph in enumerate(section["paragraphs"]):
                doc_id = f"{aid}:{s}:{p}"
                doc_ids.append(doc_id)
                texts.append(paragraph)
                if first is None:
                    first = (doc_id, paragraph)
            heading = section.get("heading")
            if not wanted or not heading or first is None:
                continue
            query = f"{article['title']} {heading}"
            if query in seen or first[1] in query:
                continue
            seen.add(query)
            qid = f"{aid}:{s}"
            queries[qid] = query
            qrels[qid] = {first[0]: 1.0}
    if max_queries is not None and len(queries) > max_queries:
        keep = sorted(queries, key=lambda q: (_hash(q), q))[:max_queries]
        kept = set(keep)
        queries = {q: t for q, t in queries.items() if q in kept}
        qrels = {q: qrels[q] for q in queries}
    return RetrievalSet(
        name=f"wikipedia-{split}",
        doc_ids=doc_ids,
        texts=texts,
        queries=queries,
        qrels=qrels,
    )


QUORA = SHARED / "eval" / "quora"


def quora(split: str = "dev", folder: Path = QUORA) -> RetrievalSet:
    """Duplicate-question retrieval from ``shared/eval/quora/dev.tsv`` (a pair set).

    Short-text similarity, where the dense side is strong and lexical overlap is high: the
    case against a lexical side. The corpus is every distinct question2 of the duplicate
    pairs and both questions of the other pairs (14,629 questions); a query is the question1
    of a duplicate pair that is not itself in the corpus, and its one relevant document is its
    question2. Splits by a CRC32 of the query text: ``"tune"`` even, ``"check"`` odd.
    """
    _check_split(split)
    rows = [
        line.rstrip("\n").split("\t")
        for line in (folder / "dev.tsv").read_text(encoding="utf-8").splitlines()
    ]
    corpus: dict[str, str] = {}
    for label, q1, q2 in rows:
        for q in (q2,) if label == "1" else (q1, q2):
            corpus.setdefault(q, f"d{len(corpus)}")
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, float]] = {}
    for n, (label, q1, q2) in enumerate(rows):
        if label != "1" or q1 in corpus:
            continue
        if split != "dev" and _hash(q1) % 2 != (split == "check"):
            continue
        qid = f"q{n}"
        queries[qid], qrels[qid] = q1, {corpus[q2]: 1.0}
    return RetrievalSet(
        name=f"quora-{split}",
        doc_ids=list(corpus.values()),
        texts=list(corpus),
        queries=queries,
        qrels=qrels,
    )


def encode_chunked(
    encode_fn: Callable[[list[str]], np.ndarray], texts: Sequence[str], chunk: int = 2048
) -> np.ndarray:
    """``encode_fn`` over ``texts`` in fixed chunks, concatenated.

    With :class:`_peers.MiniLMEncoder` each chunk is a cache entry of its own, so an
    interrupted first run keeps what it encoded and a later run resumes there.
    """
    parts = [encode_fn(list(texts[i : i + chunk])) for i in range(0, len(texts), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def load(name: str, split: str, **options: object) -> RetrievalSet:
    """``load("scifact", "tune")`` or ``load("wikipedia", "check", n_articles=...)``."""
    if name == "scifact":
        return scifact(split)
    if name == "wikipedia":
        return wikipedia(split, **options)  # type: ignore[arg-type]
    if name == "quora":
        return quora(split)
    raise ValueError(f"unknown retrieval set {name!r}")


if __name__ == "__main__":  # a quick look at the sets
    for name in ("scifact", "wikipedia"):
        for split in SPLITS:
            rs = load(name, split)
            print(rs.describe())
            qid = rs.qids[0]
            print(f"  e.g. {qid}: {rs.queries[qid]!r} -> {rs.qrels[qid]}")
