"""LlamaIndex with sememe: a ``BaseEmbedding`` and a ``NodeParser``.

::

    from llama_index.core import Document, VectorStoreIndex
    from sememe.integrations.llama_index import SememeEmbedding, SememeNodeParser

    index = VectorStoreIndex.from_documents(
        [Document(text=text)],
        embed_model=SememeEmbedding(),
        transformations=[SememeNodeParser(max_tokens=256)],
    )
    index.as_retriever(similarity_top_k=3).retrieve("a question")

Needs the ``llama-index`` extra (``pip install 'sememe[llama-index]'``: llama-index-core);
without it, importing this module raises :class:`~sememe.errors.MissingDependencyError`
naming the extra. Nothing here needs an LLM or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._resolve import resolve_encoder
from ..errors import InvalidTypeError, MissingDependencyError
from ._common import checked_list, resolve_chunker

try:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.bridge.pydantic import Field, PrivateAttr
    from llama_index.core.node_parser import NodeParser
    from llama_index.core.node_parser.node_utils import build_nodes_from_splits
    from llama_index.core.schema import BaseNode, Document, MetadataMode, TextNode
    from llama_index.core.utils import get_tqdm_iterable
except ImportError as exc:
    raise MissingDependencyError(
        "sememe.integrations.llama_index needs llama-index-core: "
        f"pip install 'sememe[llama-index]' ({exc})"
    ) from None

__all__ = ["SememeEmbedding", "SememeNodeParser"]

#: LlamaIndex's largest allowed ``embed_batch_size``; sememe encodes big batches fastest.
_MAX_BATCH = 2048


class SememeEmbedding(BaseEmbedding):
    """A LlamaIndex ``BaseEmbedding`` backed by a :class:`sememe.Encoder`.

    Parameters
    ----------
    encoder:
        A :class:`sememe.Encoder`, a model name or folder, or None for the bundled model.
    dim:
        Output size (Matryoshka truncation); defaults to the encoder's.
    **kwargs:
        LlamaIndex's own fields (``embed_batch_size``, default 2048, its maximum;
        ``callback_manager``, ...).

    Notes
    -----
    Queries and texts get the same vectors (a static model has no query prompt),
    L2-normalised as the model says. The async forms call the sync ones: encoding is
    CPU-bound and fast, so there is no I/O to wait on.
    """

    _encoder: Any = PrivateAttr()

    def __init__(self, encoder: Any = None, *, dim: int | None = None, **kwargs: Any) -> None:
        enc = resolve_encoder(encoder)
        enc = enc if dim is None else enc.with_options(dim=dim)
        kwargs.setdefault("model_name", enc.config.name or enc.source)
        kwargs.setdefault("embed_batch_size", _MAX_BATCH)
        super().__init__(**kwargs)
        self._encoder = enc

    @classmethod
    def class_name(cls) -> str:
        return "SememeEmbedding"

    @property
    def encoder(self) -> Any:
        """The :class:`sememe.Encoder` that makes the vectors."""
        return self._encoder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._one(query, "query")

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._one(query, "query")

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._one(text, "text")

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._one(text, "text")

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encoder.encode(list(texts)).tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._get_text_embeddings(texts)

    def _one(self, text: Any, name: str) -> list[float]:
        if not isinstance(text, str):
            raise InvalidTypeError(f"{name} is {type(text).__name__}; expected str")
        return self._encoder.encode(text).tolist()


class SememeNodeParser(NodeParser):
    """A LlamaIndex ``NodeParser`` that cuts with a sememe chunker.

    Parameters
    ----------
    chunker:
        Any sememe chunker (``SemanticChunker``, ``TokenChunker``, ...: an object whose
        ``chunk(text)`` returns :class:`sememe.Chunk`\\ s). Default: a
        ``SemanticChunker(encoder, max_tokens=max_tokens)``.
    encoder, max_tokens:
        For the default chunker only (giving them with ``chunker`` is an error).
    **kwargs:
        LlamaIndex's own fields (``include_metadata``, ``include_prev_next_rel``,
        ``id_func``, ``callback_manager``).

    Notes
    -----
    Each chunk becomes a ``TextNode`` as LlamaIndex's own parsers make them: a
    ``SOURCE`` relationship to its document, ``PREVIOUS``/``NEXT`` to its neighbours,
    the document's metadata, and ``start_char_idx``/``end_char_idx`` with
    ``document.text[start_char_idx:end_char_idx] == node.text``. The offsets are the
    chunker's own (exact even where the same text occurs twice); parsing a node that
    has offsets gives offsets into its document too. ``max_tokens`` caps the chunk's own
    text; LlamaIndex adds the node's metadata to it when it embeds the node.
    """

    chunker: Any = Field(default=None, exclude=True, description="The sememe chunker.")

    def __init__(
        self,
        chunker: Any = None,
        *,
        encoder: Any = None,
        max_tokens: int | None = None,
        **kwargs: Any,
    ) -> None:
        chunker = resolve_chunker(chunker, encoder, max_tokens)
        super().__init__(chunker=chunker, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        return "SememeNodeParser"

    def get_nodes_from_documents(
        self, documents: Sequence[Document], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        """The chunks of each document (or node) as ``TextNode``\\ s, in order."""
        return super().get_nodes_from_documents(_nodes(documents), show_progress, **kwargs)

    async def aget_nodes_from_documents(
        self, documents: Sequence[Document], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        """:meth:`get_nodes_from_documents`, for async pipelines (chunking is CPU work)."""
        return await super().aget_nodes_from_documents(_nodes(documents), show_progress, **kwargs)

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        out: list[BaseNode] = []
        for node in get_tqdm_iterable(_nodes(nodes), show_progress, "Parsing nodes"):
            text = node.get_content(metadata_mode=MetadataMode.NONE)
            chunks = self.chunker.chunk(text)
            built = build_nodes_from_splits([c.text for c in chunks], node, id_func=self.id_func)
            base = _start_of(node)
            for piece, chunk in zip(built, chunks, strict=True):
                piece.start_char_idx = base + chunk.start
                piece.end_char_idx = base + chunk.end
            out.extend(built)
        return out

    def _postprocess_parsed_nodes(
        self, nodes: list[BaseNode], parent_doc_map: dict[str, Document]
    ) -> list[BaseNode]:
        # LlamaIndex re-derives offsets with str.find, which lands on an earlier copy of
        # a repeated passage; the chunker's offsets are exact, so they are put back.
        spans = {id(n): (n.start_char_idx, n.end_char_idx) for n in nodes if _is_text(n)}
        nodes = super()._postprocess_parsed_nodes(nodes, parent_doc_map)
        for n in nodes:
            if id(n) in spans:
                n.start_char_idx, n.end_char_idx = spans[id(n)]
        return nodes


def _nodes(documents: Any) -> list[BaseNode]:
    """``documents`` as a list of LlamaIndex nodes, or an error naming the bad one."""
    return checked_list(
        documents, BaseNode, "pass a list of Documents or nodes", "a LlamaIndex Document or node"
    )


def _is_text(node: BaseNode) -> bool:
    return isinstance(node, TextNode)


def _start_of(node: BaseNode) -> int:
    """Where ``node``'s text starts in its document: its own ``start_char_idx`` for a
    chunk that has one, 0 for a document."""
    if isinstance(node, TextNode) and not isinstance(node, Document):
        start = node.start_char_idx
        return start if isinstance(start, int) else 0
    return 0
