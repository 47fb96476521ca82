"""The sememe command line: real runs, one-line errors, no tracebacks for user mistakes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import sememe
from sememe.cli.main import main


def test_encode_txt_keeps_rows_aligned(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("the cat sat\n\nstock markets fell\n", encoding="utf-8")
    assert main(["encode", str(src), "-o", str(tmp_path / "out.npy")]) == 0
    out = np.load(tmp_path / "out.npy")
    assert out.shape == (3, 256) and out.dtype == np.float32
    np.testing.assert_allclose(
        out, sememe.load().encode(["the cat sat", "", "stock markets fell"]), atol=1e-6
    )
    assert "encoded 3 texts" in capsys.readouterr().err


def test_encode_jsonl_field_binary_and_dim(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(json.dumps({"body": t, "n": i}) for i, t in enumerate(["a cat", "a dog"]))
    )
    assert (
        main(
            [
                "encode",
                str(src),
                "--field",
                "body",
                "--binary",
                "--dim",
                "64",
                "-o",
                str(tmp_path / "b.npy"),
                "-q",
            ]
        )
        == 0
    )
    codes = np.load(tmp_path / "b.npy")
    assert codes.dtype == np.uint8 and codes.shape == (2, 8)


def test_encode_csv(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('id,text\n1,"hello, world"\n2,goodbye\n', encoding="utf-8")
    assert main(["encode", str(src), "-o", str(tmp_path / "c.npy"), "--quiet"]) == 0
    np.testing.assert_allclose(
        np.load(tmp_path / "c.npy")[0], sememe.load().encode("hello, world"), atol=1e-6
    )


def test_encode_stdin(tmp_path):
    out = tmp_path / "s.npy"
    proc = subprocess.run(
        [sys.executable, "-m", "sememe.cli.main", "encode", "-o", str(out), "-q"],
        input="one\ntwo\nthree\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert np.load(out).shape == (3, 256)


@pytest.mark.parametrize(
    "args, message",
    [
        (["encode", "/no/such/file.txt", "-o", "x.npy"], "no such file"),
        (["encode", "{jsonl}", "--field", "missing", "-o", "x.npy"], "has no field 'missing'"),
        (["encode", "{bad}", "-o", "x.npy"], "not valid JSON"),
        (["info", "--model", "/no/such/model"], "no such model folder"),
    ],
)
def test_user_errors_are_one_line(tmp_path, args, message):
    (tmp_path / "ok.jsonl").write_text('{"text": "a"}\n')
    (tmp_path / "bad.jsonl").write_text('{"text": "a"}\n{oops\n')
    args = [a.format(jsonl=tmp_path / "ok.jsonl", bad=tmp_path / "bad.jsonl") for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "sememe.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sememe: error:") and message in lines[0]


def test_info_json(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "sememe-base" and info["dim"] == 256
    assert "MODEL_CARD.md" in info["license"]  # the model card gives the data terms


def test_info_list(capsys):
    assert main(["info", "--list"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "sememe-base"


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "encode" in capsys.readouterr().err
