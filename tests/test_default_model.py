"""The bundled default model: present, offline, documented, sensible."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

import sememe
from sememe.loading import default_model_path


def test_bundled_files_and_card():
    path = default_model_path()
    for name in ("config.json", "model.safetensors", "tokenizer.json", "MODEL_CARD.md"):
        assert (path / name).is_file(), name
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["model_type"] == "sememe" and cfg["license"] and cfg["provenance"]
    assert sum(f.stat().st_size for f in path.iterdir()) < 25_000_000


def test_loads_offline_without_network_variables():
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(
        HF_HUB_OFFLINE="1",
        NO_PROXY="*",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
    )
    code = "import sememe; print(sememe.load().encode('hello world').shape)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "(256,)"


def test_default_is_shared_and_configured(default):
    assert sememe.load() is default
    assert default.full_dim == 256 and default.max_tokens == 2048
    assert default.config.matryoshka_dims == (64, 128, 256)


def test_meaning_orders_similarities(default):
    s = default.similarity
    assert s("The cat sat on the mat.", "A cat was sitting on a mat.") > s(
        "The cat sat on the mat.", "Interest rates rose again."
    )
    assert s("How do I reset my password?", "I forgot my password") > s(
        "How do I reset my password?", "The weather is nice"
    )


def test_binary_codes_keep_neighbours(default):
    texts = [
        "the cat sat on the mat",
        "a cat sat on a mat",
        "stock prices fell",
        "shares dropped in value",
    ]
    codes = default.encode_binary(texts)
    bits = np.unpackbits(codes, axis=1)
    ham = (bits[:, None, :] != bits[None, :, :]).sum(-1)
    assert ham[0, 1] < ham[0, 2] and ham[2, 3] < ham[2, 0]


def test_wordllama_equivalence(default):
    """The bundled table is WordLlama's, unchanged (see MODEL_CARD.md)."""
    import pytest

    pytest.importorskip("wordllama")
    texts = ["The cat sat on the mat.", "Stock markets fell sharply today."]
    np.testing.assert_allclose(
        default.encode(texts), sememe.load("wordllama-256").encode(texts), atol=1e-6
    )
