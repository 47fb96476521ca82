"""Reading and writing sememe model folders.

A model is a folder of three plain files:

``tokenizer.json``
    A Hugging Face ``tokenizers`` tokenizer.
``model.safetensors``
    ``embeddings`` (rows x dim, float32, float16, or int8 with a one-element ``scale``:
    the table is ``embeddings x scale``), optional ``weights`` (one per token id) and
    optional ``mapping`` (token id -> row).
``word_tokens.safetensors`` (optional)
    A :class:`~sememe._wordcache.WordTable`: frequent words with their token ids, built
    with the model (``scripts/build_word_table.py``) so that new text mostly needs no
    tokenizer call. Only its metadata is read here; the words on the first encode.
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

This module deals in parts (tokenizer, arrays, config), never in an
:class:`~sememe.Encoder`, and imports nothing of the encoder: :meth:`sememe.Encoder.save`
hands its parts to :func:`save_model`, and :func:`sememe.loading.load_model` builds an
encoder from what :func:`read_model` returns.
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer

from . import _folder
from ._wordcache import WordTable
from .config import ModelConfig
from .errors import InvalidArgumentError, ModelFormatError

CONFIG_FILE = "config.json"
TABLE_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
#: The optional word table of a model folder (see :class:`sememe._wordcache.WordTable`).
WORD_TABLE_FILE = "word_tokens.safetensors"
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


@dataclass(frozen=True)
class ModelParts:
    """What a model folder holds: the arguments of :class:`sememe.Encoder`."""

    tokenizer: Tokenizer
    embeddings: np.ndarray
    weights: np.ndarray | None
    mapping: np.ndarray | None
    config: ModelConfig
    source: str
    #: The folder's word table (metadata read, words not yet), or None.
    word_table: WordTable | None = None


def read_model(path: Path, *, verify: bool = True) -> ModelParts:
    """Read a sememe model folder's parts (:func:`sememe.loading.load_model` makes an encoder).

    A save killed mid-swap is recovered first. If the folder has a ``manifest.json``
    (every folder :func:`save_model` writes), its kind, version and every file's size
    and (unless ``verify=False``) SHA-256 are checked before anything is parsed; a
    mismatch raises :class:`~sememe.errors.ModelFormatError` naming the file.
    """
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
    extra = sorted(set(tensors) - {"embeddings", "weights", "mapping", "scale"})
    if extra:
        raise ModelFormatError(f"{path / TABLE_FILE}: unexpected tensors {extra}")
    return ModelParts(
        tokenizer,
        _float_table(tensors, path / TABLE_FILE),
        weights=tensors.get("weights"),
        mapping=tensors.get("mapping"),
        config=config,
        source=str(path),
        word_table=_word_table(path, config),
    )


def _word_table(path: Path, config: ModelConfig) -> WordTable | None:
    """The folder's :data:`WORD_TABLE_FILE` (its metadata checked), or None without one."""
    table = path / WORD_TABLE_FILE
    if not table.is_file():
        return None
    return WordTable.open(table, config.vocab_size, ModelFormatError)


def _float_table(tensors: dict[str, np.ndarray], path: Path) -> np.ndarray:
    """The stored table as the encoder pools it: float as stored, int8 times its ``scale``."""
    table, scale = tensors["embeddings"], tensors.get("scale")
    if table.dtype == np.int8:
        if scale is None or scale.shape != (1,) or not np.isfinite(scale).all() or scale[0] <= 0:
            found = "none" if scale is None else f"{scale.dtype} {scale.shape}"
            raise ModelFormatError(
                f"{path}: an int8 table needs a 'scale' tensor of one positive number (found {found})"
            )
        return table.astype(np.float32) * scale.astype(np.float32)[0]
    if scale is not None:
        raise ModelFormatError(
            f"{path}: a 'scale' tensor belongs to int8 tables, not {table.dtype}"
        )
    return table


def save_model(
    path: Path,
    *,
    tokenizer_json: str,
    embeddings: np.ndarray,
    weights: np.ndarray | None,
    mapping: np.ndarray | None,
    config: ModelConfig,
    fingerprint: str,
    overwrite: bool = False,
    scale: float | None = None,
    word_table: WordTable | None = None,
) -> Path:
    """Write a model's parts to the folder ``path`` atomically, with a checksummed manifest.

    Takes parts, not an :class:`~sememe.Encoder` (:meth:`sememe.Encoder.save` passes its
    own), so this module needs the encoder only to build one in :func:`load_model`.
    ``fingerprint`` is the encoder's, recorded in the manifest.

    The files go to a temporary sibling folder that is swapped into place (see
    :mod:`sememe._folder`), so a crash never leaves a half-written model behind. An
    existing ``path`` is replaced only with ``overwrite=True`` and only if it is a
    sememe model folder; anything else (a folder of other files, an index, a classifier)
    raises :class:`~sememe.errors.FolderExistsError` and is left untouched.

    An int8 ``embeddings`` table is stored with its ``scale`` (required then, refused
    otherwise); :func:`read_model` gives back ``embeddings x scale`` as float32.
    ``word_table`` (the encoder's, built for this tokenizer) is copied in as
    :data:`WORD_TABLE_FILE` and checksummed with the rest.
    """
    if (np.asarray(embeddings).dtype == np.int8) != (scale is not None):
        raise InvalidArgumentError(
            "save_model: an int8 table needs scale=, and only an int8 table takes one"
        )
    path = _folder.prepare_target(path, "model", overwrite=overwrite)
    with _folder.atomic_folder(path) as tmp:
        tensors = {"embeddings": np.ascontiguousarray(embeddings)}
        if weights is not None:
            tensors["weights"] = np.ascontiguousarray(weights)
        if mapping is not None:
            tensors["mapping"] = np.ascontiguousarray(mapping)
        if scale is not None:
            tensors["scale"] = np.array([scale], np.float32)
        save_file(tensors, str(tmp / TABLE_FILE), metadata={"format": "sememe"})
        (tmp / TOKENIZER_FILE).write_text(tokenizer_json, encoding="utf-8")
        if word_table is not None:
            shutil.copyfile(word_table.path, tmp / WORD_TABLE_FILE)
        (tmp / CONFIG_FILE).write_text(
            json.dumps(config.to_dict(), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        _folder.write_manifest(tmp, "model", MANIFEST_VERSION, {"fingerprint": fingerprint})
    return path


def __getattr__(name: str) -> Any:
    """``persistence.load_model``: moved to :func:`sememe.loading.load_model` (deprecated)."""
    if name == "load_model":
        warnings.warn(
            "sememe.persistence.load_model moved to sememe.loading.load_model; "
            "the old name goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        from .loading import load_model

        return load_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
