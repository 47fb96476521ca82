"""Chunk a markdown document semantically, then with fixed-size windows, and compare.

python examples/chunk.py [examples/data/chunking_sample.md] [max_tokens]
"""

from __future__ import annotations

import sys
from pathlib import Path

import sememe
from sememe.chunking import SemanticChunker, TokenChunker

path = Path(
    sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "data" / "chunking_sample.md"
)
max_tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 160
text = path.read_text(encoding="utf-8")

enc = sememe.load()  # the bundled model: no download
semantic = SemanticChunker(enc, max_tokens=max_tokens)  # cuts where the topic changes
for c in semantic.chunk(text):
    assert c.text == text[c.start : c.end]  # offsets are exact
    first_line = c.text.splitlines()[0]
    print(f"[{c.index}] chars {c.start}-{c.end}, {c.n_tokens} tokens: {first_line[:70]}")

print("\nFixed-size windows of the same size, for comparison:")
for c in TokenChunker(enc, max_tokens=max_tokens).chunk(text):
    print(f"[{c.index}] chars {c.start}-{c.end}, {c.n_tokens} tokens: {c.text[:70]!r}")

# The sentences (and markdown lines) the semantic chunker groups:
units = semantic.split_sentences(text)
print(f"\n{len(units)} units; the first three: {[u.text for u in units[:3]]}")

# Count tokens with another tokenizer, e.g. your LLM's (any callable str -> int works too):
words = SemanticChunker(enc, max_tokens=60, tokenizer=lambda s: len(s.split()))
print(f"\nwith at most 60 words per chunk: {len(words.chunk(text))} chunks")
