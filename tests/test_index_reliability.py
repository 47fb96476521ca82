"""sememe.index under bad input, damaged folders and interrupted saves (issue 13).

Blank documents and queries, id types, manifest validation, corrupt files loaded without
checksums, recovery of killed saves, and "a failed call changes nothing".
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import sentences, tiny_encoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe.cli.main import main
from sememe.errors import (
    FolderExistsError,
    FolderFormatError,
    InvalidArgumentError,
    InvalidTypeError,
    ModelNotFoundError,
    SememeError,
)
from sememe.index import Index, IndexFormatError, UnknownIdError
from sememe.index._engine import Engine

KINDS = ["float", "binary", "binary+rerank"]
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def enc() -> sememe.Encoder:
    return tiny_encoder(dim=32)


def with_blanks(n: int, blank_at: tuple[int, ...] = (0, 7, 30), seed: int = 0) -> list[str]:
    """``n`` real sentences with blank documents ("" and whitespace) inserted at ``blank_at``."""
    texts = sentences(n, seed=seed)
    for i, pos in enumerate(blank_at):
        texts.insert(pos, ["", "   ", "\t\n"][i % 3])
    return texts


def is_blank(text: str) -> bool:
    return not text.strip()


def snapshot(index: Index) -> tuple:
    """Everything a failed call must leave as it was."""
    blank = index._store.blank
    return (
        index.ids,
        index.texts,
        index._store.blank_rows.tolist(),
        None if blank is None else blank.n,
        None if index._engine.scan is None else index._engine.scan.ntotal,
        index.structure,
        index._store.next_auto,
        index.search(["cat dog", "bank rate", ""], k=5),
    )


# ----------------------------------------------------------------------------- blank documents

#: Every first stage: (kind, options). Exact scans, binary+rerank's fast scan (candidates
#: below the index size), and the approximate structures beyond exact_limit.
STAGES = [
    ("float", {}),
    ("binary", {}),
    ("binary+rerank", {}),
    ("binary+rerank", {"candidates": 10}),
    ("float", {"factory": "HNSW16", "exact_limit": 20}),
    ("float", {"factory": "IVF4,Flat", "exact_limit": 20, "nprobe": 4}),
    ("binary", {"factory": "BHNSW16", "exact_limit": 20}),
    ("binary", {"factory": "BIVF4", "exact_limit": 20, "nprobe": 4}),
    ("binary+rerank", {"factory": "BHNSW16", "exact_limit": 20, "candidates": 10}),
]


@pytest.mark.parametrize(("kind", "options"), STAGES)
def test_blank_documents_are_never_near_a_query(enc, kind, options):
    """Before: a binary index gave "" score 1.0 with the blank documents and ranked blank
    documents above real ones for ordinary queries."""
    texts = with_blanks(60)
    blank = {i for i, t in enumerate(texts) if is_blank(t)}
    index = Index.from_texts(texts, encoder=enc, kind=kind, **options)
    queries = ["cat", "the dog sat", "bank money loan rate", "fish"]
    for hits in index.search(queries, k=20, ef_search=200):
        assert len(hits) == 20 and not {h.id for h in hits} & blank
    filtered = index.search(queries, k=20, where=lambda m: True, ef_search=200)
    for hits in filtered:
        assert len(hits) == 20 and not {h.id for h in hits} & blank
    # k beyond the non-blank documents: the blank ones come last, score 0, in insertion order
    if index.structure == "exact":
        for where in (None, {}):
            every = index.search("cat", k=100, where=where)
            assert [h.id for h in every[-3:]] == sorted(blank)
            assert [h.score for h in every[-3:]] == [0.0] * 3
            assert len(every) == len(texts) and not {h.id for h in every[:-3]} & blank


@pytest.mark.parametrize(("kind", "options"), STAGES)
def test_a_blank_query_scores_every_document_zero(enc, kind, options):
    texts = with_blanks(60)
    index = Index.from_texts(texts, encoder=enc, kind=kind, **options)
    real = [i for i, t in enumerate(texts) if not is_blank(t)]
    for query in ["", "   ", "\n"]:
        hits = index.search(query, k=5)
        assert [h.id for h in hits] == real[:5] and [h.score for h in hits] == [0.0] * 5
    batch = index.search(["cat dog", "", "fox"], k=5)
    assert batch[1] == index.search("", k=5)
    assert batch[0] == index.search("cat dog", k=5) and batch[2] == index.search("fox", k=5)
    zero = np.zeros(index.dim, np.float32)
    assert index.search_vectors(zero, k=5)[0] == index.search("", k=5)
    evens = index.search("", k=3, where=lambda m: True)
    assert [h.id for h in evens] == real[:3]


@pytest.mark.parametrize(("kind", "options"), STAGES)
def test_queries_whose_bits_match_blank_codes_still_get_real_documents(enc, kind, options):
    """A query with no positive component has the sign bits of a blank document (all 0),
    and scores blank documents highest in binary+rerank's scan: the first draw of
    candidates is all blank, so more are drawn."""
    texts = with_blanks(40, blank_at=tuple(range(0, 45, 3)))  # 15 blank documents
    blank = {i for i, t in enumerate(texts) if is_blank(t)}
    index = Index.from_texts(texts, encoder=enc, kind=kind, **options)
    query = -np.abs(enc.encode("the cat sat on the mat"))
    for k in (1, 5, 40):
        hits = index.search_vectors(query, k=k, ef_search=100)[0]
        assert len(hits) == k and not {h.id for h in hits} & blank


def test_blank_documents_in_a_small_index(enc):
    for kind in KINDS:
        only_blank = Index.from_texts(["", "  "], encoder=enc, kind=kind)
        assert [(h.id, h.score) for h in only_blank.search("cat", k=5)] == [(0, 0.0), (1, 0.0)]
        assert [(h.id, h.score) for h in only_blank.search("", k=1)] == [(0, 0.0)]
        mixed = Index.from_texts(["", "the cat sat", " "], encoder=enc, kind=kind)
        hits = mixed.search("cat", k=1)
        assert [h.id for h in hits] == [1] and hits[0].score > 0.0
        assert [h.id for h in mixed.search("cat", k=3)] == [1, 0, 2]
        assert [h.id for h in mixed.search("", k=3)] == [1, 0, 2]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(KINDS),
    blank_at=st.lists(st.integers(0, 40), max_size=6),
    k=st.integers(1, 50),
    query=st.sampled_from(["cat", "dog park", "the", "bank rate fell", "", " "]),
)
def test_blank_documents_change_no_other_result(enc, kind, blank_at, k, query):
    """An index with blank documents answers as the same index without them would, then
    lists the blank documents (score 0) only when ``k`` exceeds the others."""
    real = sentences(30, seed=3)
    texts = list(real)
    for pos in sorted(blank_at):
        texts.insert(pos, " " * (pos % 3))
    ids = list(range(len(texts)))
    real_ids = [i for i, t in zip(ids, texts, strict=True) if not is_blank(t)]
    blank_ids = [i for i, t in zip(ids, texts, strict=True) if is_blank(t)]
    index = Index.from_texts(texts, ids, encoder=enc, kind=kind)
    plain = Index.from_texts(real, real_ids, encoder=enc, kind=kind)
    got = index.search(query, k=k)
    want = plain.search(query, k=k)
    # the same hits (documents tied at the last place may be any of the tied ones)
    assert [h.score for h in got[: len(want)]] == [h.score for h in want]
    last = want[-1].score if want else None
    assert {h.id for h in got[: len(want)] if h.score != last} == {
        h.id for h in want if h.score != last
    }
    assert [(h.id, h.score) for h in got[len(want) :]] == [
        (i, 0.0) for i in blank_ids[: max(0, k - len(real_ids))]
    ]


def test_blank_rows_follow_adds_removes_and_saves(enc, tmp_path):
    for kind in KINDS:
        index = Index.from_texts(["", "the cat sat", "a dog ran"], encoder=enc, kind=kind)
        index.add([" ", "bank loan rate"], ids=["b", "x"])
        index.remove([1])  # rows shift: the blank rows must shift with them
        assert index._store.blank_rows.tolist() == [0, 2]
        assert [h.id for h in index.search("cat", k=5)][-2:] == [0, "b"]
        vec = enc.encode(["fish swim", "fox"])
        vec[0] = 0.0  # a zero vector given by the caller makes a blank document too
        index.add(["fish swim", "fox"], ids=["z", "f"], vectors=vec)
        assert index._store.blank_rows.tolist() == [0, 2, 4]
        path = index.save(tmp_path / kind, overwrite=True)
        assert (path / "blank.npy").is_file()
        loaded = Index.load(path, enc)
        assert loaded._store.blank_rows.tolist() == [0, 2, 4]
        assert loaded.search(["cat", ""], k=6) == index.search(["cat", ""], k=6)
        # folders written before blank.npy: the blank rows are found again on load
        manifest = json.loads((path / "manifest.json").read_text())
        del manifest["files"]["blank.npy"]
        (path / "manifest.json").write_text(json.dumps(manifest))
        (path / "blank.npy").unlink()
        old = Index.load(path, enc)
        if kind == "binary":  # no vectors: blank texts are found, a zero vector given is not
            assert old._store.blank_rows.tolist() == [0, 2]
        else:
            assert old._store.blank_rows.tolist() == [0, 2, 4]
            assert old.search(["cat", ""], k=6) == index.search(["cat", ""], k=6)


# ----------------------------------------------------------------------------- id types

BAD_IDS = [
    b"ab",
    bytearray(b"ab"),
    memoryview(b"ab"),
    1.0,
    float("nan"),
    None,
    {"a": 1},
    True,
    np.float64(97),
    [1.0],
    [True],
    [b"a"],
    [None],
    np.array([[97, 98]]),
    object(),
]


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_remove_refuses_what_is_not_an_id(enc, bad):
    """Before: ``remove(b"ab")`` removed the ids 97 and 98; ``remove([1.0])`` removed 1."""
    index = Index.from_texts(sentences(100), encoder=enc)
    with pytest.raises(InvalidTypeError, match=r"^ids(\[0\])? is .*(ids must be|expected)"):
        index.remove(bad)
    assert index.ids == tuple(range(100))


def test_remove_none_says_what_is_expected(enc):
    index = Index.from_texts(sentences(3), encoder=enc)
    with pytest.raises(InvalidTypeError) as info:
        index.remove(None)
    assert str(info.value) == "ids is None; expected an id (str or int) or a list of ids"
    index.remove(np.array([0, 1]))  # arrays, tuples, sets and generators of ids work
    index.remove(i for i in [2])
    assert len(index) == 0


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_add_get_and_get_vectors_refuse_what_is_not_an_id(enc, bad):
    index = Index.from_texts(sentences(100), encoder=enc)
    before = snapshot(index)
    if bad is not None:  # ids=None is "automatic ids"
        with pytest.raises(InvalidTypeError, match="ids"):
            index.add(["cat", "dog"], ids=bad)
    with pytest.raises(InvalidTypeError, match="ids"):
        index.get_vectors(bad)
    if not isinstance(bad, (list, np.ndarray)):
        with pytest.raises(InvalidTypeError, match=r"^id is"):
            index.get(bad)
        assert bad not in index
    assert snapshot(index) == before


def test_in_is_false_for_non_ids(enc):
    texts = sentences(3)
    index = Index.from_texts(texts, ids=[0, 1, "a"], encoder=enc)
    assert 1 in index and np.int64(1) in index and "a" in index and np.str_("a") in index
    for other in (1.0, True, False, b"a", None, [1], {}, (1,), 2, "b"):
        assert other not in index
    assert index.get(np.int64(1)).text == texts[1]
    with pytest.raises(UnknownIdError, match="id 2 is not in the index"):
        index.get(2)
    with pytest.raises(InvalidTypeError, match=r"ids must be a list of ids, got a single str"):
        index.get_vectors("a")


def test_ids_from_numpy_strings_are_plain_str(enc, tmp_path):
    index = Index.from_texts(["the cat", "a dog"], ids=np.array(["x", "y"]), encoder=enc)
    assert [type(i) for i in index.ids] == [str, str]
    assert Index.load(index.save(tmp_path / "ix"), enc).ids == ("x", "y")


# ----------------------------------------------------------------------------- damaged folders


def saved(enc: sememe.Encoder, folder: Path, kind: str, **options) -> Path:
    """A small saved index with metadata, a removal and blank documents."""
    texts = with_blanks(60, blank_at=(3, 20))
    meta = [{"n": i} if i % 2 else None for i in range(len(texts))]
    index = Index.from_texts(texts, None, meta, encoder=enc, kind=kind, **options)
    index.remove([5])
    return index.save(folder)


def resize_in_manifest(path: Path, name: str) -> None:
    """Make the manifest agree on ``name``'s size, so that only its parsing can notice."""
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if name in manifest["files"]:
        manifest["files"][name]["bytes"] = (path / name).stat().st_size
        manifest_path.write_text(json.dumps(manifest))


def damages(data: bytes, name: str) -> list[tuple[str, bytes]]:
    """Ways a file can be damaged: truncations, flipped bytes, wrong content."""
    n = len(data)
    out = [("empty", b""), ("half", data[: n // 2]), ("one short", data[:-1])]
    for label, pos in (("header", 8), ("header+", 40), ("middle", n // 2), ("end", n - 2)):
        if 0 <= pos < n:
            flipped = bytearray(data)
            flipped[pos] ^= 0x5A
            out.append((f"flip {label}", bytes(flipped)))
    out.append(("garbage", b"\x93NUMPY\x01\x00{'descr': '<f4', 'fortran_order': Fal"))
    out.append(("not json", b"{not json\n[1, 2\n"))
    out.append(("json of other shape", b'{"id": [1], "text": 3, "metadata": 4}\n[]\n'))
    if name.endswith(".npy"):
        for arr in (np.zeros((3, 5), np.float32), np.zeros(7, np.int64), np.zeros(2, bool)):
            buf = io.BytesIO()
            np.save(buf, arr)
            out.append((f"npy {arr.shape} {arr.dtype}", buf.getvalue()))
    return out


FOLDER_KINDS = [
    ("float", {}),
    ("binary", {}),
    ("binary+rerank", {"candidates": 10}),
    ("float", {"factory": "HNSW16", "exact_limit": 20}),
    ("binary", {"factory": "BIVF4", "exact_limit": 20, "nprobe": 4}),
    ("binary+rerank", {"factory": "BHNSW16", "exact_limit": 20}),
]


@pytest.mark.parametrize(("kind", "options"), FOLDER_KINDS)
def test_damaged_files_without_verify_give_index_format_error(enc, tmp_path, kind, options):
    """Before: a damaged ``.npy`` header loaded with verify=False raised a raw
    ``tokenize.TokenError``. Every damage now gives an IndexFormatError naming the file,
    or an index that loads and works."""
    clean = saved(enc, tmp_path / "clean", kind, **options)
    names = sorted(p.name for p in clean.iterdir())
    outcomes = {"error": 0, "loaded": 0}
    for name in names:
        original = (clean / name).read_bytes()
        for label, data in damages(original, name):
            work = tmp_path / "work"
            if work.exists():
                shutil.rmtree(work)
            shutil.copytree(clean, work)
            (work / name).write_bytes(data)
            if name != "manifest.json":
                resize_in_manifest(work, name)
            try:
                loaded = Index.load(work, enc, verify=False)
            except IndexFormatError as exc:
                assert str(work) in str(exc), (name, label, exc)
                outcomes["error"] += 1
                continue
            except Exception as exc:  # pragma: no cover - the failure this test is about
                pytest.fail(f"{name} ({label}): {type(exc).__name__}: {exc}")
            # a load that passes must give a working index
            loaded.search(["cat dog", ""], k=5, ef_search=50)
            loaded.add(["one more text"])
            loaded.remove([loaded.ids[0]])
            outcomes["loaded"] += 1
    assert outcomes["error"] > 0


def test_damaged_npy_header_names_the_file(enc, tmp_path):
    path = saved(enc, tmp_path / "ix", "float")
    data = bytearray((path / "vectors.npy").read_bytes())
    end = data.index(b"}")
    data[end] = ord("(")  # the header dict is no longer closed: tokenize fails
    (path / "vectors.npy").write_bytes(bytes(data))
    with pytest.raises(IndexFormatError, match=r"vectors\.npy: checksum mismatch"):
        Index.load(path, enc)
    with pytest.raises(IndexFormatError, match=r"vectors\.npy: cannot read the index file"):
        Index.load(path, enc, verify=False)


def test_cli_search_no_verify_on_a_damaged_index(enc, tmp_path, capsys):
    model = str(enc.save(tmp_path / "model"))
    docs = tmp_path / "docs.txt"
    docs.write_text("the cat sat on the mat\na dog ran in the park\n")
    out = tmp_path / "ix"
    assert main(["-q", "index", "build", str(docs), "-o", str(out), "--model", model]) == 0
    data = bytearray((out / "vectors.npy").read_bytes())
    data[data.index(b"}")] = ord("(")
    (out / "vectors.npy").write_bytes(bytes(data))
    assert main(["search", str(out), "cat", "--no-verify", "--model", model]) == 1
    err = capsys.readouterr().err
    assert "vectors.npy: cannot read the index file" in err and "Traceback" not in err


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    which=st.integers(0, 100),
    flips=st.lists(st.tuples(st.integers(0, 2**31), st.integers(1, 255)), min_size=1, max_size=4),
    folder_kind=st.sampled_from(range(len(FOLDER_KINDS))),
)
def test_random_byte_flips_without_verify(enc, tmp_path_factory, which, flips, folder_kind):
    kind, options = FOLDER_KINDS[folder_kind]
    base = tmp_path_factory.getbasetemp() / f"flips-{folder_kind}"
    if not base.exists():
        saved(enc, base, kind, **options)
    names = sorted(p.name for p in base.iterdir())
    name = names[which % len(names)]
    data = bytearray((base / name).read_bytes())
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    work = tmp_path_factory.mktemp("flip")
    shutil.copytree(base, work, dirs_exist_ok=True)
    (work / name).write_bytes(bytes(data))
    try:
        loaded = Index.load(work, enc, verify=False)
    except IndexFormatError:
        return
    loaded.search(["cat dog", ""], k=5)
    loaded.add(["one more text"])


# ----------------------------------------------------------------------------- manifests


def edit_manifest(path: Path, **changes) -> None:
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for key, value in changes.items():
        if value is KeyError:
            del manifest[key]
        else:
            manifest[key] = value
    manifest_path.write_text(json.dumps(manifest))


def test_edited_next_serial_is_refused_at_load(enc, tmp_path):
    """Before: it loaded and searched, then the next ``add`` failed on an ``assert``."""
    path = saved(enc, tmp_path / "ix", "float", factory="HNSW16", exact_limit=20)
    serial = json.loads((path / "manifest.json").read_text())["next_serial"]
    for wrong in (serial - 1, serial + 5, 0):
        edit_manifest(path, next_serial=wrong)
        with pytest.raises(IndexFormatError, match="next_serial is"):
            Index.load(path, enc, verify=False)
    for wrong in ("7", 1.5, -1, None, True):
        edit_manifest(path, next_serial=wrong)
        with pytest.raises(IndexFormatError, match="'next_serial' must be an integer >= 0"):
            Index.load(path, enc, verify=False)
    edit_manifest(path, next_serial=serial)
    loaded = Index.load(path, enc, verify=False)
    loaded.add(["one more text"])
    # IVF: a next_serial below a serial in use is refused; a larger one is harmless
    ivf = saved(enc, tmp_path / "ivf", "binary", factory="BIVF4", exact_limit=20)
    serial = json.loads((ivf / "manifest.json").read_text())["next_serial"]
    edit_manifest(ivf, next_serial=serial - 1)
    with pytest.raises(IndexFormatError, match=f"but serial {serial - 1} is in use"):
        Index.load(ivf, enc, verify=False)
    edit_manifest(ivf, next_serial=serial + 100)
    loaded = Index.load(ivf, enc, verify=False)
    loaded.add(["one more text"], ids=["new"])
    assert loaded.search("one more text", k=1, nprobe=4)[0].id == "new"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"next_auto_id": "12"}, r"'next_auto_id' must be an integer >= 0, got '12' \(str\)"),
        ({"next_auto_id": 1.5}, r"'next_auto_id' must be an integer >= 0, got 1\.5 \(float\)"),
        ({"next_auto_id": -3}, r"'next_auto_id' must be an integer >= 0"),
        ({"documents": "61"}, r"'documents' must be an integer"),
        ({"documents": 3}, r"docs\.jsonl: 61 documents, the manifest says 3"),
        ({"dim": 0}, r"'dim' must be >= 1"),
        ({"dim": 16}, r"dim is 16 but the encoder entry says 32"),
        ({"kind": "dense"}, r"'kind' must be one of"),
        ({"kind": ["float"]}, r"'kind' must be one of"),
        ({"settings": []}, r"'settings' must be an object"),
        ({"settings": {"factory": "HNSW32", "colour": 1}}, r"unknown settings \['colour'\]"),
        ({"settings": {"factory": "HNSW32", "nprobe": "many"}}, r"invalid settings"),
        ({"settings": {"factory": "HNSW32", "exact_limit": 0}}, r"invalid settings"),
        ({"settings": {"factory": "PQ8"}}, r"invalid settings"),
        ({"encoder": "tiny"}, r"'encoder' must be an object"),
        ({"encoder": {"name": "tiny", "fingerprint": 5, "dim": 32}}, r"'encoder' must be"),
        ({"structure": "HNSW99"}, r"'structure' must be 'exact' or the factory"),
        ({"structure": "HNSW32"}, r"structure\.faiss is missing"),
        ({"kind": KeyError}, r"missing field 'kind'"),
        ({"format_version": 99}, r"newer than this sememe understands"),
        ({"format": "sememe-model"}, r"not a sememe index manifest"),
        ({"files": []}, r"'files' must be an object"),
    ],
)
def test_manifest_fields_are_checked(enc, tmp_path, changes, match):
    path = saved(enc, tmp_path / "ix", "float")
    edit_manifest(path, **changes)
    with pytest.raises(IndexFormatError, match=match):
        Index.load(path, enc, verify=False)


def test_docs_lines_are_checked(enc, tmp_path):
    path = saved(enc, tmp_path / "ix", "float")
    lines = (path / "docs.jsonl").read_text().splitlines()
    for bad, match in [
        ('{"id": 1.5, "text": "x", "metadata": null}', r"docs\.jsonl:2: the id is of type float"),
        ('{"id": true, "text": "x", "metadata": null}', r"docs\.jsonl:2: the id is a bool"),
        ('{"id": 99, "text": 7, "metadata": null}', r"docs\.jsonl:2: the text is of type int"),
        ('{"id": 99, "text": "x", "metadata": [1]}', r"docs\.jsonl:2: the metadata is"),
        ('{"id": 99, "text": "x"}', r"docs\.jsonl:2: expected an object with 'id'"),
        ("[1, 2]", r"docs\.jsonl:2: expected an object"),
        ("{oops", r"docs\.jsonl:2: not a JSON line"),
        (lines[0], r"docs\.jsonl:2: id 0 repeats an earlier line"),
    ]:
        (path / "docs.jsonl").write_text("\n".join([lines[0], bad, *lines[2:]]) + "\n")
        resize_in_manifest(path, "docs.jsonl")
        with pytest.raises(IndexFormatError, match=match):
            Index.load(path, enc, verify=False)


def test_no_assert_is_used_for_data_checks():
    """``python -O`` drops asserts: none may stand between bad data and a crash."""
    src = Path(sememe.__file__).parent / "index"
    for file in src.glob("*.py"):
        assert "assert " not in file.read_text(), file.name


# ----------------------------------------------------------------------------- the folder protocol


def test_index_format_error_is_a_folder_format_error():
    assert issubclass(IndexFormatError, FolderFormatError)
    assert issubclass(IndexFormatError, ValueError) and issubclass(IndexFormatError, SememeError)


def dead_pid() -> int:
    """The pid of a process that has exited (a save "killed" by that process)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_save_killed_between_the_renames_is_recovered_by_load(enc, tmp_path):
    """Renames done by hand, as a save killed after moving the old folder away and before
    moving the new one in leaves them: no folder at the path, two hidden copies."""
    path = Index.from_texts(["the cat sat"], encoder=enc).save(tmp_path / "ix")
    newer = Index.from_texts(["the cat sat", "a dog ran"], encoder=enc).save(tmp_path / "b")
    pid = dead_pid()
    os.replace(path, tmp_path / f".ix.old-{pid}-abcdefgh")
    os.replace(newer, tmp_path / f".ix.new-{pid}-defghijk")
    assert not path.exists()
    loaded = Index.load(path, enc)
    assert loaded.texts == ("the cat sat", "a dog ran")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ix"]  # the old copy is gone


def test_a_save_killed_in_a_real_process_is_recovered(tmp_path):
    """A child process saves over an index and dies (os._exit) at the rename that would
    move the new copy into place; the next load finds the new copy."""
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(TESTS)!r})
        from conftest import tiny_encoder
        import sememe._folder as folder
        from sememe.index import Index
        enc = tiny_encoder(dim=32)
        Index.from_texts(["the cat sat"], encoder=enc).save({str(tmp_path / "ix")!r})
        calls = []
        real = os.replace
        def dying_replace(src, dst):
            calls.append(src)
            if len(calls) == 3:  # tmp -> .new, path -> .old, then .new -> path: killed
                os._exit(9)
            real(src, dst)
        folder.os.replace = dying_replace
        index = Index.from_texts(["the cat sat", "a dog ran"], encoder=enc)
        index.save({str(tmp_path / "ix")!r}, overwrite=True)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == 9, proc.stderr.decode()
    assert not (tmp_path / "ix").exists()
    hidden = sorted(p.name.split("-")[0] for p in tmp_path.iterdir())
    assert hidden == [".ix.new", ".ix.old"]
    loaded = Index.load(tmp_path / "ix", tiny_encoder(dim=32))
    assert loaded.texts == ("the cat sat", "a dog ran")
    assert [p.name for p in tmp_path.iterdir()] == ["ix"]


def test_stale_hidden_folders_are_cleaned_by_the_next_save(enc, tmp_path):
    index = Index.from_texts(["the cat sat"], encoder=enc)
    path = index.save(tmp_path / "ix")
    pid = dead_pid()
    for stage in ("tmp", "old"):
        stale = tmp_path / f".ix.{stage}-{pid}-xyzxyzxy"
        stale.mkdir()
        (stale / "vectors.npy").write_bytes(b"\0" * 1000)
    index.save(path, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["ix"]


def test_save_replaces_only_an_index_folder(enc, tmp_path):
    index = Index.from_texts(["the cat sat"], encoder=enc)
    model = tmp_path / "model"
    model.mkdir()
    (model / "manifest.json").write_text(json.dumps({"format": "sememe-classifier"}))
    with pytest.raises(
        FolderExistsError, match="is a sememe classifier folder, not a sememe index"
    ):
        index.save(model, overwrite=True)
    (tmp_path / "file").write_text("mine")
    with pytest.raises(FolderExistsError, match="is a file"):
        index.save(tmp_path / "file", overwrite=True)
    (tmp_path / "empty").mkdir()
    assert len(Index.load(index.save(tmp_path / "empty"), enc)) == 1  # an empty folder is fine
    with pytest.raises(IndexFormatError, match="is a file, not an index folder"):
        Index.load(tmp_path / "file", enc)


def test_lone_surrogates_survive_a_save(enc, tmp_path):
    """Before: ``save`` failed with UnicodeEncodeError on a text the encoder had accepted."""
    texts = ["the cat \ud800 sat", "a dog"]
    index = Index.from_texts(
        texts, ids=["a\udfff", "b"], metadata=[{"k": "\ud83d"}, None], encoder=enc
    )
    loaded = Index.load(index.save(tmp_path / "ix"), enc)
    assert loaded.texts == tuple(texts) and loaded.ids == ("a\udfff", "b")
    assert loaded.get("a\udfff").metadata == {"k": "\ud83d"}


# ----------------------------------------------------------------------------- other mistakes


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda ix: ix.search("cat", k=2.0), InvalidTypeError, "k must be an integer"),
        (lambda ix: ix.search("cat", k=None), InvalidTypeError, "k must be an integer"),
        (lambda ix: ix.search("cat", candidates=0), InvalidArgumentError, "candidates must be"),
        (lambda ix: ix.search("cat", candidates="9"), InvalidTypeError, "candidates must be"),
        (lambda ix: ix.search("cat", ef_search=1.5), InvalidTypeError, "ef_search must be"),
        (lambda ix: ix.search("cat", nprobe=-1), InvalidArgumentError, "nprobe must be"),
        (lambda ix: ix.search("cat", where="a=b"), InvalidTypeError, "where must be a dict"),
        (lambda ix: ix.search("cat", where=[("a", 1)]), InvalidTypeError, "where must be"),
        (lambda ix: ix.search(bytearray(b"cat")), InvalidTypeError, "query is bytearray"),
        (lambda ix: ix.search({"cat": 1}), InvalidTypeError, "query is dict"),
        (lambda ix: ix.search(["cat", b"dog"]), InvalidTypeError, r"queries\[1\] is"),
        (lambda ix: ix.search_vectors(np.full(32, np.nan)), InvalidArgumentError, "NaN"),
        (lambda ix: ix.search_vectors(np.zeros(16)), InvalidArgumentError, r"shape \(n, 32\)"),
        (lambda ix: ix.search_vectors([[1.0] * 32, [1.0]]), InvalidTypeError, "numeric array"),
        (lambda ix: ix.search_vectors(None), InvalidTypeError, "vectors is None"),
        (lambda ix: ix.search_vectors(np.zeros(32, bool)), InvalidTypeError, "numeric"),
        (lambda ix: ix.add(b"cat"), InvalidTypeError, "texts is bytes"),
        (lambda ix: ix.add({"cat": 1}), InvalidTypeError, "texts is dict"),
        (lambda ix: ix.add(None), InvalidTypeError, "texts is None"),
        (lambda ix: ix.add(["a"], metadata={"x": 1}), InvalidTypeError, "metadata is of type"),
        (lambda ix: ix.add(["a"], metadata="x"), InvalidTypeError, "metadata is of type str"),
        (lambda ix: ix.add(["a"], metadata=[{(1, 2): 3}]), InvalidArgumentError, "JSON"),
        (lambda ix: ix.add(["a"], vectors=np.ones((2, 32))), InvalidArgumentError, "2 rows"),
        (lambda ix: ix.add(["a"], vectors=np.full((1, 32), np.inf)), InvalidArgumentError, "NaN"),
        (lambda ix: ix.remove("nope"), UnknownIdError, "id 'nope' is not in the index"),
    ],
)
def test_user_mistakes_raise_sememe_errors(enc, call, error, match):
    index = Index.from_texts(sentences(20), encoder=enc, kind="binary+rerank")
    before = snapshot(index)
    with pytest.raises(error, match=match):
        call(index)
    assert snapshot(index) == before


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"encoder": 3.5}, InvalidTypeError, "encoder must be a sememe.Encoder"),
        ({"kind": None}, InvalidArgumentError, "kind must be one of"),
        ({"factory": 32}, InvalidTypeError, "factory must be a str"),
        ({"factory": "LSH"}, InvalidArgumentError, "is not supported"),
        ({"exact_limit": 2.5}, InvalidTypeError, "exact_limit must be an integer"),
        ({"nprobe": None}, InvalidTypeError, "nprobe must be an integer"),
        ({"candidates": None}, InvalidTypeError, "candidates must be an integer"),
        ({"ef_construction": None}, InvalidTypeError, "ef_construction must be an integer"),
        ({"batch_size": 0}, InvalidArgumentError, "batch_size must be >= 1"),
        ({"show_progress": "yes"}, InvalidTypeError, "show_progress must be True, False or None"),
    ],
)
def test_bad_constructor_options_raise_sememe_errors(enc, options, error, match):
    options = {"encoder": enc, **options}
    with pytest.raises(error, match=match):
        Index(options.pop("encoder"), **options)


def test_bad_paths_and_flags_on_save_and_load(enc, tmp_path):
    index = Index.from_texts(["the cat sat"], encoder=enc)
    for path in (None, b"ix", 5, ""):
        with pytest.raises(InvalidTypeError, match=r"path must be a str or os\.PathLike"):
            index.save(path)
        with pytest.raises(InvalidTypeError, match=r"path must be a str or os\.PathLike"):
            Index.load(path, enc)
    with pytest.raises(InvalidTypeError, match="overwrite must be True or False"):
        index.save(tmp_path / "ix", overwrite="yes")
    path = index.save(tmp_path / "ix")
    with pytest.raises(InvalidTypeError, match="verify must be True or False"):
        Index.load(path, enc, verify="no")
    with pytest.raises(InvalidTypeError, match="mmap must be True or False"):
        Index.load(path, enc, mmap=1)
    with pytest.raises(InvalidTypeError, match=r"encoder must be a sememe\.Encoder"):
        Index.load(path, 3.5)
    # a model name or path is resolved like everywhere else (here: one that does not exist)
    with pytest.raises(ModelNotFoundError, match="tiny"):
        Index.load(path, "tiny")


def test_counts_faiss_takes_as_c_ints_are_bounded(enc):
    """Before: ``ef_search=2**40`` reached FAISS and failed with a raw OverflowError."""
    index = Index.from_texts(sentences(30), encoder=enc, factory="HNSW8", exact_limit=10)
    for option in ("ef_search", "nprobe"):
        with pytest.raises(InvalidArgumentError, match=f"{option} must be <= 2147483647"):
            index.search("cat", **{option: 2**40})
        with pytest.raises(InvalidArgumentError, match=f"{option} must be <= 2147483647"):
            Index(enc, **{option: 2**40})
    # The widest breadth is capped at the index's size (FAISS would allocate ~16 GB for it),
    # which finds exactly what a breadth of every vector finds.
    widest = index.search("cat", k=3, ef_search=2**31 - 1)
    assert [h.id for h in widest] == [h.id for h in index.search("cat", k=3, ef_search=30)]
    assert len(widest) == 3


def test_where_with_a_set_against_list_metadata(enc):
    """Before: a set of wanted values against a list in the metadata raised TypeError."""
    index = Index.from_texts(
        ["the cat", "a dog", "fish"], metadata=[{"t": ["a"]}, {"t": "b"}, None], encoder=enc
    )
    assert {h.id for h in index.search("cat", where={"t": {"b", "c"}})} == {1}
    assert {h.id for h in index.search("cat", where={"t": [["a"], "z"]})} == {0}


def test_add_with_a_bad_item_in_the_middle_changes_nothing(enc):
    texts = ["the cat", "a dog", "fish swim"]
    bad_vec = enc.encode(texts)
    bad_vec[1, 3] = np.nan
    calls = [
        lambda ix: ix.add(["the cat", None, "fish"]),
        lambda ix: ix.add(texts, ids=["a", b"b", "c"]),
        lambda ix: ix.add(texts, ids=["a", 3, "c"]),  # 3 is in the index
        lambda ix: ix.add(texts, ids=["a", "b", "a"]),
        lambda ix: ix.add(texts, metadata=[{}, {"x": float("nan")}, {}]),
        lambda ix: ix.add(texts, metadata=[{}, 5, {}]),
        lambda ix: ix.add(texts, vectors=bad_vec),
    ]
    for kind in KINDS:
        index = Index.from_texts(with_blanks(30), encoder=enc, kind=kind, candidates=5)
        before = snapshot(index)
        for call in calls:
            with pytest.raises(SememeError):
                call(index)
            assert snapshot(index) == before, kind


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("float", {"factory": "HNSW16", "exact_limit": 20}),
        ("binary", {"factory": "BIVF4", "exact_limit": 20, "nprobe": 4}),
        ("binary+rerank", {"candidates": 5}),
    ],
)
def test_add_failing_inside_faiss_changes_nothing(enc, monkeypatch, kind, options):
    """A failure after FAISS took the new entries (memory, say) is undone completely."""
    index = Index.from_texts(with_blanks(40), encoder=enc, kind=kind, **options)
    before = snapshot(index)
    real_add, real_extend = Engine.add_to_structure, Engine.extend_scan

    def add_then_fail(self, structure, data, serials):
        real_add(self, structure, data, serials)
        raise MemoryError("simulated")

    def extend_then_fail(self, start, scan=None, vectors=None):
        real_extend(self, start, scan, vectors)
        if start:
            raise MemoryError("simulated")

    monkeypatch.setattr(Engine, "add_to_structure", add_then_fail)
    monkeypatch.setattr(Engine, "extend_scan", extend_then_fail)
    with pytest.raises(MemoryError):
        index.add(["the cat", "", "a dog"])
    monkeypatch.undo()
    assert snapshot(index) == before
    index.add(["the cat", "", "a dog"], ids=["x", "y", "z"])
    assert index.search("the cat", k=1)[0].id == "x"


def test_remove_failing_part_way_changes_nothing(enc, monkeypatch):
    index = Index.from_texts(with_blanks(40), encoder=enc, kind="binary+rerank", candidates=5)
    before = snapshot(index)
    from sememe.index import _engine

    def no_memory(dims):
        raise MemoryError("simulated")

    monkeypatch.setattr(_engine, "sign_scanner", no_memory)
    with pytest.raises(MemoryError):
        index.remove([1, 2, 3])
    monkeypatch.undo()
    assert snapshot(index) == before


def test_large_vectors_are_normalised_not_zeroed(enc):
    """Before: squares of large float32 values overflowed, the norm became inf and the
    vector zero (a blank query)."""
    index = Index.from_texts(sentences(20), encoder=enc)
    vec = enc.encode("cat dog park")
    big = index.search_vectors(vec * 1e30, k=3)[0]
    assert big == index.search_vectors(vec, k=3)[0] and big[0].score > 0
