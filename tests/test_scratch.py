"""Scratch folders (sememe._folder.scratch_dir): private, locked, never left behind."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sememe import _folder

PREFIX = "sememe-test-scratch"


@pytest.fixture(autouse=True)
def _own_tempdir(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def _ours(base: Path) -> list[Path]:
    return sorted(p for p in base.iterdir() if p.name.startswith(PREFIX))


def test_scratch_is_locked_while_used_and_removed_on_release(tmp_path):
    path, fd = _folder.scratch_dir(PREFIX)
    assert path.parent == tmp_path and path.is_dir()
    assert path.name.startswith(f"{PREFIX}-{os.getpid()}-")
    _folder.remove_dead_scratch(PREFIX)  # a live one is kept, even by its own process
    assert path.is_dir()
    _folder.release_scratch(path, fd)
    assert not path.exists()


def test_a_killed_process_scratch_is_removed_by_the_next(tmp_path):
    code = (
        f"import os, tempfile; tempfile.tempdir = {str(tmp_path)!r}; from sememe import _folder; "
        f"p, fd = _folder.scratch_dir({PREFIX!r}); (p / 'x').write_text('1'); print(p); os._exit(0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    left = Path(out.stdout.strip())
    assert left.is_dir()  # it exited without cleanup
    path, fd = _folder.scratch_dir(PREFIX)
    try:
        assert not left.exists()
        assert _ours(tmp_path) == [path]
    finally:
        _folder.release_scratch(path, fd)


def test_a_live_process_scratch_is_kept(tmp_path):
    code = (
        f"import sys, tempfile; tempfile.tempdir = {str(tmp_path)!r}; from sememe import _folder; "
        f"p, fd = _folder.scratch_dir({PREFIX!r}); print(p, flush=True); sys.stdin.read()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        theirs = Path(child.stdout.readline().strip())
        _folder.remove_dead_scratch(PREFIX)
        assert theirs.is_dir()
    finally:
        child.communicate("")
    _folder.remove_dead_scratch(PREFIX)  # the child is gone: its lock too
    assert not theirs.exists()


def test_hybrid_index_working_copy_goes_with_the_index(tmp_path):
    from sememe.index import Index
    from sememe.index._lexical import _SCRATCH

    def lexical_dirs() -> list[Path]:
        return [p for p in tmp_path.iterdir() if p.name.startswith(_SCRATCH)]

    index = Index(lexical=True, encoder="sememe-base").add(["a cat", "a dog"])
    assert len(lexical_dirs()) == 1
    del index
    gc.collect()
    assert lexical_dirs() == []


def test_make_locked_falls_back_to_unlocked_where_flock_fails(tmp_path, monkeypatch):
    """One helper makes every locked temporary (saves, CLI outputs, scratch folders):
    where flock keeps failing it removes its own attempts and returns the last one
    unlocked, instead of leaving folders behind and failing."""
    monkeypatch.setattr(_folder, "_lock", lambda path: None)
    n = [0]

    def make() -> Path:
        n[0] += 1
        return Path(tempfile.mkdtemp(prefix=f"x-{os.getpid()}-", dir=tmp_path))

    path, fd = _folder.make_locked(make, attempts=5, error=OSError("no"))
    assert fd is None and n[0] == 5
    assert [p for p in tmp_path.iterdir() if p.name.startswith("x-")] == [path]
    with _folder.atomic_folder(tmp_path / "saved") as tmp:  # a save works there too
        (tmp / "f").write_text("1")
    assert (tmp_path / "saved" / "f").read_text() == "1"
