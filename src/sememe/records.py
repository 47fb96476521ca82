"""Records in files: reading and writing txt, jsonl and csv (each also gzip-compressed).

The one place that knows file formats; the command line and the library both use it.

Formats (:data:`EXTENSIONS`, the one extension-to-format map): ``.txt`` is one text per
line (read as ``{"text": line}``; empty lines kept, so record numbers are line
numbers); ``.jsonl``/``.ndjson`` one JSON object per line (blank lines skipped but
counted); ``.csv`` a header row then rows, ``.tsv`` the same with tabs. A trailing
``.gz`` is decompressed on reading and compresses on writing; any other extension,
and stdin (``None`` or ``"-"``), reads as txt.

Numbering: every message about a record names it as ``FILE:LINE:``, with ``LINE`` the
1-based line of the file where the record starts (txt and jsonl: its line, blank jsonl
lines counted; csv: the line its row starts on, the header being line 1), so an
editor's "go to line" finds it. Every problem with the input is an
:class:`~sememe.errors.InputError`.

Missing text (the one ``None`` policy of :func:`texts_of`): a JSON ``null`` or a csv
row cut short reads as the empty text ``""``, like an empty line of a txt file, so the
records stay aligned with the rows of every output (an empty text gets a zero vector,
so it is a near duplicate of no other text, though empty texts are exact duplicates of
each other; an index keeps it, scoring 0 against every query). ``none="error"``
refuses it instead, naming the line. A value that is neither text nor null is always an error.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from ._validate import check_choice
from .errors import InputError, InvalidArgumentError

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "Format",
    "InputError",
    "RecordWriter",
    "Records",
    "delimiter_of",
    "detect_format",
    "field_values",
    "format_of",
    "is_gzip",
    "iter_numbered",
    "iter_records",
    "line_of",
    "read_records",
    "read_texts",
    "source_name",
    "texts_of",
    "write_records",
]

Format = Literal["txt", "jsonl", "csv"]
FORMATS: tuple[Format, ...] = ("txt", "jsonl", "csv")

#: File extension (lower case) -> record format. A trailing ``.gz`` is looked through.
EXTENSIONS: dict[str, Format] = {
    ".txt": "txt",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
}

PathLike = str | os.PathLike[str]


# ---------------------------------------------------------------------- formats


def _plain_name(path: PathLike | None) -> str:
    """The file name without a trailing ``.gz`` (``""`` for stdin)."""
    if path is None or str(path) == "-":
        return ""
    name = Path(path).name
    return name[:-3] if name.lower().endswith(".gz") else name


def is_gzip(path: PathLike | None) -> bool:
    """Whether ``path`` names a gzip-compressed file (by its ``.gz`` extension)."""
    return path is not None and str(path).lower().endswith(".gz")


def format_of(path: PathLike | None, default: Format = "txt") -> Format:
    """The format of ``path`` by its extension (a trailing ``.gz`` looked through);
    ``default`` for stdin and unknown extensions."""
    return EXTENSIONS.get(Path(_plain_name(path)).suffix.lower(), default)


def detect_format(path: PathLike | None, fmt: str | None = None) -> Format:
    """``fmt`` if given (checked), else :func:`format_of` ``path`` (stdin, unknown: txt)."""
    if fmt:
        if fmt not in FORMATS:
            raise InputError(f"unknown input format {fmt!r}; use txt, jsonl or csv")
        return fmt  # type: ignore[return-value]
    return format_of(path)


def delimiter_of(path: PathLike | None) -> str:
    """The csv delimiter of ``path``: a tab for ``.tsv`` (``.tsv.gz``), else a comma."""
    return "\t" if Path(_plain_name(path)).suffix.lower() == ".tsv" else ","


def source_name(path: PathLike | None) -> str:
    """How messages name an input: its path, or ``stdin``."""
    return "stdin" if path is None or str(path) == "-" else str(path)


# ---------------------------------------------------------------------- reading


def _open_text(path: PathLike | None) -> io.TextIOBase:
    if path is None or str(path) == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="strict", newline="")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a folder, expected a file")
    if is_gzip(p):
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


def iter_numbered(path: PathLike | None, *, fmt: str | None = None) -> Iterator[tuple[int, dict]]:
    """``(line, record)`` pairs of a file, one at a time (files larger than memory work).

    ``path`` ``None`` or ``"-"`` reads stdin; ``fmt`` overrides the extension (see the
    module docstring for the formats and the line numbers).
    """
    kind = detect_format(path, fmt)
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
                yield from _csv_rows(f, name, delimiter_of(path))
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise InputError(f"{name}: malformed CSV ({exc})") from None
    except (EOFError, OSError) as exc:  # e.g. a truncated or corrupt .gz file
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise InputError(f"{name}: cannot be read ({exc})") from None


def iter_records(path: PathLike | None, *, fmt: str | None = None) -> Iterator[dict]:
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


def read_records(
    path: PathLike | None, *, fmt: str | None = None, field: str | None = None
) -> Records:
    """All records of a file (see :func:`iter_numbered`), with their line numbers.

    ``field`` is accepted for symmetry with :func:`read_texts` and not used.
    """
    return Records(iter_numbered(path, fmt=fmt))


def read_texts(
    path: PathLike | None,
    *,
    fmt: str | None = None,
    field: str | None = None,
    none: Literal["empty", "error"] = "empty",
) -> list[str]:
    """The texts of a file: lines of a txt, or ``field`` (default ``text``) of jsonl/csv
    rows (a null reads as ``""`` unless ``none="error"``; see :func:`texts_of`)."""
    return texts_of(read_records(path, fmt=fmt), field, path, none=none)


def line_of(records: Sequence[dict], i: int, start: int = 1) -> int:
    """The 1-based line of ``records[i]``: from :class:`Records`, else ``start + i``."""
    lines = getattr(records, "lines", None)
    return lines[i] if lines is not None else start + i


def field_values(
    records: Sequence[dict],
    key: str,
    path: PathLike | None,
    *,
    option: str = "--field",
    start: int = 1,
) -> list[Any]:
    """``rec[key]`` of every record; a record without ``key`` is an :class:`InputError`
    naming its line and the fields it has (``option``: how the caller says which field)."""
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
    records: Sequence[dict],
    field: str | None = None,
    path: PathLike | None = None,
    start: int = 1,
    *,
    option: str = "--field",
    none: Literal["empty", "error"] = "empty",
) -> list[str]:
    """The text under ``field`` (default ``text``) of each record.

    A null value (JSON ``null``, a csv row cut short) reads as ``""`` (``none="empty"``,
    the default: see the module docstring), or is an :class:`InputError`
    (``none="error"``). Any other value that is not a ``str`` is an error. Errors name
    the file (``path``) and the 1-based line of the record: taken from
    :class:`Records`, or counted from ``start`` (the line of the first record) for a
    plain list.
    """
    check_choice(none, "none", ("empty", "error"))
    key = field or "text"
    name = source_name(path)
    texts = field_values(records, key, path, option=option, start=start)
    for i, value in enumerate(texts):
        if value is None:
            if none == "error":
                raise InputError(
                    f"{name}:{line_of(records, i, start)}: field {key!r} is null, expected text"
                )
            texts[i] = ""
        elif not isinstance(value, str):
            raise InputError(
                f"{name}:{line_of(records, i, start)}: field {key!r} is "
                f"{type(value).__name__}, expected text"
            )
    return texts


# ---------------------------------------------------------------------- writing


def _cell(value: Any) -> Any:
    """A csv cell: lists and dicts as JSON (not Python's repr), the rest as they are."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value


def _text_of_row(row: Any, k: int, texts: Sequence[str] | None) -> str:
    if texts is not None:
        return texts[k]
    if isinstance(row, dict) and isinstance(row.get("text"), str):
        return row["text"]
    return str(row)


def _one_line(text: str) -> str:
    """``text`` with every line break (``\\r\\n``, ``\\n``, ``\\r``) turned into a space."""
    return text.replace("\r\n", " ").replace("\n", " ").replace("\r", " ")


def _as_dict(row: Any) -> dict:
    return row if isinstance(row, dict) else {"text": row}


class RecordWriter:
    """Write records to a txt, jsonl or csv file batch by batch (a stream's records).

    The rules are those of :func:`write_records`, which writes through this class, so a
    stream written in batches is byte for byte the file :func:`write_records` writes
    from all its rows at once, as long as its first batch has every csv field:

    * the format is ``fmt``, else that of ``like`` (default: ``path``) by its
      extension; ``.tsv`` writes tabs and a trailing ``.gz`` compresses (with no name
      or time in the gzip header, so equal records give equal bytes, whatever the
      name of the temporary file they were written to);
    * txt writes one line per row (line breaks inside become spaces); jsonl one JSON
      object per row; csv a header, then one row per record, lists and dicts as JSON.

    A csv header is ``fields`` when given (written at once, even if no row follows);
    otherwise every field of the first batch that has rows, in order of first
    appearance (a stream that writes no row leaves an empty file). A csv header
    cannot grow, so fields that are not in it are left out of later rows.

    Use it as a context manager, or call :meth:`close`. The file is written in place;
    write to a temporary file and move it when a failure must not leave part of a file.
    """

    def __init__(
        self,
        path: PathLike,
        fmt: str | None = None,
        *,
        fields: Sequence[str] | None = None,
        like: PathLike | None = None,
    ) -> None:
        self.path = Path(path)
        name = self.path if like is None else Path(like)
        self.format: Format = (
            check_choice(fmt, "format", FORMATS) if fmt is not None else format_of(name)
        )
        self._delimiter = delimiter_of(name)
        self._raw: IO[bytes] | None = None
        if is_gzip(name):
            self._raw = open(self.path, "wb")  # noqa: SIM115 - closed by close()
            try:
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
                self._file: IO[str] = io.TextIOWrapper(gz, encoding="utf-8", newline="")
            except BaseException:
                self._raw.close()
                raise
        else:
            self._file = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
        self._csv: csv.DictWriter | None = None
        if self.format == "csv" and fields is not None:
            self._start_csv(list(fields))

    def _start_csv(self, header: list[str]) -> csv.DictWriter:
        self._csv = csv.DictWriter(
            self._file, fieldnames=header, delimiter=self._delimiter, extrasaction="ignore"
        )
        self._csv.writeheader()
        return self._csv

    def write(self, rows: Sequence[Any], texts: Sequence[str] | None = None) -> None:
        """Append ``rows``; a txt line of a row that is not a ``str`` is ``texts[k]`` when
        given, else its ``"text"`` field, else ``str(row)`` (see :func:`write_records`)."""
        if texts is not None and len(texts) != len(rows):
            raise InvalidArgumentError(f"{len(rows)} rows but {len(texts)} texts")
        out = self._file
        if self.format == "txt":
            for k, row in enumerate(rows):
                text = row if isinstance(row, str) else _text_of_row(row, k, texts)
                out.write(_one_line(text) + "\n")
        elif self.format == "jsonl":
            for row in rows:
                out.write(json.dumps(_as_dict(row), ensure_ascii=False) + "\n")
        elif rows:
            dicts = [_as_dict(row) for row in rows]
            writer = self._csv or self._start_csv(list(dict.fromkeys(k for d in dicts for k in d)))
            for d in dicts:
                writer.writerow({k: _cell(v) for k, v in d.items()})

    def close(self) -> None:
        """Flush and close the file (and, for ``.gz``, the file under the compressor)."""
        try:
            self._file.close()
        finally:
            if self._raw is not None:
                self._raw.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def write_records(
    path: PathLike,
    rows: Sequence[Any],
    fmt: str | None = None,
    texts: Sequence[str] | None = None,
    *,
    fields: Sequence[str] | None = None,
    like: PathLike | None = None,
) -> Path:
    """Write ``rows`` to ``path`` as txt, jsonl or csv, all at once; returns the path.

    ``fmt`` defaults to the format of ``like`` (default: ``path``) by its extension, as
    do the csv delimiter (tab for ``.tsv``) and gzip compression (``.gz``); ``like``
    lets a caller write a temporary file in the format of its final name.

    * txt: one line per row: a ``str`` row as it is, any other the matching ``texts``
      entry when given, else its ``"text"`` field, else ``str(row)``; line breaks
      inside (``\\r\\n``, ``\\n``, ``\\r``) become spaces, so line ``i`` is row ``i``.
    * jsonl: one JSON object per row (a ``str`` row as ``{"text": row}``).
    * csv: a header of ``fields`` (default: every key of the rows, in order of first
      appearance; ``text`` when there are no rows), then one row per record; list and
      dict values as JSON; fields not in the header are left out.

    :class:`RecordWriter` writes the same bytes batch by batch. The file is written in
    place (not atomically); write to a temporary file and move it when a failure must
    not leave a partial file behind.
    """
    path = Path(path)
    if fmt is not None:
        check_choice(fmt, "fmt", FORMATS)
    if texts is not None and len(texts) != len(rows):
        raise InvalidArgumentError(f"write_records: {len(rows)} rows but {len(texts)} texts")
    kind = fmt if fmt is not None else format_of(path if like is None else like)
    header = None
    if kind == "csv":
        header = (
            list(fields)
            if fields is not None
            else list(dict.fromkeys(k for row in rows for k in _as_dict(row))) or ["text"]
        )
    with RecordWriter(path, kind, fields=header, like=like) as writer:
        writer.write(rows, texts)
    return path
