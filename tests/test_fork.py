"""A large encode call shared out over forked processes (``sememe._fork``) gives exactly
the one-process vectors, errors and clean-up: failing, dying and stuck children, Ctrl-C,
threads in the parent, and the choice of processes by size and environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import no_children, ran_in_a_fresh_process, sentences

import sememe
from sememe import _fork
from sememe import encoder as encoder_module
from sememe.errors import InvalidArgumentError, InvalidTypeError

needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def rows_of(lo: int, hi: int, rows: np.ndarray) -> None:
    """A ``compute`` whose rows say which row they are (same result in any process)."""
    rows[:] = np.arange(lo, hi, dtype=np.float32)[:, None] * np.ones(rows.shape[1], np.float32)


def slow_rows_of(lo: int, hi: int, rows: np.ndarray) -> None:
    """:func:`rows_of` at 10 ms a step: a child forked a few ms late still gets steps."""
    time.sleep(0.01)
    rows_of(lo, hi, rows)


def expected(n: int, width: int) -> np.ndarray:
    out = np.empty((n, width), np.float32)
    rows_of(0, n, out)
    return out


@needs_fork
def test_row_split_equals_one_process_and_leaves_no_child(request):
    if ran_in_a_fresh_process(request):
        return
    for n, processes, step in [(1000, 2, 64), (1000, 3, 100), (7, 2, 1), (5, 4, 1)]:
        split = _fork.RowSplit(n, 3, processes, step, rows_of)
        assert split.fork() == processes - 1 == split.forked
        seen: list[int] = []
        try:
            out = split.run(on_rows=seen.append)
        finally:
            split.close()
        np.testing.assert_array_equal(out, expected(n, 3))
        assert sum(seen) == n
        assert no_children()
    # too few steps for the processes, or one process: nothing forked
    split = _fork.RowSplit(3, 2, 4, 1, rows_of)
    assert split.fork() == 0
    np.testing.assert_array_equal(split.run(), expected(3, 2))


@needs_fork
def test_row_split_writes_into_the_callers_array_or_hands_back_the_shared_one(request):
    """``out=``: the rows land in the caller's array (its own steps computed there, the
    child's copied in); ``private=False``: the shared buffer itself comes back."""
    if ran_in_a_fresh_process(request):
        return
    whole = np.full((1010, 3), -7.0, np.float32)
    split = _fork.RowSplit(1000, 3, 2, 50, slow_rows_of, out=whole[10:])
    assert split.fork() == 1
    try:
        got = split.run()
    finally:
        split.close()
    assert np.shares_memory(got, whole) and not np.shares_memory(got, split.out)
    assert split.child_steps > 0 and not split.recomputed  # the child's rows were copied
    np.testing.assert_array_equal(whole[10:], expected(1000, 3))
    assert (whole[:10] == -7.0).all()
    split = _fork.RowSplit(1000, 3, 2, 50, rows_of, private=False)
    assert split.fork() == 1
    try:
        got = split.run()
    finally:
        split.close()
    assert got is split.out
    np.testing.assert_array_equal(got, expected(1000, 3))
    for bad in (np.zeros((999, 3), np.float32), np.zeros((1000, 3), np.float64)):
        with pytest.raises(ValueError, match="out must be"):
            _fork.RowSplit(1000, 3, 2, 50, rows_of, out=bad)
    with pytest.raises(ValueError, match="out is only for private=True"):
        _fork.RowSplit(1000, 3, 2, 50, rows_of, out=np.zeros((1000, 3), np.float32), private=False)
    assert no_children()


@needs_fork
def test_row_split_reports_the_childrens_rows_as_they_finish(request):
    """``on_rows`` hears of a child's rows while this process is still working (a
    progress bar moves on), and of every row once in all; custom steps and dtype."""
    if ran_in_a_fresh_process(request):
        return
    seen: list[int] = []
    told_at_own_steps: list[int] = []

    def compute(lo: int, hi: int, rows: np.ndarray) -> None:
        if _fork.in_child():
            time.sleep(0.01)
        else:
            time.sleep(0.05)  # this process slower than the child
            told_at_own_steps.append(sum(seen))
        rows[:] = np.arange(lo, hi, dtype=np.int32)[:, None]

    steps = [(i, i + 1) for i in range(30)] + [(30, 40)]
    split = _fork.RowSplit(40, 2, 2, 1, compute, steps=steps, dtype=np.int32)
    assert split.fork() == 1
    try:
        out = split.run(on_rows=seen.append)
    finally:
        split.close()
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.repeat(np.arange(40, dtype=np.int32)[:, None], 2, 1))
    assert sum(seen) == 40
    own = len(told_at_own_steps)
    assert 2 <= own < 31
    assert told_at_own_steps[-1] > own - 1  # more than this process's own rows were told
    with pytest.raises(ValueError, match="contiguous"):
        _fork.RowSplit(40, 2, 2, 1, compute, steps=[(0, 10), (11, 40)])
    assert no_children()


@needs_fork
@pytest.mark.parametrize("how", ["raises", "dies", "stalls"])
def test_row_split_redoes_what_a_child_did_not_deliver(monkeypatch, request, how):
    if ran_in_a_fresh_process(request):
        return
    monkeypatch.setattr(_fork, "STALL_S", 0.5)

    def flaky(lo: int, hi: int, rows: np.ndarray) -> None:
        if _fork.in_child():
            rows[:] = -1.0  # half-written garbage first
            if how == "raises":
                raise ValueError("child only")
            if how == "dies":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)
        rows_of(lo, hi, rows)

    started = time.monotonic()
    split = _fork.RowSplit(400, 2, 2, 10, flaky)
    assert split.fork() == 1
    try:
        out = split.run()
    finally:
        split.close()
    np.testing.assert_array_equal(out, expected(400, 2))
    assert time.monotonic() - started < 30
    assert no_children()


@needs_fork
def test_row_split_kills_children_on_an_error_here(request):
    if ran_in_a_fresh_process(request):
        return

    def parent_fails(lo: int, hi: int, rows: np.ndarray) -> None:
        if not _fork.in_child():
            raise KeyboardInterrupt
        time.sleep(60)

    split = _fork.RowSplit(100, 2, 2, 10, parent_fails)
    assert split.fork() == 1
    with pytest.raises(KeyboardInterrupt):
        try:
            split.run()
        finally:
            split.close()
    assert no_children()


@needs_fork
def test_no_fork_while_another_thread_runs(request):
    if ran_in_a_fresh_process(request):
        return
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not _fork.can_fork()
        split = _fork.RowSplit(100, 2, 2, 10, rows_of)
        assert split.fork() == 0
        np.testing.assert_array_equal(split.run(), expected(100, 2))
    finally:
        stop.set()
        other.join()
    assert _fork.can_fork()


@needs_fork
def test_encode_shared_out_gives_the_one_process_vectors(monkeypatch, request, forks):
    """Every option of encode (normalised, raw, truncated, a generator, a tuple) with
    children equals the one-process call bit for bit; errors name the global row."""
    if ran_in_a_fresh_process(request):
        return
    monkeypatch.setattr(encoder_module, "FORK_STEP", 1000)
    enc = sememe.load()
    texts = [*sentences(6000, seed=3), "", "   ", "x" * 50_000, "<s> literal", *sentences(3000)]
    for kwargs in ({}, {"normalize": False}, {"dim": 64}, {"batch_size": 700}):
        monkeypatch.setenv(encoder_module.WORKERS_ENV, "1")
        one = enc.encode(texts, **kwargs)
        assert not forks
        monkeypatch.setenv(encoder_module.WORKERS_ENV, "3")
        np.testing.assert_array_equal(enc.encode(texts, **kwargs), one)
        np.testing.assert_array_equal(enc.encode(tuple(texts), **kwargs), one)
        assert forks == [2, 2]
        forks.clear()
    # A fresh encoder (no word of a text in its memo yet) forks at once, every process
    # reading the word table itself: the same vectors as one process; and without a table.
    a = enc.arrays
    sizes: list[int] = []
    splits: list[_fork.RowSplit] = []
    make = _fork.RowSplit.__init__

    def sized(self: _fork.RowSplit, n: int, *args: object, **kw: object) -> None:
        sizes.append(n)
        splits.append(self)
        make(self, n, *args, **kw)

    monkeypatch.setattr(_fork.RowSplit, "__init__", sized)
    for kwargs in ({}, {"normalize": False}, {"dim": 64}):
        monkeypatch.setenv(encoder_module.WORKERS_ENV, "3")
        fresh = sememe.load(Path(sememe.__file__).parent / "models" / "sememe-base")
        assert fresh is not enc and fresh.word_table is not None
        bare = sememe.Encoder(
            enc.tokenizer, a.embeddings, weights=a.weights, mapping=a.mapping, config=enc.config
        )
        want = enc.encode(texts, **kwargs)
        np.testing.assert_array_equal(fresh.encode(texts, **kwargs), want)
        np.testing.assert_array_equal(bare.encode(texts, **kwargs), want)
        assert forks == [2, 2, 2]
        assert sizes == [len(texts) - 1000, len(texts), len(texts)]  # no first step here
        # The children delivered rows (a failing child would be hidden by the recompute).
        assert all(s.child_steps > 0 and not s.recomputed for s in splits)
        forks.clear()
        sizes.clear()
        splits.clear()
    # Where the split cannot use several processes after all (fewer steps than processes),
    # a fresh encoder encodes here, threaded as usual: the same vectors, nothing forked.
    monkeypatch.setattr(encoder_module, "FORK_STEP", 5000)  # 2 steps for 3 processes
    fresh = sememe.load(Path(sememe.__file__).parent / "models" / "sememe-base")
    got = fresh.encode(texts)
    assert not forks and splits[-1].processes == 1 and sizes[-1] == len(texts)
    np.testing.assert_array_equal(got, enc.encode(texts))
    monkeypatch.setattr(encoder_module, "FORK_STEP", 1000)
    monkeypatch.setenv(encoder_module.WORKERS_ENV, "2")
    bad = [*texts[:5000], None, *texts[5000:]]
    with pytest.raises(InvalidTypeError, match=r"texts\[5000\]"):
        enc.encode(bad)
    assert not forks  # checked before forking
    assert no_children()


def test_processes_by_size_environment_and_context(monkeypatch):
    monkeypatch.delenv(encoder_module.WORKERS_ENV, raising=False)
    monkeypatch.setattr(_fork, "usable_cores", lambda: 8)
    monkeypatch.setattr(_fork, "can_fork", lambda: True)
    allowed, holds = encoder_module._processes_allowed, encoder_module._holds_chars
    small = ["a few words"] * 1000
    big = ["w" * 1000] * (encoder_module.FORK_MIN_CHARS // 1000)
    assert allowed(len(big), None) == encoder_module.FORK_MAX
    assert not holds(small, encoder_module.FORK_MIN_CHARS)
    assert holds(big, encoder_module.FORK_MIN_CHARS)
    monkeypatch.setattr(_fork, "usable_cores", lambda: 1)
    assert allowed(len(big), None) == 1
    monkeypatch.setattr(_fork, "usable_cores", lambda: 2)
    with encoder_module.single_threaded():
        assert allowed(len(big), None) == 1
    monkeypatch.setattr(_fork, "in_worker_process", lambda: True)  # a pool's worker
    assert allowed(len(big), None) == 1
    monkeypatch.setattr(_fork, "in_worker_process", lambda: False)
    monkeypatch.setattr(_fork, "can_fork", lambda: False)  # threads, not Linux, a child
    assert allowed(len(big), None) == 1
    monkeypatch.setattr(_fork, "can_fork", lambda: True)
    # asked for (SEMEME_ENCODE_WORKERS): not by size
    assert allowed(1000, 3) == 1  # under FORK_MIN_TEXTS per process
    assert allowed(3 * encoder_module.FORK_MIN_TEXTS, 3) == 3
    assert allowed(len(big), 1) == 1
    monkeypatch.setenv(encoder_module.WORKERS_ENV, "3")
    assert _fork.env_processes(encoder_module.WORKERS_ENV) == 3
    monkeypatch.setenv(encoder_module.WORKERS_ENV, " ")
    assert _fork.env_processes(encoder_module.WORKERS_ENV) is None
    for raw in ("two", "0", "-1"):
        monkeypatch.setenv(encoder_module.WORKERS_ENV, raw)
        with pytest.raises(InvalidArgumentError, match=encoder_module.WORKERS_ENV):
            _fork.env_processes(encoder_module.WORKERS_ENV)
        with pytest.raises(InvalidArgumentError, match=encoder_module.WORKERS_ENV):
            sememe.load().encode(["some text"] * 10)


def test_usable_cores_respects_a_cgroup_quota(monkeypatch, tmp_path):
    import builtins

    real_open = builtins.open
    quota = tmp_path / "cpu.max"

    def fake_open(path, *args, **kwargs):
        if str(path) == "/sys/fs/cgroup/cpu.max":
            return real_open(quota, *args, **kwargs)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(32)), raising=False)
    quota.write_text("100000 100000\n")
    assert _fork.usable_cores() == 1
    quota.write_text("250000 100000\n")
    assert _fork.usable_cores() == 2
    quota.write_text("max 100000\n")
    assert _fork.usable_cores() == 32


@needs_fork
def test_a_sized_iterator_is_read_once(monkeypatch, request):
    """An input with len() that can be read once (tqdm over a generator) is encoded in
    this process, in full."""
    if ran_in_a_fresh_process(request):
        return

    class Once:
        def __init__(self, items):
            self._items, self._n = iter(items), len(items)

        def __len__(self):
            return self._n

        def __iter__(self):
            return self._items

    monkeypatch.setenv(encoder_module.WORKERS_ENV, "2")
    enc = sememe.load()
    texts = sentences(3000, seed=9)
    got = enc.encode(Once(texts))
    monkeypatch.setenv(encoder_module.WORKERS_ENV, "1")
    np.testing.assert_array_equal(got, enc.encode(texts))


@needs_fork
def test_children_reaped_elsewhere_still_count(request):
    """With SIGCHLD ignored the kernel reaps children itself (waitpid fails): their
    clean-exit flags decide, and the rows are right."""
    if ran_in_a_fresh_process(request):
        return
    before = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        split = _fork.RowSplit(1000, 3, 2, 10, rows_of)
        try:
            assert split.fork() == 1
            out = split.run()
        finally:
            split.close()
    finally:
        signal.signal(signal.SIGCHLD, before)
    np.testing.assert_array_equal(out, expected(1000, 3))


@needs_fork
def test_no_fork_in_a_daemonic_pool_worker(request):
    """A multiprocessing pool's worker may not have children: encode and chunk_stream
    stay in it (before, chunk_stream's helpers raised AssertionError there)."""
    if ran_in_a_fresh_process(request):
        return
    code = (
        "import multiprocessing as mp, os\n"
        "os.environ['SEMEME_ENCODE_WORKERS'] = '2'\n"
        "os.environ['SEMEME_CHUNK_WORKERS'] = '2'\n"
        "def work(n):\n"
        "    import sememe\n"
        "    from sememe.chunking import SemanticChunker\n"
        "    enc = sememe.load()\n"
        "    texts = [f'word{i} and some more text here.' for i in range(n)]\n"
        "    v = enc.encode(texts)\n"
        "    chunks = list(SemanticChunker(enc, max_tokens=32).chunk_stream(texts))\n"
        "    return v.shape[0], len(chunks)\n"
        "if __name__ == '__main__':\n"
        "    with mp.get_context('fork').Pool(1) as pool:\n"
        "        assert pool.apply(work, (5000,)) == (5000, 5000)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


@needs_fork
def test_default_forks_on_new_text_not_on_a_warm_memo(monkeypatch, request, forks):
    if ran_in_a_fresh_process(request):
        return
    monkeypatch.delenv(encoder_module.WORKERS_ENV, raising=False)
    monkeypatch.setattr(encoder_module, "FORK_MIN_CHARS", 10_000)
    monkeypatch.setattr(_fork, "usable_cores", lambda: 2)
    enc = sememe.load()
    texts = [f"{t} zq{i}x" for i, t in enumerate(sentences(20_000, seed=5))]  # new words
    first = enc.encode(texts)
    assert forks == [1]
    with encoder_module.single_threaded():
        np.testing.assert_array_equal(enc.encode(texts), first)  # the memo learns every word
    assert forks == [1]
    np.testing.assert_array_equal(enc.encode(texts), first)  # warm: stays here
    assert forks == [1]
