"""Saved folders: atomic replacement, crash recovery, checksums and the overwrite rule.

Every kind of folder sememe writes (model, index, classifier, dedupe state) goes through
this module, so they all keep the same promises:

* **Atomic.** A save fills a private temporary sibling, flushes it to disk, then swaps it
  into place with renames. A reader sees the old folder or the new one, never half of
  either.
* **Recoverable.** A process killed in the middle of the swap leaves at most one
  complete copy in a hidden sibling. The next load (or save) of the path finds it and
  puts it back; if that is impossible (a read-only parent), the error says which
  ``mv`` restores it. Leftovers of killed saves are removed by the next save or load of
  the same path, so no hidden 70 MB folders pile up.
* **Checksummed.** :func:`write_manifest` records the size and SHA-256 of every file;
  :func:`read_manifest` checks the kind, the format version and every file before
  anything is parsed.
* **Guarded.** :func:`prepare_target` replaces an existing folder only with
  ``overwrite=True`` *and* only when it is recognisably the same kind of sememe folder;
  a folder of the user's own files is never deleted.

The swap protocol, with ``NAME`` the target's name and ``PID`` the saving process:

1. fill ``.NAME.tmp-PID-*`` (incomplete until renamed);
2. rename it to ``.NAME.new-PID-*`` (complete, not yet in place);
3. rename an existing ``NAME`` to ``.NAME.old-PID-*``;
4. rename ``.NAME.new-PID-*`` to ``NAME``;
5. remove ``.NAME.old-PID-*``.

A kill after step 3 and before step 4 is the only one that leaves no ``NAME``; recovery
then rolls forward to the ``.new`` copy (the save had finished writing it) and removes
the ``.old`` one. Every other
kill leaves ``NAME`` as the old or the new complete folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import FolderExistsError, FolderFormatError

try:  # POSIX: save ownership by advisory locks
    import fcntl
except ImportError:  # pragma: no cover - Windows falls back to process ids
    fcntl = None  # type: ignore[assignment]

MANIFEST = "manifest.json"

#: The kinds of folder sememe writes, and the label used in messages.
KINDS = {
    "model": "sememe model",
    "index": "sememe index",
    "classifier": "sememe classifier",
    "dedupe-state": "sememe Deduplicator state",
    "model-export": "sememe Model2Vec/sentence-transformers export",
}


# -- checksums and manifests ------------------------------------------------------
def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 4 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def file_entries(folder: Path, *, exclude: tuple[str, ...] = (MANIFEST,)) -> dict[str, Any]:
    """``{relative/posix/path: {"sha256", "bytes"}}`` for every file under ``folder``."""
    entries: dict[str, Any] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            rel = p.relative_to(folder).as_posix()
            if rel not in exclude:
                entries[rel] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    return entries


def write_manifest(
    folder: Path, kind: str, version: int, fields: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Write ``manifest.json`` into ``folder``: kind, format version, ``fields`` and the
    checksum of every other file in it (so call it last)."""
    from . import __version__

    manifest = {
        "format": f"sememe-{kind}",
        "format_version": version,
        "sememe_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **dict(fields or {}),
        "files": file_entries(folder),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def read_manifest(
    folder: Path,
    kind: str,
    versions: Collection[int] | int,
    *,
    error: type[FolderFormatError] = FolderFormatError,
    verify: bool = True,
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Parse and check ``folder/manifest.json`` and the files it lists.

    Checks, in order: the folder exists (after :func:`recover`), the manifest is a JSON
    object of this ``kind``, its ``format_version`` is one of ``versions`` (newer: "upgrade
    sememe"; older: "re-save"), the ``required`` fields are present, every listed file
    exists with its recorded size and (unless ``verify=False``) its SHA-256. Raises
    ``error`` naming the file at fault.
    """
    folder = Path(folder)
    recover(folder)
    label = KINDS.get(kind, kind)
    if not folder.is_dir():
        raise error(f"{folder}: no such {label} folder")
    path = folder / MANIFEST
    if not path.is_file():
        raise error(f"{path}: missing; {folder} is not a {label} folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != f"sememe-{kind}":
        raise error(f"{path}: not a {label} manifest")
    check_version(manifest.get("format_version"), versions, path, error)
    for key in ("files", *required):
        if key not in manifest:
            raise error(f"{path}: missing field {key!r}")
    verify_files(folder, manifest["files"], error=error, verify=verify)
    return manifest


def check_version(
    version: Any, versions: Collection[int] | int, source: Path, error: type[FolderFormatError]
) -> int:
    """The one version policy: known versions load; a newer one asks to upgrade sememe; an
    older unknown one (or garbage) is refused naming what is supported."""
    known = {versions} if isinstance(versions, int) else set(versions)
    if isinstance(version, bool) or not isinstance(version, int):
        raise error(f"{source}: format_version {version!r} is not an integer")
    if version in known:
        return version
    if version > max(known):
        raise error(
            f"{source}: format_version {version} is newer than this sememe understands "
            f"({max(known)}); upgrade sememe"
        )
    raise error(
        f"{source}: format_version {version} is no longer supported (this sememe reads "
        f"{sorted(known)}); save it again with the sememe version that wrote it"
    )


def verify_files(
    folder: Path,
    files: Any,
    *,
    error: type[FolderFormatError] = FolderFormatError,
    verify: bool = True,
) -> None:
    """Every file in ``files`` (a manifest's ``files`` table) exists under ``folder`` with
    its recorded size and, if ``verify``, its SHA-256; no path leaves the folder.

    Every entry is checked for presence first, so a missing file is reported as missing
    even when another one was also changed (and before any large file is hashed)."""
    if not isinstance(files, dict):
        raise error(f"{folder / MANIFEST}: 'files' must be an object")
    for name, info in files.items():
        if (
            not isinstance(name, str)
            or Path(name).is_absolute()
            or ".." in Path(name).parts
            or not isinstance(info, dict)
            or not isinstance(info.get("bytes"), int)
            or not isinstance(info.get("sha256"), str)
        ):
            raise error(f"{folder / MANIFEST}: malformed entry for {name!r} in 'files'")
        if not (folder / name).is_file():
            raise error(f"{folder / name}: missing; the folder is incomplete")
    for name, info in files.items():
        p = folder / name
        if p.stat().st_size != info["bytes"] or (verify and sha256_file(p) != info["sha256"]):
            raise error(f"{p}: checksum mismatch; the file was changed or is corrupt")


# -- what a folder is --------------------------------------------------------------
def folder_kind(path: Path) -> str | None:
    """The kind of sememe folder at ``path`` (a key of :data:`KINDS`), or ``None``.

    Recognised by the files sememe writes, never by the name: a manifest whose
    ``format`` is ``sememe-<kind>``; a classifier's ``classifier.json`` (folders from
    before classifier manifests); a model's ``config.json`` with ``model_type: sememe``
    beside ``model.safetensors`` and ``tokenizer.json``.
    """
    path = Path(path)
    if not path.is_dir():
        return None
    manifest = _json_object(path / MANIFEST)
    if manifest is not None:
        fmt = manifest.get("format")
        if isinstance(fmt, str) and fmt.startswith("sememe-") and fmt[7:] in KINDS:
            return fmt[7:]
    classifier = _json_object(path / "classifier.json")
    if classifier is not None and classifier.get("format") == "sememe-classifier":
        return "classifier"
    config = _json_object(path / "config.json")
    if (
        config is not None
        and config.get("model_type") == "sememe"
        and (path / "model.safetensors").is_file()
        and (path / "tokenizer.json").is_file()
    ):
        return "model"
    return None


def _json_object(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def prepare_target(path: str | os.PathLike[str], kind: str, *, overwrite: bool) -> Path:
    """Check that a save of ``kind`` may write to ``path``; return it as a ``Path``.

    Allowed: a missing path, an empty folder, or (with ``overwrite=True``) an existing
    sememe folder of the same ``kind``. Anything else raises
    :class:`~sememe.errors.FolderExistsError` and leaves the path untouched: a file, a
    folder of other files, or another kind of sememe folder is never replaced.
    """
    path = Path(path)
    recover(path)
    label = KINDS.get(kind, kind)
    if not path.exists() and not path.is_symlink():
        return path
    if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
        return path
    if not overwrite:
        raise FolderExistsError(f"{path} already exists; pass overwrite=True to replace it")
    found = folder_kind(path) if not path.is_symlink() else None
    if found != kind:
        what = (
            "a symbolic link"
            if path.is_symlink()
            else "a file"
            if not path.is_dir()
            else f"a {KINDS[found]} folder"
            if found
            else "a folder that sememe did not write"
        )
        raise FolderExistsError(
            f"{path} is {what}, not a {label} folder; not replacing it "
            "(choose another path or remove it yourself)"
        )
    return path


# -- atomic replacement and recovery ----------------------------------------------
#: A hidden sibling written by :func:`atomic_folder`: ``.NAME.STAGE-PID-XXXXXXXX`` with the
#: 8-character suffix of ``tempfile.mkdtemp``. Nothing else is ever treated as a leftover.
_SIBLING = re.compile(r"\.(?P<name>.+)\.(?P<stage>tmp|new|old)-(?P<pid>\d+)-[a-z0-9_]{8}")


def _siblings(path: Path, stage: str) -> list[Path]:
    """Leftovers of ``stage`` for ``path``, oldest first (exact name pattern only)."""
    try:
        found = [
            p
            for p in path.parent.iterdir()
            if (m := _SIBLING.fullmatch(p.name))
            and m["name"] == path.name
            and m["stage"] == stage
            and p.is_dir()
            and not p.is_symlink()
        ]
        return sorted(found, key=lambda p: p.stat().st_mtime)
    except OSError:
        return []


def _owner_pid(sibling: Path) -> int | None:
    m = _SIBLING.fullmatch(sibling.name)
    return int(m["pid"]) if m else None


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` may still be running (our own pid counts as alive)."""
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock(folder: Path) -> int | None:
    """Take an exclusive ``flock`` on ``folder`` for the save that owns it; the lock
    follows the folder through renames and is released by the kernel when the owner dies
    (by ``kill -9`` too). ``None`` where ``flock`` is unavailable."""
    if fcntl is None:
        return None
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


@contextmanager
def _claim(sibling: Path) -> Iterator[bool]:
    """Whether ``sibling`` is a dead leftover, holding its lock while the caller acts.

    A running save holds an exclusive ``flock`` on its folders, so the claim fails for
    it (and neither a reused pid, nor pid 1 in every container, nor an earlier failed
    save of this very process keeps a dead leftover alive). The lock is held while the
    caller removes or moves the leftover, so a save that just made a folder and has not
    locked it yet finds it gone when it checks, and makes another (see
    :func:`atomic_folder`). Without ``flock``: the pid test.
    """
    if fcntl is None:
        yield not pid_alive(_owner_pid(sibling))
        return
    try:
        fd = os.open(sibling, os.O_RDONLY)
    except OSError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        except OSError:
            yield not pid_alive(_owner_pid(sibling))
            return
        yield True
    finally:
        os.close(fd)


def recover(path: Path) -> bool:
    """Finish a save of ``path`` that was killed mid-swap; remove dead leftovers.

    Returns whether ``path`` was restored. Only leftovers that no running save owns
    are touched (see :func:`_claim`), so a save in progress elsewhere is never
    disturbed, and only hidden folders with the exact name pattern this module writes
    count as leftovers. If ``path`` is missing and a complete copy exists but cannot be
    moved back (a read-only parent), raises :class:`~sememe.errors.FolderFormatError`
    with the ``mv`` command that restores it.
    """
    path = Path(path)
    try:
        parent_ok = path.parent.is_dir()
    except OSError:
        parent_ok = False
    if not parent_ok:
        return False
    restored = False
    if not path.exists():
        # only a kill between steps 3 and 4 leaves no ``path``, and it always leaves the
        # complete ``.new`` copy: roll forward to it (an ``.old`` alone is never restored,
        # the user may have removed ``path`` on purpose)
        candidates = list(reversed(_siblings(path, "new")))
        for source in candidates:
            with _claim(source) as dead:
                if not dead:
                    continue
                try:
                    os.replace(source, path)
                    restored = True
                except OSError as exc:
                    raise FolderFormatError(
                        f"{path}: missing, but a complete copy from an interrupted save is "
                        f"in {source} and cannot be moved back ({exc.strerror}); restore it "
                        f"with: mv '{source}' '{path}'"
                    ) from None
            break
        if candidates and not restored:
            # a live save between its steps 3 and 4 finishes within microseconds
            time.sleep(0.05)
    stages = ("tmp", "new", "old") if path.exists() else ("tmp",)
    for stage in stages:
        for p in _siblings(path, stage):
            with _claim(p) as dead:
                if dead:
                    shutil.rmtree(p, ignore_errors=True)
    return restored


def fsync_path(path: Path) -> None:
    """Flush a file or a folder entry to disk; best effort (some file systems refuse)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for p in [*folder.rglob("*"), folder]:
        fsync_path(p)


def _sibling_name(path: Path, stage: str) -> Path:
    """A fresh name for a hidden sibling, without creating it (a placeholder folder made
    and removed again could be taken for a dead leftover by another save)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789_"
    while True:
        suffix = "".join(secrets.choice(alphabet) for _ in range(8))
        candidate = path.parent / f".{path.name}.{stage}-{os.getpid()}-{suffix}"
        if not candidate.exists():
            return candidate


def make_locked(
    make: Callable[[], Path], *, attempts: int, error: Exception
) -> tuple[Path, int | None]:
    """``make()`` a new file or folder (named with this process's pid) and take its
    ``flock``; ``error`` is raised when every attempt fails.

    Another process's cleanup of dead leftovers may claim the new path in the instant
    between making and locking it (unlocked, it looks dead): the lock then fails, or
    takes what is left at the path, so the inode is compared, the path removed (it is
    ours, unless the cleanup took it already) and another one made. Without ``flock``,
    or where it keeps failing (a file system without it), the last one is returned
    unlocked, and the pid in its name protects it.
    """
    for attempt in range(attempts):
        path = make()
        fd = _lock(path)
        if fd is not None:
            try:
                if os.fstat(fd).st_ino == os.stat(path).st_ino:
                    return path, fd
            except OSError:
                pass
            _unlock(fd)
        elif fcntl is None or attempt == attempts - 1:
            return path, None
        with contextlib.suppress(OSError):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink()
    raise error


def _new_locked_tmp(path: Path) -> tuple[Path, int | None]:
    """Make and lock ``.NAME.tmp-PID-*`` beside ``path`` (see :func:`make_locked`)."""
    return make_locked(
        lambda: Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)),
        attempts=100,
        error=FolderExistsError(f"{path}: could not create a temporary folder beside it"),
    )


def _scratch_pid(name: str, prefix: str) -> int | None:
    """The pid in a scratch folder name ``PREFIX-PID-xxxx`` (``None``: not one of ours)."""
    head = f"{prefix}-"
    if not name.startswith(head):
        return None
    pid, sep, rest = name[len(head) :].partition("-")
    return int(pid) if sep and rest and pid.isdigit() else None


def remove_dead_scratch(prefix: str, base: Path | None = None) -> None:
    """Delete the scratch folders of ``prefix`` (see :func:`scratch_dir`) that no live
    process holds: leftovers of processes that were killed or exited without cleanup."""
    base = Path(tempfile.gettempdir()) if base is None else base
    try:
        entries = list(base.iterdir())
    except OSError:
        return
    for p in entries:
        pid = _scratch_pid(p.name, prefix)
        if pid is None or p.is_symlink() or not p.is_dir():
            continue
        if fcntl is None:
            if not pid_alive(pid):
                shutil.rmtree(p, ignore_errors=True)
            continue
        with _claim(p) as dead:
            if dead:
                shutil.rmtree(p, ignore_errors=True)


def scratch_dir(prefix: str) -> tuple[Path, int | None]:
    """A new private working folder ``<temp>/PREFIX-PID-xxxx`` and the ``flock`` that marks
    it as in use (held until :func:`release_scratch`; the kernel drops it if the process
    dies). Dead processes' scratch folders of ``prefix`` are removed first, so a killed
    process leaves nothing behind for long."""
    remove_dead_scratch(prefix)
    base = Path(tempfile.gettempdir())
    return make_locked(
        lambda: Path(tempfile.mkdtemp(prefix=f"{prefix}-{os.getpid()}-", dir=base)),
        attempts=20,
        error=FolderExistsError(f"{base}: could not create a scratch folder"),
    )


def release_scratch(path: Path, fd: int | None, owner: int | None = None) -> None:
    """Delete a scratch folder and drop its lock (the lock last, so no cleanup races us).

    ``owner`` is the pid that made it: a forked child that exits runs its parent's
    finalizers too, and must leave the parent's folder alone."""
    if owner is not None and owner != os.getpid():
        return
    shutil.rmtree(path, ignore_errors=True)
    _unlock(fd)


def process_umask() -> int:
    """The process umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to fill; on success it replaces ``path``.

    The caller decides beforehand whether an existing ``path`` may be replaced (see
    :func:`prepare_target`). On an exception (``KeyboardInterrupt`` included) the
    temporary folder is removed and ``path`` is left as it was, even when the exception
    lands between the two renames. The result gets the permissions of a folder made
    under the process umask (``mkdtemp`` makes folders private). When another process
    saves the same path at the same moment, the last one to finish wins. The module
    docstring describes the rename protocol and what a kill at each step leaves.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    recover(path)
    tmp, lock = _new_locked_tmp(path)
    locks = [lock]
    new: Path | None = None
    olds: list[Path] = []
    try:
        yield tmp
        mask = process_umask()
        for item in [tmp, *tmp.rglob("*")]:
            os.chmod(item, (0o777 if item.is_dir() else 0o666) & ~mask)
        _fsync_tree(tmp)
        new = _sibling_name(path, "new")
        os.replace(tmp, new)
        try:
            for _ in range(8):
                if path.exists() or path.is_symlink():
                    old = _sibling_name(path, "old")
                    locks.append(_lock(path))
                    try:
                        os.replace(path, old)
                        olds.append(old)
                    except FileNotFoundError:  # another save moved it away first
                        pass
                try:
                    os.replace(new, path)
                    break
                except OSError as exc:
                    # another save put a folder at ``path`` between our two renames: move
                    # it aside too (the last save to finish wins)
                    if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
            else:
                raise FolderExistsError(f"{path}: kept being replaced by other saves; try again")
            new = None
        except BaseException:
            # undo step 3 when step 4 did not happen, so ``path`` keeps its old folder
            if new is not None and not path.exists() and olds:
                with contextlib.suppress(OSError):
                    os.replace(olds.pop(), path)
            raise
        fsync_path(path.parent)
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        if new is not None and new.exists() and path.exists():
            shutil.rmtree(new, ignore_errors=True)
        for fd in locks:
            _unlock(fd)
