"""Tests for sememe.classify: StaticEmbedder, StaticClassifier, save/load, fine-tuning, CLI."""

from __future__ import annotations

import json
import pickle
import sys

import numpy as np
import pytest
from conftest import SHARED, word_tokenizer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

import sememe
from sememe.classify import (
    FINE_TUNE_MODES,
    HEADS,
    ClassifierFormatError,
    StaticClassifier,
    StaticEmbedder,
    evaluate_holdout,
)
from sememe.classify._heads import LinearHead, MLPHead, freeze
from sememe.cli.main import main
from sememe.errors import InvalidArgumentError, ModelFormatError

TOPICS = {
    "pets": ["cat", "dog", "sat", "mat", "ran", "park"],
    "money": ["stock", "market", "fell", "sharply", "bank", "money", "loan", "interest", "rate"],
    "water": ["river", "water", "fish", "swim"],
}


def topic_encoder(dim: int = 16, seed: int = 1) -> sememe.Encoder:
    """A tiny encoder whose word vectors are their topic's direction plus noise."""
    tokenizer = word_tokenizer()
    vocab = tokenizer.get_vocab()
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((len(vocab), dim)).astype(np.float32)
    for words in TOPICS.values():
        centre = rng.standard_normal(dim)
        for w in words:
            table[vocab[w]] = centre + 0.6 * rng.standard_normal(dim)
    config = sememe.ModelConfig(dim=dim, vocab_size=len(vocab), name="topics")
    return sememe.Encoder(tokenizer, table, config=config)


def topic_data(n: int = 20, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for topic, words in TOPICS.items():
        for _ in range(n):
            texts.append(" ".join(rng.choice(words, size=int(rng.integers(2, 5)))))
            labels.append(topic)
    return texts, labels


@pytest.fixture(scope="module")
def enc() -> sememe.Encoder:
    return topic_encoder()


# --------------------------------------------------------------------------- sklearn's checks


# Every check runs in the vector form of X (sklearn's checks feed numeric arrays); the
# text form is exercised by the tests below. The mlp head passes too but takes ~25 s,
# so it is left out here (see docs/classify.md).
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "LinearSVC (liblinear) is not exactly equivalent under weights vs repetition; "
        "scikit-learn expects the same failure of LinearSVC itself"
    ),
}


def _expected_failures(estimator):
    if isinstance(estimator, StaticClassifier) and estimator.head == "linear_svm":
        return EXPECTED_FAILURES
    return {}


@parametrize_with_checks(
    [
        StaticClassifier(),
        StaticClassifier("ridge"),
        StaticClassifier("linear_svm"),
        StaticEmbedder(),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_tags_declare_text_input():
    for est in (StaticClassifier(), StaticEmbedder()):
        tags = est.__sklearn_tags__()
        assert tags.input_tags.string and tags.input_tags.two_d_array
    assert StaticClassifier().__sklearn_tags__().classifier_tags.multi_label
    assert not StaticEmbedder().__sklearn_tags__().requires_fit


# --------------------------------------------------------------------------- embedder


def test_embedder_gives_the_encoders_vectors(enc):
    texts, _ = topic_data(3)
    emb = StaticEmbedder(encoder=enc)
    assert emb.fit(texts) is emb
    np.testing.assert_array_equal(emb.transform(texts), enc.encode(texts))
    assert StaticEmbedder(encoder=enc, dim=8).transform(texts).shape == (len(texts), 8)
    names = emb.get_feature_names_out()
    assert len(names) == enc.dim and names[0] == "staticembedder0"


def test_embedder_in_a_pipeline(enc):
    texts, labels = topic_data()
    pipe = make_pipeline(StaticEmbedder(encoder=enc), LogisticRegression())
    assert pipe.fit(texts, labels).score(texts, labels) == 1.0


# --------------------------------------------------------------------------- classifier


def test_classifier_learns_topics_from_text(enc):
    texts, labels = topic_data()
    test_texts, test_labels = topic_data(10, seed=5)
    clf = StaticClassifier(encoder=enc)
    assert clf.fit(texts, labels) is clf
    assert clf.classes_.tolist() == ["money", "pets", "water"]
    assert clf.score(test_texts, test_labels) >= 0.95
    proba = clf.predict_proba(test_texts)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert (clf.classes_[proba.argmax(axis=1)] == clf.predict(test_texts)).all()
    assert clf.decision_function(test_texts).shape == (len(test_texts), 3)
    assert clf.n_features_in_ == enc.dim and clf.n_iter_ >= 1
    # the vector form gives the same answers
    np.testing.assert_array_equal(clf.predict(enc.encode(test_texts)), clf.predict(test_texts))


@pytest.mark.parametrize("head", ["logistic", "mlp", "linear_svm", "ridge"])
def test_every_named_head(enc, head):
    texts, labels = topic_data()
    clf = StaticClassifier(head, encoder=enc).fit(texts, labels)
    assert clf.score(texts, labels) >= 0.95
    assert hasattr(clf, "predict_proba") == (head in ("logistic", "mlp"))
    assert hasattr(clf, "decision_function") == (head != "mlp")


def test_any_sklearn_classifier_as_head(enc):
    texts, labels = topic_data()
    clf = StaticClassifier(DecisionTreeClassifier(max_depth=4), encoder=enc).fit(texts, labels)
    assert clf.head_.random_state == 0  # seeded from the wrapper
    assert clf.score(texts, labels) > 0.9
    assert clf.get_params()["head__max_depth"] == 4


def test_binary_labels_as_ints(enc):
    texts, labels = topic_data()
    y = [int(lab == "money") for lab in labels]
    clf = StaticClassifier(encoder=enc).fit(texts, y)
    assert clf.classes_.tolist() == [0, 1]
    assert clf.decision_function(texts).shape == (len(texts),)
    assert clf.predict_labels(texts[:2]) == [int(p) for p in clf.predict(texts[:2])]


def test_sklearn_tools_on_text(enc):
    texts, labels = topic_data()
    scores = cross_val_score(StaticClassifier(encoder=enc), texts, labels, cv=3)
    assert scores.mean() > 0.9
    grid = GridSearchCV(StaticClassifier(encoder=enc), {"C": [0.5, 4.0]}, cv=2).fit(texts, labels)
    assert grid.best_params_["C"] in (0.5, 4.0)
    copy = clone(StaticClassifier(encoder=enc, C=2.0))
    assert copy.encoder is enc and copy.C == 2.0 and not hasattr(copy, "head_")


def test_head_defaults_are_the_documented_ones():
    """The defaults chosen by benchmarks/classifier_defaults.py, as the docs state them."""
    from pathlib import Path

    params = StaticClassifier().get_params()
    assert params["C"] == 8.0 and params["class_weight"] is None and params["head"] == "logistic"
    assert params["max_iter"] == 1000 and params["random_state"] == 0
    docs = (Path(__file__).resolve().parents[1] / "docs" / "classify.md").read_text("utf-8")
    assert f"| `C` | `{params['C']:.1f}` |" in docs and f"[-C {params['C']:.1f}]" in docs
    assert f"default {params['C']:g} was chosen" in (StaticClassifier.__doc__ or "")


@pytest.mark.skipif(not (SHARED / "eval" / "trec").is_dir(), reason="needs ../shared/eval")
def test_default_head_not_worse_than_plain_logistic_c10():
    """Issue 19's bar on one development set: StaticClassifier() on the bundled model's
    vectors is no worse than LogisticRegression(C=10) on the same vectors (TREC, the fixed
    80/20 split of train that the benchmarks use; the CV table covers four sets)."""
    from sklearn.model_selection import train_test_split

    rows = [json.loads(line) for line in (SHARED / "eval" / "trec" / "train.jsonl").open()]
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    x_tr, x_te, y_tr, y_te = train_test_split(
        sememe.load().encode(texts), labels, test_size=0.2, stratify=labels, random_state=0
    )
    default = StaticClassifier().fit(x_tr, y_tr).score(x_te, y_te)
    baseline = LogisticRegression(C=10.0, max_iter=1000).fit(x_tr, y_tr).score(x_te, y_te)
    assert default >= baseline - 0.001


def test_class_weight(enc):
    texts, labels = topic_data(30)
    keep = [i for i, lab in enumerate(labels) if lab != "water" or i % 10 == 0]
    texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    plain = StaticClassifier(encoder=enc, C=0.05).fit(texts, labels)
    balanced = StaticClassifier(encoder=enc, C=0.05, class_weight="balanced").fit(texts, labels)
    water = [t for t, lab in zip(texts, labels, strict=True) if lab == "water"]
    assert (balanced.predict(water) == "water").mean() >= (plain.predict(water) == "water").mean()
    assert (balanced.predict(water) == "water").mean() > 0.5
    StaticClassifier("mlp", encoder=enc, class_weight={"water": 3.0}).fit(texts, labels)


def test_multilabel_from_label_lists_and_indicator(enc):
    texts, labels = topic_data()
    lists = [[lab] + (["wet"] if lab == "water" else []) for lab in labels]
    clf = StaticClassifier(encoder=enc).fit(texts, lists)
    assert clf.multilabel_ and clf.classes_.tolist() == ["money", "pets", "water", "wet"]
    pred = clf.predict(texts)
    assert pred.shape == (len(texts), 4) and set(np.unique(pred)) <= {0, 1}
    assert clf.predict_labels(["river fish swim"]) == [["water", "wet"]]
    assert clf.score(texts, lists) > 0.9
    assert clf.predict_proba(texts).shape == (len(texts), 4)
    indicator = np.array([[lab == "pets", lab != "pets"] for lab in labels], dtype=int)
    mlp = StaticClassifier("mlp", encoder=enc).fit(texts, indicator)
    assert mlp.multilabel_ and mlp.predict(texts).shape == (len(texts), 2)


def test_blank_texts_are_zero_vectors_not_errors(enc):
    texts, labels = topic_data()
    clf = StaticClassifier(encoder=enc).fit([*texts, ""], [*labels, "pets"])
    assert clf.predict(["", "   "]).shape == (2,)


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (["cat", "dog"], ["a", "a"], ValueError, r"only one class \('a'\)"),
        ([], [], ValueError, "X is empty"),
        (["", "  "], ["a", "b"], ValueError, "empty or whitespace"),
        (["cat", None], ["a", "b"], TypeError, r"X\[1\] is None; expected str"),
        (["cat", 3], ["a", "b"], TypeError, r"X\[1\] is of type int"),
        (None, ["a"], TypeError, "X is None"),
        ("cat", ["a"], TypeError, "single str"),
        (["cat", "dog", "fish"], ["a", "b"], ValueError, "X has 3 samples but y has 2 labels"),
        (["cat", "dog"], ["a", None], ValueError, r"y\[1\] is None"),
        (["cat", "dog"], None, ValueError, "requires y to be passed"),
        (["cat", "dog"], [0.5, 1.5], ValueError, "Unknown label type"),
    ],
)
def test_bad_input_gives_clear_errors(enc, X, y, error, match):
    with pytest.raises(error, match=match):
        StaticClassifier(encoder=enc).fit(X, y)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"head": "forest"}, ValueError, "head must be one of"),
        ({"head": 3}, TypeError, "head must be a name"),
        ({"C": 0}, ValueError, "C must be a positive number"),
        ({"max_iter": 0}, ValueError, "max_iter must be an int >= 1"),
        ({"fine_tune": "all"}, ValueError, "fine_tune must be None or one of"),
        ({"fine_tune": "table", "head": "ridge"}, ValueError, "head='logistic' or head='mlp'"),
        ({"encoder": 42}, TypeError, "encoder must be"),
    ],
)
def test_bad_parameters_fail_at_fit_not_init(params, error, match):
    clf = StaticClassifier(**params)  # __init__ only stores
    with pytest.raises(error, match=match):
        clf.fit(["cat", "dog"], ["a", "b"])


def test_predict_before_fit(enc):
    clf = StaticClassifier(encoder=enc)
    for method in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(NotFittedError):
            method(["cat"])


def test_vectors_of_the_wrong_width(enc):
    texts, labels = topic_data()
    clf = StaticClassifier(encoder=enc).fit(texts, labels)
    with pytest.raises(ValueError, match="expecting 16 features"):
        clf.predict(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="8-d vectors but the head"):
        clf.set_params(dim=8).predict(texts)


# --------------------------------------------------------------------------- pickle


def test_pickle_of_the_bundled_model_stays_small():
    texts, labels = topic_data(5)
    clf = StaticClassifier().fit(texts, labels)
    assert clf.encoder is None
    by_ref = StaticClassifier(encoder=sememe.load()).fit(texts, labels)
    for model in (clf, by_ref):
        blob = pickle.dumps(model)
        assert len(blob) < 100_000  # the 16 MB table is not in it
        again = pickle.loads(blob)
        np.testing.assert_array_equal(again.predict(texts), model.predict(texts))
    assert pickle.loads(pickle.dumps(by_ref)).encoder is sememe.load()


def test_pickle_of_a_custom_encoder_keeps_its_content(enc):
    texts, labels = topic_data()
    clf = StaticClassifier(encoder=enc).fit(texts, labels)
    again = pickle.loads(pickle.dumps(clf))
    assert again.encoder is not enc and again.encoder.fingerprint == enc.fingerprint
    np.testing.assert_array_equal(again.predict_proba(texts), clf.predict_proba(texts))
    emb = pickle.loads(pickle.dumps(StaticEmbedder(encoder=enc.with_options(dim=8))))
    assert emb.encoder.dim == 8


# --------------------------------------------------------------------------- save / load


def _multilabel(labels):
    return [[lab] + (["wet"] if lab == "water" else []) for lab in labels]


@pytest.mark.parametrize(
    ("head", "multi"),
    [
        ("logistic", False),
        ("linear_svm", False),
        ("ridge", False),
        ("mlp", False),
        ("logistic", True),
        ("mlp", True),
    ],
)
def test_save_load_reproduces_predictions(enc, tmp_path, head, multi):
    texts, labels = topic_data()
    y = _multilabel(labels) if multi else labels
    clf = StaticClassifier(head, encoder=enc, C=2.0).fit(texts, y)
    folder = clf.save(tmp_path / "clf")
    assert sorted(p.name for p in folder.iterdir()) == [
        "classifier.json",
        "encoder",
        "head.safetensors",
        "manifest.json",
    ]
    loaded = StaticClassifier.load(folder)
    assert loaded.C == 2.0 and loaded.multilabel_ == multi
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict(texts), clf.predict(texts))
    for method in ("predict_proba", "decision_function"):
        if hasattr(clf, method):
            np.testing.assert_allclose(
                getattr(loaded, method)(texts), getattr(clf, method)(texts), atol=1e-5
            )


def test_save_refers_to_the_bundled_model_by_name(tmp_path):
    texts, labels = topic_data(5)
    clf = StaticClassifier(dim=64).fit(texts, [lab == "pets" for lab in labels])
    folder = clf.save(tmp_path / "clf")
    assert not (folder / "encoder").exists()
    config = json.loads((folder / "classifier.json").read_text())
    assert config["encoder"]["name"] == "sememe-base" and config["classes_kind"] == "bool"
    loaded = StaticClassifier.load(folder)
    assert loaded.dim == 64 and loaded.classes_.dtype == bool
    np.testing.assert_array_equal(loaded.predict(texts), clf.predict(texts))
    with pytest.raises(FileExistsError, match="already exists"):
        clf.save(folder)
    clf.save(folder, overwrite=True)


def _edit_config(folder, **changes):
    """Change fields of classifier.json and rewrite the manifest, as a hand edit that also
    recomputes the checksums would: only the consistency checks stand in the way."""
    from sememe import _folder

    path = folder / "classifier.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))
    _folder.write_manifest(folder, "classifier", 2)


def test_load_rejects_damaged_folders(enc, tmp_path):
    from sememe import _folder

    texts, labels = topic_data(5)
    folder = StaticClassifier(encoder=enc).fit(texts, labels).save(tmp_path / "clf")
    config_path = folder / "classifier.json"
    good = config_path.read_text()
    with pytest.raises(ModelFormatError, match="no such classifier folder"):
        StaticClassifier.load(tmp_path / "missing")
    config_path.write_text("{not json")
    with pytest.raises(ModelFormatError, match=r"classifier\.json: checksum mismatch"):
        StaticClassifier.load(folder)
    _folder.write_manifest(folder, "classifier", 2)
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        StaticClassifier.load(folder)
    config_path.write_text(good)
    _edit_config(folder, format="pickle")
    with pytest.raises(ModelFormatError, match="not a sememe classifier"):
        StaticClassifier.load(folder)
    config_path.write_text(good)
    _edit_config(folder, format_version=99)
    with pytest.raises(ModelFormatError, match="newer than this sememe"):
        StaticClassifier.load(folder)
    config_path.write_text(good)
    _folder.write_manifest(folder, "classifier", 2)
    (folder / "head.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelFormatError, match=r"head\.safetensors"):
        StaticClassifier.load(folder)


def test_changed_model_is_refused_on_load(tmp_path):
    """One mismatch policy with the index: a named model that has changed since the
    save raises (it only warned before issue 14), saying how to fix it."""
    texts, labels = topic_data(5)
    folder = StaticClassifier().fit(texts, labels).save(tmp_path / "clf")
    config = json.loads((folder / "classifier.json").read_text())
    config["encoder"]["fingerprint"] = "0" * 64
    _edit_config(folder, encoder=config["encoder"])
    with pytest.raises(ClassifierFormatError, match="has changed since this classifier was saved"):
        StaticClassifier.load(folder)
    with pytest.raises(ClassifierFormatError, match=r"StaticClassifier\.load\(path, encoder="):
        StaticClassifier.load(folder)


def test_load_with_a_given_encoder(enc, tmp_path):
    texts, labels = topic_data(5)
    clf = StaticClassifier(encoder=enc).fit(texts, labels)
    folder = clf.save(tmp_path / "clf")  # an unregistered encoder: kept in encoder/
    again = StaticClassifier.load(folder, encoder=enc)
    assert again.encoder is enc
    np.testing.assert_array_equal(again.predict(texts), clf.predict(texts))
    with pytest.raises(ClassifierFormatError, match="the encoder given to load is not"):
        StaticClassifier.load(folder, encoder=topic_encoder(seed=2))
    named = StaticClassifier().fit(texts, labels).save(tmp_path / "named")
    with pytest.raises(ClassifierFormatError, match="train it again"):
        StaticClassifier.load(named, encoder=enc)


def test_evaluate(enc):
    texts, labels = topic_data(10)
    clf = StaticClassifier(encoder=enc).fit(texts, labels)
    scores = clf.evaluate(texts, labels)
    assert set(scores) == {"accuracy", "macro_f1", "n"} and scores["n"] == len(texts)
    assert scores["accuracy"] == pytest.approx(clf.score(texts, labels))
    assert 0.9 < scores["macro_f1"] <= 1.0
    wrong = ["pets"] * len(texts)
    assert clf.evaluate(texts, wrong)["accuracy"] < 0.5
    with pytest.raises(InvalidArgumentError, match="but y has 2 labels"):
        clf.evaluate(texts, labels[:2])
    multi = [[lab] if i % 2 else [lab, "extra"] for i, lab in enumerate(labels)]
    mclf = StaticClassifier(encoder=enc).fit(texts, multi)
    mscores = mclf.evaluate(texts, multi)
    assert mscores["accuracy"] == pytest.approx(mclf.score(texts, multi))
    # a single label or None stands for a one- or zero-label list
    assert mclf.evaluate(texts[:1], [None])["n"] == 1


def test_evaluate_holdout(enc):
    texts, labels = topic_data(10)
    clf = StaticClassifier(encoder=enc)
    scores = evaluate_holdout(clf, texts, labels, 0.25)
    assert scores["n"] + scores["n_train"] == len(texts) and scores["accuracy"] > 0.8
    assert evaluate_holdout(StaticClassifier(encoder=enc), texts, labels, 0.25) == scores
    with pytest.raises(InvalidArgumentError, match=r"test_size=0\.99"):
        evaluate_holdout(clf, texts, labels, 0.99)
    with pytest.raises(InvalidArgumentError, match="test_size"):
        evaluate_holdout(clf, texts, labels, 1.5)


def test_heads_that_cannot_be_saved(enc, tmp_path):
    texts, labels = topic_data(5)
    clf = StaticClassifier(DecisionTreeClassifier(), encoder=enc).fit(texts, labels)
    with pytest.raises(ValueError, match="cannot save a DecisionTreeClassifier head"):
        clf.save(tmp_path / "clf")
    with pytest.raises(NotFittedError):
        StaticClassifier().save(tmp_path / "unfitted")


# --------------------------------------------------------------------------- frozen heads


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_classes=st.integers(2, 5),
    labels_as=st.sampled_from(["int", "str"]),
    head=st.sampled_from(["logistic", "linear_svm", "ridge"]),
    seed=st.integers(0, 1000),
)
def test_frozen_heads_match_sklearn(n_classes, labels_as, head, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 6))
    y = np.arange(40) % n_classes
    if labels_as == "str":
        y = np.array([f"c{v}" for v in y])
    clf = StaticClassifier(head).fit(X, y)
    frozen = freeze(clf.head_, clf.classes_, multilabel=False)
    assert isinstance(frozen, LinearHead)
    test = rng.standard_normal((15, 6))
    np.testing.assert_array_equal(frozen.predict(test), clf.predict(test))
    np.testing.assert_allclose(frozen.decision_function(test), clf.decision_function(test))
    if head == "logistic":
        np.testing.assert_allclose(frozen.predict_proba(test), clf.predict_proba(test))


def test_frozen_mlp_matches_sklearn():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((60, 5)), np.arange(60) % 3
    clf = StaticClassifier("mlp", max_iter=300).fit(X, y)
    frozen = freeze(clf.head_, clf.classes_, multilabel=False)
    assert isinstance(frozen, MLPHead)
    np.testing.assert_allclose(frozen.predict_proba(X), clf.predict_proba(X), atol=1e-10)


# --------------------------------------------------------------------------- fine-tuning


def test_fine_tune_without_torch_names_the_extra(enc, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    texts, labels = topic_data(5)
    with pytest.raises(ImportError, match=r"sememe\[train\]"):
        StaticClassifier(encoder=enc, fine_tune="table").fit(texts, labels)


@pytest.mark.parametrize("mode", ["table", "weights"])
def test_fine_tune_exports_a_torch_free_encoder(enc, tmp_path, mode):
    pytest.importorskip("torch")
    texts, labels = topic_data(20)
    clf = StaticClassifier(encoder=enc, fine_tune=mode, epochs=3, learning_rate=0.01)
    clf.fit(texts, labels)
    tuned = clf.encoder_
    assert isinstance(tuned, sememe.Encoder) and tuned is not enc
    assert tuned.config.name == "topics-finetuned"
    assert tuned.config.provenance["fine_tuned"]["trained"] == mode
    assert clf.score(texts, labels) >= 0.9
    if mode == "weights":
        assert tuned._weights is not None and not np.allclose(tuned._weights, 1.0)
        np.testing.assert_array_equal(tuned._embeddings, enc._embeddings)
    # saved as a model folder plus head; loading needs no torch and gives the same output
    folder = clf.save(tmp_path / "tuned")
    assert (folder / "encoder" / "model.safetensors").is_file()
    loaded = StaticClassifier.load(folder)
    np.testing.assert_allclose(loaded.predict_proba(texts), clf.predict_proba(texts), atol=1e-5)
    assert sememe.load(folder / "encoder").fingerprint == tuned.fingerprint


def test_fine_tune_rejects_vectors(enc):
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="fine_tune needs texts"):
        StaticClassifier(fine_tune="table").fit(np.eye(4), [0, 1, 0, 1])


# --------------------------------------------------------------------------- CLI


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_cli_train_and_predict(enc, tmp_path, capsys):
    model_dir = enc.save(tmp_path / "enc")
    texts, labels = topic_data()
    data = tmp_path / "train.jsonl"
    _write_jsonl(data, [{"body": t, "topic": lab} for t, lab in zip(texts, labels, strict=True)])
    out = tmp_path / "clf"
    argv = ["classify", "train", str(data), "--text-field", "body", "--label-field", "topic"]
    assert main([*argv, "-m", str(model_dir), "-o", str(out), "--holdout", "0.25"]) == 0
    err = capsys.readouterr().err
    assert "trained a logistic classifier on 60 texts, 3 classes" in err
    assert "held-out 25%: accuracy" in err
    new = tmp_path / "new.txt"
    new.write_text("cat dog park\nriver fish\n", encoding="utf-8")
    assert main(["classify", "predict", str(out), str(new)]) == 0
    assert capsys.readouterr().out.splitlines() == ["pets", "water"]
    preds = tmp_path / "preds.jsonl"
    argv = ["classify", "predict", str(out), str(data), "--text-field", "body"]
    assert main([*argv, "--label-field", "topic", "--proba", "-o", str(preds)]) == 0
    assert "accuracy 1.0000" in capsys.readouterr().err
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    assert rows[0]["prediction"] == rows[0]["topic"]
    assert abs(sum(rows[0]["probabilities"].values()) - 1) < 1e-4


def test_cli_field_is_the_name_and_text_field_an_alias(enc, tmp_path, capsys):
    """``--field`` as in every other subcommand; ``--text-field`` still works, hidden."""
    model_dir = enc.save(tmp_path / "enc")
    texts, labels = topic_data(5)
    data = tmp_path / "train.csv"
    rows = "".join(f"{t},{lab}\n" for t, lab in zip(texts, labels, strict=True))
    data.write_text("body,label\n" + rows, encoding="utf-8")
    out = tmp_path / "clf"
    argv = ["classify", "train", str(data), "--field", "body", "-m", str(model_dir), "-q"]
    assert main([*argv, "-o", str(out)]) == 0
    preds = tmp_path / "preds.tsv"
    argv = ["classify", "predict", str(out), str(data), "--text-field", "body", "-q"]
    assert main([*argv, "-o", str(preds)]) == 0
    lines = preds.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "body\tlabel\tprediction" and len(lines) == len(texts) + 1
    assert main(["classify", "predict", str(out), str(data), "--field", "nope"]) == 1
    assert "use --field" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["classify", "train", "--help"])
    help_text = capsys.readouterr().out
    assert "--field" in help_text and "--text-field" not in help_text


def test_the_cli_s_choices_are_public():
    assert "logistic" in HEADS and "table" in FINE_TUNE_MODES


def test_cli_multilabel_and_errors(enc, tmp_path, capsys):
    model_dir = enc.save(tmp_path / "enc")
    texts, labels = topic_data()
    data = tmp_path / "train.jsonl"
    _write_jsonl(
        data, [{"text": t, "label": m} for t, m in zip(texts, _multilabel(labels), strict=True)]
    )
    out = tmp_path / "clf"
    assert main(["classify", "train", str(data), "-m", str(model_dir), "-o", str(out), "-q"]) == 0
    new = tmp_path / "new.txt"
    new.write_text("river fish swim\n", encoding="utf-8")
    assert main(["classify", "predict", str(out), str(new)]) == 0
    assert capsys.readouterr().out.strip() == "water, wet"
    assert main(["classify", "train", str(data), "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert (
        main(["classify", "train", str(data), "--label-field", "nope", "-o", str(tmp_path / "x")])
        == 1
    )
    assert "has no field 'nope'" in capsys.readouterr().err
    assert main(["classify", "predict", str(tmp_path / "missing"), str(new)]) == 1
    assert "no such classifier folder" in capsys.readouterr().err


# --------------------------------------------------------------------------- realism


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared")
def test_bundled_model_on_trec_questions():
    rows = [
        json.loads(line) for line in (SHARED / "eval/trec/train.jsonl").read_text().splitlines()
    ]
    rows = rows[:2000]
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    clf = StaticClassifier().fit(texts[:1500], labels[:1500])
    assert clf.score(texts[1500:], labels[1500:]) > 0.6
