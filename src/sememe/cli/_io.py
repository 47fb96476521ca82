"""Reading texts from txt, jsonl and csv files (or stdin) for the CLI commands."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from ..errors import SememeError

Format = Literal["txt", "jsonl", "csv"]


class InputError(SememeError, ValueError):
    """A CLI input file that cannot be read as asked."""


def detect_format(path: str | None, fmt: str | None) -> Format:
    """``fmt`` if given, else from the file extension (stdin and unknown: txt)."""
    if fmt:
        if fmt not in ("txt", "jsonl", "csv"):
            raise InputError(f"unknown input format {fmt!r}; use txt, jsonl or csv")
        return fmt  # type: ignore[return-value]
    suffix = Path(path).suffix.lower() if path and path != "-" else ""
    return {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}.get(suffix, "txt")  # type: ignore[return-value]


def _open_text(path: str | None) -> io.TextIOBase:
    if path is None or path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="strict")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a folder, expected a file")
    if p.suffix == ".gz":
        import gzip

        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8")
    return open(p, encoding="utf-8", newline="")


def iter_records(path: str | None, *, fmt: str | None = None) -> Iterator[dict]:
    """Records from a file, one at a time, so files larger than memory can be processed.

    txt: one record per line (``{"text": line}``; empty lines kept, so row numbers
    match line numbers). jsonl: one JSON object per line (blank lines skipped).
    csv: a header row, then rows; ``.tsv`` files use tabs.
    """
    kind = detect_format(path if path is None else str(path).removesuffix(".gz"), fmt)
    name = "stdin" if path in (None, "-") else str(path)
    try:
        with _open_text(path) as f:
            if kind == "txt":
                for line in f:
                    yield {"text": line.rstrip("\r\n")}
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
                    yield rec
            else:
                delimiter = "\t" if str(path).removesuffix(".gz").endswith(".tsv") else ","
                yield from csv.DictReader(f, delimiter=delimiter)
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise InputError(f"{name}: malformed CSV ({exc})") from None


def read_records(
    path: str | None, *, fmt: str | None = None, field: str | None = None
) -> list[dict]:
    """All records of a file (see :func:`iter_records`); ``field`` is read by :func:`texts_of`."""
    return list(iter_records(path, fmt=fmt))


def read_texts(path: str | None, *, fmt: str | None = None, field: str | None = None) -> list[str]:
    """The texts of a file: lines of a txt, or ``field`` (default ``text``) of jsonl/csv rows."""
    return texts_of(read_records(path, fmt=fmt, field=field), field, path)


def texts_of(records: list[dict], field: str | None, path: str | None, start: int = 0) -> list[str]:
    """The text under ``field`` (default ``text``) of each record; a null value reads as "".

    Errors name the file and the record number (``start`` is the number of the first
    record, for callers that read in batches).
    """
    key = field or "text"
    name = "stdin" if path in (None, "-") else str(path)
    texts = []
    for i, rec in enumerate(records, start):
        if key not in rec:
            raise InputError(
                f"{name}: record {i} has no field {key!r} (fields: {sorted(rec)}); use --field"
            )
        value = rec[key]
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise InputError(
                f"{name}: record {i} field {key!r} is {type(value).__name__}, expected text"
            )
        texts.append(value)
    return texts
