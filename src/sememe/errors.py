"""Exceptions raised by sememe.

User mistakes get exceptions whose message names the offending thing and, where
possible, the fix; the CLI prints that message as one line instead of a traceback.

Every error sememe raises on purpose is a :class:`SememeError`. Each also derives from
the built-in exception a Python user would expect (``ValueError`` for a bad value,
``TypeError`` for a wrong type, ``FileExistsError`` for a refused overwrite, ...), so
``except ValueError`` keeps working. The command line relies on the distinction: a
``SememeError`` is the user's to fix and prints as one line; any other exception is a
bug in sememe and prints as an internal error with a hint to rerun with ``--debug``.
"""

from __future__ import annotations


class SememeError(Exception):
    """Base class of every error sememe raises on purpose."""


class InvalidArgumentError(SememeError, ValueError):
    """An argument has the right type but an impossible value (a count of 0, a NaN threshold).

    The message names the argument, the value given and what is accepted.
    """


class InvalidTypeError(SememeError, TypeError):
    """An argument or an input item has the wrong type (``texts[3] is None; expected str``)."""


class InputError(SememeError, ValueError):
    """An input file or record that cannot be read as asked; the message names the file and
    the 1-based line or record."""


class MissingDependencyError(SememeError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class FolderFormatError(SememeError, ValueError):
    """A saved sememe folder (model, index, classifier, dedupe state) is missing, corrupt,
    inconsistent or of an unsupported format version. The message starts with the path at
    fault."""


class FolderExistsError(SememeError, FileExistsError):
    """A save was refused because the target exists and may not be replaced (no
    ``overwrite=True``, or the target is not a sememe folder of the same kind)."""


class ModelFormatError(FolderFormatError):
    """A model folder or file is missing, corrupt or inconsistent.

    The message always starts with the path of the file at fault.
    """


class ClassifierFormatError(ModelFormatError):
    """A saved :class:`~sememe.classify.StaticClassifier` folder is missing, corrupt,
    inconsistent (classes against the head, head against the encoder) or of an
    unsupported format version.

    A ``ModelFormatError`` subclass, so code written for earlier versions, which raised
    ``ModelFormatError`` for classifier folders too, keeps catching it.
    """


class ModelNotFoundError(SememeError, FileNotFoundError):
    """A model name or path that resolves to nothing loadable."""
