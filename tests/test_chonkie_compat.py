"""Chonkie 1.7 with sememe's encoder: SemanticChunker(embedding_model=...), the "sememe://"
model name, AutoEmbeddings wrapping an Encoder; and sememe's chunkers used the Chonkie way."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

chonkie = pytest.importorskip("chonkie")

from chonkie.embeddings import AutoEmbeddings, BaseEmbeddings  # noqa: E402

import sememe  # noqa: E402
from sememe.errors import InvalidTypeError  # noqa: E402
from sememe.integrations.chonkie import SememeChonkieEmbeddings  # noqa: E402

TEXT = Path("examples/data/sample.txt").read_text(encoding="utf-8")[:8000]


@pytest.fixture(scope="module")
def emb(default):
    return SememeChonkieEmbeddings(default)


def test_is_a_chonkie_embeddings(emb, default):
    assert isinstance(emb, BaseEmbeddings)
    assert emb.dimension == default.dim
    lines = ["a first text", "and a second one", ""]
    assert np.array_equal(emb.embed(lines[0]), default.encode(lines[0], normalize=True))
    batch = emb.embed_batch(lines)
    assert len(batch) == 3 and np.array_equal(
        np.stack(batch), default.encode(lines, normalize=True)
    )
    assert emb.embed_batch([]) == []
    assert emb(lines[:2])[1].shape == (default.dim,)  # Chonkie's __call__
    assert emb.similarity(batch[0], batch[0]) == pytest.approx(1.0, abs=1e-6)
    assert emb.similarity(batch[0], batch[2]) == 0.0  # a blank text's zero vector
    raw = SememeChonkieEmbeddings(default, normalize=False).embed(lines[0])
    assert np.array_equal(raw, default.encode(lines[0], normalize=False))
    assert "SememeChonkieEmbeddings(encoder=Encoder(" in repr(emb)


def test_chonkie_semantic_chunker_with_a_sememe_encoder(emb, default):
    chunker = chonkie.SemanticChunker(embedding_model=emb, chunk_size=128)
    chunks = chunker(TEXT)
    assert len(chunks) > 3
    for c in chunks:
        assert TEXT[c.start_index : c.end_index] == c.text
        assert c.token_count <= 128
    # Chonkie counts tokens with the encoder's own tokenizer.
    assert chunker.tokenizer.tokenizer.get_vocab() == default.tokenizer.get_vocab()


def test_model_names_and_wrapping(default):
    chunker = chonkie.SemanticChunker(embedding_model="sememe://sememe-base", chunk_size=128)
    assert isinstance(chunker.embedding_model, SememeChonkieEmbeddings)
    assert chunker.embedding_model.encoder.fingerprint == default.fingerprint
    wrapped = AutoEmbeddings.get_embeddings(default)
    assert isinstance(wrapped, SememeChonkieEmbeddings) and wrapped.encoder is default


def test_bad_arguments(default):
    with pytest.raises(InvalidTypeError, match="encoder must be"):
        SememeChonkieEmbeddings(3.5)
    with pytest.raises(InvalidTypeError, match="normalize must be a bool"):
        SememeChonkieEmbeddings(default, normalize="yes")
    with pytest.raises(InvalidTypeError, match="text is None"):
        SememeChonkieEmbeddings(default).embed(None)


def test_sememe_chunkers_the_chonkie_way(default):
    """The same calls as Chonkie's chunkers: chunker(text), chunker(texts), overlap."""
    ours = sememe.RecursiveChunker(default, max_tokens=128)
    theirs = chonkie.RecursiveChunker(tokenizer=default.tokenizer, chunk_size=128)
    for chunks in (ours(TEXT), theirs(TEXT)):
        assert len(chunks) > 3
    assert [len(x) for x in ours([TEXT, TEXT[:200]])] == [len(ours(TEXT)), len(ours(TEXT[:200]))]
    token = sememe.TokenChunker(default, max_tokens=64, overlap=16)(TEXT)
    assert all(b.start < a.end for a, b in itertools.pairwise(token))
