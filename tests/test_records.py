"""Tests for sememe.records: the one reader and writer of txt/jsonl/csv(.gz) records."""

from __future__ import annotations

import gzip
import json

import pytest

from sememe import records
from sememe.cli import _io
from sememe.errors import InputError, InvalidArgumentError


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.txt", "txt"),
        ("a.jsonl", "jsonl"),
        ("a.NDJSON", "jsonl"),
        ("a.csv", "csv"),
        ("a.tsv", "csv"),
        ("a.jsonl.gz", "jsonl"),
        ("a.tsv.GZ", "csv"),
        ("a.gz", "txt"),
        ("a.md", "txt"),
        ("-", "txt"),
        (None, "txt"),
    ],
)
def test_one_extension_map(name, fmt):
    assert records.format_of(name) == fmt
    assert records.detect_format(name, None) == fmt


def test_format_given_wins_and_is_checked():
    assert records.detect_format("a.txt", "csv") == "csv"
    with pytest.raises(InputError, match="unknown input format"):
        records.detect_format("a.txt", "xml")
    assert records.format_of("a.md", default="jsonl") == "jsonl"
    assert records.delimiter_of("a.tsv.gz") == "\t" and records.delimiter_of("a.csv") == ","


@pytest.mark.parametrize("name", ["r.txt", "r.jsonl", "r.csv", "r.tsv", "r.jsonl.gz", "r.csv.gz"])
def test_write_then_read_round_trips(tmp_path, name):
    rows = [{"text": "a cat", "n": "1"}, {"text": "line\nbreak", "n": "2"}]
    path = records.write_records(tmp_path / name, rows)
    if name.endswith(".gz"):
        assert gzip.decompress(path.read_bytes())  # really compressed
    back = records.read_records(path)
    if records.format_of(name) == "txt":
        assert back == [{"text": "a cat"}, {"text": "line break"}]
    elif records.format_of(name) == "jsonl":
        assert back == rows
    else:
        assert back == [{"text": "a cat", "n": "1"}, {"text": "line\nbreak", "n": "2"}]
        assert back.lines == [2, 3]


def test_write_records_options(tmp_path):
    out = records.write_records(tmp_path / "tmp-name", ["a", "b"], like=tmp_path / "final.jsonl")
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"text": "a"},
        {"text": "b"},
    ]
    out = records.write_records(
        tmp_path / "o.csv", [{"text": "x", "tags": ["a", "b"]}], fields=["tags", "text"]
    )
    assert out.read_text().splitlines() == ["tags,text", '"[""a"", ""b""]",x']
    out = records.write_records(tmp_path / "o.txt", [{"text": "x"}], texts=["from texts"])
    assert out.read_text() == "from texts\n"
    with pytest.raises(InvalidArgumentError, match="fmt must be one of"):
        records.write_records(tmp_path / "o.x", ["a"], "xml")
    with pytest.raises(InvalidArgumentError, match="1 rows but 2 texts"):
        records.write_records(tmp_path / "o.txt", ["a"], texts=["a", "b"])


def test_one_none_policy_with_the_other_as_a_keyword(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "a"}\n\n{"text": null}\n', encoding="utf-8")
    assert records.read_texts(data) == ["a", ""]
    with pytest.raises(InputError, match=r"d\.jsonl:3: field 'text' is null"):
        records.read_texts(data, none="error")
    with pytest.raises(InvalidArgumentError, match="none must be one of"):
        records.texts_of([{"text": "a"}], none="skip")


def test_errors_name_the_line(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "a"}\n{"body": "b"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"d\.jsonl:2: record has no field 'text'"):
        records.read_texts(data)
    with pytest.raises(InputError, match=r"d\.jsonl:2: .* use --field"):
        records.texts_of(records.read_records(data), None, data)
    # a plain list counts lines from ``start``
    with pytest.raises(InputError, match=r"x:11: field 'text' is int"):
        records.texts_of([{"text": "a"}, {"text": 3}], None, "x", start=10)
    assert records.source_name(None) == "stdin" and records.source_name("-") == "stdin"


def test_the_cli_module_re_exports_the_same_functions():
    assert _io.InputError is InputError
    for name in ("texts_of", "read_texts", "read_records", "iter_numbered", "detect_format"):
        assert getattr(_io, name) is getattr(records, name)
