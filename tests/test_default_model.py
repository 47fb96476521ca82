"""The bundled default model: present, offline, documented, sensible."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

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


SHARED_STSB = Path(__file__).resolve().parents[2] / "shared" / "eval" / "stsb" / "dev.tsv"


def test_trained_default_is_documented(default):
    """The bundled model is sememe's own (trained by sememe.training), not a copy of a peer."""
    card = (default_model_path() / "MODEL_CARD.md").read_text()
    assert "scripts/build_sememe_model.sh" in card and "CC BY-SA" in card
    training = default.config.provenance["training"]
    assert training["stage"] == "rotate" and training["previous"]["stage"] == "contrastive"
    assert default._weights is not None  # trained per-token weights


@pytest.mark.skipif(not SHARED_STSB.is_file(), reason="needs ../shared/eval (STS-B dev)")
def test_stsb_dev_regression_guard(default):
    """STS-B dev Spearman of the shipped model stays where MODEL_CARD.md says (WordLlama: 82.8)."""
    from scipy.stats import spearmanr

    rows = [line.split("\t") for line in SHARED_STSB.read_text().splitlines()[1:] if line]
    a = default.encode([r[1] for r in rows])
    b = default.encode([r[2] for r in rows])
    rho = spearmanr(np.einsum("ij,ij->i", a, b), [float(r[0]) for r in rows]).statistic
    assert rho > 0.80


def test_load_takes_its_parsed_tokenizer_with_the_same_vectors(default):
    """``load`` hands the tokenizer it parsed to the encoder (no second parse); vectors,
    counts and the word table match an encoder that parses its own copy."""
    from sememe.persistence import read_model

    parts = read_model(default_model_path())
    copied = sememe.Encoder(
        parts.tokenizer,
        parts.embeddings,
        weights=parts.weights,
        mapping=parts.mapping,
        config=parts.config,
        source=parts.source,
        word_table=parts.word_table,
    )
    texts = ["A cat sat on the mat.", "Quantum chromodynamics of gluons", "", "naïve café ☕"]
    assert default.encode(texts).tobytes() == copied.encode(texts).tobytes()
    assert default.count_tokens(texts).tolist() == copied.count_tokens(texts).tolist()
    assert default.word_table is not None and copied.word_table is not None
    assert default.arrays.tokenizer_json == copied.arrays.tokenizer_json
    short = sememe.Encoder(
        read_model(default_model_path()).tokenizer,
        parts.embeddings,
        weights=parts.weights,
        config=replace(parts.config, max_tokens=3),
    )
    got = default.with_options(max_tokens=3).encode(texts)
    assert got.tobytes() == short.encode(texts).tobytes()
