"""sememe: semantic text processing on static embeddings.

One static encoder (a tokenizer, an embedding table and per-token weights) feeds
every capability. Start with :func:`load`::

    import sememe
    enc = sememe.load()                 # bundled model, offline
    vectors = enc.encode(["a text", "another text"])

Capability modules (retrieval, deduplication, chunking, clustering, classification)
are imported on first use, so ``import sememe`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .config import ModelConfig
from .encoder import Encoder, TokenizedText, pack_bits
from .errors import (
    FolderExistsError,
    FolderFormatError,
    InputError,
    InvalidArgumentError,
    InvalidTypeError,
    MissingDependencyError,
    ModelFormatError,
    ModelNotFoundError,
    SememeError,
)
from .loading import DEFAULT_MODEL, available_models, load, register_model

__version__ = "0.1.0"

#: Public names defined in capability modules, imported lazily: name -> module.
_LAZY = {
    "Index": "index",
    "Hit": "index",
    "Analyzer": "index",
    "dedupe": "deduplication",
    "DedupeResult": "deduplication",
    "Deduplicator": "deduplication",
    "SemanticChunker": "chunking",
    "TokenChunker": "chunking",
    "RecursiveChunker": "chunking",
    "Chunk": "chunking",
    "DocumentChunk": "chunking",
    "filter_outliers": "_representatives",
    "find_representative": "_representatives",
    "Selection": "_representatives",
    "cluster": "clustering",
    "Clusters": "clustering",
    "TextClusterer": "clustering",
    "StaticEmbedder": "classify",
    "StaticClassifier": "classify",
    "quantize": "quantization",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sememe' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DEFAULT_MODEL",
    "Encoder",
    "FolderExistsError",
    "FolderFormatError",
    "InputError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "MissingDependencyError",
    "ModelConfig",
    "ModelFormatError",
    "ModelNotFoundError",
    "SememeError",
    "TokenizedText",
    "__version__",
    "available_models",
    "load",
    "pack_bits",
    "register_model",
    *_LAZY,
]
