"""Top-k semantic search over the shared encoder, with FAISS as the engine.

An :class:`Index` keeps documents (a text, a user id and optional JSON metadata) and
their vectors from the shared :class:`~sememe.Encoder`, and answers "which documents
are closest to this query?". Three kinds trade memory and speed for accuracy:

``"float"``
    Cosine similarity on float32 vectors (``Encoder.encode``), 1 KiB per document at
    256 dimensions. Exact brute force up to ``exact_limit`` documents, a FAISS HNSW
    graph beyond; scores are always exact cosines.
``"binary"``
    Hamming distance on packed sign bits (``Encoder.encode_binary``), 32 bytes per
    document. The score is the cosine estimated from the Hamming distance,
    ``cos(pi * hamming / bits)``.
``"binary+rerank"``
    A scan of the documents' sign bits finds ``candidates`` documents, which are then
    re-scored with the float vectors: close to ``"float"`` results at binary scan
    speed (the binary-code idea of the WordLlama model card, made practical). The scan
    scores the float query against the bits (``query . sign(document)`` over the
    leading ``scan_dims`` dimensions, with FAISS's 4-bit fast scan), which ranks far
    better than the Hamming distance between both sides' bits.

Every kind keeps its own copy of the vectors (and/or codes) as the source of truth:
exact search runs FAISS brute force over it, re-scoring reads it, and an
approximate FAISS index (the "structure", given as a FAISS factory string such as
``"HNSW32"`` or ``"BIVF1024"``) only proposes candidates. Documents keep their
insertion order; removal compacts the arrays.

Blank documents and queries (empty or whitespace-only texts, which encode to the zero
vector) are near nothing in every kind: each index keeps a mask of its blank rows, keeps
them out of every first stage, and lists them only when ``k`` exceeds the other documents,
last, with score 0.0; a blank query scores every document 0.0 (see
:meth:`Index.search`).

Threads: any number of threads may search at once (FAISS releases the GIL). ``add``,
``remove`` and ``compact`` take an exclusive lock: they wait for running searches and
hold new ones back until they are done. Encoding the new texts happens before the
lock is taken, so searches keep running while a large ``add`` encodes.
"""

from ._common import (
    DEFAULT_ALPHA,
    DEFAULT_CANDIDATES,
    DEFAULT_EF_CONSTRUCTION,
    DEFAULT_EF_SEARCH,
    DEFAULT_EXACT_LIMIT,
    DEFAULT_FACTORY,
    DEFAULT_FUSION,
    DEFAULT_FUSION_CANDIDATES,
    DEFAULT_NPROBE,
    FUSIONS,
    KINDS,
    MODES,
    REBUILD_FRACTION,
    Hit,
    IndexFormatError,
    UnknownIdError,
)
from ._index import Index
from ._lexical import LANGUAGES, STOPWORD_LANGUAGES, Analyzer

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_CANDIDATES",
    "DEFAULT_EF_CONSTRUCTION",
    "DEFAULT_EF_SEARCH",
    "DEFAULT_EXACT_LIMIT",
    "DEFAULT_FACTORY",
    "DEFAULT_FUSION",
    "DEFAULT_FUSION_CANDIDATES",
    "DEFAULT_NPROBE",
    "FUSIONS",
    "KINDS",
    "LANGUAGES",
    "MODES",
    "REBUILD_FRACTION",
    "STOPWORD_LANGUAGES",
    "Analyzer",
    "Hit",
    "Index",
    "IndexFormatError",
    "UnknownIdError",
]
