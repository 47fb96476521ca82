"""sememe: semantic text processing on static embeddings.

One static encoder (a tokenizer, an embedding table and per-token weights) feeds
every capability. Start with :func:`load`::

    import sememe
    enc = sememe.load()                 # bundled model, offline
    vectors = enc.encode(["a text", "another text"])
"""

from __future__ import annotations

from .config import ModelConfig
from .encoder import Encoder, TokenizedText, pack_bits
from .errors import ModelFormatError, ModelNotFoundError, SememeError
from .loading import DEFAULT_MODEL, available_models, load, register_model

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "Encoder",
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
]
