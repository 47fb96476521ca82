"""Texts the model barely covers, and how they are compared instead: character 3-grams.

An English static model spells a Korean, Chinese or Arabic line out of byte-fallback
tokens (``<0xEB>``), unknown tokens and single-letter pieces. Their vectors say little
about the line: unrelated Korean lines have cosine ~0.84 with each other under the
bundled model, so at 0.9 most of a Korean file was "near duplicates". Such texts are
*uncovered*: more than :data:`UNCOVERED_SHARE` of their content characters (anything
but spaces and punctuation) are non-ASCII characters that fall in byte-fallback or
unknown tokens, or non-ASCII letters tokenized one by one inside a longer word. ASCII
characters always count as covered (the models are English), which keeps the check off
the common path: only texts that are mostly non-ASCII are tokenized for it.

Uncovered texts are compared with each other by the Jaccard similarity of their sets
of character 3-grams (of the normalised text), never by vectors. To fit the rest of the
pipeline, a Jaccard ``J`` is put on the threshold's scale as ``s = 1 - (1 - J) / 5``
(one changed character in a line of ``L`` characters costs about ``6 / L`` of the
Jaccard, so ``s`` is roughly the share of characters left unchanged). A pair is a
duplicate at ``threshold`` when ``J >= max(0.5, 1 - 5 * (1 - threshold))``: 0.5 at 0.9
and below, 0.75 at 0.95, 0.9 at 0.98. One changed character in a 12-character Chinese
line gives 0.54; unrelated lines in one script stay below 0.15 (measured on Korean,
Chinese, Arabic, Russian and English lines). Jaccard below :data:`MIN_JACCARD` never
counts, whatever the threshold. ``rethreshold`` and ``target_size`` work on ``s`` like
on a cosine, so they stay exact.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Share of content characters in poorly covered tokens above which a text is uncovered.
UNCOVERED_SHARE = 0.5
#: Character n-gram length.
NGRAM = 3
#: Jaccard below this is never a duplicate, whatever the threshold (``s`` = 0.9).
MIN_JACCARD = 0.5
#: ``s = 1 - (1 - J) / SCALE`` puts a Jaccard on the threshold's scale.
SCALE = 5.0

_UNKNOWN: dict[str, frozenset[int]] = {}


def _unknown_ids(encoder: Any) -> frozenset[int]:
    """The id a tokenizer gives a character it has never seen (its unknown token), found by
    tokenizing a private-use character once per model; empty for byte-fallback tokenizers,
    which spell it in byte pieces instead (those are found by their shared spans)."""
    key = encoder.fingerprint
    ids = _UNKNOWN.get(key)
    if ids is None:
        probe = encoder.tokenize("\ue000")
        spans = probe.offsets.tolist()
        ids = frozenset(
            int(t) for t, sp in zip(probe.ids.tolist(), spans, strict=True) if spans.count(sp) == 1
        )
        _UNKNOWN[key] = ids
    return ids


def _is_content(ch: str) -> bool:
    return not ch.isspace() and not unicodedata.category(ch).startswith("P")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")


def _foreign_share(text: str) -> float:
    """An upper bound of the uncovered share, from two regex counts: non-ASCII characters
    over those plus ASCII letters and digits. Texts at or below the cut-off need no
    tokenizing."""
    foreign = len(_NON_ASCII.findall(text))
    return foreign / (foreign + len(_ASCII_ALNUM.findall(text))) if foreign else 0.0


def uncovered_share(encoder: Any, texts: Sequence[str]) -> np.ndarray:
    """Per text, the share of content characters that ``encoder`` covers poorly.

    Poorly covered: a non-ASCII character inside a byte-fallback or unknown token, or a
    non-ASCII letter that is a token on its own inside a longer run of letters (an English
    vocabulary spells unknown scripts letter by letter). ASCII characters always count
    as covered, so pure-ASCII and blank texts get 0, and texts that are mostly ASCII are
    not even tokenized.
    """
    out = np.zeros(len(texts), np.float64)
    todo = [
        i for i, t in enumerate(texts) if not t.isascii() and _foreign_share(t) > UNCOVERED_SHARE
    ]
    if not todo:
        return out
    unknown = _unknown_ids(encoder)
    for i, toks in zip(todo, encoder.tokenize([texts[i] for i in todo]), strict=True):
        text = texts[i]
        content = [k for k, ch in enumerate(text) if _is_content(ch)]
        if not content:
            continue
        bad = np.zeros(len(text), bool)
        spans = [tuple(sp) for sp in toks.offsets.tolist()]
        for k, (tid, (s, e)) in enumerate(zip(toks.ids.tolist(), spans, strict=True)):
            # byte-fallback pieces of one character share its span
            shared = (k > 0 and spans[k - 1] == (s, e)) or (
                k + 1 < len(spans) and spans[k + 1] == (s, e)
            )
            if shared or tid in unknown:
                bad[s:e] = True
                continue
            letters = [k for k in range(s, e) if text[k].isalpha()]
            if len(letters) == 1 and e - s <= 2 and not text[letters[0]].isascii():
                k = letters[0]
                inside = (k > 0 and text[k - 1].isalpha()) or (
                    k + 1 < len(text) and text[k + 1].isalpha()
                )
                if inside:
                    bad[k] = True
        out[i] = float(bad[content].sum()) / len(content)
    return out


def uncovered(encoder: Any, texts: Sequence[str]) -> np.ndarray:
    """Boolean mask of the texts :func:`uncovered_share` puts above :data:`UNCOVERED_SHARE`."""
    return uncovered_share(encoder, texts) > UNCOVERED_SHARE


# ---------------------------------------------------------------------- n-grams


def shingles(key: str) -> frozenset[str]:
    """The character 3-grams of a normalised text (the whole text if shorter)."""
    if len(key) < NGRAM:
        return frozenset([key])
    return frozenset(key[k : k + NGRAM] for k in range(len(key) - NGRAM + 1))


def jaccard_cutoff(threshold: float) -> float:
    """The Jaccard at or above which two uncovered texts are duplicates at ``threshold``."""
    return max(MIN_JACCARD, 1.0 - SCALE * (1.0 - threshold))


def to_scale(jaccard: np.ndarray | float) -> Any:
    """A Jaccard on the threshold's scale: ``1 - (1 - J) / 5``."""
    return 1.0 - (1.0 - np.asarray(jaccard, np.float64)) / SCALE


def from_scale(similarity: float) -> float:
    """The Jaccard behind a similarity produced by :func:`to_scale`."""
    return 1.0 - SCALE * (1.0 - similarity)


def _incidence(
    sets: Sequence[frozenset[str]], vocab: dict[str, int] | None = None
) -> tuple[Any, dict[str, int]]:
    """Sparse 0/1 matrix (sets x grams); grams not in a given ``vocab`` are added to it."""
    from scipy import sparse

    vocab = {} if vocab is None else vocab
    cols: list[int] = []
    indptr = [0]
    for s in sets:
        cols.extend(vocab.setdefault(g, len(vocab)) for g in s)
        indptr.append(len(cols))
    data = np.ones(len(cols), np.float32)
    shape = (len(sets), max(1, len(vocab)))
    return sparse.csr_matrix((data, np.asarray(cols, np.int64), indptr), shape=shape), vocab


#: Rows of the sparse intersection product computed at once (bounds its memory).
_CHUNK = 128


def ngram_pairs(
    sets: Sequence[frozenset[str]], floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``a < b`` of ``sets`` with ``to_scale(jaccard) >= floor``, exactly: the
    intersections of every pair come from one sparse product per chunk of rows."""
    if len(sets) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    cut = jaccard_cutoff(floor)
    x, _ = _incidence(sets)
    xt = x.T.tocsr()
    sizes = np.diff(x.indptr).astype(np.float64)
    ua, ub, js = [], [], []
    for start in range(0, len(sets), _CHUNK):
        inter = (x[start : start + _CHUNK] @ xt).tocoo()
        a = inter.row.astype(np.int64) + start
        b = inter.col.astype(np.int64)
        upper = a < b
        a, b, n = a[upper], b[upper], inter.data[upper].astype(np.float64)
        j = n / (sizes[a] + sizes[b] - n)
        ok = j >= cut - 1e-12
        ua.append(a[ok])
        ub.append(b[ok])
        js.append(j[ok])
    return (
        np.concatenate(ua),
        np.concatenate(ub),
        to_scale(np.concatenate(js)).astype(np.float32),
    )


def ngram_best(
    queries: Sequence[frozenset[str]], stored: Sequence[frozenset[str]], floor: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each query set, the best similarity (on the scale) among ``stored`` at or above
    ``floor`` (-inf if none) and its position (-1; ties: the earliest)."""
    best = np.full(len(queries), -np.inf, np.float32)
    where = np.full(len(queries), -1, np.int64)
    if not len(queries) or not len(stored):
        return best, where
    cut = jaccard_cutoff(floor)
    st, vocab = _incidence(stored)
    q, vocab = _incidence(queries, dict(vocab))
    st.resize((st.shape[0], q.shape[1]))
    stt = st.T.tocsr()
    q_sizes = np.diff(q.indptr).astype(np.float64)
    s_sizes = np.diff(st.indptr).astype(np.float64)
    for start in range(0, len(queries), _CHUNK):
        inter = (q[start : start + _CHUNK] @ stt).tocoo()
        a = inter.row.astype(np.int64) + start
        b = inter.col.astype(np.int64)
        n = inter.data.astype(np.float64)
        j = n / (q_sizes[a] + s_sizes[b] - n)
        ok = j >= cut - 1e-12
        a, b, sim = a[ok], b[ok], to_scale(j[ok]).astype(np.float32)
        order = np.lexsort((b, -sim, a))  # per query: best first, then the earliest
        a, b, sim = a[order], b[order], sim[order]
        first = np.r_[True, a[1:] != a[:-1]] if len(a) else np.zeros(0, bool)
        best[a[first]] = sim[first]
        where[a[first]] = b[first]
    return best, where


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter) if inter else 0.0
