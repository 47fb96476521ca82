"""Saving and loading an :class:`~sememe.index.Index` as a folder of plain files.

Layout: ``manifest.json`` (settings, encoder fingerprint, SHA-256 and size of every other
file), ``docs.jsonl``, ``vectors.npy`` / ``codes.npy``, ``blank.npy`` (rows of the blank
documents), ``scan.faiss`` (the binary+rerank first stage) and, once built, the FAISS
structure (``structure.faiss`` with ``serials.npy`` and, for HNSW, ``dead.npy``); a hybrid
index adds its BM25 side: tantivy's files under ``lexical/`` and ``lexical_serials.npy``
(:meth:`~._lexical.Lexical.to_files`), described by the manifest's ``lexical`` entry.

This module owns the manifest and the folder protocol, not the files' contents: the
document store writes and reads ``docs.jsonl`` and ``blank.npy``
(:meth:`~._store.DocStore.to_files`, :meth:`~._store.DocStore.from_files`), the engine
the arrays and FAISS files (:meth:`~._engine.Engine.to_files`,
:meth:`~._engine.Engine.from_files`); each returns its manifest fields. The index hands a
save its :class:`Parts` and builds itself from :func:`open_index` and :func:`read_parts`.

Saving goes through :mod:`sememe._folder`: the target is checked first (only an index
folder is ever replaced), the files are written to a temporary sibling and swapped in
atomically, and a save killed mid-swap is recovered by the next load or save. Loading
checks the manifest (types, ranges and consistency of every field) and every file's size
and SHA-256 before parsing anything. ``verify=False`` skips the SHA-256 of the document,
vector and code files (the bulk of a large index), never of the FAISS files, which FAISS
cannot parse safely when damaged. Any file that still fails to parse, verified or not,
raises :class:`IndexFormatError` naming it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import _folder
from .._resolve import resolve_encoder
from ..encoder import Encoder
from . import _files
from ._common import KINDS, IndexFormatError, RWLock, check_flag, check_path, shown
from ._engine import Engine, EngineSettings
from ._lexical import FOLDER as _LEXICAL
from ._lexical import Lexical
from ._store import DocStore

FORMAT_VERSION = 1
_MANIFEST = _files.MANIFEST
_STRUCTURE = _files.STRUCTURE

#: Options of :class:`~sememe.index.Index` a manifest's ``settings`` may hold.
_SETTINGS = (
    "factory",
    "exact_limit",
    "ef_search",
    "ef_construction",
    "nprobe",
    "candidates",
    "scan_dims",
    "alpha",
    "fusion",
    "fusion_candidates",
)


@dataclass(frozen=True)
class Parts:
    """What a save writes: the index's identity and settings, its store and its engine."""

    kind: str
    dim: int
    encoder: Encoder
    settings: dict[str, Any]
    store: DocStore
    engine: Engine
    lexical: Lexical | None = None


@dataclass(frozen=True)
class Opened:
    """A checked index folder, ready to be read: its manifest fields and the encoder."""

    folder: Path
    files: Mapping[str, Any]
    fields: dict[str, Any]
    encoder: Encoder
    mmap: bool

    @property
    def kind(self) -> str:
        return self.fields["kind"]

    @property
    def settings(self) -> dict[str, Any]:
        return self.fields["settings"]

    def invalid_settings(self, exc: Exception) -> IndexFormatError:
        """The error for settings the :class:`Index` constructor refused."""
        return IndexFormatError(f"{self.folder / _MANIFEST}: invalid settings ({exc})")


# ----------------------------------------------------------------------------- saving


def save_index(
    path: str | os.PathLike[str],
    *,
    overwrite: bool,
    lock: RWLock,
    parts: Callable[[], Parts],
) -> Path:
    """What :meth:`Index.save` does (its docstring lists the files and the guarantees).

    ``parts`` is called under ``lock``'s read side, so the files are one consistent state.
    """
    target = _folder.prepare_target(
        check_path(path), "index", overwrite=check_flag(overwrite, "overwrite")
    )
    with _folder.atomic_folder(target) as tmp, lock.read():
        got = parts()
        store_fields = got.store.to_files(tmp)
        engine_fields = got.engine.to_files(tmp)
        enc = got.encoder
        fields = {
            "kind": got.kind,
            "documents": store_fields["documents"],
            "dim": got.dim,
            "encoder": {"name": enc.config.name, "fingerprint": enc.fingerprint, "dim": enc.dim},
            "settings": got.settings,
            "structure": engine_fields["structure"],
            "next_auto_id": store_fields["next_auto_id"],
            "next_serial": engine_fields["next_serial"],
        }
        if got.lexical is not None:
            fields["lexical"] = got.lexical.to_files(tmp)
        _folder.write_manifest(tmp, "index", FORMAT_VERSION, fields)
    return target


# ----------------------------------------------------------------------------- loading


def open_index(
    path: str | os.PathLike[str], encoder: Encoder | None, *, verify: bool, mmap: bool
) -> Opened:
    """Check an index folder before anything is parsed: the manifest's fields, every
    file's size and SHA-256 (see :meth:`Index.load` for ``verify``), and the encoder."""
    folder = check_path(path)
    verify, mmap = check_flag(verify, "verify"), check_flag(mmap, "mmap")
    _folder.recover(folder)  # a save killed mid-swap: put its complete copy in place
    if not folder.is_dir():
        what = "is a file, not an index folder" if folder.exists() else "no such index folder"
        raise IndexFormatError(f"{folder}: {what}")
    manifest = _folder.read_manifest(
        folder,
        "index",
        FORMAT_VERSION,
        error=IndexFormatError,
        verify=verify,
        required=("kind", "documents", "dim", "encoder", "settings"),
    )
    if not verify:
        # FAISS cannot parse a damaged file safely: a flipped size field can make it
        # allocate gigabytes and take minutes before it fails; tantivy panics on some flips,
        # at load or at a later search. Their files are always checked.
        faiss_files = {
            k: v
            for k, v in manifest["files"].items()
            if k.endswith(".faiss") or k.startswith(f"{_LEXICAL}/")
        }
        _folder.verify_files(folder, faiss_files, error=IndexFormatError, verify=True)
    fields = _check_manifest(manifest, folder / _MANIFEST)
    encoder = _resolve_encoder(encoder, manifest["encoder"], folder)
    if encoder.dim != fields["dim"]:
        raise IndexFormatError(
            f"{folder / _MANIFEST}: dim is {fields['dim']} but the encoder entry says {encoder.dim}"
        )
    return Opened(folder, manifest["files"], fields, encoder, mmap)


def read_parts(
    opened: Opened,
    settings: EngineSettings,
    encode: Callable[[list[str]], np.ndarray],
) -> tuple[DocStore, Engine]:
    """The store and the engine of an opened folder. ``settings`` are the engine settings
    of an :class:`Index` made from the manifest; ``encode`` gives raw vectors of texts
    (for ``"binary"`` folders written before ``blank.npy``)."""
    folder, files, fields = opened.folder, opened.files, opened.fields
    store = DocStore.from_files(
        folder, files, documents=fields["documents"], next_auto=fields["next_auto_id"]
    )
    engine = Engine.from_files(
        folder,
        files,
        settings,
        n=len(store),
        next_serial=fields["next_serial"],
        mmap=opened.mmap,
    )
    if _files.BLANK not in files:  # written before blank.npy: find the zero vectors
        texts = store.texts
        source = _files.CODES if engine.codes is not None else _files.VECTORS
        with _files.reading(folder / source):
            rows = engine.find_blank_rows(lambda r: encode([texts[i] for i in r.tolist()]))
        store.set_blank_rows(rows)
    return store, engine


def read_lexical(opened: Opened) -> Lexical | None:
    """The BM25 side of an opened folder, or ``None`` for a dense-only index."""
    info = opened.fields["lexical"]
    if info is None:
        return None
    return Lexical.from_files(
        opened.folder, info, opened.fields["documents"], opened.folder / _MANIFEST
    )


def _check_manifest(manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    """The manifest's fields, checked for type, range and consistency.

    Whatever passes here can be handed to the :class:`Index` constructor and makes later
    adds and searches work: an edited ``next_serial`` or a float ``next_auto_id`` is
    refused now rather than failing at the next ``add``.
    """

    def count(key: str, default: int | None = None) -> int:
        value = manifest.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise IndexFormatError(f"{path}: {key!r} must be an integer >= 0, got {shown(value)}")
        return value

    kind = manifest["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise IndexFormatError(
            f"{path}: 'kind' must be one of {', '.join(map(repr, KINDS))}, got {shown(kind)}"
        )
    dim = count("dim")
    if dim < 1:
        raise IndexFormatError(f"{path}: 'dim' must be >= 1, got {dim}")
    settings = manifest["settings"]
    if not isinstance(settings, dict):
        raise IndexFormatError(f"{path}: 'settings' must be an object, got {shown(settings)}")
    unknown = sorted(set(settings) - set(_SETTINGS))
    if unknown:
        raise IndexFormatError(
            f"{path}: unknown settings {unknown}; this sememe knows {list(_SETTINGS)}"
        )
    encoder = manifest["encoder"]
    if (
        not isinstance(encoder, dict)
        or not isinstance(encoder.get("name"), str)
        or not isinstance(encoder.get("fingerprint"), str)
        or isinstance(encoder.get("dim"), bool)
        or not isinstance(encoder.get("dim"), int)
    ):
        raise IndexFormatError(
            f"{path}: 'encoder' must be an object with a str 'name', a str 'fingerprint' and "
            f"an int 'dim', got {shown(encoder)}"
        )
    structure = manifest.get("structure", "exact")
    factory = settings.get("factory")
    if not isinstance(structure, str) or structure not in ("exact", factory):
        raise IndexFormatError(
            f"{path}: 'structure' must be 'exact' or the factory {factory!r}, got "
            f"{shown(structure)}"
        )
    if (structure != "exact") != (_STRUCTURE in manifest["files"]):
        raise IndexFormatError(
            f"{path}: 'structure' is {structure!r} but {_STRUCTURE} is "
            f"{'missing' if structure != 'exact' else 'present'}"
        )
    lexical = manifest.get("lexical")
    hybrid_keys = sorted({"alpha", "fusion", "fusion_candidates"} & set(settings))
    if lexical is None and hybrid_keys:
        raise IndexFormatError(f"{path}: settings {hybrid_keys} without a 'lexical' entry")
    return {
        "lexical": lexical,
        "kind": kind,
        "dim": dim,
        "documents": count("documents"),
        "settings": settings,
        "structure": structure,
        "next_auto_id": count("next_auto_id", 0),
        "next_serial": count("next_serial", 0),
    }


def _resolve_encoder(encoder: Encoder | None, info: Mapping[str, Any], folder: Path) -> Encoder:
    """The encoder to load with: the one given, else the model the manifest names (the
    bundled one when that name is unknown), cut to the index's ``dim``; its fingerprint
    must match the manifest's."""
    want, dim = info["fingerprint"], info["dim"]
    if encoder is not None:
        encoder = resolve_encoder(encoder)  # an Encoder, a model name or path
    if encoder is None:
        from ..errors import ModelNotFoundError
        from ..loading import load

        try:
            encoder = load(info["name"])
        except (ModelNotFoundError, ValueError, OSError):
            encoder = load()
        if encoder.fingerprint == want and encoder.dim != dim:
            try:
                encoder = encoder.with_options(dim=dim)
            except ValueError as exc:
                raise IndexFormatError(
                    f"{folder / _MANIFEST}: encoder dim {dim} does not fit the model ({exc})"
                ) from None
    if encoder.fingerprint != want:
        raise IndexFormatError(
            f"{folder}: built with encoder {info['name']!r} (fingerprint {want[:12]}), not with "
            f"{encoder.config.name!r} (fingerprint {encoder.fingerprint[:12]}); load it with that "
            "model (Index.load(path, encoder=sememe.load(...))) or rebuild the index"
        )
    if encoder.dim != dim:
        raise IndexFormatError(
            f"{folder}: built with dim={dim}, the encoder gives dim={encoder.dim}; "
            f"pass encoder.with_options(dim={dim})"
        )
    return encoder
