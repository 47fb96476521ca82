"""Dense neighbourhoods: near-identical inputs must not blow up the pair search.

``line 1`` ... ``line 100000`` took 523 s from the CLI; the long measurement is
``python benchmarks/dedupe.py --dense``. These tests check the two mechanisms on small
inputs: texts with identical vectors are decided as one item, and crowded cells fall
back to blocked all-pairs search.
"""

from __future__ import annotations

import numpy as np
from conftest import tiny_encoder

from sememe import dedupe
from sememe.deduplication import _search
from sememe.deduplication._search import CellIndex

TINY = tiny_encoder(dim=16, seed=3)


def test_numbered_lines_collapse_and_match_the_exact_answer(default):
    texts = [f"line {i}" for i in range(1, 4001)]
    r = dedupe(texts, threshold=0.9)
    exact = dedupe(texts, threshold=0.9, search="exact")
    assert r.kept == exact.kept
    # "line 12" and "line 21" pool the same tokens: one item, so the pairs stay linear
    # in the input (before: one item per line and ~150,000 pairs at this size).
    assert r._graph.n_items < len(texts) / 3
    assert len(r._graph.ua) < 2 * len(texts)


def test_reordered_tokens_are_reported_as_cosine_one_not_as_equal_text():
    r = dedupe(["cat sat on mat", "mat on sat cat", "Cat sat on mat", "dog"], encoder=TINY)
    assert r.kept == [0, 3]
    by = {d.index: d for d in r.removed}
    assert by[1].duplicate_of == 0 and not by[1].exact and by[1].similarity == 1.0
    assert by[2].exact  # equal text after normalisation
    assert "cosine 1.0000" in r.explain(1)
    assert "normalisation" in r.explain(2)
    # The same with a reference and at other thresholds.
    assert r.rethreshold(0.99).kept == [0, 3]
    ref = dedupe(["mat sat on cat"], encoder=TINY, against=["cat on mat sat"])
    assert ref.kept == [] and ref.removed[0].reference


def test_crowded_cells_fall_back_to_all_pairs(monkeypatch):
    monkeypatch.setattr(_search, "DENSE_MIN_PAIRS", 0)
    rng = np.random.default_rng(0)
    centre = rng.standard_normal(32).astype(np.float32)
    x = centre + 0.2 * rng.standard_normal((600, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cells = CellIndex(32, search="cells", cell_size=16, nprobe=2)
    exact = CellIndex(32, search="exact")
    cells.add(x.copy())
    exact.add(x.copy())
    got = cells.self_pairs(0.9)
    want = exact.self_pairs(0.9)
    assert cells.dense_fallbacks == 1
    assert set(zip(got[0].tolist(), got[1].tolist(), strict=True)) == set(
        zip(want[0].tolist(), want[1].tolist(), strict=True)
    )
    q = cells.search(x[:50], 0.9)
    assert cells.dense_fallbacks == 2
    w = exact.search(x[:50], 0.9)
    assert len(q[0]) == len(w[0])
