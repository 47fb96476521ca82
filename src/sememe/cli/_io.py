"""Compatibility module: reading records moved to :mod:`sememe.records`, safe outputs to
:mod:`sememe.cli._outputs`. The names stay importable from here for one release."""

from __future__ import annotations

from ..errors import InputError
from ..records import (
    Records,
    detect_format,
    field_values,
    iter_numbered,
    iter_records,
    line_of,
    read_records,
    read_texts,
    source_name,
    texts_of,
)
from ._outputs import OutputFiles

__all__ = [
    "InputError",
    "OutputFiles",
    "Records",
    "detect_format",
    "field_values",
    "iter_numbered",
    "iter_records",
    "line_of",
    "read_records",
    "read_texts",
    "source_name",
    "texts_of",
]
