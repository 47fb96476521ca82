"""Adapters between sememe and other libraries.

Each adapter lives in its own module and imports its library there, so ``import sememe``
(and ``import sememe.integrations``) never imports LangChain, LlamaIndex or Chonkie.
Importing an adapter without its library raises
:class:`~sememe.errors.MissingDependencyError` (an ``ImportError``) naming the extra to
install:

- :mod:`sememe.integrations.langchain` (``pip install 'sememe[langchain]'``):
  ``SememeEmbeddings`` (a LangChain ``Embeddings``) and ``SememeTextSplitter`` (a
  ``TextSplitter`` that keeps each chunk's offsets in its metadata).
- :mod:`sememe.integrations.llama_index` (``pip install 'sememe[llama-index]'``):
  ``SememeEmbedding`` (a LlamaIndex ``BaseEmbedding``) and ``SememeNodeParser`` (a
  ``NodeParser`` giving ``TextNode``\\ s with exact character offsets).
- :mod:`sememe.integrations.chonkie` (``pip install 'sememe[chonkie]'``):
  ``SememeChonkieEmbeddings`` for Chonkie's chunkers.
"""
