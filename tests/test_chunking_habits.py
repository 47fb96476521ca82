"""Chonkie habits on every chunker: calling it, lists of texts, LangChain documents, overlap.

The overlap contract (hypothesis, on random text and both tiny tokenizers): offsets are
exact, the hard cap holds (counted exactly), the chunks without their overlap are the
chunks of ``max_tokens - overlap``, and each extension is a suffix of the text before the
chunk that fits the overlap and starts at or after the previous chunk's start.
"""

from __future__ import annotations

import inspect
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import llama_like_tokenizer, tiny_encoder, word_tokenizer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.documents import Document
from test_chunking import TEXTS, assert_valid, encoder_count

import sememe
from sememe.chunking import (
    Chunk,
    DocumentChunk,
    RecursiveChunker,
    SemanticChunker,
    TokenChunker,
)
from sememe.errors import InvalidArgumentError, InvalidTypeError

CHUNKERS = [SemanticChunker, TokenChunker, RecursiveChunker]
#: overlap= lives in ChunkerBase; SemanticChunker's constructor has yet to pass it on.
_SEMANTIC_OVERLAP = "overlap" in inspect.signature(SemanticChunker.__init__).parameters
OVERLAP_CHUNKERS = [
    TokenChunker,
    RecursiveChunker,
    pytest.param(
        SemanticChunker,
        marks=pytest.mark.skipif(
            not _SEMANTIC_OVERLAP, reason="SemanticChunker(overlap=) not passed on yet"
        ),
    ),
]

_TINY: dict = {}


def _tiny(make_tok):
    if make_tok not in _TINY:
        _TINY[make_tok] = tiny_encoder(make_tok())
    return _TINY[make_tok]


@pytest.fixture(scope="module")
def enc():
    return _tiny(word_tokenizer)


@pytest.fixture(scope="module")
def text():
    from conftest import sentences

    return "\n\n".join(". ".join(sentences(6, seed=s)) + "." for s in range(8))


# ----------------------------------------------------------------------------- calling
@pytest.mark.parametrize("make", CHUNKERS)
def test_calling_a_chunker_is_chunk(enc, text, make):
    chunker = make(enc, max_tokens=24)
    assert chunker(text) == chunker.chunk(text)
    assert chunker([text, "", text[:50]]) == chunker.chunk_batch([text, "", text[:50]])
    assert chunker(t for t in [text]) == [chunker.chunk(text)]
    assert chunker(np.array([text, text[:30]])) == [chunker.chunk(text), chunker.chunk(text[:30])]
    assert chunker("   ") == [] and chunker([]) == []


@pytest.mark.parametrize("make", CHUNKERS)
@pytest.mark.parametrize(
    ("value", "match"),
    [
        (None, "texts is None"),
        (b"x", "decode"),
        (3, "int"),
        ({"a": "b"}, "dict"),
        ({"a", "b"}, "set"),
    ],
)
def test_calling_with_something_else_is_a_clear_error(enc, make, value, match):
    with pytest.raises(InvalidTypeError, match=match):
        make(enc, max_tokens=24)(value)


def test_columns_are_read_as_the_encoder_reads_them(enc):
    pd = pytest.importorskip("pandas")
    chunker = TokenChunker(enc, max_tokens=24)
    series = pd.Series(["cat dog", "the mat"])
    assert chunker(series)[1][0].text == "the mat"
    assert chunker(pd.DataFrame({"text": ["cat dog", "the mat"]})) == chunker(series)
    with pytest.raises(InvalidArgumentError, match="2 columns"):  # never a silent first column
        chunker(pd.DataFrame({"text": ["a b"], "id": [1]}))
    with pytest.raises(InvalidTypeError, match=r"texts\[1\] is NaN"):
        chunker(pd.Series(["cat", None]))


def test_a_bad_item_is_named_by_position(enc):
    with pytest.raises(InvalidTypeError, match=r"texts\[1\] is None"):
        TokenChunker(enc, max_tokens=24)(["fine", None])


def test_recursive_chunker_is_public():
    assert sememe.RecursiveChunker is RecursiveChunker
    assert sememe.DocumentChunk is DocumentChunk


# ----------------------------------------------------------------------------- documents
@pytest.mark.parametrize("make", CHUNKERS)
def test_a_langchain_document_keeps_its_metadata(enc, text, make):
    doc = Document(page_content=text, metadata={"source": "a.txt", "page": 3})
    chunker = make(enc, max_tokens=24)
    chunks = chunker(doc)
    plain = chunker(text)
    assert len(chunks) == len(plain) > 1
    for c, p in zip(chunks, plain, strict=True):
        assert isinstance(c, DocumentChunk) and isinstance(c, Chunk)
        assert (c.text, c.start, c.end, c.n_tokens, c.index) == (
            p.text,
            p.start,
            p.end,
            p.n_tokens,
            p.index,
        )
        assert doc.page_content[c.start : c.end] == c.text
        assert c.metadata == {"source": "a.txt", "page": 3}
    chunks[0].metadata["page"] = 99  # each chunk has its own copy
    assert chunks[1].metadata["page"] == 3 and doc.metadata["page"] == 3
    assert chunks[0].to_dict()["metadata"] == {"source": "a.txt", "page": 99}
    assert "metadata=" in repr(chunks[0]) and repr(chunks[0]).startswith("DocumentChunk(")


def test_documents_in_a_list_and_duck_typed_documents(enc, text):
    class Doc:
        def __init__(self, page_content, metadata=None):
            self.page_content, self.metadata = page_content, metadata

    chunker = TokenChunker(enc, max_tokens=24)
    out = chunker([Doc(text), text, Document(page_content="")])
    assert [c.metadata for c in out[0]] == [{}] * len(out[0])
    assert not isinstance(out[1][0], DocumentChunk)
    assert out[2] == []
    with pytest.raises(InvalidTypeError, match="page_content is None; expected str"):
        chunker(Doc(None))
    with pytest.raises(InvalidTypeError, match="metadata is of type list"):
        chunker(Doc("text", ["not", "a", "mapping"]))


# ----------------------------------------------------------------------------- overlap
@pytest.mark.parametrize("make", OVERLAP_CHUNKERS)
@pytest.mark.parametrize(
    ("overlap", "error", "match"),
    [
        (-1, InvalidArgumentError, "overlap must be >= 0"),
        (24, InvalidArgumentError, r"overlap \(24\) must be less than max_tokens \(24\)"),
        (1.0, InvalidArgumentError, r"overlap must be in \[0.0, 1.0\)"),
        (-0.1, InvalidArgumentError, r"overlap must be in \[0.0, 1.0\)"),
        (math.nan, InvalidArgumentError, "overlap must be a finite number"),
        (True, InvalidTypeError, "overlap must be an int"),
        ("2", InvalidTypeError, "overlap must be an int"),
    ],
)
def test_bad_overlap(enc, make, overlap, error, match):
    with pytest.raises(error, match=match):
        make(enc, max_tokens=24, overlap=overlap)


def test_overlap_that_leaves_no_room_for_special_tokens():
    from tokenizers import processors

    tok = word_tokenizer()  # adds "[UNK] ... [UNK]" to every text, as BERT adds [CLS] [SEP]
    tok.post_processor = processors.TemplateProcessing(
        single="[UNK] $A [UNK]", special_tokens=[("[UNK]", 0)]
    )
    enc = tiny_encoder(tok, add_special_tokens=True)
    assert int(enc.count_tokens("cat")) == 3
    with pytest.raises(InvalidArgumentError, match="overlap=2 leaves no room"):
        TokenChunker(enc, max_tokens=4, overlap=2)("cat dog sat")
    chunks = TokenChunker(enc, max_tokens=5, overlap=2)(" ".join(["cat"] * 9))
    assert [c.n_tokens for c in chunks] == [3] + [4] * 8  # one word of overlap each


def test_fractional_overlap_is_a_share_of_max_tokens(enc, text):
    chunker = TokenChunker(enc, max_tokens=30, overlap=0.25)
    assert chunker.overlap_tokens == 7 and "overlap=0.25" in repr(chunker)
    assert chunker(text) == TokenChunker(enc, max_tokens=30, overlap=7)(text)


def test_overlap_on_words(enc):
    words = [f"w{i}" for i in range(40)]

    def count(s: str) -> int:
        return len(s.split())

    chunks = TokenChunker(max_tokens=10, overlap=3, tokenizer=count)(" ".join(words))
    # Windows of 7 new words, each extended by the last 3 words of the one before.
    assert [c.text.split()[0] for c in chunks] == ["w0", "w4", "w11", "w18", "w25", "w32"]
    assert [c.n_tokens for c in chunks] == [7, 10, 10, 10, 10, 8]


def _check_overlap(chunker, content_chunker, text, count):
    chunks = chunker(text)
    plain = content_chunker(text)
    assert len(chunks) == len(plain)
    special = int(count(""))
    for i, (c, p) in enumerate(zip(chunks, plain, strict=True)):
        assert c.index == i and c.text == text[c.start : c.end] and c.text == c.text.strip()
        assert c.n_tokens == count(c.text) <= chunker.max_tokens
        assert c.end == p.end and c.start <= p.start
        if i == 0:
            assert c.start == p.start
            continue
        assert c.start >= plain[i - 1].start
        extension = text[c.start : p.start].strip()
        if extension:
            assert count(extension) - special <= chunker.overlap_tokens


@pytest.mark.parametrize("make", OVERLAP_CHUNKERS)
@pytest.mark.parametrize("make_tok", [word_tokenizer, llama_like_tokenizer])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, max_tokens=st.integers(6, 48), share=st.floats(0.0, 0.6))
def test_overlap_contract_on_random_text(make, make_tok, text, max_tokens, share):
    enc = _tiny(make_tok)
    overlap = int(share * max_tokens)
    chunker = make(enc, max_tokens=max_tokens, overlap=overlap)
    content = make(enc, max_tokens=max_tokens - overlap)
    try:
        content(text)
    except InvalidArgumentError as exc:  # one character over the room the overlap leaves
        assert "too small for this text" in str(exc)
        with pytest.raises(InvalidArgumentError, match=f"with overlap={overlap} leaves"):
            chunker(text)
        return
    _check_overlap(chunker, content, text, encoder_count(enc))


@pytest.mark.parametrize("make", OVERLAP_CHUNKERS)
def test_overlap_on_real_text(default, make):
    text = Path("examples/data/sample.txt").read_text(encoding="utf-8")[:6000]
    chunker = make(default, max_tokens=64, overlap=16)
    _check_overlap(chunker, make(default, max_tokens=48), text, encoder_count(default))
    chunks = chunker(text)
    # Real prose has spaces everywhere: every chunk after the first really overlaps.
    assert all(b.start < a.end for a, b in itertools.pairwise(chunks))


def test_zero_overlap_changes_nothing(enc, text):
    for make in (TokenChunker, RecursiveChunker):
        chunks = make(enc, max_tokens=20, overlap=0)(text)
        assert_valid(chunks, text, 20, encoder_count(enc))
        assert chunks == make(enc, max_tokens=20)(text)
