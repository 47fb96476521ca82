"""Saving and loading an :class:`~sememe.index.Index` as a folder of plain files.

Layout: ``manifest.json`` (settings, encoder fingerprint, SHA-256 and size of every other
file), ``docs.jsonl``, ``vectors.npy`` / ``codes.npy``, ``scan.faiss`` (the binary+rerank
first stage) and, once built, the FAISS structure (``structure.faiss`` with ``serials.npy``
and ``dead.npy``). Saving writes a temporary folder and renames it into place; loading
verifies every file before reading it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._atomic import atomic_folder
from ..encoder import Encoder
from ._common import IndexFormatError, Rows, check_id, faiss_module, sign_centroids

if TYPE_CHECKING:
    from ._index import Index

FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_DOCS = "docs.jsonl"
_VECTORS = "vectors.npy"
_CODES = "codes.npy"
_SERIALS = "serials.npy"
_STRUCTURE = "structure.faiss"
_SCAN = "scan.faiss"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def save_index(index: Index, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """What :meth:`Index.save` does (its docstring lists the files and the guarantees)."""
    target = Path(path)
    if target.exists():
        if not overwrite:
            raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
        if not target.is_dir() or not (target / _MANIFEST).is_file():
            raise FileExistsError(f"{target} exists and is not a sememe index; not replacing it")
    with atomic_folder(target) as tmp:
        with index._lock.read():
            files = _write_files(index, tmp)
            manifest = _manifest(index, files)
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _fsync_dir_files(tmp)
    return target


def _write_files(index: Index, folder: Path) -> dict[str, dict[str, Any]]:
    with open(folder / _DOCS, "w", encoding="utf-8", newline="\n") as f:
        for doc_id, text, meta in zip(index._ids, index._texts, index._meta, strict=True):
            f.write(json.dumps({"id": doc_id, "text": text, "metadata": meta}, ensure_ascii=False))
            f.write("\n")
    if index._vectors is not None:
        np.save(folder / _VECTORS, index._vectors.view())
    if index._codes is not None:
        np.save(folder / _CODES, index._codes.view())
    if index._scan is not None:
        faiss_module().write_index(index._scan, str(folder / _SCAN))
    if index._structure is not None:
        faiss = faiss_module()
        if index.factory.startswith("B"):
            faiss.write_index_binary(index._structure, str(folder / _STRUCTURE))
        else:
            faiss.write_index(index._structure, str(folder / _STRUCTURE))
        np.save(folder / _SERIALS, index._serials.view())
        if index._dead is not None:
            np.save(folder / "dead.npy", index._dead)
    return {
        p.name: {"sha256": _sha256(p), "bytes": p.stat().st_size} for p in sorted(folder.iterdir())
    }


def _manifest(index: Index, files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from .. import __version__

    enc = index._encoder
    return {
        "format": "sememe-index",
        "format_version": FORMAT_VERSION,
        "sememe_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kind": index.kind,
        "documents": len(index._ids),
        "dim": index._dim,
        "encoder": {"name": enc.config.name, "fingerprint": enc.fingerprint, "dim": enc.dim},
        "settings": {
            "factory": index.factory,
            "exact_limit": index.exact_limit,
            "ef_search": index.ef_search,
            "ef_construction": index.ef_construction,
            "nprobe": index.nprobe,
            "candidates": index.candidates,
            # only where it applies, so that float and binary indexes stay readable by
            # sememe versions from before the option
            **({"scan_dims": index.scan_dims} if index.scan_dims is not None else {}),
        },
        "structure": index.structure,
        "next_auto_id": index._next_auto,
        "next_serial": index._next_serial,
        "files": files,
    }


def load_index(
    cls: type[Index],
    path: str | os.PathLike[str],
    encoder: Encoder | None = None,
    *,
    verify: bool = True,
    mmap: bool = False,
) -> Index:
    """What :meth:`Index.load` does (its docstring describes the options)."""
    folder = Path(path)
    manifest = _read_manifest(folder)
    files = manifest["files"]
    for name in files:
        if not (folder / name).is_file():
            raise IndexFormatError(f"{folder / name}: missing; the index folder is incomplete")
    for name, info in files.items():
        p = folder / name
        if p.stat().st_size != info["bytes"] or (verify and _sha256(p) != info["sha256"]):
            raise IndexFormatError(f"{p}: checksum mismatch; the file was changed or is corrupt")
    enc_info = manifest["encoder"]
    encoder = _resolve_encoder(encoder, enc_info, folder)
    settings = manifest["settings"]
    try:
        new = cls(encoder, kind=manifest["kind"], **settings)
    except (TypeError, ValueError) as exc:
        raise IndexFormatError(f"{folder / _MANIFEST}: invalid settings ({exc})") from None
    try:
        _read_files(new, folder, files, mmap)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexFormatError(f"{folder}: cannot read the index ({exc})") from None
    new._next_auto = int(manifest.get("next_auto_id", 0))
    new._next_serial = int(manifest.get("next_serial", 0))
    if len(new._ids) != manifest["documents"]:
        raise IndexFormatError(
            f"{folder / _DOCS}: {len(new._ids)} documents, manifest says {manifest['documents']}"
        )
    return new


def _read_files(index: Index, folder: Path, files: Mapping[str, Any], mmap: bool) -> None:
    mode = "r" if mmap else None
    with open(folder / _DOCS, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            index._ids.append(check_id(rec["id"], "id"))
            index._texts.append(rec["text"])
            index._meta.append(rec["metadata"])
    index._row_of = {doc_id: r for r, doc_id in enumerate(index._ids)}
    if len(index._row_of) != len(index._ids):
        raise ValueError("repeated ids in docs.jsonl")
    n = len(index._ids)
    for name, rows, width, dtype in (
        (_VECTORS, index._vectors, index._dim, np.float32),
        (_CODES, index._codes, index._dim // 8, np.uint8),
    ):
        if rows is None:
            continue
        data = np.load(folder / name, mmap_mode=mode, allow_pickle=False)
        if data.shape != (n, width) or data.dtype != dtype:
            raise ValueError(
                f"{name} has shape {data.shape} {data.dtype}, expected ({n}, {width}) {np.dtype(dtype)}"
            )
        rows.data, rows.n = data, n
    if _STRUCTURE in files:
        faiss = faiss_module()
        reader = faiss.read_index_binary if index.factory.startswith("B") else faiss.read_index
        index._structure = reader(str(folder / _STRUCTURE))
        serials = np.load(folder / _SERIALS, allow_pickle=False)
        if serials.shape != (n,):
            raise ValueError(f"{_SERIALS} has shape {serials.shape}, expected ({n},)")
        index._serials = Rows((), np.int64, np.array(serials))
        if "dead.npy" in files:
            index._dead = np.load(folder / "dead.npy", allow_pickle=False)
        index._scan = None
    elif index._scan is not None:
        if _SCAN in files:
            faiss = faiss_module()
            scan = faiss.read_index(str(folder / _SCAN))
            if not _is_sign_scanner(scan, faiss):
                raise ValueError(f"{_SCAN} is not a sign-bit scan of this sememe version")
            if scan.ntotal != n or scan.d != index.scan_dims:
                raise ValueError(
                    f"{_SCAN} holds {scan.ntotal} entries of {scan.d} dims, expected {n} of "
                    f"{index.scan_dims}"
                )
            index._scan = scan
        else:  # written without one: rebuild it from the vectors
            index._rebuild_scan()


def _is_sign_scanner(scan: Any, faiss: Any) -> bool:
    """Whether ``scan`` is what :func:`~sememe.index._common.sign_scanner` builds."""
    if (
        not isinstance(scan, faiss.IndexPQFastScan)
        or scan.metric_type != faiss.METRIC_INNER_PRODUCT
    ):
        return False
    if scan.pq.nbits != 4 or scan.d != scan.pq.M * 4:
        return False
    return np.array_equal(faiss.vector_to_array(scan.pq.centroids), sign_centroids(scan.d))


def _fsync_dir_files(folder: Path) -> None:
    for p in folder.iterdir():
        with open(p, "rb") as f:
            os.fsync(f.fileno())


def _read_manifest(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise IndexFormatError(f"{folder}: no such index folder")
    path = folder / _MANIFEST
    if not path.is_file():
        raise IndexFormatError(f"{path}: missing; {folder} is not a sememe index")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeError, json.JSONDecodeError) as exc:
        raise IndexFormatError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "sememe-index":
        raise IndexFormatError(f"{path}: not a sememe index manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFormatError(
            f"{path}: index format {manifest.get('format_version')} is not supported by this "
            f"sememe (format {FORMAT_VERSION}); rebuild the index"
        )
    for key in ("kind", "documents", "dim", "encoder", "settings", "files"):
        if key not in manifest:
            raise IndexFormatError(f"{path}: missing field {key!r}")
    return manifest


def _resolve_encoder(encoder: Encoder | None, info: Mapping[str, Any], folder: Path) -> Encoder:
    want, dim = info["fingerprint"], int(info["dim"])
    if encoder is None:
        from ..errors import ModelNotFoundError
        from ..loading import load

        try:
            encoder = load(info["name"])
        except (ModelNotFoundError, ValueError, OSError):
            encoder = load()
        if encoder.fingerprint == want and encoder.dim != dim:
            encoder = encoder.with_options(dim=dim)
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
