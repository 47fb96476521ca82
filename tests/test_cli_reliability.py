"""The command line never loses input, refuses bad options early, and sorts its errors.

* an output may be an input (``dedupe b.txt -o b.txt``): outputs are written to a
  temporary file and moved into place only once the run succeeded, so a failed run leaves
  every existing file as it was;
* a count of 0 (or less) and a NaN threshold are refused by argparse before any work;
* errors name records as ``FILE:LINE:`` with the file's own 1-based line numbers;
* a user's mistake prints one ``sememe: error:`` line and exits 1; anything else is an
  internal error (exit 70) with a hint to rerun with ``--debug``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sememe.clustering
import sememe.deduplication
from sememe.cli import _io, common
from sememe.cli.main import EXIT_INTERNAL, main
from sememe.errors import InputError, SememeError

LINES = ["the cat sat on the mat", "stock markets fell today", "the cat sat on the mat", "rain"]


def _txt(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("sememe: error: "), err
    return err[0]


def _no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if "sememe-tmp" in p.name]


# ---------------------------------------------------------------- outputs over inputs
@pytest.mark.parametrize("stream", [False, True])
def test_dedupe_in_place_keeps_the_data(tmp_path, stream):
    """The reported data loss: ``dedupe b.txt -o b.txt --stream`` truncated b.txt."""
    data = _txt(tmp_path / "b.txt", LINES)
    argv = ["dedupe", str(data), "-o", str(data), "-q"]
    assert main(argv + (["--stream", "--batch-size", "2"] if stream else [])) == 0
    assert data.read_text(encoding="utf-8").splitlines() == [LINES[0], LINES[1], LINES[3]]
    _no_temporaries(tmp_path)


def test_dedupe_report_over_input_and_against(tmp_path):
    data = _jsonl(tmp_path / "in.jsonl", [{"text": t, "n": i} for i, t in enumerate(LINES)])
    ref = _txt(tmp_path / "ref.txt", ["rain"])
    argv = ["dedupe", str(data), "-o", str(ref), "--against", str(ref), "--report", str(data)]
    assert main([*argv, "-q"]) == 0
    assert ref.read_text(encoding="utf-8").splitlines() == [LINES[0], LINES[1]]
    removed = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    assert sorted(r["text"] for r in removed) == sorted([LINES[2], LINES[3]])


def test_same_file_for_two_outputs_is_refused(tmp_path, capsys):
    data = _txt(tmp_path / "in.txt", LINES)
    out = tmp_path / "out.txt"
    link = tmp_path / "link.txt"
    out.write_text("keep me\n", encoding="utf-8")
    link.symlink_to(out)
    assert main(["dedupe", str(data), "-o", str(out), "--report", str(link)]) == 1
    assert "same file" in _one_error_line(capsys)
    assert out.read_text(encoding="utf-8") == "keep me\n"


def test_cluster_chunk_and_predict_in_place(tmp_path):
    rows = [{"text": t, "label": "a" if "cat" in t else "b"} for t in LINES]
    data = _jsonl(tmp_path / "d.jsonl", rows)
    assert main(["cluster", str(data), "-k", "2", "-o", str(data), "-q"]) == 0
    labelled = [json.loads(line) for line in data.read_text().splitlines()]
    assert [r["text"] for r in labelled] == LINES and all("cluster" in r for r in labelled)

    doc = _txt(tmp_path / "doc.txt", ["A first sentence here.", "And a second one."])
    source = doc.read_text(encoding="utf-8")
    assert main(["chunk", str(doc), "-o", str(doc), "-q"]) == 0
    chunks = [json.loads(line) for line in doc.read_text(encoding="utf-8").splitlines()]
    assert chunks and all(c["text"] == source[c["start"] : c["end"]] for c in chunks)

    clf = tmp_path / "clf"
    data = _jsonl(tmp_path / "d.jsonl", rows * 3)
    assert main(["classify", "train", str(data), "-o", str(clf), "-q"]) == 0
    assert main(["classify", "predict", str(clf), str(data), "-o", str(data), "-q"]) == 0
    predicted = [json.loads(line) for line in data.read_text().splitlines()]
    assert len(predicted) == 12 and all("prediction" in r for r in predicted)
    _no_temporaries(tmp_path)


def test_a_failed_run_leaves_the_existing_output_unchanged(tmp_path, capsys):
    # the bad record comes after a first batch was decided and written
    rows = [{"text": t} for t in LINES] + [{"body": "no text field"}]
    data = _jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    out.write_text("precious\n", encoding="utf-8")
    argv = ["dedupe", str(data), "-o", str(out), "--stream", "--batch-size", "2"]
    assert main(argv) == 1
    line = _one_error_line(capsys)
    assert out.read_text(encoding="utf-8") == "precious\n"
    assert "in.jsonl:5:" in line

    npy = tmp_path / "v.npy"
    np.save(npy, np.arange(3))
    assert main(["encode", str(data), "-o", str(npy)]) == 1
    _one_error_line(capsys)
    np.testing.assert_array_equal(np.load(npy), np.arange(3))
    _no_temporaries(tmp_path)


def test_replaced_output_keeps_its_mode_and_its_symlink(tmp_path):
    data = _txt(tmp_path / "in.txt", LINES)
    target = tmp_path / "real.txt"
    target.write_text("old\n", encoding="utf-8")
    os.chmod(target, 0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert main(["dedupe", str(data), "-o", str(link), "-q"]) == 0
    assert link.is_symlink() and len(target.read_text().splitlines()) == 3
    assert (target.stat().st_mode & 0o777) == 0o640


def test_kill_9_mid_run_leaves_the_input_whole(tmp_path):
    """``dedupe b.txt -o b.txt --stream`` killed once its output is open: b.txt is whole."""
    lines = [f"line {i} about topic {i % 97}" for i in range(5_000)]
    data = _txt(tmp_path / "b.txt", lines)
    before = data.read_bytes()
    argv = ["dedupe", str(data), "-o", str(data), "--stream", "--batch-size", "20", "-q"]
    proc = subprocess.Popen([sys.executable, "-m", "sememe.cli.main", *argv])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if [p for p in tmp_path.iterdir() if "sememe-tmp" in p.name]:
                break  # the output is open: the old code had truncated b.txt by now
            time.sleep(0.005)
        if proc.poll() is not None:
            pytest.skip("the run finished before it could be killed")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert data.read_bytes() == before
    assert [p for p in tmp_path.iterdir() if "sememe-tmp" in p.name]  # the dead run's
    small = _txt(tmp_path / "small.txt", LINES)
    assert main(["dedupe", str(small), "-o", str(data), "-q"]) == 0  # the next run cleans it
    assert data.read_text(encoding="utf-8").splitlines() == [LINES[0], LINES[1], LINES[3]]
    _no_temporaries(tmp_path)


def test_leftovers_of_killed_runs_are_cleaned(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)
    stale = tmp_path / f".out.txt.sememe-tmp-{pid}-abc.txt"
    stale.write_text("half written", encoding="utf-8")
    mine = tmp_path / f".out.txt.sememe-tmp-{os.getpid()}-abc.txt"  # a live process's
    mine.write_text("in progress", encoding="utf-8")
    with _io.OutputFiles() as outputs:
        outputs.add(tmp_path / "out.txt").write_text("new\n", encoding="utf-8")
    assert not stale.exists() and mine.exists()
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == "new\n"


# ---------------------------------------------------------------- counts and thresholds
COUNT_OPTIONS = [
    ["encode", "{txt}", "-o", "{out}.npy", "--batch-size"],
    ["encode", "{txt}", "-o", "{out}.npy", "--dim"],
    ["info", "--dim"],
    ["chunk", "{txt}", "--max-tokens"],
    ["chunk", "{txt}", "--window"],
    ["cluster", "{txt}", "-k"],
    ["cluster", "{txt}", "--keywords"],
    ["cluster", "{txt}", "--top"],
    ["cluster", "{txt}", "--min-cluster-size"],
    ["dedupe", "{txt}", "-o", "{out}", "--batch-size"],
    ["dedupe", "{txt}", "-o", "{out}", "--target-size"],
    ["index", "build", "{txt}", "-o", "{out}", "--exact-limit"],
    ["index", "build", "{txt}", "-o", "{out}", "--candidates"],
    ["index", "build", "{txt}", "-o", "{out}", "--scan-dims"],
    ["search", "{out}", "cat", "-k"],
    ["search", "{out}", "cat", "--ef-search"],
    ["search", "{out}", "cat", "--nprobe"],
    ["search", "{out}", "cat", "--candidates"],
    ["classify", "train", "{txt}", "-o", "{out}", "--epochs"],
    ["classify", "train", "{txt}", "-o", "{out}", "--dim"],
]


@pytest.mark.parametrize("argv", COUNT_OPTIONS, ids=lambda a: f"{a[0]} {a[-1]}")
@pytest.mark.parametrize("value", ["0", "-1", "2.5", "many"])
def test_bad_counts_are_refused_by_argparse(tmp_path, capsys, argv, value):
    """``--batch-size 0`` wrote an empty output with exit 0."""
    txt = _txt(tmp_path / "in.txt", LINES)
    out = tmp_path / "out"
    argv = [a.format(txt=txt, out=out) for a in argv]
    with pytest.raises(SystemExit) as exc:
        main([*argv, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {argv[-1]}" in err  # argparse names the option
    assert "Traceback" not in err
    assert not list(tmp_path.glob("out*"))  # nothing was written


@pytest.mark.parametrize(
    "argv",
    [
        ["dedupe", "{txt}", "-o", "{out}", "-t"],
        ["classify", "train", "{txt}", "-o", "{out}", "-C"],
        ["classify", "train", "{txt}", "-o", "{out}", "--holdout"],
    ],
    ids=lambda a: f"{a[0]} {a[-1]}",
)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "x"])
def test_thresholds_must_be_finite_numbers(tmp_path, capsys, argv, value):
    txt = _txt(tmp_path / "in.txt", LINES)
    argv = [a.format(txt=txt, out=tmp_path / "out") for a in argv]
    with pytest.raises(SystemExit) as exc:
        main([*argv, value])
    assert exc.value.code == 2 and "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "1.5"])
def test_chunk_threshold_must_be_a_finite_similarity(tmp_path, capsys, value):
    txt = _txt(tmp_path / "in.txt", LINES)
    assert main(["chunk", str(txt), "--threshold", value]) == 1
    assert "--threshold must be 'auto' or a similarity in [-1, 1]" in _one_error_line(capsys)


@given(st.text(max_size=8))
@settings(max_examples=200, deadline=None)
def test_positive_int_accepts_exactly_the_positive_integers(text):
    try:
        expected = int(text.strip(), 10)
    except ValueError:
        expected = None
    try:
        got = common.positive_int(text)
    except Exception as exc:  # only argparse's own error type, never anything else
        assert type(exc).__name__ == "ArgumentTypeError"
        got = None
    assert got == (expected if expected is not None and expected >= 1 else None)


# ---------------------------------------------------------------- the path written
def test_encode_prints_the_path_it_wrote(tmp_path, capsys):
    txt = _txt(tmp_path / "good.txt", LINES)
    assert main(["encode", str(txt), "-o", str(tmp_path / "adir")]) == 0
    err = capsys.readouterr().err
    assert f"-> {tmp_path / 'adir.npy'} " in err
    assert np.load(tmp_path / "adir.npy").shape == (4, 256)
    (tmp_path / "folder").mkdir()
    assert main(["encode", str(txt), "-o", str(tmp_path / "folder")]) == 1
    assert "is a folder" in _one_error_line(capsys)


# ---------------------------------------------------------------- 1-based line numbers
def test_jsonl_errors_name_the_line_in_the_file(tmp_path, capsys):
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "a"}\n\n\n{"text": 3}\n', encoding="utf-8")
    for argv in (
        ["encode", str(data), "-o", str(tmp_path / "o.npy")],
        ["dedupe", str(data), "-o", str(tmp_path / "o.txt")],
        ["dedupe", str(data), "-o", str(tmp_path / "o.txt"), "--stream", "--batch-size", "1"],
        ["cluster", str(data)],
        ["index", "build", str(data), "-o", str(tmp_path / "idx")],
        ["classify", "predict", str(tmp_path / "clf"), str(data)],
    ):
        if argv[0] == "classify":
            train = _jsonl(tmp_path / "t.jsonl", [{"text": t, "label": t[0]} for t in LINES])
            assert main(["classify", "train", str(train), "-o", str(tmp_path / "clf"), "-q"]) == 0
        assert main(argv) == 1
        assert f"{data}:4: field 'text' is int" in _one_error_line(capsys), argv


def test_record_errors_name_their_line(tmp_path, capsys):
    data = _jsonl(tmp_path / "t.jsonl", [{"text": "a", "label": "x"}, {"text": "b"}])
    assert main(["classify", "train", str(data), "-o", str(tmp_path / "c")]) == 1
    assert f"{data}:2: record has no field 'label'" in _one_error_line(capsys)
    data = _jsonl(tmp_path / "i.jsonl", [{"text": "a", "id": 1}, {"text": "b", "id": 2.5}])
    assert main(["index", "build", str(data), "-o", str(tmp_path / "i")]) == 1
    assert f"{data}:2: record has id 2.5" in _one_error_line(capsys)
    txt = _txt(tmp_path / "l.txt", LINES)
    assert main(["encode", str(txt), "--field", "body", "-o", str(tmp_path / "o.npy")]) == 1
    assert f"{txt}:1: record has no field 'body'" in _one_error_line(capsys)


def test_csv_lines_count_the_header_and_quoted_newlines(tmp_path):
    data = tmp_path / "in.csv"
    data.write_text('id,text\n1,"two\nlines"\n\n2,ok\n3\n4,x,extra\n', encoding="utf-8")
    pairs = []
    with pytest.raises(InputError, match=r"in\.csv:7: 3 fields, but the header has 2"):
        for pair in _io.iter_numbered(str(data)):
            pairs.append(pair)
    assert pairs == [
        (2, {"id": "1", "text": "two\nlines"}),
        (5, {"id": "2", "text": "ok"}),
        (6, {"id": "3", "text": None}),
    ]


@given(
    st.lists(
        st.one_of(st.just(""), st.just("  "), st.text("ab ", min_size=1, max_size=5)),
        min_size=1,
        max_size=20,
    ),
    st.data(),
)
@settings(max_examples=60, deadline=None)
def test_the_line_named_is_the_bad_record_s_line(tmp_path_factory, lines, data):
    """For any jsonl with blank lines, an error names the line of the bad record."""
    records = [i for i, line in enumerate(lines) if line.strip()]
    if not records:
        return
    bad = data.draw(st.sampled_from(records))
    text = "".join(
        ("{}" if i == bad else json.dumps({"text": line})) + "\n" if line.strip() else line + "\n"
        for i, line in enumerate(lines)
    )
    path = tmp_path_factory.mktemp("lines") / "in.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=rf"in\.jsonl:{bad + 1}: record has no field"):
        _io.read_texts(str(path))
    numbered = list(_io.iter_numbered(str(path)))
    for number, _ in numbered:  # every record's number is its own line
        assert text.splitlines()[number - 1].strip()


def test_lone_surrogates_are_refused_at_their_line(tmp_path, capsys):
    """Valid JSON, but not text: the output could not be written after all the work."""
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "\\ud83d\\ude00 fine"}\n\n{"text": "\\ud800"}\n', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["dedupe", str(data), "-o", str(out)]) == 1
    assert f"{data}:3: contains a lone surrogate (\\ud800)" in _one_error_line(capsys)
    assert not out.exists()
    data.write_text('{"text": "\\ud83d\\ude00 fine"}\n', encoding="utf-8")
    assert _io.read_texts(str(data)) == ["\U0001f600 fine"]


def test_stdin_errors_are_named_and_numbered(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sememe.cli.main",
            "encode",
            "--format",
            "jsonl",
            "-o",
            str(tmp_path / "o.npy"),
        ],
        input='{"text": "a"}\n\n{"body": "b"}\n',
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("sememe: error: stdin:3: record has no field 'text'")


# ---------------------------------------------------------------- optional dependencies
def _without(monkeypatch: pytest.MonkeyPatch, *missing: str) -> None:
    real = common.importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name in missing else real(name, *args, **kwargs)

    monkeypatch.setattr(common.importlib.util, "find_spec", find_spec)


def test_plot_without_matplotlib_fails_before_any_work(tmp_path, capsys, monkeypatch):
    """The labels were written, then a raw ImportError traceback followed."""
    _without(monkeypatch, "matplotlib")
    # the command imports the library when it runs: patch where the function lives
    monkeypatch.setattr(sememe.clustering, "cluster", _must_not_run)
    txt = _txt(tmp_path / "in.txt", LINES)
    labels = tmp_path / "labels.txt"
    assert main(["cluster", str(txt), "-k", "2", "-o", str(labels), "--plot", "map.png"]) == 1
    line = _one_error_line(capsys)
    assert "--plot needs matplotlib" in line and 'pip install "sememe[plot]"' in line
    assert not labels.exists()


def test_fine_tune_without_torch_fails_before_any_work(tmp_path, capsys, monkeypatch):
    _without(monkeypatch, "torch")
    data = _jsonl(tmp_path / "t.jsonl", [{"text": t, "label": t[0]} for t in LINES])
    argv = ["classify", "train", str(data), "-o", str(tmp_path / "c"), "--fine-tune", "table"]
    assert main(argv) == 1
    assert 'pip install "sememe[train]"' in _one_error_line(capsys)


def test_plot_needs_an_image_extension(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    txt = _txt(tmp_path / "in.txt", LINES)
    assert main(["cluster", str(txt), "-k", "2", "--plot", str(tmp_path / "map.xyz")]) == 1
    assert "unknown image format" in _one_error_line(capsys)


def _must_not_run(*args, **kwargs):
    raise AssertionError("the work started although an option was refused")


# ---------------------------------------------------------------- user vs internal errors
def test_internal_errors_are_reported_as_bugs(tmp_path, capsys, monkeypatch):
    txt = _txt(tmp_path / "in.txt", LINES)

    def broken(*args, **kwargs):
        raise ValueError("index out of sync")  # a plain ValueError is never the user's

    monkeypatch.setattr(sememe.deduplication, "dedupe", broken)
    argv = ["dedupe", str(txt), "-o", str(tmp_path / "o.txt")]
    assert main(argv) == EXIT_INTERNAL == 70
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "sememe: internal error: ValueError: index out of sync",
        "this is a bug in sememe; rerun with --debug for the traceback",
    ]
    with pytest.raises(ValueError, match="out of sync"):
        main([*argv, "--debug"])
    assert not (tmp_path / "o.txt").exists()


def test_debug_reraises_user_errors(tmp_path):
    with pytest.raises(SememeError, match="no such file"):
        main(["encode", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o.npy"), "--debug"])


def test_input_error_is_the_shared_type():
    assert _io.InputError is InputError


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    """Inputs with typical mistakes, a good index and a good classifier."""
    d = tmp_path_factory.mktemp("mistakes")
    _txt(d / "a.txt", LINES)
    rows = [{"text": t, "label": lab} for t, lab in zip(LINES * 3, "xyxyxyxyxyxy", strict=True)]
    _jsonl(d / "a.jsonl", rows)
    _jsonl(d / "nolabel.jsonl", [{"text": "a"}])
    (d / "bad.jsonl").write_text('{"text": "a"}\n{oops\n', encoding="utf-8")
    (d / "list.jsonl").write_text("[1, 2]\n", encoding="utf-8")
    (d / "latin1.txt").write_bytes(b"caf\xe9\n")
    (d / "bad.txt.gz").write_bytes(b"not gzip")
    (d / "extra.csv").write_text("text\na,b\n", encoding="utf-8")
    (d / "empty.txt").write_text("", encoding="utf-8")
    (d / "folder").mkdir()
    (d / "mine").mkdir()
    (d / "mine" / "notes.txt").write_text("my own file", encoding="utf-8")
    (d / "tok.json").write_text("{not json", encoding="utf-8")
    assert main(["index", "build", str(d / "a.txt"), "-o", str(d / "idx"), "-q"]) == 0
    assert main(["classify", "train", str(d / "a.jsonl"), "-o", str(d / "clf"), "-q"]) == 0
    return d


MISTAKES = [
    "encode D/missing.txt -o D/o.npy",
    "encode D/folder -o D/o.npy",
    "encode D/bad.jsonl -o D/o.npy",
    "encode D/list.jsonl -o D/o.npy",
    "encode D/latin1.txt -o D/o.npy",
    "encode D/bad.txt.gz -o D/o.npy",
    "encode D/extra.csv -o D/o.npy",
    "encode D/a.jsonl --field nope -o D/o.npy",
    "encode D/a.txt -m no-such-model -o D/o.npy",
    "encode D/a.txt -m D/folder -o D/o.npy",
    "encode D/a.txt --dim 1000 -o D/o.npy",
    "encode D/a.txt --dim 7 --binary -o D/o.npy",
    "encode D/a.txt -o D/folder",
    "info -m no-such-model",
    "info --dim 1000",
    "chunk D/missing.txt",
    "chunk D/a.txt D/missing.txt",
    "chunk D/latin1.txt",
    "chunk D/a.txt --min-tokens 600",
    "chunk D/a.txt --threshold high",
    "chunk D/a.txt --tokenizer D/tok.json",
    "chunk D/a.txt -m no-such-model",
    "chunk D/a.txt -o D/folder",
    "cluster D/a.txt -k 50",
    "cluster D/empty.txt",
    "cluster D/a.txt --method hdbscan -k 3",
    "cluster D/a.jsonl --field nope",
    "cluster D/a.txt -o D/folder",
    "dedupe D/a.txt -o D/o.txt -t 2",
    "dedupe D/a.txt -o D/o.txt --stream --keep last",
    "dedupe D/a.txt -o D/o.txt --against D/missing.txt",
    "dedupe D/bad.jsonl -o D/o.txt --stream",
    "dedupe D/a.txt -o D/o.txt --report D/o.txt",
    "dedupe D/a.txt -o D/folder",
    "dedupe D/a.txt -o D/o.txt -m D/folder",
    "index build D/missing.txt -o D/new-index",
    "index build D/a.txt -o D/idx",
    "index build D/a.txt -o D/mine --overwrite",
    "index build D/a.txt -o D/clf --overwrite",
    "index build D/a.txt -o D/new-index --factory Garbage99",
    "index build D/a.txt -o D/new-index --kind binary+rerank --scan-dims 7",
    "search D/mine cat",
    "search D/missing cat",
    "search D/a.txt cat",
    "search D/clf cat",
    "search D/idx",
    "search D/idx cat --where nofield",
    "search D/idx cat --queries D/missing.txt",
    "search D/idx cat -m no-such-model",
    "classify train D/missing.jsonl -o D/new-clf",
    "classify train D/nolabel.jsonl -o D/new-clf",
    "classify train D/a.jsonl -o D/new-clf --text-field nope",
    "classify train D/empty.txt -o D/new-clf",
    "classify train D/a.jsonl -o D/clf",
    "classify train D/a.jsonl -o D/mine --overwrite",
    "classify train D/a.jsonl -o D/idx --overwrite",
    "classify train D/a.jsonl -o D/new-clf --holdout 0.9",
    "classify train D/a.jsonl -o D/new-clf -m no-such-model",
    "classify predict D/missing D/a.txt",
    "classify predict D/mine D/a.txt",
    "classify predict D/idx D/a.txt",
    "classify predict D/clf D/missing.txt",
    "classify predict D/clf D/empty.txt",
    "classify predict D/clf D/a.jsonl --label-field nope",
    "classify predict D/clf D/a.jsonl -o D/folder",
]


@pytest.mark.parametrize("command", MISTAKES)
def test_user_mistakes_are_one_error_line(workspace, capsys, command):
    argv = command.replace("D/", f"{workspace}/").split()
    assert main(argv) == 1
    line = _one_error_line(capsys)
    assert "internal error" not in line
    assert (workspace / "mine" / "notes.txt").read_text(encoding="utf-8") == "my own file"
    assert not (workspace / "new-index").exists() and not (workspace / "new-clf").exists()
    assert not (workspace / "o.npy").exists() and not (workspace / "o.txt").exists()
    _no_temporaries(workspace)


# ---------------------------------------------------------------- --overwrite
@pytest.mark.parametrize(
    "argv",
    [
        ["classify", "train", "{jsonl}", "-o", "{mine}", "--overwrite"],
        ["index", "build", "{txt}", "-o", "{mine}", "--overwrite"],
    ],
    ids=["classify", "index"],
)
def test_overwrite_never_deletes_the_user_s_folder(tmp_path, capsys, argv):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work", encoding="utf-8")
    jsonl = _jsonl(tmp_path / "t.jsonl", [{"text": t, "label": t[0]} for t in LINES])
    txt = _txt(tmp_path / "in.txt", LINES)
    argv = [a.format(jsonl=jsonl, txt=txt, mine=mine) for a in argv]
    assert main(argv) == 1
    assert "not replacing it" in _one_error_line(capsys)
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]
    assert (mine / "thesis.tex").read_text(encoding="utf-8") == "years of work"


@pytest.mark.parametrize("kind", ["classify", "index"])
def test_overwrite_replaces_a_folder_of_the_same_kind(tmp_path, kind):
    jsonl = _jsonl(tmp_path / "t.jsonl", [{"text": t, "label": t[0]} for t in LINES])
    out = tmp_path / "out"
    argv = (
        ["classify", "train", str(jsonl), "-o", str(out), "-q"]
        if kind == "classify"
        else ["index", "build", str(jsonl), "-o", str(out), "-q"]
    )
    assert main(argv) == 0
    assert main(argv) == 1  # exists, no --overwrite
    assert main([*argv, "--overwrite"]) == 0


def test_library_warnings_are_one_sememe_line(tmp_path, capsys):
    """A warning from the library (here: lines the English model barely covers) reaches the
    user as ``sememe: warning: ...``, not as Python's ``file:line: UserWarning:``."""
    src = tmp_path / "ko.txt"
    src.write_text("한국어 문장입니다\n안녕하세요 반갑습니다\nhello world\n", encoding="utf-8")
    assert main(["dedupe", str(src), "-o", str(tmp_path / "out.txt")]) == 0
    err = capsys.readouterr().err
    assert "sememe: warning: dedupe:" in err
    assert "UserWarning" not in err


def test_outputs_that_are_not_regular_files_are_written_in_place(tmp_path):
    """A named pipe (like /dev/null or /dev/stdout) given as -o is written to, not replaced
    by a plain file (replacing /dev/null as root would break the system)."""
    import threading

    src = tmp_path / "a.txt"
    src.write_text("a\nb\na\n", encoding="utf-8")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    assert main(["dedupe", str(src), "-o", str(fifo)]) == 0
    reader.join(10)
    assert got == [b"a\nb\n"]
    import stat as stat_module

    assert stat_module.S_ISFIFO(os.stat(fifo).st_mode)
    assert main(["dedupe", str(src), "-o", os.devnull]) == 0
    assert stat_module.S_ISCHR(os.stat(os.devnull).st_mode)


def test_classify_train_names_the_line_of_an_empty_label(tmp_path, capsys):
    """An empty csv cell or a null label is refused at its line in the file, not taken as
    the class '' or reported as a 0-based position."""
    csv_file = tmp_path / "m.csv"
    csv_file.write_text('text,label\n"multi\nline",x\n"ok",\nthird,y\n', encoding="utf-8")
    assert main(["classify", "train", str(csv_file), "-o", str(tmp_path / "c1")]) == 1
    assert f"{csv_file}:4: --label-field 'label' is empty" in capsys.readouterr().err
    jsonl = tmp_path / "n.jsonl"
    jsonl.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": null}\n', "utf-8")
    assert main(["classify", "train", str(jsonl), "-o", str(tmp_path / "c2")]) == 1
    assert f"{jsonl}:2: --label-field 'label' is empty" in capsys.readouterr().err
    assert not (tmp_path / "c1").exists() and not (tmp_path / "c2").exists()


def test_chunk_writes_earlier_files_before_a_bad_one(tmp_path, capsys):
    good = _txt(tmp_path / "a.txt", LINES)
    bad = tmp_path / "b.bin"
    bad.write_bytes(b"caf\xe9 au lait\n")
    assert main(["chunk", str(good), str(bad), "--quiet"]) == 1
    captured = capsys.readouterr()
    first = json.loads(captured.out.splitlines()[0])
    assert first["source"] == str(good) and first["index"] == 0  # a.txt's chunks came first
    assert "not UTF-8 text" in captured.err and str(bad) in captured.err
