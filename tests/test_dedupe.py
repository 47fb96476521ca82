"""Deduplication: the no-chaining rule, conservation on every path, exactness, streams, CLI."""

from __future__ import annotations

import csv
import gzip
import json

import numpy as np
import pytest
from conftest import SHARED, WORDS, tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe import DedupeResult, Deduplicator, dedupe
from sememe.cli.main import main
from sememe.deduplication import Duplicate, normalize_text
from sememe.deduplication._search import CellIndex, choose_screen_dim

TINY = tiny_encoder(dim=16, seed=3)

# Texts from a small vocabulary: many exact and near duplicates, plus blanks.
word = st.sampled_from(WORDS[:12])
phrase = st.lists(word, min_size=0, max_size=4).map(" ".join)
styled = st.tuples(phrase, st.sampled_from(["", " ", "  ", "\t"]), st.booleans()).map(
    lambda x: (x[0].upper() if x[2] else x[0]) + x[1]
)
corpora = st.lists(styled, min_size=0, max_size=30)
thresholds = st.sampled_from([0.5, 0.7, 0.8, 0.9, 0.95, 1.0])
keeps = st.sampled_from(["first", "last", "longest", "shortest"])
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_conservation(result: DedupeResult, n: int) -> None:
    """Every input position is in exactly one of kept/removed; removals point at kept records."""
    removed = [d.index for d in result.removed]
    assert result.n_records == n
    assert len(removed) == len(set(removed))
    assert set(result.kept).isdisjoint(removed)
    assert set(result.kept) | set(removed) == set(range(n))
    assert result.kept == sorted(result.kept)
    kept = set(result.kept)
    for d in result.removed:
        if not d.reference:
            assert d.duplicate_of in kept, d
        assert d.similarity >= result.threshold - 1e-6 or d.exact, d


def naive_kept(texts, enc, threshold, keep="first", exact=True):
    """Straightforward O(n^2) statement of the rule, for comparison."""
    n = len(texts)
    keys = [normalize_text(t) for t in texts] if exact else list(texts)
    idx = list(range(n))
    order = {
        "first": idx,
        "last": idx[::-1],
        "longest": sorted(idx, key=lambda i: (-len(texts[i]), i)),
        "shortest": sorted(idx, key=lambda i: (len(texts[i]), i)),
    }[keep]
    rep: dict[str, int] = {}
    for i in order:
        rep.setdefault(keys[i], i)
    vecs = enc.encode(texts, normalize=True) if n else np.zeros((0, enc.dim), np.float32)
    kept: list[int] = []
    for i in order:
        v = vecs[rep[keys[i]]]
        if not exact and not v.any():
            kept.append(i)  # blank text compared by vector: duplicates nothing
            continue
        if any(keys[j] == keys[i] for j in kept):
            continue
        if any(float(v @ vecs[j]) >= threshold - 1e-6 for j in kept):
            continue
        kept.append(i)
    return sorted(kept)


# ---------------------------------------------------------------------- the rule


def test_near_and_exact_duplicates_with_the_bundled_model(default):
    texts = [
        "The cat sat on the mat.",
        "the cat  sat on the mat.",  # exact after normalisation
        "A cat sat on the mat.",  # near duplicate
        "Stock markets fell sharply today.",
        "",
        "   ",  # blank: exact duplicate of "" after normalisation
    ]
    r = dedupe(texts, threshold=0.9)
    check_conservation(r, len(texts))
    assert r.kept == [0, 3, 4]
    by = {d.index: d for d in r.removed}
    assert by[1] == Duplicate(1, 0, 1.0, exact=True)
    assert by[2].duplicate_of == 0 and not by[2].exact and by[2].similarity >= 0.9
    assert by[5].exact and by[5].duplicate_of == 4
    assert r.groups == {0: [1, 2], 4: [5]}
    assert r.deduplicated == [texts[0], texts[3], texts[4]]
    assert r.duplicate_ratio == pytest.approx(3 / 6)
    assert "removed" in r.explain(2) and "record 0" in r.explain(2)
    assert "kept" in r.explain(0) and "2 duplicate" in r.explain(0)
    assert "normalisation" in r.explain(1)


def _chain(enc):
    """Texts a, b, c and a threshold with a~b, b~c but not a~c."""
    cands = [" ".join(p) for p in zip(WORDS, WORDS[1:], WORDS[2:], strict=False)]
    cands += [" ".join(p) for p in zip(WORDS, WORDS[3:], strict=False)]
    v = enc.encode(cands, normalize=True)
    s = v @ v.T
    n = len(cands)
    for a in range(n):
        for b in range(n):
            for c in range(n):
                if len({a, b, c}) < 3:
                    continue
                t = min(s[a, b], s[b, c])
                if t - s[a, c] > 0.05 and t > 0.3:
                    return cands[a], cands[b], cands[c], float(t) - 1e-4
    raise AssertionError("no chain found")


def test_no_chaining():
    a, b, c, t = _chain(TINY)
    for search in ("exact", "cells"):
        r = dedupe([a, b, c], threshold=t, encoder=TINY, search=search, cell_size=1)
        assert r.kept == [0, 2], search  # A kept, B removed by A, C stays: B removes nothing
        assert r.removed[0].duplicate_of == 0
        assert "no chaining" in r.explain(2)


@pytest.mark.parametrize("keep", ["first", "last", "longest", "shortest"])
def test_keep_orders(keep):
    texts = ["cat sat", "the cat sat on the mat", "Cat sat", "dog", "the cat sat on the mat"]
    r = dedupe(texts, threshold=0.99, encoder=TINY, keep=keep)
    check_conservation(r, len(texts))
    assert r.kept == naive_kept(texts, TINY, 0.99, keep)
    if keep == "longest":
        assert 1 in r.kept and 4 not in r.kept
    if keep == "last":
        assert 4 in r.kept and 1 not in r.kept


@FAST
@given(texts=corpora, threshold=thresholds, keep=keeps, exact=st.booleans())
def test_matches_the_naive_rule_and_conserves_exact_path(texts, threshold, keep, exact):
    r = dedupe(texts, threshold=threshold, encoder=TINY, keep=keep, exact=exact, search="exact")
    check_conservation(r, len(texts))
    assert r.kept == naive_kept(texts, TINY, threshold, keep, exact)


@FAST
@given(texts=corpora, threshold=thresholds, keep=keeps, exact=st.booleans())
def test_cells_with_every_cell_probed_equal_exact(texts, threshold, keep, exact):
    """The cell search is exact when every cell is probed; any probing conserves."""
    full = dedupe(
        texts,
        threshold=threshold,
        encoder=TINY,
        keep=keep,
        exact=exact,
        search="cells",
        cell_size=2,
        nprobe=1000,
    )
    ref = dedupe(texts, threshold=threshold, encoder=TINY, keep=keep, exact=exact, search="exact")
    check_conservation(full, len(texts))
    assert full.kept == ref.kept
    assert [d.index for d in full.removed] == [d.index for d in ref.removed]
    partial = dedupe(
        texts,
        threshold=threshold,
        encoder=TINY,
        keep=keep,
        exact=exact,
        search="cells",
        cell_size=2,
        nprobe=1,
    )
    check_conservation(partial, len(texts))


@FAST
@given(texts=corpora, floor=st.sampled_from([0.5, 0.7, 0.8]), t=thresholds)
def test_rethreshold_equals_a_fresh_run(texts, floor, t):
    base = dedupe(texts, threshold=max(floor, 0.5), min_threshold=floor, encoder=TINY)
    assert base.floor == floor
    if t < floor:
        with pytest.raises(ValueError, match="min_threshold"):
            base.rethreshold(t)
        return
    again = base.rethreshold(t)
    fresh = dedupe(texts, threshold=t, encoder=TINY)
    check_conservation(again, len(texts))
    assert again.kept == fresh.kept
    assert again.removed == fresh.removed


@FAST
@given(texts=corpora, ref=corpora, t=thresholds)
def test_against_records_conserves_and_reference_wins(texts, ref, t):
    r = dedupe(texts, threshold=t, encoder=TINY, against=ref, search="exact")
    check_conservation(r, len(texts))
    ref_keys = {normalize_text(x) for x in ref}
    ref_vecs = TINY.encode(ref, normalize=True) if ref else np.zeros((0, 16), np.float32)
    vecs = TINY.encode(texts, normalize=True) if texts else np.zeros((0, 16), np.float32)
    for i in r.kept:
        assert normalize_text(texts[i]) not in ref_keys
        if len(ref_vecs):
            assert (ref_vecs @ vecs[i]).max() < t + 1e-6
    for d in r.removed:
        if d.reference:
            assert normalize_text(ref[d.duplicate_of]) == normalize_text(texts[d.index]) or (
                d.similarity >= t
            )


@FAST
@given(texts=corpora, size=st.integers(1, 6), t=thresholds, exact=st.booleans())
def test_stream_equals_one_shot(texts, size, t, exact):
    dd = Deduplicator(t, encoder=TINY, exact=exact, search="exact")
    kept, removed = [], []
    for start in range(0, len(texts), size):
        r = dd.update(texts[start : start + size])
        check_conservation(r, len(texts[start : start + size]))
        assert r.offset == start
        kept += [start + i for i in r.kept]
        removed += [d.index + start for d in r.removed]
    assert sorted(kept + removed) == list(range(len(texts)))
    assert kept == dedupe(texts, threshold=t, encoder=TINY, exact=exact).kept
    assert dd.n_seen_ == len(texts) and dd.n_kept_ <= len(kept)


@FAST
@given(texts=st.lists(styled, min_size=1, max_size=30), frac=st.floats(0.0, 1.0))
def test_target_size_conserves_and_lands_close(texts, frac):
    target = round(frac * len(texts))
    r = dedupe(texts, target_size=target, encoder=TINY)
    check_conservation(r, len(texts))
    assert 0.5 <= r.threshold <= 1.0
    # Either close to the target or at an end of the searched range.
    lowest = dedupe(texts, threshold=0.5, encoder=TINY).n_kept
    highest = dedupe(texts, threshold=1.0, encoder=TINY).n_kept
    assert r.n_kept == pytest.approx(target, abs=max(2, len(texts) // 4)) or r.n_kept in (
        lowest,
        highest,
    )


def test_target_size_on_the_bundled_model(default):
    texts = [f"the report for week {i} is ready" for i in range(20)] + [
        "completely different sentence about rivers",
        "stock markets fell sharply today",
    ]
    r = dedupe(texts, target_size=5)
    check_conservation(r, len(texts))
    assert r.n_kept == pytest.approx(5, abs=3)
    assert r.threshold < 0.95 and r.floor <= r.threshold


# ---------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("search", ["auto", "exact", "cells"])
def test_edge_cases(search):
    kw = {"encoder": TINY, "search": search, "cell_size": 2}
    empty = dedupe([], **kw)
    assert empty.kept == [] and empty.removed == [] and empty.duplicate_ratio == 0.0
    one = dedupe(["cat"], **kw)
    assert one.kept == [0] and one.removed == []
    same = dedupe(["the cat sat"] * 7, **kw)
    assert same.kept == [0] and all(d.duplicate_of == 0 and d.exact for d in same.removed)
    same_vec = dedupe(["the cat sat"] * 7, exact=False, **kw)
    assert same_vec.kept == [0]
    unique = dedupe(["cat", "stock market", "river water fish", "lazy dog"], threshold=0.999, **kw)
    assert unique.kept == [0, 1, 2, 3]
    blanks = dedupe(["", "", " "], **kw)
    assert blanks.kept == [0]
    assert dedupe(["", "", " "], exact=False, **kw).kept == [0, 1, 2]
    for r in (empty, one, same, same_vec, unique, blanks):
        check_conservation(r, r.n_records)


def test_bad_inputs_name_the_culprit():
    with pytest.raises(TypeError, match=r"records\[2\] is None; expected str"):
        dedupe(["a", "b", None, "c"], encoder=TINY)
    with pytest.raises(TypeError, match=r"records\[1\]\['text'\] is None"):
        dedupe([{"text": "a"}, {"text": None}], encoder=TINY)
    with pytest.raises(KeyError, match=r"records\[1\] has no field 'body'"):
        dedupe([{"body": "a"}, {"text": "b"}], key="body", encoder=TINY)
    with pytest.raises(TypeError, match="single str"):
        dedupe("just one text", encoder=TINY)
    with pytest.raises(TypeError, match="records is None"):
        dedupe(None, encoder=TINY)
    with pytest.raises(ValueError, match=r"threshold must be in \(0, 1\]"):
        dedupe(["a"], threshold=1.5, encoder=TINY)
    with pytest.raises(ValueError, match="keep must be one of"):
        dedupe(["a"], keep="random", encoder=TINY)
    with pytest.raises(ValueError, match="target_size"):
        dedupe(["a"], target_size=-1, encoder=TINY)
    with pytest.raises(TypeError, match=r"against\[0\] is None"):
        dedupe(["a"], against=[None], encoder=TINY)


def test_record_forms():
    recs = [{"id": 1, "body": "cat sat"}, {"id": 2, "body": "Cat  sat"}, {"id": 3, "body": "dog"}]
    r = dedupe(recs, key="body", encoder=TINY)
    assert r.deduplicated == [recs[0], recs[2]]
    r2 = dedupe(recs, key=lambda rec: rec["body"], encoder=TINY)
    assert r2.kept == r.kept
    r3 = dedupe(iter(["a cat", "A cat", "dog"]), encoder=TINY)  # generators are fine
    assert r3.kept == [0, 2]
    r4 = dedupe([{"text": "x y"}, {"text": "X Y"}], encoder=TINY)  # dicts default to "text"
    assert r4.kept == [0]


def test_pandas_series_and_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"text": ["cat sat", "Cat sat", "dog"], "n": [1, 2, 3]}, index=[10, 11, 12])
    r = dedupe(df, key="text", encoder=TINY)
    assert list(r.deduplicated.index) == [10, 12]
    s = dedupe(df["text"], encoder=TINY)
    assert list(s.deduplicated) == ["cat sat", "dog"]
    with pytest.raises(TypeError, match="key=<column name>"):
        dedupe(df, encoder=TINY)


# ---------------------------------------------------------------------- results


def test_result_is_serialisable_and_writable(tmp_path):
    texts = ["cat sat", "Cat sat", "dog ran", "dog  ran", "fish"]
    r = dedupe(texts, encoder=TINY)
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["n_kept"] + d["n_removed"] == 5
    assert "kept=3" in repr(r)
    r.write(tmp_path / "out.txt")
    assert (tmp_path / "out.txt").read_text().splitlines() == ["cat sat", "dog ran", "fish"]
    r.write(tmp_path / "out.jsonl")
    assert [json.loads(x)["text"] for x in (tmp_path / "out.jsonl").read_text().splitlines()] == [
        "cat sat",
        "dog ran",
        "fish",
    ]
    r.write_report(tmp_path / "rep.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "rep.jsonl").read_text().splitlines()]
    assert [(x["index"], x["duplicate_of"], x["duplicate_text"]) for x in rows] == [
        (1, 0, "cat sat"),
        (3, 2, "dog ran"),
    ]
    with pytest.raises(IndexError):
        r.explain(5)


def test_normalisation():
    assert normalize_text("  Hello,\tWORLD \n") == "hello, world"
    assert normalize_text("ｆｕｌｌ　ｗｉｄｔｈ") == "full width"  # NFKC
    assert normalize_text("Straße") == normalize_text("STRASSE")  # case folding
    assert normalize_text("a.b") != normalize_text("a b")


# ---------------------------------------------------------------------- search engine


def test_cell_index_grows_and_matches_exact_search():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((40, 32)).astype(np.float32)
    x = np.concatenate([base + 0.05 * rng.standard_normal(base.shape) for _ in range(30)])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x = x.astype(np.float32)
    cells = CellIndex(32, search="cells", cell_size=16, nprobe=10_000)
    exact = CellIndex(32, search="exact")
    for start in range(0, len(x), 100):  # grows past 4x the training size: re-trains
        cells.add(x[start : start + 100])
        exact.add(x[start : start + 100])
    assert cells.uses_cells and not exact.uses_cells
    a1, b1, _s1 = cells.self_pairs(0.8)
    a2, b2, _s2 = exact.self_pairs(0.8)
    assert set(zip(a1.tolist(), b1.tolist(), strict=True)) == set(
        zip(a2.tolist(), b2.tolist(), strict=True)
    )
    q = x[:50] + 0.01
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    c1 = cells.search(q, 0.9)
    c2 = exact.search(q, 0.9)
    assert set(zip(c1[0].tolist(), c1[1].tolist(), strict=True)) == set(
        zip(c2[0].tolist(), c2[1].tolist(), strict=True)
    )
    np.testing.assert_allclose(np.sort(c1[2]), np.sort(c2[2]), rtol=0, atol=1e-6)


def test_screening_only_for_matryoshka_models(default):
    assert choose_screen_dim(256, [64, 128, 256]) == 64
    assert choose_screen_dim(256, []) == 256
    assert choose_screen_dim(64, [64]) == 64
    assert choose_screen_dim(default.dim, default.config.matryoshka_dims) == 64


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared not available")
@pytest.mark.filterwarnings("ignore:dedupe.*character 3-grams:UserWarning")  # a few Korean lines
def test_cells_recall_on_real_text(default):
    """Cell search vs exact all-pairs on 12,000 benchmark lines: precision 1, recall >= 0.99."""
    with gzip.open(SHARED / "bench" / "corpus_100k.txt.gz", "rt", encoding="utf-8") as f:
        texts = [next(f).rstrip("\n") for _ in range(12_000)]
    fast = dedupe(texts, threshold=0.85, search="cells", exact=False)
    ref = dedupe(texts, threshold=0.85, search="exact", exact=False)
    got = {(d.index, d.duplicate_of) for d in fast.removed}
    want = {(d.index, d.duplicate_of) for d in ref.removed}
    assert len(want) > 100
    removed_fast = {d.index for d in fast.removed}
    removed_ref = {d.index for d in ref.removed}
    assert len(removed_fast & removed_ref) / len(removed_ref) >= 0.99
    assert len(got & want) / len(want) >= 0.98
    check_conservation(fast, len(texts))
    vecs = default.encode(texts)
    for d in fast.removed:  # every removal verified on full vectors
        assert float(vecs[d.index] @ vecs[d.duplicate_of]) >= 0.85 - 1e-5


# ---------------------------------------------------------------------- references and streams


def test_against_an_index(default):
    pytest.importorskip("sememe.index")
    index = sememe.Index.from_texts(
        ["The cat sat on the mat.", "Stock markets fell sharply today."], ids=["cat", "stocks"]
    )
    texts = ["the cat sat on the mat", "A dog ran in the park", "A dog ran in the park"]
    r = dedupe(texts, against=index)
    check_conservation(r, 3)
    assert r.kept == [1]
    assert r.removed[0] == Duplicate(0, "cat", r.removed[0].similarity, reference=True)
    assert r.removed[0].similarity >= 0.9
    assert "reference record 'cat'" in r.explain(0)
    with pytest.raises(ValueError, match="different models"):
        dedupe(texts, against=index, encoder=TINY)


def test_against_a_deduplicator_and_save_load(tmp_path):
    dd = Deduplicator(0.9, encoder=TINY)
    first = dd.update(["cat sat on mat", "dog ran", "Cat sat on mat"])
    assert first.kept == [0, 1]
    dd.save(tmp_path / "state")
    back = Deduplicator.load(tmp_path / "state", encoder=TINY)
    assert (back.n_seen_, back.n_kept_) == (3, 2)
    r = back.update(["fish swim", "DOG RAN", "cat sat on mat"])
    assert r.offset == 3
    assert r.kept == [0]
    assert {d.duplicate_of for d in r.removed} == {0, 1}  # stream positions of earlier records
    assert all(d.reference for d in r.removed)
    also = dedupe(["dog ran", "bank loan"], against=dd, encoder=TINY)
    assert also.kept == [1]
    with pytest.raises(ValueError, match="cannot be re-thresholded"):
        r.rethreshold(0.95)
    with pytest.raises(ValueError, match="different model"):
        Deduplicator.load(tmp_path / "state", encoder=tiny_encoder(seed=9))
    with pytest.raises(FileNotFoundError):
        Deduplicator.load(tmp_path / "nothing")


def test_deduplicator_with_cells_grows_without_rebuilding_from_scratch():
    rng = np.random.default_rng(1)
    words = WORDS[:20]
    texts = [" ".join(rng.choice(words, 5)) for _ in range(600)]
    dd = Deduplicator(0.95, encoder=TINY, search="cells", cell_size=8, nprobe=1000)
    kept = []
    for s in range(0, len(texts), 50):
        kept += [s + i for i in dd.update(texts[s : s + 50]).kept]
    assert dd._index.uses_cells
    assert kept == dedupe(texts, threshold=0.95, encoder=TINY, search="exact").kept


# ---------------------------------------------------------------------- CLI


def test_cli_txt_jsonl_csv_and_report(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("cat sat on mat\nCat sat on mat\ndog ran\n\n\nfish swim\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    rep = tmp_path / "rep.jsonl"
    assert main(["dedupe", str(src), "-o", str(out), "--report", str(rep), "-t", "0.95"]) == 0
    assert out.read_text().splitlines() == ["cat sat on mat", "dog ran", "", "fish swim"]
    rows = [json.loads(x) for x in rep.read_text().splitlines()]
    assert [(r["index"], r["duplicate_of"]) for r in rows] == [(1, 0), (4, 3)]
    assert "kept 4 of 6 records" in capsys.readouterr().err

    js = tmp_path / "in.jsonl"
    js.write_text(
        "\n".join(
            json.dumps({"id": i, "body": t}) for i, t in enumerate(["a cat", "A cat", "dog"])
        ),
        encoding="utf-8",
    )
    out2 = tmp_path / "out.jsonl"
    assert main(["dedupe", str(js), "-o", str(out2), "--field", "body", "-q"]) == 0
    assert [json.loads(x)["id"] for x in out2.read_text().splitlines()] == [0, 2]

    cs = tmp_path / "in.csv"
    cs.write_text("id,text\n1,a cat\n2,A  CAT\n3,dog\n", encoding="utf-8")
    out3 = tmp_path / "out.csv"
    assert main(["dedupe", str(cs), "-o", str(out3), "-q"]) == 0
    assert [r["id"] for r in csv.DictReader(out3.open())] == ["1", "3"]

    stream = tmp_path / "stream.txt"
    args = ["dedupe", str(src), "-o", str(stream), "--stream", "--batch-size", "2", "-t", "0.95"]
    assert main([*args, "-q"]) == 0
    assert stream.read_text() == out.read_text()


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["dedupe", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o.txt")]) == 1
    assert "no such file" in capsys.readouterr().err
    js = tmp_path / "in.jsonl"
    js.write_text('{"body": "x"}\n', encoding="utf-8")
    assert main(["dedupe", str(js), "-o", str(tmp_path / "o.jsonl")]) == 1
    assert "use --field" in capsys.readouterr().err
    assert main(["dedupe", str(js), "-o", str(tmp_path / "o.jsonl"), "-t", "2"]) == 1
    assert "threshold" in capsys.readouterr().err
