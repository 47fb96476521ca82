"""LangChain and LlamaIndex adapters (issue 16), against the installed langchain-core,
langchain-text-splitters and llama-index-core: vector-store round trips, offsets, errors,
and lazy imports. Offline: no LLM, no download."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe import TokenChunker
from sememe.errors import InvalidArgumentError, InvalidTypeError, MissingDependencyError

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "sample.txt"
REPEATED = "The cat sat. " * 30 + "Markets fell today. " * 30 + "The cat sat. " * 30

TEXTS = [
    "The cat sat on the mat.",
    "Stock markets fell sharply today.",
    "A kitten slept on a rug.",
    "Interest rates rise again.",
]


@pytest.fixture(scope="module")
def sample() -> str:
    return SAMPLE.read_text(encoding="utf-8")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


# --------------------------------------------------------------------------- lazy imports


LAZY_CHECK = """
import sys
import sememe, sememe.integrations
sememe.load().encode(["x"])
libraries = ("langchain_core", "langchain_text_splitters", "llama_index", "chonkie")
print("IMPORTED", sorted(m for m in libraries if m in sys.modules))
from sememe.errors import MissingDependencyError
for module, blocked in [
    ("langchain", "langchain_core"),
    ("langchain", "langchain_text_splitters"),
    ("llama_index", "llama_index"),
]:
    sys.modules[blocked] = None  # what "not installed" looks like to the import system
    try:
        __import__("sememe.integrations." + module)
    except MissingDependencyError as e:
        print("MISSING", module, blocked, isinstance(e, ImportError), e)
    del sys.modules[blocked]
"""


def test_adapters_import_lazily_and_name_their_extra() -> None:
    """``import sememe`` imports no integration library; an adapter whose library is
    missing raises MissingDependencyError (an ImportError) naming the extra."""
    out = run_python(LAZY_CHECK)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "IMPORTED []"
    assert len(lines) == 4
    for line, (module, blocked, extra) in zip(
        lines[1:],
        [
            ("langchain", "langchain_core", "sememe[langchain]"),
            ("langchain", "langchain_text_splitters", "sememe[langchain]"),
            ("llama_index", "llama_index", "sememe[llama-index]"),
        ],
        strict=True,
    ):
        assert line.startswith(f"MISSING {module} {blocked} True "), line
        assert f"pip install '{extra}'" in line


# --------------------------------------------------------------------------- LangChain

pytest.importorskip("langchain_core")
pytest.importorskip("langchain_text_splitters")
from langchain_core.documents import Document  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402

from sememe.integrations.langchain import SememeEmbeddings, SememeTextSplitter  # noqa: E402


def test_langchain_embeddings_are_the_encoder_vectors(default) -> None:
    emb = SememeEmbeddings(default)
    docs = emb.embed_documents(TEXTS)
    assert isinstance(docs, list) and all(isinstance(v, list) for v in docs)
    assert all(isinstance(x, float) for x in docs[0])
    np.testing.assert_array_equal(np.asarray(docs, np.float32), default.encode(TEXTS))
    query = emb.embed_query(TEXTS[0])
    np.testing.assert_array_equal(np.asarray(query, np.float32), default.encode(TEXTS[0]))
    assert emb.embed_documents([]) == []
    assert asyncio.run(emb.aembed_documents(TEXTS)) == docs
    assert asyncio.run(emb.aembed_query(TEXTS[0])) == query
    small = SememeEmbeddings(default, dim=64)
    assert len(small.embed_query("x")) == 64


def test_langchain_embeddings_errors(default) -> None:
    emb = SememeEmbeddings(default)
    with pytest.raises(InvalidTypeError, match="embed_documents takes a list"):
        emb.embed_documents("one text")
    with pytest.raises(InvalidTypeError, match="embed_query takes one str"):
        emb.embed_query(["a", "b"])
    with pytest.raises(InvalidTypeError, match=r"texts\[1\] is None"):
        emb.embed_documents(["a", None])
    with pytest.raises(InvalidTypeError, match=r"encoder must be a sememe\.Encoder"):
        SememeEmbeddings(42)


def test_langchain_in_memory_vector_store_round_trip(default) -> None:
    store = InMemoryVectorStore.from_texts(
        TEXTS, SememeEmbeddings(default), metadatas=[{"i": i} for i in range(len(TEXTS))]
    )
    hits = store.similarity_search_with_score("a cat on a mat", k=2)
    assert hits[0][0].page_content == TEXTS[0]
    assert hits[0][0].metadata == {"i": 0}
    expected = default.similarity("a cat on a mat", TEXTS[0])
    assert hits[0][1] == pytest.approx(expected, abs=1e-5)
    async_hits = asyncio.run(store.asimilarity_search("falling stock markets", k=1))
    assert async_hits[0].page_content == TEXTS[1]


def test_langchain_splitter_keeps_exact_offsets_and_metadata(default, sample) -> None:
    splitter = SememeTextSplitter(encoder=default, max_tokens=64)
    chunks = splitter.chunker.chunk(sample)
    assert splitter.split_text(sample) == [c.text for c in chunks]
    docs = splitter.split_documents([Document(page_content=sample, metadata={"source": "s"})])
    assert len(docs) == len(chunks) > 3
    for doc, chunk in zip(docs, chunks, strict=True):
        assert doc.metadata == {"source": "s", "start_index": chunk.start, "end_index": chunk.end}
        assert sample[doc.metadata["start_index"] : doc.metadata["end_index"]] == doc.page_content
    assert splitter.transform_documents([Document(page_content=sample)]) == [
        Document(
            page_content=d.page_content,
            metadata={k: v for k, v in d.metadata.items() if k != "source"},
        )
        for d in docs
    ]
    docs[0].metadata["source"] = "changed"  # metadata is copied per chunk
    assert docs[1].metadata["source"] == "s"


def test_langchain_splitter_offsets_are_exact_on_repeated_text(default) -> None:
    splitter = SememeTextSplitter(TokenChunker(default, max_tokens=8))
    docs = splitter.create_documents([REPEATED, "short one"], metadatas=[{"n": 1}, {"n": 2}])
    first = [d for d in docs if d.metadata["n"] == 1]
    assert len(first) > 10
    for d in first:
        assert REPEATED[d.metadata["start_index"] : d.metadata["end_index"]] == d.page_content
    starts = [d.metadata["start_index"] for d in first]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert [d.page_content for d in docs if d.metadata["n"] == 2] == ["short one"]


def test_langchain_splitter_without_offsets_and_in_a_vector_store(default, sample) -> None:
    plain = SememeTextSplitter(encoder=default, max_tokens=64, add_start_index=False)
    docs = plain.split_documents([Document(page_content=sample, metadata={"a": 1})])
    assert all(d.metadata == {"a": 1} for d in docs)
    store = InMemoryVectorStore.from_documents(docs, SememeEmbeddings(default))
    best = store.similarity_search(docs[5].page_content, k=1)[0]
    assert best.page_content == docs[5].page_content


def test_langchain_splitter_errors(default) -> None:
    splitter = SememeTextSplitter(TokenChunker(default, max_tokens=16))
    with pytest.raises(InvalidArgumentError, match="configure the default chunker"):
        SememeTextSplitter(TokenChunker(default), max_tokens=16)
    with pytest.raises(InvalidTypeError, match="chunker must be a sememe chunker"):
        SememeTextSplitter("semantic")
    with pytest.raises(InvalidTypeError, match="add_start_index must be a bool"):
        SememeTextSplitter(TokenChunker(default), add_start_index="yes")
    with pytest.raises(InvalidArgumentError, match="metadatas has 1 items but texts has 2"):
        splitter.create_documents(["a", "b"], metadatas=[{}])
    with pytest.raises(InvalidTypeError, match="create_documents takes a list"):
        splitter.create_documents("a text")
    with pytest.raises(InvalidTypeError, match=r"documents\[1\] is of type str"):
        splitter.split_documents([Document(page_content="a"), "b"])
    with pytest.raises(InvalidTypeError, match="documents is one Document"):
        splitter.split_documents(Document(page_content="a"))
    with pytest.raises(InvalidTypeError, match="text is NoneType; expected str"):
        splitter.split_text(None)
    with pytest.raises(InvalidArgumentError, match="max_tokens"):
        SememeTextSplitter(encoder=default, max_tokens=0)
    with pytest.raises(
        InvalidArgumentError, match="does not take chunk_overlap, chunk_size: sizes are in tokens"
    ):
        SememeTextSplitter(chunk_size=500, chunk_overlap=50)


# --------------------------------------------------------------------------- LlamaIndex

pytest.importorskip("llama_index.core")
from llama_index.core import Document as LlamaDocument  # noqa: E402
from llama_index.core import VectorStoreIndex  # noqa: E402
from llama_index.core.schema import MetadataMode, NodeRelationship, TextNode  # noqa: E402

from sememe.integrations.llama_index import SememeEmbedding, SememeNodeParser  # noqa: E402


def test_llama_index_embedding_is_the_encoder_vectors(default) -> None:
    emb = SememeEmbedding(default)
    assert emb.embed_batch_size == 2048
    assert emb.model_name == default.config.name
    assert emb.encoder is default
    np.testing.assert_array_equal(
        np.asarray(emb.get_text_embedding(TEXTS[0]), np.float32), default.encode(TEXTS[0])
    )
    np.testing.assert_array_equal(
        np.asarray(emb.get_query_embedding(TEXTS[1]), np.float32), default.encode(TEXTS[1])
    )
    batch = emb.get_text_embedding_batch(TEXTS)
    np.testing.assert_array_equal(np.asarray(batch, np.float32), default.encode(TEXTS))
    assert asyncio.run(emb.aget_query_embedding(TEXTS[0])) == emb.get_query_embedding(TEXTS[0])
    assert asyncio.run(emb.aget_text_embedding_batch(TEXTS)) == batch
    assert len(SememeEmbedding(default, dim=32).get_text_embedding("x")) == 32
    assert SememeEmbedding.class_name() == "SememeEmbedding"


def test_llama_index_embedding_errors(default) -> None:
    emb = SememeEmbedding(default)
    with pytest.raises(InvalidTypeError, match="query is NoneType; expected str"):
        emb.get_query_embedding(None)
    with pytest.raises(InvalidTypeError, match=r"encoder must be a sememe\.Encoder"):
        SememeEmbedding(3.5)
    with pytest.raises(ValueError, match="embed_batch_size"):
        SememeEmbedding(default, embed_batch_size=0)


def check_nodes(nodes, text: str, source_id: str) -> None:
    """The contract of a parser's nodes for one document."""
    assert all(isinstance(n, TextNode) for n in nodes)
    for i, node in enumerate(nodes):
        assert text[node.start_char_idx : node.end_char_idx] == node.text
        assert node.relationships[NodeRelationship.SOURCE].node_id == source_id
        if i:
            assert node.relationships[NodeRelationship.PREVIOUS].node_id == nodes[i - 1].node_id
            assert nodes[i - 1].end_char_idx <= node.start_char_idx
        if i < len(nodes) - 1:
            assert node.relationships[NodeRelationship.NEXT].node_id == nodes[i + 1].node_id
    assert NodeRelationship.PREVIOUS not in nodes[0].relationships
    assert NodeRelationship.NEXT not in nodes[-1].relationships


def test_llama_index_node_parser_gives_text_nodes_as_llama_index_does(default, sample) -> None:
    parser = SememeNodeParser(encoder=default, max_tokens=64)
    doc = LlamaDocument(text=sample, metadata={"source": "sample"})
    nodes = parser.get_nodes_from_documents([doc])
    chunks = parser.chunker.chunk(sample)
    assert [n.text for n in nodes] == [c.text for c in chunks]
    assert [(n.start_char_idx, n.end_char_idx) for n in nodes] == [(c.start, c.end) for c in chunks]
    check_nodes(nodes, sample, doc.doc_id)
    assert all(n.metadata == {"source": "sample"} for n in nodes)
    assert all(n.ref_doc_id == doc.doc_id for n in nodes)
    assert parser([doc])[0].text == nodes[0].text  # a TransformComponent is callable


def test_llama_index_node_parser_offsets_are_exact_on_repeated_text(default) -> None:
    """LlamaIndex's own post-processing finds each node's text with str.find, which lands
    on an earlier copy of a repeated passage; the chunker's offsets are kept."""
    parser = SememeNodeParser(TokenChunker(default, max_tokens=6))
    doc = LlamaDocument(text=REPEATED)
    nodes = parser.get_nodes_from_documents([doc])
    assert len(nodes) > 20
    check_nodes(nodes, REPEATED, doc.doc_id)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(["cat", "sat", "the", "mat.", "\n\n", "cat sat"]), max_size=60))
def test_llama_index_node_offsets_hold_for_any_text(default, words) -> None:
    text = " ".join(words)
    parser = SememeNodeParser(TokenChunker(default, max_tokens=4))
    doc = LlamaDocument(text=text)
    nodes = parser.get_nodes_from_documents([doc])
    if text.strip():
        check_nodes(nodes, text, doc.doc_id)
    else:
        assert nodes == []


def test_llama_index_reparsing_a_node_keeps_offsets_into_the_document(default, sample) -> None:
    coarse = SememeNodeParser(TokenChunker(default, max_tokens=200)).get_nodes_from_documents(
        [LlamaDocument(text=sample)]
    )
    fine = SememeNodeParser(TokenChunker(default, max_tokens=20)).get_nodes_from_documents(
        coarse[1:2]
    )
    assert len(fine) > 2
    for node in fine:
        assert sample[node.start_char_idx : node.end_char_idx] == node.text


def test_llama_index_vector_store_index_round_trip(default, sample) -> None:
    embed = SememeEmbedding(default)
    parser = SememeNodeParser(encoder=default, max_tokens=64)
    documents = [LlamaDocument(text=sample, metadata={"source": "sample"})]
    documents += [LlamaDocument(text=t, metadata={"source": f"t{i}"}) for i, t in enumerate(TEXTS)]
    index = VectorStoreIndex.from_documents(documents, embed_model=embed, transformations=[parser])
    hits = index.as_retriever(similarity_top_k=2).retrieve("A kitten slept on a rug.")
    assert hits[0].node.text == TEXTS[2]
    assert hits[0].node.metadata == {"source": "t2"}
    # LlamaIndex embeds a node with its metadata ("source: t2" and the text)
    embedded = hits[0].node.get_content(metadata_mode=MetadataMode.EMBED)
    assert "source: t2" in embedded
    assert hits[0].score == pytest.approx(
        default.similarity("A kitten slept on a rug.", embedded), abs=1e-5
    )
    nodes = parser.get_nodes_from_documents(documents[:1])
    target = nodes[7]
    hits = index.as_retriever(similarity_top_k=1).retrieve(target.text)
    assert hits[0].node.text == target.text
    assert sample[hits[0].node.start_char_idx : hits[0].node.end_char_idx] == target.text


def test_llama_index_node_parser_errors(default) -> None:
    with pytest.raises(InvalidArgumentError, match="configure the default chunker"):
        SememeNodeParser(TokenChunker(default), encoder=default)
    with pytest.raises(InvalidTypeError, match="chunker must be a sememe chunker"):
        SememeNodeParser(chunker=42)
    parser = SememeNodeParser(TokenChunker(default, max_tokens=8))
    with pytest.raises(InvalidTypeError, match=r"documents\[0\] is of type str; expected a"):
        parser.get_nodes_from_documents(["a text"])
    with pytest.raises(InvalidTypeError, match="documents is one Document"):
        parser.get_nodes_from_documents(LlamaDocument(text="a"))
    with pytest.raises(InvalidTypeError, match=r"documents\[1\] is of type int"):
        asyncio.run(parser.aget_nodes_from_documents([LlamaDocument(text="a"), 3]))


def test_the_integration_error_is_a_sememe_import_error() -> None:
    assert issubclass(MissingDependencyError, ImportError)
    assert issubclass(MissingDependencyError, sememe.SememeError)
