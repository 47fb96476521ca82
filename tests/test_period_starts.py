"""The array search for Punkt's candidate sentence ends equals the pattern's ``finditer``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sememe.chunking.sentences import TextInfo, _period_starts, default_splitter

# Characters the pattern treats specially, plus spaces `re` and `regex` disagree on,
# surrogates and characters beside the punctuation table's edge.
ALPHABET = list(
    ".?!  \n\t\x1c\x1d\x1f\x20\u3000\u2028\xa0abcXY)\";}]*:@'({[\u2018\u2019\u201c\u201d"
    "\u201e\u201f\xab\xbb-,\U0001f600\u00e9\ud800"
)


def reference(text: str) -> np.ndarray:
    """The candidates as the splitter's compiled pattern finds them."""
    pattern = default_splitter()._period_re
    return np.array([m.start() for m in pattern.finditer(text)], np.int64)


def fast(text: str) -> np.ndarray:
    """The candidates from :func:`_period_starts`, with the splitter's notion of space."""
    info = TextInfo(text)
    space, codes = info.space, info.codes
    if not default_splitter()._same_space:
        space = space & ((codes < 0x1C) | (codes > 0x1F))
    return _period_starts(codes, space)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(ALPHABET), max_size=30))
def test_matches_finditer_on_random_text(text: str) -> None:
    np.testing.assert_array_equal(fast(text), reference(text))


def test_every_code_point_after_an_end() -> None:
    """Each code point right after each of ``.?!``, then a word (and a bare end)."""
    for end in ".?!":
        text = "".join(end + chr(c) + "x" for c in range(0x110000))
        np.testing.assert_array_equal(fast(text), reference(text))
    for text in ("", ".", "a.", ". ", ".  ", "x. \n", ". y", "?!", "!)"):
        np.testing.assert_array_equal(fast(text), reference(text))
