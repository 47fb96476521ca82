"""StaticClassifier under bad input and damaged folders: a clear sememe error or the
right answer, never a silent change or a raw traceback (issue 13)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file
from test_classify import topic_data, topic_encoder

import sememe
from sememe import _folder
from sememe.classify import StaticClassifier, StaticEmbedder
from sememe.errors import (
    ClassifierFormatError,
    FolderExistsError,
    FolderFormatError,
    InvalidArgumentError,
    InvalidTypeError,
    MissingDependencyError,
    ModelFormatError,
    SememeError,
)


@pytest.fixture(scope="module")
def enc() -> sememe.Encoder:
    return topic_encoder()


@pytest.fixture(scope="module")
def data():
    return topic_data(8)


@pytest.fixture
def saved(enc, data, tmp_path):
    """A saved classifier with its encoder in encoder/, and its predictions."""
    texts, labels = data
    folder = StaticClassifier(encoder=enc).fit(texts, labels).save(tmp_path / "clf")
    return folder, StaticClassifier.load(folder).predict_proba(texts)


def rewrite(folder, config=None, tensors=None):
    """Edit classifier.json and/or head.safetensors, then recompute the manifest, as a
    careful hand edit would: only the consistency checks stand in the way."""
    if config is not None:
        (folder / "classifier.json").write_text(json.dumps(config))
    if tensors is not None:
        save_file(tensors, str(folder / "head.safetensors"))
    _folder.write_manifest(folder, "classifier", 2)


def config_of(folder):
    return json.loads((folder / "classifier.json").read_text())


# --------------------------------------------------------------------------- overwrite


def test_overwrite_never_deletes_a_folder_of_user_files(enc, data, tmp_path):
    texts, labels = data
    clf = StaticClassifier(encoder=enc).fit(texts, labels)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    with pytest.raises(FolderExistsError, match="not a sememe classifier folder"):
        clf.save(mine, overwrite=True)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert (mine / "notes.txt").read_text() == "my notes"
    model = enc.save(tmp_path / "model")
    with pytest.raises(FolderExistsError, match="sememe model folder, not a sememe classifier"):
        clf.save(model, overwrite=True)
    assert sememe.load(model).fingerprint == enc.fingerprint
    folder = clf.save(tmp_path / "clf")
    clf.save(folder, overwrite=True)  # the same kind is replaced
    assert _folder.folder_kind(folder) == "classifier"


# --------------------------------------------------------------------------- checksums


def test_manifest_covers_every_file_including_the_encoder(saved):
    folder, _ = saved
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "sememe-classifier" and manifest["format_version"] == 2
    assert config_of(folder)["format_version"] == 2
    on_disk = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() != "manifest.json"
    )
    assert sorted(manifest["files"]) == on_disk
    assert "encoder/model.safetensors" in manifest["files"]


def _flip_every_file(folder, texts, expected, flips_per_file=40):
    """Flip bytes across every file of ``folder``: each load must raise a SememeError or
    give exactly the saved predictions."""
    loaded_ok = 0
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        original = f.read_bytes()
        step = len(original) // flips_per_file
        for offset in range(0, len(original), max(1, step)):
            damaged = bytearray(original)
            damaged[offset] ^= 0x04
            f.write_bytes(bytes(damaged))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # a silent-but-warned load fails too
                    clf = StaticClassifier.load(folder)
            except SememeError:
                continue
            finally:
                f.write_bytes(original)
            loaded_ok += 1
            got = clf.predict_proba(texts)
            np.testing.assert_array_equal(got, expected, err_msg=f"{f.name}@{offset}")
    return loaded_ok


def test_flipped_bytes_are_errors_or_change_nothing(saved, data):
    folder, expected = saved
    texts, _ = data
    _flip_every_file(folder, texts, expected)


def test_flipped_bytes_in_a_classifier_of_the_bundled_model(data, tmp_path):
    texts, labels = data
    clf = StaticClassifier(dim=64).fit(texts, labels)
    folder = clf.save(tmp_path / "clf")
    assert not (folder / "encoder").exists()
    expected = StaticClassifier.load(folder).predict_proba(texts)
    _flip_every_file(folder, texts, expected, flips_per_file=20)


@pytest.mark.parametrize("name", ["classifier.json", "head.safetensors", "encoder/tokenizer.json"])
def test_a_changed_file_is_named(saved, name):
    folder, _ = saved
    f = folder / name
    data = bytearray(f.read_bytes())
    data[-3] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(ClassifierFormatError, match=rf"{name}: checksum mismatch"):
        StaticClassifier.load(folder)


def test_reversed_classes_fail_the_checksum(saved):
    folder, _ = saved
    config = config_of(folder)
    config["classes"].reverse()
    (folder / "classifier.json").write_text(json.dumps(config))
    with pytest.raises(ClassifierFormatError, match="checksum mismatch"):
        StaticClassifier.load(folder)


def test_the_error_type(saved):
    assert issubclass(ClassifierFormatError, ModelFormatError)  # what load raised before
    assert issubclass(ClassifierFormatError, FolderFormatError)
    assert issubclass(ClassifierFormatError, ValueError)


# --------------------------------------------------------------------------- versions


def _as_version_1(folder):
    """What sememe wrote before classifier manifests."""
    for m in folder.rglob("manifest.json"):
        m.unlink()
    config = config_of(folder)
    config["format_version"] = 1
    (folder / "classifier.json").write_text(json.dumps(config))


def test_version_1_folders_load_with_a_warning(saved, data):
    folder, expected = saved
    _as_version_1(folder)
    with pytest.warns(UserWarning, match="no checksums"):
        clf = StaticClassifier.load(folder)
    np.testing.assert_array_equal(clf.predict_proba(data[0]), expected)
    # and are still checked for consistency
    config = config_of(folder)
    config["classes"] = config["classes"][:2]
    (folder / "classifier.json").write_text(json.dumps(config))
    with pytest.warns(UserWarning), pytest.raises(ClassifierFormatError, match="3 outputs"):
        StaticClassifier.load(folder)


def test_version_2_without_manifest_is_refused(saved):
    folder, _ = saved
    (folder / "manifest.json").unlink()
    with pytest.raises(ClassifierFormatError, match=r"manifest\.json: missing"):
        StaticClassifier.load(folder)


def test_overwrite_accepts_a_version_1_folder(saved, enc, data):
    folder, _ = saved
    _as_version_1(folder)
    StaticClassifier(encoder=enc).fit(*data).save(folder, overwrite=True)
    assert (folder / "manifest.json").is_file()


# --------------------------------------------------------------------------- consistency


def _edit(config, key, change):
    config = json.loads(json.dumps(config))
    if callable(change):
        change(config)
    else:
        config[key] = change
    return config


CONFIG_EDITS = [
    ("classes", lambda c: c["classes"].reverse(), "not in sorted order"),
    ("classes", lambda c: c["classes"].pop(), "3 outputs but classifier.json lists 2"),
    ("classes", lambda c: c["classes"].__setitem__(1, c["classes"][0]), "listed twice"),
    ("classes", lambda c: c["classes"].append("zzz"), "3 outputs but classifier.json lists 4"),
    ("classes", ["a"], "at least 2 classes"),
    ("classes", [], "non-empty list"),
    ("classes_kind", "int", r"classes\[0\] is 'money', not a int label"),
    ("classes_kind", "complex", "classes_kind"),
    ("multilabel", "yes", "field 'multilabel'"),
    ("n_features_in", 8, "head takes 16-d vectors, classifier.json says 8"),
    ("n_features_in", True, "n_features_in"),
    ("head", lambda c: c["head"].update(kind="tree"), "unknown head kind"),
    ("head", lambda c: c["head"].update(name="forest"), "head.name"),
    ("encoder", lambda c: c["encoder"].update(folder="../other"), "encoder.folder"),
    ("encoder", lambda c: c["encoder"].update(name="sememe-base"), "exactly one of"),
    ("encoder", lambda c: c["encoder"].update(fingerprint="0" * 64), "not the encoder"),
    ("encoder", lambda c: c["encoder"].update(max_tokens="many"), "encoder.max_tokens"),
    ("params", lambda c: c["params"].update(dim=99), "params.dim = 99"),
    ("params", lambda c: c["params"].update(C=-1), "bad params"),
    ("params", lambda c: c["params"].update(class_weight=[[1]]), "class_weight"),
    ("params", lambda c: c["params"].update(fine_tune="all"), "bad params"),
]


@pytest.mark.parametrize(("key", "change", "match"), CONFIG_EDITS)
def test_inconsistent_config_is_refused_on_load(saved, key, change, match):
    folder, _ = saved
    rewrite(folder, config=_edit(config_of(folder), key, change))
    with pytest.raises(ClassifierFormatError, match=match):
        StaticClassifier.load(folder)


def test_multilabel_flag_against_the_head(enc, data, tmp_path):
    texts, labels = data
    binary = [lab == "pets" for lab in labels]
    folder = StaticClassifier(encoder=enc).fit(texts, binary).save(tmp_path / "b")
    rewrite(folder, config=_edit(config_of(folder), "multilabel", True))
    with pytest.raises(ClassifierFormatError, match=r"1 outputs but .* 2 labels"):
        StaticClassifier.load(folder)


HEAD_EDITS = [
    (lambda t: t.update(coef=t["coef"].astype(np.int64)), "expected a 2-d float array"),
    (lambda t: t["coef"].__setitem__((0, 0), np.nan), "NaN or infinite"),
    (lambda t: t["intercept"].__setitem__(0, np.inf), "NaN or infinite"),
    (lambda t: t.update(coef=t["coef"][:2]), "do not match"),
    (lambda t: t.update(coef=t["coef"][:, :8]), "head takes 8-d vectors"),
    (lambda t: t.update(extra=np.zeros(2)), "unexpected tensors"),
    (lambda t: t.pop("intercept"), "missing tensor 'intercept'"),
    (lambda t: t.update(coef=t["coef"][0]), "expected a 2-d float array"),
]


@pytest.mark.parametrize(("change", "match"), HEAD_EDITS)
def test_inconsistent_head_is_refused_on_load(saved, change, match):
    folder, _ = saved
    tensors = {k: np.array(v) for k, v in load_file(str(folder / "head.safetensors")).items()}
    change(tensors)
    rewrite(folder, tensors=tensors)
    with pytest.raises(ClassifierFormatError, match=match):
        StaticClassifier.load(folder)


def test_an_mlp_head_is_checked_too(enc, data, tmp_path):
    texts, labels = data
    folder = (
        StaticClassifier("mlp", encoder=enc, max_iter=50).fit(texts, labels).save(tmp_path / "m")
    )
    config = config_of(folder)
    config["head"]["n_layers"] = 3
    rewrite(folder, config=config)
    with pytest.raises(ClassifierFormatError, match=r"missing tensor 'layer2\.weight'"):
        StaticClassifier.load(folder)


def test_no_spurious_warning_for_a_variant_of_a_registered_model(data, tmp_path):
    """The fingerprint covers max_tokens, so it is compared after the saved options."""
    texts, labels = data
    clf = StaticClassifier(encoder=sememe.load(max_tokens=64)).fit(texts, labels)
    folder = clf.save(tmp_path / "clf")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = StaticClassifier.load(folder)
    assert loaded._encoder().max_tokens == 64
    np.testing.assert_array_equal(loaded.predict(texts), clf.predict(texts))


# --------------------------------------------------------------------------- labels


TEXTS = ["cat sat", "dog ran", "stock fell", "bank loan", "river fish", "water swim"]


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (["a", "a", "b", float("nan"), "b", "a"], r"y\[3\] is missing \(nan\)"),
        (["a", "a", "b", np.nan, "b", "a"], r"y\[3\] is missing"),
        (["a", None, "b", "b", "b", "a"], r"y\[1\] is None"),
        (["a", "a", pd.NA, "b", "b", "a"], r"y\[2\] is missing \(<NA>\)"),
        (["a", "a", "b", "b", pd.NaT, "a"], r"y\[4\] is missing \(NaT\)"),
        (np.array(["a", "a", "b", "b", "a", np.nan], dtype=object), r"y\[5\] is missing"),
        (pd.Series(["a", "a", "b", None, "b", "a"]), r"y\[3\] is missing"),
        (
            pd.Series(["a", "a", "b", "b", "a", "b"], dtype="string").mask(
                [False, False, True, False, False, False]
            ),
            r"y\[2\] is missing",
        ),
        (np.array([0.0, 1.0, 1.0, np.nan, 0.0, 1.0]), r"y\[3\] is missing \(.*nan\)"),
        (pd.Series([0, 1, 1, None, 0, 1], dtype="Int64"), r"y\[3\] is missing"),
        (["a", 1, "b", "a", 1, "b"], r"mixes label types: y\[0\] is str \('a'\) but y\[1\]"),
        (np.array(["a", 1, "b", "a", 1, "b"], dtype=object), "mixes label types"),
        (["a", True, "a", "b", "b", "a"], "mixes label types"),
        ([["a"], ["b", None], ["a"], ["b"], ["a"], ["b"]], r"y\[1\]\[1\] is None"),
        ([["a"], ["b", np.nan], ["a"], ["b"], [], ["b"]], r"y\[1\]\[1\] is missing"),
        ([["a"], ["b", 3], ["a"], ["b"], ["a"], ["b"]], "mixes label types"),
        (np.array([[0, 1], [1, 0], [1, np.nan], [0, 1], [1, 1], [0, 0]]), r"y\[2, 1\] is missing"),
    ],
)
def test_missing_and_mixed_labels_are_refused(enc, y, match):
    with pytest.raises(InvalidArgumentError, match=match):
        StaticClassifier(encoder=enc).fit(TEXTS, y)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["int", "str", "bool", "float", "object-str", "object-int", "series"]),
    n_classes=st.integers(2, 4),
    seed=st.integers(0, 100),
)
def test_label_types_survive_fit_predict_save_load(enc, tmp_path_factory, kind, n_classes, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((24, enc.dim)).astype(np.float32)
    codes = np.arange(24) % (2 if kind == "bool" else n_classes)
    y = {
        "int": [int(c) * 10 - 5 for c in codes],
        "str": [f"class {c}" for c in codes],
        "bool": [bool(c) for c in codes],
        "float": [float(c) * 2.0 for c in codes],
        "object-str": np.array([f"c{c}" for c in codes], dtype=object),
        "object-int": np.array([int(c) for c in codes], dtype=object),
        "series": pd.Series([f"s{c}" for c in codes]),
    }[kind]
    want = {"int": "i", "object-int": "i", "bool": "b", "float": "f"}.get(kind, "U")
    clf = StaticClassifier(encoder=enc).fit(X, y)
    assert clf.classes_.dtype.kind == want
    assert clf.predict(X).dtype.kind == want
    folder = clf.save(tmp_path_factory.mktemp("labels") / "clf")
    back = StaticClassifier.load(folder)
    assert back.classes_.dtype.kind == want
    np.testing.assert_array_equal(back.classes_, clf.classes_)
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    plain = back.predict_labels(X[:3])
    assert [type(v) for v in plain] == [type(v) for v in clf.predict_labels(X[:3])]
    assert all(type(v) is {"i": int, "b": bool, "f": float, "U": str}[want] for v in plain)


def test_multilabel_label_types_survive_save_load(enc, tmp_path):
    X = np.random.default_rng(0).standard_normal((12, enc.dim))
    y = [[1, 2], [2], [3], [1], [], [3, 1]] * 2
    clf = StaticClassifier(encoder=enc).fit(X, y)
    assert clf.classes_.dtype.kind == "i"
    back = StaticClassifier.load(clf.save(tmp_path / "clf"))
    assert back.classes_.dtype.kind == "i"
    assert back.predict_labels(X) == clf.predict_labels(X)
    assert all(type(v) is int for row in back.predict_labels(X) for v in row)


def test_score_checks_labels_like_fit(enc):
    texts, labels = topic_data(4)
    clf = StaticClassifier(encoder=enc).fit(texts, labels)
    with pytest.raises(InvalidArgumentError, match=r"y\[1\] is missing"):
        clf.score(texts[:3], ["pets", float("nan"), "pets"])
    with pytest.raises(InvalidArgumentError, match="X has 3 samples but y has 2"):
        clf.score(texts[:3], ["pets", "pets"])
    with pytest.raises(InvalidArgumentError, match="mixes label types"):
        clf.score(texts[:3], ["pets", 1, "pets"])
    assert clf.score(texts, labels) > 0.9


# --------------------------------------------------------------------------- X


@pytest.mark.parametrize(
    ("X", "error", "match"),
    [
        ([["a"], "b"], InvalidTypeError, r"X\[0\] is of type list; expected str \(X mixes"),
        (["a", ["b"]], InvalidTypeError, r"X\[1\] is of type list; expected str"),
        ([1.0, "a"], InvalidTypeError, r"X\[0\] is of type float; expected str"),
        (np.array([["a", "b"], ["c", "d"]]), InvalidArgumentError, r"2-d array of texts"),
        ([["a", "b"], ["c", "d"]], InvalidTypeError, r"X\[0\] is a list of texts"),
        ([[1.0, 2.0], [3.0]], InvalidArgumentError, r"X is ragged: X\[0\] has 2 values but X\[1\]"),
        ([[1.0, 2.0], 3.0], InvalidTypeError, r"X\[1\] is of type float but X\[0\] is a row"),
        (np.array([[1, 2], [3]], dtype=object), InvalidArgumentError, "X is ragged"),
        ({"a": 1}, InvalidTypeError, "X is a dict"),
        ({"a", "b"}, InvalidTypeError, "X is a set"),
        (b"cat", InvalidTypeError, "single bytes"),
        (pd.DataFrame({"a": ["x"], "b": ["y"]}), InvalidArgumentError, "DataFrame with 2 columns"),
        (np.array([[np.nan, 1.0]]), InvalidArgumentError, "NaN"),
    ],
)
def test_bad_X_names_the_argument_and_the_expected_type(enc, data, X, error, match):
    with pytest.raises(error, match=match):
        StaticEmbedder(encoder=enc).transform(X)
    with pytest.raises(error, match=match):
        StaticEmbedder(encoder=enc).fit(X)
    clf = StaticClassifier(encoder=enc).fit(*data)
    with pytest.raises(error, match=match):
        clf.predict_proba(X)


def test_every_user_mistake_is_a_sememe_error(enc, data, monkeypatch):
    texts, labels = data
    mistakes = [
        lambda: StaticClassifier(head="forest").fit(texts, labels),
        lambda: StaticClassifier(head=3).fit(texts, labels),
        lambda: StaticClassifier(C=float("nan")).fit(texts, labels),
        lambda: StaticClassifier(learning_rate=True).fit(texts, labels),
        lambda: StaticClassifier(dim=0, encoder=enc).fit(texts, labels),
        lambda: StaticClassifier(dim=2.5, encoder=enc).fit(texts, labels),
        lambda: StaticClassifier(encoder=42).fit(texts, labels),
        lambda: StaticClassifier(encoder=enc).fit(texts, labels[:-1]),
        lambda: StaticClassifier(encoder=enc).fit(texts, [0.5] * len(texts)),
        lambda: StaticClassifier(encoder=enc).fit(texts, "pets"),
        lambda: StaticClassifier(encoder=enc).fit(texts, 3),
        lambda: StaticClassifier(encoder=enc).fit(texts, {"a": 1}),
        lambda: StaticClassifier(encoder=enc).fit([], []),
        lambda: StaticClassifier(encoder=enc, class_weight={"x": 1}).fit(
            texts, [[t] for t in labels]
        ),
        lambda: StaticClassifier(encoder=enc).fit(texts, labels).predict(np.zeros((2, 5))),
        lambda: StaticClassifier(encoder=enc, class_weight={"nope": 2}).fit(texts, labels),
        lambda: StaticClassifier(encoder=enc, class_weight="weird").fit(texts, labels),
        lambda: StaticClassifier(encoder=enc).fit(texts, labels, sample_weight=[1, 2]),
        lambda: StaticClassifier(encoder=enc).fit(texts, labels).set_params(dim=8).predict(texts),
    ]
    for mistake in mistakes:
        with pytest.raises(SememeError):
            mistake()
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r"sememe\[train\]"):
        StaticClassifier(encoder=enc, fine_tune="table").fit(texts, labels)


def test_loading_a_model_folder_as_a_classifier(enc, tmp_path):
    with pytest.raises(ClassifierFormatError, match="classifier"):
        StaticClassifier.load(enc.save(tmp_path / "m"))
