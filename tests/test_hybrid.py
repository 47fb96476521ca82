"""Hybrid (dense + BM25) search in sememe.index (issue 15): modes, scores, fusion, blank
documents, filters, add/remove, failures, persistence, threads and the Analyzer."""

from __future__ import annotations

import hashlib
import json
import math
import threading

import numpy as np
import pytest
from conftest import SMALL_DOCS, apply_steps, sentences, tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe.errors import InvalidArgumentError, InvalidTypeError
from sememe.index import Analyzer, Index, IndexFormatError
from sememe.index._engine import Engine
from sememe.index._lexical import Lexical

KINDS = ["float", "binary", "binary+rerank"]
MODES = ["hybrid", "dense", "lexical"]

DOCS = SMALL_DOCS
QUERIES = ["dog mat", "interest rate", "fish in the river", "quick fox", "money bank loan"]


pytestmark = pytest.mark.usefixtures("memory_tempdir")


@pytest.fixture(scope="module")
def enc() -> sememe.Encoder:
    return tiny_encoder(dim=32)


@pytest.fixture(scope="module")
def enc_unk() -> sememe.Encoder:
    """Unknown words are ignored: a text of unknown words only is blank (a zero vector)
    but still has lexical terms."""
    return tiny_encoder(dim=32, ignore_token_ids=(0,))


@pytest.fixture(scope="module")
def shared(enc) -> dict[str, Index]:
    """Read-only hybrid indexes over DOCS, by kind (tests that change an index build their own)."""
    return {kind: hybrid(enc, kind=kind) for kind in KINDS}


@pytest.fixture(scope="module")
def shared60(enc) -> dict[str, Index]:
    """Read-only hybrid indexes over 60 random sentences, by kind."""
    return {kind: hybrid(enc, sentences(60, seed=1), kind=kind) for kind in KINDS}


def hybrid(enc, texts=DOCS, **options) -> Index:
    return Index.from_texts(texts, encoder=enc, lexical=True, **options)


def by_id(hits):
    return {h.id: h for h in hits}


# ----------------------------------------------------------------------------- modes


def test_default_mode_is_hybrid_for_a_lexical_index_dense_otherwise(enc):
    lex = hybrid(enc)
    assert lex.lexical and isinstance(lex.analyzer, Analyzer)
    assert lex.search("dog mat", k=5) == lex.search("dog mat", k=5, mode="hybrid")
    assert all(h.dense_score is not None for h in lex.search("dog mat", k=5))
    dense = Index.from_texts(DOCS, encoder=enc)
    assert not dense.lexical and dense.analyzer is None
    got = dense.search("dog mat", k=5)
    assert got == dense.search("dog mat", k=5, mode="dense")
    assert all(h.dense_score is None and h.lexical_score is None for h in got)
    # the lexical index's dense mode equals the dense index's search
    assert [h.id for h in lex.search("dog mat", k=5, mode="dense")] == [h.id for h in got]


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_lexical_modes_need_a_lexical_side(enc, mode):
    index = Index.from_texts(DOCS, encoder=enc)
    with pytest.raises(InvalidArgumentError, match="lexical=True"):
        index.search("dog", mode=mode)


@pytest.mark.parametrize("mode", ["dense", "lexical"])
@pytest.mark.parametrize("option", [{"alpha": 0.5}, {"fusion": "rrf"}])
def test_alpha_and_fusion_apply_to_hybrid_only(enc, shared, mode, option):
    index = shared["float"]
    with pytest.raises(InvalidArgumentError, match="alpha and fusion apply"):
        index.search("dog", mode=mode, **option)
    if mode == "dense":  # a dense index refuses them too
        with pytest.raises(InvalidArgumentError):
            Index.from_texts(DOCS, encoder=enc).search("dog", **option)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"mode": "x"}, InvalidArgumentError),
        ({"mode": "HYBRID "}, InvalidArgumentError),
        ({"mode": 1}, (InvalidArgumentError, InvalidTypeError)),
        ({"alpha": float("nan")}, InvalidArgumentError),
        ({"alpha": 1.5}, InvalidArgumentError),
        ({"alpha": -0.1}, InvalidArgumentError),
        ({"alpha": float("inf")}, InvalidArgumentError),
        ({"alpha": "x"}, InvalidTypeError),
        ({"alpha": True}, InvalidTypeError),
        ({"alpha": None, "fusion": "x"}, InvalidArgumentError),
        ({"fusion": "RRF2"}, InvalidArgumentError),
        ({"fusion": 3}, (InvalidArgumentError, InvalidTypeError)),
    ],
)
def test_bad_search_options_raise_before_any_work(shared, monkeypatch, options, error):
    index = shared["float"]
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        raise AssertionError("encoded before the options were checked")

    monkeypatch.setattr(index, "_encode", spy)
    monkeypatch.setattr(index, "_encode_binary", spy)
    options = {k: v for k, v in options.items() if v is not None}
    with pytest.raises(error):
        index.search("dog mat", **options)
    with pytest.raises(error):  # even with no query at all
        index.search([], **options)
    assert not calls


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"alpha": float("nan")}, InvalidArgumentError),
        ({"alpha": 2}, InvalidArgumentError),
        ({"alpha": True}, InvalidTypeError),
        ({"fusion": "x"}, InvalidArgumentError),
        ({"fusion_candidates": 0}, InvalidArgumentError),
        ({"lexical": 1}, InvalidTypeError),
        ({"lexical": False, "analyzer": Analyzer()}, InvalidArgumentError),
        ({"lexical": True, "analyzer": "english"}, InvalidTypeError),
    ],
)
def test_bad_constructor_options(enc, options, error):
    options = {"lexical": True, **options}
    with pytest.raises(error):
        Index(enc, **options)


@pytest.mark.parametrize("kind", KINDS)
def test_search_vectors_stays_dense(enc, shared, kind):
    index = shared[kind]
    q = enc.encode(QUERIES)
    got = index.search_vectors(q, k=4)
    want = index.search(QUERIES, k=4, mode="dense")
    assert [[h.id for h in g] for g in got] == [[h.id for h in w] for w in want]
    assert all(h.dense_score is None and h.lexical_score is None for g in got for h in g)


# ----------------------------------------------------------------------------- scores


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fusion", ["zscore", "rrf"])
def test_side_scores_are_the_modes_scores(shared, kind, fusion):
    index = shared[kind]
    n = len(index)
    for q in QUERIES:
        dense = by_id(index.search(q, k=n, mode="dense"))
        lexical = by_id(index.search(q, k=n, mode="lexical"))
        hits = index.search(q, k=n, fusion=fusion)
        assert len(hits) == n and len({h.id for h in hits}) == n
        for h in hits:
            assert h.dense_score == pytest.approx(dense[h.id].score, abs=1e-6)
            if h.id in lexical:
                assert h.lexical_score == pytest.approx(lexical[h.id].score, rel=1e-6)
            else:
                assert h.lexical_score is None
        # every lexically matching document is a candidate, so it carries its BM25 score
        assert {h.id for h in hits if h.lexical_score is not None} == set(lexical)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)


def test_to_dict_omits_missing_side_scores(enc, shared):
    index = shared["float"]
    for h in index.search("dog mat", k=len(DOCS)):
        d = h.to_dict()
        assert d["dense_score"] == h.dense_score
        assert ("lexical_score" in d) == (h.lexical_score is not None)
        json.dumps(d)
    for h in index.search("dog mat", k=3, mode="lexical"):
        d = h.to_dict()
        assert "dense_score" not in d and d["lexical_score"] == h.score
    for ix in (index, Index.from_texts(DOCS, encoder=enc)):
        for h in ix.search("dog mat", k=3, mode="dense"):
            assert set(h.to_dict()) == {"id", "score", "text", "metadata"}


# ----------------------------------------------------------------------------- fusion


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fusion", ["zscore", "rrf"])
def test_alpha_one_gives_the_dense_order(shared60, kind, fusion):
    index = shared60[kind]
    for q in sentences(8, seed=2):
        for k in (1, 5, 20):
            want = index.search(q, k=k, mode="dense")
            got = index.search(q, k=k, alpha=1.0, fusion=fusion)
            if kind == "binary":  # Hamming scores tie often: compare the scores
                assert [h.dense_score for h in got] == pytest.approx(
                    [h.score for h in want], abs=1e-6
                )
            else:
                assert [h.id for h in got] == [h.id for h in want]


@pytest.mark.parametrize("fusion", ["zscore", "rrf"])
def test_alpha_zero_puts_lexical_matches_first_in_bm25_order(shared60, fusion):
    index = shared60["float"]
    for q in ["cat", "river fish", "stock", "bank money loan", "lazy fox", "park"]:
        lexical = index.search(q, k=len(index), mode="lexical")
        assert lexical, q
        hits = index.search(q, k=len(index), alpha=0.0, fusion=fusion)
        head = hits[: len(lexical)]
        assert [h.id for h in head] == [h.id for h in lexical], q
        assert all(h.lexical_score is None for h in hits[len(lexical) :]), q


def test_alpha_zero_ranks_a_weak_lexical_match_above_a_non_match(enc):
    """Minimal case: "fish swim" (row 0) holds no query term, "the cat sat on ... park"
    (row 2) holds "cat" with the lower BM25; with alpha=0 it must still come before the
    non-match."""
    texts = ["fish swim", "the cat", "the cat sat on the mat with a dog in the park"]
    index = hybrid(enc, texts)
    assert [h.id for h in index.search("cat", k=3, mode="lexical")] == [1, 2]
    for fusion in ("zscore", "rrf"):
        got = index.search("cat", k=3, alpha=0.0, fusion=fusion)
        assert [h.id for h in got] == [1, 2, 0], fusion
        assert got[1].score > got[2].score, fusion


def test_rrf_and_zscore_both_work_and_can_be_the_index_default(enc):
    index = hybrid(enc, fusion="rrf", alpha=0.5)
    assert index.fusion == "rrf" and index.alpha == 0.5
    got = index.search("dog mat", k=4)
    assert got == index.search("dog mat", k=4, fusion="rrf", alpha=0.5)
    # an RRF score is a sum of weighted reciprocal ranks
    assert all(0 < h.score <= 1 / 61 for h in got)
    z = index.search("dog mat", k=4, fusion="zscore")
    assert z[0].id == 8 and got[0].id == 8  # "the dog sat on the mat" holds both words


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("query", ["the a in on", "東京タワー", "xyzzy plugh"])
def test_query_without_lexical_match_keeps_the_dense_order(shared, kind, query):
    index = shared[kind]
    assert index.search(query, k=5, mode="lexical") == []
    want = index.search(query, k=len(DOCS), mode="dense")
    for fusion in ("zscore", "rrf"):
        got = index.search(query, k=len(DOCS), fusion=fusion)
        if kind == "binary":
            assert [h.dense_score for h in got] == pytest.approx([h.score for h in want], abs=1e-6)
        else:
            assert [h.id for h in got] == [h.id for h in want]
        assert all(h.lexical_score is None for h in got)


def test_a_document_found_only_lexically_is_a_candidate(enc):
    # fusion_candidates=1: the dense side proposes one document; a lexical match the dense
    # side ranks low still competes and can win with a small alpha
    texts = [*sentences(80, seed=4), "zebra"]
    index = hybrid(enc, texts, fusion_candidates=1)
    hits = index.search("zebra", k=1, alpha=0.0)
    assert [h.text for h in hits] == ["zebra"] and hits[0].lexical_score is not None


# ----------------------------------------------------------------------------- blank / empty


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", MODES)
def test_empty_index_gives_no_hits(enc, kind, mode):
    index = Index(enc, kind=kind, lexical=True)
    assert index.search("dog", k=3, mode=mode) == []
    assert index.search(["dog", ""], k=3, mode=mode) == [[], []]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_index_of_blank_documents_gives_no_hits(enc, kind, mode):
    index = hybrid(enc, ["", "   ", "\t\n"], kind=kind)
    assert index.search("dog", k=5, mode=mode) == []
    assert index.search("", k=5, mode=mode) == []
    assert len(index.search("dog", k=5, mode="dense")) == 3  # listed last in dense mode


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_blank_documents_are_never_returned(enc, kind, mode):
    texts = ["", *DOCS[:5], "  \n", *DOCS[5:], " "]
    index = hybrid(enc, texts, kind=kind)
    for q in [*QUERIES, "the", "", "   "]:
        for h in index.search(q, k=len(texts), mode=mode):
            assert h.text.strip(), (q, h)


@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_blank_documents_with_lexical_terms_are_never_returned(enc_unk, mode):
    """A text of words the model does not know is blank (a zero vector) and yet has
    terms: the search docs say neither hybrid nor lexical mode returns blank documents."""
    texts = ["zebra giraffe", "the cat sat", "a zebra ran in the park"]
    index = hybrid(enc_unk, texts)
    assert index._store.blank_rows.tolist() == [0]  # the premise: document 0 is blank
    hits = index.search("zebra", k=3, mode=mode)
    assert [h.id for h in hits if h.id == 0] == []
    assert 2 in {h.id for h in hits}


# ----------------------------------------------------------------------------- where=


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["hybrid", "lexical"])
def test_where_applies_to_both_sides(enc, kind, mode):
    meta = [{"group": i % 3, "even": i % 2 == 0} for i in range(len(DOCS))]
    index = Index.from_texts(DOCS, metadata=meta, encoder=enc, kind=kind, lexical=True)
    wheres = [
        {"group": 1},
        {"group": [0, 2]},
        {"even": True},
        lambda m: m.get("group") == 2,
        {"group": 7},
    ]
    for where in wheres:
        test = where if callable(where) else None
        for q in [*QUERIES, "the", ""]:
            hits = index.search(q, k=len(DOCS), mode=mode, where=where)
            for h in hits:
                m = index.get(h.id).metadata
                if test is not None:
                    assert test(m)
                else:
                    for key, val in where.items():
                        assert m[key] in (val if isinstance(val, list) else [val])
            unfiltered = index.search(q, k=len(DOCS), mode=mode)
            allowed = [
                h.id for h in unfiltered if (test or _dict_test(where))(index.get(h.id).metadata)
            ]
            if mode == "lexical":  # the same ranking, restricted
                assert [h.id for h in hits] == allowed
            else:  # every allowed document comes back (k covers the index)
                assert {h.id for h in hits} == set(allowed)


def _dict_test(where):
    return lambda m: all(m.get(k) in (v if isinstance(v, list) else [v]) for k, v in where.items())


# ----------------------------------------------------------------------------- add / remove


def _all_modes(index, q, k):
    return {mode: index.search(q, k=k, mode=mode) for mode in MODES}


@pytest.mark.parametrize("kind", KINDS)
def test_removed_documents_are_never_returned(enc, kind):
    texts = sentences(40, seed=5)
    index = hybrid(enc, texts, kind=kind, ids=[f"d{i}" for i in range(40)])
    gone = {f"d{i}" for i in range(0, 40, 3)}
    index.remove(sorted(gone))
    index.compact()
    for q in [*sentences(6, seed=6), *texts[:5]]:
        for mode, hits in _all_modes(index, q, 40).items():
            assert not gone & {h.id for h in hits}, mode
            assert all(h.text == texts[int(h.id[1:])] for h in hits)


@pytest.mark.parametrize("kind", KINDS)
def test_remove_in_the_middle_then_add_keeps_ids_and_texts(enc, kind):
    index = hybrid(enc, DOCS, kind=kind, ids=[f"a{i}" for i in range(len(DOCS))])
    index.remove(["a3", "a4", "a5"])
    extra = ["zebra crossing", "a zebra and a dog", "bank of the river"]
    index.add(extra, ids=["z0", "z1", "z2"])
    truth = {i: t for i, t in zip(index.ids, index.texts, strict=True)}
    assert "a4" not in truth and truth["z1"] == "a zebra and a dog"
    for q in ["zebra", "bank", "river", "dog", "interest rate", "fox"]:
        lexical = index.search(q, k=20, mode="lexical")
        for h in lexical:
            assert truth[h.id] == h.text
            assert set(index.analyzer.analyze(q)) & set(index.analyzer.analyze(h.text))
        hyb = index.search(q, k=20)
        assert all(truth[h.id] == h.text for h in hyb)
    assert {h.id for h in index.search("zebra", k=5, mode="lexical")} == {"z0", "z1"}
    assert {h.id for h in index.search("fox", k=5, mode="lexical")} == set()


def test_many_small_batches(enc):
    texts = sentences(60, seed=8)
    index = Index(enc, lexical=True)
    for start in range(0, 60, 7):
        index.add(texts[start : start + 7], ids=list(range(start, min(start + 7, 60))))
    whole = hybrid(enc, texts)
    assert len(index) == 60 and len(index._lexical) == 60
    for q in sentences(6, seed=9):
        for mode in MODES:
            got = index.search(q, k=10, mode=mode)
            want = whole.search(q, k=10, mode=mode)
            # (which of equally scored documents make the cut: see the test below)
            assert [h.score for h in got] == pytest.approx([h.score for h in want], rel=1e-5)
            if mode != "lexical":
                assert [h.id for h in got] == [h.id for h in want]
        full = index.search(q, k=60, mode="lexical")
        assert full == whole.search(q, k=60, mode="lexical")


def test_lexical_ties_go_to_the_earlier_row_across_segments(enc):
    """Lexical.search documents "Ties go to the earlier row"; with documents added one by
    one (one tantivy segment each, merged in the background) the top-k cut of equally
    scored documents must still keep the earliest rows, every time."""
    for _ in range(3):
        index = Index(enc, lexical=True)
        for i in range(12):
            index.add(["the cat"], ids=[i])
        assert [h.id for h in index.search("cat", k=3, mode="lexical")] == [0, 1, 2]
        assert [h.id for h in index.search("cat", k=3, alpha=0.0)] == [0, 1, 2]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.booleans(), st.integers(1, 12), st.integers(0, 10_000)),
        min_size=1,
        max_size=4,
    ),
    kind=st.sampled_from(KINDS),
)
def test_add_remove_sequences_keep_every_mode_consistent(enc, steps, kind):
    index = Index(enc, kind=kind, lexical=True)
    model = apply_steps(index, steps)
    assert dict(zip(index.ids, index.texts, strict=True)) == model
    assert len(index._lexical) == len(model)
    for q in sentences(3, seed=11):
        terms = set(index.analyzer.analyze(q))
        for mode, hits in _all_modes(index, q, max(1, len(model))).items():
            assert all(model[h.id] == h.text for h in hits), mode
            assert len({h.id for h in hits}) == len(hits)
        lexical = index.search(q, k=max(1, len(model)), mode="lexical")
        holders = {i for i, t in model.items() if terms & set(index.analyzer.analyze(t))}
        assert {h.id for h in lexical} == holders


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_works(enc, kind):
    index = hybrid(enc, kind=kind)
    assert index.kind == kind
    hits = index.search("dog mat", k=3)
    assert hits[0].id == 8
    index.add(["a dog on a mat"], ids=[99])
    assert 99 in {h.id for h in index.search("dog mat", k=3)}
    index.remove([8])
    assert 8 not in {h.id for m in MODES for h in index.search("dog mat", k=10, mode=m)}


# ----------------------------------------------------------------------------- failures


def _snapshot(index):
    return (
        len(index),
        index.ids,
        index.texts,
        len(index._lexical),
        index._lexical.serials.tolist(),
        [index.search(q, k=len(index) + 2, mode=m) for q in QUERIES for m in MODES],
    )


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda ix: ix.add(["x dog"], metadata=[{"bad": object()}]), (TypeError, ValueError)),
        (lambda ix: ix.add(["x dog"], metadata=[{}, {}]), (TypeError, ValueError)),
        (lambda ix: ix.add(["x dog", "y cat"], ids=[50, 50]), ValueError),
        (lambda ix: ix.add(["x dog"], ids=[0]), ValueError),  # already in the index
        (lambda ix: ix.add(["x dog"], ids=[1.5]), TypeError),
        (lambda ix: ix.add(["x dog", None]), TypeError),
    ],
)
def test_a_failed_add_changes_nothing(enc, call, error):
    index = hybrid(enc)
    before = _snapshot(index)
    with pytest.raises(error):
        call(index)
    assert _snapshot(index) == before
    index.add(["a dog on a mat"], ids=[77])  # and the index still works
    assert 77 in {h.id for h in index.search("dog mat", k=3, mode="lexical")}


@pytest.mark.parametrize("kind", KINDS)
def test_a_lexical_append_failure_changes_nothing(enc, kind, monkeypatch):
    index = hybrid(enc, kind=kind)
    before = _snapshot(index)
    engine_n = len(index._engine)

    def boom(self, texts):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Lexical, "append", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        index.add(["a zebra on a mat", "dog"], ids=["z", "y"])
    monkeypatch.undo()
    assert _snapshot(index) == before
    assert len(index._engine) == engine_n
    assert "z" not in index
    index.add(["a zebra on a mat"], ids=["z"])  # the same ids work afterwards
    assert [h.id for h in index.search("zebra", k=3, mode="lexical")] == ["z"]
    assert index.search("zebra", k=1)[0].id == "z"


def test_a_failing_tantivy_commit_rolls_back(enc, monkeypatch):
    """A failure inside the lexical append (after some documents were staged) adds nothing
    to the lexical side either."""
    index = hybrid(enc)
    before = _snapshot(index)

    def boom(self, writer):
        raise OSError("commit failed")

    monkeypatch.setattr(Lexical, "_finish", boom)
    with pytest.raises(OSError, match="commit failed"):
        index.add(["a zebra on a mat"], ids=["z"])
    monkeypatch.undo()
    assert _snapshot(index) == before
    index.add(["a zebra on a mat"], ids=["z"])
    assert [h.id for h in index.search("zebra", k=3, mode="lexical")] == ["z"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_engine_remove_keeps_the_document_in_every_mode(enc, kind, monkeypatch):
    index = hybrid(enc, kind=kind)
    before = _snapshot(index)

    def boom(self, rows, keep):
        raise MemoryError("no memory")

    monkeypatch.setattr(Engine, "remove", boom)
    with pytest.raises(MemoryError):
        index.remove([8, 2])
    monkeypatch.undo()
    assert _snapshot(index) == before
    for mode in MODES:
        assert 8 in {h.id for h in index.search("dog mat", k=len(DOCS), mode=mode)}, mode
        assert 2 in {h.id for h in index.search("stock market", k=len(DOCS), mode=mode)}, mode
    index.remove([8])  # and a later removal works
    assert all(8 not in {h.id for h in index.search("dog mat", k=10, mode=m)} for m in MODES)


def test_unknown_id_on_remove_changes_nothing(enc):
    index = hybrid(enc)
    before = _snapshot(index)
    with pytest.raises(KeyError):
        index.remove([1, 12345])
    assert _snapshot(index) == before


# ----------------------------------------------------------------------------- persistence


def _results(index, queries=QUERIES):
    k = len(index) + 1
    return {m: index.search(queries, k=k, mode=m) for m in MODES}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fusion", ["zscore", "rrf"])
def test_save_load_round_trip(enc, tmp_path, kind, fusion):
    meta = [{"n": i} for i in range(len(DOCS))]
    index = Index.from_texts(
        DOCS,
        ids=[f"x{i}" for i in range(len(DOCS))],
        metadata=meta,
        encoder=enc,
        kind=kind,
        lexical=True,
        alpha=0.6,
        fusion=fusion,
        fusion_candidates=7,
        analyzer=Analyzer(stopwords=["sat", "on"]),
    )
    index.remove(["x2"])
    before = _results(index)
    path = index.save(tmp_path / "ix")
    manifest = json.loads((path / "manifest.json").read_text())
    assert "lexical" in manifest and manifest["lexical"]["documents"] == len(index)
    assert (path / "lexical").is_dir() and any((path / "lexical").iterdir())
    assert (path / "lexical_serials.npy").is_file()
    assert any(name.startswith("lexical/") for name in manifest["files"])
    loaded = Index.load(path, enc)
    assert loaded.lexical and loaded.kind == kind
    assert (loaded.alpha, loaded.fusion, loaded.fusion_candidates) == (0.6, fusion, 7)
    assert loaded.analyzer == index.analyzer
    assert _results(loaded) == before  # ids, scores and side scores, exactly
    for mode in MODES:
        assert loaded.search("x", k=3, mode=mode, where={"n": [1, 3]}) == index.search(
            "x", k=3, mode=mode, where={"n": [1, 3]}
        )


def test_dense_folder_loads_without_a_lexical_side(enc, tmp_path):
    path = Index.from_texts(DOCS, encoder=enc).save(tmp_path / "ix")
    manifest = json.loads((path / "manifest.json").read_text())
    assert "lexical" not in manifest and not (path / "lexical").exists()
    assert not (path / "lexical_serials.npy").exists()
    loaded = Index.load(path, enc)
    assert loaded.lexical is False and loaded.analyzer is None
    with pytest.raises(InvalidArgumentError):
        loaded.search("dog", mode="lexical")


def test_damaged_lexical_file_is_refused(enc, tmp_path):
    path = hybrid(enc).save(tmp_path / "ix")
    files = sorted(p for p in (path / "lexical").iterdir() if p.is_file() and p.stat().st_size)
    assert files
    victim = max(files, key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(IndexFormatError):
        Index.load(path, enc)


def test_damaged_lexical_files_are_refused_even_without_verify(enc, tmp_path):
    """verify=False skips the checksums of the document and vector files only; tantivy,
    like FAISS, cannot parse damaged files safely (it panics: pyo3 PanicException, a
    BaseException). Every one-byte flip in a lexical file must give IndexFormatError at
    load, or an index whose searches still work."""
    import shutil

    path = hybrid(enc, DOCS[:4]).save(tmp_path / "ix")
    names = sorted(
        p.name for p in (path / "lexical").iterdir() if p.is_file() and p.suffix != ".json"
    )
    failures = []
    n = 0
    for name in names:
        size = (path / "lexical" / name).stat().st_size
        for pos in range(0, size, max(1, size // 8)):
            n += 1
            copy = tmp_path / f"c{n}"
            shutil.copytree(path, copy)
            victim = copy / "lexical" / name
            data = bytearray(victim.read_bytes())
            data[pos] ^= 0x5A
            victim.write_bytes(bytes(data))
            stage = "load"
            try:
                loaded = Index.load(copy, enc, verify=False)
                stage = "search"
                for q in ("cat", "dog park", "interest"):
                    for mode in ("hybrid", "lexical"):
                        loaded.search(q, k=3, mode=mode)
            except IndexFormatError:
                pass
            except BaseException as exc:
                failures.append(f"{name}[{pos}] at {stage}: {type(exc).__name__}: {exc}"[:160])
            shutil.rmtree(copy)
    assert not failures, "\n".join(failures)


def test_lexical_files_of_another_index_are_refused(enc, tmp_path):
    """With a manifest that agrees on sizes and checksums, the tantivy folder of another
    index (another number of documents) is still refused."""
    path = hybrid(enc).save(tmp_path / "ix")
    other = hybrid(enc, DOCS[:4]).save(tmp_path / "other")
    manifest = json.loads((path / "manifest.json").read_text())
    for name in list(manifest["files"]):
        if name.startswith("lexical/"):
            del manifest["files"][name]
            (path / name).unlink()
    for p in (other / "lexical").iterdir():
        data = p.read_bytes()
        (path / "lexical" / p.name).write_bytes(data)
        manifest["files"][f"lexical/{p.name}"] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
        }
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="lexical"):
        Index.load(path, enc)


def _rewrite(path, name, data: bytes | None) -> None:
    """Replace (or with None, delete) a file and make the manifest agree."""
    manifest = json.loads((path / "manifest.json").read_text())
    if data is None:
        (path / name).unlink()
    else:
        (path / name).write_bytes(data)
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (path / "manifest.json").write_text(json.dumps(manifest))


def _npy(arr) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        None,  # missing
        _npy(np.arange(3, dtype=np.int64)),  # too short
        _npy(np.arange(11, dtype=np.int64)),  # too long
        _npy(np.zeros(10, dtype=np.int64)),  # not increasing
        _npy(np.arange(10, dtype=np.float64)),  # not integers
        _npy(np.arange(10, 20, dtype=np.int64)),  # beyond next_serial
        b"not an npy file",
    ],
)
def test_bad_lexical_serials_are_refused(enc, tmp_path, data):
    path = hybrid(enc).save(tmp_path / "ix")
    _rewrite(path, "lexical_serials.npy", data)
    with pytest.raises(IndexFormatError):
        Index.load(path, enc)
    with pytest.raises(IndexFormatError):
        Index.load(path, enc, verify=False)


def test_missing_lexical_serials_without_a_manifest_entry(enc, tmp_path):
    path = hybrid(enc).save(tmp_path / "ix")
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["files"]["lexical_serials.npy"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "lexical_serials.npy").unlink()
    with pytest.raises(IndexFormatError):
        Index.load(path, enc)


def test_overwrite_of_a_hybrid_folder(enc, tmp_path):
    path = hybrid(enc).save(tmp_path / "ix")
    smaller = hybrid(enc, DOCS[:3], kind="binary+rerank")
    smaller.save(path, overwrite=True)
    loaded = Index.load(path, enc)
    assert len(loaded) == 3 and loaded.kind == "binary+rerank"
    assert _results(loaded) == _results(smaller)
    Index.from_texts(DOCS, encoder=enc).save(path, overwrite=True)  # dense over hybrid
    assert not Index.load(path, enc).lexical and not (path / "lexical").exists()
    hybrid(enc).save(path, overwrite=True)  # and hybrid over dense
    assert Index.load(path, enc).lexical


def _checksums(path):
    return {
        p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("kind", KINDS)
def test_loaded_index_can_change_and_save_again_without_touching_its_folder(enc, tmp_path, kind):
    index = hybrid(enc, kind=kind)
    path = index.save(tmp_path / "ix")
    sums = _checksums(path)
    before = _results(index)
    loaded = Index.load(path, enc)
    loaded.add(["a zebra on the mat", "zebra river"], ids=[100, 101])
    loaded.remove([0, 4])
    assert {h.id for h in loaded.search("zebra", k=5, mode="lexical")} == {100, 101}
    assert _checksums(path) == sums  # the saved folder is not modified
    assert _results(Index.load(path, enc)) == before
    second = loaded.save(tmp_path / "ix2")
    again = Index.load(second, enc)
    assert _results(again) == _results(loaded)
    again.add(["one more zebra"], ids=[102])
    assert {h.id for h in again.search("zebra", k=5, mode="lexical")} == {100, 101, 102}
    assert _results(Index.load(second, enc)) == _results(loaded)
    assert _checksums(path) == sums
    # the lexical serials keep growing across the save
    assert again._lexical.next_serial > loaded._lexical.serials.max()


def test_hybrid_settings_without_lexical_entry_are_refused(enc, tmp_path):
    path = hybrid(enc).save(tmp_path / "ix")
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["lexical"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError):
        Index.load(path, enc)


# ----------------------------------------------------------------------------- threads


def test_concurrent_hybrid_searches_and_adds(enc):
    texts = sentences(300, seed=12)
    index = hybrid(enc, texts[:150], ids=list(range(150)))
    queries = sentences(10, seed=13)
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                for q in queries:
                    for mode in ("hybrid", "lexical"):
                        got = index.search(q, k=5, mode=mode)
                        assert mode == "lexical" or len(got) == 5
                        assert all(h.text == texts[h.id] for h in got)
                        assert len({h.id for h in got}) == len(got)
                        scores = [h.score for h in got]
                        assert scores == sorted(scores, reverse=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for t in threads:
        t.start()
    for start in range(150, 300, 25):
        index.add(texts[start : start + 25], ids=list(range(start, start + 25)))
    index.remove(list(range(10, 30)))
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(index) == 280 and len(index._lexical) == 280
    # the same documents indexed afresh: the same dense ranking and the same lexical
    # matches (BM25 scores may differ slightly: tantivy counts removed documents until
    # their segment is merged, as documented)
    fresh = hybrid(enc, [texts[i] for i in index.ids], ids=list(index.ids))
    for q in queries:
        for mode in ("dense", "lexical"):
            got, want = index.search(q, k=280, mode=mode), fresh.search(q, k=280, mode=mode)
            assert {h.id for h in got} == {h.id for h in want}
        assert index.search(q, k=5, mode="dense") == fresh.search(q, k=5, mode="dense")


# ----------------------------------------------------------------------------- Analyzer


def test_analyzer_stems_and_drops_stop_words(enc):
    a = Analyzer()
    assert a.analyze("The cats are running") == ["cat", "run"]
    assert a.analyze("runs") == a.analyze("running")
    index = hybrid(enc, ["he runs daily", "she swims", "the the the"])
    assert [h.text for h in index.search("running", k=3, mode="lexical")] == ["he runs daily"]
    assert index.search("the of and", k=3, mode="lexical") == []


def test_analyzer_options():
    assert Analyzer(stopwords=False).analyze("the cat") == ["the", "cat"]
    custom = Analyzer(stopwords=["Cat", "dog"])
    assert custom.stopwords == ("cat", "dog")
    assert custom.analyze("the cat and the dog sat") == ["the", "and", "the", "sat"]
    raw = Analyzer(language=None, stem=False)
    assert raw.analyze("The Running cats") == ["the", "running", "cats"]
    assert Analyzer(language=None, stem=False, lowercase=False).analyze("The") == ["The"]
    assert Analyzer(ascii_fold=True, stem=False).analyze("café naïve") == ["cafe", "naive"]
    assert Analyzer(stem=False).analyze("café") == ["café"]
    assert Analyzer(language=" English ").language == "english"
    assert Analyzer(language="french").analyze("les chats") == ["chat"]
    assert Analyzer(max_token_length=5, stem=False).analyze("cat elephants") == ["cat"]
    assert Analyzer().analyze("東京 COVID19 naïve!") == ["東京", "covid19", "naïv"]


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"language": "klingon"}, InvalidArgumentError),
        ({"language": 3}, InvalidTypeError),
        ({"language": None}, InvalidArgumentError),  # stem=True needs a language
        ({"language": None, "stem": True, "stopwords": False}, InvalidArgumentError),
        ({"stem": "yes"}, InvalidTypeError),
        ({"lowercase": 1}, InvalidTypeError),
        ({"ascii_fold": None}, InvalidTypeError),
        ({"stopwords": "the"}, InvalidTypeError),
        ({"stopwords": [1, 2]}, InvalidTypeError),
        ({"stopwords": 3}, InvalidTypeError),
        ({"language": "greek", "stopwords": True}, InvalidArgumentError),
        ({"max_token_length": 0}, InvalidArgumentError),
        ({"max_token_length": 2.5}, InvalidTypeError),
    ],
)
def test_bad_analyzer_options(options, error):
    with pytest.raises(error):
        Analyzer(**options)


def test_analyzer_refuses_non_text():
    with pytest.raises(InvalidTypeError):
        Analyzer().analyze(b"cat")


def test_analyzer_dict_round_trip():
    for a in [
        Analyzer(),
        Analyzer(stopwords=["x", "y"], ascii_fold=True),
        Analyzer(language=None, stem=False, stopwords=False, lowercase=False),
        Analyzer(language="greek", stopwords=False, max_token_length=9),
    ]:
        d = a.to_dict()
        json.dumps(d)
        assert Analyzer.from_dict(json.loads(json.dumps(d))) == a
    with pytest.raises(InvalidArgumentError):
        Analyzer.from_dict({"language": "english", "colour": "red"})
    with pytest.raises(InvalidTypeError):
        Analyzer.from_dict(["english"])


def test_analyzer_as_dict_on_the_index(enc):
    index = hybrid(enc, analyzer={"stopwords": False, "stem": False})
    assert index.analyzer == Analyzer(stopwords=False, stem=False)
    assert index.search("the", k=20, mode="lexical")  # "the" is a term now


def test_lone_surrogates_do_not_crash_add_or_search(enc, tmp_path):
    texts = ["the cat \ud800 sat", "a dog \udfff ran", "river \ud83d"]
    index = hybrid(enc, texts)
    assert Analyzer().analyze("cat \ud800 x\udfffy") == ["cat", "x", "y"]
    assert len(index._lexical) == 3
    for mode in MODES:
        assert index.search("cat \ud800", k=3, mode=mode)
        assert isinstance(index.search("\udfff", k=3, mode=mode), list)
    assert index.search("cat", k=1, mode="lexical")[0].text == texts[0]
    loaded = Index.load(index.save(tmp_path / "ix"), enc)
    assert _results(loaded, ["cat \ud800", "dog"]) == _results(index, ["cat \ud800", "dog"])


@settings(max_examples=25, deadline=None)
@given(text=st.text(max_size=40))
def test_analyzer_never_fails_on_any_text(text):
    terms = Analyzer().analyze(text)
    assert all(isinstance(t, str) and t for t in terms)
    assert Analyzer().analyze(text) == terms  # deterministic


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(texts=st.lists(st.text(max_size=20), min_size=1, max_size=6), query=st.text(max_size=12))
def test_any_text_can_be_indexed_and_searched(enc, texts, query):
    index = hybrid(enc, texts)
    assert len(index._lexical) == len(texts)
    for mode in MODES:
        hits = index.search(query, k=len(texts), mode=mode)
        assert all(texts[h.id] == h.text for h in hits)
        for h in hits:
            assert math.isfinite(h.score)
