"""Tests for sememe.clustering: cluster(), Clusters, TextClusterer and `sememe cluster`."""

from __future__ import annotations

import gzip
import json
import pickle
import sys

import numpy as np
import pytest
from conftest import SHARED, tiny_encoder, word_tokenizer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import v_measure_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import sememe
from sememe.cli.main import main
from sememe.clustering import Clusters, TextClusterer, cluster

TOPICS = {
    "pets": ["cat", "dog", "sat", "mat", "ran", "park"],
    "money": ["stock", "market", "fell", "sharply", "bank", "money", "loan", "interest", "rate"],
    "water": ["river", "water", "fish", "swim"],
}


# --------------------------------------------------------------------------- sklearn's checks

# Every check runs in the vector form of X (scikit-learn's checks feed numeric arrays);
# the text form is exercised by the tests below. None is expected to fail: vectors are
# validated as scikit-learn does (NaN, 1-d input, wrong width), and clustering is
# deterministic for a given random_state. A small k_range keeps the automatic k fast.


@parametrize_with_checks(
    [TextClusterer(3), TextClusterer(k_range=(2, 3)), TextClusterer(3, method="agglomerative")]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_vectors_and_texts_give_the_same_clusters():
    enc = tiny_encoder()
    texts, _ = topic_texts(10)
    by_text = TextClusterer(3, encoder=enc).fit(texts)
    vectors = enc.encode(texts, normalize=True)
    by_vector = TextClusterer(3, encoder=enc).fit(vectors)
    assert v_measure_score(by_text.labels_, by_vector.labels_) == pytest.approx(1.0)
    assert by_vector.n_features_in_ == vectors.shape[1] == by_text.n_features_in_
    np.testing.assert_array_equal(by_vector.predict(vectors), by_vector.labels_)
    with pytest.raises(ValueError, match="features"):
        by_vector.predict(vectors[:, :3])


def topic_texts(n_per_topic: int = 20, seed: int = 0) -> tuple[list[str], list[str]]:
    """Texts of 3-5 words drawn from one topic each, and their topics."""
    rng = np.random.default_rng(seed)
    texts, topics = [], []
    for topic, words in TOPICS.items():
        for _ in range(n_per_topic):
            size = int(rng.integers(3, 6))
            texts.append(" ".join(rng.choice(words, size=size)))
            topics.append(topic)
    return texts, topics


def topic_encoder(dim: int = 32, noise: float = 0.6, seed: int = 1) -> sememe.Encoder:
    """A tiny encoder whose word vectors are their topic's direction plus noise."""
    tokenizer = word_tokenizer()
    vocab = tokenizer.get_vocab()
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((len(vocab), dim)).astype(np.float32)
    for words in TOPICS.values():
        centre = rng.standard_normal(dim)
        for w in words:
            table[vocab[w]] = centre + noise * rng.standard_normal(dim)
    config = sememe.ModelConfig(dim=dim, vocab_size=len(vocab), name="topics")
    return sememe.Encoder(tokenizer, table, config=config)


@pytest.fixture(scope="module")
def enc():
    return topic_encoder()


# --------------------------------------------------------------------------- cluster()


def test_kmeans_recovers_topics(enc):
    texts, topics = topic_texts()
    result = cluster(texts, 3, encoder=enc)
    assert isinstance(result, Clusters)
    assert result.n_clusters == 3 and len(result) == 3
    assert v_measure_score(topics, result.labels) > 0.9
    assert result.labels.shape == (len(texts),)
    assert result.sizes.tolist() == sorted(result.sizes.tolist(), reverse=True)
    assert result.sizes.sum() == len(texts)
    np.testing.assert_allclose(np.linalg.norm(result.centroids, axis=1), 1.0, rtol=1e-5)
    assert ((result.distances >= 0) & (result.distances <= 2)).all()


def test_automatic_k_finds_the_topics(enc):
    texts, topics = topic_texts(30)
    result = cluster(texts, encoder=enc)
    assert result.n_clusters == 3
    assert set(result.k_scores) >= {2, 3, 4}
    assert max(result.k_scores, key=result.k_scores.get) == 3
    assert v_measure_score(topics, result.labels) > 0.9


def test_same_seed_same_clusters(enc):
    texts, _ = topic_texts(40, seed=3)
    a = cluster(texts, 5, encoder=enc, seed=7)
    b = cluster(texts, 5, encoder=enc, seed=7)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.centroids, b.centroids)


def test_distances_are_cosine_distance_to_own_centroid(enc):
    texts, _ = topic_texts(10)
    result = cluster(texts, 3, encoder=enc)
    vectors = enc.encode(texts, normalize=True)
    expected = 1 - np.einsum("ij,ij->i", vectors, result.centroids[result.labels])
    np.testing.assert_allclose(result.distances, expected, atol=1e-5)
    far = result.outliers(3)
    assert (result.distances[far[0]] >= result.distances[result.labels >= 0]).all()


def test_representatives_are_nearest_distinct_members(enc):
    texts, _ = topic_texts(15)
    texts = texts + texts[:5]  # duplicates must not repeat among representatives
    result = cluster(texts, 3, encoder=enc)
    reps = result.representatives(4)
    assert len(reps) == 3
    for label, group in enumerate(reps):
        assert len(group) == len(set(group)) == 4
        rows = [texts.index(t) for t in group]
        assert all(result.labels[r] == label for r in rows)
        members = result.members(label)
        assert result.distances[rows[0]] == pytest.approx(result.distances[members].min())


def test_keywords_name_each_topic(enc):
    texts, topics = topic_texts(20)
    result = cluster(texts, 3, encoder=enc)
    for label, words in enumerate(result.keywords(3)):
        topic = topics[int(result.members(label)[0])]
        assert len(words) == 3
        assert set(words) <= set(TOPICS[topic])


def test_keywords_skip_stop_words_and_handle_no_terms(enc):
    result = cluster(["the cat", "the dog", "a river", "1 2"], 2, encoder=enc)
    assert all("the" not in words for words in result.keywords())
    only_digits = cluster(["1 cat", "2 2 dog", "3 river"], 2, encoder=enc, k_range=None)
    no_terms = cluster(["1", "2 2", "33"], 1, encoder=enc)
    assert no_terms.keywords() == [[]]
    assert all(words and words[0] in "cat dog river" for words in only_digits.keywords())


def test_texts_with_identical_vectors_can_give_fewer_clusters():
    # "1", "2" and "3" are all the unknown token here: one point, so one non-empty cluster.
    result = cluster(["1", "2", "3"], 2, encoder=tiny_encoder(dim=8))
    assert result.n_clusters == 1 and result.labels.tolist() == [0, 0, 0]


def test_duplicates_and_blanks(enc):
    texts = ["cat dog", "", "river fish", "cat dog", "   ", "river fish", "stock market"]
    result = cluster(texts, 3, encoder=enc)
    assert result.labels[1] == result.labels[4] == -1
    assert result.distances[1] == result.distances[4] == 1.0
    assert result.labels[0] == result.labels[3] and result.labels[2] == result.labels[5]
    assert result.n_noise == 2
    assert sorted(result.sizes.tolist()) == [1, 2, 2]
    assert result.vector_index[1] == -1 and result.vector_index[0] == result.vector_index[3]


def test_k_equal_to_distinct_texts_puts_each_alone(enc):
    texts = ["cat", "dog", "river", "cat", "river"]
    result = cluster(texts, 3, encoder=enc)
    assert result.n_clusters == 3
    assert len({result.labels[0], result.labels[1], result.labels[2]}) == 3


@pytest.mark.parametrize(
    ("texts", "k", "error", "match"),
    [
        ([], 2, ValueError, "texts is empty"),
        (["", " \t"], 2, ValueError, "empty or whitespace"),
        (["cat", "dog"], 3, ValueError, r"n_clusters=3 is larger than the 2 distinct"),
        (["cat", "dog", "dog"], 3, ValueError, "use n_clusters <= 2"),
        (["cat", "dog"], 0, ValueError, "n_clusters must be >= 1"),
        (["cat", "dog"], -2, ValueError, "n_clusters must be >= 1"),
        (["cat", "dog"], 1.5, TypeError, "n_clusters must be an int"),
        (["cat", "dog"], True, TypeError, "n_clusters must be an int"),
        (None, 2, TypeError, "texts is None"),
        (["cat", None, "dog"], 2, TypeError, r"texts\[1\] is None; expected str"),
        (["cat", "dog", 3], 2, TypeError, r"texts\[2\] is of type int"),
    ],
)
def test_bad_input_gives_clear_errors(enc, texts, k, error, match):
    with pytest.raises(error, match=match):
        cluster(texts, k, encoder=enc)


def test_bad_method_and_options(enc):
    with pytest.raises(ValueError, match="method must be one of"):
        cluster(["cat", "dog"], 2, method="dbscan", encoder=enc)
    with pytest.raises(ValueError, match="hdbscan finds the number of clusters itself"):
        cluster(["cat", "dog"], 2, method="hdbscan", encoder=enc)
    with pytest.raises(TypeError, match="encoder must be"):
        cluster(["cat", "dog"], 2, encoder=42)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        cluster(["cat", "dog"], 2, encoder=enc).representatives(0)


def test_one_cluster_and_single_text(enc):
    result = cluster(["cat dog", "river fish"], 1, encoder=enc)
    assert result.labels.tolist() == [0, 0]
    alone = cluster("cat", encoder=enc)
    assert alone.labels.tolist() == [0] and alone.texts == ["cat"]


def test_hdbscan_keeps_noise(enc):
    texts, topics = topic_texts(15)
    odd = ["quick", "brown", "fox", "jumps", "over", "lazy", "today"]  # unrelated words
    result = cluster([*texts, *odd], method="hdbscan", min_cluster_size=5, encoder=enc)
    assert result.method == "hdbscan" and result.n_clusters == 3
    labels = result.labels
    assert v_measure_score(topics, labels[: len(texts)]) > 0.9
    assert (labels[: len(texts)] >= 0).all()
    assert (labels[len(texts) :] == -1).sum() >= 3  # outliers stay noise
    noise = labels == -1
    assert result.distances[noise].min() > np.median(result.distances[~noise])
    assert result.sizes.sum() + result.n_noise == len(texts) + len(odd)
    assert result.k_scores == {}


def test_agglomerative(enc):
    texts, topics = topic_texts(15)
    result = cluster(texts, 3, method="agglomerative", encoder=enc)
    assert result.n_clusters == 3
    assert v_measure_score(topics, result.labels) > 0.9
    np.testing.assert_allclose(np.linalg.norm(result.centroids, axis=1), 1.0, rtol=1e-5)


def test_matryoshka_dim(enc):
    texts, _ = topic_texts(5)
    result = cluster(texts, 3, encoder=enc, dim=8)
    assert result.centroids.shape == (3, 8)


# --------------------------------------------------------------------------- export


def test_records_dict_and_repr(enc):
    texts = ["cat dog", "", "river fish", "stock market"]
    result = cluster(texts, 2, encoder=enc)
    records = result.to_records()
    assert [r["text"] for r in records] == texts
    assert records[1]["label"] == -1
    assert {r["label"] for r in records} == {-1, 0, 1}
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["labels"] == result.labels.tolist() and payload["n_clusters"] == 2
    text = repr(result)
    assert "n_clusters=2" in text and "noise=1" in text
    summaries = result.describe(n_keywords=2)
    assert [s.label for s in summaries] == [0, 1]
    assert [s.size for s in summaries] == result.sizes.tolist()


def test_to_dataframe(enc, monkeypatch):
    result = cluster(["cat", "dog", "river"], 2, encoder=enc)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            result.to_dataframe()
    else:
        frame = result.to_dataframe()
        assert list(frame.columns) == ["text", "label", "distance"]
        assert frame["label"].tolist() == result.labels.tolist()


def test_plot_writes_an_image(enc, tmp_path):
    pytest.importorskip("matplotlib")
    texts, _ = topic_texts(10)
    result = cluster([*texts, ""], 3, encoder=enc)
    out = tmp_path / "map.png"
    fig = result.plot(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.axes


def test_plot_without_matplotlib_names_the_extra(enc, monkeypatch):
    result = cluster(["cat", "dog"], 2, encoder=enc)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"sememe\[plot\]"):
        result.plot("x.png")


# --------------------------------------------------------------------------- invariants


TEXTS = st.lists(
    st.one_of(
        st.just(""),
        st.just("  "),
        st.lists(
            st.sampled_from([w for words in TOPICS.values() for w in words]), min_size=1, max_size=4
        ).map(" ".join),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=TEXTS, k=st.integers(1, 6), seed=st.integers(0, 3))
def test_labels_are_consistent_for_any_input(texts, k, seed):
    enc = tiny_encoder(dim=16, seed=2)
    distinct = {t for t in texts if t.strip()}
    if not distinct or k > len(distinct):
        with pytest.raises(ValueError):
            cluster(texts, k, encoder=enc, seed=seed)
        return
    result = cluster(texts, k, encoder=enc, seed=seed)
    labels = result.labels
    blank = np.array([not t.strip() for t in texts])
    assert (labels[blank] == -1).all() and (labels[~blank] >= 0).all()
    assert (labels < result.n_clusters).all() and 1 <= result.n_clusters <= k
    assert result.sizes.tolist() == np.bincount(labels[~blank], minlength=k)[: len(result)].tolist()
    assert (result.sizes > 0).all()
    assert result.sizes.sum() + result.n_noise == len(texts)
    first = {}
    for t, lab in zip(texts, labels.tolist(), strict=True):
        assert first.setdefault(t, lab) == lab  # duplicates share a label


# --------------------------------------------------------------------------- estimator


def test_text_clusterer_fit_predict_transform(enc):
    texts, _ = topic_texts(15)
    model = TextClusterer(n_clusters=3, encoder=enc, random_state=0)
    assert model.fit(texts) is model
    assert model.labels_.shape == (len(texts),) and model.n_clusters_ == 3
    assert model.cluster_centers_.shape == (3, enc.dim)
    np.testing.assert_array_equal(model.predict(texts), model.labels_)
    np.testing.assert_array_equal(model.fit_predict(texts), model.labels_)
    distances = model.transform(["cat dog", "", "river fish"])
    assert distances.shape == (3, 3)
    assert model.predict(["", "river water fish"])[0] == -1
    assert isinstance(model.clusters_, Clusters)


def test_text_clusterer_sklearn_contract(enc):
    model = TextClusterer(n_clusters=2, encoder=enc)
    with pytest.raises(NotFittedError):
        model.predict(["cat"])
    params = model.get_params()
    assert params["n_clusters"] == 2 and params["method"] == "kmeans"
    assert clone(model).get_params()["encoder"] is enc
    model.set_params(n_clusters=3)
    assert model.n_clusters == 3
    texts, _ = topic_texts(5)
    fitted = TextClusterer(n_clusters=3).fit(texts)  # bundled model: pickles by name
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(texts), fitted.predict(texts))
    tags = model.__sklearn_tags__()
    # texts, and (since issue 14, for scikit-learn's estimator checks) vectors
    assert tags.input_tags.string and tags.input_tags.two_d_array


def test_text_clusterer_in_a_pipeline(enc):
    from sklearn.preprocessing import FunctionTransformer

    texts, _ = topic_texts(5)
    pipe = make_pipeline(FunctionTransformer(lambda xs: [x.lower() for x in xs]), TextClusterer(3))
    labels = pipe.fit_predict([t.upper() for t in texts])
    assert len(labels) == len(texts)


# --------------------------------------------------------------------------- CLI


def test_cli_writes_labels_and_prints_table(tmp_path, capsys):
    data = tmp_path / "in.jsonl"
    texts, _ = topic_texts(6)
    rows = [{"id": i, "body": t} for i, t in enumerate([*texts, ""])]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["cluster", str(data), "-k", "3", "--field", "body", "-o", str(out)]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| cluster | size | keywords | representative |")
    assert "| -1 | 1 | (noise or blank) |" in table
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [w["id"] for w in written] == list(range(len(rows)))
    assert written[-1]["cluster"] == -1
    assert {w["cluster"] for w in written[:-1]} == {0, 1, 2}
    assert all(0 <= w["cluster_distance"] <= 2 for w in written)


def test_cli_cluster_count_is_n_and_k_a_deprecated_alias(tmp_path, capsys):
    """``-k`` is top-k in ``search``; the cluster count is ``-n``/``--clusters`` and
    ``-k`` keeps working here, marked deprecated in the help."""
    data = tmp_path / "in.txt"
    data.write_text("cats purr\ndogs bark\nstocks fell\nbonds rose\n", encoding="utf-8")
    outs = []
    for flag in ("-n", "--clusters", "-k"):
        out = tmp_path / f"labels{flag}.txt"
        assert main(["cluster", str(data), flag, "2", "-q", "-o", str(out)]) == 0
        outs.append(out.read_text())
    assert outs[0] == outs[1] == outs[2] and len(set(outs[0].split())) == 2
    with pytest.raises(SystemExit):
        main(["cluster", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert (
        "-n CLUSTERS, --clusters CLUSTERS" in help_text and "-k is a deprecated alias" in help_text
    )


def test_cli_gz_output_is_compressed_in_its_format(tmp_path):
    data = tmp_path / "in.jsonl"
    rows = [{"text": t} for t in ("cats purr", "dogs bark", "stocks fell", "bonds rose")]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "labels.jsonl.gz"
    assert main(["cluster", str(data), "-n", "2", "-q", "-o", str(out)]) == 0
    written = [json.loads(line) for line in gzip.decompress(out.read_bytes()).splitlines()]
    assert [w["text"] for w in written] == [r["text"] for r in rows]
    assert all("cluster" in w for w in written)


def test_cli_txt_and_csv_outputs(tmp_path, capsys):
    data = tmp_path / "in.txt"
    data.write_text("cats purr\ndogs bark\n\nstocks fell\nbonds rose\n", encoding="utf-8")
    labels = tmp_path / "labels.txt"
    assert main(["cluster", str(data), "-k", "2", "-q", "-o", str(labels)]) == 0
    assert capsys.readouterr().out == ""
    lines = labels.read_text().splitlines()
    assert len(lines) == 5 and lines[2] == "-1"
    table = tmp_path / "labels.csv"
    assert main(["cluster", str(data), "-k", "2", "-q", "-o", str(table)]) == 0
    header, *rows = table.read_text().splitlines()
    assert header == "text,cluster,cluster_distance" and len(rows) == 5


def test_cli_errors_are_one_line(tmp_path, capsys):
    data = tmp_path / "in.txt"
    data.write_text("a\nb\n", encoding="utf-8")
    assert main(["cluster", str(data), "-k", "5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("sememe: error: n_clusters=5 is larger") and err.count("\n") == 1
    assert main(["cluster", str(tmp_path / "missing.txt")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_cli_plot(tmp_path):
    pytest.importorskip("matplotlib")
    data = tmp_path / "in.txt"
    data.write_text("cats purr\ndogs bark\nstocks fell\nbonds rose\n", encoding="utf-8")
    image = tmp_path / "map.png"
    assert main(["cluster", str(data), "-k", "2", "-q", "--plot", str(image)]) == 0
    assert image.stat().st_size > 1000


# --------------------------------------------------------------------------- realism


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared")
def test_bundled_model_separates_banking_intents():
    path = SHARED / "eval" / "banking77" / "train.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    chosen = ["card_arrival", "exchange_rate", "lost_or_stolen_phone", "age_limit", "top_up_failed"]
    rows = [r for r in rows if r["label"] in chosen]
    result = cluster([r["text"] for r in rows], len(chosen))
    assert v_measure_score([r["label"] for r in rows], result.labels) > 0.6


# --------------------------------------------------------------------------- reliability


def _check_consistent(result: Clusters, texts: list[str]) -> None:
    """What any result must satisfy, a result without clusters included."""
    k = result.n_clusters
    assert result.labels.shape == (len(texts),) and result.labels.dtype == np.int64
    assert set(result.labels.tolist()) <= set(range(-1, k))
    assert result.centroids.shape[0] == k == len(result.sizes)
    assert result.sizes.sum() + result.n_noise == len(texts)
    assert len(result.keywords()) == len(result.representatives()) == k
    assert [s.label for s in result.describe()] == list(range(k))
    assert np.isfinite(result.distances).all()
    json.dumps(result.to_dict())
    assert len(result.to_records()) == len(texts)
    assert len(result.outliers()) <= len(texts)


@pytest.mark.parametrize(
    "texts",
    [
        ["cat dog"] * 50,  # every copy of one text: HDBSCAN never makes the root a cluster
        ["cat"],
        ["cat dog", "stock market", "river fish", "cat", "dog", "bank", "loan", "swim", "water"],
    ],
    ids=["50-identical", "one-text", "nine-texts"],
)
def test_hdbscan_finding_no_cluster_is_a_valid_result(enc, texts):
    """All noise used to raise IndexError while renumbering the (absent) clusters."""
    from sememe.cli.cluster import format_table

    result = cluster(texts, method="hdbscan", encoder=enc)
    assert result.n_clusters == 0 and result.n_noise == len(texts)
    assert (result.labels == -1).all()
    assert result.centroids.shape == (0, enc.dim)
    assert result.keywords() == [] and result.representatives() == [] and result.describe() == []
    assert (result.distances == 1.0).all()  # no centroid to measure against
    _check_consistent(result, texts)
    assert "(noise or blank)" in format_table(result)
    assert result.members(-1).tolist() == list(range(len(texts)))


@pytest.mark.parametrize("method", ["kmeans", "hdbscan", "agglomerative"])
@pytest.mark.parametrize(
    "texts",
    [[], ["cat"], ["cat", "river"], ["cat dog"] * 7, ["", " ", "\t\n"], ["", "cat", ""]],
    ids=["empty", "one", "two", "identical", "all-blank", "one-among-blanks"],
)
def test_every_method_on_degenerate_inputs(enc, method, texts):
    """A clear sememe error or a consistent result, whatever the method."""
    try:
        result = cluster(texts, method=method, encoder=enc)
    except sememe.errors.SememeError as exc:
        assert isinstance(exc, ValueError)
        assert not any(t.strip() for t in texts)  # only empty / blank input is refused
        assert "nothing to cluster" in str(exc)
        return
    _check_consistent(result, texts)
    copies = [i for i, t in enumerate(texts) if t == texts[-1]]
    assert len(set(result.labels[copies].tolist())) == 1


@pytest.mark.parametrize("method", ["kmeans", "hdbscan", "agglomerative"])
def test_many_copies_of_one_text_cluster_as_one_point(enc, method):
    """20,000 copies took 174 s with HDBSCAN, which saw every copy; now distinct texts are
    clustered once (k-means: weighted; HDBSCAN: at most min_cluster_size copies)."""
    import time

    others, _ = topic_texts(4)
    texts = ["the cat sat on the mat"] * 20_000 + others
    t0 = time.perf_counter()
    result = cluster(
        texts, method=method, encoder=enc, n_clusters=None if method == "hdbscan" else 3
    )
    assert time.perf_counter() - t0 < 5.0
    assert len(set(result.labels[:20_000].tolist())) == 1
    _check_consistent(result, texts)
    if result.labels[0] >= 0:
        assert result.sizes[result.labels[0]] >= 20_000  # every copy counted


def test_hdbscan_with_few_duplicates_is_hdbscan_on_every_copy(enc):
    """Texts repeated at most min_cluster_size times are passed to HDBSCAN with every copy,
    so the result is exactly scikit-learn's on the full input."""
    from sklearn.cluster import HDBSCAN

    texts, _ = topic_texts(8)
    texts = texts + texts[:10] + texts[:3] + ["quick brown fox"]
    result = cluster(texts, method="hdbscan", min_cluster_size=4, encoder=enc)
    direct = HDBSCAN(min_cluster_size=4, copy=True).fit_predict(enc.encode(texts, normalize=True))
    assert v_measure_score(direct, result.labels) == pytest.approx(1.0)
    assert ((direct == -1) == (result.labels == -1)).all()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"min_cluster_size": 0}, ValueError, "min_cluster_size must be an int >= 1"),
        ({"min_cluster_size": 2.5}, TypeError, "min_cluster_size must be an int"),
        ({"min_cluster_size": True}, TypeError, "min_cluster_size must be an int"),
        ({"n_init": 0}, ValueError, "n_init must be an int >= 1"),
        ({"n_init": float("nan")}, TypeError, "n_init must be an int"),
        ({"k_range": (3, 2)}, ValueError, "k_range must be"),
        ({"k_range": (0, 2)}, ValueError, r"k_range\[0\] must be >= 1"),
        ({"k_range": "ab"}, TypeError, "k_range must be a pair"),
        ({"k_range": (2.0, 3)}, TypeError, r"k_range\[0\] must be an integer"),
        ({"seed": 1.5}, TypeError, "seed must be an integer"),
        ({"seed": None}, TypeError, "seed must be an integer"),
        ({"dim": 0}, ValueError, "dim must be an int >= 1"),
        ({"method": "dbscan"}, ValueError, "method must be one of"),
    ],
)
def test_bad_options_are_sememe_errors_raised_before_encoding(enc, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        cluster(["cat", "dog", "river"], **kwargs, encoder=enc)
    assert isinstance(info.value, sememe.errors.SememeError)


def test_text_clusterer_bad_parameters_leave_it_unfitted(enc):
    model = TextClusterer(method="hdbscan", min_cluster_size=-1, encoder=enc)
    with pytest.raises(ValueError, match="min_cluster_size"):
        model.fit(["cat", "dog"])
    assert not hasattr(model, "labels_")
    with pytest.raises(ValueError, match="n_clusters must be >= 1"):
        TextClusterer(0, encoder=enc).fit(["cat", "dog"])
    with pytest.raises(TypeError, match="seed must be an integer"):
        TextClusterer(2, encoder=enc, random_state="x").fit(["cat", "dog"])
    # An all-noise fit is a fitted model whose predictions are all noise.
    fitted = TextClusterer(method="hdbscan", encoder=enc).fit(["cat"])
    assert fitted.n_clusters_ == 0 and fitted.predict(["cat", "dog"]).tolist() == [-1, -1]
    assert fitted.transform(["cat"]).shape == (1, 0)


def test_result_lookups_give_sememe_errors(enc):
    result = cluster(["cat", "dog"], 2, encoder=enc)
    with pytest.raises(IndexError, match=r"label 5 is outside -1..1") as info:
        result.members(5)
    assert isinstance(info.value, sememe.errors.SememeError)
    with pytest.raises(TypeError, match="label must be an integer"):
        result.members("0")
    with pytest.raises(ValueError, match="max_texts must be an int >= 1"):
        result.keywords(max_texts=0)


def test_plot_of_a_result_without_clusters(enc, tmp_path):
    pytest.importorskip("matplotlib")
    result = cluster(["cat dog"] * 20, method="hdbscan", encoder=enc)
    fig = result.plot(tmp_path / "noise.png")
    assert (tmp_path / "noise.png").stat().st_size > 0 and fig.axes
