"""Chunkers on bad arguments and awkward texts: a clear sememe error or chunks that cover
the text within the hard token cap; a refused call changes nothing."""

from __future__ import annotations

import math

import pytest
from conftest import llama_like_tokenizer, tiny_encoder, word_tokenizer
from test_chunking import assert_valid, encoder_count

from sememe.chunking import SemanticChunker, TokenChunker, pk, windowdiff
from sememe.errors import InvalidArgumentError, InvalidTypeError, SememeError

CHUNKERS = [SemanticChunker, TokenChunker]


@pytest.fixture(scope="module", params=["word", "llama"])
def enc(request):
    return tiny_encoder(word_tokenizer() if request.param == "word" else llama_like_tokenizer())


@pytest.mark.parametrize("make", CHUNKERS)
@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (0, InvalidArgumentError, "max_tokens must be >= 1, got 0"),
        (-5, InvalidArgumentError, "max_tokens must be >= 1"),
        (math.nan, InvalidTypeError, "max_tokens must be an int, got nan"),
        (2.5, InvalidTypeError, "max_tokens must be an int, got 2.5"),
        (True, InvalidTypeError, "max_tokens must be an int, got True"),
        ("512", InvalidTypeError, "max_tokens must be an int"),
    ],
)
def test_bad_max_tokens(enc, make, value, error, match):
    with pytest.raises(error, match=match):
        make(enc, max_tokens=value)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"window": 0}, InvalidArgumentError, "window must be >= 1"),
        ({"window": 1.5}, InvalidTypeError, "window must be an int"),
        ({"window": False}, InvalidTypeError, "window must be an int"),
        ({"threshold": math.nan}, InvalidArgumentError, r"threshold is a cosine similarity"),
        ({"threshold": math.inf}, InvalidArgumentError, r"threshold is a cosine similarity"),
        ({"threshold": 1.5}, InvalidArgumentError, r"in \[-1, 1\]"),
        ({"threshold": True}, InvalidTypeError, "threshold must be 'auto' or a float"),
        ({"threshold": "high"}, InvalidArgumentError, "threshold must be 'auto' or a float"),
        ({"min_tokens": -1}, InvalidArgumentError, "min_tokens must be >= 0"),
        ({"min_tokens": math.nan}, InvalidTypeError, "min_tokens must be an int"),
        ({"min_tokens": 600}, InvalidArgumentError, "must not exceed max_tokens"),
        ({"tokenizer": 3}, InvalidTypeError, "tokenizer must be None"),
    ],
)
def test_bad_semantic_options(enc, kwargs, error, match):
    with pytest.raises(error, match=match):
        SemanticChunker(enc, **kwargs)


@pytest.mark.parametrize("make", CHUNKERS)
@pytest.mark.parametrize("text", [None, b"bytes", 3, ["a list"]])
def test_non_str_text_is_a_type_error(enc, make, text):
    chunker = make(enc, max_tokens=16)
    with pytest.raises(InvalidTypeError, match="text is"):
        chunker.chunk(text)
    assert chunker.chunk("cat sat") != []  # the refused call changed nothing


@pytest.mark.parametrize("make", CHUNKERS)
@pytest.mark.parametrize(
    "text",
    [
        "",
        " \t\n\u3000\x85 ",  # all whitespace, Unicode whitespace included
        "cat\x00sat \x00\x00 on the mat.\x00",  # NUL characters
        "cat \ud800 sat\udfff. The mat \ud83d.",  # lone surrogates
        "x" * 20_000,  # one huge token, no space
        "cat sat. " * 300,
        "a" + " " * 5000 + "b",
        "\n\n\n# heading\n\n\n```\ncode\n```\n\n",
    ],
    ids=["empty", "blank", "nul", "surrogates", "one-token", "repeats", "spaces", "markdown"],
)
def test_awkward_texts_are_covered_within_the_cap(enc, make, text):
    chunks = make(enc, max_tokens=16).chunk(text)
    assert_valid(chunks, text, 16, encoder_count(enc))
    if not text.strip():
        assert chunks == []


def test_callable_tokenizer_returning_garbage_is_named():
    chunker = TokenChunker(tokenizer=lambda s: -1, max_tokens=8)
    with pytest.raises(InvalidTypeError, match="tokenizer callable returned -1"):
        chunker.chunk("cat sat on the mat")


def test_too_small_limit_is_a_sememe_error():
    enc = tiny_encoder(llama_like_tokenizer())
    with pytest.raises(InvalidArgumentError, match="too small"):
        TokenChunker(enc, max_tokens=2).chunk("cat 😀")


def test_metric_errors_are_sememe_errors():
    with pytest.raises(InvalidArgumentError):
        pk([], [1, 2])
    with pytest.raises(SememeError):
        windowdiff([2, 2], [1, 3], k=10)
