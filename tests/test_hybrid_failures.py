"""Hybrid index failure paths found in review: every part agrees after any failure."""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
import pytest
from conftest import SMALL_DOCS, tiny_encoder

from sememe.errors import InvalidArgumentError, InvalidTypeError
from sememe.index import Index, IndexFormatError
from sememe.index._lexical import _SCRATCH, Lexical

DOCS = SMALL_DOCS


@pytest.fixture(scope="module")
def enc():
    return tiny_encoder(dim=32)


def _ids(hits):
    return [h.id for h in hits]


def test_a_failing_delete_commit_still_removes_everywhere(enc, monkeypatch, tmp_path):
    index = Index.from_texts(DOCS, encoder=enc, lexical=True)

    def boom(self, writer):
        raise OSError("disk full")

    monkeypatch.setattr(Lexical, "_finish", boom)
    index.remove([2])  # the tantivy commit fails: the deletion waits, the index is consistent
    monkeypatch.undo()
    assert len(index) == 9 and 2 not in index
    for mode in ("dense", "lexical", "hybrid"):
        assert 2 not in _ids(index.search("stock market", k=10, mode=mode))
    index.add(["new doc about stock"], ids=["n"])  # commits the pending deletion too
    assert _ids(index.search("stock", k=3, mode="lexical")) == ["n"]
    loaded = Index.load(index.save(tmp_path / "ix"), enc)
    assert loaded.search("stock market", k=5) == index.search("stock market", k=5)


def test_an_add_interrupted_after_its_commit_leaves_no_ghost(enc, monkeypatch, tmp_path):
    index = Index.from_texts(DOCS, encoder=enc, lexical=True)

    def interrupted(self, writer):
        writer.commit()  # tantivy has the documents ...
        raise KeyboardInterrupt  # ... and Ctrl-C lands before the index records them

    monkeypatch.setattr(Lexical, "_finish", interrupted)
    with pytest.raises(KeyboardInterrupt):
        index.add(["zebra zebra zebra"], ids=["z"])
    monkeypatch.undo()
    assert len(index) == 10 and "z" not in index
    assert index.search("zebra", k=3, mode="lexical") == []
    index.add(["a plain document about cats"], ids=["c"])
    assert index.search("zebra", k=3, mode="lexical") == []  # the ghost is never taken for c
    loaded = Index.load(index.save(tmp_path / "ix"), enc)  # tantivy holds exactly the rows
    assert loaded.search("cats zebra", k=5) == index.search("cats zebra", k=5)


def test_a_damaged_serials_header_is_a_format_error(enc, tmp_path):
    path = Index.from_texts(DOCS, encoder=enc, lexical=True).save(tmp_path / "ix")
    f = path / "lexical_serials.npy"
    raw = f.read_bytes()
    assert b"(10,), " in raw
    f.write_bytes(raw.replace(b"(10,), ", b"(9999,)"))  # same size: only the header lies
    with pytest.raises(IndexFormatError):
        Index.load(path, enc, verify=False)


@pytest.mark.parametrize("fusion", ["zscore", "rrf"])
@pytest.mark.parametrize("query", ["the a on", "quick brown"])
def test_alpha_zero_keeps_the_dense_order_where_there_is_no_lexical_match(enc, fusion, query):
    index = Index.from_texts(DOCS, encoder=enc, lexical=True)
    dense = _ids(index.search(query, k=5, mode="dense"))
    lexical = _ids(index.search(query, k=10, mode="lexical"))
    got = _ids(index.search(query, k=5, alpha=0.0, fusion=fusion))
    assert got[: len(lexical)] == lexical[:5]
    rest = [d for d in dense if d not in lexical]
    assert got[len(lexical) :] == rest[: 5 - len(lexical)]


def test_a_blank_query_with_lexical_matches_ranks_by_bm25(tmp_path):
    enc = tiny_encoder(dim=32, ignore_token_ids=(0,))  # words it has no token for: zero
    docs = [f"filler text number {i}" for i in range(150)]
    docs[5] = "a zebra here and words"
    docs[120] = "zebra zebra"
    index = Index.from_texts(docs, encoder=enc, lexical=True)
    vec = enc.encode(["zebra"])
    if vec.any():
        pytest.skip("the tiny encoder gives 'zebra' a vector")
    lexical = _ids(index.search("zebra", k=5, mode="lexical"))
    assert _ids(index.search("zebra", k=5, alpha=0.8)) == lexical


def test_hybrid_settings_are_checked_when_set(enc):
    index = Index.from_texts(DOCS[:3], encoder=enc, lexical=True)
    with pytest.raises(InvalidArgumentError):
        index.alpha = 1.5
    with pytest.raises(InvalidArgumentError):
        index.fusion_candidates = 0
    with pytest.raises(InvalidArgumentError):
        index.fusion = "max"
    assert (index.alpha, index.fusion, index.fusion_candidates) == (0.3, "zscore", 100)
    index.alpha = 0.5
    assert index.alpha == 0.5


_FORK = """
import os, sys, tempfile
sys.path.insert(0, {tests!r})
from conftest import tiny_encoder
from sememe.index import Index
index = Index.from_texts(["the cat sat", "a dog ran"], encoder=tiny_encoder(dim=32), lexical=True)
pid = os.fork()
if pid == 0:
    sys.exit(0)  # a normal exit runs the finalizers, in the child too
os.waitpid(pid, 0)
index.add(["a new mat"], ids=["m"])
print([h.id for h in index.search("mat", k=5, mode="lexical")])
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_leaves_the_parent_scratch_alone(tmp_path):
    import subprocess
    from pathlib import Path

    code = _FORK.format(tests=str(Path(__file__).parent))
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "['m']"


def test_lexical_side_works_where_flock_does_not(enc, monkeypatch):
    from sememe import _folder

    monkeypatch.setattr(_folder, "_lock", lambda folder: None)
    before = {p for p in os.listdir(tempfile.gettempdir()) if p.startswith(_SCRATCH)}
    index = Index.from_texts(DOCS[:3], encoder=enc, lexical=True)
    after = {p for p in os.listdir(tempfile.gettempdir()) if p.startswith(_SCRATCH)}
    assert len(after - before) == 1
    assert _ids(index.search("cat", k=1, mode="lexical")) == [0]


def test_documents_auto_ids_skip_ids_equal_as_text(enc):
    from sememe.chunking import TokenChunker

    chunker = TokenChunker(enc, max_tokens=64)
    index = Index(enc, lexical=True).add_documents(["a cat."], ids=["0"], chunker=chunker)
    index.add_documents(["a dog.", "a fish."], chunker=chunker)
    assert set(index.ids) == {"0#0", "1#0", "2#0"}


class _Chunk:
    def __init__(self, text, start, end):
        self.text, self.start, self.end = text, start, end


class _BadChunker:
    def __init__(self, out):
        self.out = out

    def chunk_batch(self, texts):
        return self.out


def test_a_broken_chunker_gets_a_clear_error(enc):
    index = Index(enc, lexical=True)
    with pytest.raises(InvalidTypeError, match="int start and end"):
        index.add_documents(["abc"], chunker=_BadChunker([[_Chunk("abc", "x", 3)]]))
    with pytest.raises(InvalidArgumentError, match="0 chunk lists for 1"):
        index.add_documents(["abc"], chunker=_BadChunker([]))
    assert len(index) == 0


def test_custom_stopwords_keep_their_case_without_lowercase():
    from sememe import Analyzer

    a = Analyzer(stopwords=["The"], lowercase=False, stem=False)
    assert a.analyze("The the") == ["the"]
    assert Analyzer(stopwords=["The"], stem=False).analyze("The the x") == ["x"]


def test_serials_are_never_reused_after_a_failed_add(enc, monkeypatch):
    index = Index.from_texts(DOCS[:2], encoder=enc, lexical=True)

    def boom(self, writer):
        raise OSError("commit failed")

    monkeypatch.setattr(Lexical, "_finish", boom)
    with pytest.raises(OSError):
        index.add(["x y"], ids=["x"])
    monkeypatch.undo()
    index.add(["z w"], ids=["z"])
    assert np.all(np.diff(index._lexical.serials) > 0)
    assert index._lexical.serials[-1] == 3  # serial 2 went to the failed add
