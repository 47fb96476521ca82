"""The command line starts without the heavy libraries it does not need.

``sememe --help`` and ``sememe info`` build the parser of one command only and import
the library inside the handlers (sememe.cli.main.build_parser), so neither loads
scikit-learn, FAISS, torch or tantivy. Each case runs in a fresh interpreter, since
this test process has long imported all of them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sklearn", "faiss", "torch", "tantivy", "pandas", "pyarrow", "polars")

PROBE = """
import contextlib, io, json, sys
from sememe.cli.main import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def _run(*argv: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [("--help",), ("info", "-q"), ("info", "--list"), ("-q", "info", "--json")],
    ids=" ".join,
)
def test_help_and_info_skip_heavy_libraries(argv):
    result = _run(*argv)
    assert result["code"] == 0
    assert not set(HEAVY) & set(result["modules"])


@pytest.mark.parametrize("command", ["chunk", "encode"])
def test_a_subcommand_help_builds_only_its_own_parser(command):
    """Another command's parser (search's index choices, cluster's methods) is never built."""
    result = _run(command, "--help")
    assert result["code"] == 0
    assert not set(HEAVY) & set(result["modules"])


def test_the_probe_sees_a_heavy_import():
    """The check can fail: ``sememe classify train --help`` imports scikit-learn."""
    result = _run("classify", "train", "--help")
    assert result["code"] == 0
    assert "sklearn" in result["modules"]
