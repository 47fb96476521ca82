"""Argument validation shared by every module, with one exception policy.

A wrong type raises :class:`~sememe.errors.InvalidTypeError` (a ``TypeError``), an
impossible value :class:`~sememe.errors.InvalidArgumentError` (a ``ValueError``); both
name the argument, show the value given and say what is accepted. ``bool`` is never
accepted as a number (``True`` as a batch size is a mistake, not 1).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

from .errors import InvalidArgumentError, InvalidTypeError


def check_int(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    allow_none: bool = False,
    expected: str = "an integer",
) -> int | None:
    """``value`` as an ``int`` within ``[minimum, maximum]``; numpy integers are accepted.

    Floats are refused even when integral (``2.0``), as scikit-learn does: a float where a
    count belongs is usually a computation gone wrong. ``expected`` is how the type error
    names what was wanted: ``"an integer"``, except for the chunkers, whose messages
    (``max_tokens must be an int, got nan``) callers already match.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidTypeError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidArgumentError(f"{name} must be <= {maximum}, got {value}")
    return value


#: The largest count accepted by :func:`check_positive_int`: counts go into C code
#: (tokenizers, FAISS, numpy) that takes 32-bit integers, where a larger Python int
#: would fail with a raw ``OverflowError``.
MAX_COUNT = 2**31 - 1


def check_positive_int(value: Any, name: str, *, allow_none: bool = False) -> int | None:
    """A count that must be at least 1 (batch sizes, k, numbers of clusters, token
    limits), at most :data:`MAX_COUNT`."""
    return check_int(value, name, minimum=1, maximum=MAX_COUNT, allow_none=allow_none)


def check_float(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> float | None:
    """``value`` as a finite ``float`` within the given bounds (closed unless ``*_open``).

    NaN and infinities are refused; they pass every ``<`` comparison silently otherwise.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range, such as 10**400
        raise InvalidArgumentError(f"{name} must be a finite number, got {value}") from None
    if not math.isfinite(value):
        raise InvalidArgumentError(f"{name} must be a finite number, got {value}")

    def interval() -> str:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        return f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"

    if low is not None and (value < low or (low_open and value == low)):
        raise InvalidArgumentError(f"{name} must be in {interval()}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise InvalidArgumentError(f"{name} must be in {interval()}, got {value}")
    return value


def check_choice(value: Any, name: str, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``, else an error listing them."""
    try:
        ok = value in choices
    except TypeError:  # unhashable value against a set
        ok = False
    if not ok:
        shown = ", ".join(repr(c) for c in choices)
        raise InvalidArgumentError(f"{name} must be one of {shown}; got {value!r}")
    return value
