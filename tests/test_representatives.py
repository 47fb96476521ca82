"""filter_outliers and find_representative: invariants, a brute-force reference, and the
real SemHash 0.5 (exact backend) on the same vectors giving the same answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import sentences, tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe import Selection, filter_outliers, find_representative
from sememe.errors import InvalidArgumentError, InvalidTypeError

ENC = tiny_encoder(dim=16, seed=3)
POOL = sentences(40, seed=1)


def centrality(texts: list[str], k: int = 100) -> dict[str, float]:
    """The reference: each distinct text's mean cosine to its k most similar others."""
    unique = list(dict.fromkeys(texts))
    vectors = ENC.encode(unique, normalize=True)
    if len(unique) == 1:
        return {unique[0]: 1.0}
    out = {}
    for i, t in enumerate(unique):
        sims = sorted(float(vectors[i] @ vectors[j]) for j in range(len(unique)) if j != i)
        near = sims[-min(k, len(unique) - 1) :]
        out[t] = sum(near) / len(near)
    return out


def mmr_reference(texts: list[str], k: int, diversity: float) -> list[str]:
    unique = list(dict.fromkeys(texts))
    score = centrality(texts)
    ranked = sorted(unique, key=lambda t: -score[t])[: min(max(len(unique) // 10, k, 100), 1000)]
    vec = dict(zip(unique, ENC.encode(unique, normalize=True), strict=True))
    picked = [ranked[0]]
    while len(picked) < min(k, len(ranked)):
        best, gain = None, -math.inf
        for t in ranked:
            if t in picked:
                continue
            close = max(min(max(float(vec[t] @ vec[p]), 0.0), 1.0) for p in picked)
            g = (1 - diversity) * score[t] - diversity * close
            if g > gain + 1e-6:
                best, gain = t, g
        picked.append(best)
    return picked


TEXT_LISTS = st.lists(st.sampled_from(POOL), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=TEXT_LISTS, fraction=st.floats(0.0, 1.0))
def test_outliers_are_the_least_central_share(texts, fraction):
    result = filter_outliers(texts, fraction, encoder=ENC)
    n = len(texts)
    assert len(result.filtered_indices) == math.ceil(n * fraction)
    both = np.concatenate([result.selected_indices, result.filtered_indices])
    assert sorted(both.tolist()) == list(range(n))
    assert result.selected == [texts[i] for i in result.selected_indices]
    assert result.filtered == [texts[i] for i in result.filtered_indices]
    assert np.all(np.diff(result.selected_indices) > 0) and np.all(
        np.diff(result.filtered_indices) > 0
    )
    ref = centrality(texts)
    assert np.allclose(result.scores_selected, [ref[t] for t in result.selected], atol=1e-5)
    assert np.allclose(result.scores_filtered, [ref[t] for t in result.filtered], atol=1e-5)
    if len(result.selected) and len(result.filtered):
        assert result.scores_filtered.max() <= result.scores_selected.min() + 1e-6


def test_copies_share_their_score_and_ties_drop_later_records():
    texts = [POOL[0], POOL[1], POOL[0], POOL[2]]
    result = filter_outliers(texts, 0.0, encoder=ENC)
    scores = dict(zip(result.selected_indices.tolist(), result.scores_selected, strict=True))
    assert scores[0] == scores[2]
    one = filter_outliers([POOL[0]] * 4, 0.25, encoder=ENC)
    assert one.filtered_indices.tolist() == [3] and one.scores_filtered.tolist() == [1.0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=TEXT_LISTS, k=st.integers(1, 12), diversity=st.floats(0.0, 1.0))
def test_representatives_are_distinct_inputs_picked_by_mmr(texts, k, diversity):
    result = find_representative(texts, k, diversity=diversity, encoder=ENC)
    distinct = list(dict.fromkeys(texts))
    assert len(result.selected) == min(k, len(distinct))
    assert len(set(result.selected)) == len(result.selected)
    # Each representative is a record, the first of its copies.
    assert [texts.index(t) for t in result.selected] == result.selected_indices.tolist()
    assert sorted(result.filtered_indices.tolist()) == sorted(
        set(range(len(texts))) - set(result.selected_indices.tolist())
    )
    ref = mmr_reference(texts, k, diversity)
    assert result.selected[0] == ref[0]  # the most central comes first
    scores = centrality(texts)
    # Exact ties aside, the picks are the reference's.
    if len({round(v, 5) for v in scores.values()}) == len(scores):
        assert result.selected == ref


def test_zero_diversity_gives_the_most_central_in_order():
    result = find_representative(POOL, 5, diversity=0.0, encoder=ENC)
    scores = centrality(POOL)
    assert result.selected == sorted(POOL, key=lambda t: -scores[t])[:5]
    assert np.all(np.diff(result.scores_selected) <= 1e-7)


def test_candidate_limit_and_more_k_than_texts():
    limited = find_representative(POOL, 10, candidate_limit=3, encoder=ENC)
    assert len(limited.selected) == 3
    scores = centrality(POOL)
    assert set(limited.selected) == set(sorted(POOL, key=lambda t: -scores[t])[:3])
    assert len(find_representative(POOL[:4] * 2, 10, encoder=ENC).selected) == 4


def test_records_with_a_key_and_pandas():
    pd = pytest.importorskip("pandas")
    records = [{"id": i, "text": t} for i, t in enumerate(POOL[:12])]
    result = filter_outliers(records, 0.25, encoder=ENC)
    assert all(isinstance(r, dict) for r in result.selected + result.filtered)
    frame = pd.DataFrame({"body": POOL[:12], "n": range(12)})
    by_frame = filter_outliers(frame, 0.25, key="body", encoder=ENC)
    assert list(by_frame.filtered.index) == result.filtered_indices.tolist()
    reps = find_representative(frame, 3, key="body", encoder=ENC)
    assert list(reps.selected["body"]) == [POOL[i] for i in reps.selected_indices]
    assert repr(reps) == "Selection(selected=3, filtered=9)"
    assert isinstance(reps, Selection) and sememe.Selection is Selection


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: filter_outliers([], encoder=ENC), InvalidArgumentError, "records is empty"),
        (lambda: filter_outliers("one text"), InvalidTypeError, "single str"),
        (lambda: filter_outliers(["a", None]), InvalidTypeError, r"records\[1\] is None"),
        (lambda: filter_outliers(["a"], 1.5), InvalidArgumentError, "outlier_fraction"),
        (lambda: filter_outliers(["a"], math.nan), InvalidArgumentError, "outlier_fraction"),
        (
            lambda: filter_outliers(["a"], n_neighbors=0, encoder=ENC),
            InvalidArgumentError,
            "n_neighbors",
        ),
        (lambda: find_representative(["a"], 0), InvalidArgumentError, "k must be >= 1"),
        (lambda: find_representative(["a"], 2.0), InvalidTypeError, "k must be an integer"),
        (lambda: find_representative(["a"], diversity=2), InvalidArgumentError, "diversity"),
        (
            lambda: find_representative(["a"], candidate_limit="all"),
            InvalidArgumentError,
            "candidate_limit",
        ),
        (
            lambda: find_representative(["a"], candidate_limit=0),
            InvalidArgumentError,
            "candidate_limit",
        ),
        (lambda: find_representative(["a"], encoder=3.5), InvalidTypeError, "encoder must be"),
    ],
)
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_blank_texts_score_zero():
    texts = [*POOL[:9], "   ", ""]
    result = filter_outliers(texts, 0.0, encoder=ENC)
    assert result.scores_selected[-2:].tolist() == [0.0, 0.0]


# ----------------------------------------------------------------------------- SemHash
def test_same_answers_as_semhash(default):
    semhash = pytest.importorskip("semhash")
    from vicinity import Backend

    lines = Path("examples/data/sample.txt").read_text(encoding="utf-8").splitlines()
    lines = list(dict.fromkeys(s for s in lines if s.strip()))[:300]

    class Model:  # SemHash's encoder protocol, on the same vectors
        def encode(self, texts, **kwargs):
            return default.encode(list(texts), normalize=True)

    sh = semhash.SemHash.from_records(lines, model=Model(), ann_backend=Backend.BASIC)
    theirs = sh.self_filter_outliers(outlier_percentage=0.1)
    ours = filter_outliers(lines, 0.1, encoder=default)
    assert set(theirs.filtered) == set(ours.filtered)
    assert len(ours.filtered) == math.ceil(len(lines) * 0.1) > 0
    for diversity in (0.0, 0.5, 0.9):
        theirs = sh.self_find_representative(selection_size=8, diversity=diversity)
        ours = find_representative(lines, 8, diversity=diversity, encoder=default)
        assert ours.selected == theirs.selected, diversity
