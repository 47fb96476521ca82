"""Streaming dedupe in the library (Deduplicator.stream, stream positions, RecordWriter),
the unfitted Deduplicator (reading creates nothing), and the search's FAISS vocabulary."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
from conftest import WORDS, tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sememe import Deduplicator, dedupe
from sememe.deduplication import SEARCH_MODES, RecordWriter, texts_of
from sememe.deduplication._search import CellIndex, search_settings
from sememe.errors import InvalidArgumentError, InvalidTypeError

TINY = tiny_encoder(dim=16, seed=3)
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

word = st.sampled_from(WORDS[:10])
phrase = st.lists(word, min_size=0, max_size=3).map(" ".join)


def corpus(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS[:25], 4)) for _ in range(n)]


# ---------------------------------------------------------------------- stream()


@FAST
@given(texts=st.lists(phrase, max_size=25), size=st.integers(1, 7), exact=st.booleans())
def test_stream_equals_updates_and_one_shot(texts, size, exact):
    results = list(Deduplicator(0.9, encoder=TINY, exact=exact).stream(texts, batch_size=size))
    by_update = Deduplicator(0.9, encoder=TINY, exact=exact)
    kept = []
    for k, r in enumerate(results):
        batch = texts[k * size : (k + 1) * size]
        assert r.offset == k * size and r.records == batch
        assert r.deduplicated == [batch[i] for i in r.kept]
        assert r.kept == by_update.update(batch).kept
        kept += [r.offset + i for i in r.kept]
    assert sum(r.n_records for r in results) == len(texts)
    assert kept == dedupe(texts, threshold=0.9, encoder=TINY, exact=exact).kept


def test_stream_report_rows_use_stream_positions():
    texts = ["cat sat on mat", "dog ran", "Cat sat on mat", "fish swim", "DOG RAN", "dog ran"]
    dd = Deduplicator(0.9, encoder=TINY)
    rows = [
        row for r in dd.stream(texts, batch_size=4) for row in r.report_rows(positions="stream")
    ]
    assert [(row["index"], row["duplicate_of"]) for row in rows] == [(2, 0), (4, 1), (5, 1)]
    assert not any(row["reference"] for row in rows)
    assert rows[0]["duplicate_text"] == "cat sat on mat"
    # batch positions are unchanged by default
    again = Deduplicator(0.9, encoder=TINY)
    second = list(again.stream(texts, batch_size=4))[1]
    assert [
        (row["index"], row["duplicate_of"], row["reference"]) for row in second.report_rows()
    ] == [
        (0, 1, True),
        (1, 1, True),
    ]


def test_stream_positions_only_for_deduplicator_results():
    result = dedupe(["a b", "a b"], encoder=TINY)
    with pytest.raises(InvalidArgumentError, match="Deduplicator"):
        result.report_rows(positions="stream")
    with pytest.raises(InvalidArgumentError, match="positions must be one of"):
        result.report_rows(positions="global")


def test_stream_is_lazy_and_continues_the_state():
    read = []

    def records():
        for i, t in enumerate(corpus(30)):
            read.append(i)
            yield t

    dd = Deduplicator(0.99, encoder=TINY)
    it = dd.stream(records(), batch_size=10)
    first = next(it)
    assert first.offset == 0 and len(read) == 10 and dd.n_seen_ == 10
    assert [r.offset for r in it] == [10, 20]
    assert dd.n_seen_ == 30
    later = list(dd.stream(["x y"], batch_size=5))  # continues: no reset
    assert later[0].offset == 30


def test_stream_texts_hook_and_errors():
    pairs = [(10 + i, {"body": t}) for i, t in enumerate(["cat sat", "cat sat", "dog ran"])]
    dd = Deduplicator(0.9, encoder=TINY)
    out = list(dd.stream(pairs, batch_size=2, texts=lambda b: [rec["body"] for _, rec in b]))
    assert [r.kept for r in out] == [[0], [0]]
    assert out[0].texts == ["cat sat", "cat sat"]
    assert out[1].records == [pairs[2]]
    with pytest.raises(InvalidArgumentError, match="batch_size"):
        next(Deduplicator(encoder=TINY).stream(["a"], batch_size=0))
    with pytest.raises(InvalidTypeError, match="batch_size"):
        next(Deduplicator(encoder=TINY).stream(["a"], batch_size=2.5))


def test_a_failed_stream_batch_keeps_earlier_batches():
    dd = Deduplicator(0.9, encoder=TINY)
    it = dd.stream(["cat sat", "dog ran", None, "fish"], batch_size=2)
    assert next(it).kept == [0, 1]
    with pytest.raises(InvalidTypeError, match=r"records\[0\] is None"):
        next(it)
    assert (dd.n_seen_, dd.n_kept_) == (2, 2)


# ---------------------------------------------------------------------- RecordWriter


def test_record_writer_formats(tmp_path):
    rows = [{"id": 1, "text": "a\nb"}, {"id": 2, "text": "c", "extra": 3}]
    with RecordWriter(tmp_path / "o.csv", "csv") as w:
        w.write(rows[:1])
        w.write(rows[1:])
        w.write([])
    with open(tmp_path / "o.csv", newline="") as f:
        got = list(csv.reader(f))
    assert got == [
        ["id", "text"],
        ["1", "a\nb"],
        ["2", "c"],
    ]
    with RecordWriter(tmp_path / "o.jsonl", "jsonl") as w:
        w.write(rows)
        w.write(["plain"])
    lines = (tmp_path / "o.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [*rows, {"text": "plain"}]
    with RecordWriter(tmp_path / "o.txt", "txt") as w:
        w.write(rows, texts=["a\nb", "c"])
        w.write(["d"])
    assert (tmp_path / "o.txt").read_text() == "a b\nc\nd\n"
    with RecordWriter(tmp_path / "empty.csv", "csv"):
        pass
    assert (tmp_path / "empty.csv").read_text() == ""
    with pytest.raises(InvalidArgumentError, match="format must be one of"):
        RecordWriter(tmp_path / "o.xml", "xml")
    assert texts_of([{"text": "a"}])[0] == ["a"]


# ---------------------------------------------------------------------- unfitted


def test_reading_an_unfitted_deduplicator_creates_no_state():
    dd = Deduplicator(0.9, encoder=TINY)
    assert (dd.n_seen_, dd.n_kept_, len(dd)) == (0, 0, 0)
    assert repr(dd) == "Deduplicator(threshold=0.9, seen=0, kept=0)"
    assert not any(name in vars(dd) for name in ("_index", "_ids", "_hashes", "_n_seen"))
    # an unfitted Deduplicator is an empty reference, and stays unfitted
    assert dedupe(["cat sat", "dog ran"], against=dd, encoder=TINY).kept == [0, 1]
    assert "_index" not in vars(dd)
    dd.update(["cat sat"])
    assert "_index" in vars(dd) and (dd.n_seen_, dd.n_kept_) == (1, 1)


# ---------------------------------------------------------------------- FAISS vocabulary


def test_search_settings_speak_faiss():
    assert SEARCH_MODES == ("auto", "exact", "ivf")
    assert search_settings("Flat") == ("exact", None, 128)
    assert search_settings("IVF") == ("ivf", None, 128)
    assert search_settings("IVF64") == ("ivf", 64, 128)
    assert search_settings("IVF64,Flat", 64) == ("ivf", 64, 128)
    assert search_settings("ivf", 8) == ("ivf", 8, 128)
    with pytest.raises(InvalidArgumentError, match="nlist"):
        search_settings("IVF64,Flat", 32)
    for bad in ("IVF,PQ8", "HNSW32", "ivf64", 3, None):
        with pytest.raises(InvalidArgumentError, match="search must be one of"):
            search_settings(bad)
    with pytest.raises(InvalidArgumentError, match="nlist"):
        search_settings("ivf", 0)


def test_old_spellings_warn_and_give_the_same_answer():
    texts = corpus(300, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = dedupe(texts, threshold=0.95, encoder=TINY, search="ivf", nprobe=4)
        flat = dedupe(texts, threshold=0.95, encoder=TINY, search="Flat")
    with pytest.warns(DeprecationWarning, match="search='cells' is deprecated"):
        old = dedupe(texts, threshold=0.95, encoder=TINY, search="cells", nprobe=4)
    assert old.kept == new.kept
    assert flat.kept == dedupe(texts, threshold=0.95, encoder=TINY, search="exact").kept
    with pytest.warns(DeprecationWarning, match="cell_size is deprecated") as caught:
        dedupe(texts, encoder=TINY, cell_size=64)
    assert caught[0].filename == __file__  # points at the caller
    with pytest.warns(DeprecationWarning, match="cell_size"):
        Deduplicator(encoder=TINY, cell_size=64)
    with pytest.warns(DeprecationWarning, match="cells"):
        Deduplicator(encoder=TINY, search="cells")


def test_nlist_fixes_the_number_of_cells():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = CellIndex(16, search="ivf", nlist=7, nprobe=7)
    index.add(x)
    assert index.uses_cells and index._cells.n_cells == 7
    a, b, _ = index.self_pairs(0.8)
    exact = CellIndex(16, search="exact")
    exact.add(x)
    ea, eb, _ = exact.self_pairs(0.8)
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == set(
        zip(ea.tolist(), eb.tolist(), strict=True)
    )  # every cell probed: exact
    texts = corpus(200, seed=4)
    r = dedupe(texts, threshold=0.95, encoder=TINY, search="IVF5,Flat", nprobe=5)
    assert r.kept == dedupe(texts, threshold=0.95, encoder=TINY, search="exact").kept


def test_state_keeps_the_search_and_loads_without_warnings(tmp_path):
    dd = Deduplicator(0.95, encoder=TINY, search="IVF4,Flat", nprobe=4)
    dd.update(corpus(60))
    folder = dd.save(tmp_path / "state")
    state = json.loads((folder / "manifest.json").read_text())["state"]
    assert (state["search"], state["nlist"], state["cell_size"]) == ("cells", 4, 128)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = Deduplicator.load(folder, encoder=TINY)
    assert (back.search, back.nlist) == ("ivf", 4)
    assert back._index.nlist == 4
    nxt = corpus(30, seed=9)
    assert back.update(nxt).kept == dd.update(nxt).kept
    plain = Deduplicator(0.95, encoder=TINY)
    plain.update(["a b"])
    assert (
        "nlist"
        not in json.loads((plain.save(tmp_path / "p") / "manifest.json").read_text())["state"]
    )


def test_uncovered_warning_points_at_the_caller():
    korean = ["한국어 문장 입니다 테스트", "다른 한국어 문장 입니다"]
    with pytest.warns(UserWarning, match="character 3-grams") as caught:
        Deduplicator(0.9, encoder=TINY).update(korean)
    assert caught[0].filename == __file__
    with pytest.warns(UserWarning, match="character 3-grams") as caught:
        list(Deduplicator(0.9, encoder=TINY).stream(korean))
    assert caught[0].filename == __file__
