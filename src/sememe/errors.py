"""Exceptions raised by sememe.

User mistakes get exceptions whose message names the offending thing and, where
possible, the fix; the CLI prints that message as one line instead of a traceback.
"""

from __future__ import annotations


class SememeError(Exception):
    """Base class of every error sememe raises on purpose."""


class ModelFormatError(SememeError, ValueError):
    """A model folder or file is missing, corrupt or inconsistent.

    The message always starts with the path of the file at fault.
    """


class ModelNotFoundError(SememeError, FileNotFoundError):
    """A model name or path that resolves to nothing loadable."""
