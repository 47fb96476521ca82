"""The batched chunking paths give exactly the per-document results.

- ``SemanticChunker.chunk_batch`` (``chunking/_batch.py``) analyses many documents in
  flat arrays; ``split_units_many`` splits their sentences at once. Both are compared
  with the per-document code on random documents (hypothesis) and on real articles.
- ``chunk_stream`` batches are capped by characters; with ``workers=N`` (or by default on a
  large input) a list is shared out over forked processes round by round
  (``chunking/_split.py``) and a generator's batches go to forked helpers
  (``chunking/_pool.py``): results, errors, clean-up, Ctrl-C, dead and stuck helpers,
  threads in the parent and the no-fork fallback are checked.
"""

from __future__ import annotations

import gzip
import itertools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import (
    SHARED,
    llama_like_tokenizer,
    no_children,
    ran_in_a_fresh_process,
    tiny_encoder,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe.chunking import SemanticChunker, TokenChunker, _batch, _pool
from sememe.chunking.sentences import TextInfo, split_units, split_units_many
from sememe.errors import InvalidArgumentError, InvalidTypeError

ARTICLES = SHARED / "corpus" / "documents" / "wikipedia_articles.jsonl.gz"

# Pieces that exercise Punkt's decisions, the markdown blocks and the size limits.
PIECES = [
    "the cat sat.",
    "Dr. Smith",
    "etc.",
    "U.S. dog",
    "a",
    "b.",
    " ",
    "  ",
    "\n",
    "\n\n",
    "?",
    "!",
    ")",
    '"',
    "'",
    "(",
    ".",
    "..",
    "# Heading",
    "- item",
    "```",
    "|a|b|",
    "\x1c",
    "\u2019",
    "é.",
    "3.",
    "A.",
    "Mr. Jones ran.",
    "x",
    "\u2014",
    "\t",
    "1.",
    "*",
    "--",
    "日本語の文。",
    "park" * 40,  # a word over small limits: cut at token boundaries
    "on the mat in the park " * 12,  # a long sentence
]

document = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
documents = st.lists(document, min_size=2, max_size=6)

_ENCODERS: dict[str, sememe.Encoder] = {}


def llama_encoder() -> sememe.Encoder:
    """A tiny random encoder over a Llama-like tokenizer (``"space"`` mode: batched)."""
    if "llama" not in _ENCODERS:
        _ENCODERS["llama"] = tiny_encoder(llama_like_tokenizer())
    return _ENCODERS["llama"]


def bundled() -> sememe.Encoder:
    if "bundled" not in _ENCODERS:
        _ENCODERS["bundled"] = sememe.load()
    return _ENCODERS["bundled"]


def per_document(chunker, texts):
    return [chunker.chunk(t) for t in texts]


def joined_units(texts):
    offsets = np.concatenate(([0], np.cumsum([len(t) for t in texts]))).astype(np.int64)
    text = "".join(texts)
    return split_units_many(texts, text, TextInfo(text), offsets), offsets


def assert_units_equal(texts):
    (units, unit_offsets), offsets = joined_units(texts)
    for d, text in enumerate(texts):
        ref = split_units(text)
        a, b = unit_offsets[d], unit_offsets[d + 1]
        assert units.starts[a:b].tolist() == (ref.starts + offsets[d]).tolist(), text
        assert units.ends[a:b].tolist() == (ref.ends + offsets[d]).tolist(), text
        assert units.kinds[a:b].tolist() == ref.kinds.tolist(), text


# ----------------------------------------------------------------------------- units


@settings(max_examples=300, deadline=None)
@given(documents)
def test_split_units_many_equals_split_units(texts):
    texts = [t for t in texts if t and not t.isspace()]
    if texts:
        assert_units_equal(texts)


def test_split_units_many_edges():
    # Candidates at a text's end, a closing quote that would realign across texts, a
    # word without spaces running into the next text, abbreviations before a text edge.
    assert_units_equal(["It ended.", ")Next one. Yes."])
    assert_units_equal(["Dr.", "Smith came.", "etc.", "Then."])
    assert_units_equal(["word.", '" quoted." And more.', "x?", "!y"])
    assert_units_equal(["no spaces.at.all", "again.here", "# H\n\nText. More."])
    assert_units_equal(["```\ncode. line.\n", "prose. after."])


# ------------------------------------------------------------------ batched chunking


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.sampled_from([8, 16, 64]))
def test_chunk_batch_equals_chunk(texts, max_tokens):
    chunker = SemanticChunker(llama_encoder(), max_tokens=max_tokens)
    try:
        ref = per_document(chunker, texts)
    except InvalidArgumentError as exc:  # a limit too small for some text: same error
        with pytest.raises(type(exc), match="too small"):
            chunker.chunk_batch(texts)
        return
    assert chunker.chunk_batch(texts) == ref
    # The batched path itself, not a fallback to the per-document loop.
    todo = [t for t in texts if t and not t.isspace()]
    got = _batch.chunk_texts(chunker, todo)
    assert got == [r for t, r in zip(texts, ref, strict=True) if t and not t.isspace()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_chunk_batch_equals_chunk_with_overlap(texts):
    chunker = SemanticChunker(llama_encoder(), max_tokens=32, overlap=8)
    try:
        ref = per_document(chunker, texts)
    except InvalidArgumentError:
        with pytest.raises(InvalidArgumentError):
            chunker.chunk_batch(texts)
        return
    assert chunker.chunk_batch(texts) == ref


def test_chunk_batch_bundled_model_edge_cases():
    chunker = SemanticChunker(bundled(), max_tokens=16)
    texts = [
        "",
        "   \n\t ",
        "One sentence only.",
        "Héllo wörld. Ünïcode — dashes… and “quotes”. 日本語の文です。",
        "on the mat in the park " * 40,  # one sentence far over the limit
        "x" * 3000,  # one word far over the limit
        "# Title\n\nSome text. More text.\n\n```\ncode\n```\n- a\n- b\n| t | u |",
        "A  double  spaced   text. With runs of spaces.",
    ]
    assert chunker.chunk_batch(texts) == per_document(chunker, texts)


def test_chunk_batch_documents_and_non_batched_chunkers():
    from langchain_core.documents import Document

    docs = [Document(page_content="A cat. A dog sat.", metadata={"k": 1}), "Plain text here."]
    chunker = SemanticChunker(llama_encoder(), max_tokens=8)
    got = chunker.chunk_batch(docs)
    assert got == per_document(chunker, docs)
    assert got[0][0].metadata == {"k": 1}
    # Chunkers the batched path does not cover give the loop's results.
    texts = ["the cat sat. on the mat.", "a dog ran in the park."]
    counted = SemanticChunker(llama_encoder(), max_tokens=8, tokenizer=lambda s: len(s.split()))
    assert not _batch.batchable(counted)
    assert counted.chunk_batch(texts) == per_document(counted, texts)
    token = TokenChunker(llama_encoder(), max_tokens=4)
    assert token.chunk_batch(texts) == per_document(token, texts)


def test_chunk_batch_errors_as_chunk():
    chunker = SemanticChunker(llama_encoder(), max_tokens=8)
    with pytest.raises(InvalidTypeError, match=r"texts\[1\] is of type int"):
        chunker.chunk_batch(["a cat.", 3])
    tight = SemanticChunker(llama_encoder(), max_tokens=1)
    texts = ["the cat", "日本"]  # a byte-fallback character over one token
    with pytest.raises(InvalidArgumentError) as ref:
        per_document(tight, texts)
    with pytest.raises(InvalidArgumentError) as got:
        tight.chunk_batch(texts)
    assert str(got.value) == str(ref.value)


def read_articles(n: int) -> list[str]:
    """Articles 60,000 on, as ``benchmarks/chunk.py`` gives them to the chunker."""
    out = []
    with gzip.open(ARTICLES, "rt", encoding="utf-8") as f:
        for line in itertools.islice(f, 60_000, 60_000 + n):
            article = json.loads(line)
            parts = [article["title"]]
            for section in article["sections"]:
                if section["heading"]:
                    parts.append(section["heading"])
                parts.extend(section["paragraphs"])
            out.append("\n\n".join(parts))
    return out


@pytest.mark.skipif(not ARTICLES.is_file(), reason="../shared is not available")
def test_chunk_batch_equals_chunk_on_articles():
    texts = read_articles(400)
    chunker = SemanticChunker(bundled(), max_tokens=256)
    ref = per_document(chunker, texts)
    assert _batch.chunk_texts(chunker, texts) == ref
    assert chunker.chunk_batch(texts) == ref
    assert list(chunker.chunk_stream(iter(texts), batch_size=37, workers=1)) == ref
    assert_units_equal(texts)
    small = SemanticChunker(bundled(), max_tokens=48, overlap=0.25)
    assert small.chunk_batch(texts[:100]) == per_document(small, texts[:100])


# --------------------------------------------------------------------------- stream


def stream_texts(n: int) -> list[str]:
    words = ["the cat sat on the mat.", "a dog ran in the park!", "# Heading", "\n\n"]
    return ["".join(words[(i * 7 + k) % 4] + " " for k in range(i % 9 + 1)) for i in range(n)]


def test_chunk_stream_in_process():
    chunker = SemanticChunker(llama_encoder(), max_tokens=12)
    texts = stream_texts(50)
    ref = per_document(chunker, texts)
    gen = chunker.chunk_stream(t for t in texts)  # any iterable, read lazily
    assert list(gen) == ref
    assert list(chunker.chunk_stream(texts, batch_size=1)) == ref
    assert list(chunker.chunk_stream("the cat sat.")) == [chunker.chunk("the cat sat.")]
    with pytest.raises(InvalidTypeError, match="batch_size"):
        chunker.chunk_stream(texts, batch_size=0.5)  # checked on the call, not on next()
    with pytest.raises(InvalidTypeError, match="expected an iterable"):
        chunker.chunk_stream(None)
    with pytest.raises(InvalidArgumentError, match="workers"):
        chunker.chunk_stream(texts, workers=0)


needs_fork = pytest.mark.skipif(not _pool.fork_available(), reason="no fork here")
#: A pool forks only while this process runs one thread (see ``_pool.can_fork``).
needs_pool = pytest.mark.skipif(not _pool.fork_available(), reason="no fork here")


def no_children_left(within: float = 10.0) -> bool:
    """True once this process has no live child processes (helpers end asynchronously
    after a pool's shutdown; ``active_children`` also reaps the ended ones)."""
    deadline = time.monotonic() + within
    while multiprocessing.active_children():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def fork_allowed_again(within: float = 10.0) -> bool:
    """True once a new pool may be forked: a closed pool's manager thread ends shortly
    after its helpers, and until then this process runs two threads."""
    deadline = time.monotonic() + within
    while not _pool.can_fork():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def spy_pool(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The pools ``_pool._start_pool`` starts from now on (filled as they start)."""
    started: list[object] = []
    original = _pool._start_pool

    def spy(*args: object) -> object:
        pool = original(*args)
        started.append(pool)
        return pool

    monkeypatch.setattr(_pool, "_start_pool", spy)
    return started


def test_default_starts_helpers_only_for_large_inputs(monkeypatch):
    """workers=None: nothing forked below AUTO_LIST_CHARS characters (a list: in all);
    a large list is shared out round by round (``_split``), a generator goes to helpers
    once AUTO_CHARS have been chunked here (``_pool``); SEMEME_CHUNK_WORKERS overrides
    (and is checked)."""
    from sememe.chunking import _base, _split

    calls: list[tuple[str, int]] = []

    def no_pool(chunker, batches, n_workers):
        calls.append(("pool", n_workers))
        raise AssertionError("a pool was started")

    def no_split(chunker, batches, n_workers):
        calls.append(("split", n_workers))
        raise AssertionError("a split was started")

    monkeypatch.delenv("SEMEME_CHUNK_WORKERS", raising=False)
    monkeypatch.setattr(_pool, "pooled_stream", no_pool)
    monkeypatch.setattr(_split, "split_stream", no_split)
    monkeypatch.setattr(_base, "auto_workers", lambda: 2)
    chunker = SemanticChunker(llama_encoder(), max_tokens=12)
    texts = stream_texts(200)
    ref = per_document(chunker, texts)
    assert list(chunker.chunk_stream(texts)) == ref  # far below both sizes
    assert chunker.chunk_batch(texts) == ref
    assert list(chunker.chunk_stream(iter(texts))) == ref
    size = sum(map(len, texts))
    monkeypatch.setattr(_base, "AUTO_LIST_CHARS", size // 2)
    with pytest.raises(AssertionError, match="split was started"):
        chunker.chunk_stream(texts)  # a large list: shared out from the start
    with pytest.raises(AssertionError, match="split was started"):
        chunker.chunk_stream(tuple(texts))
    with pytest.raises(AssertionError, match="split was started"):
        chunker.chunk_batch(texts)
    assert list(chunker.chunk_stream(iter(texts))) == ref  # the generator rule is apart
    monkeypatch.setattr(_base, "AUTO_CHARS", size // 2)
    got = []
    with pytest.raises(AssertionError, match="pool was started"):
        for chunks in chunker.chunk_stream(iter(texts), batch_size=16):
            got.append(chunks)
    assert got == ref[: len(got)] and 0 < len(got) < len(texts)  # chunked here first
    assert calls == [("split", 2), ("split", 2), ("split", 2), ("pool", 2)]
    # One usable core (or not Linux): never a helper.
    monkeypatch.setattr(_base, "auto_workers", lambda: 1)
    assert list(chunker.chunk_stream(texts)) == ref
    assert list(chunker.chunk_stream(iter(texts))) == ref
    # The environment variable decides when set (and is checked).
    monkeypatch.setattr(_base, "auto_workers", lambda: 2)
    monkeypatch.setenv("SEMEME_CHUNK_WORKERS", "1")
    assert list(chunker.chunk_stream(texts)) == ref
    monkeypatch.setattr(_base, "AUTO_CHARS", 10**9)
    monkeypatch.setattr(_base, "AUTO_LIST_CHARS", 10**9)
    monkeypatch.setenv("SEMEME_CHUNK_WORKERS", "2")
    with pytest.raises(AssertionError, match="split was started"):
        list(chunker.chunk_stream(texts))
    with pytest.raises(AssertionError, match="pool was started"):
        list(chunker.chunk_stream(iter(texts)))
    monkeypatch.setenv("SEMEME_CHUNK_WORKERS", "two")
    with pytest.raises(InvalidArgumentError, match="SEMEME_CHUNK_WORKERS"):
        chunker.chunk_stream(texts)


def test_auto_workers_counts_usable_cores(monkeypatch):
    from sememe import _fork
    from sememe.chunking import _base
    from sememe.encoder import single_threaded

    monkeypatch.setattr(_fork, "usable_cores", lambda: 8)
    monkeypatch.setattr(_fork, "in_worker_process", lambda: False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert _base.auto_workers() == _base.AUTO_MAX
    with single_threaded():  # Spark workers, process pools: one process
        assert _base.auto_workers() == 1
    monkeypatch.setattr(_fork, "in_worker_process", lambda: True)
    assert _base.auto_workers() == 1
    monkeypatch.setattr(_fork, "in_worker_process", lambda: False)
    monkeypatch.setattr(_fork, "usable_cores", lambda: 1)
    assert _base.auto_workers() == 1
    monkeypatch.setattr(_fork, "usable_cores", lambda: 2)
    monkeypatch.setattr(sys, "platform", "darwin")
    assert _base.auto_workers() == 1


def test_no_pool_module_without_workers():
    code = (
        "import sys, sememe\n"
        "from sememe.chunking import TokenChunker\n"
        "c = TokenChunker(max_tokens=8)\n"
        "list(c.chunk_stream(['the cat sat on the mat'] * 3)); c.chunk_batch(['a b', 'c d'])\n"
        "assert 'sememe.chunking._pool' not in sys.modules, 'pool imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "SEMEME_CHUNK_WORKERS"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_stream_batches_are_capped_by_characters(monkeypatch):
    from sememe.chunking import _base, semantic

    texts = [("the cat sat on the mat. " * (1 + i % 7)).strip() for i in range(60)]
    texts[10] = "a dog ran in the park. " * 20  # 459 characters: chunked alone
    batches = list(_base.stream_batches(iter(texts), 64, max_chars=300))
    assert [t for b in batches for t in b] == texts
    assert all(len(b) == 1 or sum(map(len, b)) <= 300 for b in batches)
    seen: list[list[str]] = []
    original = _batch.chunk_texts

    def spy(chunker, group):
        seen.append(list(group))
        return original(chunker, group)

    monkeypatch.setattr(_batch, "chunk_texts", spy)
    monkeypatch.setattr(semantic, "BATCH_CHARS", 300)
    monkeypatch.setattr(semantic, "ALONE_CHARS", 400)
    chunker = SemanticChunker(llama_encoder(), max_tokens=12)
    ref = per_document(chunker, texts)
    assert chunker.chunk_batch(texts) == ref
    assert list(chunker.chunk_stream(texts)) == ref
    assert len(seen) > 2
    assert all(sum(map(len, g)) <= 300 for g in seen)  # never over the cap
    assert all(texts[10] not in g for g in seen)  # the long one went through chunk()


def test_chunk_stream_of_a_one_column_frame():
    pd = pytest.importorskip("pandas")
    chunker = SemanticChunker(llama_encoder(), max_tokens=12)
    texts = stream_texts(20)
    frame = pd.DataFrame({"body": texts})
    ref = per_document(chunker, texts)
    assert list(chunker.chunk_stream(frame)) == ref  # the texts, not the column name
    assert list(chunker.chunk_stream(frame["body"])) == ref
    with pytest.raises(InvalidArgumentError):
        chunker.chunk_stream(pd.DataFrame({"a": texts, "b": texts}))


@needs_pool
def test_chunk_stream_workers(monkeypatch, request):
    if ran_in_a_fresh_process(request):
        return
    from langchain_core.documents import Document

    started = []
    original = _pool._start_pool

    def spy(*args):
        pool = original(*args)
        started.append(pool)
        return pool

    monkeypatch.setattr(_pool, "_start_pool", spy)
    # Every batch is chunked once: by a helper (its triples built here) or here; none
    # falls back to being chunked again here (``_work``'s except) on good input.
    done = {"helper": 0, "here": 0}
    build, local = _pool._build, _pool._Entry.local

    def built(*args):
        done["helper"] += 1
        return build(*args)

    def here(*args):
        done["here"] += 1
        return local(*args)

    monkeypatch.setattr(_pool, "_build", built)
    monkeypatch.setattr(_pool._Entry, "local", here)
    chunker = SemanticChunker(llama_encoder(), max_tokens=12)
    texts = [*stream_texts(60), Document(page_content="the cat sat.", metadata={"i": 9})]
    ref = per_document(chunker, texts)
    got = list(chunker.chunk_stream(iter(texts), batch_size=7, workers=2))
    assert got == ref
    assert started and started[0] is not None  # a helper did take part
    assert done["helper"] >= 1 and done["helper"] + done["here"] == -(-len(texts) // 7)
    assert got[-1][0].metadata == {"i": 9}
    assert no_children_left()
    # Closing the generator early, or Ctrl-C, terminates the helpers; they ignore SIGINT.
    assert fork_allowed_again()
    gen = chunker.chunk_stream(iter(texts), batch_size=3, workers=2)
    assert next(gen) == ref[0]
    helpers = multiprocessing.active_children()
    assert helpers
    for p in helpers:
        with open(f"/proc/{p.pid}/status") as f:
            ignored = int(next(x for x in f if x.startswith("SigIgn:")).split()[1], 16)
        assert ignored & (1 << (signal.SIGINT - 1))
    gen.close()
    assert no_children_left()
    assert fork_allowed_again()
    gen = chunker.chunk_stream(iter(texts), batch_size=3, workers=2)
    next(gen)
    with pytest.raises(KeyboardInterrupt):
        gen.throw(KeyboardInterrupt)
    assert no_children_left()


@needs_fork
@pytest.mark.parametrize("sized", [True, False])
def test_no_fork_while_other_threads_run(sized, forks):
    chunker = SemanticChunker(llama_encoder(), max_tokens=12)
    texts = stream_texts(40)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        gen = chunker.chunk_stream(texts if sized else iter(texts), batch_size=3, workers=2)
        assert next(gen) == chunker.chunk(texts[0])
        assert no_children_left() and no_children()  # chunked in this process
        assert [next(gen), *gen] == per_document(chunker, texts[1:])
        assert not any(forks)
    finally:
        stop.set()
        other.join()


@needs_pool
def test_chunk_stream_worker_error_is_the_in_process_error(monkeypatch, request):
    if ran_in_a_fresh_process(request):
        return
    started = spy_pool(monkeypatch)
    chunker = SemanticChunker(llama_encoder(), max_tokens=1)
    texts = ["the cat", "the dog", "日本"]
    with pytest.raises(InvalidArgumentError) as ref:
        per_document(chunker, texts)
    with pytest.raises(InvalidArgumentError) as got:
        list(chunker.chunk_stream(iter(texts), batch_size=1, workers=2))
    assert any(p is not None for p in started)  # a helper took part
    assert type(got.value) is type(ref.value)
    assert str(got.value) == str(ref.value)
    assert no_children_left()


def test_chunk_stream_without_fork(monkeypatch):
    from sememe import _fork

    monkeypatch.setattr(_pool, "fork_available", lambda: False)
    monkeypatch.setattr(_fork, "can_fork", lambda: False)
    chunker = SemanticChunker(llama_encoder(), max_tokens=12)
    texts = stream_texts(30)
    ref = per_document(chunker, texts)
    assert list(chunker.chunk_stream(iter(texts), batch_size=4, workers=2)) == ref
    assert list(chunker.chunk_stream(texts, batch_size=4, workers=2)) == ref
    assert no_children_left() and no_children()


def _dying_work(texts):
    if any("dog" in t for t in texts):
        os._exit(3)  # a worker killed mid-batch (out of memory, a signal)
    return _ORIGINAL_WORK(texts)


def _stuck_work(texts):
    if any("dog" in t for t in texts):
        time.sleep(600)  # a helper deadlocked (on a lock held at the fork, say)
    return _ORIGINAL_WORK(texts)


_ORIGINAL_WORK = _pool._work


@needs_pool
@pytest.mark.parametrize("work", [_dying_work, _stuck_work])
def test_chunk_stream_survives_a_dead_or_stuck_worker(monkeypatch, work, request):
    if ran_in_a_fresh_process(request):
        return
    started = spy_pool(monkeypatch)
    monkeypatch.setattr(_pool, "_work", work)  # forked workers inherit the patch
    monkeypatch.setattr(_pool, "STALL_S", 1.0)
    chunker = SemanticChunker(llama_encoder(), max_tokens=12)
    texts = stream_texts(40)
    got = list(chunker.chunk_stream(iter(texts), batch_size=4, workers=2))
    assert any(p is not None for p in started)  # a helper took part
    assert got == per_document(chunker, texts)
    assert no_children_left()


def outcome(gen):
    """The results a generator yields before it raises, and what it raised (or None)."""
    got = []
    try:
        for item in gen:
            got.append(item)
    except Exception as exc:
        return got, exc
    return got, None


@needs_fork
@pytest.mark.parametrize("kind", ["semantic", "token"])
def test_list_split_gives_the_one_process_results(monkeypatch, request, forks, kind):
    """A list with two processes is chunked round by round, its batches claimed by
    whichever process is free: the per-document chunks in order (documents with their
    metadata; blank texts), over several rounds, from chunk_stream and chunk_batch."""
    if ran_in_a_fresh_process(request):
        return
    from langchain_core.documents import Document

    from sememe.chunking import _split

    monkeypatch.setattr(_split, "ROUND_CHARS", 900)
    enc = llama_encoder()
    chunker = (
        SemanticChunker(enc, max_tokens=12)
        if kind == "semantic"
        else TokenChunker(enc, max_tokens=7)
    )
    texts = [*stream_texts(90), "", Document(page_content="the cat sat.", metadata={"i": 9})]
    texts.append("  ")
    ref = per_document(chunker, texts)
    got = list(chunker.chunk_stream(texts, batch_size=5, workers=2))
    assert got == ref
    assert got[-2][0].metadata == {"i": 9}
    assert len(forks) > 2 and sum(forks) >= 2  # several rounds, children in them
    assert no_children()
    monkeypatch.setenv("SEMEME_CHUNK_WORKERS", "2")
    monkeypatch.setattr(_split, "ROUND_CHARS", 10**9)  # one round of two batches
    forks.clear()
    assert chunker.chunk_batch(texts) == ref
    assert sum(forks) >= 1
    assert no_children()


@needs_fork
def test_list_split_raises_where_one_process_raises(monkeypatch, request, forks):
    """An item that fails the checks, or a text a chunker refuses (a character that needs
    more tokens than max_tokens), raises the one-process exception after the same
    results, wherever the batch was chunked."""
    if ran_in_a_fresh_process(request):
        return
    from sememe.chunking import _split

    monkeypatch.setattr(_split, "ROUND_CHARS", 10**9)
    chunker = SemanticChunker(llama_encoder(), max_tokens=2)  # "日" takes 3 tokens here
    refused = ["the cat"] * 30 + ["日本"] + ["the dog"] * 30
    checked = ["the cat"] * 30 + [5] + ["the dog"] * 30
    for texts in (refused, checked):
        want, want_exc = outcome(chunker.chunk_stream(texts, batch_size=4, workers=1))
        got, exc = outcome(chunker.chunk_stream(texts, batch_size=4, workers=2))
        assert want_exc is not None and want
        assert got == want
        assert type(exc) is type(want_exc) and str(exc) == str(want_exc)
        assert no_children()
    assert sum(forks) >= 1  # the refused text's round was shared out
    # The failing batch first in the child's walk (the child starts at the middle step,
    # 8 of 16): it marks the batch, and this process chunks it again at its turn.
    redone = []
    decode = _split._decode

    def spy(chunker, items, flat):
        redone.append(int(flat[0]) == _split._REDO)
        return decode(chunker, items, flat)

    monkeypatch.setattr(_split, "_decode", spy)
    original = SemanticChunker._chunk_items

    def slow_here(self, items):  # this process slow: the child reaches step 8 first
        from sememe import _fork

        if not _fork.in_child():
            time.sleep(0.1)
        return original(self, items)

    monkeypatch.setattr(SemanticChunker, "_chunk_items", slow_here)
    middle = ["the cat"] * 32 + ["日本"] + ["the dog"] * 31
    want, want_exc = outcome(chunker.chunk_stream(middle, batch_size=4, workers=1))
    got, exc = outcome(chunker.chunk_stream(middle, batch_size=4, workers=2))
    assert got == want and len(got) == 32
    assert type(exc) is type(want_exc) and str(exc) == str(want_exc)
    assert any(redone)


def _dies_or_stalls_on_dogs(how):
    """A ``_chunk_items`` that, in a forked child, dies or hangs on a batch with "dog"."""
    original = SemanticChunker._chunk_items

    def chunk_items(self, items):
        from sememe import _fork

        if _fork.in_child() and any("dog" in str(t) for t in items):
            if how == "dies":
                os._exit(3)  # a child killed mid-batch (out of memory, a signal)
            time.sleep(600)  # a child deadlocked
        return original(self, items)

    return chunk_items


@needs_fork
@pytest.mark.parametrize("how", ["dies", "stalls"])
def test_list_split_survives_a_dead_or_stuck_child(monkeypatch, request, forks, how):
    if ran_in_a_fresh_process(request):
        return
    from sememe import _fork

    monkeypatch.setattr(_fork, "STALL_S", 1.0)
    monkeypatch.setattr(SemanticChunker, "_chunk_items", _dies_or_stalls_on_dogs(how))
    chunker = SemanticChunker(llama_encoder(), max_tokens=12)
    texts = stream_texts(40)
    started = time.monotonic()
    got = list(chunker.chunk_stream(texts, batch_size=4, workers=2))
    assert forks == [1]
    assert got == per_document(chunker, texts)
    assert time.monotonic() - started < 60
    assert no_children()


@needs_fork
def test_list_split_equals_one_process_on_random_input(request):
    """Hypothesis: random texts, batch sizes and round sizes; two processes give the
    one-process chunks."""
    if ran_in_a_fresh_process(request):
        return
    from sememe.chunking import _split

    chunker = SemanticChunker(llama_encoder(), max_tokens=9)
    text = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.lists(text, min_size=2, max_size=40),
        st.integers(1, 9),
        st.integers(1, 400),
    )
    def check(texts, batch_size, round_chars):
        saved = _split.ROUND_CHARS
        _split.ROUND_CHARS = round_chars
        try:
            want = outcome(chunker.chunk_stream(texts, batch_size=batch_size, workers=1))
            got = outcome(chunker.chunk_stream(texts, batch_size=batch_size, workers=2))
        finally:
            _split.ROUND_CHARS = saved
        assert got[0] == want[0]
        assert type(got[1]) is type(want[1]) and str(got[1]) == str(want[1])
        assert no_children()

    check()


def test_batched_path_needs_no_per_document_fallback(monkeypatch):
    """The batched path's ``except Exception`` falls back to chunking one by one; on good
    input that must never happen (it would hide a bug and cost the batching)."""
    from sememe.chunking._base import ChunkerBase

    chunker = SemanticChunker(llama_encoder(), max_tokens=12)
    texts = stream_texts(120)
    ref = per_document(chunker, texts)

    def refuse(self, items):
        raise AssertionError("the per-document fallback was taken")

    monkeypatch.setattr(ChunkerBase, "_chunk_items", refuse)
    assert chunker.chunk_batch(texts) == ref
    assert list(chunker.chunk_stream(texts, batch_size=16)) == ref
    if ARTICLES.is_file():
        articles = read_articles(400)
        big = SemanticChunker(bundled(), max_tokens=256)
        assert len(big.chunk_batch(articles)) == 400
