"""RecursiveChunker: separators hierarchy, merging of small pieces, exact offsets, hard cap."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from conftest import llama_like_tokenizer, tiny_encoder, word_tokenizer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_chunking import TEXTS, assert_valid, encoder_count

from sememe.chunking import DEFAULT_SEPARATORS, RecursiveChunker
from sememe.errors import InvalidArgumentError, InvalidTypeError

_TINY: dict = {}


def _tiny(make_tok):
    if make_tok not in _TINY:
        _TINY[make_tok] = tiny_encoder(make_tok())
    return _TINY[make_tok]


def words(s: str) -> int:
    """A callable tokenizer: one token per whitespace-separated word."""
    return len(s.split())


def test_a_text_within_the_cap_is_one_chunk():
    chunks = RecursiveChunker(max_tokens=10, tokenizer=words)("  one two three\n\nfour  ")
    assert [(c.text, c.start, c.end, c.n_tokens) for c in chunks] == [
        ("one two three\n\nfour", 2, 21, 4)
    ]
    assert RecursiveChunker(max_tokens=10, tokenizer=words)(" \n ") == []


def test_small_paragraphs_are_merged_up_to_the_cap():
    paragraphs = [f"p{i}a p{i}b p{i}c" for i in range(10)]
    text = "\n\n".join(paragraphs)
    chunks = RecursiveChunker(max_tokens=10, tokenizer=words)(text)
    # Three paragraphs (9 words) per chunk; a fourth would make 12.
    assert [c.text for c in chunks] == ["\n\n".join(paragraphs[i : i + 3]) for i in range(0, 10, 3)]
    assert [c.n_tokens for c in chunks] == [9, 9, 9, 3]


def test_the_coarsest_separator_that_fits_wins():
    para1 = "One two three. Four five six. Seven eight nine."
    para2 = "Ten eleven twelve."
    chunks = RecursiveChunker(max_tokens=6, tokenizer=words)(f"{para1}\n\n{para2}")
    # para1 (9 words) is over the cap: cut into sentences, merged back in twos;
    # para2 fits and stays whole, never merged across the paragraph break.
    assert [c.text for c in chunks] == [
        "One two three. Four five six.",
        "Seven eight nine.",
        "Ten eleven twelve.",
    ]


def test_lines_then_pauses_then_words():
    text = "alpha, beta, gamma, delta, epsilon\nzeta eta"
    chunks = RecursiveChunker(max_tokens=2, tokenizer=words)(text)
    assert [c.text for c in chunks] == ["alpha, beta,", "gamma, delta,", "epsilon", "zeta eta"]
    chunks = RecursiveChunker(max_tokens=1, tokenizer=words)("one two three")
    assert [c.text for c in chunks] == ["one", "two", "three"]


def test_a_word_longer_than_the_cap_is_cut_between_tokens():
    enc = _tiny(llama_like_tokenizer)
    count = encoder_count(enc)
    text = "cat " + "x" * 50 + " dog"
    chunks = RecursiveChunker(enc, max_tokens=8)(text)
    assert_valid(chunks, text, 8, count)
    assert "".join(c.text for c in chunks if "x" in c.text) == "x" * 50
    assert len([c for c in chunks if "x" in c.text]) >= 50 // 8


def test_custom_separators():
    text = "a b|c d|e f;g h"
    chunker = RecursiveChunker(max_tokens=4, tokenizer=words, separators=["|"])
    assert [c.text for c in chunker(text)] == ["a b|c d|", "e f;g h"]
    chunker = RecursiveChunker(max_tokens=2, tokenizer=words, separators=[["|", ";"]])
    assert [c.text for c in chunker(text)] == ["a b|", "c d|", "e f;", "g h"]
    chunker = RecursiveChunker(max_tokens=2, tokenizer=words, separators=[re.compile(r"[|;]")])
    assert [c.text for c in chunker(text)] == ["a b|", "c d|", "e f;", "g h"]
    # No separator level at all: straight to token boundaries.
    chunker = RecursiveChunker(max_tokens=3, tokenizer=words, separators=[])
    assert [c.n_tokens for c in chunker("a b c d e f g")] == [3, 3, 1]
    assert "separators=['|']" in repr(RecursiveChunker(separators=["|"], tokenizer=words))


def test_longest_alternative_first():
    chunker = RecursiveChunker(max_tokens=1, tokenizer=len, separators=[["\n", "\r\n"]])
    assert chunker.levels[0].pattern == re.escape("\r\n") + "|" + re.escape("\n")


@pytest.mark.parametrize(
    ("separators", "error", "match"),
    [
        ("\n\n", InvalidTypeError, "separators must be a list of levels"),
        (3, InvalidTypeError, "separators must be a list of levels"),
        ([""], InvalidArgumentError, r"separators\[0\] contains an empty string"),
        ([["a", ""]], InvalidArgumentError, r"separators\[0\] contains an empty string"),
        ([[]], InvalidArgumentError, r"separators\[0\] is an empty list"),
        (["a", 3], InvalidTypeError, r"separators\[1\] is of type int"),
        ([["a", None]], InvalidTypeError, r"separators\[0\]\[1\] is of type NoneType"),
        ([re.compile(b"x")], InvalidTypeError, "bytes pattern"),
    ],
)
def test_bad_separators(separators, error, match):
    with pytest.raises(error, match=match):
        RecursiveChunker(separators=separators, tokenizer=words)


def test_defaults():
    chunker = RecursiveChunker(tokenizer=words)
    assert chunker.levels == DEFAULT_SEPARATORS and chunker.max_tokens == 512
    assert repr(chunker) == "RecursiveChunker(max_tokens=512)"


@pytest.mark.parametrize("make_tok", [word_tokenizer, llama_like_tokenizer])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, max_tokens=st.integers(5, 48))
def test_contract_on_random_text(make_tok, text, max_tokens):
    enc = _tiny(make_tok)
    chunks = RecursiveChunker(enc, max_tokens=max_tokens)(text)
    assert_valid(chunks, text, max_tokens, encoder_count(enc))


SEPARATOR_SETS = st.lists(
    st.one_of(
        st.sampled_from(["\n\n", "\n", ". ", ",", " ", "a", "é", "😀"]),
        st.lists(st.sampled_from(["\n", ";", "the", "x"]), min_size=1, max_size=3),
    ),
    max_size=4,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, max_tokens=st.integers(1, 30), separators=SEPARATOR_SETS)
def test_contract_with_any_separators(text, max_tokens, separators):
    chunks = RecursiveChunker(max_tokens=max_tokens, tokenizer=len, separators=separators)(text)
    assert_valid(chunks, text, max_tokens, len)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    paragraphs=st.lists(
        st.lists(st.sampled_from(["cat", "dog", "sat", "mat"]), min_size=1, max_size=6).map(
            " ".join
        ),
        min_size=1,
        max_size=12,
    ),
    max_tokens=st.integers(6, 20),
)
def test_paragraphs_that_fit_are_never_cut(paragraphs, max_tokens):
    text = "\n\n".join(paragraphs)
    chunks = RecursiveChunker(max_tokens=max_tokens, tokenizer=words)(text)
    assert_valid(chunks, text, max_tokens, words)
    ends = {c.end for c in chunks}
    paragraph_ends = set()  # every paragraph fits: each chunk ends where a paragraph ends
    pos = 0
    for p in paragraphs:
        pos = text.index(p, pos)
        paragraph_ends.add(pos + len(p))
        pos += len(p)
    assert ends <= paragraph_ends
    # Merged greedily: no two neighbouring chunks would fit together.
    for a, b in itertools.pairwise(chunks):
        assert words(text[a.start : b.end]) > max_tokens


def test_real_text_with_the_bundled_model(default):
    text = Path("examples/data/chunking_sample.md").read_text(encoding="utf-8")
    for max_tokens in (16, 64, 256):
        chunks = RecursiveChunker(default, max_tokens=max_tokens)(text)
        assert_valid(chunks, text, max_tokens, encoder_count(default))
        # Cuts fall at separators: after each chunk comes whitespace or the end.
        assert all(c.end == len(text) or text[c.end].isspace() for c in chunks)
