"""Sentence and block splitting: NLTK's Punkt with bundled English parameters, markdown aware.

A document is first cut into *blocks* by its markdown structure (blank lines, headings,
list items, code fences, tables, rules), then prose blocks are cut into sentences with
Punkt. The results are *units*: the pieces the chunkers group into chunks. Each unit
records what kind of boundary precedes it, so the chunker can prefer cutting before a
heading and avoid cutting inside a code block.

Punkt runs through :class:`PunktSplitter`, which gives exactly the spans of
``nltk.tokenize.punkt.PunktSentenceTokenizer.span_tokenize`` with the same parameters,
about ten times faster: NLTK decides each candidate sentence end by building token
objects for its context, while here candidates are found all at once, the common cases
(any ``?`` or ``!``; a full stop after a plain word that is no known abbreviation, or
right after a closing bracket or quote) are decided by array tests and a set look-up,
and the rest by a compact re-statement of Punkt's two annotation passes. The tests
compare the result with NLTK's on real and random text.

The English parameters (``punkt_english/``, MIT licence, see ``SOURCE.md`` there) ship
with the package and are read directly; NLTK never looks for or downloads data.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

try:  # NLTK compiles Punkt's patterns with the `regex` engine; use the same for equal results
    import regex as _regex
except ImportError:  # pragma: no cover - regex is a dependency of nltk
    _regex = re  # type: ignore[assignment]

PUNKT_DIR = Path(__file__).resolve().parent / "punkt_english"

# Punkt's three patterns as NLTK 3.10 builds them (``PunktLanguageVars.period_context_re()``,
# ``.re_boundary_realignment``, ``._word_tokenizer_re()``: pattern, flags). Written out so
# that splitting never imports NLTK, whose package import takes about a second (the
# chunkers' one-time set-up); tests/test_chunking.py checks them against the installed NLTK.
_NLTK_PERIOD_CONTEXT = (
    "\n        [\\.\\?!]             # a potential sentence ending\n        (?=(?P<after_tok>\n            (?:[)\\\";}\\]\\*:@\\'\\({\\[\\u2018\\u2019\\u201c\\u201d\\xab\\xbb\\?!])              # either other punctuation\n            |\n            \\s+(?P<next_tok>\\S+)     # or whitespace and some other token\n        ))",
    8288,
)
_NLTK_REALIGN = ("[\"\\')\\]}\\u2018\\u2019\\u201c\\u201d\\xab\\xbb]+?(?:\\s+|(?=--)|$)", 8232)
_NLTK_WORD_TOKENIZER = (
    "(\n        (?:\\-{2,}|\\.{2,}|(?:\\.\\s){2,}\\.)\n        |\n        (?=[^\\(\\\"\\`{\\[:;&\\#\\*@\\)}\\]\\-,])\\S+?  # Accept word characters until end is found\n        (?= # Sequences marking a word's end\n            \\s|                                 # White-space\n            $|                                  # End-of-string\n            (?:[)\\\";}\\]\\*:@\\'\\({\\[\\u2018\\u2019\\u201c\\u201d\\xab\\xbb\\?!])|(?:\\-{2,}|\\.{2,}|(?:\\.\\s){2,}\\.)|          # Punctuation\n            ,(?=$|\\s|(?:[)\\\";}\\]\\*:@\\'\\({\\[\\u2018\\u2019\\u201c\\u201d\\xab\\xbb\\?!])|(?:\\-{2,}|\\.{2,}|(?:\\.\\s){2,}\\.)) # Comma if at end of word\n        )\n        |\n        \\S\n    )",
    8288,
)

# Kinds of boundary before a unit (what separates it from the unit before it).
SENTENCE = 0  #: a sentence end inside a paragraph
ITEM = 1  #: a new list item or a new line of a table
PARAGRAPH = 2  #: a blank line, a code fence, a rule, or the start of a block
HEADING = 3  #: the unit is a markdown heading
CODE = 4  #: the next line inside a fenced code block

KIND_NAMES = {
    SENTENCE: "sentence",
    ITEM: "item",
    PARAGRAPH: "paragraph",
    HEADING: "heading",
    CODE: "code",
}

_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"  # what Punkt's previous-word search treats as spaces


class PunktParams:
    """Punkt's parameters, with the attributes of ``nltk.tokenize.punkt.PunktParameters``
    (so either kind works with :class:`PunktSplitter` and with NLTK's tokenizer)."""

    def __init__(self) -> None:
        from collections import defaultdict

        #: Known abbreviations (lower case, without the final period).
        self.abbrev_types: set[str] = set()
        #: Word pairs around a period that is not a sentence end.
        self.collocations: set[tuple[str, ...]] = set()
        #: Words that often start a sentence.
        self.sent_starters: set[str] = set()
        #: Orthographic-context flags of each word type.
        self.ortho_context: dict[str, int] = defaultdict(int)


def read_punkt_parameters(folder: Path | str = PUNKT_DIR) -> PunktParams:
    """Punkt parameters from a ``punkt_tab`` language folder (four plain-text files).

    Reads the files the way NLTK's ``load_punkt_params`` does, without going through
    ``nltk.data`` (which searches data paths and may suggest downloads) and without
    importing NLTK.
    """
    from collections import defaultdict

    folder = Path(folder)

    def lines(name: str) -> list[str]:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(
                f"Punkt parameter file {path} is missing; reinstall sememe or run "
                "scripts/build_punkt.py"
            )
        with open(path, encoding="utf-8") as f:
            return [line[:-1] if line.endswith("\n") else line for line in f]

    params = PunktParams()
    params.abbrev_types = set(lines("abbrev_types.txt"))
    params.sent_starters = set(lines("sent_starters.txt"))
    params.collocations = {tuple(line.split("\t")) for line in lines("collocations.tab")}
    ortho = defaultdict(int)
    for line in lines("ortho_context.tab"):
        word, flag = line.split("\t")
        ortho[word] = int(flag)
    params.ortho_context = ortho
    return params


# Orthographic-context flags of Punkt's parameters (bit values as in NLTK).
_ORTHO_BEG_UC, _ORTHO_MID_UC, _ORTHO_UNK_UC = 1 << 1, 1 << 2, 1 << 3
_ORTHO_BEG_LC, _ORTHO_MID_LC, _ORTHO_UNK_LC = 1 << 4, 1 << 5, 1 << 6
_ORTHO_UC = _ORTHO_BEG_UC | _ORTHO_MID_UC | _ORTHO_UNK_UC
_ORTHO_LC = _ORTHO_BEG_LC | _ORTHO_MID_LC | _ORTHO_UNK_LC
_PUNCTUATION = frozenset(";:,.!?")
_RE_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE | re.UNICODE


def _as_re(pattern: str, same_space: bool) -> str:
    """An NLTK pattern (written for the `regex` engine) for the standard `re` engine.

    Only ``\\s`` and ``\\S`` need care: `regex` does not count U+001C..U+001F as
    whitespace, `re` does.
    """
    if same_space:
        return pattern
    return (
        pattern.replace("\\S", "\0")
        .replace("\\s", "[^\\S\\x1c-\\x1f]")
        .replace("\0", "[\\S\\x1c-\\x1f]")
    )


_SENT_END = frozenset(".?!")
#: ``_END_TABLE[min(code, 127)]``: the code is ``.``, ``?`` or ``!`` (Punkt's candidate ends).
_END_TABLE = np.zeros(128, bool)
_END_TABLE[[ord(c) for c in ".?!"]] = True
#: ``_AFTER_TABLE[min(code, len - 1)]``: the code is in the period-context pattern's
#: ``after_tok`` punctuation class (the last entry, for every larger code, is False).
_AFTER_TABLE = np.zeros(0x201F, bool)
_AFTER_TABLE[[ord(c) for c in ")\";}]*:@'({[\u2018\u2019\u201c\u201d\xab\xbb?!"]] = True
_SPLITTERS = np.array([ord(c) for c in ')";}]*:@({['], np.uint32)
#: ``_SPLITTER_TABLE[min(code, 127)]``: the code is one of :data:`_SPLITTERS` (all ASCII).
_SPLITTER_TABLE = np.zeros(128, bool)
_SPLITTER_TABLE[_SPLITTERS] = True
_SPLITTER_TABLE[127] = False  # codes of 127 and above


class PunktSplitter:
    """Punkt sentence spans, identical to NLTK's ``span_tokenize``, several times faster.

    Candidate sentence ends are found with NLTK's own patterns, all at once; the word
    before each is located with array arithmetic. Each candidate is then decided by
    Punkt's rules: a ``?`` or ``!``, a full stop after a plain word that is no known
    abbreviation, or one right after a closing bracket or quote, is always a break;
    the other cases go through a compact re-statement of Punkt's two annotation
    passes over the candidate's context. Tests check the result against NLTK on real
    and random text.

    Parameters
    ----------
    params:
        ``nltk.tokenize.punkt.PunktParameters``; default: the bundled English ones.
    """

    def __init__(self, params=None) -> None:
        self.params = read_punkt_parameters() if params is None else params
        self._reference = None
        period, period_flags = _NLTK_PERIOD_CONTEXT
        realign, realign_flags = _NLTK_REALIGN
        word, word_flags = _NLTK_WORD_TOKENIZER
        # The patterns run on the standard `re` engine, which is several times faster
        # here. NLTK compiles them with `regex`, whose \s differs from re's only in
        # excluding U+001C..U+001F; spell that out so both agree.
        same_space = _regex.compile(period, period_flags).search(".\x1cx") is not None
        self._period_re = re.compile(_as_re(period, same_space), period_flags & _RE_FLAGS)
        self._realign_re = re.compile(_as_re(realign, same_space), realign_flags & _RE_FLAGS)
        self._same_space = same_space
        self._word_tokenize = re.compile(_as_re(word, same_space), word_flags & _RE_FLAGS).findall
        self._numeric = _regex.compile(r"^-?[\.,]?\d[\d,\.-]*\.?$")
        self._ellipsis = re.compile(r"\.\.+$")
        self._initial = _regex.compile(r"[^\W\d]\.$")
        # For ASCII tokens the standard engine agrees with `regex` and is faster.
        self._numeric_ascii = re.compile(r"^-?[\.,]?\d[\d,\.-]*\.?$")
        self._initial_ascii = re.compile(r"[^\W\d]\.$")
        self._abbrev = frozenset(self.params.abbrev_types)
        self._colloc = frozenset(self.params.collocations)
        self._starters = frozenset(self.params.sent_starters)
        self._ortho = dict(self.params.ortho_context)
        self._dot_token_breaks = not any(c[0] == "." for c in self._colloc)
        # Words before a full stop that need Punkt's full decision.
        self._special = self._abbrev | {c[0] for c in self._colloc}

    @property
    def reference(self) -> Any:
        """NLTK's ``PunktSentenceTokenizer`` with the same parameters: what the splitter
        reproduces (the tests compare with it). Built, and NLTK imported, on first use."""
        if self._reference is None:
            from nltk.tokenize.punkt import PunktSentenceTokenizer

            self._reference = PunktSentenceTokenizer(self.params)
        return self._reference

    def spans(self, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` of each sentence of ``text``, as NLTK's Punkt gives them."""
        starts, ends = self.span_arrays(text)
        return list(zip(starts.tolist(), ends.tolist(), strict=True))

    def span_arrays(self, text: str, info: TextInfo | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The sentence spans as two int64 arrays, ``starts`` and ``ends``."""
        if not text:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        info = info or TextInfo(text)
        starts, ends = self._slices(text, info)
        return self._realign(text, info.codes, starts, ends)

    def span_arrays_many(
        self, text: str, info: TextInfo, offsets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`span_arrays` of several texts laid end to end in ``text``, at once.

        ``offsets`` (int64, increasing) bounds the texts: text ``d`` is
        ``text[offsets[d]:offsets[d + 1]]``, none of them blank. Returns the sentence
        ``starts`` and ``ends`` (offsets into ``text``) and the text each sentence
        belongs to; each text's sentences are exactly its :meth:`span_arrays`, shifted.
        Candidates are found over the whole of ``text``, and every step that looks
        beyond a candidate (the pattern's look-ahead, the word before it, the context
        Punkt decides on, realignment) is held inside the candidate's own text.
        """
        codes = info.codes
        space = info.space
        n_docs = len(offsets) - 1
        lo_of = offsets[:-1]
        hi_of = offsets[1:]
        solid_all = np.flatnonzero(~space)  # str.isspace, as str.rstrip
        last_solid = np.searchsorted(solid_all, hi_of) - 1
        end_of_text = np.where(last_solid >= 0, solid_all[np.maximum(last_solid, 0)] + 1, lo_of)
        end_of_text = np.maximum(end_of_text, lo_of)
        if not self._same_space:
            space = space & ((codes < 0x1C) | (codes > 0x1F))
        solid = np.flatnonzero(~space)
        cand = _period_starts(codes, space)
        doc = np.searchsorted(offsets, cand, side="right") - 1
        if len(cand) and len(solid):
            # The pattern looks ahead for punctuation or whitespace and a token: keep
            # the candidates whose look-ahead stays inside their own text.
            nxt = solid[np.minimum(np.searchsorted(solid, cand + 1), len(solid) - 1)]
            inside = (nxt > cand) & (nxt < hi_of[doc])
            cand, doc = cand[inside], doc[inside]
        elif len(cand):  # pragma: no cover - a candidate is a solid character
            cand, doc = cand[:0], doc[:0]
        if len(cand):
            word = self._word_starts(codes, cand, lo_of[doc])
            kept = word >= 0
            cand, word, doc = cand[kept], word[kept], doc[kept]
        else:
            word = cand
        after = cand + 1
        after_space = space[after]
        if len(cand):
            next_tok = solid[np.minimum(np.searchsorted(solid, after), len(solid) - 1)]
        else:
            next_tok = cand
        next_start = np.where(after_space, next_tok, after)
        odd = (codes[next_tok] >= 0x1C) & (codes[next_tok] <= 0x1F) & after_space
        full = np.flatnonzero(odd)
        is_break = (codes[cand] != 46) & ~odd
        if self._dot_token_breaks and len(cand):
            after_splitter = _SPLITTER_TABLE[np.minimum(codes[np.maximum(cand - 1, 0)], 127)]
            is_break |= after_splitter & (cand > lo_of[doc]) & ~odd
        dots = np.flatnonzero(~is_break & ~odd)
        if len(dots):
            plain = dots[self._plain_words(codes, word[dots], cand[dots])]
            spans = map(slice, word[plain].tolist(), cand[plain].tolist())
            words = map(str.lower, map(text.__getitem__, spans))
            special = np.fromiter(map(self._special.__contains__, words), bool, len(plain))
            is_break[plain[~special]] = True
            decided = np.zeros(len(cand), bool)
            decided[plain[~special]] = True
            full = np.concatenate([full, dots[~decided[dots]]])
        if len(full):
            gaps = np.flatnonzero(space)
            for i in full.tolist():
                w, c, end = int(word[i]), int(cand[i]), int(hi_of[doc[i]])
                if after_space[i]:
                    k = np.searchsorted(gaps, next_tok[i])
                    stop = min(int(gaps[k]), end) if k < len(gaps) else end
                else:
                    stop = c + 2
                is_break[i] = self.contains_break(text[w:stop])
        b = np.flatnonzero(is_break)
        # Text d's sentences: its start, then the starts after its breaks; they end at
        # the breaks, then at the end of the text (as _slices, text by text).
        bd = doc[b]
        sizes = np.bincount(bd, minlength=n_docs) + 1
        first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        total = int(sizes.sum())
        k = np.arange(len(b))
        starts = np.empty(total, np.int64)
        ends = np.empty(total, np.int64)
        starts[first] = lo_of
        starts[k + bd + 1] = next_start[b]
        ends[k + bd] = cand[b] + 1
        ends[first + sizes - 1] = end_of_text
        owner = np.repeat(np.arange(n_docs), sizes)
        starts, ends, keep = self._realign_mask(text, codes, starts, ends, owner)
        return starts, ends, owner[keep]

    # ---------------------------------------------------------------- candidates
    def _slices(self, text: str, info: TextInfo) -> tuple[np.ndarray, np.ndarray]:
        """Sentence slices before realignment (what NLTK's ``_slices_from_text`` gives)."""
        end_of_text = len(text.rstrip())
        codes = info.codes
        space = info.space
        if not self._same_space:
            space = space & ((codes < 0x1C) | (codes > 0x1F))
        cand = _period_starts(codes, space)
        if len(cand) == 0:
            return np.zeros(1, np.int64), np.array([end_of_text], np.int64)
        word = self._word_starts(codes, cand)
        kept = word >= 0
        cand, word = cand[kept], word[kept]
        after = cand + 1
        after_space = space[after]
        solid = np.flatnonzero(~space)
        next_tok = solid[np.minimum(np.searchsorted(solid, after), len(solid) - 1)]
        next_start = np.where(after_space, next_tok, after)

        # The shortcuts below assume a token after the candidate. A next token that
        # starts with U+001C..U+001F (not spaces to Punkt's patterns, but to str.strip)
        # may be dropped by Punkt as a blank line; such candidates get the full decision.
        odd = (codes[next_tok] >= 0x1C) & (codes[next_tok] <= 0x1F) & after_space
        full = np.flatnonzero(odd)
        is_break = (codes[cand] != 46) & ~odd  # '?' and '!': own token, one after it
        # A '.' right after one of these is a token of its own, so a break (no
        # collocation starts with '.'): they end the token before them and cannot
        # start a longer one.
        if self._dot_token_breaks:
            after_splitter = np.isin(codes[np.maximum(cand - 1, 0)], _SPLITTERS) & (cand > 0)
            is_break |= after_splitter & ~odd
        dots = np.flatnonzero(~is_break & ~odd)
        if len(dots):
            # A plain word before '.' makes one token "word." that is no number or
            # initial; unless it is a known abbreviation or starts a collocation, it
            # is a break. Everything else gets Punkt's full decision.
            plain = dots[self._plain_words(codes, word[dots], cand[dots])]
            spans = map(slice, word[plain].tolist(), cand[plain].tolist())
            words = map(str.lower, map(text.__getitem__, spans))
            special = np.fromiter(map(self._special.__contains__, words), bool, len(plain))
            is_break[plain[~special]] = True
            decided = np.zeros(len(cand), bool)
            decided[plain[~special]] = True
            full = np.concatenate([full, dots[~decided[dots]]])
        if len(full):
            gaps = np.flatnonzero(space)
            for i in full.tolist():
                w, c = int(word[i]), int(cand[i])
                if after_space[i]:
                    k = np.searchsorted(gaps, next_tok[i])
                    stop = int(gaps[k]) if k < len(gaps) else len(text)
                else:
                    stop = c + 2
                is_break[i] = self.contains_break(text[w:stop])
        b = np.flatnonzero(is_break)
        starts = np.concatenate(([0], next_start[b]))
        ends = np.concatenate((cand[b] + 1, [end_of_text]))
        return starts, ends

    @staticmethod
    def _word_starts(
        codes: np.ndarray, cand: np.ndarray, base: np.ndarray | None = None
    ) -> np.ndarray:
        """Start of the word before each candidate, or -1 for candidates Punkt skips.

        As in NLTK, the word before a candidate starts after the last ASCII whitespace
        between the previous candidate and this one; when there is none it is the
        previous candidate's word, and that previous candidate is then dropped.
        ``base`` (for texts laid end to end): the start of each candidate's text, where
        its search stops as at the start of a text of its own.
        """
        spaces = np.flatnonzero((codes == 32) | ((codes >= 9) & (codes <= 13)))
        k = np.searchsorted(spaces, cand) - 1
        last_space = np.where(k >= 0, spaces[np.maximum(k, 0)] if len(spaces) else -1, -1)
        prev = np.concatenate(([0], cand[:-1]))
        floor: Any = 0
        if base is not None:
            new_text = np.ones(len(cand), bool)
            new_text[1:] = base[1:] != base[:-1]
            prev[new_text] = base[new_text]
            floor = base
        word = np.maximum.accumulate(np.where(last_space > prev, last_space + 1, floor))
        keep = np.ones(len(cand), bool)
        keep[:-1] = cand[:-1] <= word[1:]
        return np.where(keep, word, -1)

    @staticmethod
    def _plain_words(codes: np.ndarray, word: np.ndarray, stop: np.ndarray) -> np.ndarray:
        """True where ``text[word:stop]`` is ASCII ``[A-Za-z_][A-Za-z0-9_]+``.

        Such a word is one Punkt token with the full stop after it, and can be no
        number or initial (a narrower test than Punkt's Unicode word classes, so it
        never claims too much).
        """
        lens = stop - word
        total = int(lens.sum())
        if total == 0:
            return np.zeros(len(word), bool)
        ends = np.cumsum(lens)
        c = codes[np.repeat(word - ends + lens, lens) + np.arange(total)]
        low = c | 32  # ASCII letters folded to lower case
        wordish = ((low >= 97) & (low <= 122)) | ((c >= 48) & (c <= 57)) | (c == 95)
        good = np.concatenate(([0], np.cumsum(wordish, dtype=np.int64)))
        first = codes[np.minimum(word, len(codes) - 1)]
        return (
            (lens >= 2) & (good[ends] - good[ends - lens] == lens) & ((first < 48) | (first > 57))
        )

    # ---------------------------------------------------------------- decisions
    def contains_break(self, context: str) -> bool:
        """Punkt's verdict on a candidate's context (NLTK's ``text_contains_sentbreak``).

        True when some token of ``context`` other than the last is a sentence break
        after Punkt's first pass (by token type) and second pass (collocations,
        orthographic evidence, frequent sentence starters).
        """
        tokens = [
            tok for line in context.split("\n") if line.strip() for tok in self._word_tokenize(line)
        ]
        if len(tokens) < 2:
            return False
        state = [self._first_pass(tok) for tok in tokens]
        for i in range(len(tokens) - 1):
            if self._second_pass(tokens[i], state[i], tokens[i + 1], state[i + 1]):
                return True
        return False

    def _first_pass(self, tok: str) -> tuple[bool, bool, bool]:
        """``(sentbreak, abbr, ellipsis)`` of a token from its type alone."""
        if tok in _SENT_END:
            return True, False, False
        if self._ellipsis.match(tok):
            return False, False, True
        if tok.endswith(".") and not tok.endswith(".."):
            low = tok[:-1].lower()
            if low in self._abbrev or low.split("-")[-1] in self._abbrev:
                return False, True, False
            return True, False, False
        return False, False, False

    def _type(self, tok: str) -> str:
        low = tok.lower()
        numeric = self._numeric_ascii if low.isascii() else self._numeric
        return "##number##" if numeric.match(low) else low

    @staticmethod
    def _no_period(typ: str) -> str:
        return typ[:-1] if len(typ) > 1 and typ[-1] == "." else typ

    def _next_type(self, tok: str, sentbreak: bool) -> str:
        typ = self._type(tok)
        return self._no_period(typ) if sentbreak else typ

    def _second_pass(self, tok: str, state, nxt: str, nxt_state) -> bool:
        """Whether ``tok`` ends a sentence once its successor ``nxt`` is known."""
        sentbreak, abbr, ellipsis = state
        if not tok.endswith("."):
            return sentbreak
        typ = self._no_period(self._type(tok))
        next_typ = self._next_type(nxt, nxt_state[0])
        initial = (self._initial_ascii if tok.isascii() else self._initial).match(tok) is not None
        if (typ, next_typ) in self._colloc:
            return False
        if (abbr or ellipsis) and not initial:
            if self._ortho_heuristic(nxt, next_typ) is True:
                return True
            if nxt[0].isupper() and next_typ in self._starters:
                return True
        if initial or typ == "##number##":
            starter = self._ortho_heuristic(nxt, next_typ)
            if starter is False:
                return False
            if (
                starter is None
                and initial
                and nxt[0].isupper()
                and not self._ortho.get(next_typ, 0) & _ORTHO_LC
            ):
                return False
        return sentbreak

    def _ortho_heuristic(self, tok: str, typ: str) -> bool | None:
        """True: ``tok`` starts a sentence; False: it does not; None: unknown."""
        if tok in _PUNCTUATION:
            return False
        ortho = self._ortho.get(typ, 0)
        if tok[0].isupper() and ortho & _ORTHO_LC and not ortho & _ORTHO_MID_UC:
            return True
        if tok[0].islower() and (ortho & _ORTHO_UC or not ortho & _ORTHO_BEG_LC):
            return False
        return None

    # ---------------------------------------------------------------- realignment
    def _realign(
        self, text: str, codes: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Move closing quotes and brackets after a sentence end onto that sentence.

        NLTK's ``_realign_boundaries``: when the next slice begins with closing
        punctuation, that punctuation joins this sentence (which is then kept even if
        it was empty) and the next slice starts after it and the spaces that follow.
        """
        starts, ends, _ = self._realign_mask(text, codes, starts, ends)
        return starts, ends

    def _realign_mask(
        self,
        text: str,
        codes: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        owner: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_realign`, also giving the mask of the slices kept; ``owner`` (the text
        of each slice, for texts laid end to end) keeps realignment inside each text."""
        starts = starts.copy()
        ends = ends.copy()
        forced = np.zeros(len(starts), bool)
        nxt = starts[1:]
        valid = nxt < ends[1:]
        if owner is not None:
            valid &= owner[1:] == owner[:-1]
        heads = np.where(valid, codes[np.minimum(nxt, len(codes) - 1)], 48)
        # Realignment needs closing punctuation first; letters and digits cannot start it.
        alnum = (heads | 32) - 97 < 26
        alnum |= heads - 48 < 10
        for i in np.flatnonzero(valid & ~alnum).tolist():
            a, b = int(starts[i + 1]), int(ends[i + 1])
            m = self._realign_re.match(text, a, b)
            if m:
                ends[i] = a + len(m.group(0).rstrip())
                starts[i + 1] = m.end()
                forced[i] = True
        keep = forced | (ends > starts)
        return starts[keep], ends[keep], keep


def _period_starts(codes: np.ndarray, space: np.ndarray) -> np.ndarray:
    """Start of every match of Punkt's period-context pattern, as ``[m.start() for m in
    PunktSplitter._period_re.finditer(text)]`` gives them, by array tests.

    ``codes`` are the text's code points and ``space`` the pattern's ``\\s`` at each
    position (:attr:`TextInfo.space`, less U+001C..U+001F where the `regex` engine does not
    count them). A match is one character (the rest is look-ahead), so every position is
    tried alone: a ``.``, ``?`` or ``!`` followed by one of the ``after_tok`` punctuation
    marks, or by whitespace with a non-space character somewhere after it (``\\s+\\S+``).
    A regex scan builds a match object per candidate; this is a few array passes.
    """
    n = len(codes)
    if n < 2:
        return np.zeros(0, np.int64)
    pos = np.flatnonzero(_END_TABLE[np.minimum(codes[:-1], 127)])
    nxt = codes[pos + 1]
    solid = np.flatnonzero(~space)
    last_solid = int(solid[-1]) if len(solid) else -1
    ok = _AFTER_TABLE[np.minimum(nxt, len(_AFTER_TABLE) - 1)]
    ok |= space[pos + 1] & (pos + 1 < last_solid)
    return pos[ok].astype(np.int64)


_SPACE_TABLE = np.array([chr(c).isspace() for c in range(0x3001)], bool)


class TextInfo:
    """Arrays about one text, computed once and shared by the steps that need them."""

    __slots__ = ("_codes", "_newlines", "_space", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._codes: np.ndarray | None = None
        self._space: np.ndarray | None = None
        self._newlines: np.ndarray | None = None

    @property
    def codes(self) -> np.ndarray:
        """Code points as uint32 (lone surrogates allowed)."""
        if self._codes is None:
            self._codes = np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), np.uint32)
        return self._codes

    @property
    def space(self) -> np.ndarray:
        """``text[i].isspace()`` for every position."""
        if self._space is None:
            codes = self.codes
            self._space = _SPACE_TABLE[np.minimum(codes, 0x3000)] & (codes <= 0x3000)
        return self._space

    @property
    def newlines(self) -> np.ndarray:
        """Positions of ``"\\n"``."""
        if self._newlines is None:
            self._newlines = np.flatnonzero(self.codes == 10)
        return self._newlines


def space_mask(text: str) -> np.ndarray:
    """Boolean array: ``text[i].isspace()`` for every position."""
    return TextInfo(text).space


@functools.lru_cache(maxsize=1)
def default_splitter() -> PunktSplitter:
    """The shared splitter with the bundled English parameters."""
    return PunktSplitter()


# ------------------------------------------------------------------------- markdown blocks

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r" {0,3}#{1,6}(?:[ \t]|$)")
_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_TABLE = re.compile(r"[ \t]*\|")
_MAYBE_SPECIAL = re.compile(r"[ \t]*(?:[#`~*+|_-]|\d{1,9}[.)])")


@dataclass(frozen=True)
class Units:
    """The units of a text: ``starts``, ``ends`` (character offsets) and ``kinds``.

    ``kinds[i]`` is the kind of boundary between unit ``i - 1`` and unit ``i`` (one of
    :data:`SENTENCE`, :data:`ITEM`, :data:`PARAGRAPH`, :data:`HEADING`, :data:`CODE`).
    Units are stripped of surrounding whitespace, non-empty, in order and disjoint.
    """

    starts: np.ndarray
    ends: np.ndarray
    kinds: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)


def split_units(
    text: str, splitter: PunktSplitter | None = None, info: TextInfo | None = None
) -> Units:
    """Cut ``text`` into sentences and markdown lines (see the module docstring).

    - Blank lines, headings, list items, rules, table rows and code fences end a block;
      sentences never cross a block boundary.
    - Every line of a fenced code block (fences included) is one unit, never split by
      Punkt; a block without a closing fence runs to the end of the text.
    - Headings, rules and table rows are one unit per line.
    - Prose blocks (paragraphs, list items) are split into sentences by Punkt.

    Punkt runs once over the whole text and its sentence starts are kept where they
    fall inside prose blocks; this equals splitting each block alone except, rarely,
    right at a block's edge, where the block boundary cuts anyway.
    """
    splitter = splitter or default_splitter()
    info = info or TextInfo(text)
    blocks = _blocks(text)
    if not blocks:
        return Units(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8))
    b_start, b_end, b_kind, b_prose = (np.asarray(col) for col in zip(*blocks, strict=True))
    b_start = b_start.astype(np.int64)
    b_end = b_end.astype(np.int64)
    cuts = splitter.span_arrays(text, info)[0][1:] if b_prose.any() else np.zeros(0, np.int64)
    # Sentence starts strictly inside each prose block become extra unit starts.
    lo = np.searchsorted(cuts, b_start, side="right")
    hi = np.searchsorted(cuts, b_end, side="left")
    extra = np.where(b_prose, np.maximum(hi - lo, 0), 0)
    owner = np.repeat(np.arange(len(b_start)), extra)
    first = np.repeat(lo - np.concatenate(([0], np.cumsum(extra)[:-1])), extra)
    inner = cuts[first + np.arange(len(owner))] if len(owner) else cuts[:0]
    starts = np.concatenate((b_start, inner))
    block_of = np.concatenate((np.arange(len(b_start)), owner))
    kinds = np.concatenate((b_kind.astype(np.int8), np.full(len(inner), SENTENCE, np.int8)))
    order = np.lexsort((starts, block_of))
    starts, block_of, kinds = starts[order], block_of[order], kinds[order]
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    last_in_block = np.ones(len(starts), bool)
    last_in_block[:-1] = block_of[1:] != block_of[:-1]
    ends[last_in_block] = b_end[block_of[last_in_block]]
    ends[~last_in_block] = np.minimum(ends[~last_in_block], b_end[block_of[~last_in_block]])
    # Only blank lines inside code blocks come out empty; dropping them loses nothing.
    starts, ends, keep = _strip(info, starts, ends)
    return Units(starts[keep], ends[keep], kinds[keep])


def split_units_many(
    texts: list[str],
    joined: str,
    info: TextInfo,
    offsets: np.ndarray,
    splitter: PunktSplitter | None = None,
) -> tuple[Units, np.ndarray]:
    """:func:`split_units` of each of ``texts`` (none blank), laid end to end in ``joined``.

    ``offsets`` bounds the texts in ``joined`` (``joined[offsets[d]:offsets[d + 1]] ==
    texts[d]``); ``info`` is ``joined``'s. Returns the units of all texts in order, as
    offsets into ``joined``, and ``unit_offsets``: text ``d``'s units are
    ``unit_offsets[d]:unit_offsets[d + 1]``. Each text's units are exactly its
    :func:`split_units`, shifted: the markdown blocks are found text by text, Punkt runs
    once over ``joined`` (:meth:`PunktSplitter.span_arrays_many`), and the rest are
    array steps that never cross a text's edge.
    """
    splitter = splitter or default_splitter()
    n_docs = len(texts)
    cols: list[list[int]] = [[], [], [], []]
    block_doc: list[int] = []
    for d, text in enumerate(texts):
        base = int(offsets[d])
        blocks = _blocks(text)
        for start, end, kind, prose in blocks:
            cols[0].append(start + base)
            cols[1].append(end + base)
            cols[2].append(kind)
            cols[3].append(prose)
        block_doc.extend([d] * len(blocks))
    b_start = np.asarray(cols[0], np.int64)
    b_end = np.asarray(cols[1], np.int64)
    b_kind = np.asarray(cols[2], np.int8)
    b_prose = np.asarray(cols[3], bool)
    b_doc = np.asarray(block_doc, np.int64)
    if b_prose.any():
        s_starts, _, s_owner = splitter.span_arrays_many(joined, info, offsets)
        first = np.ones(len(s_owner), bool)
        first[1:] = s_owner[1:] != s_owner[:-1]
        cuts = s_starts[~first]  # each text's sentence starts after its first
    else:
        cuts = np.zeros(0, np.int64)
    lo = np.searchsorted(cuts, b_start, side="right")
    hi = np.searchsorted(cuts, b_end, side="left")
    extra = np.where(b_prose, np.maximum(hi - lo, 0), 0)
    owner = np.repeat(np.arange(len(b_start)), extra)
    first_cut = np.repeat(lo - np.concatenate(([0], np.cumsum(extra)[:-1])), extra)
    inner = cuts[first_cut + np.arange(len(owner))] if len(owner) else cuts[:0]
    starts = np.concatenate((b_start, inner))
    block_of = np.concatenate((np.arange(len(b_start)), owner))
    kinds = np.concatenate((b_kind, np.full(len(inner), SENTENCE, np.int8)))
    order = np.lexsort((starts, block_of))
    starts, block_of, kinds = starts[order], block_of[order], kinds[order]
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:]
    last_in_block = np.ones(len(starts), bool)
    last_in_block[:-1] = block_of[1:] != block_of[:-1]
    ends[last_in_block] = b_end[block_of[last_in_block]]
    ends[~last_in_block] = np.minimum(ends[~last_in_block], b_end[block_of[~last_in_block]])
    starts, ends, keep = _strip(info, starts, ends)
    unit_doc = b_doc[block_of[keep]]
    unit_offsets = np.concatenate(([0], np.cumsum(np.bincount(unit_doc, minlength=n_docs))))
    return Units(starts[keep], ends[keep], kinds[keep]), unit_offsets


def _strip(
    info: TextInfo, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shrink each span to its first and last non-whitespace character; flag empty ones."""
    solid = np.flatnonzero(~info.space)
    if len(solid) == 0:
        return starts, ends, np.zeros(len(starts), bool)
    i = np.searchsorted(solid, starts)
    new_starts = solid[np.minimum(i, len(solid) - 1)]
    j = np.searchsorted(solid, ends) - 1
    new_ends = solid[np.maximum(j, 0)] + 1
    keep = (i < len(solid)) & (j >= 0) & (new_starts < ends) & (new_ends > starts)
    return new_starts, np.where(keep, new_ends, new_starts), keep


def _blocks(text: str) -> list[tuple[int, int, int, bool]]:
    """Markdown blocks as ``(start, end, kind, is_prose)``; non-prose blocks are one line."""
    out: list[tuple[int, int, int, bool]] = []
    block_start = -1  # start of the current prose block, -1 if none
    block_kind = PARAGRAPH  # boundary kind before the current prose block
    pending = PARAGRAPH  # boundary kind before whatever comes next
    fence = ""  # the open code fence ("```", "~~~~", ...), "" outside code

    def flush(end: int) -> None:
        nonlocal block_start
        if block_start >= 0:
            out.append((block_start, end, block_kind, True))
            block_start = -1

    pos = 0
    for line in text.split("\n"):
        line_start = pos
        line_end = pos + len(line)
        pos = line_end + 1
        if fence:
            out.append((line_start, line_end, CODE, False))
            stripped = line.strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                fence = ""
                pending = PARAGRAPH
            continue
        if not line or line.isspace():
            flush(line_start)
            pending = PARAGRAPH
            continue
        if _MAYBE_SPECIAL.match(line):
            m = _FENCE.match(line)
            if m:
                flush(line_start)
                fence = m.group(1)
                out.append((line_start, line_end, PARAGRAPH, False))
                continue
            if _HEADING.match(line):
                flush(line_start)
                out.append((line_start, line_end, HEADING, False))
                pending = PARAGRAPH
                continue
            if _RULE.match(line):
                flush(line_start)
                out.append((line_start, line_end, PARAGRAPH, False))
                pending = PARAGRAPH
                continue
            if _TABLE.match(line):
                flush(line_start)
                out.append((line_start, line_end, pending, False))
                pending = ITEM
                continue
            if _ITEM.match(line):
                flush(line_start)
                block_start, block_kind, pending = line_start, pending, ITEM
                continue
        if block_start < 0:  # a new paragraph; otherwise the line continues the block
            block_start, block_kind, pending = line_start, pending, ITEM
    flush(len(text))
    return out
