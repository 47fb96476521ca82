"""The RAG path of sememe.index (issue 15): Index.from_documents / add_documents /
remove_documents: chunks with exact offsets, ids "<document>#<n>", metadata, errors."""

from __future__ import annotations

import itertools
import re

import pytest
from conftest import WORDS, tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe.chunking import SemanticChunker
from sememe.chunking.types import Chunk
from sememe.errors import InvalidArgumentError, InvalidTypeError
from sememe.index import Index, UnknownIdError

DOCUMENTS = [
    "The cat sat on the mat. A dog ran in the park. The stock market fell sharply today.",
    "Bank loan interest rate. Money in the bank.\n\nRiver water, fish swim in the river.",
    "   ",
    "The quick brown fox jumps over the lazy dog.",
]


pytestmark = pytest.mark.usefixtures("memory_tempdir")


@pytest.fixture(scope="module")
def enc() -> sememe.Encoder:
    return tiny_encoder(dim=32)


@pytest.fixture(scope="module")
def chunker(enc) -> SemanticChunker:
    return SemanticChunker(enc, max_tokens=8)


def build(enc, chunker, documents=DOCUMENTS, **options) -> Index:
    return Index.from_documents(documents, chunker=chunker, encoder=enc, **options)


def snapshot(index):
    return index.ids, index.texts, [index.get(i).metadata for i in index.ids], len(index._lexical)


def test_offsets_ids_and_metadata(enc, chunker):
    meta = [{"source": "a"}, {"source": "b", "n": 2}, None, None]
    index = build(enc, chunker, ids=["a", "b", "c", 7], metadata=meta)
    assert index.lexical  # hybrid by default
    docs = dict(zip(["a", "b", "c", 7], DOCUMENTS, strict=True))
    counts: dict[object, int] = {}
    for chunk_id, text in zip(index.ids, index.texts, strict=True):
        m = index.get(chunk_id).metadata
        doc = m["document"]
        assert chunk_id == f"{doc}#{counts.get(doc, 0)}"
        counts[doc] = counts.get(doc, 0) + 1
        assert docs[doc][m["start"] : m["end"]] == text
        want = {"a": {"source": "a"}, "b": {"source": "b", "n": 2}}.get(doc, {})
        assert {k: v for k, v in m.items() if k not in ("document", "start", "end")} == want
    assert counts["a"] >= 2 and "c" not in counts  # a blank document gives no chunk
    assert isinstance(index.get("7#0").metadata["document"], int)
    for q in ["dog park", "interest rate", "fox"]:
        for mode in ("hybrid", "dense", "lexical"):
            for h in index.search(q, k=20, mode=mode):
                m = h.metadata
                assert docs[m["document"]][m["start"] : m["end"]] == h.text


def test_ids_default_to_the_next_unused_integers(enc, chunker):
    index = build(enc, chunker, DOCUMENTS[:2])
    assert {index.get(i).metadata["document"] for i in index.ids} == {0, 1}
    assert index.ids[0] == "0#0"
    index.add_documents(["A dog ran in the park.", "Fish swim."], chunker=chunker)
    assert {index.get(i).metadata["document"] for i in index.ids} == {0, 1, 2, 3}
    index.add_documents(["The cat sat."], ids=[5], chunker=chunker)
    index.add_documents(["Money in the bank.", "The fox."], chunker=chunker)
    assert {index.get(i).metadata["document"] for i in index.ids} == {0, 1, 2, 3, 4, 5, 6}


@pytest.mark.parametrize("key", ["document", "start", "end"])
def test_reserved_metadata_keys_raise(enc, chunker, key):
    index = build(enc, chunker, DOCUMENTS[:1], ids=["x"])
    before = snapshot(index)
    with pytest.raises(InvalidArgumentError, match=key):
        index.add_documents(["A dog ran."], metadata=[{key: 1}], chunker=chunker)
    with pytest.raises(InvalidArgumentError):
        Index.from_documents(["A dog."], metadata=[{key: "y"}], chunker=chunker, encoder=enc)
    assert snapshot(index) == before


def test_bad_document_ids_raise_and_change_nothing(enc, chunker):
    index = build(enc, chunker, DOCUMENTS[:2], ids=["a", "b"])
    before = snapshot(index)
    bad = [
        (["x", "x"], InvalidArgumentError, "repeated"),
        (["a", "z"], InvalidArgumentError, "already indexed"),
        (["z"], InvalidArgumentError, "ids for"),  # wrong length
        ([None, "z"], InvalidTypeError, None),
        ([1.5, "z"], InvalidTypeError, None),
        ("xy", InvalidTypeError, None),
    ]
    for ids, error, match in bad:
        with pytest.raises(error, match=match):
            index.add_documents(["A dog ran.", "The cat sat."], ids=ids, chunker=chunker)
        assert snapshot(index) == before, ids


def test_bad_input_is_refused_before_anything_is_chunked(enc):
    class Spy:
        calls = 0

        def chunk_batch(self, texts):
            Spy.calls += 1
            return [[] for _ in texts]

    index = Index(enc, lexical=True)
    for kwargs in (
        {"ids": ["a", "a"]},
        {"metadata": [{"start": 0}, None]},
        {"metadata": [{"x": object()}, None]},
    ):
        with pytest.raises((TypeError, ValueError)):
            index.add_documents(["a cat", "a dog"], chunker=Spy(), **kwargs)
    assert Spy.calls == 0 and len(index) == 0
    with pytest.raises(InvalidTypeError, match="chunk_batch"):
        index.add_documents(["a cat"], chunker=object())
    with pytest.raises(InvalidTypeError):
        index.add_documents(b"a cat")
    with pytest.raises(InvalidTypeError):
        index.add_documents(["a cat", None])


def test_chunker_and_max_tokens_together_raise(enc, chunker):
    with pytest.raises(InvalidArgumentError, match="not both"):
        Index.from_documents(DOCUMENTS, chunker=chunker, max_tokens=8, encoder=enc)
    index = Index.from_documents(DOCUMENTS, max_tokens=8, encoder=enc)  # the default chunker
    assert len(index) > 3 and all(
        index.get(i).metadata["end"] - index.get(i).metadata["start"] == len(t)
        for i, t in zip(index.ids, index.texts, strict=True)
    )


def test_a_chunker_with_wrong_offsets_raises_and_adds_nothing(enc):
    class Off:
        def chunk_batch(self, texts):
            return [[Chunk(t[:3], 1, 4, 1, 0)] if t.strip() else [] for t in texts]

    index = Index(enc, lexical=True)
    with pytest.raises(InvalidArgumentError, match="offsets must be exact"):
        index.add_documents(["The cat sat."], chunker=Off())
    assert len(index) == 0 and len(index._lexical) == 0

    class Fine:
        def chunk_batch(self, texts):
            return [[Chunk(t[4:7], 4, 7, 1, 0)] for t in texts]

    index.add_documents(["The cat sat."], chunker=Fine())
    assert index.texts == ("cat",) and index.get("0#0").metadata == {
        "document": 0,
        "start": 4,
        "end": 7,
    }


def test_blank_documents_give_no_chunk(enc, chunker):
    index = build(enc, chunker, ["", "  \n\t ", "A dog."])
    assert index.ids == ("2#0",)
    assert build(enc, chunker, ["", " "]).ids == ()


def test_where_document_restricts_to_that_document(enc, chunker):
    index = build(enc, chunker, ids=["a", "b", "c", "d"])
    for doc in ["a", "b", "d"]:
        for mode in ("hybrid", "dense", "lexical"):
            hits = index.search("the dog in the park", k=20, mode=mode, where={"document": doc})
            assert all(h.metadata["document"] == doc for h in hits), mode
            assert all(h.id.startswith(f"{doc}#") for h in hits)
    hits = index.search("dog", k=20, mode="dense", where={"document": ["a", "d"]})
    assert {h.metadata["document"] for h in hits} == {"a", "d"}


def test_remove_documents(enc, chunker):
    index = build(enc, chunker, ids=["a", "b", "c", "d"])
    n_a = sum(1 for i in index.ids if i.startswith("a#"))
    assert n_a >= 2
    before = snapshot(index)
    with pytest.raises(UnknownIdError):
        index.remove_documents(["a", "nope"])
    with pytest.raises(UnknownIdError):
        index.remove_documents("c")  # blank: it has no chunk
    assert snapshot(index) == before
    index.remove_documents("a")
    assert not any(i.startswith("a#") for i in index.ids)
    assert len(index) == len(before[0]) - n_a and len(index._lexical) == len(index)
    for mode in ("hybrid", "dense", "lexical"):
        hits = index.search("cat sat on the mat dog park", k=50, mode=mode)
        assert all(h.metadata["document"] != "a" for h in hits)
    index.remove_documents(["b", "d"])
    assert len(index) == 0
    with pytest.raises(UnknownIdError):
        index.remove_documents("a")
    # the ids are free again
    index.add_documents([DOCUMENTS[0]], ids=["a"], chunker=chunker)
    assert index.ids[0] == "a#0"


def test_remove_documents_leaves_plain_rows_alone(enc, chunker):
    index = build(enc, chunker, DOCUMENTS[:1], ids=["a"])
    index.add(["plain text row"], ids=["p"], metadata=[{"kind": "plain"}])
    index.remove_documents("a")
    assert index.ids == ("p",)
    with pytest.raises(UnknownIdError):
        index.remove_documents("p")  # a plain row is not a document
    with pytest.raises(InvalidTypeError):
        index.remove_documents(None)


def test_document_ids_of_different_types_do_not_clash(enc, chunker):
    """1 and "1" are different (unique) document ids, as they are different index ids:
    either both documents are indexed with distinct chunks, or the refusal names the
    documents the caller gave, not a chunk id ('1#0') the caller never saw."""
    try:
        index = build(enc, chunker, ["The cat sat.", "A dog ran."], ids=[1, "1"])
    except InvalidArgumentError as exc:
        assert "1#0" not in str(exc), str(exc)
    else:
        docs = [index.get(i).metadata["document"] for i in index.ids]
        assert sorted(map(repr, docs)) == ["'1'", "1"]


def test_save_load_keeps_documents(enc, chunker, tmp_path):
    index = build(enc, chunker, ids=["a", "b", "c", "d"])
    loaded = Index.load(index.save(tmp_path / "ix"), enc)
    assert loaded.search("dog", k=5) == index.search("dog", k=5)
    with pytest.raises(InvalidArgumentError, match="already indexed"):
        loaded.add_documents(["A dog."], ids=["a"], chunker=chunker)
    loaded.remove_documents("b")
    assert not any(i.startswith("b#") for i in loaded.ids)


_WORD = st.sampled_from([*WORDS, "Zebra", "naïve", "日本語", "42"])
_SEP = st.sampled_from([" ", "  ", ". ", ".\n", "\n\n", ", ", "\t", "! "])


@st.composite
def documents(draw):
    parts = draw(st.lists(st.tuples(_WORD, _SEP), max_size=30))
    lead = draw(st.sampled_from(["", " ", "\n"]))
    return lead + "".join(w + s for w, s in parts)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(docs=st.lists(documents(), min_size=1, max_size=4), max_tokens=st.integers(3, 12))
def test_chunks_cover_each_documents_text(enc, docs, max_tokens):
    chunker = SemanticChunker(enc, max_tokens=max_tokens)
    index = Index.from_documents(docs, chunker=chunker, encoder=enc, lexical=False)
    by_doc: dict[int, list[tuple[int, int, str]]] = {}
    for chunk_id, text in zip(index.ids, index.texts, strict=True):
        m = index.get(chunk_id).metadata
        assert docs[m["document"]][m["start"] : m["end"]] == text
        assert chunk_id == f"{m['document']}#{len(by_doc.get(m['document'], []))}"
        by_doc.setdefault(m["document"], []).append((m["start"], m["end"], text))
    for n, doc in enumerate(docs):
        spans = by_doc.get(n, [])
        if not doc.strip():
            assert not spans
            continue
        # in order, not overlapping, together holding every non-space character
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
        assert re.sub(r"\s", "", "".join(t for _, _, t in spans)) == re.sub(r"\s", "", doc)
