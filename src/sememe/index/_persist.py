"""Saving and loading an :class:`~sememe.index.Index` as a folder of plain files.

Layout: ``manifest.json`` (settings, encoder fingerprint, SHA-256 and size of every other
file), ``docs.jsonl``, ``vectors.npy`` / ``codes.npy``, ``blank.npy`` (rows of the blank
documents), ``scan.faiss`` (the binary+rerank first stage) and, once built, the FAISS
structure (``structure.faiss`` with ``serials.npy`` and, for HNSW, ``dead.npy``).

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

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _folder
from ..encoder import Encoder
from ..errors import InvalidTypeError
from ._common import (
    KINDS,
    IndexFormatError,
    Rows,
    check_flag,
    check_id,
    check_path,
    describe,
    faiss_module,
    family_of,
    ivf_of,
    shown,
    sign_centroids,
)

if TYPE_CHECKING:
    from ._index import Index

FORMAT_VERSION = 1
_MANIFEST = _folder.MANIFEST
_DOCS = "docs.jsonl"
_VECTORS = "vectors.npy"
_CODES = "codes.npy"
_BLANK = "blank.npy"
_SERIALS = "serials.npy"
_DEAD = "dead.npy"
_STRUCTURE = "structure.faiss"
_SCAN = "scan.faiss"

#: Options of :class:`~sememe.index.Index` a manifest's ``settings`` may hold.
_SETTINGS = (
    "factory",
    "exact_limit",
    "ef_search",
    "ef_construction",
    "nprobe",
    "candidates",
    "scan_dims",
)


# ----------------------------------------------------------------------------- saving


def save_index(index: Index, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """What :meth:`Index.save` does (its docstring lists the files and the guarantees)."""
    target = _folder.prepare_target(
        check_path(path), "index", overwrite=check_flag(overwrite, "overwrite")
    )
    with _folder.atomic_folder(target) as tmp, index._lock.read():
        _write_files(index, tmp)
        _folder.write_manifest(tmp, "index", FORMAT_VERSION, _manifest_fields(index))
    return target


def _json_line(record: dict[str, Any]) -> str:
    """One ``docs.jsonl`` line, UTF-8 as written; lone surrogates (which UTF-8 cannot hold
    and the encoder accepts) are kept as JSON escapes, which read back to the same text."""
    line = json.dumps(record, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(record, ensure_ascii=True)
    return line + "\n"


def _write_files(index: Index, folder: Path) -> None:
    with open(folder / _DOCS, "w", encoding="utf-8", newline="\n") as f:
        for doc_id, text, meta in zip(index._ids, index._texts, index._meta, strict=True):
            f.write(_json_line({"id": doc_id, "text": text, "metadata": meta}))
    if index._vectors is not None:
        np.save(folder / _VECTORS, index._vectors.view())
    if index._codes is not None:
        np.save(folder / _CODES, index._codes.view())
    np.save(folder / _BLANK, index._blank_rows.astype(np.int64))
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
            np.save(folder / _DEAD, index._dead)


def _manifest_fields(index: Index) -> dict[str, Any]:
    enc = index._encoder
    return {
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
    }


# ----------------------------------------------------------------------------- loading


def load_index(
    cls: type[Index],
    path: str | os.PathLike[str],
    encoder: Encoder | None = None,
    *,
    verify: bool = True,
    mmap: bool = False,
) -> Index:
    """What :meth:`Index.load` does (its docstring describes the options)."""
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
        # allocate gigabytes and take minutes before it fails. Its files are always checked.
        faiss_files = {k: v for k, v in manifest["files"].items() if k.endswith(".faiss")}
        _folder.verify_files(folder, faiss_files, error=IndexFormatError, verify=True)
    fields = _check_manifest(manifest, folder / _MANIFEST)
    encoder = _resolve_encoder(encoder, manifest["encoder"], folder)
    if encoder.dim != fields["dim"]:
        raise IndexFormatError(
            f"{folder / _MANIFEST}: dim is {fields['dim']} but the encoder entry says {encoder.dim}"
        )
    try:
        new = cls(encoder, kind=fields["kind"], **fields["settings"])
    except (TypeError, ValueError) as exc:
        raise IndexFormatError(f"{folder / _MANIFEST}: invalid settings ({exc})") from None
    _read_files(new, folder, manifest["files"], fields, mmap)
    new._next_auto = fields["next_auto_id"]
    return new


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
    return {
        "kind": kind,
        "dim": dim,
        "documents": count("documents"),
        "settings": settings,
        "structure": structure,
        "next_auto_id": count("next_auto_id", 0),
        "next_serial": count("next_serial", 0),
    }


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn any failure to parse ``path`` into an :class:`IndexFormatError` naming it.

    Corrupt files fail in many ways (numpy's header parser raises ``tokenize`` and
    ``SyntaxError`` errors, FAISS ``RuntimeError``, json ``ValueError``, a bad byte
    ``UnicodeDecodeError``, ...), checked or not: all of them are the folder's fault.
    ``MemoryError`` (and ``KeyboardInterrupt``) pass through.
    """
    try:
        yield
    except (IndexFormatError, MemoryError):
        raise
    except Exception as exc:
        raise IndexFormatError(
            f"{path}: cannot read the index file ({type(exc).__name__}: {exc})"
        ) from exc


def _read_files(
    index: Index, folder: Path, files: Mapping[str, Any], fields: dict[str, Any], mmap: bool
) -> None:
    n = _read_docs(index, folder / _DOCS, fields["documents"])
    mode = "r" if mmap else None
    for name, rows, width, dtype in (
        (_VECTORS, index._vectors, index._dim, np.float32),
        (_CODES, index._codes, index._dim // 8, np.uint8),
    ):
        if rows is None:
            continue
        if name not in files:
            raise IndexFormatError(f"{folder / name}: missing; a {index.kind} index needs it")
        rows.data, rows.n = _load_npy(folder / name, (n, width), dtype, mode), n
    _read_blank(index, folder, files, n)
    if _STRUCTURE in files:
        _read_structure(index, folder, files, fields, n)
    elif index._scan is not None:
        if _SCAN in files:
            index._scan = _read_scan(folder / _SCAN, n, index.scan_dims)  # type: ignore[arg-type]
        else:  # written without one: rebuild it from the vectors
            with _reading(folder / _VECTORS):
                index._rebuild_scan()


def _read_docs(index: Index, path: Path, documents: int) -> int:
    """Fill ids, texts and metadata from ``docs.jsonl``; returns the number of documents."""
    ids, texts, meta = index._ids, index._texts, index._meta
    with _reading(path), open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            where = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
            except ValueError as exc:
                raise IndexFormatError(f"{where}: not a JSON line ({exc})") from None
            if not isinstance(rec, dict) or not {"id", "text", "metadata"} <= set(rec):
                raise IndexFormatError(
                    f"{where}: expected an object with 'id', 'text' and 'metadata'"
                )
            try:
                doc_id = check_id(rec["id"], "the id")
            except TypeError as exc:
                raise IndexFormatError(f"{where}: {exc}") from None
            text, metadata = rec["text"], rec["metadata"]
            if not isinstance(text, str):
                raise IndexFormatError(f"{where}: the text is {describe(text)}; expected str")
            if metadata is not None and not isinstance(metadata, dict):
                raise IndexFormatError(
                    f"{where}: the metadata is {describe(metadata)}; expected an object or null"
                )
            ids.append(doc_id)
            texts.append(text)
            meta.append(metadata)
    index._row_of = {doc_id: r for r, doc_id in enumerate(ids)}
    if len(index._row_of) != len(ids):
        seen: set[Any] = set()
        for lineno, doc_id in enumerate(ids, 1):
            if doc_id in seen:
                raise IndexFormatError(f"{path}:{lineno}: id {doc_id!r} repeats an earlier line")
            seen.add(doc_id)
    if len(ids) != documents:
        raise IndexFormatError(f"{path}: {len(ids)} documents, the manifest says {documents}")
    return len(ids)


def _load_npy(
    path: Path, shape: tuple[int, ...] | None, dtype: Any, mode: str | None = None
) -> np.ndarray:
    """An ``.npy`` file whose header must give ``dtype`` and ``shape`` (``None``: any 1-d).

    The header is checked before the data is read, so a damaged one cannot ask for an
    impossible allocation; the data must fill the rest of the file exactly.
    """
    fmt = np.lib.format
    with _reading(path):
        with open(path, "rb") as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                got_shape, fortran, got_dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                got_shape, fortran, got_dtype = fmt.read_array_header_2_0(f)
            else:
                raise IndexFormatError(f"{path}: unsupported .npy version {version}")
            data_bytes = os.fstat(f.fileno()).st_size - f.tell()
        want = np.dtype(dtype)
        if got_dtype != want or fortran:
            raise IndexFormatError(
                f"{path}: holds {'Fortran-order ' if fortran else ''}{got_dtype}, expected {want}"
            )
        ok = len(got_shape) == 1 if shape is None else tuple(got_shape) == shape
        if not ok:
            expected = "(n,)" if shape is None else str(shape)
            raise IndexFormatError(f"{path}: has shape {got_shape}, expected {expected}")
        if data_bytes != int(np.prod(got_shape, dtype=np.int64)) * want.itemsize:
            raise IndexFormatError(
                f"{path}: {data_bytes} bytes of data for shape {got_shape}; the file is "
                "truncated or padded"
            )
        return np.load(path, mmap_mode=mode, allow_pickle=False)


def _read_blank(index: Index, folder: Path, files: Mapping[str, Any], n: int) -> None:
    """The blank-document mask: from ``blank.npy``, or recomputed for folders without it."""
    path = folder / _BLANK
    if _BLANK in files:
        rows = np.array(_load_npy(path, None, np.int64))
        if len(rows) and (rows[0] < 0 or rows[-1] >= n or (np.diff(rows) <= 0).any()):
            raise IndexFormatError(f"{path}: blank rows must be increasing and within 0..{n - 1}")
    else:
        with _reading(folder / (_CODES if index._codes is not None else _VECTORS)):
            rows = _find_blank_rows(index)
    mask = np.zeros(n, bool)
    mask[rows] = True
    index._blank = Rows((), np.bool_, mask)
    index._blank_rows = rows.astype(np.int64)


def _find_blank_rows(index: Index, chunk: int = 65_536) -> np.ndarray:
    """Rows whose vector is zero, for folders written before ``blank.npy``.

    A zero vector has all-zero sign bits, so where there are codes only the rows with a
    zero code are checked further (their vectors, or for ``"binary"`` their texts encoded
    again); a float index scans its vectors.
    """
    if index._codes is not None:
        codes = index._codes.view()
        maybe = np.concatenate(
            [s + np.flatnonzero(~codes[s : s + chunk].any(1)) for s in range(0, len(codes), chunk)]
            or [np.zeros(0, np.int64)]
        )
        if not len(maybe):
            return maybe.astype(np.int64)
        if index._vectors is not None:
            zero = ~index._vectors.view()[maybe].any(1)
        else:
            texts = [index._texts[r] for r in maybe.tolist()]
            zero = ~index._encode(texts, normalize=False, show_progress=False).any(1)
        return maybe[zero].astype(np.int64)
    vectors = index._vectors.view()  # type: ignore[union-attr]  # float kind
    parts = [
        s + np.flatnonzero(~vectors[s : s + chunk].any(1)) for s in range(0, len(vectors), chunk)
    ]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def _read_faiss(path: Path, reader: Any) -> Any:
    """A FAISS file read with ``reader``; parse failures become :class:`IndexFormatError`.

    A damaged size field makes FAISS ask for an impossible allocation (``std::bad_alloc``,
    a ``MemoryError``). Reading needs about the file's size in memory, so a MemoryError for
    a file far smaller than this machine's memory is the file's fault; for a file that big
    it may be real, and passes through.
    """
    with _reading(path):
        try:
            return reader(str(path))
        except MemoryError:
            size, memory = path.stat().st_size, _physical_memory()
            if memory is not None and size * 4 > memory:
                raise
            raise IndexFormatError(
                f"{path}: cannot read the index file: it asks for far more memory than its "
                f"{size:,} bytes can hold (a damaged size field)"
            ) from None


def _read_scan(path: Path, n: int, dims: int) -> Any:
    faiss = faiss_module()
    scan = _read_faiss(path, faiss.read_index)
    with _reading(path):
        ok = _is_sign_scanner(scan, faiss)
    if not ok:
        raise IndexFormatError(f"{path}: {_SCAN} is not a sign-bit scan of this sememe version")
    if scan.ntotal != n or scan.d != dims:
        raise IndexFormatError(
            f"{path}: {_SCAN} holds {scan.ntotal} entries of {scan.d} dims, expected {n} of {dims}"
        )
    return scan


def _read_structure(
    index: Index, folder: Path, files: Mapping[str, Any], fields: dict[str, Any], n: int
) -> None:
    """The FAISS structure with its serials (and dead entries), checked for consistency
    with the documents and ``next_serial``, so that later adds and searches work."""
    faiss = faiss_module()
    path = folder / _STRUCTURE
    binary = index.factory.startswith("B")
    family = family_of(index.factory)
    structure = _read_faiss(path, faiss.read_index_binary if binary else faiss.read_index)
    with _reading(path):
        if family == "hnsw":
            ok = hasattr(structure, "hnsw")
        elif family == "ivf":
            ok = (
                isinstance(structure, faiss.IndexBinaryIVF)
                if binary
                else ivf_of(structure) is not None
            )
        else:
            ok = False
        if not binary and structure.metric_type != faiss.METRIC_INNER_PRODUCT:
            ok = False
        ntotal, d = int(structure.ntotal), int(structure.d)
    if not ok:
        raise IndexFormatError(f"{path}: not a {index.factory!r} structure of this index")
    if d != index.dim:
        raise IndexFormatError(f"{path}: has dimension {d}, the index has {index.dim}")
    if _SERIALS not in files:
        raise IndexFormatError(f"{folder / _SERIALS}: missing; {_STRUCTURE} needs it")
    serials = np.array(_load_npy(folder / _SERIALS, (n,), np.int64))
    next_serial = fields["next_serial"]
    if len(serials) and (serials[0] < 0 or (np.diff(serials) <= 0).any()):
        raise IndexFormatError(f"{folder / _SERIALS}: serials must be increasing and >= 0")
    if len(serials) and serials[-1] >= next_serial:
        raise IndexFormatError(
            f"{folder / _MANIFEST}: next_serial is {next_serial} but serial {serials[-1]} is in use"
        )
    dead = None
    if family == "hnsw":
        # HNSW labels are insertion positions: one entry per serial ever given out
        if ntotal != next_serial:
            raise IndexFormatError(
                f"{folder / _MANIFEST}: next_serial is {next_serial} but {_STRUCTURE} holds "
                f"{ntotal} entries"
            )
        if _DEAD in files:
            dead = np.array(_load_npy(folder / _DEAD, (ntotal,), np.bool_))
        elif ntotal == n:
            dead = np.zeros(ntotal, bool)
        else:
            raise IndexFormatError(f"{folder / _DEAD}: missing; {_STRUCTURE} needs it")
        alive = np.flatnonzero(~dead)
        if len(alive) != n or not np.array_equal(alive, serials):
            raise IndexFormatError(
                f"{folder / _DEAD}: the live entries of {_STRUCTURE} do not match {_SERIALS}"
            )
    elif ntotal != n:
        raise IndexFormatError(f"{path}: holds {ntotal} entries for {n} documents")
    index._structure = structure
    index._serials = Rows((), np.int64, serials)
    index._next_serial = next_serial
    index._dead = dead
    index._scan = None


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


def _resolve_encoder(encoder: Encoder | None, info: Mapping[str, Any], folder: Path) -> Encoder:
    """The encoder to load with: the one given, else the model the manifest names (the
    bundled one when that name is unknown), cut to the index's ``dim``; its fingerprint
    must match the manifest's."""
    want, dim = info["fingerprint"], info["dim"]
    if encoder is not None and not isinstance(encoder, Encoder):
        raise InvalidTypeError(
            f"encoder must be a sememe.Encoder or None, got {type(encoder).__name__}"
        )
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
