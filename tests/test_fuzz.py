"""Fuzz layer: every public function and subcommand, fed the input families that broke
things before, gives a clear sememe error or a correct result, never a raw exception.

"Clear" means: a :class:`sememe.SememeError` (the CLI prints those as one line and calls
anything else an internal error) with a non-empty message. "Correct" means the
function's stated invariant holds (vectors finite and unit or zero, chunks cover the
text, kept + removed = input, labels for every text...). A failed call changes nothing.

Saved folders of every kind are corrupted byte by byte (a strided sample of offsets, to
stay within the test budget): loading gives a format error or a folder that behaves
exactly like the original.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import llama_like_tokenizer, tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe.cli.main import main as cli
from sememe.errors import SememeError

# -- the input families ------------------------------------------------------------
BAD_ITEMS: list[Any] = [None, 3, 2.5, math.nan, b"bytes", bytearray(b"x"), ["nested"], {"k": 1}]
ODD_TEXTS: list[str] = [
    "",
    " ",
    "\t\n \r\n",
    "\x00",
    "a\x00b",
    "lone \ud800 surrogate",
    "한국어 문장입니다 아무 관계 없는",
    "中文句子没有空格",
    "جملة عربية قصيرة",
    "Русский текст о погоде",
    "mixed English и русский 中文 🙂",
    "x" * 5000,  # one huge token, no space to cut at
    "🙂" * 40,
    "The cat sat on the mat.",
    "The cat sat on the mat.",  # an exact duplicate
]
BAD_COUNTS: list[Any] = [0, -1, 2.5, True, math.nan, "3", [1], 10**30]
BAD_FLOATS: list[Any] = [math.nan, math.inf, -math.inf, "0.9", True, [0.5], 10**400]

unicode_text = st.text(
    st.characters(blacklist_categories=("Cs",)) | st.sampled_from([" ", "\n", ".", "\ud800"]),
    max_size=60,
)


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    """``("ok", value)`` or ``("error", exc)`` for a sememe error; fails on anything else."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", fn()
    except SememeError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} with an empty message"
        return "error", exc
    except Exception as exc:  # the thing this file exists to catch
        pytest.fail(f"raw {type(exc).__name__} instead of a sememe error: {exc!r}")


def must_refuse(fn: Callable[[], Any]) -> SememeError:
    kind, value = outcome(fn)
    assert kind == "error", f"accepted bad input, returned {value!r}"
    return value


@pytest.fixture(scope="module")
def enc() -> sememe.Encoder:
    return sememe.load()


@pytest.fixture(scope="module")
def small() -> sememe.Encoder:
    return tiny_encoder(llama_like_tokenizer(), dim=16)


def check_vectors(vecs: np.ndarray, n: int) -> None:
    assert vecs.shape[0] == n
    assert np.isfinite(vecs).all()
    norms = np.linalg.norm(vecs, axis=1)
    assert np.all((np.abs(norms - 1) < 1e-4) | (norms == 0))


# -- encoder -----------------------------------------------------------------------
@pytest.mark.parametrize("bad", BAD_ITEMS, ids=repr)
@pytest.mark.parametrize("method", ["encode", "encode_binary", "tokenize", "count_tokens"])
def test_encoder_refuses_non_text_items_naming_the_position(enc, method, bad) -> None:
    err = must_refuse(lambda: getattr(enc, method)(["fine", "also fine", bad]))
    assert "[2]" in str(err)


@pytest.mark.parametrize(
    "container", ["dict", "set", "dataframe", "polars dataframe", "pyarrow table"]
)
def test_encoder_refuses_containers_without_a_text_order(enc, container) -> None:
    """Iterating these gives keys, column names or no fixed order: never silently. A frame
    of one column is its column of texts (tests/test_inputs.py); one of two columns, with
    no column chosen, is refused rather than read as its first column."""
    import pandas as pd

    def two_columns() -> Any:
        rows = {"id": [1, 2], "text": ["a text", "another"]}
        if container == "dataframe":
            return pd.DataFrame(rows)
        if container == "polars dataframe":
            return pytest.importorskip("polars").DataFrame(rows)
        return pytest.importorskip("pyarrow").table(rows)

    if container == "dict":
        value: Any = {"a text": 1, "another": 2}
    elif container == "set":
        value = {"a text", "another"}
    else:
        value = two_columns()
    for method in ("encode", "encode_binary", "count_tokens", "tokenize"):
        err = must_refuse(lambda m=method: getattr(enc, m)(value))
        if container not in ("dict", "set"):
            assert "2 columns ('id', 'text')" in str(err), method


def test_encoder_gives_right_answers_for_odd_texts(enc) -> None:
    check_vectors(enc.encode(ODD_TEXTS), len(ODD_TEXTS))
    assert enc.encode_binary(ODD_TEXTS).shape == (len(ODD_TEXTS), enc.dim // 8)
    counts = enc.count_tokens(ODD_TEXTS)
    assert all(c >= 0 for c in counts)
    assert counts[0] == 0
    for text, tok in zip(ODD_TEXTS, enc.tokenize(ODD_TEXTS), strict=True):
        for a, b in tok.offsets:
            assert 0 <= a <= b <= len(text)


@pytest.mark.parametrize("bad", BAD_COUNTS, ids=repr)
def test_encoder_refuses_bad_counts(enc, bad) -> None:
    must_refuse(lambda: enc.encode(["a"], batch_size=bad))
    must_refuse(lambda: sememe.load(max_tokens=bad))
    must_refuse(lambda: enc.encode(["a"], dim=bad))


@pytest.mark.parametrize("bad", [*BAD_ITEMS[1:], "no-such-model", "/nonexistent/folder"], ids=repr)
def test_load_refuses_bad_models(bad) -> None:
    must_refuse(lambda: sememe.load(bad))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(unicode_text, max_size=6))
def test_encoder_property_any_unicode(small, texts) -> None:
    check_vectors(small.encode(texts), len(texts))
    assert len(small.count_tokens(texts)) == len(texts)


# -- chunking ----------------------------------------------------------------------
@pytest.mark.parametrize("bad", BAD_COUNTS, ids=repr)
@pytest.mark.parametrize("name", ["SemanticChunker", "TokenChunker"])
def test_chunkers_refuse_bad_sizes(enc, name, bad) -> None:
    must_refuse(lambda: getattr(sememe, name)(enc, max_tokens=bad))


@pytest.mark.parametrize("bad", BAD_ITEMS, ids=repr)
def test_chunk_refuses_non_text(enc, bad) -> None:
    chunker = sememe.SemanticChunker(enc, max_tokens=32)
    must_refuse(lambda: chunker.chunk(bad))


def check_chunks(text: str, chunks: list[Any], max_tokens: int, enc: sememe.Encoder) -> None:
    pos = 0
    for c in chunks:
        assert c.text == text[c.start : c.end]
        assert c.start >= pos
        assert not text[pos : c.start].strip()  # only whitespace between chunks
        pos = c.end
        assert enc.count_tokens([c.text])[0] <= max_tokens
    assert not text[pos:].strip()


@pytest.mark.parametrize("name", ["SemanticChunker", "TokenChunker"])
def test_chunkers_cover_odd_texts(enc, name) -> None:
    chunker = getattr(sememe, name)(enc, max_tokens=24)
    for text in [*ODD_TEXTS, " ".join(ODD_TEXTS)]:
        check_chunks(text, chunker.chunk(text), 24, enc)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(unicode_text, max_size=8).map(" ".join))
def test_chunker_property_covers_any_unicode(enc, text) -> None:
    chunker = sememe.SemanticChunker(enc, max_tokens=8)
    check_chunks(text, chunker.chunk(text), 8, enc)


# -- dedupe ------------------------------------------------------------------------
@pytest.mark.parametrize("bad", BAD_ITEMS, ids=repr)
def test_dedupe_refuses_non_text(enc, bad) -> None:
    err = must_refuse(lambda: sememe.dedupe(["a", "b", bad], encoder=enc))
    assert "2" in str(err)


@pytest.mark.parametrize("bad", [*BAD_FLOATS, -0.5, 1.5], ids=repr)
def test_dedupe_refuses_bad_thresholds(enc, bad) -> None:
    must_refuse(lambda: sememe.dedupe(["a", "b"], threshold=bad, encoder=enc))
    # an estimator checks its parameters when it is used, not when it is made
    must_refuse(lambda: sememe.Deduplicator(bad, encoder=enc).update(["a"]))


def test_dedupe_odd_texts_keep_plus_removed_is_input(enc) -> None:
    result = sememe.dedupe(ODD_TEXTS, encoder=enc)
    kept = set(result.kept)
    removed = {d.index for d in result.removed}
    assert kept | removed == set(range(len(ODD_TEXTS)))
    assert not kept & removed
    # the only duplicates: the repeated English line, and blank texts (equal once
    # whitespace is normalised) of the first blank one
    assert {ODD_TEXTS[i] for i in removed} == {" ", "\t\n \r\n", "The cat sat on the mat."}


def test_failed_deduplicator_update_changes_nothing(enc) -> None:
    dd = sememe.Deduplicator(0.9, encoder=enc)
    dd.update(["one text", "another"])
    before = (dd.n_seen_, dd.n_kept_)
    must_refuse(lambda: dd.update(["fine", None]))
    assert (dd.n_seen_, dd.n_kept_) == before


# -- clustering --------------------------------------------------------------------
@pytest.mark.parametrize("bad", BAD_COUNTS, ids=repr)
def test_cluster_refuses_bad_counts(enc, bad) -> None:
    must_refuse(lambda: sememe.cluster(["a", "b", "c"], n_clusters=bad, encoder=enc))


@pytest.mark.parametrize("method", ["kmeans", "hdbscan", "agglomerative"])
@pytest.mark.parametrize(
    "texts",
    [ODD_TEXTS, ["same line"] * 30, ["only one"], ["", " "], ["a", "b"]],
    ids=["odd", "identical", "one", "blank", "two"],
)
def test_cluster_odd_inputs(enc, method, texts) -> None:
    kind, value = outcome(lambda: sememe.cluster(texts, method=method, encoder=enc))
    if kind == "ok":
        assert len(value.labels) == len(texts)
        assert all(-1 <= lab < max(value.n_clusters, 1) for lab in value.labels)
        value.describe()


# -- index -------------------------------------------------------------------------
KINDS = ["float", "binary", "binary+rerank"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bad", BAD_ITEMS, ids=repr)
def test_index_failed_add_changes_nothing(enc, kind, bad) -> None:
    index = sememe.Index(enc, kind=kind)
    index.add(["first document", "second document"])
    must_refuse(lambda: index.add(["fine", bad]))
    assert len(index) == 2
    assert [h.id for h in index.search("first document", k=1)] == [index.ids[0]]


@pytest.mark.parametrize("bad", [b"ab", bytearray(b"ab"), None, 2.5, {"a": 1}, math.nan], ids=repr)
def test_index_refuses_bad_ids(enc, bad) -> None:
    index = sememe.Index.from_texts(["a cat", "a dog"], encoder=enc)
    must_refuse(lambda: index.remove(bad))
    assert len(index) == 2
    must_refuse(lambda: index.add(["x"], ids=[bad]))
    assert len(index) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_index_blank_documents_are_never_near_anything(enc, kind) -> None:
    docs = ["", "   ", "cats purr on the sofa", "stock markets fell today", "\t"]
    index = sememe.Index.from_texts(docs, encoder=enc, kind=kind)
    for query in ["", "cat", "cats purr", "한국어"]:
        hits = index.search(query, k=len(docs))
        for h in hits:
            assert np.isfinite(h.score)
            if not docs[index.ids.index(h.id)].strip():
                assert h.score <= 0.0
        real = [h for h in hits if docs[index.ids.index(h.id)].strip()]
        blank = [h for h in hits if not docs[index.ids.index(h.id)].strip()]
        if real and blank and query.strip():
            assert hits.index(real[-1]) < hits.index(blank[0]) or real[-1].score <= 0


@pytest.mark.parametrize("bad", BAD_COUNTS, ids=repr)
def test_index_search_refuses_bad_k(enc, bad) -> None:
    index = sememe.Index.from_texts(["a cat", "a dog"], encoder=enc)
    must_refuse(lambda: index.search("cat", k=bad))


def test_index_odd_texts_round_trip(enc, tmp_path: Path) -> None:
    index = sememe.Index.from_texts(ODD_TEXTS, encoder=enc, kind="binary+rerank")
    index.save(tmp_path / "idx")
    again = sememe.Index.load(tmp_path / "idx", encoder=enc)
    for q in ODD_TEXTS[:8]:
        assert [(h.id, h.score) for h in index.search(q, k=5)] == [
            (h.id, h.score) for h in again.search(q, k=5)
        ]


# -- classification ----------------------------------------------------------------
TRAIN_X = ["good film", "great movie", "bad film", "awful movie", "fine film", "poor movie"]
TRAIN_Y = ["pos", "pos", "neg", "neg", "pos", "neg"]


@pytest.mark.parametrize(
    ("x", "y"),
    [
        (TRAIN_X, [*TRAIN_Y[:-1], None]),
        (TRAIN_X, [*TRAIN_Y[:-1], math.nan]),
        (TRAIN_X, TRAIN_Y[:-1]),  # mismatched lengths
        ([*TRAIN_X[:-1], None], TRAIN_Y),
        ([*TRAIN_X[:-1], b"bytes"], TRAIN_Y),
        (TRAIN_X, ["pos"] * 6),  # one class
        ([], []),
        (TRAIN_X, [b"pos", b"pos", b"neg", b"neg", b"pos", b"neg"]),
        (TRAIN_X, [{"a": 1}, *TRAIN_Y[1:]]),
        (TRAIN_X, [["pos", {"a": 1}], *([y] for y in TRAIN_Y[1:])]),
    ],
    ids=[
        "none-label",
        "nan-label",
        "lengths",
        "none-text",
        "bytes-text",
        "one-class",
        "empty",
        "bytes-labels",
        "dict-label",
        "dict-in-label-list",
    ],
)
def test_classifier_refuses_bad_training_data(enc, x, y) -> None:
    must_refuse(lambda: sememe.StaticClassifier(encoder=enc).fit(x, y))


def test_classifier_odd_texts_predict(enc) -> None:
    clf = sememe.StaticClassifier(encoder=enc).fit(TRAIN_X, TRAIN_Y)
    pred = clf.predict(ODD_TEXTS)
    assert len(pred) == len(ODD_TEXTS)
    assert set(pred) <= {"pos", "neg"}
    must_refuse(lambda: clf.predict(["fine", None]))


# -- saved folders, corrupted byte by byte -----------------------------------------
def _flip_samples(path: Path, n: int = 24) -> list[int]:
    size = path.stat().st_size
    if size == 0:
        return []
    step = max(1, size // n)
    offsets = list(range(0, size, step))[:n]
    return sorted({*offsets, size - 1, min(size - 1, 8)})


def _corrupt_and_check(
    folder: Path,
    load: Callable[[], Any],
    same: Callable[[Any], bool] | None,
    n: int = 24,
) -> None:
    """Flip sampled bytes of every file (and truncate each): ``load`` must raise a sememe
    error or give something ``same`` accepts (``same=None``: any result, for loads that
    skip checksums on purpose)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert files
    for path in files:
        original = path.read_bytes()
        try:
            for offset in _flip_samples(path, n):
                data = bytearray(original)
                data[offset] ^= 0x5A
                path.write_bytes(bytes(data))
                kind, value = outcome(load)
                assert kind == "error" or same is None or same(value), (
                    f"{path.name}@{offset}: loaded differently"
                )
            path.write_bytes(original[: len(original) // 2])  # truncated
            kind, value = outcome(load)
            assert kind == "error" or same is None or same(value), (
                f"{path.name} truncated: loaded differently"
            )
        finally:
            path.write_bytes(original)


def test_corrupt_model_folder(small, tmp_path: Path) -> None:
    small.save(tmp_path / "model")
    probe = ["the cat sat", "a dog ran in the park"]
    want = small.encode(probe)
    _corrupt_and_check(
        tmp_path / "model",
        lambda: sememe.load(tmp_path / "model"),
        lambda e: np.array_equal(e.encode(probe), want),
        n=12,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_corrupt_index_folder(small, tmp_path: Path, kind: str) -> None:
    index = sememe.Index.from_texts(
        ["the cat sat", "a dog ran", "", "stock market fell"], encoder=small, kind=kind
    )
    index.save(tmp_path / "idx")
    want = [(h.id, h.score) for h in index.search("the cat", k=4)]
    for verify in (True, False):
        _corrupt_and_check(
            tmp_path / "idx",
            lambda v=verify: sememe.Index.load(tmp_path / "idx", encoder=small, verify=v),
            # verify=False skips the checksums on purpose: a flipped vector byte then loads
            # (sizes are still checked); it must still never raise a raw exception
            (lambda ix: [(h.id, h.score) for h in ix.search("the cat", k=4)] == want)
            if verify
            else None,
            n=10,
        )


def test_corrupt_classifier_folder(enc, tmp_path: Path) -> None:
    clf = sememe.StaticClassifier(encoder=enc).fit(TRAIN_X, TRAIN_Y)
    clf.save(tmp_path / "clf")
    want = clf.predict_proba(TRAIN_X) if hasattr(clf, "predict_proba") else None
    labels = list(clf.predict(TRAIN_X))

    def same(loaded: Any) -> bool:
        if list(loaded.predict(TRAIN_X)) != labels:
            return False
        return want is None or np.allclose(loaded.predict_proba(TRAIN_X), want)

    _corrupt_and_check(
        tmp_path / "clf", lambda: sememe.StaticClassifier.load(tmp_path / "clf"), same, n=16
    )


def test_corrupt_dedupe_state(enc, tmp_path: Path) -> None:
    dd = sememe.Deduplicator(0.9, encoder=enc)
    dd.update(["one line", "another line", "one line", "something else"])
    dd.save(tmp_path / "state")
    probe = ["one line", "new text", "another line!"]
    want = list(sememe.Deduplicator.load(tmp_path / "state", encoder=enc).update(probe).kept)
    _corrupt_and_check(
        tmp_path / "state",
        lambda: sememe.Deduplicator.load(tmp_path / "state", encoder=enc),
        lambda d: d.n_seen_ == 4 and list(d.update(probe).kept) == want,
        n=16,
    )


# -- command line ------------------------------------------------------------------
def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    try:
        code = cli(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code if isinstance(exc.code, int) else 2
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    good = d / "good.txt"
    # a file cannot hold a lone surrogate: its UTF-8 would be invalid
    lines = [t for t in ODD_TEXTS[:13] if "\ud800" not in t]
    good.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad_utf8 = d / "bad.txt"
    bad_utf8.write_bytes(b"fine\n\xff\xfe broken\n")
    bad_json = d / "bad.jsonl"
    bad_json.write_text('{"text": "ok"}\n{not json}\n', encoding="utf-8")
    no_field = d / "nofield.jsonl"
    no_field.write_text('{"text": "ok"}\n{"body": "x"}\n', encoding="utf-8")
    nul = d / "nul.txt"
    nul.write_bytes(b"a\x00b\n\x00\n")
    labelled = d / "labelled.jsonl"
    labelled.write_text(
        "".join(
            json.dumps({"text": t, "label": y}) + "\n"
            for t, y in zip(TRAIN_X, TRAIN_Y, strict=True)
        ),
        encoding="utf-8",
    )
    not_index = d / "not_index"
    not_index.mkdir()
    (not_index / "notes.txt").write_text("mine", encoding="utf-8")
    return {
        "good": good,
        "bad_utf8": bad_utf8,
        "bad_json": bad_json,
        "no_field": no_field,
        "nul": nul,
        "labelled": labelled,
        "not_index": not_index,
        "dir": d,
    }


CLI_CASES: list[tuple[str, list[str]]] = [
    ("encode-missing", ["encode", "{dir}/missing.txt", "-o", "{dir}/o.npy"]),
    ("encode-bad-utf8", ["encode", "{bad_utf8}", "-o", "{dir}/o.npy"]),
    ("encode-bad-json", ["encode", "{bad_json}", "-o", "{dir}/o.npy"]),
    ("encode-no-field", ["encode", "{no_field}", "-o", "{dir}/o.npy"]),
    ("encode-batch-0", ["encode", "{good}", "-o", "{dir}/o.npy", "--batch-size", "0"]),
    ("encode-dim-bad", ["encode", "{good}", "-o", "{dir}/o.npy", "--dim", "100000"]),
    ("encode-model", ["encode", "{good}", "-o", "{dir}/o.npy", "-m", "no-such-model"]),
    ("encode-folder", ["encode", "{dir}", "-o", "{dir}/o.npy"]),
    ("dedupe-threshold-nan", ["dedupe", "{good}", "-o", "{dir}/d.txt", "-t", "nan"]),
    ("dedupe-threshold-big", ["dedupe", "{good}", "-o", "{dir}/d.txt", "-t", "7"]),
    ("dedupe-batch-0", ["dedupe", "{good}", "-o", "{dir}/d.txt", "--stream", "--batch-size", "0"]),
    ("dedupe-bad-json", ["dedupe", "{bad_json}", "-o", "{dir}/d.jsonl"]),
    ("cluster-k-0", ["cluster", "{good}", "-k", "0"]),
    ("cluster-k-many", ["cluster", "{good}", "-k", "1000"]),
    ("chunk-max-0", ["chunk", "{good}", "--max-tokens", "0"]),
    ("chunk-missing", ["chunk", "{dir}/missing.txt"]),
    ("index-batch", ["index", "build", "{good}", "-o", "{dir}/idx", "--exact-limit", "-5"]),
    ("index-over-user-folder", ["index", "build", "{good}", "-o", "{not_index}", "--overwrite"]),
    ("search-not-index", ["search", "{not_index}", "cat"]),
    ("search-missing", ["search", "{dir}/nothing", "cat"]),
    (
        "classify-over-user-folder",
        ["classify", "train", "{labelled}", "-o", "{not_index}", "--overwrite"],
    ),
    ("classify-predict-not-clf", ["classify", "predict", "{not_index}", "{good}"]),
    ("info-model", ["info", "-m", "{dir}/missing-model"]),
]


@pytest.mark.parametrize(("name", "argv"), CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_user_mistakes_are_one_clear_line(files, capsys, name, argv) -> None:
    argv = [a.format(**{k: str(v) for k, v in files.items()}) for a in argv]
    before = sorted(p.name for p in files["not_index"].iterdir())
    code, err = run_cli(argv, capsys)
    assert code in (1, 2), f"exit {code}: {err}"
    assert "internal error" not in err and "Traceback" not in err, err
    if code == 1:
        lines = [line for line in err.splitlines() if line.startswith("sememe: error:")]
        assert len(lines) == 1, err
    assert sorted(p.name for p in files["not_index"].iterdir()) == before


def test_cli_odd_texts_give_results(files, capsys, tmp_path: Path) -> None:
    out = tmp_path / "v.npy"
    code, err = run_cli(["encode", str(files["good"]), "-o", str(out)], capsys)
    assert code == 0, err
    vecs = np.load(out)
    n_lines = len(files["good"].read_text(encoding="utf-8").splitlines())
    check_vectors(vecs, n_lines)
    code, err = run_cli(["dedupe", str(files["nul"]), "-o", str(tmp_path / "d.txt")], capsys)
    assert code == 0, err
    with contextlib.suppress(FileNotFoundError):
        (tmp_path / "d.txt").unlink()
