"""Options shared by several subcommands."""

from __future__ import annotations

import argparse
import sys


def add_model_options(p: argparse.ArgumentParser) -> None:
    """``--model`` and ``--dim``."""
    p.add_argument("-m", "--model", default=None, help="model name or folder (default: bundled)")
    p.add_argument("--dim", type=int, default=None, help="keep the first DIM dimensions")


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
