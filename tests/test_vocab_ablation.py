"""scripts/vocab_ablation.py: whole-word tokens added as BPE merge chains leave vectors unchanged.

Runs on the bundled model's Llama-2 tokenizer with a handful of words (no shared data and no
torch needed): every added word must become one token, and the rows initialised from the
pieces must pool every text to the vector the unextended model gives.
"""

from __future__ import annotations

import collections
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import sememe
from sememe.config import ModelConfig

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "vocab_ablation.py"


@pytest.fixture(scope="module")
def ablation():
    spec = importlib.util.spec_from_file_location("vocab_ablation", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["vocab_ablation"] = module
    spec.loader.exec_module(module)
    return module


def test_word_pattern_takes_whole_space_separated_words(ablation):
    text = "Housing prices, re-elected in 1990s: naïve cafés (unbelievably)"
    # "naïve" and "cafés" go on in non-ASCII letters, "(unbelievably)" starts after "("
    assert ablation.WORD.findall(text) == ["Housing", "prices", "re", "in"]


def test_added_words_are_one_token_and_vectors_unchanged(ablation):
    base = sememe.load()
    counts = collections.Counter(
        {"unbelievably": 50, "Wikipedians": 40, "the": 1000, "biodiversity": 30, "Zorblat": 20}
    )
    chosen = ablation.split_words(base.tokenizer, counts, 10)
    words = [w for w, _ in chosen]
    assert "the" not in words  # already one token
    assert {"unbelievably", "Wikipedians", "Zorblat"} <= set(words)
    tok, parts, failed = ablation.extend_tokenizer(base.tokenizer, chosen)
    assert failed == []
    for word in words:
        assert tok.encode(word, add_special_tokens=False).tokens == ["▁" + word]
    arrays = base.arrays
    table = np.asarray(arrays.table, np.float32)
    weights = np.asarray(arrays.token_weights, np.float32)
    new_table, new_weights = ablation.extended_arrays(table, weights, parts)
    assert new_table.shape == (len(table) + len(parts), table.shape[1])
    assert tok.get_vocab_size() == len(new_table)
    config = ModelConfig.from_dict({**base.config.to_dict(), "vocab_size": len(new_table)})
    extended = sememe.Encoder(tok, new_table, weights=new_weights, config=config)
    texts = [
        "Wikipedians wrote about biodiversity, unbelievably.",
        "Zorblat Zorblat the unbelievable",
        "plain words only",
    ]
    assert len(extended.tokenize(texts[0]).ids) < len(base.tokenize(texts[0]).ids)
    np.testing.assert_allclose(extended.encode(texts), base.encode(texts), atol=1e-5)
