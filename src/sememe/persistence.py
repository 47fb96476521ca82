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
``manifest.json``
    Written by :func:`save_model` since format version 1 of the manifest: format
    ``sememe-model``, the encoder's fingerprint, and the size and SHA-256 of the three
    files above, checked on every load. Folders without one (the bundled model,
    folders made by hand or by earlier sememe versions) load as before, unchecked.

Saving goes through :mod:`sememe._folder`: atomic replacement, recovery of a save
killed mid-swap, and ``overwrite=True`` replacing only another sememe model folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

from . import _folder
from .config import ModelConfig
from .errors import ModelFormatError

if TYPE_CHECKING:
    from .encoder import Encoder

CONFIG_FILE = "config.json"
TABLE_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
#: Format version of the model manifest (``manifest.json``).
MANIFEST_VERSION = 1


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
    """True when ``path`` looks like a folder written by :func:`save_model`.

    A ``manifest.json`` of a sememe model counts too, even beside a damaged
    ``config.json``: such a folder must fail with the manifest's clear error, not be
    mistaken for a Model2Vec folder (which has the same three file names).
    """
    manifest = path / _folder.MANIFEST
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeError, ValueError):
            return True  # damaged: load_model reports it
        if isinstance(data, dict) and data.get("format") == "sememe-model":
            return True
    cfg = path / CONFIG_FILE
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("model_type") == "sememe"
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False


def load_model(path: Path, *, dim: int | None = None, verify: bool = True) -> Encoder:
    """Load a sememe model folder.

    A save killed mid-swap is recovered first. If the folder has a ``manifest.json``
    (every folder :func:`save_model` writes), its kind, version and every file's size
    and (unless ``verify=False``) SHA-256 are checked before anything is parsed; a
    mismatch raises :class:`~sememe.errors.ModelFormatError` naming the file.
    """
    from .encoder import Encoder

    path = Path(path)
    _folder.recover(path)
    if (path / _folder.MANIFEST).exists():
        manifest = _folder.read_manifest(
            path, "model", MANIFEST_VERSION, error=ModelFormatError, verify=verify
        )
        missing = [
            f for f in (CONFIG_FILE, TABLE_FILE, TOKENIZER_FILE) if f not in manifest["files"]
        ]
        if missing:
            raise ModelFormatError(
                f"{path / _folder.MANIFEST}: does not list {', '.join(missing)}; "
                "the manifest was edited or the folder is incomplete"
            )
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
    """Write ``encoder`` to the folder ``path`` atomically, with a checksummed manifest.

    The files go to a temporary sibling folder that is swapped into place (see
    :mod:`sememe._folder`), so a crash never leaves a half-written model behind. An
    existing ``path`` is replaced only with ``overwrite=True`` and only if it is a
    sememe model folder; anything else (a folder of other files, an index, a classifier)
    raises :class:`~sememe.errors.FolderExistsError` and is left untouched.
    """
    path = _folder.prepare_target(path, "model", overwrite=overwrite)
    with _folder.atomic_folder(path) as tmp:
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
        _folder.write_manifest(tmp, "model", MANIFEST_VERSION, {"fingerprint": encoder.fingerprint})
    return path
