"""The :class:`Chunk` result type shared by every chunker."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Chunk:
    """A contiguous piece of a source text.

    ``text == source[start:end]`` always holds (character offsets into the string the
    chunker was given), so a chunk can be mapped back to its place in the document.
    Chunks of one text are in order, start and end on non-whitespace, and together
    cover every non-whitespace character of the source. They never overlap unless the
    chunker was given ``overlap=``; then each chunk after the first starts inside the
    previous one.

    Attributes
    ----------
    text:
        The chunk's text, exactly as in the source.
    start, end:
        Character offsets of the chunk in the source (``end`` exclusive).
    n_tokens:
        Number of tokens of ``text`` counted alone with the chunker's tokenizer; never
        more than the chunker's ``max_tokens``.
    index:
        Position of the chunk in the list for its source (0, 1, 2, ...).
    """

    text: str
    start: int
    end: int
    n_tokens: int
    index: int

    def __len__(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, ready for ``json.dumps``."""
        return asdict(self)

    def __repr__(self) -> str:
        preview = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return (
            f"Chunk(index={self.index}, start={self.start}, end={self.end}, "
            f"n_tokens={self.n_tokens}, text={preview!r})"
        )
