"""Retrieval for RAG: documents -> passages -> hybrid (BM25 + static vectors) hits.

python examples/rag.py [FILE ...]      (default: the two sample files in examples/data)

Each file is one document. ``Index.from_documents`` cuts them into semantic chunks with exact
character offsets and indexes the chunks on both sides; a hit names its document and where
its passage starts and ends, so the passage can be shown in context.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sememe import Index

here = Path(__file__).parent / "data"
paths = [Path(p) for p in sys.argv[1:]] or [here / "chunking_sample.md", here / "sample.txt"]
documents = {p.name: p.read_text(encoding="utf-8") for p in paths}

index = Index.from_documents(
    list(documents.values()),
    ids=list(documents),  # document ids; chunks get "<document>#<n>"
    metadata=[{"path": str(p)} for p in paths],
    max_tokens=128,  # tokens per passage at most
)
print(index)

query = "how long does the loaf bake in a hot oven?"
for hit in index.search(query, k=3):  # hybrid: the default of a lexical index
    m = hit.metadata
    print(f"\n{hit.score:6.3f}  {m['document']} [{m['start']}:{m['end']}]")
    print(f"        dense {hit.dense_score:.3f}, BM25 {hit.lexical_score or 0.0:.2f}")
    # the passage is exactly this slice of its document
    assert documents[m["document"]][m["start"] : m["end"]] == hit.text
    print("        " + " ".join(hit.text.split())[:150])

# The same index answers by one side only, and within one document.
first = next(iter(documents))
for mode in ("dense", "lexical"):
    hits = index.search(query, k=1, mode=mode, where={"document": first})
    print(f"\n{mode:>7}: " + (hits[0].id if hits else "(no passage holds a query word)"))

with tempfile.TemporaryDirectory() as tmp:
    index.save(Path(tmp) / "rag-index")  # both sides, checksummed, atomic
    again = Index.load(Path(tmp) / "rag-index")
    assert [h.id for h in again.search(query, k=3)] == [h.id for h in index.search(query, k=3)]
    print("\nsaved and reloaded: same hits")
