"""A document with its chunk cut points, as one self-contained HTML page.

Looking at where a chunker cut is the quickest way to judge it (and to tune
``max_tokens`` or ``threshold``): :func:`chunks_html` renders the source text with
each chunk shaded in alternating colours and a numbered marker at every cut, the
marker naming the chunk's index, offsets and token count. The page has no scripts,
no external styles and no network requests, so it can be opened from a file, attached
to a report or embedded in documentation.

The renderer only reads :class:`~sememe.chunking.Chunk` fields; it checks that the
chunks belong to the source (``source[start:end] == text``, in order, not overlapping)
so that a page never shows cut points that are not the real ones.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from ..errors import InvalidArgumentError, InvalidTypeError
from .types import Chunk

__all__ = ["chunks_html", "documents_html"]

#: Background colours of consecutive chunks (light, readable under black text).
_COLOURS = ("#dbeafe", "#fde68a", "#bbf7d0", "#fbcfe8", "#e9d5ff", "#fed7aa")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem;
       color: #111; background: #fff; line-height: 1.5; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.summary { color: #444; font-size: 0.9rem; }
.doc { white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 0.85rem;
       border: 1px solid #ccc; padding: 1rem; border-radius: 4px; }
.chunk { border-radius: 2px; }
.cut { display: inline-block; font-family: system-ui, sans-serif; font-size: 0.7rem;
       color: #fff; background: #b91c1c; border-radius: 3px; padding: 0 0.3rem;
       margin: 0 0.15rem; white-space: nowrap; }
""".strip()


def _check(source: str, chunks: Sequence[Chunk], name: str) -> None:
    """Refuse chunks that are not cut points of ``source`` (wrong type, order, offsets)."""
    if not isinstance(source, str):
        raise InvalidTypeError(f"{name}: source must be a str, got {type(source).__name__}")
    end = 0
    for i, c in enumerate(chunks):
        if not isinstance(c, Chunk):
            raise InvalidTypeError(f"{name}: chunks[{i}] is {type(c).__name__}; expected a Chunk")
        if c.start < end or c.end < c.start or c.end > len(source):
            raise InvalidArgumentError(
                f"{name}: chunks[{i}] spans [{c.start}:{c.end}], which is out of order, "
                f"overlaps the previous chunk or lies outside the source ({len(source)} "
                "characters); pass the chunks of this source, in order"
            )
        if source[c.start : c.end] != c.text:
            raise InvalidArgumentError(
                f"{name}: chunks[{i}].text is not source[{c.start}:{c.end}]; "
                "pass the chunks made from this source"
            )
        end = c.end


def _section(name: str, source: str, chunks: Sequence[Chunk]) -> str:
    """The ``<section>`` of one document: a heading, a summary line, the shaded text."""
    parts: list[str] = []
    pos = 0
    for i, c in enumerate(chunks):
        parts.append(html.escape(source[pos : c.start]))
        label = f"{c.index}: [{c.start}:{c.end}] {c.n_tokens} tokens"
        parts.append(f'<span class="cut" title="chunk {html.escape(label)}">✂ {c.index}</span>')
        colour = _COLOURS[i % len(_COLOURS)]
        parts.append(
            f'<span class="chunk" style="background:{colour}" title="chunk '
            f'{html.escape(label)}">{html.escape(c.text)}</span>'
        )
        pos = c.end
    parts.append(html.escape(source[pos:]))
    tokens = [c.n_tokens for c in chunks]
    summary = f"{len(chunks)} chunks, {len(source):,} characters" + (
        f", {min(tokens)}–{max(tokens)} tokens per chunk" if tokens else ""
    )
    return (
        f"<section>\n<h2>{html.escape(name)}</h2>\n"
        f'<p class="summary">{summary}</p>\n'
        f'<div class="doc">{"".join(parts)}</div>\n</section>'
    )


def documents_html(
    documents: Iterable[tuple[str, str, Sequence[Chunk]]], *, title: str = "Chunks"
) -> str:
    """One HTML page showing the chunks of several documents, one section each.

    Parameters
    ----------
    documents:
        ``(name, source, chunks)`` triples: a heading for the document (a file name),
        the text that was chunked and the chunks a chunker returned for it.
    title:
        The page's title and top heading.

    Returns
    -------
    str
        A complete, self-contained HTML5 document (inline CSS, no scripts).

    Raises
    ------
    InvalidArgumentError
        When a chunk is not a piece of its source at its offsets, or chunks are out of
        order or overlap.
    """
    sections = []
    for name, source, chunks in documents:
        chunks = list(chunks)
        _check(source, chunks, str(name))
        sections.append(_section(str(name), source, chunks))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{_STYLE}\n</style>\n</head>\n"
        f"<body>\n<h1>{html.escape(title)}</h1>\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )


def chunks_html(source: str, chunks: Sequence[Chunk], *, title: str = "Chunks") -> str:
    """An HTML page showing ``source`` with the cut points of ``chunks`` marked.

    Each chunk is shaded (colours alternate) and preceded by a red ``✂ N`` marker; hovering
    a chunk or marker shows its index, ``[start:end]`` offsets and token count. Whitespace
    between chunks is shown unshaded, exactly as in the source.

    Example::

        from sememe.chunking import SemanticChunker, chunks_html
        text = open("notes.md").read()
        page = chunks_html(text, SemanticChunker(max_tokens=128).chunk(text))
        open("chunks.html", "w").write(page)

    See :func:`documents_html` for several documents on one page, and for the errors.
    """
    return documents_html([(title, source, chunks)], title=title)
