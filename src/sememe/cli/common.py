"""Options shared by several subcommands, and the argparse types that validate numbers.

Counts (batch sizes, ``-k``, token limits, ...) go through :func:`positive_int` and
friends, so ``--batch-size 0`` is refused by argparse with a usage line and exit code 2
before any file is read, instead of reaching the library (or silently writing nothing).
Thresholds go through :func:`finite_float`: ``nan`` passes every ``<`` comparison and
must never reach a decision.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
from collections.abc import Callable
from pathlib import Path

from .._folder import prepare_target
from ..errors import FolderExistsError, MissingDependencyError


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
        "--format", choices=["txt", "jsonl", "csv"], default=None, help="default: by extension"
    )
    p.add_argument("--field", default=None, help="text field of jsonl/csv records (default: text)")


def show_progress(args: argparse.Namespace, n: int) -> bool:
    """Progress bars for long work on a terminal, never with --quiet."""
    return not args.quiet and sys.stderr.isatty() and n >= 10_000


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
