"""The ``sememe`` command line: a thin layer over the library.

Each subcommand lives in its own module exposing ``HELP`` (its one-line summary)
and ``register(subparsers)``; ``register`` adds its parser and sets ``func`` to a
callable taking the parsed arguments and returning an exit code.
:mod:`sememe.cli.main` finds the modules itself and builds the full parser of the
one command being run only, so a module imports the library inside ``register``
and its handlers, never at its top (``sememe --help`` stays fast).
"""
