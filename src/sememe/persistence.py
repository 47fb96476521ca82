"""Reading and writing sememe model folders.

A model is a folder of three plain files:

``tokenizer.json``
    A Hugging Face ``tokenizers`` tokenizer.
``model.safetensors``
    ``embeddings`` (rows x dim, float16 or float32), optional ``weights``
    (one per token id) and optional ``mapping`` (token id -> row).
``config.json``
    A :class:`~sememe.config.ModelConfig`: dimensions, pooling, normalisation,
    max tokens, provenance and licence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

from ._atomic import atomic_folder
from .config import ModelConfig
from .errors import ModelFormatError

if TYPE_CHECKING:
    from .encoder import Encoder

CONFIG_FILE = "config.json"
TABLE_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"


def read_tensors(path: Path) -> dict[str, np.ndarray]:
    """Load every tensor of a safetensors file, turning library errors into ModelFormatError."""
    if not path.is_file():
        raise ModelFormatError(f"{path}: file is missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        size = path.stat().st_size
        raise ModelFormatError(
            f"{path}: not a readable safetensors file ({size} bytes; truncated or corrupt?): {exc}"
        ) from None


def read_tokenizer(path: Path) -> Tokenizer:
    """Load a ``tokenizer.json``; errors name the file."""
    if not path.is_file():
        raise ModelFormatError(f"{path}: file is missing")
    try:
        return Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
        raise ModelFormatError(f"{path}: not a valid tokenizers JSON file ({exc})") from None


def is_sememe_folder(path: Path) -> bool:
    """True when ``path`` looks like a folder written by :func:`save_model`."""
    cfg = path / CONFIG_FILE
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("model_type") == "sememe"
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False


def load_model(path: Path, *, dim: int | None = None) -> Encoder:
    """Load a sememe model folder."""
    from .encoder import Encoder

    config = ModelConfig.read(path / CONFIG_FILE)
    tokenizer = read_tokenizer(path / TOKENIZER_FILE)
    tensors = read_tensors(path / TABLE_FILE)
    if "embeddings" not in tensors:
        raise ModelFormatError(
            f"{path / TABLE_FILE}: missing tensor 'embeddings' (found {sorted(tensors)})"
        )
    extra = sorted(set(tensors) - {"embeddings", "weights", "mapping"})
    if extra:
        raise ModelFormatError(f"{path / TABLE_FILE}: unexpected tensors {extra}")
    return Encoder(
        tokenizer,
        tensors["embeddings"],
        weights=tensors.get("weights"),
        mapping=tensors.get("mapping"),
        config=config,
        dim=dim,
        source=str(path),
    )


def save_model(encoder: Encoder, path: Path, *, overwrite: bool = False) -> Path:
    """Write ``encoder`` to the folder ``path`` atomically.

    The files go to a temporary sibling folder that is renamed into place, so a
    crash never leaves a half-written model behind.
    """
    path = Path(path)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    with atomic_folder(path) as tmp:
        tensors = {"embeddings": np.ascontiguousarray(encoder._embeddings)}
        if encoder._weights is not None:
            tensors["weights"] = np.ascontiguousarray(encoder._weights)
        if encoder._mapping is not None:
            tensors["mapping"] = np.ascontiguousarray(encoder._mapping)
        save_file(tensors, str(tmp / TABLE_FILE), metadata={"format": "sememe"})
        (tmp / TOKENIZER_FILE).write_text(encoder._tokenizer_json, encoding="utf-8")
        (tmp / CONFIG_FILE).write_text(
            json.dumps(encoder.config.to_dict(), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    return path
