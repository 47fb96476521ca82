"""Helper processes for one large call: a list's rows computed by forked children.

The encoder embeds a large list of never-seen texts faster on several cores: each forked
child inherits the encoder as it is (table, tokenizer, warm word memo; nothing is
pickled). The rows are cut into steps; every process claims the next step no one has
taken. A child writes its rows into an anonymous shared memory buffer
(:class:`RowSplit`); this process writes its own steps straight into the caller's array
and copies only the children's steps out of the shared buffer at the end (or, for a caller
that reads the buffer and lets it go, works in the buffer too). A child's words do not
reach this process's memo (a later call on the same words tokenizes them here).

Safety, since this runs inside a library call:

- a child is forked only on Linux, from a process that runs a single Python thread
  (another thread could hold a lock the child would then need forever), that is not
  itself a daemonic ``multiprocessing`` worker, and never from a child; the garbage
  collector's objects are frozen for the fork (a child neither scans nor finalizes them);
- SIGINT is blocked around ``fork()``; children ignore it (Ctrl-C interrupts this
  process, which then kills them), reset other signal handlers, die with this process
  (``PR_SET_PDEATHSIG``), leave through ``os._exit`` (no ``atexit`` handlers, no
  flushing of inherited buffers) and keep the tokenizers library's thread pool off;
- a child that fails, dies or takes more than :data:`STALL_S` seconds longer than this
  process is killed, and then every row is computed again here, so the result, and any
  exception, is the one-process call's;
- on any exception or ``KeyboardInterrupt`` here, the children are killed and reaped.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import mmap
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np

#: Seconds a child may take beyond this process's own part before it is deemed stuck.
STALL_S = 120.0
#: Seconds between checks on the children while this process waits for them.
POLL_S = 0.002

#: True in a forked child: children never fork children of their own.
_IN_CHILD = False


def usable_cores() -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota
    (``/sys/fs/cgroup/cpu.max``, as a container limited to fewer CPUs has)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - Linux has it
        cores = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as f:
            quota, period = f.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return cores


def in_worker_process() -> bool:
    """True in a ``multiprocessing`` child (a pool's worker, say): the defaults then use
    one process, as every core likely runs such a worker already."""
    mp = sys.modules.get("multiprocessing")
    return mp is not None and mp.parent_process() is not None


def in_child() -> bool:
    """True in a forked child (it draws no progress bar, forks no children)."""
    return _IN_CHILD


def fork_is_safe_here() -> bool:
    """True where this process may fork now, whatever the platform: not a child (of this
    module or a chunking helper), not a daemonic ``multiprocessing`` worker (it may not
    have children), one live thread (another could hold a lock the child would need)."""
    if _IN_CHILD:
        return False
    pool = sys.modules.get("sememe.chunking._pool")
    if pool is not None and getattr(pool, "_IN_WORKER", False):  # a chunking helper
        return False
    mp = sys.modules.get("multiprocessing")
    if mp is not None and mp.current_process().daemon:
        return False
    return sum(t.is_alive() for t in threading.enumerate()) == 1  # an ended one may linger


def can_fork() -> bool:
    """True where children may be forked now: Linux and :func:`fork_is_safe_here`."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and fork_is_safe_here()


def env_processes(name: str) -> int | None:
    """The number of processes the environment variable ``name`` asks for (a whole
    number >= 1), None where it is unset or blank; anything else is an error."""
    from .errors import InvalidArgumentError

    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        raise InvalidArgumentError(
            f"{name}={raw!r} is not a whole number of processes "
            "(unset it, or use 1 for this process only)"
        ) from None
    if n < 1:
        raise InvalidArgumentError(f"{name}={raw!r}: the number of processes must be >= 1")
    return n


def bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """``[0, n)`` cut into ``parts`` contiguous ranges of near-equal size."""
    cuts = [n * i // parts for i in range(parts + 1)]
    return list(itertools.pairwise(cuts))


class RowSplit:
    """An ``(n, width)`` result (float32 unless ``dtype`` says otherwise) whose rows are
    computed by several processes.

    The rows are cut into steps of ``step`` rows (or the caller's ``steps``: contiguous
    ``(lo, hi)`` ranges covering ``[0, n)``, such as whole documents); every process
    (this one and each forked child) walks the steps from its own starting point, claims
    each step no one has claimed yet (a flag in shared memory), computes it with
    ``compute(lo, hi, rows)`` (a child into the shared rows, this process into the
    result ``run`` returns) and marks it done. A faster process so takes over the steps
    a slower one has not reached. Two processes
    may both claim a step at the very moment they meet and both compute it (``compute``
    must give the same final rows wherever it runs; rows may hold other values while it
    runs): no lock is needed, because this process waits for every child and, if any did
    not exit cleanly, computes every step again here. So the result, and any exception,
    is the one-process call's::

        split = RowSplit(n, width, processes, step, compute)
        try:
            split.fork()                  # the children start walking
            rows = split.run(on_rows=...) # this process's walk, then wait for the children
        finally:
            split.close()

    Without :meth:`fork` (or where children cannot be forked, or one process is asked
    for) ``run`` computes everything here. The caller starts no thread (a progress
    bar's) before :meth:`fork`.

    The children write into anonymous shared memory (``MAP_SHARED``: a process the
    caller forks later would share it too, so it must not become the caller's result).
    ``private=True`` (the default): ``run`` returns an ordinary array of this process,
    into which the steps computed here are written directly and only the children's
    steps are copied, once they have exited (fresh memory is costly to touch, so the
    result is written once where possible, not computed in shared memory and copied
    whole); ``out``: that array, given by the caller (the rows of a larger result,
    say), else a new one; if ``run`` raises, ``out`` may hold some rows already.
    ``private=False``: ``run`` returns the shared buffer itself, for a caller that reads
    it and lets it go (the chunk split decodes its layouts into objects); ``out`` is then
    refused.

    After ``run``, :attr:`recomputed` says whether the rare path ran (a child failed, so
    every step was computed again here) and :attr:`child_steps` how many steps of the
    result came from children.
    """

    def __init__(
        self,
        n: int,
        width: int,
        processes: int,
        step: int,
        compute: Callable[[int, int, np.ndarray], None],
        *,
        steps: Sequence[tuple[int, int]] | None = None,
        dtype: type[np.generic] = np.float32,
        private: bool = True,
        out: np.ndarray | None = None,
    ) -> None:
        if out is not None and not private:
            raise ValueError("out is only for private=True: private=False returns the shared rows")
        self._compute = compute
        self._children: dict[int, int] = {}
        #: True once ``run`` has computed every step again here (a child failed).
        self.recomputed = False
        if steps is None:
            self._steps = bounds(n, max(1, -(-n // max(1, step))))
        else:  # the caller's cuts (whole documents, say): contiguous, covering [0, n)
            self._steps = [(int(lo), int(hi)) for lo, hi in steps]
            ends = [0] + [hi for _, hi in self._steps]
            if [lo for lo, _ in self._steps] != ends[:-1] or ends[-1] != n:
                raise ValueError("steps must be contiguous row ranges covering [0, n)")
        k = len(self._steps)
        self._processes = processes if processes > 1 and k >= processes and can_fork() else 1
        self._started = time.monotonic()
        #: Steps whose rows ``on_rows`` has heard of (this process's own record).
        self._reported = np.zeros(k, bool)
        #: Steps computed in this process (their rows are in :attr:`_mine` already).
        self._here = np.zeros(k, bool)
        if self._processes == 1:
            self.out = self._mine = _result(out, n, width, dtype)
            self._claimed = np.zeros(k, np.uint8)
            self._done = np.zeros(k, np.uint8)
            return
        p = self._processes
        size = n * width * np.dtype(dtype).itemsize
        shared = mmap.mmap(-1, size + 2 * k + p)  # anonymous, MAP_SHARED
        self.out = np.frombuffer(shared, dtype, n * width).reshape(n, width)
        #: The result ``run`` returns: this process's own array, or the shared one.
        self._mine = _result(out, n, width, dtype) if private else self.out
        self._claimed = np.frombuffer(shared, np.uint8, k, size)
        self._done = np.frombuffer(shared, np.uint8, k, size + k)
        #: Set by child ``i`` just before its clean exit (read where ``waitpid`` cannot
        #: tell: a SIGCHLD ignored or handled elsewhere reaps children itself).
        self._clean = np.frombuffer(shared, np.uint8, p, size + 2 * k)

    def fork(self) -> int:
        """Fork the children (none where they cannot be: one process asked for, too few
        steps left, another thread running); the number forked."""
        left = int((self._claimed == 0).sum())
        if self._processes == 1 or self._children or left < 2 or not can_fork():
            return len(self._children)
        k = len(self._steps)
        key = "TOKENIZERS_PARALLELISM"
        saved = os.environ.get(key)
        os.environ[key] = "false"  # one thread runs (checked): races with nobody
        gc.freeze()  # children neither scan nor finalize what exists now
        try:
            for p in range(1, min(self._processes, left)):
                pid = _fork_child(self._child_main, p, p * k // self._processes)
                if pid is None:
                    break
                self._children[pid] = p
        except BaseException:
            self.close()
            raise
        finally:
            gc.unfreeze()
            if saved is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = saved
        self._started = time.monotonic()
        return len(self._children)

    @property
    def processes(self) -> int:
        """Processes this split may use, this one included (1: it cannot fork)."""
        return self._processes

    @property
    def child_steps(self) -> int:
        """Steps of the result whose rows a child computed (0 before ``run``, and after a
        recompute)."""
        if self.recomputed or not self._done.all():
            return 0
        return int((~self._here).sum())

    @property
    def forked(self) -> int:
        """Children forked (0: everything is computed here)."""
        return len(self._children)

    def _child_main(self, p: int, start: int) -> None:
        """A child's work: its walk (into the shared rows), then its clean-exit flag."""
        self._walk(start, self.out)
        self._clean[p] = 1

    def _walk(
        self, start: int, dest: np.ndarray, on_rows: Callable[[int], None] | None = None
    ) -> int:
        """Claim and compute every unclaimed step, from step ``start`` on (cyclically),
        into ``dest``; the rows computed."""
        claimed, done, steps = self._claimed, self._done, self._steps
        here = dest is self._mine
        k = len(steps)
        rows = 0
        for j in range(k):
            i = (start + j) % k
            if claimed[i]:
                continue
            claimed[i] = 1
            lo, hi = steps[i]
            self._compute(lo, hi, dest[lo:hi])
            done[i] = 1
            self._here[i] = here
            rows += hi - lo
            if on_rows is not None:
                self._report(on_rows)  # this step, and the children's finished since
        return rows

    def _report(self, on_rows: Callable[[int], None], everything: bool = False) -> None:
        """Tell ``on_rows`` of the rows of every step done (by any process) it has not
        heard of yet; ``everything``: of every step not yet told."""
        new = ~self._reported if everything else (self._done != 0) & ~self._reported
        if new.any():
            self._reported |= new
            on_rows(sum(hi - lo for (lo, hi), n in zip(self._steps, new, strict=True) if n))

    def run(self, on_rows: Callable[[int], None] | None = None) -> np.ndarray:
        """Compute what is left here (this process's walk), wait for the children and
        return the result (see ``private`` in the class notes).

        After :data:`STALL_S` plus the time taken so far, a child still running is
        killed. If any child did not exit cleanly, every row is computed again here: a
        child stopped while writing a step it had claimed at the same moment as another
        process may have left rows half written. ``on_rows(k)`` hears of every ``k``
        rows done, the children's as they finish them (each row once)."""
        mine = self._mine
        self._walk(0, mine, on_rows)
        if not self._children:
            return mine
        waited = time.monotonic() - self._started
        children = dict(self._children)
        tick = None if on_rows is None else (lambda: self._report(on_rows))
        clean = _reap(self._children, time.monotonic() + STALL_S + waited, tick)
        ok = all(
            self._clean[p] if clean.get(pid) is None else clean[pid] for pid, p in children.items()
        )
        if not (ok and self._done.all()):  # the rare path: correct over fast
            self.recomputed = True
            for lo, hi in self._steps:
                self._compute(lo, hi, mine[lo:hi])
        elif mine is not self.out:  # the children's steps, in runs of consecutive ones
            for a, b in _runs(~self._here):
                lo, hi = self._steps[a][0], self._steps[b - 1][1]
                mine[lo:hi] = self.out[lo:hi]
        if on_rows is not None:
            self._report(on_rows, everything=True)
        return mine

    def close(self) -> None:
        """Kill any child still running (idempotent)."""
        _kill(self._children)


def _result(out: np.ndarray | None, n: int, width: int, dtype: type[np.generic]) -> np.ndarray:
    """The caller's result array ``out`` (checked), or a new one (not touched yet)."""
    if out is None:
        return np.empty((n, width), dtype)
    if out.shape != (n, width) or out.dtype != np.dtype(dtype):
        raise ValueError(f"out must be a {np.dtype(dtype)} array of shape {(n, width)}")
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(a, b)`` for each run ``mask[a:b]`` of True values."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _fork_child(main: Callable[[int, int], None], p: int, start: int) -> int | None:
    """Fork a child that runs ``main(p, start)`` and exits 0, or 1 on any error; its pid,
    or None when no process could be made. SIGINT is blocked around the fork, so Ctrl-C
    can neither leave an unrecorded child nor reach the child's copy of the caller."""
    global _IN_CHILD
    parent = os.getpid()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        with warnings.catch_warnings():
            # Python 3.12+ warns when other OS threads exist: the tokenizers library's
            # pool (its parallelism is off in the child) and OpenBLAS's (re-created
            # after a fork). No other Python thread runs (checked): no race on filters.
            warnings.filterwarnings("ignore", ".*fork", DeprecationWarning)
            pid = os.fork()
    except OSError:  # process or memory limits: the other processes do its share
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return None
    if pid:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # pid recorded by the caller
        return pid
    code = 1
    try:  # the child: never returns
        _IN_CHILD = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(-1)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        _die_with_parent(parent)
        main(p, start)
        code = 0
    except BaseException:  # reported by the exit code; the parent redoes the rows
        code = 1
    finally:
        os._exit(code)


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this child when its parent dies (Linux ``prctl``), so no
    orphan works on for nobody; exit at once if the parent is already gone."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _reap(
    children: dict[int, int], deadline: float, tick: Callable[[], None] | None = None
) -> dict[int, bool]:
    """Wait for the children (polling; ``tick()`` between polls); True for each that
    exited 0 (a child reaped by someone else is left out: its status is unknown). Each
    child that has gone leaves ``children``; those still running at ``deadline`` are
    killed (False)."""
    done: dict[int, bool] = {}
    while children:
        for pid in list(children):
            try:
                got, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere (SIGCHLD ignored): status unknown
                del children[pid]
                continue
            if got:
                done[pid] = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
                del children[pid]
        if children:
            if time.monotonic() > deadline:
                done.update(dict.fromkeys(children, False))
                _kill(children)
                break
            if tick is not None:
                tick()
            time.sleep(POLL_S)
    return done


def _kill(children: dict[int, int]) -> None:
    """Kill and reap ``children`` (not yet reaped, so no pid has been reused), emptying it."""
    for pid in children:
        with contextlib.suppress(ProcessLookupError):  # a zombie still takes signals
            os.kill(pid, signal.SIGKILL)
    for pid in list(children):
        with contextlib.suppress(ChildProcessError):  # reaped by someone else
            os.waitpid(pid, 0)
        del children[pid]
