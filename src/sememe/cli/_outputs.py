"""Output files of the command line, written safely: :class:`OutputFiles`.

:class:`OutputFiles` writes each output to a temporary file in the output's own
folder and moves it over the destination with :func:`os.replace` only once the whole
run succeeded. An output may therefore be the input itself (``dedupe b.txt -o b.txt``),
and a failed or killed run never leaves a truncated output, or a truncated input,
behind.

A run holds an exclusive ``flock`` on each of its temporary files (the ownership rule
of :mod:`sememe._folder`'s folder saves); the kernel releases it when the run ends, by
``kill -9`` too. So the leftover of a killed run is exactly a temporary file that no
process holds locked, whatever its pid: in a container pid 1 is always alive, and a
pid may have been reused, so a pid in a name proves nothing. Where ``flock`` is not
available the pid in the name decides, as before.

An output named ``-`` is stdout: it is written to a temporary file too and copied to
stdout at the end, so stdout receives a complete output or nothing. Binary outputs
(``.npy``) are refused when stdout is a terminal. The parent folder of every other
output must exist, unless the command was given ``--mkdir``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from .. import _folder
from .._folder import _claim, _unlock, fsync_path, pid_alive, process_umask
from ..errors import InputError
from .common import check_parent

__all__ = ["OutputFiles"]

# -- outputs ----------------------------------------------------------------------
_TMP = "sememe-tmp"
_ATTEMPTS = 20
"""Temporary files made before giving up on locking one (each failure is a race with
another run's cleanup, or a file system without ``flock``)."""


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same file (hard links and symlinks included)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


class OutputFiles:
    """Output files written to temporary siblings and moved into place together at the end.

    Use as a context manager: :meth:`add` each output *before* the work starts (it checks
    the destination and creates the temporary file, so an unwritable folder is reported
    at once) and write to the path it returns. When the block ends without an exception,
    every temporary file is flushed to disk and renamed over its destination
    (:func:`os.replace`, atomic on one file system); when it raises, or the process is
    killed, the destinations keep their old content. Leftover temporaries of killed runs
    are removed by the next run writing the same output.
    """

    def __init__(self, *, mkdir: bool = False) -> None:
        self._pending: list[tuple[Path, Path]] = []  # (temporary, destination)
        self._locks: list[int] = []  # flock descriptors of the temporaries, held to the end
        self._stdout: Path | None = None  # the temporary of the output '-', if any
        self._mkdir = mkdir

    def add(
        self, path: str | os.PathLike[str], option: str = "--output", *, binary: bool = False
    ) -> Path:
        """Register the output ``path``; return the temporary path to write instead.

        ``-`` is stdout (``binary``: refused when stdout is a terminal). A missing parent
        folder is an error unless ``mkdir`` was given. A destination that exists and is
        not a regular file (``/dev/null``, a named pipe, ``/dev/stdout``, a socket) is
        written directly: there is nothing to replace, and replacing it would turn a
        device into a plain file.
        """
        if str(path) == "-":
            return self._add_stdout(option, binary)
        try:
            special = not stat.S_ISREG(os.stat(path).st_mode) and not Path(path).is_dir()
        except OSError:
            special = False
        if special:
            self._pending.append((Path(path), Path(path)))
            return Path(path)
        dest = Path(path)
        if dest.is_symlink():  # replace the file the link points to, keep the link
            dest = Path(os.path.realpath(dest))
        if dest.is_dir():
            raise InputError(f"{option} {path}: is a folder, expected a file name")
        for _, other in self._pending:
            if _same_file(dest, other):
                raise InputError(f"{option} {path}: the same file is given as another output")
        check_parent(dest, self._mkdir, option)
        tmp, lock = _new_locked_tmp(dest)
        self._pending.append((tmp, dest))
        if lock is not None:
            self._locks.append(lock)
        _clean_leftovers(dest, locks_work=lock is not None)
        return tmp

    def _add_stdout(self, option: str, binary: bool) -> Path:
        """A temporary file for the output ``-``, copied to stdout by :meth:`commit`."""
        if self._stdout is not None:
            raise InputError(f"{option} -: another output already goes to stdout ('-')")
        if binary and sys.stdout.isatty():
            raise InputError(
                f"{option} -: refusing to write binary data to a terminal; "
                "redirect stdout (> FILE or | ...) or give a file name"
            )
        fd, name = tempfile.mkstemp(prefix="sememe-stdout-")
        os.close(fd)
        self._stdout = Path(name)
        return self._stdout

    def _flush_stdout(self) -> None:
        """Copy the output ``-`` to stdout and remove its temporary file."""
        tmp, self._stdout = self._stdout, None
        if tmp is None:
            return
        try:
            sys.stdout.flush()
            with open(tmp, "rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()

    def commit(self) -> None:
        """Move every temporary file over its destination (with the destination's mode),
        then copy the output ``-`` (if any) to stdout."""
        default_mode = 0o666 & ~process_umask()
        for tmp, dest in self._pending:
            if tmp == dest:  # written in place (a device or a pipe)
                continue
            try:
                mode = stat.S_IMODE(dest.stat().st_mode)
            except OSError:
                mode = default_mode
            os.chmod(tmp, mode)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.replace(tmp, dest)
        for folder in {dest.parent for _, dest in self._pending}:
            fsync_path(folder)
        self._pending = []
        self._release()
        self._flush_stdout()

    def discard(self) -> None:
        """Remove the temporary files; the destinations are left as they were."""
        for tmp, dest in self._pending:
            if tmp == dest:
                continue
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._pending = []
        if self._stdout is not None:
            with contextlib.suppress(OSError):
                self._stdout.unlink()
            self._stdout = None
        self._release()

    def _release(self) -> None:
        """Drop the locks (after the temporaries were moved or removed)."""
        for fd in self._locks:
            _unlock(fd)
        self._locks = []

    def __enter__(self) -> OutputFiles:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                self.commit()
            finally:
                self.discard()
        else:
            self.discard()


def _new_locked_tmp(dest: Path) -> tuple[Path, int | None]:
    """A new ``.NAME.sememe-tmp-PID-*`` file beside ``dest``, and its ``flock``
    (:func:`sememe._folder.make_locked`: retried when another run's cleanup takes it
    before it is locked; ``None`` where ``flock`` is missing or refused, when the pid
    protects it)."""

    def make() -> Path:
        fd, name = tempfile.mkstemp(
            prefix=f".{dest.name}.{_TMP}-{os.getpid()}-", suffix=dest.suffix, dir=dest.parent
        )
        os.close(fd)
        return Path(name)

    return _folder.make_locked(
        make,
        attempts=_ATTEMPTS,
        error=InputError(f"{dest}: could not create a temporary file beside it"),
    )


def _clean_leftovers(dest: Path, *, locks_work: bool) -> None:
    """Remove the temporaries of ``dest`` that no running process owns.

    Owned means locked (see the module docstring); where locks do not work
    (``locks_work`` false: this run could not lock its own file) a live pid in the name
    owns it. A name with this process's pid is always kept: another thread of this
    process may have made it and not locked it yet.
    """
    prefix = f".{dest.name}.{_TMP}-"
    try:
        siblings = [p for p in dest.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for p in siblings:
        head = p.name[len(prefix) :].split("-", 1)[0]
        if not head.isdigit() or int(head) == os.getpid():
            continue
        if not locks_work:
            if not pid_alive(int(head)):
                with contextlib.suppress(OSError):
                    p.unlink()
            continue
        try:
            if not p.is_file() or p.is_symlink():
                continue
        except OSError:
            continue
        with _claim(p) as dead:
            if dead:
                with contextlib.suppress(OSError):
                    p.unlink()
