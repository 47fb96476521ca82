"""LangChain with sememe: an ``Embeddings`` for vector stores and a ``TextSplitter``.

::

    from langchain_core.vectorstores import InMemoryVectorStore
    from sememe.integrations.langchain import SememeEmbeddings, SememeTextSplitter

    splitter = SememeTextSplitter(max_tokens=256)        # sememe's SemanticChunker
    chunks = splitter.split_documents(documents)          # metadata: start_index, end_index
    store = InMemoryVectorStore.from_documents(chunks, SememeEmbeddings())
    store.similarity_search("a question", k=3)

Needs the ``langchain`` extra (``pip install 'sememe[langchain]'``: langchain-core and
langchain-text-splitters); without it, importing this module raises
:class:`~sememe.errors.MissingDependencyError` naming the extra.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from .._resolve import resolve_encoder
from ..errors import InvalidArgumentError, InvalidTypeError, MissingDependencyError
from ._common import checked_list, resolve_chunker

try:
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import TextSplitter
except ImportError as exc:
    raise MissingDependencyError(
        "sememe.integrations.langchain needs langchain-core and langchain-text-splitters: "
        f"pip install 'sememe[langchain]' ({exc})"
    ) from None

__all__ = ["SememeEmbeddings", "SememeTextSplitter"]


class SememeEmbeddings(Embeddings):
    """A LangChain ``Embeddings`` backed by a :class:`sememe.Encoder`.

    Parameters
    ----------
    encoder:
        A :class:`sememe.Encoder`, a model name or folder, or None for the bundled model.
    dim:
        Output size (Matryoshka truncation); defaults to the encoder's.

    Notes
    -----
    Documents and queries get the same vectors (a static model has no query prompt),
    L2-normalised as the model says (the bundled models are), as lists of Python floats.
    The async forms run the sync ones in LangChain's executor; an encoder is safe to
    share between threads.
    """

    def __init__(self, encoder: Any = None, *, dim: int | None = None) -> None:
        enc = resolve_encoder(encoder)
        self.encoder = enc if dim is None else enc.with_options(dim=dim)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order (an empty list gives ``[]``)."""
        if isinstance(texts, str):
            raise InvalidTypeError(
                "texts is one str; embed_documents takes a list of texts (use embed_query for one)"
            )
        return self.encoder.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        if not isinstance(text, str):
            raise InvalidTypeError(
                f"text is {type(text).__name__}; embed_query takes one str (use "
                "embed_documents for a list)"
            )
        return self.encoder.encode(text).tolist()

    def __repr__(self) -> str:
        return f"SememeEmbeddings(encoder={self.encoder!r})"


class SememeTextSplitter(TextSplitter):
    """A LangChain ``TextSplitter`` that cuts with a sememe chunker, keeping exact offsets.

    Parameters
    ----------
    chunker:
        Any sememe chunker (``SemanticChunker``, ``TokenChunker``, ...: an object whose
        ``chunk(text)`` returns :class:`sememe.Chunk`\\ s). Default: a
        ``SemanticChunker(encoder, max_tokens=max_tokens)``.
    encoder, max_tokens:
        For the default chunker only (giving them with ``chunker`` is an error).
        ``max_tokens`` is a hard cap on each chunk's tokens (default 512).
    add_start_index:
        Put each chunk's character offsets into its metadata: ``start_index`` (the
        key LangChain's own ``add_start_index`` uses) and ``end_index``, with
        ``source_text[start_index:end_index] == chunk.page_content``. Default True.

    Notes
    -----
    LangChain's character-based options (``chunk_size``, ``chunk_overlap``,
    ``length_function``, ``keep_separator``, ``strip_whitespace``) are refused with the
    sememe equivalent rather than ignored: sizes are tokens (``max_tokens``, and the
    chunker's own ``overlap=`` where it has one), and chunks are exact slices that start
    and end on non-whitespace.

    ``split_text`` gives the chunk texts; ``create_documents``, ``split_documents`` and
    ``transform_documents`` give ``Document``\\ s whose metadata is a copy of their
    source's plus the offsets.
    """

    def __init__(
        self,
        chunker: Any = None,
        *,
        encoder: Any = None,
        max_tokens: int | None = None,
        add_start_index: bool = True,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            names = ", ".join(sorted(kwargs))
            raise InvalidArgumentError(
                f"SememeTextSplitter does not take {names}: sizes are in tokens (max_tokens=, "
                "or a chunker such as TokenChunker(max_tokens=..., overlap=...)) and chunks are "
                "exact slices of the text"
            )
        chunker = resolve_chunker(chunker, encoder, max_tokens)
        if not isinstance(add_start_index, bool):
            raise InvalidTypeError(f"add_start_index must be a bool, got {add_start_index!r}")
        # LangChain's own size field, for code that reads it: here in tokens, not chars.
        size = getattr(chunker, "max_tokens", None)
        super().__init__(
            chunk_size=size if isinstance(size, int) and size > 0 else 1,
            chunk_overlap=0,
            add_start_index=add_start_index,
        )
        self.chunker = chunker

    def split_text(self, text: str) -> list[str]:
        """The chunk texts of ``text``, in order."""
        return [c.text for c in self._chunks(text)]

    def create_documents(
        self, texts: list[str], metadatas: list[dict[Any, Any]] | None = None
    ) -> list[Document]:
        """One ``Document`` per chunk of each text; metadata copied from ``metadatas[i]``
        plus ``start_index`` / ``end_index`` (when ``add_start_index``)."""
        if isinstance(texts, str):
            raise InvalidTypeError("texts is one str; create_documents takes a list of texts")
        texts = list(texts)
        if metadatas is None:
            metadatas = [{}] * len(texts)
        elif len(metadatas) != len(texts):
            raise InvalidArgumentError(
                f"metadatas has {len(metadatas)} items but texts has {len(texts)}; give one "
                "dict per text"
            )
        docs: list[Document] = []
        for text, meta in zip(texts, metadatas, strict=True):
            for chunk in self._chunks(text):
                metadata = copy.deepcopy(meta)
                if self._add_start_index:
                    metadata["start_index"] = chunk.start
                    metadata["end_index"] = chunk.end
                docs.append(Document(page_content=chunk.text, metadata=metadata))
        return docs

    def split_documents(self, documents: Iterable[Document]) -> list[Document]:
        """The chunks of each document, its metadata kept (offsets into its
        ``page_content``)."""
        docs = _documents(documents)
        return self.create_documents(
            [d.page_content for d in docs], metadatas=[d.metadata for d in docs]
        )

    def transform_documents(self, documents: Sequence[Document], **kwargs: Any) -> list[Document]:
        """LangChain's document-transformer call: :meth:`split_documents`."""
        return self.split_documents(documents)

    def _chunks(self, text: Any) -> list[Any]:
        if not isinstance(text, str):
            raise InvalidTypeError(
                f"text is {type(text).__name__}; expected str (use split_documents for Documents)"
            )
        return self.chunker.chunk(text)


def _documents(documents: Any) -> list[Document]:
    """``documents`` as a list of LangChain ``Document``\\ s, or an error naming the bad one."""
    return checked_list(
        documents,
        Document,
        "pass a list of Documents",
        "a langchain Document (use split_text or create_documents for plain texts)",
    )
