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
from conftest import sentences

import sememe
from sememe import _fork
from sememe import encoder as encoder_module
from sememe.errors import InvalidArgumentError, InvalidTypeError

needs_fork = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
_CHILD = "SEMEME_TEST_FORK_CHILD"


def ran_in_a_child(request: pytest.FixtureRequest) -> bool:
    """Run this test in a fresh one-thread pytest process when this one runs other
    threads (children are forked only from a one-thread process; a full run leaves
    Spark's and others' threads). True when the child ran it and passed."""
    if threading.active_count() == 1:
        return False
    assert not os.environ.get(_CHILD), "the child process runs other threads"
    nodeid = f"{Path(__file__).resolve()}::{request.node.name}"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", nodeid],
        env={**os.environ, _CHILD: "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-2000:]
    return True


def no_children() -> bool:
    """True when this process has no child process left (reaped or not)."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def rows_of(lo: int, hi: int, rows: np.ndarray) -> None:
    """A ``compute`` whose rows say which row they are (same result in any process)."""
    rows[:] = np.arange(lo, hi, dtype=np.float32)[:, None] * np.ones(rows.shape[1], np.float32)


def expected(n: int, width: int) -> np.ndarray:
    out = np.empty((n, width), np.float32)
    rows_of(0, n, out)
    return out


@needs_fork
def test_row_split_equals_one_process_and_leaves_no_child(request):
    if ran_in_a_child(request):
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
@pytest.mark.parametrize("how", ["raises", "dies", "stalls"])
def test_row_split_redoes_what_a_child_did_not_deliver(monkeypatch, request, how):
    if ran_in_a_child(request):
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
    if ran_in_a_child(request):
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
    if ran_in_a_child(request):
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
def test_encode_shared_out_gives_the_one_process_vectors(monkeypatch, request):
    """Every option of encode (normalised, raw, truncated, a generator, a tuple) with
    children equals the one-process call bit for bit; errors name the global row."""
    if ran_in_a_child(request):
        return
    monkeypatch.setattr(encoder_module, "FORK_STEP", 1000)
    enc = sememe.load()
    texts = [*sentences(6000, seed=3), "", "   ", "x" * 50_000, "<s> literal", *sentences(3000)]
    forks: list[int] = []
    original = _fork.RowSplit.fork

    def spy(self):
        forks.append(original(self))
        return forks[-1]

    monkeypatch.setattr(_fork.RowSplit, "fork", spy)
    for kwargs in ({}, {"normalize": False}, {"dim": 64}, {"batch_size": 700}):
        monkeypatch.setenv(encoder_module.WORKERS_ENV, "1")
        one = enc.encode(texts, **kwargs)
        assert not forks
        monkeypatch.setenv(encoder_module.WORKERS_ENV, "3")
        np.testing.assert_array_equal(enc.encode(texts, **kwargs), one)
        np.testing.assert_array_equal(enc.encode(tuple(texts), **kwargs), one)
        assert forks == [2, 2]
        forks.clear()
    monkeypatch.setenv(encoder_module.WORKERS_ENV, "2")
    bad = [*texts[:5000], None, *texts[5000:]]
    with pytest.raises(InvalidTypeError, match=r"texts\[5000\]"):
        enc.encode(bad)
    assert not forks  # checked before forking
    assert no_children()


def test_processes_by_size_environment_and_context(monkeypatch):
    monkeypatch.delenv(encoder_module.WORKERS_ENV, raising=False)
    monkeypatch.setattr(_fork, "usable_cores", lambda: 8)
    monkeypatch.setattr(sys, "platform", "linux")
    choose = encoder_module._processes_for
    small = ["a few words"] * 1000
    big = ["w" * 1000] * (encoder_module.FORK_MIN_CHARS // 1000)
    assert choose(small, len(small)) == 1
    assert choose(big, len(big)) == encoder_module.FORK_MAX
    monkeypatch.setattr(_fork, "usable_cores", lambda: 1)
    assert choose(big, len(big)) == 1
    monkeypatch.setattr(_fork, "usable_cores", lambda: 2)
    with encoder_module.single_threaded():
        assert choose(big, len(big)) == 1
    monkeypatch.setattr(sys, "platform", "darwin")
    assert choose(big, len(big)) == 1
    monkeypatch.setenv(encoder_module.WORKERS_ENV, "3")  # asked for: any platform
    assert choose(small, len(small)) == 1  # under FORK_MIN_TEXTS per process
    many = ["a"] * (3 * encoder_module.FORK_MIN_TEXTS)
    assert choose(many, len(many)) == 3
    for raw in ("two", "0", "-1"):
        monkeypatch.setenv(encoder_module.WORKERS_ENV, raw)
        with pytest.raises(InvalidArgumentError, match=encoder_module.WORKERS_ENV):
            choose(many, len(many))


@needs_fork
def test_first_step_here_then_children(request):
    if ran_in_a_child(request):
        return
    split = _fork.RowSplit(1000, 2, 2, 100, rows_of)
    try:
        assert split.first() == (0, 100)
        assert split.fork() == 1
        seen: list[int] = []
        out = split.run(on_rows=seen.append)
    finally:
        split.close()
    np.testing.assert_array_equal(out, expected(1000, 2))
    assert sum(seen) == 900  # the rows after the first step
    assert no_children()
    # never forked: run computes the rest here
    split = _fork.RowSplit(1000, 2, 2, 100, rows_of)
    split.first()
    np.testing.assert_array_equal(split.run(), expected(1000, 2))


@needs_fork
def test_default_forks_on_new_text_not_on_a_warm_memo(monkeypatch, request):
    if ran_in_a_child(request):
        return
    monkeypatch.delenv(encoder_module.WORKERS_ENV, raising=False)
    monkeypatch.setattr(encoder_module, "FORK_MIN_CHARS", 10_000)
    monkeypatch.setattr(_fork, "usable_cores", lambda: 2)
    enc = sememe.load()
    forks: list[int] = []
    original = _fork.RowSplit.fork

    def spy(self):
        forks.append(original(self))
        return forks[-1]

    monkeypatch.setattr(_fork.RowSplit, "fork", spy)
    texts = [f"{t} zq{i}x" for i, t in enumerate(sentences(20_000, seed=5))]  # new words
    first = enc.encode(texts)
    assert forks == [1]
    with encoder_module.single_threaded():
        np.testing.assert_array_equal(enc.encode(texts), first)  # the memo learns every word
    assert forks == [1]
    np.testing.assert_array_equal(enc.encode(texts), first)  # warm: stays here
    assert forks == [1]
