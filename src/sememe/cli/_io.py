"""Reading texts from txt, jsonl and csv files (or stdin), and writing outputs safely.

Numbering: every message about a record names it as ``FILE:LINE:``, with ``LINE`` the
1-based line of the file where the record starts (txt and jsonl: its line, blank jsonl
lines counted; csv: the line its row starts on, the header being line 1), so an editor's
"go to line" finds it.

Outputs: :class:`OutputFiles` writes each output to a temporary file in the output's own
folder and moves it over the destination with :func:`os.replace` only once the whole run
succeeded. An output may therefore be the input itself (``dedupe b.txt -o b.txt``), and a
failed or killed run never leaves a truncated output, or a truncated input, behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Literal

from .._folder import fsync_path, pid_alive
from ..errors import InputError

__all__ = [
    "InputError",
    "OutputFiles",
    "Records",
    "detect_format",
    "iter_numbered",
    "iter_records",
    "read_records",
    "read_texts",
    "texts_of",
]

Format = Literal["txt", "jsonl", "csv"]


def detect_format(path: str | None, fmt: str | None) -> Format:
    """``fmt`` if given, else from the file extension (stdin and unknown: txt)."""
    if fmt:
        if fmt not in ("txt", "jsonl", "csv"):
            raise InputError(f"unknown input format {fmt!r}; use txt, jsonl or csv")
        return fmt  # type: ignore[return-value]
    suffix = Path(path).suffix.lower() if path and path != "-" else ""
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}.get(suffix, "txt")  # type: ignore[return-value]


def source_name(path: str | os.PathLike[str] | None) -> str:
    """How messages name an input: its path, or ``stdin``."""
    return "stdin" if path in (None, "-") else str(path)


def _open_text(path: str | None) -> io.TextIOBase:
    if path is None or path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="strict", newline="")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a folder, expected a file")
    if p.suffix == ".gz":
        import gzip

        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", newline="")
    return open(p, encoding="utf-8", newline="")


def _csv_rows(f: io.TextIOBase, name: str, delimiter: str) -> Iterator[tuple[int, dict]]:
    """``(line, record)`` of each csv row; ``line`` is where the row starts (header: 1).

    Rows are mapped to the header as :class:`csv.DictReader` does (missing trailing
    fields read as None, blank lines skipped), except that a row with more fields than
    the header is an error naming its line: it is almost always an unquoted delimiter.
    """
    reader = csv.reader(f, delimiter=delimiter)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        if not row:
            continue
        if header is None:
            header = row
            continue
        if len(row) > len(header):
            raise InputError(
                f"{name}:{start}: {len(row)} fields, but the header has {len(header)} "
                "(an unquoted delimiter?)"
            )
        rec: dict = dict(zip(header, row, strict=False))
        for key in header[len(row) :]:
            rec.setdefault(key, None)
        yield start, rec


def _check_encodable(rec: dict, name: str, line: int) -> None:
    """Refuse a record holding a lone surrogate (``"\\ud800"``): valid JSON, but not text.

    It could not be written back as UTF-8 (outputs that echo records would fail after
    all the work), and what it should mean is the user's call, so it is reported here.
    """
    try:
        json.dumps(rec, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = exc.object[exc.start : exc.end]
        raise InputError(
            f"{name}:{line}: contains a lone surrogate ({bad.encode('unicode_escape').decode()}), "
            "which is not valid Unicode text"
        ) from None


def iter_numbered(path: str | None, *, fmt: str | None = None) -> Iterator[tuple[int, dict]]:
    """``(line, record)`` pairs of a file, one at a time (files larger than memory work).

    txt: one record per line (``{"text": line}``; empty lines kept, so record numbers
    match line numbers). jsonl: one JSON object per line (blank lines skipped, but
    counted in the line numbers). csv: a header row, then rows; ``.tsv`` files use tabs.
    """
    plain = None if path is None else str(path).removesuffix(".gz")
    kind = detect_format(plain, fmt)
    name = source_name(path)
    try:
        with _open_text(path) as f:
            if kind == "txt":
                for n, line in enumerate(f, 1):
                    yield n, {"text": line.rstrip("\r\n")}
            elif kind == "jsonl":
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InputError(f"{name}:{n}: not valid JSON ({exc.msg})") from None
                    if not isinstance(rec, dict):
                        raise InputError(
                            f"{name}:{n}: expected a JSON object, got {type(rec).__name__}"
                        )
                    if "\\u" in line:  # an escape may encode a lone surrogate
                        _check_encodable(rec, name, n)
                    yield n, rec
            else:
                delimiter = "\t" if (plain or "").endswith(".tsv") else ","
                yield from _csv_rows(f, name, delimiter)
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise InputError(f"{name}: malformed CSV ({exc})") from None
    except (EOFError, OSError) as exc:  # e.g. a truncated or corrupt .gz file
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise InputError(f"{name}: cannot be read ({exc})") from None


def iter_records(path: str | None, *, fmt: str | None = None) -> Iterator[dict]:
    """The records of :func:`iter_numbered`, without their line numbers."""
    for _, rec in iter_numbered(path, fmt=fmt):
        yield rec


class Records(list):
    """A list of records that remembers the line each one starts on (``lines[i]``)."""

    def __init__(self, pairs: Iterable[tuple[int, dict]] = ()) -> None:
        lines: list[int] = []
        recs: list[dict] = []
        for line, rec in pairs:
            lines.append(line)
            recs.append(rec)
        super().__init__(recs)
        self.lines = lines


def read_records(path: str | None, *, fmt: str | None = None, field: str | None = None) -> Records:
    """All records of a file (see :func:`iter_numbered`), with their line numbers."""
    return Records(iter_numbered(path, fmt=fmt))


def read_texts(path: str | None, *, fmt: str | None = None, field: str | None = None) -> list[str]:
    """The texts of a file: lines of a txt, or ``field`` (default ``text``) of jsonl/csv rows."""
    return texts_of(read_records(path, fmt=fmt, field=field), field, path)


def line_of(records: list[dict], i: int, start: int = 1) -> int:
    """The 1-based line of ``records[i]``: from :class:`Records`, else ``start + i``."""
    lines = getattr(records, "lines", None)
    return lines[i] if lines is not None else start + i


def field_values(
    records: list[dict], key: str, path: str | None, *, option: str = "--field", start: int = 1
) -> list:
    """``rec[key]`` of every record; a record without ``key`` is an error naming its line."""
    name = source_name(path)
    values = []
    for i, rec in enumerate(records):
        if key not in rec:
            fields = sorted(str(k) for k in rec)
            raise InputError(
                f"{name}:{line_of(records, i, start)}: record has no field {key!r} "
                f"(fields: {fields}); use {option}"
            )
        values.append(rec[key])
    return values


def texts_of(
    records: list[dict],
    field: str | None,
    path: str | None,
    start: int = 1,
    *,
    option: str = "--field",
) -> list[str]:
    """The text under ``field`` (default ``text``) of each record; a null value reads as "".

    Errors name the file and the 1-based line of the record: taken from
    :class:`Records`, or counted from ``start`` (the line of the first record) for a
    plain list.
    """
    key = field or "text"
    name = source_name(path)
    texts = field_values(records, key, path, option=option, start=start)
    for i, value in enumerate(texts):
        if value is None:
            texts[i] = ""
        elif not isinstance(value, str):
            raise InputError(
                f"{name}:{line_of(records, i, start)}: field {key!r} is "
                f"{type(value).__name__}, expected text"
            )
    return texts


# -- outputs ----------------------------------------------------------------------
_TMP = "sememe-tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []  # (temporary, destination)

    def add(self, path: str | os.PathLike[str], option: str = "--output") -> Path:
        """Register the output ``path``; return the temporary path to write instead.

        A destination that exists and is not a regular file (``/dev/null``, a named pipe,
        ``/dev/stdout``, a socket) is written directly: there is nothing to replace, and
        replacing it would turn a device into a plain file.
        """
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
        dest.parent.mkdir(parents=True, exist_ok=True)
        self._clean_leftovers(dest)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{dest.name}.{_TMP}-{os.getpid()}-", suffix=dest.suffix, dir=dest.parent
        )
        os.close(fd)
        self._pending.append((Path(tmp), dest))
        return Path(tmp)

    @staticmethod
    def _clean_leftovers(dest: Path) -> None:
        prefix = f".{dest.name}.{_TMP}-"
        try:
            siblings = [p for p in dest.parent.iterdir() if p.name.startswith(prefix)]
        except OSError:
            return
        for p in siblings:
            head = p.name[len(prefix) :].split("-", 1)[0]
            if head.isdigit() and not pid_alive(int(head)):
                with contextlib.suppress(OSError):
                    p.unlink()

    def commit(self) -> None:
        """Move every temporary file over its destination (with the destination's mode)."""
        default_mode = 0o666 & ~_umask()
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

    def discard(self) -> None:
        """Remove the temporary files; the destinations are left as they were."""
        for tmp, dest in self._pending:
            if tmp == dest:
                continue
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._pending = []

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
