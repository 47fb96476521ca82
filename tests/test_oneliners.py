"""WordLlama's one-liners on the encoder (issue 16): rank, topk, filter, and similarity on
texts or vectors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sememe.errors import InvalidArgumentError, InvalidTypeError

DOCS = [
    "the cat sat on the mat",
    "stock markets fell sharply today",
    "a kitten slept on a rug",
    "interest rates rise again",
    "",
    "the cat sat on the mat",
]
QUERY = "cats and kittens"


def cosines(enc, query, docs) -> np.ndarray:
    """The reference: cosine of each doc's normalised vector to the query's."""
    return enc.encode(docs, normalize=True) @ enc.encode(query, normalize=True)


def test_rank_gives_every_doc_with_its_cosine_best_first(default) -> None:
    ranked = default.rank(QUERY, DOCS)
    scores = cosines(default, QUERY, DOCS)
    assert sorted(d for d, _ in ranked) == sorted(DOCS)
    assert [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    for doc, score in ranked:
        assert isinstance(doc, str) and isinstance(score, float)
        assert score == pytest.approx(float(scores[DOCS.index(doc)]), abs=1e-6)
    assert ranked[0][0] == "the cat sat on the mat"


def test_rank_unsorted_keeps_the_docs_order(default) -> None:
    ranked = default.rank(QUERY, DOCS, sort=False)
    assert [d for d, _ in ranked] == DOCS
    np.testing.assert_allclose([s for _, s in ranked], cosines(default, QUERY, DOCS), atol=1e-6)


def test_rank_ties_keep_the_docs_order(default) -> None:
    docs = ["same text", "other words", "same text", "same text"]
    ranked = default.rank("same text", docs)
    assert [d for d, _ in ranked][:3] == ["same text"] * 3
    assert ranked[0][1] == ranked[1][1] == ranked[2][1]


def test_rank_matches_wordllama_on_its_own_vectors(default) -> None:
    """WordLlama's rank/topk/filter over the same vectors give the same answers."""
    pytest.importorskip("wordllama")
    from wordllama.inference import WordLlamaInference

    class Stub(WordLlamaInference):  # WordLlama's own rank/topk/filter on sememe's vectors
        def __init__(self) -> None:
            self.binary = False

        def embed(self, texts, norm=False, batch_size=64, **_):
            return np.atleast_2d(default.encode(texts, normalize=True))

    wl = Stub()
    docs = DOCS[:4]
    ours = default.rank(QUERY, docs)
    theirs = wl.rank(QUERY, docs)
    assert [d for d, _ in ours] == [d for d, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-6)
    assert default.topk(QUERY, docs, k=2) == wl.topk(QUERY, docs, k=2)
    for threshold in (-0.5, 0.0, 0.1, 0.3):
        assert default.filter(QUERY, docs, threshold) == wl.filter(QUERY, docs, threshold)


def test_topk_and_filter(default) -> None:
    ranked = [d for d, _ in default.rank(QUERY, DOCS)]
    assert default.topk(QUERY, DOCS) == ranked[:3]
    assert default.topk(QUERY, DOCS, k=1) == ranked[:1]
    assert default.topk(QUERY, DOCS, k=100) == ranked  # fewer docs than k: all of them
    scores = cosines(default, QUERY, DOCS)
    for threshold in (-1.0, 0.0, 0.2, 0.5, 1.0):
        expected = [d for d, s in zip(DOCS, scores, strict=True) if s > threshold]
        assert default.filter(QUERY, DOCS, threshold=threshold) == expected
    assert default.filter(QUERY, DOCS) == [d for d, s in zip(DOCS, scores, strict=True) if s > 0.3]


def test_no_docs_give_empty_answers(default) -> None:
    assert default.rank(QUERY, []) == []
    assert default.topk(QUERY, [], k=2) == []
    assert default.filter(QUERY, []) == []


def test_docs_may_be_any_column_and_the_query_a_vector(default) -> None:
    pd = pytest.importorskip("pandas")
    expected = default.rank(QUERY, DOCS)
    assert default.rank(QUERY, pd.Series(DOCS)) == expected
    assert default.rank(QUERY, (d for d in DOCS)) == expected
    by_vector = default.rank(default.encode(QUERY), DOCS)
    assert [d for d, _ in by_vector] == [d for d, _ in expected]
    np.testing.assert_allclose([s for _, s in by_vector], [s for _, s in expected], atol=1e-6)
    assert default.topk(default.encode(QUERY, normalize=False), DOCS, 2) == [
        d for d, _ in expected[:2]
    ]


def test_dim_applies_to_texts(default) -> None:
    small = default.rank(QUERY, DOCS, dim=64)
    expected = default.encode(DOCS, dim=64) @ default.encode(QUERY, dim=64)
    got = dict(default.rank(QUERY, DOCS[:4], sort=False, dim=64))
    for doc, score in zip(DOCS[:4], expected[:4], strict=True):
        assert got[doc] == pytest.approx(float(score), abs=1e-6)
    assert len(small) == len(DOCS)
    with pytest.raises(InvalidArgumentError, match="query has 256 dimensions but docs has 64"):
        default.rank(default.encode(QUERY), DOCS, dim=64)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda e: e.rank(None, DOCS), InvalidTypeError, "query must be one str or one 1-D"),
        (lambda e: e.rank(["a", "b"], DOCS), InvalidTypeError, "query must be one str"),
        (
            lambda e: e.rank(np.zeros((2, 256), np.float32), DOCS),
            InvalidArgumentError,
            r"of shape \(2, 256\)",
        ),
        (lambda e: e.rank(QUERY, "one doc"), InvalidTypeError, "docs is one str"),
        (lambda e: e.rank(QUERY, ["a", None]), InvalidTypeError, r"docs\[1\] is None"),
        (lambda e: e.rank(QUERY, DOCS, sort="yes"), InvalidTypeError, "sort must be a bool"),
        (lambda e: e.topk(QUERY, DOCS, k=0), InvalidArgumentError, "k must be >= 1"),
        (lambda e: e.topk(QUERY, DOCS, k=2.0), InvalidTypeError, "k must be an integer"),
        (lambda e: e.filter(QUERY, DOCS, threshold=2), InvalidArgumentError, "threshold"),
        (
            lambda e: e.filter(QUERY, DOCS, threshold=float("nan")),
            InvalidArgumentError,
            "finite",
        ),
        (lambda e: e.filter(QUERY, DOCS, threshold="0.3"), InvalidTypeError, "number"),
        (lambda e: e.rank(QUERY, {"a": 1}), InvalidTypeError, "keys or column names"),
    ],
)
def test_bad_arguments_are_clear_errors(default, call, error, pattern) -> None:
    with pytest.raises(error, match=pattern):
        call(default)


# --------------------------------------------------------------------------- similarity


def test_similarity_on_vectors_equals_similarity_on_texts(default) -> None:
    a, b = DOCS[0], DOCS[2]
    va, vb = default.encode(a), default.encode(b)
    text_score = default.similarity(a, b)
    assert isinstance(text_score, float)
    assert default.similarity(va, vb) == pytest.approx(text_score, abs=1e-6)
    assert default.similarity(va, b) == pytest.approx(text_score, abs=1e-6)
    raw = default.encode([a, b], normalize=False)
    assert default.similarity(raw[0], raw[1]) == pytest.approx(text_score, abs=1e-6)
    matrix = default.similarity(default.encode(DOCS), DOCS)
    np.testing.assert_allclose(matrix, default.similarity(DOCS, DOCS), atol=1e-6)
    assert matrix.shape == (len(DOCS), len(DOCS))
    assert default.similarity(a, default.encode(DOCS)).shape == (1, len(DOCS))


def test_similarity_of_a_zero_vector_is_zero(default) -> None:
    zero = np.zeros(default.dim, np.float32)
    assert default.similarity(zero, DOCS[0]) == 0.0
    assert default.similarity("", DOCS[0]) == 0.0


def test_similarity_accepts_torch_tensors(default) -> None:
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(default.encode(DOCS[:2]))
    assert default.similarity(t[0], t[1]) == pytest.approx(
        default.similarity(DOCS[0], DOCS[1]), abs=1e-6
    )


@pytest.mark.parametrize(
    ("a", "b", "error", "pattern"),
    [
        (np.zeros(64, np.float32), "text", InvalidArgumentError, "a has 64 dimensions but b has"),
        (np.zeros(8), np.zeros(9), InvalidArgumentError, "a has 8 dimensions but b has 9"),
        (np.array([np.nan, 1.0]), np.ones(2), InvalidArgumentError, "a contains NaN"),
        (np.zeros((2, 2, 2)), np.ones(2), InvalidArgumentError, "3-D array"),
        (np.array([True, False]), np.ones(2), InvalidArgumentError, "dtype bool"),
        (["a", None], "b", InvalidTypeError, r"a\[1\] is None"),
        (None, "b", InvalidTypeError, "a is None"),
        ("a", {"b": 1}, InvalidTypeError, "b is of type dict"),
    ],
)
def test_similarity_errors(default, a, b, error, pattern) -> None:
    with pytest.raises(error, match=pattern):
        default.similarity(a, b)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.lists(
            st.floats(-10, 10, width=32).filter(lambda v: v == 0 or abs(v) > 1e-3),
            min_size=4,
            max_size=4,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_similarity_of_vectors_is_their_cosine(default, rows) -> None:
    x = np.asarray(rows, np.float32)
    got = default.similarity(x, x)
    norms = np.linalg.norm(x.astype(np.float64), axis=1)
    unit = x / np.where(norms > 1e-12, norms, 1.0)[:, None]
    expected = np.where((norms > 1e-12)[:, None] & (norms > 1e-12)[None, :], unit @ unit.T, 0.0)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.all(np.abs(got) <= 1 + 1e-5)
