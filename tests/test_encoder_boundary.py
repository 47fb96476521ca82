"""The Encoder's public view for modules built on it: arrays, span sums, word tokens, saving."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import llama_like_tokenizer, tiny_encoder

import sememe
from sememe import _wordcache, persistence
from sememe.errors import InvalidArgumentError, InvalidTypeError


def test_arrays_are_read_only_views_of_what_the_encoder_pools_with(tiny):
    arrays = tiny.arrays
    assert arrays is tiny.arrays
    for arr in (arrays.embeddings, arrays.weights, arrays.table, arrays.token_weights):
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 0
    assert arrays.mapping is None
    assert arrays.table.dtype == np.float32 and arrays.table.shape == (tiny.vocab_size, 16)
    assert arrays.tokenizer_json == tiny.tokenizer.to_str()
    # the views are what pooling reads: the unnormalised vector of one token is its row
    row = tiny.encode_ids([[3]], normalize=False)[0]
    np.testing.assert_allclose(row, arrays.table[3], rtol=1e-6)
    with pytest.raises(AttributeError):
        arrays.table = None  # frozen


def test_ignored_ids_weigh_nothing_in_arrays():
    enc = tiny_encoder(ignore_token_ids=(1,))
    assert enc.arrays.token_weights[1] == 0 and enc.arrays.denominators[1] == 0
    assert enc.arrays.weights[1] != 0  # the stored weights are untouched


def test_span_sums_add_up_what_pooling_adds(tiny):
    toks = tiny.tokenize("the cat sat on the mat and the dog sat too")
    ids = toks.ids
    indptr = np.array([0, 3, 3, len(ids)])
    sums = tiny.span_sums(ids, indptr, dim=8)
    assert sums.shape == (3, 8) and sums.dtype == np.float32
    assert not sums[1].any()
    w = tiny.arrays.token_weights
    expect = (w[ids[:3], None] * tiny.arrays.table[ids[:3], :8]).sum(axis=0)
    np.testing.assert_allclose(sums[0], expect, rtol=1e-5)
    # divided by the weights, a span's sum is the encoder's unnormalised vector of it
    whole = tiny.span_sums(ids, np.array([0, len(ids)]))[0] / w[ids].sum()
    np.testing.assert_allclose(whole, tiny.encode_ids([ids], normalize=False)[0], rtol=1e-5)
    for bad in ([1, len(ids)], [0, 2], [0, 5, 4, len(ids)], [[0, len(ids)]]):
        with pytest.raises(InvalidArgumentError, match="indptr"):
            tiny.span_sums(ids, np.array(bad))
    with pytest.raises(InvalidArgumentError, match="outside"):
        tiny.span_sums([tiny.vocab_size], [0, 1])


def test_shares_arrays_for_variants_only(tiny):
    assert tiny.shares_arrays(tiny.with_options(dim=8))
    twin = tiny_encoder()
    assert not tiny.shares_arrays(twin) and twin.fingerprint == tiny.fingerprint
    with pytest.raises(InvalidTypeError):
        tiny.shares_arrays("sememe-base")


def test_word_tokens_are_the_encoders_own_and_shared(tiny_llama):
    words = tiny_llama.word_tokens()
    assert words is tiny_llama.word_tokens()
    assert isinstance(words, _wordcache.WordTokens)
    assert words.mode == tiny_llama.split_mode == "space"
    memo = words.memo()
    rows = memo.rows(["cat", "sat", "cat"])
    assert rows[0] == rows[2]
    assert memo.gather(rows[:1]).tolist() == tiny_llama.tokenize("cat").ids.tolist()
    assert tiny_llama.with_options(dim=8).word_tokens() is not words


def test_chunkers_of_one_encoder_share_its_memo():
    enc = tiny_encoder(llama_like_tokenizer())
    a = sememe.TokenChunker(enc, max_tokens=8)
    b = sememe.SemanticChunker(enc, max_tokens=8)
    a.chunk("the cat sat on the mat")
    b.chunk("the dog sat on the mat")
    assert a._counter().words is b._counter().words is enc.word_tokens()


def test_save_takes_parts_and_load_model_moved(tiny, tmp_path):
    path = tiny.save(tmp_path / "m")
    back = sememe.load(path)
    assert back.fingerprint == tiny.fingerprint
    parts = persistence.read_model(path)
    assert parts.config == tiny.config and parts.source == str(path)
    with pytest.warns(DeprecationWarning, match="loading.load_model"):
        old = persistence.load_model
    assert old is sememe.loading.load_model
    again = tmp_path / "again"
    persistence.save_model(
        again,
        tokenizer_json=back.arrays.tokenizer_json,
        embeddings=back.arrays.embeddings,
        weights=back.arrays.weights,
        mapping=back.arrays.mapping,
        config=back.config,
        fingerprint=back.fingerprint,
    )
    assert sememe.loading.load_model(again).fingerprint == tiny.fingerprint


def test_token_vectors_is_deprecated(tiny):
    with pytest.warns(DeprecationWarning, match="token_vectors"):
        rows, toks = tiny.token_vectors("cat sat")
    assert rows.shape == (len(toks), tiny.dim)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidTypeError):  # the type check comes first, without a warning
            tiny.token_vectors(b"cat")
