"""Records as DataFrames and Arrow data (issue 16): every capability that takes texts or
records reads the pandas, polars and pyarrow containers ``Encoder.encode`` reads, gives the
same answer as for a list, and hands kept records back in the input's own type.

dedupe, filter_outliers, find_representative and Deduplicator take multi-column frames
(pandas, polars, pyarrow Table/RecordBatch) with ``key=<column>``; a frame of one column
needs no key; several columns without a key, a missing column, a callable key and missing
values are refused with the names and positions that locate the problem.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe.chunking import TokenChunker
from sememe.classify import StaticClassifier
from sememe.clustering import TextClusterer
from sememe.deduplication import Deduplicator, RecordFieldError, select_records, texts_of
from sememe.errors import InvalidArgumentError, InvalidTypeError

pl = pytest.importorskip("polars")
pa = pytest.importorskip("pyarrow")

TINY = tiny_encoder()
#: exact duplicates up to case and spacing, so the answer does not depend on the model
TEXTS = ["the cat sat", "The cat  sat", "a dog ran", "the cat sat", "a fish swam", "A dog ran"]
KEPT = [0, 2, 4]
IDS = [10, 11, 12, 13, 14, 15]


def columns_of(texts: list[str]) -> dict[str, object]:
    """One column of ``texts`` in every container sememe reads as texts."""
    half = len(texts) // 2
    return {
        "numpy": np.array(texts, dtype=object),
        "pandas Series": pd.Series(texts, dtype=object),
        "pandas Series string": pd.Series(texts, dtype="string"),
        "pandas one-column DataFrame": pd.DataFrame({"text": texts}, dtype=object),
        "polars Series": pl.Series("text", texts, dtype=pl.Utf8),
        "polars one-column DataFrame": pl.DataFrame({"text": texts}, schema={"text": pl.Utf8}),
        "pyarrow Array": pa.array(texts, type=pa.string()),
        "pyarrow ChunkedArray": pa.chunked_array([texts[:half], texts[half:]], type=pa.string()),
        "pyarrow Table": pa.table({"text": pa.array(texts, type=pa.string())}),
        "pyarrow RecordBatch": pa.record_batch([pa.array(texts, type=pa.string())], ["text"]),
    }


def frames_of(texts: list[str], ids: list[int]) -> dict[str, object]:
    """Two-column frames (``id``, ``text``) of every library."""
    return {
        "pandas": pd.DataFrame({"id": ids, "text": texts}, index=[100 + i for i in ids]),
        "polars": pl.DataFrame({"id": ids, "text": texts}),
        "pyarrow Table": pa.table({"id": ids, "text": texts}),
        "pyarrow RecordBatch": pa.record_batch([pa.array(ids), pa.array(texts)], ["id", "text"]),
    }


def values(selected: object) -> list[str]:
    """The texts of a one-column selection, whatever its type."""
    if isinstance(selected, pd.DataFrame):
        return selected.iloc[:, 0].tolist()
    if isinstance(selected, pl.DataFrame):
        return selected.to_series(0).to_list()
    if isinstance(selected, (pa.Table, pa.RecordBatch)):
        return selected.column(0).to_pylist()
    if isinstance(selected, (pd.Series, np.ndarray)):
        return list(selected.tolist())
    if isinstance(selected, pl.Series):
        return selected.to_list()
    if isinstance(selected, (pa.Array, pa.ChunkedArray)):
        return selected.to_pylist()
    assert isinstance(selected, list)
    return selected


def dict_rows(frame: object) -> list[dict]:
    if isinstance(frame, pd.DataFrame):
        return frame.to_dict("records")
    if isinstance(frame, pl.DataFrame):
        return frame.to_dicts()
    assert isinstance(frame, (pa.Table, pa.RecordBatch))
    return frame.to_pylist()


# ------------------------------------------------------------------------ columns


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_dedupe_reads_every_column_and_keeps_the_input_type(kind) -> None:
    value = columns_of(TEXTS)[kind]
    result = sememe.dedupe(value, encoder=TINY)
    assert result.kept == KEPT
    assert result.texts == TEXTS
    kept = result.deduplicated
    assert values(kept) == [TEXTS[i] for i in KEPT]
    if kind == "numpy":
        assert isinstance(kept, list)  # as before: numpy values come back as a list
    else:
        assert type(kept) is type(value), kind


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_empty_columns_keep_nothing_in_their_type(kind) -> None:
    value = columns_of([])[kind]
    result = sememe.dedupe(value, encoder=TINY)
    assert result.kept == [] and result.n_records == 0
    assert values(result.deduplicated) == []


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_selections_of_every_column_keep_the_input_type(kind) -> None:
    value = columns_of(TEXTS)[kind]
    for select in (sememe.filter_outliers, sememe.find_representative):
        expected = select(TEXTS, encoder=TINY)
        got = select(value, encoder=TINY)
        assert got.selected_indices.tolist() == expected.selected_indices.tolist()
        assert values(got.selected) == values(expected.selected)
        assert values(got.filtered) == values(expected.filtered)
        if kind != "numpy":
            assert type(got.selected) is type(value)


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_against_reads_every_column(kind) -> None:
    reference = ["THE CAT SAT", "nothing like it"]
    result = sememe.dedupe(TEXTS, against=columns_of(reference)[kind], encoder=TINY)
    assert result.kept == sememe.dedupe(TEXTS, against=reference, encoder=TINY).kept
    assert result.kept == [2, 4]  # the cat copies are in the reference


LABELS = [0, 0, 1, 0, 2, 1]


@pytest.fixture(scope="module")
def references() -> dict[str, object]:
    """What cluster, Index and StaticClassifier give for the plain list (computed once)."""
    clf = StaticClassifier(encoder=TINY).fit(TEXTS, LABELS)
    return {
        "labels": sememe.cluster(TEXTS, 2, method="agglomerative", encoder=TINY).labels.tolist(),
        "hits": hits(sememe.Index.from_texts(TEXTS, encoder=TINY)),
        "predict": clf.predict(TEXTS),
        "proba": clf.predict_proba(TEXTS),
    }


def hits(index: sememe.Index) -> list[tuple[object, float]]:
    return [(h.id, round(h.score, 5)) for h in index.search("a cat sat", k=4)]


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_cluster_reads_every_column(kind, references) -> None:
    got = sememe.cluster(columns_of(TEXTS)[kind], 2, method="agglomerative", encoder=TINY)
    assert got.labels.tolist() == references["labels"]


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_index_from_texts_and_add_read_every_column(kind, references) -> None:
    built = sememe.Index.from_texts(columns_of(TEXTS)[kind], encoder=TINY)
    added = sememe.Index(TINY)
    added.add(columns_of(TEXTS)[kind])
    assert len(built) == len(added) == len(TEXTS)
    assert hits(built) == hits(added) == references["hits"]


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_classifier_fit_and_predict_read_every_column(kind, references) -> None:
    clf = StaticClassifier(encoder=TINY).fit(columns_of(TEXTS)[kind], LABELS)
    np.testing.assert_array_equal(clf.predict(columns_of(TEXTS)[kind]), references["predict"])
    np.testing.assert_allclose(
        clf.predict_proba(columns_of(TEXTS)[kind]), references["proba"], rtol=1e-6
    )


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_text_clusterer_reads_every_column(kind, references) -> None:
    model = TextClusterer(n_clusters=2, method="agglomerative", encoder=TINY)
    model.fit(columns_of(TEXTS)[kind])
    assert model.labels_.tolist() == references["labels"]
    np.testing.assert_array_equal(model.predict(columns_of(TEXTS)[kind]), model.predict(TEXTS))


def test_text_clusterer_still_takes_numeric_frames_as_vectors() -> None:
    vectors = TINY.encode(TEXTS)
    expected = TextClusterer(n_clusters=2, method="agglomerative").fit(vectors).labels_
    names = [f"v{i}" for i in range(vectors.shape[1])]
    for frame in (
        pd.DataFrame(vectors, columns=names),
        pa.table({n: vectors[:, i] for i, n in enumerate(names)}),
    ):
        got = TextClusterer(n_clusters=2, method="agglomerative").fit(frame).labels_
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kind", list(columns_of(TEXTS)))
def test_chunk_batch_reads_every_column(kind) -> None:
    chunker = TokenChunker(TINY, max_tokens=2)
    expected = chunker.chunk_batch(TEXTS)
    got = chunker.chunk_batch(columns_of(TEXTS)[kind])
    assert [[c.text for c in cs] for cs in got] == [[c.text for c in cs] for cs in expected]


# ------------------------------------------------------------------------ frames


@pytest.mark.parametrize("kind", list(frames_of(TEXTS, IDS)))
def test_frames_with_a_key_keep_their_rows_in_their_type(kind, tmp_path) -> None:
    frame = frames_of(TEXTS, IDS)[kind]
    result = sememe.dedupe(frame, key="text", encoder=TINY)
    assert result.kept == KEPT
    kept = result.deduplicated
    assert type(kept) is type(frame)
    assert dict_rows(kept) == [{"id": IDS[i], "text": TEXTS[i]} for i in KEPT]
    if kind == "pandas":
        assert list(kept.index) == [100 + IDS[i] for i in KEPT]  # .iloc keeps the index
    path = result.write(tmp_path / "kept.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [{"id": IDS[i], "text": TEXTS[i]} for i in KEPT]
    txt = result.write(tmp_path / "kept.txt")
    assert txt.read_text().splitlines() == [TEXTS[i] for i in KEPT]


@pytest.mark.parametrize("kind", list(frames_of(TEXTS, IDS)))
def test_frames_without_a_key_name_their_columns(kind) -> None:
    frame = frames_of(TEXTS, IDS)[kind]
    with pytest.raises(InvalidTypeError, match=r"2 columns \('id', 'text'\).*key=<column name>"):
        sememe.dedupe(frame, encoder=TINY)
    with pytest.raises(InvalidTypeError, match="key=<column name>"):
        sememe.filter_outliers(frame, encoder=TINY)


@pytest.mark.parametrize("kind", list(frames_of(TEXTS, IDS)))
def test_frames_refuse_a_missing_column_and_a_callable_key(kind) -> None:
    frame = frames_of(TEXTS, IDS)[kind]
    with pytest.raises(RecordFieldError, match=r"no column 'body' \(columns: \['id', 'text'\]\)"):
        sememe.dedupe(frame, key="body", encoder=TINY)
    with pytest.raises(KeyError):  # RecordFieldError is also a KeyError
        sememe.dedupe(frame, key="body", encoder=TINY)
    with pytest.raises(InvalidTypeError, match="key=<column name>"):
        sememe.dedupe(frame, key=lambda row: row["text"], encoder=TINY)


def test_frames_with_no_columns_are_refused() -> None:
    for frame in (pd.DataFrame(), pl.DataFrame(), pa.table({})):
        with pytest.raises(InvalidTypeError, match="0 columns"):
            sememe.dedupe(frame, encoder=TINY)


def test_missing_values_are_refused_with_their_position() -> None:
    cases = {
        "polars": pl.DataFrame({"id": [1, 2, 3], "text": ["a", None, "c"]}),
        "pyarrow": pa.table({"id": [1, 2, 3], "text": ["a", None, "c"]}),
        "pandas": pd.DataFrame({"id": [1, 2, 3], "text": ["a", None, "c"]}),
    }
    for kind, frame in cases.items():
        with pytest.raises(InvalidTypeError, match=r"records\[.text.\]\[1\] is (None|NaN)"):
            sememe.dedupe(frame, key="text", encoder=TINY)
        column = frame["text"] if kind != "pyarrow" else frame.column("text")
        with pytest.raises(InvalidTypeError, match=r"records\[1\] is (None|NaN)"):
            sememe.dedupe(column, encoder=TINY)
    nan = pd.DataFrame({"text": ["a", float("nan")]})
    with pytest.raises(InvalidTypeError, match=r"records\['text'\]\[1\] is NaN \(a missing"):
        sememe.dedupe(nan, encoder=TINY)


def test_lazy_frames_and_other_frames_are_refused_with_the_fix() -> None:
    with pytest.raises(InvalidTypeError, match=r"collect\(\)"):
        sememe.dedupe(pl.DataFrame({"text": TEXTS}).lazy(), encoder=TINY)

    class OtherFrame:  # a frame of a library sememe does not know: iterating gives names
        def __init__(self) -> None:
            self.columns = ["text"]

        def __iter__(self):
            return iter(self.columns)

    with pytest.raises(InvalidTypeError, match="OtherFrame"):
        sememe.dedupe(OtherFrame(), encoder=TINY)


def test_a_key_on_a_column_of_texts_is_refused() -> None:
    with pytest.raises(InvalidTypeError, match=r"records\[0\] is str; expected a dict"):
        sememe.dedupe(pl.Series(TEXTS), key="text", encoder=TINY)


def test_non_text_columns_are_refused_naming_the_column() -> None:
    frame = pl.DataFrame({"id": IDS, "text": TEXTS})
    with pytest.raises(InvalidTypeError, match=r"records\['id'\]\[0\] is of type int"):
        sememe.dedupe(frame, key="id", encoder=TINY)


@pytest.mark.parametrize("kind", list(frames_of(TEXTS, IDS)))
def test_deduplicator_and_selections_take_frames(kind) -> None:
    frame = frames_of(TEXTS, IDS)[kind]
    dedup = Deduplicator(encoder=TINY, key="text")
    first = dedup.filter(frame)
    assert type(first) is type(frame)
    assert dict_rows(first) == [{"id": IDS[i], "text": TEXTS[i]} for i in KEPT]
    again = dedup.update(frames_of(["A FISH SWAM", "a new text"], [20, 21])[kind])
    assert again.kept == [1]
    assert dict_rows(again.deduplicated) == [{"id": 21, "text": "a new text"}]
    reps = sememe.find_representative(frame, key="text", encoder=TINY)
    assert type(reps.selected) is type(frame)
    assert [r["id"] for r in dict_rows(reps.selected)] == [
        IDS[i] for i in reps.selected_indices.tolist()
    ]


def test_select_records_refuses_nothing_it_was_given() -> None:
    """select_records takes positions in any order, repeated, as numpy or a list."""
    for kind, frame in frames_of(TEXTS, IDS).items():
        got = select_records(frame, np.array([3, 0, 3]))
        assert [r["id"] for r in dict_rows(got)] == [13, 10, 13], kind
        assert dict_rows(select_records(frame, [])) == [], kind
    assert select_records(TEXTS, [1]) == [TEXTS[1]]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["cat", "Cat", "dog", "DOG ", "fish", "a b", "A  B", ""]), max_size=14)
)
def test_frames_deduplicate_as_their_list_of_dicts(texts) -> None:
    """Whatever the texts, every library's frame keeps the rows the list of dicts keeps."""
    ids = list(range(len(texts)))
    rows = [{"id": i, "text": t} for i, t in zip(ids, texts, strict=True)]
    expected = sememe.dedupe(rows, encoder=TINY)
    for kind, frame in frames_of(texts, ids).items():
        if kind == "pyarrow RecordBatch" and not texts:
            continue  # pa.array([]) is a null array: not a column of texts
        got = sememe.dedupe(frame, key="text", encoder=TINY)
        assert got.kept == expected.kept, kind
        assert dict_rows(got.deduplicated) == expected.deduplicated, kind


def test_texts_of_names_the_argument() -> None:
    with pytest.raises(InvalidTypeError, match=r"against is a polars DataFrame with 2 columns"):
        texts_of(pl.DataFrame({"id": IDS, "text": TEXTS}), None, name="against")
    texts, container = texts_of(pa.chunked_array([TEXTS]), None)
    assert texts == TEXTS and isinstance(container, pa.ChunkedArray)


def test_multi_column_frames_are_refused_by_text_inputs() -> None:
    """Where a capability takes texts (not records), a two-column frame is refused naming
    its columns, never read as its first column."""
    frame = pl.DataFrame({"id": IDS, "text": TEXTS})
    with pytest.raises(InvalidArgumentError, match=r"2 columns \('id', 'text'\)"):
        sememe.cluster(frame, 2, encoder=TINY)
    with pytest.raises(InvalidArgumentError, match=r"2 columns \('id', 'text'\)"):
        sememe.Index.from_texts(pa.table({"id": IDS, "text": TEXTS}), encoder=TINY)
    with pytest.raises(InvalidArgumentError, match=r"2 columns \('id', 'text'\)"):
        StaticClassifier(encoder=TINY).fit(frame, LABELS)


@pytest.mark.parametrize("kind", [*frames_of(TEXTS, IDS), "polars Series", "pyarrow ChunkedArray"])
def test_streams_slice_frames_and_columns_by_rows(kind) -> None:
    """A stream batches a frame's rows (never its column names) in the frame's type."""
    if kind in ("polars Series", "pyarrow ChunkedArray"):
        value = columns_of(TEXTS)[kind]
        dedup = Deduplicator(encoder=TINY)
    else:
        value = frames_of(TEXTS, IDS)[kind]
        dedup = Deduplicator(encoder=TINY, key="text")
    batches = list(dedup.stream(value, batch_size=4))
    assert [b.n_records for b in batches] == [4, 2]
    assert [b.offset + k for b in batches for k in b.kept] == KEPT
    for b in batches:
        assert type(b.deduplicated) is type(value)
    if kind in frames_of(TEXTS, IDS):
        kept = [row for b in batches for row in dict_rows(b.deduplicated)]
        assert kept == [{"id": IDS[i], "text": TEXTS[i]} for i in KEPT]


def test_streams_refuse_what_is_not_records() -> None:
    with pytest.raises(InvalidTypeError, match="single str"):
        list(Deduplicator(encoder=TINY).stream("one text"))
    with pytest.raises(InvalidTypeError, match=r"2 columns \('id', 'text'\)"):
        list(Deduplicator(encoder=TINY).stream(pd.DataFrame({"id": IDS, "text": TEXTS})))
    with pytest.raises(InvalidTypeError, match=r"collect\(\)"):
        list(Deduplicator(encoder=TINY).stream(pl.DataFrame({"text": TEXTS}).lazy()))
    with pytest.raises(InvalidTypeError, match="expected an iterable"):
        list(Deduplicator(encoder=TINY).stream(42))
