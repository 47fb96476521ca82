"""Embed a file of sentences with the bundled model and find each one's nearest neighbour.

python examples/encode.py [examples/data/sample.txt]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import sememe

path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "data" / "sample.txt")
texts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

enc = sememe.load()  # the bundled model: no download
vectors = enc.encode(texts)  # (n, 256) float32, L2-normalised
print(f"{len(texts)} texts -> {vectors.shape} {vectors.dtype}")

sims = vectors @ vectors.T  # cosine similarity, since rows are normalised
np.fill_diagonal(sims, -1)
for i in range(3):
    j = int(sims[i].argmax())
    print(f"\n{texts[i]}\n  nearest ({sims[i, j]:.2f}): {texts[j]}")

# Binary codes: 32 bytes per text; Hamming distance approximates the angle.
codes = enc.encode_binary(texts)
bits = np.unpackbits(codes, axis=1)
hamming = (bits[0] != bits).sum(1)
hamming[0] = bits.shape[1]
print(
    f"\nbinary codes {codes.shape}; nearest to text 0 by Hamming distance: {texts[int(hamming.argmin())]}"
)

# Matryoshka truncation: the first 64 dimensions, renormalised, 4x smaller.
small = enc.encode(texts[:2], dim=64)
print(
    f"dim=64 vectors {small.shape}, cosine {float(small[0] @ small[1]):.2f} vs {float(vectors[0] @ vectors[1]):.2f} at 256"
)
