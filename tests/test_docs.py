"""The documentation runs: every code block in README.md and docs/*.md, and the site build.

The convention (docs/contributing-docs.md states it for writers):

- ```python blocks of a page run in order in one namespace, in a temporary working directory
  holding a copy of ``examples/data`` (so ``examples/data/sample.txt`` works as in the repo).
  A top-level expression whose last line ends in ``# -> <repr>`` must have that repr (doctest's
  ELLIPSIS and NORMALIZE_WHITESPACE rules, so ``...`` matches anything); a remark may follow
  after two spaces: ``x  # -> 3  # why``.
- ```pycon blocks are doctests in the same namespace.
- ```bash blocks run as ``bash -e -o pipefail`` scripts in the same directory; ```console blocks
  run each ``$ command`` and compare what it prints (stdout and stderr) with the lines shown under
  it, by the same doctest rules.
- ```text (and other non-code languages) are shown, never run; a fence without a language is an
  error, so no code block is skipped silently.
- ``<!-- not-run: <reason> -->`` on the line right before a fence skips that block; the reason is
  required. ``<!-- ci:install -->`` / ``<!-- ci:test -->`` blocks are the commands ``.ci/run``
  executes, so they are not run again here.

Each block is its own test item named by page and line (``docs/search.md:7``); a page runs once
(the first item that needs it), later items read the recorded outcome of their block.
"""

from __future__ import annotations

import ast
import contextlib
import doctest
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", *DOCS.glob("*.md")])

#: Languages that are executed; everything else must be one of SHOWN.
RUN = {"python", "pycon", "bash", "console"}
#: Languages that are shown only (output, file trees, synopses, data).
SHOWN = {"text", "json", "jsonl", "csv", "toml", "yaml", "html", "markdown", "md"}

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^`]*)$")
NOT_RUN = re.compile(r"^<!--\s*not-run:(?P<reason>.*?)-->\s*$")
CI_MARK = re.compile(r"^<!--\s*ci:[a-z-]+\s*-->\s*$")
#: ``expr  # -> repr`` or ``expr  # -> repr  # a remark`` (two spaces before the remark's ``#``).
SHOWS = re.compile(r"#\s*->\s?(?P<repr>.*?)(?:\s{2,}#.*)?$")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
TIMEOUT = 180


@dataclass
class Block:
    """One fenced code block of a page."""

    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    skip: str | None = None  # why it is not run (not-run reason or ci marker)
    problem: str | None = None  # a convention broken by the block itself

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def parse_blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` with their language and skip marker."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, indent, fence = i, len(m["indent"]), m["fence"]
        lang = m["info"].strip().split(" ")[0].lower()
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        block = Block(page, start + 1, lang, "\n".join(body) + "\n")
        before = lines[start - 1].strip() if start > 0 else ""
        marker = NOT_RUN.match(before)
        if marker:
            reason = marker["reason"].strip()
            block.skip = reason
            if not reason:
                block.problem = "a not-run marker needs a reason: <!-- not-run: why -->"
        elif CI_MARK.match(before):
            block.skip = f"run by .ci/run ({before.strip('<!-> ')})"
        if not lang:
            block.problem = "a fence without a language (use python, bash, console or text)"
        elif lang not in RUN | SHOWN:
            block.problem = f"unknown block language {lang!r}"
        blocks.append(block)
    return blocks


ALL_BLOCKS = [b for page in PAGES for b in parse_blocks(page)]


# ---------------------------------------------------------------------------------------------
# Running a page


@dataclass
class PageRun:
    """The outcome of every block of one page, run in order in one namespace and directory."""

    errors: dict[int, str] = field(default_factory=dict)


_RUNS: dict[Path, PageRun] = {}
_CHECKER = doctest.OutputChecker()


def _matches(want: str, got: str) -> bool:
    return _CHECKER.check_output(want.strip() + "\n", got.strip() + "\n", FLAGS)


def _run_python(block: Block, ns: dict) -> None:
    tree = ast.parse(block.code, filename=block.name)
    ast.increment_lineno(tree, block.line)  # line numbers in tracebacks are page lines
    lines = block.code.splitlines()
    for stmt in tree.body:
        last = lines[stmt.end_lineno - block.line - 1]  # type: ignore[operator]
        shown = SHOWS.search(last)
        filename = str(block.page)
        if shown and not isinstance(stmt, ast.Expr):
            raise AssertionError(
                f"line {stmt.end_lineno}: '# ->' follows a statement, not an expression"
            )
        if shown:
            expr = ast.Expression(stmt.value)  # type: ignore[attr-defined]
            value = eval(compile(expr, filename, "eval"), ns)
            if not _matches(shown["repr"], repr(value)):
                raise AssertionError(
                    f"line {stmt.end_lineno}: shown {shown['repr']!r}, got {value!r}"
                )
        else:
            exec(compile(ast.Module([stmt], []), filename, "exec"), ns)


def _run_pycon(block: Block, ns: dict) -> None:
    test = doctest.DocTestParser().get_doctest(block.code, ns, block.name, str(block.page), 0)
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=out.write, clear_globs=False)
    ns.update(test.globs)  # DocTest works on a copy; later blocks see its names
    if runner.failures:
        raise AssertionError(out.getvalue())


def _shell_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.pop("FORCE_COLOR", None)
    env["COLUMNS"] = "100"
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleave as on a terminal
    return env


def _run_bash(block: Block, cwd: Path) -> None:
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code],
        cwd=cwd,
        env=_shell_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise AssertionError(f"exit status {done.returncode}\n{done.stdout}\n{done.stderr}")


def _console_steps(code: str) -> list[tuple[str, str]]:
    steps: list[tuple[str, str]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], ""))
        elif steps:
            steps[-1] = (steps[-1][0], steps[-1][1] + line + "\n")
        elif line.strip():
            raise AssertionError("a console block starts with '$ command'")
    return steps


def _run_console(block: Block, cwd: Path) -> None:
    for command, want in _console_steps(block.code):
        done = subprocess.run(
            ["bash", "-o", "pipefail", "-c", command],
            cwd=cwd,
            env=_shell_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        expect_error = "sememe: error:" in want
        if (done.returncode != 0) != expect_error:
            raise AssertionError(f"$ {command}\nexit status {done.returncode}\n{done.stdout}")
        if want.strip() and not _matches(want, done.stdout):
            raise AssertionError(f"$ {command}\nshown:\n{want}\ngot:\n{done.stdout}")


def run_page(page: Path) -> PageRun:
    """Run every block of ``page`` once; later calls return the recorded outcome."""
    if page in _RUNS:
        return _RUNS[page]
    run = _RUNS[page] = PageRun()
    work = Path(tempfile.mkdtemp(prefix="sememe-docs-"))
    shutil.copytree(ROOT / "examples" / "data", work / "examples" / "data")
    ns: dict = {"__name__": "__docs__"}
    old = Path.cwd()
    os.chdir(work)
    try:
        for block in parse_blocks(page):
            if block.skip is not None or block.problem or block.lang not in RUN:
                continue
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    if block.lang == "python":
                        _run_python(block, ns)
                    elif block.lang == "pycon":
                        _run_pycon(block, ns)
                    elif block.lang == "bash":
                        _run_bash(block, work)
                    else:
                        _run_console(block, work)
            except Exception:
                run.errors[block.line] = traceback.format_exc(limit=-3)
    finally:
        os.chdir(old)
        shutil.rmtree(work, ignore_errors=True)
    return run


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: f"{b.name}-{b.lang or 'none'}")
def test_code_block(block: Block) -> None:
    """Each block follows the convention and, where it is code, runs and shows what it gives."""
    if block.problem is not None:
        pytest.fail(f"{block.name}: {block.problem}", pytrace=False)
    if block.skip is not None:
        pytest.skip(f"{block.name}: {block.skip}")
    if block.lang not in RUN:
        return  # shown text: nothing to run
    error = run_page(block.page).errors.get(block.line)
    if error is not None:
        pytest.fail(f"{block.name} ({block.lang}) failed:\n{error}", pytrace=False)


# ---------------------------------------------------------------------------------------------
# The conventions themselves (the runner above must be able to fail)


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(textwrap.dedent(text), encoding="utf-8")
    return page


def test_parser_reads_languages_markers_and_lines(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        """\
        # t
        <!-- not-run: needs a cluster -->
        ```bash
        spark-submit job.py
        ```
        <!-- not-run: -->
        ```python
        x = 1
        ```
        ```
        bare
        ```
        """,
    )
    a, b, c = (Block(**{**vars(x), "page": x.page}) for x in parse_blocks(page))
    assert (a.line, a.lang, a.skip, a.problem) == (3, "bash", "needs a cluster", None)
    assert b.problem is not None and "reason" in b.problem
    assert c.problem is not None and "language" in c.problem


def test_shown_values_are_checked() -> None:
    ns: dict = {}
    good = Block(ROOT / "x.md", 1, "python", "x = [1, 2]\nlen(x)  # -> 2\nx  # -> [1, ...]\n")
    _run_python(good, ns)
    bad = Block(ROOT / "x.md", 1, "python", "len([1])  # -> 2\n")
    with pytest.raises(AssertionError, match="shown '2', got 1"):
        _run_python(bad, ns)
    statement = Block(ROOT / "x.md", 1, "python", "y = 3  # -> 3\n")
    with pytest.raises(AssertionError, match="not an expression"):
        _run_python(statement, ns)


def test_pycon_and_console_outputs_are_checked(tmp_path: Path) -> None:
    _run_pycon(Block(ROOT / "x.md", 1, "pycon", ">>> 1 + 1\n2\n"), {})
    with pytest.raises(AssertionError):
        _run_pycon(Block(ROOT / "x.md", 1, "pycon", ">>> 1 + 1\n3\n"), {})
    _run_console(Block(ROOT / "x.md", 1, "console", "$ echo hello world\nhello ...\n"), tmp_path)
    with pytest.raises(AssertionError, match="shown"):
        _run_console(Block(ROOT / "x.md", 1, "console", "$ echo hello\nbye\n"), tmp_path)
    with pytest.raises(AssertionError, match="exit status"):
        _run_console(Block(ROOT / "x.md", 1, "console", "$ false\n"), tmp_path)


def test_every_page_is_in_the_site_nav() -> None:
    """A page missing from mkdocs.yml's nav would be built but never linked."""
    yaml = pytest.importorskip("yaml", reason="PyYAML comes with the docs extra (mkdocs)")
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_loader(yaml))
    listed: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, str):
            listed.add(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(config["nav"])
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert pages - listed == set(), "pages missing from mkdocs.yml nav"


def _loader(yaml):  # mkdocs.yml uses !!python/name tags (material's emoji); read them as text
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    return Loader


def test_site_builds_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict``: no broken link, anchor, nav entry or docstring reference."""
    pytest.importorskip("mkdocs", reason="install the docs extra: pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings", reason="install the docs extra: pip install -e '.[docs]'")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert (tmp_path / "site" / "reference" / "index.html").exists()
    assert (tmp_path / "site" / "getting-started" / "index.html").exists()


# ---------------------------------------------------------------------------------------------
# Benchmark figures: copied from benchmarks/results, never typed in

NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def benchmark_rows() -> list[tuple[int, dict[str, str]]]:
    """Rows of docs/benchmarks.md's tables that name a ``source`` results file."""
    rows: list[tuple[int, dict[str, str]]] = []
    header: list[str] | None = None
    page = DOCS / "benchmarks.md"
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(line) <= set("|-: ") and "source" in header:
            rows.append((number, dict(zip(header, cells, strict=True))))
    return rows


@pytest.mark.parametrize("row", benchmark_rows(), ids=lambda r: f"benchmarks.md:{r[0]}")
def test_benchmark_figures_come_from_results(row: tuple[int, dict[str, str]]) -> None:
    _, cells = row
    source = ROOT / "benchmarks" / "results" / cells["source"].strip("`")
    assert source.is_file(), f"{source} does not exist"
    text = source.read_text(encoding="utf-8")
    descriptive = {"what", "set", "source", "command"}
    figures = [n for k, v in cells.items() if k not in descriptive for n in NUMBER.findall(v)]
    assert figures, "a row without figures"
    missing = [n for n in figures if n not in text]
    assert not missing, f"{missing} not in {source.relative_to(ROOT)}"


def test_benchmark_rows_are_found() -> None:
    assert len(benchmark_rows()) >= 10


def test_pictures_are_current(tmp_path: Path) -> None:
    """docs/images/ shows what the code gives now (rerun scripts/docs_images.py when not)."""
    pytest.importorskip("matplotlib", reason="the pictures need matplotlib (the docs extra)")
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("docs_images", ROOT / "scripts/docs_images.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    now = {
        "cluster_map": module.cluster_map(tmp_path / "c.png"),
        "chunking_view": module.chunking_view(tmp_path / "v.png", tmp_path / "v.html"),
    }
    recorded = json.loads((DOCS / "images" / "images.json").read_text(encoding="utf-8"))
    assert json.loads(json.dumps(now)) == recorded, "stale pictures: python scripts/docs_images.py"
    for name in ("cluster_map.png", "chunking_view.png", "chunking_view.html"):
        assert (DOCS / "images" / name).stat().st_size > 1000
