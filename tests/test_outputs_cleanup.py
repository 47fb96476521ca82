"""Leftover temporaries of CLI outputs are owned by a lock, not by a pid in their name.

In a container pid 1 is always alive (and pids are reused), so a leftover named after
a live pid was never cleaned. Now a run holds an ``flock`` on each temporary file (the
rule of sememe._folder's folder saves) and the next run removes exactly the temporaries
no process holds locked.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sememe.cli._outputs import OutputFiles

fcntl = pytest.importorskip("fcntl")

# A child that makes a leftover under a given name and holds its lock; it either exits
# at once (killed runs: the kernel drops the lock) or waits on stdin (a live run).
CHILD = textwrap.dedent(
    """
    import fcntl, os, sys
    path, mode = sys.argv[1], sys.argv[2]
    with open(path, "w") as f:
        f.write("half written")
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked", flush=True)
    if mode == "hold":
        sys.stdin.read()
    os._exit(0 if mode == "exit" else 9)  # no cleanup of its own, like kill -9
    """
)


def _child(path: Path, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


def _leftover(folder: Path, pid: int, tag: str) -> Path:
    return folder / f".out.txt.sememe-tmp-{pid}-{tag}.txt"


def _write_output(folder: Path) -> None:
    with OutputFiles() as outputs:
        outputs.add(folder / "out.txt").write_text("new\n", encoding="utf-8")
    assert (folder / "out.txt").read_text(encoding="utf-8") == "new\n"


@pytest.mark.parametrize("mode", ["exit", "crash"])
def test_a_dead_runs_leftover_is_cleaned_even_if_its_pid_is_alive(tmp_path, mode):
    # named after pid 1, which is alive (the init of a container, or of the machine)
    stale = _leftover(tmp_path, 1, "dead")
    proc = _child(stale, mode)
    proc.wait()
    assert stale.exists()
    _write_output(tmp_path)
    assert not stale.exists()


def test_a_leftover_locked_by_a_live_process_is_kept(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    # named after a pid that is gone: the lock, not the pid, says it is in use
    busy = _leftover(tmp_path, gone.pid, "busy")
    proc = _child(busy, "hold")
    try:
        _write_output(tmp_path)
        assert busy.read_text(encoding="utf-8") == "half written"
    finally:
        proc.communicate("")
    _write_output(tmp_path)  # once its owner is gone, the next run removes it
    assert not busy.exists()


def test_a_run_in_progress_elsewhere_keeps_its_temporary(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from sememe.cli._outputs import OutputFiles
        with OutputFiles() as outputs:
            tmp = outputs.add(Path({str(tmp_path / "out.txt")!r}))
            tmp.write_text("other run\\n", encoding="utf-8")
            print(tmp, flush=True)
            sys.stdin.read()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        theirs = Path(proc.stdout.readline().strip())
        assert theirs.exists()
        _write_output(tmp_path)
        assert theirs.read_text(encoding="utf-8") == "other run\n"
    finally:
        proc.communicate("")
    assert proc.returncode == 0
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "other run\n"  # it finished
    assert not [p for p in tmp_path.iterdir() if "sememe-tmp" in p.name]


def test_locks_are_released_when_the_outputs_are_done(tmp_path):
    outputs = OutputFiles()
    tmp = outputs.add(tmp_path / "a.txt")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by the run
    finally:
        os.close(fd)
    tmp.write_text("x\n", encoding="utf-8")
    outputs.commit()
    assert outputs._locks == []
    fd = os.open(tmp_path / "a.txt", os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(fd)
    failed = OutputFiles()
    failed.add(tmp_path / "b.txt")
    failed.discard()
    assert failed._locks == [] and not (tmp_path / "b.txt").exists()
    assert not [p for p in tmp_path.iterdir() if "sememe-tmp" in p.name]
