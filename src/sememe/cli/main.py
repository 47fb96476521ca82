"""Entry point of the ``sememe`` console script."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings
from collections.abc import Collection, Sequence
from typing import Any

from .. import __version__
from .._progress import progress_scope
from ..errors import SememeError
from .common import progress_enabled

#: Listed first in ``sememe --help``; every other module of this package that defines
#: ``register(subparsers)`` is added after them, so a capability adds its subcommand by
#: adding a module here.
FIRST = ["encode", "info"]


def command_modules() -> list[str]:
    """Names of the modules in this package that define a subcommand."""
    names = [
        m.name
        for m in pkgutil.iter_modules(importlib.import_module(__package__).__path__)
        if not m.name.startswith("_")
    ]
    names = [n for n in names if n not in ("main", "common")]
    return [n for n in FIRST if n in names] + sorted(n for n in names if n not in FIRST)


#: Exceptions that mean "the user asked for something impossible", shown as one line:
#: sememe's own errors (raised on purpose for a user's mistake), file-system problems
#: (missing file, no permission, a folder where a file belongs, a full disk) and text
#: that cannot be decoded. Anything else is a bug in sememe and is reported as one.
USER_ERRORS = (SememeError, OSError, UnicodeError)

#: Exit code of an internal error (``EX_SOFTWARE`` of sysexits.h).
EXIT_INTERNAL = 70


class Parser(argparse.ArgumentParser):
    """An argument parser whose commands take options anywhere among their arguments.

    ``sememe search idx -k 1 "kernel"`` puts an option between two positionals; plain
    argparse then gives the index *and* an empty query list to the first word and
    refuses "kernel". A parser without subcommands therefore parses with
    :meth:`~argparse.ArgumentParser.parse_known_intermixed_args` (options first, then
    the positionals in order). A parser with subcommands (``sememe``, ``sememe index``)
    cannot: it parses plainly and hands the rest to the subcommand's parser, which is
    again a :class:`Parser` (argparse makes subparsers of the parent's class).
    """

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls back in here
        try:
            return super().parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


EPILOG = """\
conventions:
  '-' as an input file reads stdin; as an output (-o -) writes stdout.
  Outputs to stdout are written only once the command succeeded. Binary outputs
  (encode's .npy) are refused on a terminal. Options may come before, between or
  after the arguments. The parent folder of an output must exist unless --mkdir.
  Progress bars (on stderr, only when it is a terminal, never with --quiet) name
  each phase that lasts more than about a second (SEMEME_PROGRESS_DELAY seconds).
  Exit codes: 0 success, 1 a user error (one line on stderr), 2 a usage error,
  70 an internal error (a bug; --debug shows the traceback), 130 interrupted.
"""


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The ``sememe`` parser; ``commands`` (default: all) get their full parser.

    Every other subcommand is a stub carrying only its module's ``HELP`` line, which is
    all ``sememe --help`` shows. A command module imports the library inside its
    ``register`` and handlers, so ``sememe info`` never imports scikit-learn, FAISS or
    tantivy, and ``sememe --help`` none of the capabilities.
    """
    parser = Parser(
        prog="sememe",
        description="Semantic text processing on static embeddings.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sememe {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summaries")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_modules():
        module = importlib.import_module(f"{__package__}.{name}")
        if not hasattr(module, "register"):
            continue
        if commands is None or name in commands:
            module.register(sub)
        else:
            sub.add_parser(name, help=module.HELP)
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv``: its first word that is not an option (the
    options of ``sememe`` itself take no value), or ``None`` (``sememe --help``)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Warnings from the library as ``sememe: warning: ...`` lines, not Python's
    ``file:line: UserWarning:`` format (which points into sememe's source)."""
    print(f"sememe: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = command_of(argv)
    parser = build_parser(() if command is None else (command,))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        with warnings.catch_warnings(), progress_scope(progress_enabled(args)):
            if not args.debug:
                warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("sememe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except USER_ERRORS as exc:
        if args.debug:
            raise
        print(f"sememe: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if args.debug:
            raise
        print(f"sememe: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("this is a bug in sememe; rerun with --debug for the traceback", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
