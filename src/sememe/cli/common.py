"""Options shared by several subcommands, and the argparse types that validate numbers.

Counts (batch sizes, ``-k``, token limits, ...) go through :func:`positive_int` and
friends, so ``--batch-size 0`` is refused by argparse with a usage line and exit code 2
before any file is read, instead of reaching the library (or silently writing nothing).
Thresholds go through :func:`finite_float`: ``nan`` passes every ``<`` comparison and
must never reach a decision.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._folder import prepare_target
from .._progress import ticking
from ..errors import FolderExistsError, InputError, MissingDependencyError


def _int(text: str) -> int:
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    """argparse ``type=`` for a count that must be at least 1."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (1 or more), got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """argparse ``type=`` for a count where 0 means "none" (e.g. ``--min-tokens 0``)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def int_at_least(low: int) -> Callable[[str], int]:
    """argparse ``type=`` for an integer >= ``low`` (HDBSCAN's smallest cluster is 2)."""

    def parse(text: str) -> int:
        value = _int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return value

    parse.__name__ = f"int_at_least_{low}"
    return parse


def finite_float(text: str) -> float:
    """argparse ``type=`` for a number that must be finite (no ``nan``, no ``inf``)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse ``type=`` for a finite number > 0 (e.g. an inverse regularisation ``-C``)."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """argparse ``type=`` for a share in [0, 1) (``--holdout``: 0 holds nothing out)."""
    value = finite_float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1), got {text!r}")
    return value


#: Optional dependencies a subcommand may need: module -> the extra that installs it.
EXTRAS = {"matplotlib": "plot", "pandas": "pandas", "torch": "train", "transformers": "train"}


def require(module: str, what: str) -> None:
    """Raise :class:`MissingDependencyError` naming the extra unless ``module`` imports.

    Subcommands call this before reading any input, so a missing optional dependency is
    reported at once, as one line, and never after minutes of work.
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-installed package
        found = False
    if not found:
        extra = EXTRAS.get(module)
        how = f'pip install "sememe[{extra}]"' if extra else f"pip install {module}"
        raise MissingDependencyError(f"{what} needs {module}, which is not installed: {how}")


def check_target(path: Path, kind: str, overwrite: bool) -> None:
    """Refuse, before any work, an output folder that a save of ``kind`` would refuse.

    Only a missing path, an empty folder or (with ``--overwrite``) a sememe folder of the
    same kind is accepted: never a file or a folder of the user's own files. The library's
    save checks again and alone replaces anything; nothing is deleted here. This only
    spares the user a long run whose result cannot be saved.
    """
    try:
        prepare_target(path, kind, overwrite=overwrite)
    except FolderExistsError as exc:
        message = str(exc).replace("pass overwrite=True", "pass --overwrite")
        raise FolderExistsError(message) from None


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--model`` and ``--dim``."""
    p.add_argument("-m", "--model", default=None, help="model name or folder (default: bundled)")
    p.add_argument("--dim", type=positive_int, default=None, help="keep the first DIM dimensions")


def add_input_options(p: argparse.ArgumentParser) -> None:
    """The input file (or stdin) and how to read it."""
    p.add_argument("input", nargs="?", default="-", help="txt/jsonl/csv file; '-' or absent: stdin")
    p.add_argument(
        "--format",
        choices=["txt", "jsonl", "csv"],
        default=None,
        help="input format (default: by extension; stdin: txt)",
    )
    p.add_argument("--field", default=None, help="text field of jsonl/csv records (default: text)")


def add_output_option(p: argparse.ArgumentParser, help: str, *, required: bool = False) -> None:
    """``-o/--output PATH`` (kept as text: ``'-'`` is stdout) and ``--mkdir``."""
    p.add_argument("-o", "--output", required=required, default=None, metavar="PATH", help=help)
    add_mkdir_option(p)


def add_mkdir_option(p: argparse.ArgumentParser) -> None:
    """``--mkdir``: create missing parent folders of every output path."""
    p.add_argument(
        "--mkdir",
        action="store_true",
        help="create missing parent folders of the output paths (default: refuse them)",
    )


def is_stdio(value: str | Path | None) -> bool:
    """Whether a path argument means stdin/stdout: absent or ``'-'``."""
    return value is None or str(value) == "-"


def output_path(value: str | Path | None) -> Path | None:
    """An output argument as a path, ``None`` for stdout (absent or ``'-'``)."""
    return None if is_stdio(value) else Path(value)  # type: ignore[arg-type]


def check_parent(path: Path, mkdir: bool, option: str = "--output") -> None:
    """Refuse an output whose parent folder is missing, or create it with ``--mkdir``.

    A mistyped folder should be an error naming it, not a new tree of folders.
    """
    parent = path.parent
    if parent.is_dir():
        return
    if parent.exists():
        raise InputError(f"{option} {path}: {parent} is not a folder")
    if not mkdir:
        missing = parent
        while not missing.parent.exists() and missing.parent != missing:
            missing = missing.parent
        raise InputError(
            f"{option} {path}: folder {missing} does not exist; create it or pass --mkdir"
        )
    parent.mkdir(parents=True, exist_ok=True)


def check_folder_output(path: Path, mkdir: bool, option: str = "--output") -> None:
    """A folder output (an index, a classifier): never ``-``, and its parent must exist
    (or is made with ``--mkdir``)."""
    if str(path) == "-":
        raise InputError(
            f"{option} -: this output is a folder and cannot go to stdout; give a path"
        )
    check_parent(Path(path), mkdir, option)


def plain_name(input: str | Path | None, kind: str) -> str:
    """A file name standing for stdout, whose extension writes format ``kind`` the way
    the input is written: a ``.tsv`` input keeps its tabs; stdout is never gzip."""
    name = "" if is_stdio(input) else str(input).removesuffix(".gz")
    return "stdout.tsv" if kind == "csv" and name.endswith(".tsv") else f"stdout.{kind}"


def one_stdin(*inputs: str | Path | None) -> None:
    """Refuse two inputs that both read stdin (the second would read nothing)."""
    if sum(1 for x in inputs if x is not None and str(x) == "-") > 1:
        raise InputError("'-' (stdin) is given for more than one input; stdin can be read once")


def show_progress(args: argparse.Namespace, n: int = 0) -> bool | None:
    """``show_progress=`` for the library: ``None`` (the command's progress scope decides:
    a bar on a terminal for every phase longer than about a second) unless ``--quiet``
    or stderr is not a terminal, then ``False`` (never a bar, whatever the input's size).
    ``n`` is accepted for old callers and ignored."""
    return None if progress_enabled(args) else False


def reading(input: str | Path | None) -> contextlib.AbstractContextManager[Any]:
    """The "reading" phase of ``input``: a ticking bar on a terminal, except while the
    input is a terminal itself (someone typing must not see a bar redrawn over it)."""
    if is_stdio(input) and sys.stdin is not None and sys.stdin.isatty():
        return contextlib.nullcontext()
    return ticking("reading")


def progress_enabled(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal (stderr) and never with ``--quiet``."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


def common_options() -> argparse.ArgumentParser:
    """``--quiet`` and ``--debug``, accepted after the subcommand too (pass as ``parents=``)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no progress bars or summaries",
    )
    p.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors"
    )
    return p
