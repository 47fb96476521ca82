"""The ``sememe`` command line: a thin layer over the library.

Each subcommand lives in its own module exposing ``register(subparsers)``; the
module adds its parser and sets ``func`` to a callable taking the parsed
arguments and returning an exit code. Add new modules to ``COMMANDS`` in
:mod:`sememe.cli.main`.
"""
