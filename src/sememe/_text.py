"""Text helpers shared by every module: input checking (from :mod:`sememe._inputs`) and
lone-surrogate replacement.

The input helpers (:func:`as_list`, :func:`iter_batches`, :func:`check_texts`,
:func:`is_single_text`) live in :mod:`sememe._inputs`, which also turns pandas, polars and
pyarrow columns into texts; they are re-exported here for the modules that call them as
``_text.as_list``.
"""

from __future__ import annotations

import re

from ._inputs import as_list, check_texts, is_single_text, iter_batches

__all__ = [
    "REPLACEMENT_CHAR",
    "as_list",
    "check_texts",
    "is_single_text",
    "iter_batches",
    "replace_surrogates",
]

_SURROGATES = re.compile("[\ud800-\udfff]")

#: Replacement used for lone UTF-16 surrogates, which cannot be encoded as UTF-8.
REPLACEMENT_CHAR = "\ufffd"


def replace_surrogates(text: str) -> str:
    """Replace lone surrogates by U+FFFD, keeping every other character in place.

    The result has the same length as ``text`` so character offsets still refer
    to the caller's original string.
    """
    return _SURROGATES.sub(REPLACEMENT_CHAR, text)
