"""The saved-folder protocol (``sememe._folder``): overwrite rule, atomic swap, recovery.

The kill tests run the save in a child process that dies (``os._exit``, as abrupt as
``kill -9``: no ``finally`` runs) at each step of the swap, or is sent SIGKILL at a random
moment, and check what a later load or save finds.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sememe import _folder
from sememe.errors import FolderExistsError, FolderFormatError


def _write(folder: Path, version: int, size: int = 1000) -> None:
    (folder / "data.bin").write_bytes(bytes([version % 256]) * size)
    (folder / "sub").mkdir()
    (folder / "sub" / "more.txt").write_text(f"version {version}\n", encoding="utf-8")
    _folder.write_manifest(folder, "index", 1, {"version": version})


def _save(path: Path, version: int, size: int = 1000) -> None:
    with _folder.atomic_folder(path) as tmp:
        _write(tmp, version, size)


def _hidden(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# -- the overwrite rule ------------------------------------------------------------
def test_prepare_target_allows_missing_and_empty(tmp_path: Path) -> None:
    assert _folder.prepare_target(tmp_path / "new", "index", overwrite=False) == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    _folder.prepare_target(tmp_path / "empty", "index", overwrite=False)


def test_prepare_target_refuses_existing_without_overwrite(tmp_path: Path) -> None:
    _save(tmp_path / "idx", 1)
    with pytest.raises(FolderExistsError, match="overwrite=True"):
        _folder.prepare_target(tmp_path / "idx", "index", overwrite=False)
    _folder.prepare_target(tmp_path / "idx", "index", overwrite=True)


@pytest.mark.parametrize("what", ["user-folder", "file", "other-kind", "symlink"])
def test_prepare_target_never_replaces_other_things(tmp_path: Path, what: str) -> None:
    target = tmp_path / "target"
    if what == "user-folder":
        target.mkdir()
        (target / "notes.txt").write_text("my thesis", encoding="utf-8")
        expected = "a folder that sememe did not write"
    elif what == "file":
        target.write_text("my thesis", encoding="utf-8")
        expected = "a file"
    elif what == "other-kind":
        with _folder.atomic_folder(target) as tmp:
            (tmp / "x").write_text("x", encoding="utf-8")
            _folder.write_manifest(tmp, "classifier", 2)
        expected = "sememe classifier folder"
    else:
        (tmp_path / "real").mkdir()
        _save(tmp_path / "real", 1)  # an index folder, but reached through a link
        target.symlink_to(tmp_path / "real")
        expected = "symbolic link"
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(FolderExistsError, match=expected):
        _folder.prepare_target(target, "index", overwrite=True)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_folder_kind_recognises_only_sememe_folders(tmp_path: Path) -> None:
    _save(tmp_path / "idx", 1)
    assert _folder.folder_kind(tmp_path / "idx") == "index"
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text('{"format": "other"}', encoding="utf-8")
    assert _folder.folder_kind(tmp_path / "junk") is None
    (tmp_path / "junk" / "manifest.json").write_bytes(b"\xff\xfe not json")
    assert _folder.folder_kind(tmp_path / "junk") is None
    assert _folder.folder_kind(tmp_path / "missing") is None


# -- manifests and checksums ---------------------------------------------------------
def test_manifest_round_trip_and_every_flipped_byte_is_caught(tmp_path: Path) -> None:
    _save(tmp_path / "idx", 7, size=64)
    manifest = _folder.read_manifest(tmp_path / "idx", "index", 1)
    assert manifest["version"] == 7
    assert set(manifest["files"]) == {"data.bin", "sub/more.txt"}
    data = tmp_path / "idx" / "data.bin"
    original = data.read_bytes()
    for i in range(len(original)):
        flipped = bytearray(original)
        flipped[i] ^= 0x01
        data.write_bytes(bytes(flipped))
        with pytest.raises(FolderFormatError, match="checksum mismatch"):
            _folder.read_manifest(tmp_path / "idx", "index", 1)
    data.write_bytes(original)
    # verify=False still checks sizes
    data.write_bytes(original[:-1])
    with pytest.raises(FolderFormatError, match="checksum mismatch"):
        _folder.read_manifest(tmp_path / "idx", "index", 1, verify=False)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(format="sememe-model"), "not a sememe index manifest"),
        (lambda m: m.update(format_version=99), "upgrade sememe"),
        (lambda m: m.update(format_version=0), "no longer supported"),
        (lambda m: m.update(format_version="1"), "not an integer"),
        (lambda m: m.pop("files"), "missing field 'files'"),
        (lambda m: m.update(files={"../../etc/passwd": {"bytes": 1, "sha256": "x"}}), "malformed"),
        (lambda m: m.update(files={"gone.bin": {"bytes": 1, "sha256": "x"}}), "missing"),
        (lambda m: m.update(files=[]), "'files' must be an object"),
    ],
)
def test_manifest_errors_name_the_problem(tmp_path: Path, edit, message: str) -> None:
    _save(tmp_path / "idx", 1)
    path = tmp_path / "idx" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    edit(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(FolderFormatError, match=message):
        _folder.read_manifest(tmp_path / "idx", "index", 1)


def test_manifest_that_is_not_json(tmp_path: Path) -> None:
    _save(tmp_path / "idx", 1)
    (tmp_path / "idx" / "manifest.json").write_bytes(b"{\x00\x01")
    with pytest.raises(FolderFormatError, match="not valid JSON"):
        _folder.read_manifest(tmp_path / "idx", "index", 1)
    with pytest.raises(FolderFormatError, match="no such"):
        _folder.read_manifest(tmp_path / "nothing", "index", 1)


# -- atomic replacement --------------------------------------------------------------
def test_failed_save_leaves_old_folder_and_no_leftovers(tmp_path: Path) -> None:
    _save(tmp_path / "idx", 1)
    with pytest.raises(RuntimeError), _folder.atomic_folder(tmp_path / "idx") as tmp:
        (tmp / "half").write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")
    assert _folder.read_manifest(tmp_path / "idx", "index", 1)["version"] == 1
    assert _hidden(tmp_path) == []


def test_replace_keeps_permissions_readable(tmp_path: Path) -> None:
    _save(tmp_path / "idx", 1)
    _save(tmp_path / "idx", 2)
    assert _folder.read_manifest(tmp_path / "idx", "index", 1)["version"] == 2
    assert (tmp_path / "idx").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "idx" / "data.bin").stat().st_mode & 0o777 == 0o644
    assert _hidden(tmp_path) == []


CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from sememe import _folder

    path, version, die_at = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    real_replace, calls = os.replace, [0]

    def replace(src, dst):
        calls[0] += 1
        if calls[0] == die_at:
            os._exit(9)  # no cleanup runs, as with kill -9
        real_replace(src, dst)

    os.replace = replace
    with _folder.atomic_folder(path) as tmp:
        (tmp / "data.bin").write_bytes(bytes([version]) * 100_000)
        _folder.write_manifest(tmp, "index", 1, {"version": version})
    """
)


@pytest.mark.parametrize("die_at", [1, 2, 3, 0])
def test_kill_at_each_rename_is_recovered(tmp_path: Path, die_at: int) -> None:
    """Killed at the rename that marks the new folder complete (1: tmp -> new), before
    the old copy moves away (2), after it moved away and before the new one moves in
    (3), or not at all (0)."""
    _save(tmp_path / "idx", 1)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "idx"), "2", str(die_at)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == (9 if die_at else 0), proc.stderr
    if die_at == 3:
        assert not (tmp_path / "idx").exists()  # the state the recovery is for
    manifest = _folder.read_manifest(tmp_path / "idx", "index", 1)  # recovers first
    # the save had written the new copy completely from the second rename on
    assert manifest["version"] == (1 if die_at in (1, 2) else 2)
    assert _hidden(tmp_path) == []  # leftovers of the dead process are gone


def test_recover_reports_the_fix_when_it_cannot_move(tmp_path: Path, monkeypatch) -> None:
    parent = tmp_path / "p"
    parent.mkdir()
    _save(parent / "idx", 1)
    subprocess.run(
        [sys.executable, "-c", CHILD, str(parent / "idx"), "2", "3"], capture_output=True
    )
    assert not (parent / "idx").exists()

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_folder.os, "replace", refuse)
    with pytest.raises(FolderFormatError, match=r"restore it with: mv '.*\.idx\.new-"):
        _folder.recover(parent / "idx")


def test_leftovers_of_live_saves_are_not_touched(tmp_path: Path) -> None:
    """A save in progress (in this process or another) holds a lock on its folders."""
    _save(tmp_path / "idx", 1)
    mine = tmp_path / f".idx.tmp-{os.getpid()}-abcd1234"  # another thread of this process
    mine.mkdir()
    lock = _folder._lock(mine)
    try:
        _folder.recover(tmp_path / "idx")
        assert mine.exists()
    finally:
        _folder._unlock(lock)
    _folder.recover(tmp_path / "idx")  # nobody holds it now: a leftover
    assert not mine.exists()


def test_a_dead_save_is_recovered_even_under_a_reused_pid(tmp_path: Path) -> None:
    """In a container the CLI is pid 1 on every run, and pids are reused: a complete copy
    left by a killed save must be recovered whatever pid its name carries (here: ours)."""
    _save(tmp_path / "src", 5)
    left = tmp_path / f".idx.new-{os.getpid()}-abcd1234"
    os.replace(tmp_path / "src", left)
    (tmp_path / ".idx.old-1-abcd1234").mkdir()
    assert _folder.read_manifest(tmp_path / "idx", "index", 1)["version"] == 5
    assert _hidden(tmp_path) == []


def test_folders_that_only_look_like_leftovers_are_never_touched(tmp_path: Path) -> None:
    _save(tmp_path / "idx", 1)
    for name in [".idx.old-backup", ".idx.tmp-2024-notes", ".idx.new-mine", ".idx.old-12-short"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "thesis.txt").write_text("mine", encoding="utf-8")
    _save(tmp_path / "idx", 2)
    _folder.read_manifest(tmp_path / "idx", "index", 1)
    assert len(_hidden(tmp_path)) == 4
    (tmp_path / "gone").mkdir()
    (tmp_path / ".gone2.new-mine").mkdir()
    assert not _folder.recover(tmp_path / "gone2")  # never rolled forward either


@pytest.mark.parametrize("exc", [KeyboardInterrupt, OSError])
def test_an_exception_between_the_renames_is_rolled_back(tmp_path, monkeypatch, exc) -> None:
    """Ctrl-C (or an OSError) after the old folder moved away and before the new one
    moved in leaves the old folder in place, in the same process."""
    _save(tmp_path / "idx", 1)
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # tmp -> new, old away, [new in]
            raise exc("interrupted")
        real(src, dst)

    monkeypatch.setattr(_folder.os, "replace", replace)
    with pytest.raises(exc):
        _save(tmp_path / "idx", 2)
    monkeypatch.setattr(_folder.os, "replace", real)
    assert _folder.read_manifest(tmp_path / "idx", "index", 1)["version"] == 1
    _save(tmp_path / "idx", 3)
    assert _hidden(tmp_path) == []


def test_permissions_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        _save(tmp_path / "private", 1)
    finally:
        os.umask(old)
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "private" / "data.bin").stat().st_mode & 0o777 == 0o600


def test_concurrent_saves_of_one_path_last_one_wins(tmp_path: Path) -> None:
    """Two processes saving the same path at once: no raw error, and the folder loads."""
    path = tmp_path / "idx"
    _save(path, 1)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for p in procs:
        p.stdout.readline()
    time.sleep(0.5)
    assert all(p.poll() is None for p in procs)  # neither saver died of a raw error
    for p in procs:
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
    _folder.read_manifest(path, "index", 1)
    _save(path, 9)
    assert _hidden(tmp_path) == []


SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sememe import _folder

    path = Path(sys.argv[1])
    version = 2
    while True:
        with _folder.atomic_folder(path) as tmp:
            (tmp / "data.bin").write_bytes(bytes([version % 256]) * 2_000_000)
            (tmp / "more.bin").write_bytes(bytes([version % 256]) * 500_000)
            _folder.write_manifest(tmp, "index", 1, {"version": version})
        print(version, flush=True)
        version += 1
    """
)


def test_random_kills_always_leave_a_complete_folder(tmp_path: Path) -> None:
    """SIGKILL a process that saves in a loop at random moments: the folder always loads
    with a consistent version, and the next save leaves no hidden folders."""
    rng = random.Random(13)
    path = tmp_path / "idx"
    _save(path, 1)
    for _ in range(6):
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True
        )
        proc.stdout.readline()  # one save finished: the child is in its loop
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        manifest = _folder.read_manifest(path, "index", 1)
        version = manifest["version"] % 256
        assert (path / "data.bin").read_bytes()[:1] == bytes([version])
    _save(path, 100)
    assert _hidden(tmp_path) == []
