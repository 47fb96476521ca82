"""Progress bars under a real terminal: the CLI run in a pseudo-terminal (stdout and stderr on
the pty, TERM set) names its phases; --quiet and a non-terminal stderr show none."""

from __future__ import annotations

import json
import os
import re
import select
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

fcntl = pytest.importorskip("fcntl")  # POSIX only
termios = pytest.importorskip("termios")

WORDS = ["kernel", "module", "driver", "panic", "boot", "cat", "dog", "mat", "bank", "loan"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """1,500 short documents, a tenth of them repeated (for dedupe to find)."""
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(WORDS, 6)) + f" {i}" for i in range(1350)]
    lines += lines[:150]
    path = tmp_path_factory.mktemp("pty") / "docs.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ, TERM="xterm", COLUMNS="120", SEMEME_PROGRESS_DELAY="0")
    env.pop("NO_COLOR", None)
    return env


def run_in_pty(args: list[str], timeout: float = 120.0) -> tuple[int, str]:
    """Run ``sememe ARGS`` with stdin, stdout and stderr on a new pseudo-terminal;
    return the exit code and everything it wrote to the terminal."""
    master, slave = os.openpty()
    # a new pty is 0x0; tqdm sizes its bars to the window, so give it a real terminal's
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sememe.cli.main", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=_env(),
            close_fds=True,
        )
    finally:
        os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its end
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            pytest.fail(f"sememe {' '.join(args)} did not finish in {timeout}s")
    finally:
        os.close(master)
    return proc.wait(timeout=30), out.decode("utf-8", "replace")


def run_piped(args: list[str]) -> subprocess.CompletedProcess:
    """The same command with stdout and stderr on pipes (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "sememe.cli.main", *args],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
        timeout=120,
    )


def build_args(corpus, out) -> list[str]:
    # beyond --exact-limit the HNSW graph is built in blocks, one bar update each
    return [
        *["index", "build", str(corpus), "-o", str(out)],
        *["--factory", "HNSW32", "--exact-limit", "100"],
    ]


def test_index_build_names_its_phases_on_a_terminal(corpus, tmp_path):
    code, out = run_in_pty(build_args(corpus, tmp_path / "idx"))
    assert code == 0, out
    for name in ("reading", "encoding", "building the index", "writing"):
        assert name in out, f"no {name!r} bar in {out!r}"
    assert "\r" in out  # a bar redraws itself
    assert "indexed 1,500 documents" in out


def test_index_build_chunk_names_chunking_and_the_lexical_side(corpus, tmp_path):
    # one process for the RAG path's phases: documents chunked, then the BM25 side built
    lines = corpus.read_text(encoding="utf-8").splitlines()
    docs = tmp_path / "docs.jsonl"
    with docs.open("w", encoding="utf-8") as f:
        for i in range(0, len(lines), 10):
            f.write(json.dumps({"text": " ".join(lines[i : i + 10])}) + "\n")
    code, out = run_in_pty(["index", "build", str(docs), "-o", str(tmp_path / "rag"), "--chunk"])
    assert code == 0, out
    for name in ("reading", "chunking", "encoding", "building the lexical index"):
        assert name in out, f"no {name!r} bar in {out!r}"
    # The chunking bar counts the 150 documents. Its last draw (150/150) may be cleared
    # before the terminal sees it when chunking is quick, so only the total is checked
    # here; tests/test_cli_conventions.py checks in-process that every document was counted.
    assert re.search(r"\d+/150 \[", out), out


def test_dedupe_names_its_phases_on_a_terminal(corpus, tmp_path):
    code, out = run_in_pty(["dedupe", str(corpus), "-o", str(tmp_path / "kept.txt")])
    assert code == 0, out
    for name in ("reading", "encoding", "searching pairs", "writing"):
        assert name in out, f"no {name!r} bar in {out!r}"
    assert re.search(r"kept [\d,]+ of 1,500 records", out)


def test_dedupe_stream_counts_records_as_read(corpus, tmp_path):
    args = ["dedupe", str(corpus), "-o", str(tmp_path / "kept.txt"), "--stream"]
    code, out = run_in_pty([*args, "--batch-size", "500"])
    assert code == 0, out
    assert "dedupe --stream: reading" in out and "dedupe --stream: decided" in out
    assert re.search(r"kept [\d,]+ of 1,500 records", out)


def test_quiet_shows_nothing_on_a_terminal(corpus, tmp_path):
    code, out = run_in_pty([*build_args(corpus, tmp_path / "idx"), "--quiet"])
    assert code == 0 and out == ""


def test_no_bars_when_stderr_is_not_a_terminal(corpus, tmp_path):
    # (index build off a terminal: tests/test_cli_conventions.py, in-process)
    proc = run_piped(["dedupe", str(corpus), "-o", str(tmp_path / "k.txt")])
    assert proc.returncode == 0, proc.stderr
    assert re.match(r"kept [\d,]+ of 1,500 records", proc.stderr)
    assert proc.stderr.count("\n") == 1 and "\r" not in proc.stderr
