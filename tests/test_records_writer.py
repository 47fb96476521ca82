"""sememe.records.RecordWriter: the one record writer, batch by batch.

A stream written in batches must be the very file write_records writes from all its rows
(so ``dedupe --stream`` and ``dedupe`` give the same output bytes), and a txt record must
stay on one line whatever line break it holds.
"""

from __future__ import annotations

import gzip
import json

import pytest

from sememe import deduplication, records
from sememe.errors import InvalidArgumentError
from sememe.records import RecordWriter, write_records

ROWS = [
    {"id": 1, "text": "a cat\nsat", "tags": ["x", "y"]},
    {"id": 2, "text": "carriage\rreturn", "tags": []},
    {"id": 3, "text": "windows\r\nline", "tags": {"k": 1}},
    {"id": 4, "text": 'tab\there, comma, "quote"', "tags": None},
    {"id": 5, "text": "", "tags": ["z"]},
]
NAMES = ["o.txt", "o.jsonl", "o.csv", "o.tsv", "o.txt.gz", "o.jsonl.gz", "o.csv.gz", "o.tsv.gz"]


def _stream(path, rows, sizes, **kwargs):
    with RecordWriter(path, **kwargs) as w:
        start = 0
        for size in sizes:
            w.write(rows[start : start + size])
            start += size
        w.write([])  # an empty batch changes nothing
    return path


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("sizes", [[5], [1, 4], [2, 2, 1], [1, 1, 1, 1, 1]])
def test_a_stream_in_batches_equals_the_batch_write(tmp_path, name, sizes):
    batch = write_records(tmp_path / f"batch-{name}", ROWS)
    stream = _stream(tmp_path / f"stream-{name}", ROWS, sizes)
    assert stream.read_bytes() == batch.read_bytes()


@pytest.mark.parametrize("name", ["o.txt", "o.jsonl", "o.csv"])
def test_plain_text_rows_and_texts_too(tmp_path, name):
    rows = ["first", "second\nline", "third"]
    texts = ["T1", "T2", "T3"]
    batch = write_records(tmp_path / f"b-{name}", rows, texts=texts)
    with RecordWriter(tmp_path / f"s-{name}") as w:
        w.write(rows[:1], texts[:1])
        w.write(rows[1:], texts[1:])
    assert w.path.read_bytes() == batch.read_bytes()


def test_gzip_output_is_compressed_and_names_no_file(tmp_path):
    out = write_records(tmp_path / "tmp-name.gz", ROWS, "jsonl")
    data = out.read_bytes()
    assert data[:2] == b"\x1f\x8b"
    assert data[3] & 0x08 == 0  # no FNAME: a temporary file's name does not leak
    assert data[4:8] == b"\0\0\0\0"  # no mtime: equal records, equal bytes
    assert [json.loads(x) for x in gzip.decompress(data).decode().splitlines()] == ROWS


def test_like_decides_format_delimiter_and_compression(tmp_path):
    out = write_records(tmp_path / "tmpfile", ROWS[:2], like=tmp_path / "final.tsv.gz")
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    assert lines[0] == "id\ttext\ttags"
    with RecordWriter(tmp_path / "tmp2", like=tmp_path / "final.tsv.gz") as w:
        w.write(ROWS[:2])
    assert w.path.read_bytes() == out.read_bytes()


@pytest.mark.parametrize("text", ["a\rb", "a\nb", "a\r\nb", "a\r\rb\n\nc\r\n"])
def test_a_txt_record_stays_on_one_line(tmp_path, text):
    for path in (
        write_records(tmp_path / "b.txt", [text, "next"]),
        _stream(tmp_path / "s.txt", [{"text": text}, {"text": "next"}], [1, 1]),
    ):
        back = records.read_records(path)
        assert len(back) == 2
        assert back[1] == {"text": "next"}
        assert "\r" not in back[0]["text"] and "\n" not in back[0]["text"]


def test_csv_lists_and_dicts_are_json(tmp_path):
    path = _stream(tmp_path / "o.csv", ROWS[:3], [1, 2])
    back = records.read_records(path)
    assert [json.loads(r["tags"]) for r in back] == [["x", "y"], [], {"k": 1}]
    assert back[0]["text"] == "a cat\nsat"  # csv quotes line breaks: the text is kept


def test_csv_header_comes_from_the_first_batch_and_cannot_grow(tmp_path):
    with RecordWriter(tmp_path / "o.csv") as w:
        w.write([{"a": 1}, {"b": 2}])  # the first batch's fields, in order of first appearance
        w.write([{"a": 3, "c": 4}])  # c is not in the header: left out
    assert (tmp_path / "o.csv").read_text().splitlines() == ["a,b", "1,", ",2", "3,"]
    with RecordWriter(tmp_path / "f.csv", fields=["x"]):
        pass  # given fields are written at once
    assert (tmp_path / "f.csv").read_bytes() == b"x\r\n"
    with RecordWriter(tmp_path / "e.csv"):
        pass
    assert (tmp_path / "e.csv").read_text() == ""


def test_writer_checks(tmp_path):
    with pytest.raises(InvalidArgumentError, match="format must be one of"):
        RecordWriter(tmp_path / "o.txt", "xml")
    with (
        RecordWriter(tmp_path / "o.txt") as w,
        pytest.raises(InvalidArgumentError, match="1 rows but 2"),
    ):
        w.write(["a"], texts=["a", "b"])
    with RecordWriter(tmp_path / "o.jsonl") as w:
        assert (w.path, w.format) == (tmp_path / "o.jsonl", "jsonl")


def test_deduplication_keeps_its_names_for_the_one_writer(tmp_path):
    assert deduplication.RecordWriter is RecordWriter
    assert deduplication.write_records is write_records
    # the old positional form: path, rows, format, texts
    out = deduplication.write_records(tmp_path / "o.txt", [{"id": 1}], "txt", ["the text"])
    assert out.read_text() == "the text\n"
