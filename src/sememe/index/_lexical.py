"""The lexical (BM25) side of a hybrid :class:`~sememe.index.Index`, on tantivy.

Why tantivy: measured against bm25s on the same analysis (``benchmarks/lexical_engines.py``,
results in ``benchmarks/results/lexical_engines.md``), it builds a million documents faster
and in a fraction of the memory, answers a query in about a millisecond without scoring every
document, and adds and deletes documents without a rebuild; bm25s has no incremental add.

Rows: a document's row in the index (its position in the :class:`~._store.DocStore`) changes
when earlier documents are removed, so tantivy stores a *serial* per document (an integer
that never changes and grows with insertion order) and :class:`Lexical` keeps the serial of
every row, in row order. ``searchsorted`` maps serials found by a query back to rows.

Files: tantivy's own segment files under ``lexical/`` of the index folder, and
``lexical_serials.npy`` (the serial of every row). A live index works on a private copy in a
temporary folder (removed when the index is garbage collected), never on the saved folder, so
a later ``add`` cannot change a saved index.

Scores: Okapi BM25 as tantivy computes it (``k1 = 1.2``, ``b = 0.75``), over the whole index.
Like every Lucene-style engine, tantivy counts a removed document in the term statistics until
its segment is merged, so removing documents shifts the other scores slightly until then.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import _folder, _progress, _text
from .._validate import check_positive_int
from ..errors import InvalidArgumentError, InvalidTypeError, MissingDependencyError
from ._common import IndexFormatError, shown
from ._files import load_npy

#: Folder (inside an index folder) of tantivy's files, and the serials of the rows.
FOLDER = "lexical"
SERIALS = "lexical_serials.npy"

_TEXT, _SERIAL = "text", "serial"
_ANALYZER_NAME = "sememe"
_SCRATCH = "sememe-lexical"
_MAX_SERIAL = 2**63 - 1  # tantivy's i64 field
#: Writer memory: tantivy flushes a segment whenever this fills; 2 threads at most.
_WRITER_HEAP = 256 * 1024 * 1024
#: Documents handed to tantivy's writer between two ticks of the "building the lexical
#: index" bar (shown only inside a CLI's progress scope).
_ADD_BLOCK = 4_096
_LOCK_FILES = (".tantivy-writer.lock", ".tantivy-meta.lock")

#: Languages with a Snowball stemmer in tantivy; the first group also has a stop word list.
STOPWORD_LANGUAGES = (
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "german",
    "hungarian",
    "italian",
    "norwegian",
    "portuguese",
    "russian",
    "spanish",
    "swedish",
)
LANGUAGES = (*STOPWORD_LANGUAGES, "arabic", "greek", "romanian", "tamil", "turkish")


def _tantivy() -> Any:
    try:
        import tantivy
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise MissingDependencyError(
            "lexical search needs the 'tantivy' package (a dependency of sememe); "
            "reinstall sememe or run: pip install tantivy"
        ) from exc
    return tantivy


@dataclass(frozen=True)
class Analyzer:
    """How texts become search terms, the same for documents and queries.

    A text is split into runs of letters and digits (Unicode-aware: ``"naïve"``, ``"東京"``
    and ``"COVID19"`` are one token each, punctuation and spaces split), tokens longer than
    ``max_token_length`` bytes are dropped, then the filters run in this order: lowercase,
    ASCII folding (``"café"`` -> ``"cafe"``), stop words, Snowball stemming. Scripts written
    without spaces (Chinese, Japanese) are not segmented: a run of such characters is one term.

    Parameters
    ----------
    language:
        Stemmer and stop word language (one of :data:`LANGUAGES`), or ``None`` for neither.
    stem:
        Reduce words to their stem (``"running"`` -> ``"run"``).
    stopwords:
        ``True`` drops the language's built-in list (:data:`STOPWORD_LANGUAGES` have one),
        ``False`` keeps every word, or a list of words to drop (lowercased, and matched
        after the lowercase filter, when ``lowercase`` is on; as given otherwise).
    lowercase, ascii_fold:
        Case folding and accent folding.
    max_token_length:
        Longer tokens (in UTF-8 bytes) are dropped: base64 blobs and URLs would otherwise
        fill the term dictionary. A run of Chinese or Japanese characters is one token, so
        at the default of 40 bytes a run of more than 13 such characters is dropped: raise
        it (or pre-segment the text with spaces) for those languages.
    """

    language: str | None = "english"
    stem: bool = True
    stopwords: bool | tuple[str, ...] = True
    lowercase: bool = True
    ascii_fold: bool = False
    max_token_length: int = 40
    _built: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        language = self.language
        if language is not None:
            if not isinstance(language, str):
                raise InvalidTypeError(f"language must be a str or None, got {shown(language)}")
            language = language.strip().lower()
            if language not in LANGUAGES:
                raise InvalidArgumentError(
                    f"language {self.language!r} has no stemmer; use one of "
                    f"{', '.join(LANGUAGES)} or None"
                )
            object.__setattr__(self, "language", language)
        for name in ("stem", "lowercase", "ascii_fold"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidTypeError(
                    f"{name} must be True or False, got {shown(getattr(self, name))}"
                )
        stop = self.stopwords
        if isinstance(stop, bool):
            if stop and language is not None and language not in STOPWORD_LANGUAGES:
                raise InvalidArgumentError(
                    f"tantivy has no stop word list for {language!r}; pass stopwords=False "
                    "or a list of words"
                )
        elif isinstance(stop, str) or not isinstance(stop, Sequence | set | frozenset):
            raise InvalidTypeError(
                f"stopwords must be True, False or a list of words, got {shown(stop)}"
            )
        else:
            words = tuple(stop)
            if not all(isinstance(w, str) for w in words):
                raise InvalidTypeError("stopwords must hold str words only")
            if self.lowercase:  # stop words are matched after the lowercase filter
                words = tuple(w.lower() for w in words)
            object.__setattr__(self, "stopwords", tuple(sorted(set(words))))
        if self.stem and language is None:
            raise InvalidArgumentError("stem=True needs a language; pass stem=False or a language")
        check_positive_int(self.max_token_length, "max_token_length")

    # ------------------------------------------------------------------ building
    def build(self) -> Any:
        """The tantivy ``TextAnalyzer`` for these settings (built once, then reused)."""
        if self._built is None:
            tantivy = _tantivy()
            f = tantivy.Filter
            b = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            b = b.filter(f.remove_long(self.max_token_length))
            if self.lowercase:
                b = b.filter(f.lowercase())
            if self.ascii_fold:
                b = b.filter(f.ascii_fold())
            if self.stopwords is True and self.language is not None:
                b = b.filter(f.stopword(self.language))
            elif isinstance(self.stopwords, tuple) and self.stopwords:
                b = b.filter(f.custom_stopword(list(self.stopwords)))
            if self.stem and self.language is not None:
                b = b.filter(f.stemmer(self.language))
            object.__setattr__(self, "_built", b.build())
        return self._built

    def analyze(self, text: str) -> list[str]:
        """The terms of ``text``, in order (repeats kept)."""
        if not isinstance(text, str):
            raise InvalidTypeError(f"text must be a str, got {shown(text)}")
        return list(self.build().analyze(_encodable(text)))

    def to_dict(self) -> dict[str, Any]:
        """Plain settings for a manifest."""
        stop = self.stopwords
        return {
            "language": self.language,
            "stem": self.stem,
            "stopwords": list(stop) if isinstance(stop, tuple) else stop,
            "lowercase": self.lowercase,
            "ascii_fold": self.ascii_fold,
            "max_token_length": self.max_token_length,
        }

    @classmethod
    def from_dict(cls, d: Any) -> Analyzer:
        """Settings written by :meth:`to_dict`."""
        if not isinstance(d, dict):
            raise InvalidTypeError(f"analyzer settings must be an object, got {shown(d)}")
        known = {"language", "stem", "stopwords", "lowercase", "ascii_fold", "max_token_length"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InvalidArgumentError(f"unknown analyzer settings {unknown}")
        d = dict(d)
        if isinstance(d.get("stopwords"), list):
            d["stopwords"] = tuple(d["stopwords"])
        return cls(**d)


def as_analyzer(value: Any) -> Analyzer:
    """``None`` (English defaults), an :class:`Analyzer`, or a dict of its settings."""
    if value is None:
        return Analyzer()
    if isinstance(value, Analyzer):
        return value
    if isinstance(value, dict):
        return Analyzer.from_dict(value)
    raise InvalidTypeError(
        f"analyzer must be an Analyzer, a dict of its settings or None, got {shown(value)}"
    )


def _encodable(text: str) -> str:
    """``text`` with lone surrogates replaced (as the encoder's tokenizer gets them):
    tantivy takes UTF-8 only."""
    return text if text.isascii() else _text.replace_surrogates(text)


# ----------------------------------------------------------------------------- the engine


class Lexical:
    """A tantivy index over the texts of an :class:`~sememe.index.Index`, by row.

    The index's read/write lock guards it as it guards the dense engine: searches share
    the read side, ``append``, ``forget`` and ``flush`` run under the write side, and a
    save's ``to_files`` under the read side. tantivy allows one writer at a time, so the
    writing methods also take ``_write_lock`` (two saves may flush at once).
    """

    def __init__(self, analyzer: Analyzer, *, folder: Path | None = None) -> None:
        tantivy = _tantivy()
        self.analyzer = analyzer
        # a private working copy, removed when this object goes; a killed process's copy is
        # removed by the next process that makes one (its lock is gone)
        self._dir, lock = _folder.scratch_dir(_SCRATCH)
        self._cleanup = weakref.finalize(
            self, _folder.release_scratch, self._dir, lock, os.getpid()
        )
        if folder is not None:  # a saved index: work on a private copy
            for p in folder.iterdir():
                if p.is_file():
                    _link_or_copy(p, self._dir / p.name)
            self._index = tantivy.Index.open(str(self._dir))
        else:
            sb = tantivy.SchemaBuilder()
            sb.add_text_field(
                _TEXT, stored=False, tokenizer_name=_ANALYZER_NAME, index_option="freq"
            )
            sb.add_integer_field(_SERIAL, stored=False, indexed=True, fast=True)
            self._index = tantivy.Index(sb.build(), path=str(self._dir))
        # reloads happen after our commits only: tantivy's watcher thread would otherwise
        # race the cleanup of the folder (and recreate a lock file in it)
        self._index.config_reader("Manual")
        self._index.register_tokenizer(_ANALYZER_NAME, analyzer.build())
        self._schema = self._index.schema
        self.serials = np.zeros(0, np.int64)
        self.next_serial = 0
        self._pending: list[tuple[int, int]] = []  # serial ranges tantivy may still hold
        self._write_lock = threading.Lock()  # one tantivy writer at a time (saves run in parallel)
        self._searcher = self._index.searcher()

    def __len__(self) -> int:
        return len(self.serials)

    # ------------------------------------------------------------------ writing
    #
    # What the index sees is ``serials``: a search maps tantivy's hits through it and drops
    # any serial that is not there. tantivy may hold more documents than that (a removal
    # whose commit has not happened yet, an add that failed after its commit went
    # through); their serial ranges wait in ``_pending`` and are deleted by the next
    # commit (an add, a removal, a save). Serials are never reused, so a document left in
    # tantivy can never be taken for a later one.

    def _writer(self) -> Any:
        return self._index.writer(_WRITER_HEAP, 1)

    def _finish(self, writer: Any) -> None:
        """Commit, wait for merges, and make the new state visible to searches."""
        writer.commit()
        writer.wait_merging_threads()
        self._index.reload()
        self._searcher = self._index.searcher()

    def _delete_pending(self, writer: Any) -> None:
        tantivy = _tantivy()
        for lo, hi in self._pending:
            if hi - lo == 1:
                writer.delete_documents_by_term(_SERIAL, lo)
            else:
                query = tantivy.Query.range_query(
                    self._schema, _SERIAL, tantivy.FieldType.Integer, lo, hi - 1
                )
                writer.delete_documents_by_query(query)

    def append(self, texts: Sequence[str]) -> None:
        """Index ``texts`` as the next rows (one tantivy commit, which also deletes what is
        pending). On any failure the rows are not added; should the commit have gone
        through before the failure, their serials wait as pending deletions."""
        if not texts:
            return
        tantivy = _tantivy()
        start = self.next_serial
        end = start + len(texts)
        self.next_serial = end  # never reused, even when this add fails
        with self._write_lock:
            writer = self._writer()
            try:
                self._delete_pending(writer)
                with _progress.phase("building the lexical index", len(texts), unit="text") as bar:
                    for s in range(0, len(texts), _ADD_BLOCK):
                        block = texts[s : s + _ADD_BLOCK]
                        for i, text in enumerate(block, start + s):
                            doc = tantivy.Document()
                            doc.add_text(_TEXT, _encodable(text))
                            doc.add_integer(_SERIAL, i)
                            writer.add_document(doc)
                        bar.update(len(block))
                with _progress.ticking("writing the lexical index"):
                    self._finish(writer)
            except BaseException:
                _rollback(writer)
                writer = None  # the traceback keeps this frame: release the writer lock now
                self._pending.append((start, end))
                raise
            self._pending.clear()
        self.serials = np.concatenate([self.serials, np.arange(start, end, dtype=np.int64)])

    def forget(self, rows: np.ndarray, keep: np.ndarray) -> Callable[[], None]:
        """Prepare the removal of the documents at ``rows`` (``keep``: the others) and
        return the step that makes it (plain assignments, which cannot fail): call it
        once the rest of the index has removed them, then :meth:`flush`."""
        new = self.serials[keep]
        gone = np.sort(self.serials[rows])
        breaks = np.flatnonzero(np.diff(gone) != 1) + 1
        ranges = [(int(g[0]), int(g[-1]) + 1) for g in np.split(gone, breaks) if len(g)]

        def install() -> None:
            self.serials = new
            self._pending.extend(ranges)

        return install

    def flush(self, *, strict: bool = False) -> None:
        """Commit the pending deletions. A failure (a full disk) keeps them pending for the
        next commit; ``strict`` raises it (a save must not copy a stale state)."""
        if not self._pending:
            return
        with self._write_lock:
            writer = self._writer()
            try:
                self._delete_pending(writer)
                self._finish(writer)
            except Exception:
                _rollback(writer)
                writer = None
                if strict:
                    raise
                return
            self._pending.clear()

    # ------------------------------------------------------------------ searching
    def terms(self, query: str) -> list[str]:
        """The distinct terms of ``query``, in order."""
        return list(dict.fromkeys(self.analyzer.analyze(query)))

    def search(
        self, terms: list[str], n: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best ``n`` rows for ``terms`` by BM25 and their scores, best first; only rows
        where ``allowed`` (a bool mask by row) is true when given. Ties go to the earlier
        row. Documents that contain none of the terms are never returned."""
        if not terms or not len(self.serials) or n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        tantivy = _tantivy()
        q = tantivy.Query
        query = q.boolean_query(
            [(tantivy.Occur.Should, q.term_query(self._schema, _TEXT, t)) for t in terms]
        )
        searcher = self._searcher
        # a little past n, so that the usual query sees a lower score after the n-th one
        # (then no document tied with it is left out) and needs a single search
        limit = min(n + max(8, n // 8) if allowed is None else 4 * n, len(self.serials))
        while True:
            hits = searcher.search(query, limit, count=False).hits
            if not hits:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            scores = np.fromiter((h[0] for h in hits), np.float32, len(hits))
            serials = np.asarray(
                searcher.fast_field_values(_SERIAL, [h[1] for h in hits]), np.int64
            )
            rows = np.searchsorted(self.serials, serials)
            ok = rows < len(self.serials)
            ok[ok] &= self.serials[rows[ok]] == serials[ok]
            if allowed is not None:
                ok[ok] &= allowed[rows[ok]]
            if len(hits) < limit or limit >= len(self.serials):
                break  # every match is in
            # tantivy lists hits best first, so the n-th allowed one is the n-th score
            if ok.sum() >= n and scores[-1] < scores[ok][n - 1]:
                break  # and every document tied with the n-th best is in (ties: by row)
            limit = min(4 * limit, len(self.serials))
        rows, scores = rows[ok], scores[ok]
        order = np.lexsort((rows, -scores))[:n]  # best first; ties by row
        return rows[order], scores[order]

    # ------------------------------------------------------------------ files
    def to_files(self, folder: Path) -> dict[str, Any]:
        """Copy tantivy's files into ``folder/lexical`` and write the row serials."""
        self.flush(strict=True)  # the saved copy holds exactly the rows
        out = folder / FOLDER
        out.mkdir()
        for p in sorted(self._dir.iterdir()):
            if p.is_file() and p.name not in _LOCK_FILES:
                shutil.copyfile(p, out / p.name)
        np.save(folder / SERIALS, self.serials)
        return {
            "analyzer": self.analyzer.to_dict(),
            "documents": len(self.serials),
            "next_serial": self.next_serial,
        }

    @classmethod
    def from_files(cls, folder: Path, info: Any, n: int, manifest: Path) -> Lexical:
        """The lexical part of a saved index with ``n`` rows; ``info`` is its manifest entry."""
        if not isinstance(info, dict):
            raise IndexFormatError(f"{manifest}: 'lexical' must be an object, got {shown(info)}")
        try:
            analyzer = Analyzer.from_dict(info.get("analyzer"))
        except (TypeError, ValueError) as exc:
            raise IndexFormatError(f"{manifest}: invalid lexical analyzer ({exc})") from None
        nxt = info.get("next_serial")
        if isinstance(nxt, bool) or not isinstance(nxt, int) or nxt < 0:
            raise IndexFormatError(f"{manifest}: lexical 'next_serial' must be an integer >= 0")
        if nxt > _MAX_SERIAL:
            raise IndexFormatError(f"{manifest}: lexical 'next_serial' is out of range")
        path = folder / SERIALS
        serials = load_npy(path, (n,), np.int64)  # the header is checked before any read
        if (n and (serials[0] < 0 or serials[-1] >= nxt)) or (
            n > 1 and not (np.diff(serials) > 0).all()
        ):
            raise IndexFormatError(
                f"{path}: expected {n} increasing serials below {nxt}, got shape "
                f"{serials.shape} of {serials.dtype}"
            )
        if not (folder / FOLDER).is_dir():
            raise IndexFormatError(f"{folder / FOLDER}: missing; the folder is incomplete")
        try:
            new = cls(analyzer, folder=folder / FOLDER)
            live = new._searcher.num_docs
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # tantivy's errors, and its panics (a BaseException)
            raise IndexFormatError(
                f"{folder / FOLDER}: unreadable tantivy index ({type(exc).__name__}: {exc})"
            ) from None
        if live != n:
            raise IndexFormatError(f"{folder / FOLDER}: holds {live} documents, the index has {n}")
        new.serials = serials.astype(np.int64)
        new.next_serial = nxt
        return new


def _link_or_copy(src: Path, dst: Path) -> None:
    """tantivy never rewrites a file in place (``meta.json`` is replaced by a rename), so
    a hard link is a safe, instant copy; another file system gets a real copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _rollback(writer: Any) -> None:
    """Drop a writer's uncommitted changes; a failure here must not hide the first one."""
    with contextlib.suppress(Exception):  # the original error is being raised
        writer.rollback()
