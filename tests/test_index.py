"""Tests for sememe.index: exact and approximate search, ids, filters, persistence, threads, CLI."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, SMALL_DOCS, WORDS, apply_steps, sentences, tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe.cli.main import main
from sememe.index import Hit, Index, IndexFormatError, UnknownIdError
from sememe.index._engine import Engine

KINDS = ["float", "binary", "binary+rerank"]

DOCS = SMALL_DOCS


@pytest.fixture(scope="module")
def enc() -> sememe.Encoder:
    return tiny_encoder(dim=32)


REAL_TEXT = SHARED / "bench" / "corpus_100k.txt.gz"


def real_text() -> tuple[list[str], list[str]]:
    """20,000 distinct bench lines as documents and the next 200 as queries."""
    with gzip.open(REAL_TEXT, "rt", encoding="utf-8") as f:
        lines = list(dict.fromkeys(line.strip() for line, _ in zip(f, range(21_000), strict=False)))
    return lines[:20_000], lines[20_000:20_200]


def brute_force(index: Index, query: str, k: int) -> list[tuple[object, float]]:
    """Reference ranking computed with numpy from the encoder alone."""
    enc = index.encoder
    if index.kind == "binary":
        docs = enc.encode_binary(list(index.texts))
        q = enc.encode_binary([query])
        ham = np.unpackbits(docs ^ q, axis=1).sum(1)
        scores = np.cos(np.pi * ham / index.dim)
    else:
        scores = enc.encode(list(index.texts)) @ enc.encode(query)
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    return [(index.ids[i], float(scores[i])) for i in order]


# ----------------------------------------------------------------------------- basic use


@pytest.mark.parametrize("kind", KINDS)
def test_search_finds_the_matching_document(enc, kind):
    index = Index.from_texts(DOCS, ids=[f"d{i}" for i in range(len(DOCS))], encoder=enc, kind=kind)
    hits = index.search("the cat sat on the mat", k=3)
    assert [type(h) for h in hits] == [Hit] * 3
    assert hits[0].id == "d0" and hits[0].text == DOCS[0]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize("kind", KINDS)
def test_exact_search_equals_brute_force(enc, kind):
    texts = sentences(300)
    index = Index.from_texts(texts, encoder=enc, kind=kind, candidates=300)
    for query in ["cat dog park", "bank money loan rate", "fox"]:
        got = [(h.id, h.score) for h in index.search(query, k=7)]
        want = brute_force(index, query, 7)
        assert [g[1] for g in got] == pytest.approx([w[1] for w in want], abs=1e-5)
        # same ids except where scores tie
        for (gid, gs), (wid, ws) in zip(got, want, strict=True):
            assert gid == wid or abs(gs - ws) < 1e-6


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(0, 40),
    k=st.integers(1, 60),
    kind=st.sampled_from(KINDS),
    queries=st.lists(
        st.lists(st.sampled_from([*WORDS, "", "x", "☃"]), max_size=6).map(" ".join), max_size=4
    ),
)
def test_result_invariants(enc, n, k, kind, queries):
    """At most min(k, n) hits per query, unique ids from the index, best first."""
    texts = sentences(n, seed=n)
    index = Index.from_texts(texts, encoder=enc, kind=kind)
    results = index.search(queries, k=k)
    assert len(results) == len(queries)
    for hits in results:
        assert len(hits) == min(k, n)
        ids = [h.id for h in hits]
        assert len(set(ids)) == len(ids) and set(ids) <= set(index.ids)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert all(-1.0 - 1e-5 <= s <= 1.0 + 1e-5 for s in scores)
        assert all(h.text == texts[h.id] for h in hits)  # auto ids are positions here


def test_single_query_and_list_of_queries(enc):
    index = Index.from_texts(DOCS, encoder=enc)
    one = index.search("dog park", k=2)
    many = index.search(["dog park", "fish river"], k=2)
    assert many[0] == one and len(many) == 2
    assert index.search([], k=2) == []
    assert index.search(np.array(["dog park"]), k=2) == [one]


def test_empty_index_and_k_larger_than_index(enc):
    index = Index(enc)
    assert len(index) == 0
    assert index.search("anything") == []
    assert index.search(["a", "b"]) == [[], []]
    index.add(DOCS[:3])
    assert len(index.search("cat", k=100)) == 3


@pytest.mark.parametrize(
    ("query", "k", "error", "match"),
    [
        ("cat", 0, ValueError, "k must be >= 1, got 0"),
        ("cat", -3, ValueError, "k must be >= 1"),
        ("cat", 2.5, TypeError, "k must be an int"),
        ("cat", True, TypeError, "k must be an int"),
        (None, 3, TypeError, "query is None"),
        (42, 3, TypeError, "query is int"),
        (b"cat", 3, TypeError, "query is bytes"),
        (["cat", None], 3, TypeError, r"queries\[1\] is None; expected str"),
    ],
)
def test_bad_search_arguments(enc, query, k, error, match):
    index = Index.from_texts(DOCS, encoder=enc)
    with pytest.raises(error, match=match):
        index.search(query, k=k)


def test_hit_is_plain_and_serialisable(enc):
    index = Index.from_texts(DOCS[:2], ids=["a", 7], metadata=[{"x": [1, 2]}, None], encoder=enc)
    hits = index.search("cat", k=2)
    row = json.loads(json.dumps([h.to_dict() for h in hits]))
    assert {r["id"] for r in row} == {"a", 7}
    assert "Hit(id=" in repr(hits[0])
    assert index.get("a") == Hit("a", 1.0, DOCS[0], {"x": [1, 2]})


# ----------------------------------------------------------------------------- ids, add, remove


def test_ids_auto_and_user(enc):
    index = Index.from_texts(DOCS[:3], encoder=enc)
    assert index.ids == (0, 1, 2)
    index.add(DOCS[3:5], ids=["x", 3])  # 3 is taken by the user: auto ids skip it
    index.add(DOCS[5:6])
    assert index.ids == (0, 1, 2, "x", 3, 4)
    assert "x" in index and 3 in index and "nope" not in index and [1] not in index
    assert index.texts[3] == DOCS[3]


def test_numpy_integer_ids_become_int(enc):
    index = Index.from_texts(DOCS[:2], ids=np.array([10, 11]), encoder=enc)
    assert index.ids == (10, 11) and all(type(i) is int for i in index.ids)


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        (["a", "b", "a"], ValueError, r"ids\[2\] repeats ids\[0\] \('a'\)"),
        (["a", "b"], ValueError, "ids has 2 entries for 3 texts"),
        (["a", None, "c"], TypeError, r"ids\[1\] is None"),
        (["a", 1.5, "c"], TypeError, r"ids\[1\] is of type float"),
        (["a", True, "c"], TypeError, r"ids\[1\] is a bool"),
        ("abc", TypeError, "ids must be a list"),
    ],
)
def test_bad_ids_change_nothing(enc, ids, error, match):
    index = Index.from_texts(DOCS[:2], ids=["p", "q"], encoder=enc)
    with pytest.raises(error, match=match):
        index.add(DOCS[2:5], ids=ids)
    assert index.ids == ("p", "q")


def test_known_id_on_add_changes_nothing(enc):
    index = Index.from_texts(DOCS[:2], ids=["p", "q"], encoder=enc)
    with pytest.raises(ValueError, match=r"ids\[1\] = 'p' is already in the index"):
        index.add(DOCS[2:4], ids=["r", "p"])
    assert index.ids == ("p", "q") and len(index.search("cat", k=10)) == 2


def test_bad_texts_and_metadata_change_nothing(enc):
    index = Index.from_texts(DOCS[:2], encoder=enc)
    with pytest.raises(TypeError, match=r"texts\[1\] is None; expected str"):
        index.add(["ok", None])
    with pytest.raises(ValueError, match=r"metadata\[0\] is not JSON-serialisable"):
        index.add(["ok"], metadata=[{"f": object()}])
    with pytest.raises(ValueError, match=r"metadata\[0\] is not JSON-serialisable"):
        index.add(["ok"], metadata=[{"f": float("nan")}])
    with pytest.raises(TypeError, match=r"metadata\[0\] is str"):
        index.add(["ok"], metadata=["oops"])
    with pytest.raises(ValueError, match="metadata has 1 entries for 2 texts"):
        index.add(["a", "b"], metadata=[{}])
    assert len(index) == 2


def test_metadata_is_copied(enc):
    meta = {"tags": ["a"]}
    index = Index.from_texts(["cat"], metadata=[meta], encoder=enc)
    meta["tags"].append("b")
    assert index.get(0).metadata == {"tags": ["a"]}


@pytest.mark.parametrize("kind", KINDS)
def test_remove(enc, kind):
    index = Index.from_texts(DOCS, ids=list("abcdefghij"), encoder=enc, kind=kind)
    index.remove(["a", "i"])
    index.remove("c")
    assert len(index) == 7 and index.ids == tuple("bdefghj")
    found = {h.id for h in index.search("the cat sat on the mat", k=10)}
    assert found == set("bdefghj")
    with pytest.raises(UnknownIdError, match="id 'zz' is not in the index"):
        index.remove(["b", "zz"])
    assert len(index) == 7  # nothing removed
    with pytest.raises(KeyError):
        index.get("a")
    index.add(["the cat sat on the mat"], ids=["a"])  # an id can come back
    assert index.search("the cat sat on the mat", k=1)[0].id == "a"


def test_unknown_id_error_reads_well(enc):
    index = Index(enc)
    with pytest.raises(UnknownIdError) as info:
        index.remove([5])
    assert str(info.value) == "id 5 is not in the index"


# ----------------------------------------------------------------------------- filters


@pytest.mark.parametrize("kind", KINDS)
def test_metadata_filter(enc, kind):
    meta = [{"topic": "animals" if i in (0, 1, 4, 5, 7, 8) else "money", "n": i} for i in range(10)]
    index = Index.from_texts(DOCS, metadata=meta, encoder=enc, kind=kind)
    hits = index.search("dog", k=10, where={"topic": "money"})
    assert {h.id for h in hits} == {2, 3, 6, 9}
    hits = index.search("dog", k=2, where={"n": [0, 9]})
    assert {h.id for h in hits} == {0, 9}
    hits = index.search("dog", k=10, where=lambda m: m["n"] % 2 == 0)
    assert {h.id for h in hits} == {0, 2, 4, 6, 8}
    assert index.search("dog", where={"missing": 1}) == []
    with pytest.raises(TypeError, match="where must be a dict or a function"):
        index.search("dog", where="topic=money")


# ----------------------------------------------------------------------------- search_vectors


@pytest.mark.parametrize("kind", KINDS)
def test_search_vectors_matches_search(enc, kind):
    index = Index.from_texts(sentences(200), encoder=enc, kind=kind)
    queries = ["cat dog", "bank rate money"]
    by_text = index.search(queries, k=5)
    by_vector = index.search_vectors(enc.encode(queries), k=5)
    assert by_vector == by_text
    assert index.search_vectors(enc.encode("cat dog"), k=5) == [by_text[0]]
    with pytest.raises(ValueError, match=r"vectors must have shape \(n, 32\)"):
        index.search_vectors(np.zeros((2, 8)), k=5)
    with pytest.raises(ValueError, match="NaN"):
        index.search_vectors(np.full((1, 32), np.nan), k=5)


@pytest.mark.parametrize("kind", KINDS)
def test_add_with_precomputed_vectors(enc, kind):
    texts = sentences(100)
    encoded = Index.from_texts(texts, encoder=enc, kind=kind)
    given_vectors = Index.from_texts(texts, encoder=enc, kind=kind, vectors=enc.encode(texts))
    queries = sentences(5, seed=1)
    assert given_vectors.search(queries, k=5) == encoded.search(queries, k=5)
    with pytest.raises(ValueError, match="vectors has 3 rows for 2 texts"):
        given_vectors.add(["a", "b"], vectors=np.ones((3, 32)))
    with pytest.raises(ValueError, match=r"vectors must have shape \(n, 32\)"):
        given_vectors.add(["a"], vectors=np.ones((1, 16)))
    assert len(given_vectors) == 100


def test_kind_and_factory_are_read_only(enc):
    index = Index(enc, kind="binary")
    assert (index.kind, index.factory, index.structure) == ("binary", "BHNSW32", "exact")
    with pytest.raises(AttributeError):
        index.kind = "float"  # type: ignore[misc]


def test_get_vectors(enc):
    texts = DOCS[:4]
    for kind in KINDS:
        index = Index.from_texts(texts, ids=list("abcd"), encoder=enc, kind=kind)
        np.testing.assert_allclose(
            index.get_vectors(["c", "a"]), enc.encode([texts[2], texts[0]]), atol=1e-6
        )


def test_binary_codes_come_from_the_encoder(default):
    """binary+rerank derives codes from the float vectors; they equal encode_binary."""
    texts = ["The cat sat on the mat.", "", "stock market fell", "naïve café ☃", "a " * 50]
    index = Index.from_texts(texts, encoder=default, kind="binary+rerank")
    np.testing.assert_array_equal(index._engine.codes.view(), default.encode_binary(texts))
    binary = Index.from_texts(texts, encoder=default, kind="binary")
    np.testing.assert_array_equal(binary._engine.codes.view(), default.encode_binary(texts))


# ----------------------------------------------------------------------------- approximate structures


@pytest.mark.parametrize(
    ("kind", "factory"),
    [
        ("float", "HNSW16"),
        ("float", "HNSW16,SQ8"),
        ("float", "IVF8,Flat"),
        ("binary", "BHNSW16"),
        ("binary", "BIVF8"),
        ("binary+rerank", "BHNSW16"),
        ("binary+rerank", "BIVF8"),
    ],
)
def test_approximate_structure(enc, kind, factory):
    texts = sentences(600)
    index = Index.from_texts(
        texts[:400],
        encoder=enc,
        kind=kind,
        factory=factory,
        exact_limit=100,
        nprobe=8,
        ef_search=64,
    )
    assert index.structure == factory
    index.add(texts[400:])  # inserted into the built structure
    exact = Index.from_texts(
        texts, encoder=enc, kind=kind, factory="BFlat" if kind != "float" else "Flat"
    )
    assert exact.structure == "exact"
    queries = sentences(20, seed=99)
    got, want = index.search(queries, k=5), exact.search(queries, k=5)
    recall = np.mean(
        [len({h.id for h in g} & {h.id for h in w}) / 5 for g, w in zip(got, want, strict=True)]
    )
    assert recall >= 0.9
    # scores are exact cosines (or exact Hamming estimates), whatever the structure stores
    for query, hits in zip(queries, got, strict=True):
        want_scores = dict(brute_force(exact, query, len(exact)))
        assert [h.score for h in hits] == pytest.approx([want_scores[h.id] for h in hits], abs=1e-5)
    # removal: removed documents never come back, with or without a filter
    gone = [h.id for h in got[0]]
    index.remove(gone)
    assert not {h.id for h in index.search(queries[0], k=50)} & set(gone)
    assert not {h.id for h in index.search(queries[0], k=50, where=lambda m: True)} & set(gone)
    assert len(index.search(queries[0], k=1000, ef_search=1000, nprobe=8)) > 0


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.tuples(st.booleans(), st.integers(1, 40), st.integers(0, 2**16)), max_size=8),
    factory=st.sampled_from(["Flat", "HNSW8", "IVF4,Flat"]),
)
def test_add_remove_sequences_keep_ids_texts_and_results_consistent(enc, steps, factory):
    """After any sequence of adds and removes: ids match a plain model, hits come from it."""
    index = Index(enc, factory=factory, exact_limit=30, nprobe=4)
    model = apply_steps(index, steps)
    assert list(index.ids) == list(model) and list(index.texts) == list(model.values())
    for hits in index.search(["cat dog", "bank rate"], k=5, ef_search=64):
        assert len(hits) <= min(5, len(model))
        assert all(model[h.id] == h.text for h in hits)
    if index.structure == "exact":  # exactly min(k, n) hits
        assert len(index.search("cat", k=5)) == min(5, len(model))


def test_hnsw_rebuilds_after_many_removals(enc):
    texts = sentences(300)
    index = Index.from_texts(texts, encoder=enc, factory="HNSW16", exact_limit=50)
    index.remove(list(range(0, 120)))
    assert index._engine.structure.ntotal == 180  # rebuilt: more than 30% were removed
    assert index._engine.dead is not None and not index._engine.dead.any()
    assert {h.id for h in index.search("cat", k=200, ef_search=400)} <= set(range(120, 300))


def test_structure_that_cannot_train_changes_nothing(enc):
    index = Index(enc, factory="IVF64,Flat", exact_limit=10)
    with pytest.raises(ValueError, match="needs at least 64 documents to train"):
        index.add(sentences(20))
    assert len(index) == 0 and index.structure == "exact"
    index.add(sentences(5))
    assert len(index) == 5


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"kind": "dense"}, "kind must be one of"),
        ({"factory": "PQ16"}, "factory 'PQ16' is not supported"),
        ({"factory": "BHNSW32"}, "does not fit kind='float'"),
        ({"kind": "binary", "factory": "HNSW32"}, "does not fit kind='binary'"),
        ({"exact_limit": 0}, "exact_limit must be >= 1"),
        ({"candidates": -1}, "candidates must be >= 1"),
        ({"scan_dims": 16}, "scan_dims applies to kind='binary\\+rerank' only"),
        ({"kind": "binary", "scan_dims": 16}, "scan_dims applies"),
        ({"kind": "binary+rerank", "scan_dims": 12}, "multiple of 8 between 8 and dim=32"),
        ({"kind": "binary+rerank", "scan_dims": 64}, "multiple of 8 between 8 and dim=32"),
        ({"kind": "binary+rerank", "scan_dims": 0}, "scan_dims must be >= 1"),
    ],
)
def test_bad_options(enc, options, match):
    with pytest.raises(ValueError, match=match):
        Index(enc, **options)


# ----------------------------------------------------------------------------- binary+rerank first stage


def test_scan_dims_default_follows_the_model(enc, default):
    assert Index(enc, kind="binary+rerank").scan_dims == 32  # no Matryoshka prefixes declared
    assert Index(default, kind="binary+rerank").scan_dims == 128  # declares 64, 128, 256
    assert Index(default).scan_dims is None
    matryoshka = tiny_encoder(dim=32, matryoshka_dims=(8, 16, 32))
    assert Index(matryoshka, kind="binary+rerank").scan_dims == 32  # no prefix >= 128


@pytest.mark.parametrize("scan_dims", [8, 16, 32])
def test_first_stage_scores_query_against_sign_bits(enc, scan_dims):
    """The candidates are the documents with the best ``query . sign(document)`` prefix."""
    texts = sentences(400)
    index = Index.from_texts(texts, encoder=enc, kind="binary+rerank", scan_dims=scan_dims)
    docs = enc.encode(texts)[:, :scan_dims]
    for query in ["cat dog park", "bank money loan rate"]:
        q = enc.encode(query)
        cand = index._engine.exact_search(q[None], None, 40, None)[0]
        scores = np.sign(docs) @ q[:scan_dims]
        # FAISS quantises the query's lookup tables to 8 bits: compare with a tolerance
        assert scores[cand].min() >= np.sort(scores)[-40] - 0.02 * np.abs(scores).max()


def test_candidates_covering_the_index_give_exact_results(enc):
    texts = sentences(200)
    index = Index.from_texts(texts, encoder=enc, kind="binary+rerank", scan_dims=8)
    exact = Index.from_texts(texts, encoder=enc)
    for query in ["cat dog park", "fox"]:
        got = index.search(query, k=10, candidates=200)
        assert got == exact.search(query, k=10)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.tuples(st.booleans(), st.integers(1, 40), st.integers(0, 2**16)), max_size=8)
)
def test_first_stage_follows_adds_and_removes(enc, steps):
    """After any adds and removes, results equal those of an index built from what is left."""
    index = Index(enc, kind="binary+rerank", candidates=10, scan_dims=16)
    model = apply_steps(index, steps)
    assert index._engine.scan.ntotal == len(model)
    fresh = Index.from_texts(
        list(model.values()),
        ids=list(model),
        encoder=enc,
        kind="binary+rerank",
        candidates=10,
        scan_dims=16,
    )
    queries = ["cat dog", "bank rate", "fish river water"]
    assert index.search(queries, k=5) == fresh.search(queries, k=5)


def test_failed_add_leaves_the_first_stage_as_it_was(enc, monkeypatch):
    index = Index.from_texts(sentences(50), encoder=enc, kind="binary+rerank", candidates=10)
    before = index.search("cat dog", k=5)
    extend = Engine.extend_scan
    calls = []

    def fail_once_after_extending(self: Engine, start: int, scan: object = None) -> None:
        extend(self, start, scan)
        calls.append(start)
        if len(calls) == 1:
            raise RuntimeError("boom")

    monkeypatch.setattr(Engine, "extend_scan", fail_once_after_extending)
    with pytest.raises(RuntimeError, match="boom"):
        index.add(sentences(30, seed=5))
    assert calls == [50, 0]  # extended, failed, rebuilt from the 50 kept rows
    assert len(index) == 50 and index._engine.scan.ntotal == 50 and index._store.next_auto == 50
    assert index.search("cat dog", k=5) == before
    index.add(sentences(30, seed=5))
    assert index.ids == tuple(range(80))


def test_queries_with_a_zero_prefix_still_get_hits(enc):
    """An empty query (zero vector) scores every document 0; the fast scan alone would
    return nothing for it, so such rows take Hamming order instead."""
    texts = sentences(300)
    index = Index.from_texts(texts, encoder=enc, kind="binary+rerank", candidates=20)
    for query in ["", "   "]:
        hits = index.search(query, k=5)
        assert len(hits) == 5 and all(h.score == 0.0 for h in hits)
    batch = index.search(["cat dog", "", "fox"], k=5)
    assert [len(h) for h in batch] == [5, 5, 5]
    assert batch[0] == index.search("cat dog", k=5) and batch[2] == index.search("fox", k=5)
    vec = enc.encode("cat dog park")
    vec[: index.scan_dims] = 0.0
    got = index.search_vectors(vec, k=5)[0]
    assert len(got) == 5


def test_structure_replaces_the_first_stage(enc):
    index = Index.from_texts(
        sentences(100), encoder=enc, kind="binary+rerank", factory="BHNSW16", exact_limit=150
    )
    assert index._engine.scan is not None and index._engine.scan.ntotal == 100
    index.add(sentences(100, seed=7))
    assert index.structure == "BHNSW16" and index._engine.scan is None
    assert len(index.search("cat dog", k=5)) == 5


@pytest.mark.skipif(not REAL_TEXT.is_file(), reason="../shared absent")
def test_first_stage_beats_hamming_on_real_text(default):
    """Scoring the float query against the sign bits finds more of the true top 10 than
    the Hamming distance between both sides' bits, at equal bits and candidates."""
    import faiss

    docs, queries = real_text()
    vectors, qvec = default.encode(docs), default.encode(queries)
    _, truth = faiss.knn(qvec, vectors, 10, faiss.METRIC_INNER_PRODUCT)

    def found(c: np.ndarray) -> float:
        return np.mean([len(set(r) & set(t)) / 10 for r, t in zip(c, truth, strict=True)])

    for bits in (128, 256):
        index = Index.from_texts(
            docs, encoder=default, kind="binary+rerank", vectors=vectors, scan_dims=bits
        )
        cand = index._engine.exact_search(qvec, None, 100, None)
        codes, qcodes = sememe.pack_bits(vectors[:, :bits]), sememe.pack_bits(qvec[:, :bits])
        _, ham = faiss.knn_hamming(qcodes, codes, 100)
        assert found(cand) >= found(ham) + 0.05, bits  # measured: +0.19 (128), +0.10 (256)


# ----------------------------------------------------------------------------- persistence


@pytest.mark.parametrize(
    ("kind", "factory"),
    [
        ("float", None),
        ("binary", None),
        ("binary+rerank", None),
        ("float", "HNSW16"),
        ("binary+rerank", "BIVF8"),
    ],
)
def test_save_load_round_trip(enc, tmp_path, kind, factory):
    texts = sentences(300)
    meta = [{"n": i, "even": i % 2 == 0} if i % 3 else None for i in range(300)]
    ids = [f"doc-{i}" if i % 2 else i for i in range(300)]
    index = Index.from_texts(
        texts,
        ids,
        meta,
        encoder=enc,
        kind=kind,
        factory=factory,
        exact_limit=100 if factory else None,
        candidates=20,  # fewer than the documents: binary+rerank's first stage is used
    )
    index.remove(["doc-1", 4])
    queries = sentences(10, seed=5)
    before = index.search(queries, k=8)
    filtered = index.search(queries, k=8, where={"even": True})
    path = index.save(tmp_path / "ix")
    names = {p.name for p in path.iterdir()}
    assert {"manifest.json", "docs.jsonl"} <= names
    assert ("vectors.npy" in names) == (kind != "binary")
    assert ("codes.npy" in names) == (kind != "float")
    assert ("structure.faiss" in names) == (factory is not None)
    assert ("scan.faiss" in names) == (kind == "binary+rerank" and factory is None)
    loaded = Index.load(path, enc)
    assert loaded.kind == kind and loaded.structure == index.structure and len(loaded) == 298
    assert loaded.search(queries, k=8) == before
    assert loaded.search(queries, k=8, where={"even": True}) == filtered
    assert loaded.ids == index.ids
    # the loaded index keeps working
    loaded.add(["brand new text"], ids=["new"])
    assert loaded.search("brand new text", k=1)[0].id == "new"
    mapped = Index.load(path, enc, mmap=True)
    assert mapped.search(queries, k=8) == before
    mapped.add(["brand new text"], ids=["new"])
    assert mapped.search("brand new text", k=1)[0].id == "new"


def test_save_is_atomic_and_refuses_to_clobber(enc, tmp_path):
    index = Index.from_texts(DOCS, encoder=enc)
    path = index.save(tmp_path / "ix")
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        index.save(path)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a sememe index"):
        index.save(other, overwrite=True)
    assert (other / "keep.txt").read_text() == "mine"
    index.add(["one more"])
    index.save(path, overwrite=True)
    assert len(Index.load(path, enc)) == len(DOCS) + 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_load_detects_corruption(enc, tmp_path):
    path = Index.from_texts(DOCS, encoder=enc).save(tmp_path / "ix")
    docs = path / "docs.jsonl"
    docs.write_text(docs.read_text().replace("cat", "cow"))
    with pytest.raises(IndexFormatError, match=r"docs\.jsonl: checksum mismatch"):
        Index.load(path, enc)
    assert len(Index.load(path, enc, verify=False)) == len(DOCS)
    (path / "vectors.npy").unlink()
    with pytest.raises(IndexFormatError, match=r"vectors\.npy: missing"):
        Index.load(path, enc)
    with pytest.raises(IndexFormatError, match="no such index folder"):
        Index.load(tmp_path / "nothing", enc)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexFormatError, match=r"manifest\.json: missing"):
        Index.load(tmp_path / "empty", enc)


def test_first_stage_file_is_checked_or_rebuilt(enc, tmp_path):
    index = Index.from_texts(sentences(200), encoder=enc, kind="binary+rerank", candidates=20)
    queries = sentences(5, seed=3)
    before = index.search(queries, k=5)
    path = index.save(tmp_path / "ix")
    manifest = json.loads((path / "manifest.json").read_text())

    def replace_scan(data: bytes) -> None:  # with a manifest that agrees on size and checksum
        (path / "scan.faiss").write_bytes(data)
        manifest["files"]["scan.faiss"]["bytes"] = len(data)
        # FAISS files are checked even with verify=False (FAISS cannot parse damage safely)
        manifest["files"]["scan.faiss"]["sha256"] = hashlib.sha256(data).hexdigest()
        (path / "manifest.json").write_text(json.dumps(manifest))

    # a scan of another index (wrong size) is refused, even without checksums
    Index.from_texts(sentences(10), encoder=enc, kind="binary+rerank").save(tmp_path / "small")
    replace_scan((tmp_path / "small" / "scan.faiss").read_bytes())
    with pytest.raises(IndexFormatError, match=r"scan\.faiss holds 10 entries"):
        Index.load(path, enc, verify=False)
    replace_scan(b"not a faiss index")
    with pytest.raises(IndexFormatError, match="cannot read the index"):
        Index.load(path, enc, verify=False)
    # a folder without it (the file and its manifest entry gone) rebuilds it from the vectors
    del manifest["files"]["scan.faiss"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "scan.faiss").unlink()
    loaded = Index.load(path, enc)
    assert loaded._engine.scan.ntotal == 200 and loaded.search(queries, k=5) == before
    # a manifest from before the option: the default scan_dims, the scan rebuilt
    del manifest["settings"]["scan_dims"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    loaded = Index.load(path, enc)
    assert loaded.scan_dims == 32 and loaded.search(queries, k=5) == before
    # float and binary manifests do not carry the key (older sememe versions can read them)
    Index.from_texts(DOCS, encoder=enc).save(tmp_path / "float")
    assert (
        "scan_dims"
        not in json.loads((tmp_path / "float" / "manifest.json").read_text())["settings"]
    )


def test_load_refuses_another_encoder(enc, tmp_path):
    path = Index.from_texts(DOCS, encoder=enc).save(tmp_path / "ix")
    with pytest.raises(IndexFormatError, match=r"built with encoder 'tiny'.*rebuild the index"):
        Index.load(path, tiny_encoder(dim=32, seed=1))
    with pytest.raises(IndexFormatError, match="built with dim=32"):
        Index.load(path, enc.with_options(dim=16))


def test_default_model_round_trip(default, tmp_path):
    index = Index.from_texts(["The cat sat on the mat.", "Stocks fell sharply."], kind="binary")
    assert index.encoder is default
    loaded = Index.load(index.save(tmp_path / "ix"))  # encoder found from the manifest
    assert loaded.encoder.fingerprint == default.fingerprint
    assert loaded.search("a kitten on a rug", k=1)[0].text == "The cat sat on the mat."


# ----------------------------------------------------------------------------- threads


@pytest.mark.parametrize(
    ("kind", "factory"), [("float", None), ("float", "HNSW16"), ("binary+rerank", None)]
)
def test_concurrent_searches_and_adds(enc, kind, factory):
    texts = sentences(800)
    index = Index.from_texts(
        texts[:400], encoder=enc, kind=kind, factory=factory, exact_limit=100, candidates=50
    )
    exact = kind == "float"  # binary+rerank's candidates may change as documents arrive
    queries = sentences(30, seed=7)
    expected = index.search(queries, k=5)
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                for q, want in zip(queries, expected, strict=True):
                    got = index.search(q, k=5)
                    assert len(got) == 5
                    # the first 400 documents stay, so results can only improve; text and
                    # id always belong together
                    assert not exact or got[0].score >= want[0].score - 1e-6
                    assert all(h.text == texts[h.id] for h in got)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    for t in threads:
        t.start()
    for start in range(400, 800, 50):
        index.add(texts[start : start + 50], ids=list(range(start, start + 50)))
    index.remove(list(range(400, 420)))
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(index) == 780


def test_parallel_searches_agree_with_serial(enc):
    index = Index.from_texts(sentences(500), encoder=enc, kind="binary+rerank", candidates=20)
    queries = sentences(40, seed=3)
    serial = [index.search(q, k=5) for q in queries]
    results: dict[int, list[Hit]] = {}

    def work(i: int) -> None:
        results[i] = index.search(queries[i], k=5)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(len(queries))] == serial


# ----------------------------------------------------------------------------- realism (shared corpus)


@pytest.mark.skipif(not REAL_TEXT.is_file(), reason="../shared absent")
def test_binary_rerank_recall_on_real_text(default):
    docs, queries = real_text()
    exact = Index.from_texts(docs, encoder=default)
    fast = Index.from_texts(docs, encoder=default, kind="binary+rerank", candidates=200)
    want = exact.search(queries, k=10)
    got = fast.search(queries, k=10)
    recall = np.mean(
        [len({h.id for h in g} & {h.id for h in w}) / 10 for g, w in zip(got, want, strict=True)]
    )
    assert recall >= 0.9


# ----------------------------------------------------------------------------- CLI


def test_cli_build_and_search(tmp_path, capsys):
    docs = tmp_path / "docs.jsonl"
    rows = [
        {"id": "c", "text": "The cat sat on the mat.", "lang": "en"},
        {"id": "d", "text": "A dog ran in the park.", "lang": "en"},
        {"id": "s", "text": "Le chat est sur le tapis.", "lang": "fr"},
        {"id": "b", "text": "   ", "lang": "en"},
    ]
    docs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "ix"
    assert main(["index", "build", str(docs), "-o", str(out), "--kind", "binary+rerank"]) == 0
    assert "indexed 3 documents, 1 blank skipped" in capsys.readouterr().err
    assert main(["search", str(out), "a kitten on a rug", "-k", "2", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["query"] == "a kitten on a rug" and row["hits"][0]["id"] == "c"
    assert row["hits"][0]["metadata"] == {"lang": "en"}
    assert main(["search", str(out), "cat", "--where", "lang=fr", "--json"]) == 0
    assert [h["id"] for h in json.loads(capsys.readouterr().out)["hits"]] == ["s"]
    assert main(["search", str(out), "cat", "dog", "-k", "1"]) == 0
    table = capsys.readouterr().out
    assert "query: cat" in table and "score" in table
    assert main(["index", "build", str(docs), "-o", str(out)]) == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # refused by argparse (exit 2) before the index loads
        main(["search", str(out), "cat", "-k", "0"])
    assert "argument -k: must be a positive integer" in capsys.readouterr().err
    opts = ["--kind", "binary+rerank", "--candidates", "7", "--scan-dims", "64", "--overwrite"]
    assert main(["index", "build", str(docs), "-o", str(out), *opts]) == 0
    loaded = Index.load(out)
    assert (loaded.candidates, loaded.scan_dims) == (7, 64)
    assert (
        main(["index", "build", str(docs), "-o", str(out), "--scan-dims", "64", "--overwrite"]) == 1
    )
    assert "scan_dims applies to kind='binary+rerank' only" in capsys.readouterr().err


def test_cli_txt_ids_are_line_numbers(tmp_path, capsys):
    docs = tmp_path / "docs.txt"
    docs.write_text("first line about money\n\nthird line about a cat\n")
    out = tmp_path / "ix"
    assert main(["-q", "index", "build", str(docs), "-o", str(out)]) == 0
    assert main(["search", str(out), "cat", "-k", "5", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert sorted(h["id"] for h in hits) == [1, 3]


def test_cli_search_missing_index(tmp_path, capsys):
    assert main(["search", str(tmp_path / "none"), "cat"]) == 1
    assert "no such index folder" in capsys.readouterr().err


def test_cli_csv_column(tmp_path, capsys):
    docs = tmp_path / "docs.csv"
    docs.write_text("title,body\nPets,The cat sat on the mat.\nMoney,Stocks fell sharply today.\n")
    out = tmp_path / "ix"
    assert main(["-q", "index", "build", str(docs), "--field", "body", "-o", str(out)]) == 0
    assert main(["search", str(out), "kitten", "-k", "1", "--json"]) == 0
    hit = json.loads(capsys.readouterr().out)["hits"][0]
    assert hit["metadata"] == {"title": "Pets"} and hit["id"] == 1


def test_paths_are_accepted_as_str_and_path(enc, tmp_path):
    index = Index.from_texts(DOCS, encoder=enc)
    index.save(str(tmp_path / "a"))
    assert len(Index.load(Path(tmp_path / "a"), enc)) == len(DOCS)


def test_add_survives_a_word_memo_reset(default, monkeypatch):
    """A memo reset in the middle of a batch once lost known words (KeyError); adding must work."""
    import sememe._wordcache as wordcache

    enc = default.with_options()  # a private word memo
    monkeypatch.setattr(wordcache, "CAPACITY", 100)
    texts = [f"w{i} x{i} y{i}" for i in range(45)]
    enc.encode(texts[10:30])  # 60 words in the memo
    index = Index(enc)
    index.add(texts[25:45])  # 15 known + 45 new words: the memo is reset mid-batch
    np.testing.assert_allclose(index.get_vectors([0]), default.encode([texts[25]]), atol=1e-6)
    assert index.search(texts[30], k=1)[0].text == texts[30]
