"""Command line conventions (issue 17): '-' is stdin/stdout, options anywhere, help text for
every option, parents of outputs must exist unless --mkdir, progress only where asked."""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sememe
from sememe import _progress
from sememe.chunking import Chunk, TokenChunker, chunks_html, documents_html
from sememe.cli.main import build_parser, main
from sememe.errors import InvalidArgumentError, InvalidTypeError

DOCS = ["the kernel panicked at boot", "a linux kernel module", "cats sleep on the mat"]


def _parsers(parser: argparse.ArgumentParser, path: str = "sememe"):
    """Every parser of the command line, with its command path."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


PARSERS = dict(_parsers(build_parser()))


@pytest.fixture
def docs(tmp_path):
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(DOCS) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def stdin(monkeypatch):
    """Feed text to the command's stdin (an in-process run reads ``sys.stdin``)."""

    def feed(text: str) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))

    return feed


# ------------------------------------------------------------------------- help text
@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_option_and_argument_has_help(command):
    """Walks every subcommand: an action without help (or an empty one) fails here.
    Hidden aliases (``help=SUPPRESS``) are deliberate and allowed."""
    missing = [
        "/".join(a.option_strings) or a.dest
        for a in PARSERS[command]._actions
        if not isinstance(a, argparse._SubParsersAction)
        and (a.help is None or (a.help != argparse.SUPPRESS and not a.help.strip()))
    ]
    assert not missing, f"{command}: no help for {missing}"


def test_the_walk_sees_every_subcommand():
    assert {"sememe encode", "sememe index build", "sememe classify predict"} <= set(PARSERS)
    assert len(PARSERS) >= 12


@pytest.mark.parametrize("command", sorted(PARSERS))
def test_every_command_that_writes_a_path_has_mkdir(command):
    parser = PARSERS[command]
    dests = {a.dest for a in parser._actions}
    writes = dests & {"output", "report", "plot", "html"}
    if writes:
        assert "mkdir" in dests, f"{command} writes {writes} but has no --mkdir"


def test_top_level_help_states_the_conventions(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "'-' as an input file reads stdin" in out and "--mkdir" in out


# ------------------------------------------------------------------ options anywhere
@pytest.fixture
def index_dir(tmp_path, docs):
    out = tmp_path / "idx"
    assert main(["index", "build", str(docs), "-o", str(out), "-q"]) == 0
    return out


@pytest.mark.parametrize(
    "argv",
    [
        ["{idx}", "-k", "1", "kernel"],
        ["{idx}", "--json", "kernel", "-k", "1"],
        ["-k", "1", "{idx}", "kernel"],
        ["{idx}", "kernel", "-k", "1", "--json"],
    ],
)
def test_search_takes_options_between_and_after_arguments(index_dir, capsys, argv):
    argv = [a.replace("{idx}", str(index_dir)) for a in argv]
    assert main(["search", *argv]) == 0
    out = capsys.readouterr().out
    if "--json" in argv:
        row = json.loads(out)
        assert row["query"] == "kernel" and len(row["hits"]) == 1
        assert "kernel" in row["hits"][0]["text"]
    else:
        assert "kernel" in out and len(out.strip().splitlines()) == 2  # header + 1 hit


def test_search_with_two_queries_and_options_between(index_dir, capsys):
    assert main(["search", str(index_dir), "kernel", "-k", "1", "--json", "cats"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["query"] for r in rows] == ["kernel", "cats"]


def test_options_before_the_input_and_after_it(tmp_path, docs):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    assert main(["dedupe", "-t", "0.5", str(docs), "-o", str(a), "-q"]) == 0
    assert main(["dedupe", str(docs), "-o", str(b), "-q", "-t", "0.5"]) == 0
    assert a.read_text() == b.read_text()


# ------------------------------------------------------------------- '-' and stdout
def test_encode_writes_npy_to_stdout_when_it_is_not_a_terminal(docs, capfdbinary):
    assert main(["encode", str(docs), "-q"]) == 0
    data = capfdbinary.readouterr().out
    vectors = np.load(io.BytesIO(data))
    np.testing.assert_allclose(vectors, sememe.load().encode(DOCS), atol=1e-6)
    assert main(["encode", str(docs), "-o", "-", "-q"]) == 0
    assert capfdbinary.readouterr().out == data


def test_encode_refuses_binary_on_a_terminal(docs, capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["encode", str(docs)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refusing to write binary data to a terminal" in err


def test_encode_reads_stdin(stdin, capfdbinary):
    stdin("\n".join(DOCS) + "\n")
    assert main(["encode", "-", "-q"]) == 0
    assert np.load(io.BytesIO(capfdbinary.readouterr().out)).shape == (3, 256)


def test_dedupe_writes_kept_records_to_stdout(tmp_path, capsys):
    src = tmp_path / "d.jsonl"
    rows = [{"text": "the cat sat", "n": 1}, {"text": "The cat sat", "n": 2}, {"text": "dogs"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert main(["dedupe", str(src)]) == 0
    captured = capsys.readouterr()
    kept = [json.loads(line) for line in captured.out.splitlines()]
    assert kept == [rows[0], rows[2]]  # the input's format, exact duplicate removed
    assert "-> stdout" in captured.err


@pytest.mark.parametrize("stream", [[], ["--stream"]])
def test_dedupe_is_a_filter_from_stdin_to_stdout(stdin, capsys, stream):
    stdin("a cat\nA cat\nbanks\n")
    assert main(["dedupe", "-", "-o", "-", "-q", *stream]) == 0
    assert capsys.readouterr().out == "a cat\nbanks\n"


def test_dedupe_report_to_stdout(tmp_path, docs, capsys):
    out = tmp_path / "kept.txt"
    dup = tmp_path / "dup.txt"
    dup.write_text("a cat\nA cat\n", encoding="utf-8")
    assert main(["dedupe", str(dup), "-o", str(out), "--report", "-", "-q"]) == 0
    report = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(report) == 1 and out.read_text() == "a cat\n"


def test_two_outputs_to_stdout_are_refused(docs, capsys):
    assert main(["dedupe", str(docs), "-o", "-", "--report", "-"]) == 1
    assert "already goes to stdout" in capsys.readouterr().err


def test_stdin_for_two_inputs_is_refused(capsys):
    assert main(["dedupe", "-", "--against", "-"]) == 1
    assert "stdin can be read once" in capsys.readouterr().err


def test_cluster_labels_to_stdout_and_the_table_to_stderr(tmp_path, capsys):
    src = tmp_path / "c.txt"
    src.write_text("\n".join(["cats", "kittens", "banks", "loans"] * 3) + "\n")
    assert main(["cluster", str(src), "-n", "2", "-o", "-"]) == 0
    captured = capsys.readouterr()
    labels = captured.out.split()
    assert len(labels) == 12 and set(labels) <= {"0", "1"}
    assert "| cluster | size |" in captured.err


def test_chunk_output_dash_is_stdout(tmp_path, capsys):
    src = tmp_path / "doc.txt"
    src.write_text("One sentence here. Another one there.", encoding="utf-8")
    assert main(["chunk", str(src), "-o", "-", "-q", "--chunker", "token"]) == 0
    chunk = json.loads(capsys.readouterr().out.splitlines()[0])
    assert chunk["start"] == 0 and not (tmp_path / "-").exists()


def test_classify_train_reads_jsonl_from_stdin(tmp_path, stdin):
    rows = [{"text": t, "label": lab} for t, lab in [("cat", "a"), ("dog", "a"), ("bank", "b")]]
    stdin("".join(json.dumps(r) + "\n" for r in rows * 3))
    assert main(["classify", "train", "-", "-o", str(tmp_path / "clf"), "-q"]) == 0
    assert (tmp_path / "clf").is_dir()


@pytest.mark.parametrize(
    "argv",
    [["index", "build", "{docs}", "-o", "-"], ["classify", "train", "{docs}", "-o", "-"]],
)
def test_folder_outputs_cannot_be_stdout(docs, capsys, argv):
    assert main([a.replace("{docs}", str(docs)) for a in argv]) == 1
    assert "is a folder and cannot go to stdout" in capsys.readouterr().err


# ------------------------------------------------------------------- parent folders
@pytest.mark.parametrize(
    "argv",
    [
        ["encode", "{docs}", "-o", "{out}/v.npy"],
        ["dedupe", "{docs}", "-o", "{out}/kept.txt"],
        ["dedupe", "{docs}", "-o", "{tmp}/k.txt", "--report", "{out}/r.jsonl"],
        ["cluster", "{docs}", "-n", "2", "-o", "{out}/labels.txt"],
        ["chunk", "{docs}", "-o", "{out}/c.jsonl"],
        ["chunk", "{docs}", "--html", "{out}/c.html", "-o", "{tmp}/c.jsonl"],
        ["index", "build", "{docs}", "-o", "{out}/idx"],
    ],
)
def test_missing_parent_is_an_error_unless_mkdir(tmp_path, docs, capsys, argv):
    out = tmp_path / "missing" / "deeper"
    argv = [
        a.replace("{docs}", str(docs)).replace("{out}", str(out)).replace("{tmp}", str(tmp_path))
        for a in argv
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"folder {tmp_path / 'missing'} does not exist" in err and "--mkdir" in err
    assert not (tmp_path / "missing").exists()
    assert main([*argv, "--mkdir", "-q"]) == 0
    assert any(out.iterdir())


# ----------------------------------------------------------------------- progress
def test_no_progress_output_when_stderr_is_not_a_terminal(tmp_path, docs, capsys, monkeypatch):
    monkeypatch.setenv("SEMEME_PROGRESS_DELAY", "0")
    assert main(["index", "build", str(docs), "-o", str(tmp_path / "i")]) == 0
    err = capsys.readouterr().err
    assert err.startswith("indexed 3 documents") and "\r" not in err


def test_phases_are_silent_outside_a_scope(capsys):
    with _progress.phase("building the index", 10) as bar:
        bar.update(10)
    with _progress.ticking("writing"):
        pass
    assert capsys.readouterr().err == ""


def test_a_showing_scope_names_the_phase(capsys, monkeypatch):
    monkeypatch.setenv("SEMEME_PROGRESS_DELAY", "0")
    with _progress.progress_scope(True), _progress.phase("searching pairs", 4) as bar:
        bar.update(4)
    assert "searching pairs" in capsys.readouterr().err


def test_a_silent_scope_silences_even_forced_library_bars(capsys):
    with _progress.progress_scope(False), _progress.progress(10**6, None, "encode") as bar:
        bar.update(1)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("text,expected", [("0", 0.0), ("2.5", 2.5), ("x", 1.0), ("-1", 1.0)])
def test_progress_delay_from_the_environment(monkeypatch, text, expected):
    monkeypatch.setenv("SEMEME_PROGRESS_DELAY", text)
    assert _progress.delay() == expected


def test_blocks_do_not_change_an_ivf_index(default, monkeypatch, capsys):
    """The structure is filled in blocks (one bar update each): same answers as one call."""
    from sememe.index import Index, _engine

    rng = np.random.default_rng(0)
    words = ["cat", "dog", "bank", "loan", "river", "fish", "stock", "market", "rate", "park"]
    texts = [" ".join(rng.choice(words, 4)) + f" {i}" for i in range(600)]

    def build() -> list:
        index = Index(default, factory="IVF8,Flat", exact_limit=10)
        index.add(texts)
        return [[(h.id, round(h.score, 5)) for h in hits] for hits in index.search(texts[:20], 5)]

    whole = build()
    monkeypatch.setattr(_engine, "_ADD_BLOCK", 64)
    monkeypatch.setattr(_engine, "_SEARCH_BLOCK", 7)
    monkeypatch.setenv("SEMEME_PROGRESS_DELAY", "0")
    with _progress.progress_scope(True):
        blocked = build()
    assert blocked == whole
    err = capsys.readouterr().err
    assert "building the index" in err and "searching" in err


# --------------------------------------------------------------------- chunk --html
def test_chunk_html_marks_every_cut(tmp_path, capsys):
    src = tmp_path / "doc.md"
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    src.write_text(text, encoding="utf-8")
    page = tmp_path / "view.html"
    out = tmp_path / "c.jsonl"
    argv = ["chunk", str(src), "--chunker", "token", "--max-tokens", "20", "-q"]
    assert main([*argv, "--html", str(page), "-o", str(out)]) == 0
    chunks = [json.loads(line) for line in out.read_text().splitlines()]
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert html.count('class="cut"') == len(chunks) > 1
    assert main([*argv, "--html", "-", "-o", str(out)]) == 0
    assert capsys.readouterr().out == html


def test_chunk_html_and_chunks_cannot_both_go_to_stdout(tmp_path, capsys):
    src = tmp_path / "doc.txt"
    src.write_text("text", encoding="utf-8")
    assert main(["chunk", str(src), "--html", "-"]) == 1
    assert "both go to stdout" in capsys.readouterr().err


def _visible_text(page: str) -> str:
    """The document text of a page: the .doc div, markers and tags removed, unescaped."""
    import html as html_lib

    body = page.split('<div class="doc">', 1)[1].rsplit("</div>", 1)[0]
    body = re.sub(r'<span class="cut"[^>]*>.*?</span>', "", body)
    return html_lib.unescape(re.sub(r"<[^>]+>", "", body))


@settings(max_examples=40, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab <>&\"'\n.é✂")),
        min_size=0,
        max_size=200,
    ),
    st.integers(8, 16),  # one character may be several tokens (✂ is 4)
)
def test_chunks_html_shows_the_source_exactly(default, text, max_tokens):
    chunks = TokenChunker(default, max_tokens=max_tokens).chunk(text)
    page = chunks_html(text, chunks, title="<t>")
    assert _visible_text(page) == text
    assert page.count('class="cut"') == len(chunks)
    assert "<title>&lt;t&gt;</title>" in page


def test_chunks_html_refuses_chunks_of_another_text():
    good = Chunk("abc", 0, 3, 1, 0)
    with pytest.raises(InvalidArgumentError, match="not source"):
        chunks_html("xyz", [good])
    with pytest.raises(InvalidArgumentError, match="out of order"):
        chunks_html("abcabc", [Chunk("abc", 3, 6, 1, 0), good])
    with pytest.raises(InvalidArgumentError, match="outside the source"):
        chunks_html("ab", [good])
    with pytest.raises(InvalidTypeError, match="expected a Chunk"):
        chunks_html("abc", [{"text": "abc"}])
    with pytest.raises(InvalidTypeError, match="source must be a str"):
        documents_html([("doc", b"abc", [good])])


def test_no_reading_bar_while_someone_types_on_stdin(monkeypatch):
    import contextlib

    from sememe.cli.common import reading

    monkeypatch.setenv("SEMEME_PROGRESS_DELAY", "0")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    with _progress.progress_scope(True):
        assert isinstance(reading("-"), contextlib.nullcontext)
        assert isinstance(reading("file.txt"), _progress._Ticker)


# ------------------------------------------------------- phases of cluster, chunk, classify
class _Recorded:
    """A bar or ticker that records its phase name and how far it counted."""

    def __init__(self, log: list, desc: str, total: int | None = None) -> None:
        self.desc, self.total, self.n = desc, total, 0
        log.append(self)

    def update(self, n: int = 1) -> None:
        self.n += n

    def __enter__(self) -> _Recorded:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


@pytest.fixture
def phases(monkeypatch):
    """Run the CLI as if stderr were a terminal (a showing scope unless --quiet), recording
    every phase bar and ticker it opens (name, total, count) instead of drawing them:
    which phases a command reports is then checked exactly, with no race against a
    ticker's thread. (tests/test_cli_pty.py runs the real thing on a terminal.)"""
    from sememe.cli import common
    from sememe.cli import main as cli_main

    log: list[_Recorded] = []
    for module in (common, cli_main):
        monkeypatch.setattr(module, "progress_enabled", lambda args: not args.quiet)
    monkeypatch.setattr(
        _progress, "_bar", lambda total, desc, unit, wait: _Recorded(log, desc, total)
    )
    monkeypatch.setattr(_progress, "_Ticker", lambda desc: _Recorded(log, desc))
    return log


def _names(log: list) -> list[str]:
    return [r.desc for r in log]


def _topics(n: int) -> list[str]:
    rng = np.random.default_rng(1)
    groups = [["cat", "dog", "mat", "purr"], ["bank", "loan", "rate", "stock"], ["kernel", "boot"]]
    return [" ".join(rng.choice(groups[i % 3], 5)) + f" {i}" for i in range(n)]


def test_cluster_reports_choosing_k_and_the_clustering(tmp_path, phases, capsys):
    path = tmp_path / "t.txt"
    path.write_text("\n".join(_topics(120)) + "\n", encoding="utf-8")
    assert main(["cluster", str(path), "-o", str(tmp_path / "a.txt")]) == 0
    names = _names(phases)
    assert {"reading", "encoding", "choosing k", "clustering (k-means)"} <= set(names), names
    (choose,) = [r for r in phases if r.desc == "choosing k"]
    assert choose.total >= 2 and choose.n == choose.total  # one tick per candidate k
    phases.clear()
    assert main(["cluster", str(path), "--method", "hdbscan", "-o", str(tmp_path / "b.txt")]) == 0
    assert "clustering (HDBSCAN)" in _names(phases) and "choosing k" not in _names(phases)
    # the same labels as a run with no progress at all
    assert main(["cluster", str(path), "-o", str(tmp_path / "q.txt"), "-q"]) == 0
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "q.txt").read_bytes()


def test_index_build_chunk_reports_chunking_and_the_lexical_side(tmp_path, phases, capsys):
    path = tmp_path / "d.jsonl"
    docs = [" ".join(_topics(40)[i : i + 8]) for i in range(0, 40, 4)]
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    assert main(["index", "build", str(path), "-o", str(tmp_path / "i"), "--chunk"]) == 0
    by_name = {r.desc: r for r in phases}
    assert {"chunking", "building the lexical index", "writing the lexical index"} <= set(by_name)
    assert by_name["chunking"].total == by_name["chunking"].n == len(docs)  # per document
    lexical = by_name["building the lexical index"]
    assert lexical.total == lexical.n > 0  # every chunk handed to the BM25 side


def test_classify_train_reports_fitting_the_head(tmp_path, phases, capsys):
    data = Path(__file__).resolve().parents[1] / "examples" / "data" / "bank_messages.jsonl"
    assert main(["classify", "train", str(data), "-o", str(tmp_path / "c")]) == 0
    assert {"encoding", "fitting LogisticRegression"} <= set(_names(phases))


def test_fine_tuning_ticks_per_epoch_and_changes_nothing(tiny, phases):
    pytest.importorskip("torch")
    from sememe.classify import StaticClassifier

    texts = _topics(30)
    labels = [i % 3 for i in range(30)]

    def fit() -> StaticClassifier:
        return StaticClassifier(encoder=tiny, fine_tune="weights", epochs=2).fit(texts, labels)

    quiet = fit()  # no scope: nothing recorded
    assert phases == []
    with _progress.progress_scope(True):
        shown = fit()
    (tune,) = [r for r in phases if r.desc == "fine-tuning"]
    assert tune.total == 2 and 1 <= tune.n <= 2  # one tick per epoch it ran
    assert "fitting the starting LogisticRegression" in _names(phases)
    np.testing.assert_array_equal(quiet.predict_proba(texts), shown.predict_proba(texts))


def test_chunking_in_blocks_gives_the_chunks_of_one_call(default, monkeypatch):
    from sememe.chunking import SemanticChunker
    from sememe.index import _documents

    docs = [" ".join(_topics(30)[i : i + 6]) for i in range(0, 30, 3)]
    chunker = SemanticChunker(default, max_tokens=16)
    whole = _documents.chunk_documents(docs, None, None, chunker, set())
    monkeypatch.setattr(_documents, "_BLOCK_DOCUMENTS", 3)
    monkeypatch.setattr(_documents, "_BLOCK_CHARS", 200)
    assert _documents.chunk_documents(docs, None, None, chunker, set()) == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 50)), st.integers(1, 5), st.integers(1, 120))
def test_document_blocks_cover_every_document_within_the_limits(lengths, most, chars):
    from sememe.index import _documents

    docs = ["x" * n for n in lengths]
    old = _documents._BLOCK_DOCUMENTS, _documents._BLOCK_CHARS
    _documents._BLOCK_DOCUMENTS, _documents._BLOCK_CHARS = most, chars
    try:
        blocks = _documents._blocks(docs)
    finally:
        _documents._BLOCK_DOCUMENTS, _documents._BLOCK_CHARS = old
    assert [i for lo, hi in blocks for i in range(lo, hi)] == list(range(len(docs)))
    for lo, hi in blocks:
        assert 1 <= hi - lo <= most
        assert hi - lo == 1 or sum(lengths[lo:hi]) <= chars  # only a lone long one exceeds


def test_lexical_blocks_give_the_same_bm25_answers(default, monkeypatch):
    from sememe.index import Index, _lexical

    texts = _topics(90)

    def hits() -> list:
        index = Index(default, lexical=True)
        index.add(texts)
        found = index.search(["kernel boot", "bank loan 7"], 5, mode="lexical")
        return [[(h.id, round(h.score, 5)) for h in q] for q in found]

    whole = hits()
    monkeypatch.setattr(_lexical, "_ADD_BLOCK", 7)
    assert hits() == whole
