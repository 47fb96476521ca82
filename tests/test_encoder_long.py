"""Very long texts are tokenized in pieces with exactly the result of tokenizing them whole,
and bad arguments to the encoder get sememe errors that name them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import llama_like_tokenizer, tiny_encoder, word_tokenizer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe import encoder as encoder_module
from sememe.errors import InvalidArgumentError, InvalidTypeError, SememeError

# Strings rich in piece-boundary cases: runs of spaces, tabs, newlines, non-ASCII letters,
# byte-fallback characters, lone surrogates, the space markers themselves.
PARTS = [
    *"ab cd  ",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n",
    "é",
    "日",
    "😀",
    "\ud800",
    "▁",
    "Ġ",
    ".",
    "-",
    "1",
]
WORDS = ["cat", "sat", "the", "mat", "stock", "river"]
ALPHABET = st.sampled_from([*PARTS, *WORDS])
LONGISH = st.lists(ALPHABET, min_size=0, max_size=60).map("".join)


def whole(enc: sememe.Encoder, text: str) -> tuple[np.ndarray, np.ndarray]:
    e = enc._encode_raw(enc._offsets_tokenizer, [text], fast=False)[0]
    return np.asarray(e.ids, np.int32), np.asarray(e.offsets, np.int64).reshape(-1, 2)


@pytest.fixture(scope="module", params=["word", "llama", "bundled"])
def any_enc(request):
    if request.param == "bundled":
        return sememe.load()
    return tiny_encoder(word_tokenizer() if request.param == "word" else llama_like_tokenizer())


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=LONGISH, piece=st.integers(1, 8))
def test_pieces_give_the_tokens_and_offsets_of_the_whole_text(any_enc, text, piece):
    ids, offsets = whole(any_enc, text)
    got = any_enc._tokenize_long(text, piece_chars=piece)
    np.testing.assert_array_equal(got.ids, ids)
    np.testing.assert_array_equal(got.offsets, offsets)
    counted = sum(len(e) - d for e, d, _ in any_enc._long_pieces(text, piece_chars=piece))
    assert counted == len(ids)
    cut = any_enc._tokenize_long(text, piece_chars=piece, limit=5)
    np.testing.assert_array_equal(cut.ids, ids[:5])


def test_long_texts_through_the_public_api(monkeypatch, tiny_llama):
    """Public tokenize / count_tokens switch to pieces above LONG_TEXT characters."""
    text = ("the cat  sat\ton the mat.\n\n日本 😀 \ud800 " * 40).strip()
    ids, offsets = whole(tiny_llama, text)
    monkeypatch.setattr(encoder_module, "LONG_TEXT", 50)
    monkeypatch.setattr(encoder_module, "PIECE_CHARS", 7)
    monkeypatch.setattr(encoder_module, "PIECES_PER_BATCH", 3)
    assert tiny_llama.count_tokens(text) == len(ids)
    n_cat = len(whole(tiny_llama, "cat")[0])
    assert tiny_llama.count_tokens(["cat", text, ""]).tolist() == [n_cat, len(ids), 0]
    got = tiny_llama.tokenize(["cat", text])[1]
    np.testing.assert_array_equal(got.ids, ids)
    np.testing.assert_array_equal(got.offsets, offsets)
    truncated = tiny_llama.tokenize(text, truncate=True)
    np.testing.assert_array_equal(truncated.ids, ids[: tiny_llama.max_tokens])


def test_a_long_single_token_falls_back_to_the_whole_text(tiny_llama, monkeypatch):
    monkeypatch.setattr(encoder_module, "LONG_TEXT", 50)
    text = "x" * 500  # no safe cut anywhere
    assert tiny_llama.count_tokens(text) == len(whole(tiny_llama, text)[0])


def test_encode_of_long_texts_stays_exact(tiny_llama):
    """encode cuts texts over 8 * max_tokens characters; the truncated vector is the one
    of the first max_tokens tokens."""
    enc = tiny_llama.with_options(max_tokens=16)
    text = "cat sat " * 200 + "x" * 3000
    ref = enc.encode_ids([enc.tokenize(text).ids[:16]], normalize=True)[0]
    np.testing.assert_allclose(enc.encode(text), ref, atol=1e-6)
    blob = "x" * 3000 + " cat"  # the cut prefix is one long token: tokenized whole
    ref = enc.encode_ids([enc.tokenize(blob).ids[:16]], normalize=True)[0]
    np.testing.assert_allclose(enc.encode(blob), ref, atol=1e-6)


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 2.5}, InvalidTypeError, "batch_size must be an integer, got 2.5"),
        ({"batch_size": 0}, InvalidArgumentError, "batch_size must be >= 1"),
        ({"batch_size": None}, InvalidTypeError, "batch_size must be an integer"),
        ({"batch_size": True}, InvalidTypeError, "batch_size must be an integer"),
        ({"dim": 2.5}, InvalidTypeError, "dim must be an int"),
        ({"dim": 0}, InvalidArgumentError, "dim must be between 1 and 16"),
        ({"dim": 17}, InvalidArgumentError, "dim must be between 1 and 16"),
        ({"normalize": "yes"}, InvalidTypeError, "normalize must be a bool"),
    ],
)
def test_encode_names_the_bad_argument(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny.encode(["cat"], **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_tokens": math.nan}, InvalidTypeError, "max_tokens must be an integer, got nan"),
        ({"max_tokens": 0}, InvalidArgumentError, "max_tokens must be >= 1, got 0"),
        ({"max_tokens": -1}, InvalidArgumentError, "max_tokens must be >= 1"),
        ({"max_tokens": 2.5}, InvalidTypeError, "max_tokens must be an integer"),
        ({"max_tokens": True}, InvalidTypeError, "max_tokens must be an integer"),
        ({"dim": math.nan}, InvalidTypeError, "dim must be an int"),
        ({"dim": 0}, InvalidArgumentError, "dim must be"),
        ({"dim": 10_000}, InvalidArgumentError, "dim must be between 1 and 256"),
        ({"dim": "64"}, InvalidTypeError, "dim must be an int"),
        ({"normalize": 1}, InvalidTypeError, "normalize must be a bool"),
        ({"format": "onnx"}, InvalidArgumentError, "format must be one of"),
    ],
)
def test_load_names_the_bad_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        sememe.load(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_tokens": math.nan}, InvalidTypeError, "max_tokens must be an integer"),
        ({"max_tokens": 0}, InvalidArgumentError, "max_tokens must be >= 1"),
        ({"dim": -3}, InvalidArgumentError, "dim must be between"),
        ({"normalize": "no"}, InvalidTypeError, "normalize must be a bool"),
    ],
)
def test_with_options_names_the_bad_argument(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny.with_options(**kwargs)


def test_model_config_refuses_non_integer_sizes():
    with pytest.raises(InvalidTypeError, match="max_tokens must be an integer"):
        sememe.ModelConfig(dim=4, vocab_size=10, max_tokens=math.nan)
    with pytest.raises(InvalidArgumentError, match="dim must be >= 1"):
        sememe.ModelConfig(dim=0, vocab_size=10)
    with pytest.raises(InvalidTypeError, match=r"matryoshka_dims\[0\] must be an integer"):
        sememe.ModelConfig(dim=4, vocab_size=10, matryoshka_dims=("x",))


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        ([[1, 99]], InvalidArgumentError, r"ids\[0\] has token ids outside 0..\d+"),
        ([[2], [-1]], InvalidArgumentError, r"ids\[1\] has token ids outside"),
        ([[1.5]], InvalidTypeError, r"ids\[0\] must hold integer token ids"),
        ([[True]], InvalidTypeError, r"ids\[0\] must hold integer token ids"),
        ([[[1, 2], [3]]], InvalidTypeError, r"ids\[0\] is not a flat sequence"),
        ([[[1, 2]]], InvalidTypeError, r"ids\[0\] must be a flat sequence"),
        ([3], InvalidTypeError, r"ids\[0\] must be a flat sequence"),
        (["ab"], InvalidTypeError, r"ids\[0\] is str"),
        (None, InvalidTypeError, "ids must be a sequence"),
    ],
)
def test_encode_ids_refuses_bad_ids(tiny, ids, error, match):
    with pytest.raises(error, match=match):
        tiny.encode_ids(ids)


def test_encode_ids_accepts_empty_and_numpy_sequences(tiny):
    out = tiny.encode_ids([[], np.array([1, 2], np.int32), (3,)])
    assert out.shape == (3, 16) and not out[0].any()
    with pytest.raises(InvalidArgumentError, match="outside"):
        tiny.token_weights([tiny.vocab_size])


def test_similarity_of_any_shapes(tiny):
    assert isinstance(tiny.similarity("cat", "dog"), float)
    assert tiny.similarity("cat", ["dog", "cat"]).shape == (1, 2)
    assert tiny.similarity(["cat", "dog", "mat"], "dog").shape == (3, 1)
    assert tiny.similarity([], ["dog"]).shape == (0, 1)
    with pytest.raises(InvalidTypeError, match=r"texts\[0\] is None"):
        tiny.similarity([None], "dog")


def test_encoder_errors_are_sememe_errors(tiny):
    with pytest.raises(SememeError):
        tiny.encode_binary(["cat"], dim=12)
    with pytest.raises(InvalidTypeError, match="text is bytes"):
        tiny.token_vectors(b"cat")
    with pytest.raises(InvalidTypeError, match=r"texts is of type bytes"):
        tiny.encode(b"cat")
