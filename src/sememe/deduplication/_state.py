"""Saving and loading a :class:`~sememe.Deduplicator`'s state: one atomic, checksummed folder.

A state folder holds ``arrays.npz`` (kept positions, text hashes and their positions, the
cell index) and ``manifest.json`` (``format: sememe-dedupe-state``, the parameters, the
stream position ``n_seen`` and the size and SHA-256 of ``arrays.npz``). It is written
through :mod:`sememe._folder`: filled in a temporary sibling and swapped in with renames,
so a process killed at any point leaves the previous state or the new one, never a mix
(the old format wrote its two files one after the other, and a kill between them loaded
with a stale ``n_seen``: later stream positions then collided with earlier ones).

Loading checks the manifest and the checksum before anything is parsed, then that the
parts agree with each other (every stored position is below ``n_seen``, array shapes and
types, the cell tables). Any failure is a :class:`DedupeStateError` naming the file.
Folders in the previous format (``state.json`` + ``arrays.npz``, no manifest) still load,
with a warning to save them again; they get the same consistency checks, which is what
catches a stale ``state.json`` beside newer arrays.
"""

from __future__ import annotations

import json
import math
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._folder import (
    MANIFEST,
    atomic_folder,
    prepare_target,
    read_manifest,
    recover,
    write_manifest,
)
from ..errors import FolderFormatError
from ._search import search_settings

if TYPE_CHECKING:
    from ._stream import Deduplicator

KIND = "dedupe-state"
#: Format written by :func:`save_state`. 1 was ``state.json`` + ``arrays.npz`` (no manifest).
VERSION = 2
ARRAYS = "arrays.npz"
LEGACY_META = "state.json"

#: Written as "auto", "exact" or "cells" (the name of "ivf" before it was renamed, so the
#: previous release reads the folder); "ivf" is read as well.
_SEARCH_MODES = ("auto", "exact", "cells", "ivf")

#: Appended to every stored 3-gram (see :func:`save_state`) and removed on load.
GRAM_END = "."


class DedupeStateError(FolderFormatError):
    """A saved Deduplicator state that is missing, damaged, inconsistent or of another
    model; the message starts with the path of the file at fault."""


class DedupeStateNotFoundError(DedupeStateError, FileNotFoundError):
    """No Deduplicator state at the path at all (also a ``FileNotFoundError``)."""


def _is_legacy_state(path: Path) -> bool:
    """A folder written by the format-1 ``save`` (``state.json`` with ``format_version`` 1)."""
    meta = path / LEGACY_META
    if not (path.is_dir() and meta.is_file() and not (path / MANIFEST).exists()):
        return False
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format_version") == 1 and "n_seen" in data


# ---------------------------------------------------------------------- saving


def save_state(dd: Deduplicator, path: str | Path, *, overwrite: bool) -> Path:
    """Write ``dd``'s state to folder ``path`` atomically (see the module docstring)."""
    path = Path(path)
    if overwrite and _is_legacy_state(path):
        target = path  # our own old format: replacing it is what overwrite asks for
    else:
        target = prepare_target(path, KIND, overwrite=overwrite)
    enc = dd._encoder()
    mode, nlist, cell_size = search_settings(dd.search, dd.nlist, dd.cell_size, warn=False)
    hashes = np.fromiter(dd._hashes.keys(), np.uint64, len(dd._hashes))
    hash_ids = np.fromiter(dd._hashes.values(), np.int64, len(dd._hashes))
    arrays = {f"index_{k}": v for k, v in dd._index.arrays().items()}
    # kept texts the model barely covers: their positions and character 3-grams
    grams = [sorted(g) for g in dd._weak_sets]
    arrays["weak_ids"] = np.asarray(dd._weak_ids, np.int64)
    arrays["weak_offsets"] = np.cumsum([0, *map(len, grams)]).astype(np.int64)
    # each 3-gram with an end mark: numpy drops trailing NULs of its fixed-width strings,
    # so a gram ending in "\x00" would otherwise come back shorter
    arrays["weak_grams"] = np.asarray([x + GRAM_END for g in grams for x in g], dtype="<U4")
    state = {
        "threshold": float(dd.threshold),
        "exact": bool(dd.exact),
        "search": "cells" if mode == "ivf" else mode,
        "nprobe": int(dd.nprobe),
        "cell_size": int(cell_size),
        "key": dd.key if isinstance(dd.key, str) else None,
        "n_seen": int(dd._n_seen),
        "n_kept": len(dd._ids),
        "n_hashes": len(hashes),
        "n_uncovered": len(dd._weak_ids),
        "model": enc.config.name,
        "dim": int(enc.dim),
        "fingerprint": enc.fingerprint,
    }
    if nlist is not None:  # only when fixed, so default states read in the previous release
        state["nlist"] = int(nlist)
    with atomic_folder(target) as tmp:
        with open(tmp / ARRAYS, "wb") as f:
            np.savez(f, ids=dd._ids, hashes=hashes, hash_ids=hash_ids, **arrays)
        write_manifest(tmp, KIND, VERSION, {"state": state})
    return target


# ---------------------------------------------------------------------- loading


def read_state(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray], Path]:
    """The checked parameters, the arrays and the file the parameters came from.

    Raises :class:`DedupeStateError` for anything missing, damaged or inconsistent.
    """
    path = Path(path)
    recover(path)  # a save killed mid-swap: put its complete copy back first
    if not path.exists():
        raise DedupeStateNotFoundError(f"{path}: no such Deduplicator state folder")
    if _is_legacy_state(path):
        source = path / LEGACY_META
        meta = json.loads(source.read_text(encoding="utf-8"))
        warnings.warn(
            f"{path}: Deduplicator state in the old format (no checksums); it was loaded and "
            "checked for consistency, but save it again to get an atomic, checksummed folder",
            UserWarning,
            stacklevel=3,
        )
        if not (path / ARRAYS).is_file():
            raise DedupeStateError(f"{path / ARRAYS}: missing; the state is incomplete")
    else:
        if path.is_dir() and not (path / MANIFEST).exists() and (path / LEGACY_META).exists():
            source = path / LEGACY_META
            raise DedupeStateError(
                f"{source}: not a readable Deduplicator state (expected a JSON object with "
                "format_version 1 and n_seen); the folder is damaged"
            )
        manifest = read_manifest(path, KIND, VERSION, error=DedupeStateError, required=("state",))
        source = path / MANIFEST
        meta = manifest["state"]
        if ARRAYS not in manifest["files"]:
            raise DedupeStateError(f"{source}: {ARRAYS} is not listed in 'files'")
    meta = _check_meta(meta, source)
    arrays = _read_arrays(path / ARRAYS)
    _check_arrays(arrays, meta, path / ARRAYS)
    return meta, arrays, source


def _check_meta(meta: Any, source: Path) -> dict[str, Any]:
    """Every parameter present with the right type and a possible value."""
    if not isinstance(meta, dict):
        raise DedupeStateError(f"{source}: the state must be a JSON object")

    def field(name: str, ok: Any, what: str) -> Any:
        if name not in meta:
            raise DedupeStateError(f"{source}: missing field {name!r}")
        value = meta[name]
        if not ok(value):
            raise DedupeStateError(f"{source}: field {name!r} is {value!r}; expected {what}")
        return value

    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    out = {
        "threshold": field(
            "threshold",
            lambda v: is_int(v) or (isinstance(v, float) and math.isfinite(v) and 0 < v <= 1),
            "a number in (0, 1]",
        ),
        "exact": field("exact", lambda v: isinstance(v, bool), "true or false"),
        "search": field(
            "search", lambda v: v in _SEARCH_MODES, "'auto', 'exact', 'ivf' or 'cells'"
        ),
        "nprobe": field("nprobe", lambda v: is_int(v) and v >= 1, "an integer >= 1"),
        "cell_size": field("cell_size", lambda v: is_int(v) and v >= 1, "an integer >= 1"),
        "key": field("key", lambda v: v is None or isinstance(v, str), "a string or null"),
        "n_seen": field("n_seen", lambda v: is_int(v) and v >= 0, "an integer >= 0"),
        "model": field("model", lambda v: isinstance(v, str), "a string"),
        "dim": field("dim", lambda v: is_int(v) and v >= 1, "an integer >= 1"),
        "fingerprint": field("fingerprint", lambda v: isinstance(v, str) and v, "a string"),
    }
    if "nlist" in meta:
        out["nlist"] = field("nlist", lambda v: is_int(v) and v >= 1, "an integer >= 1")
    if is_int(out["threshold"]) and not 0 < out["threshold"] <= 1:
        raise DedupeStateError(f"{source}: field 'threshold' must be in (0, 1]")
    out["threshold"] = float(out["threshold"])
    for name in ("n_kept", "n_hashes", "n_uncovered"):  # format 2: cross-checked with arrays
        if name in meta or source.name == MANIFEST:
            out[name] = field(name, lambda v: is_int(v) and v >= 0, "an integer >= 0")
    return out


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of ``arrays.npz``, read in full (so a damaged member fails here)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: np.asarray(z[k]) for k in z.files}
    except FileNotFoundError:
        raise DedupeStateError(f"{path}: missing; the state is incomplete") from None
    except (
        OSError,
        ValueError,
        EOFError,
        KeyError,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        RuntimeError,
        UnicodeError,
        SyntaxError,
        MemoryError,
    ) as exc:
        raise DedupeStateError(
            f"{path}: cannot be read ({type(exc).__name__}: {exc}); the state is damaged"
        ) from None
    except Exception as exc:  # zlib.error, tokenize.TokenError from a broken .npy header
        raise DedupeStateError(
            f"{path}: cannot be read ({type(exc).__name__}: {exc}); the state is damaged"
        ) from None


def _check_arrays(a: dict[str, np.ndarray], meta: dict[str, Any], path: Path) -> None:
    """The arrays agree with each other and with ``meta`` (shapes, types, positions)."""

    def bad(msg: str) -> DedupeStateError:
        return DedupeStateError(f"{path}: {msg}; the state is damaged or inconsistent")

    def need(name: str, ndim: int, kinds: str) -> np.ndarray:
        if name not in a:
            raise bad(f"array {name!r} is missing")
        x = a[name]
        if x.ndim != ndim or x.dtype.kind not in kinds:
            raise bad(f"array {name!r} has shape {x.shape} and type {x.dtype}")
        return x

    n_seen = meta["n_seen"]
    ids = need("ids", 1, "iu")
    hashes = need("hashes", 1, "u")
    hash_ids = need("hash_ids", 1, "iu")
    vectors = need("index_vectors", 2, "f")
    trained_at = need("index_trained_at", 0, "iu")
    if len(hashes) != len(hash_ids):
        raise bad(f"{len(hashes)} text hashes but {len(hash_ids)} hash positions")
    if len(ids) and (ids.min() < 0 or ids.max() >= n_seen):
        raise bad(f"a kept position ({int(ids.max())}) is not below n_seen ({n_seen})")
    if len(ids) > 1 and np.any(np.diff(ids) <= 0):
        raise bad("kept positions are not strictly increasing")
    if len(hash_ids) and (hash_ids.min() < 0 or hash_ids.max() >= n_seen):
        raise bad(f"a hash position ({int(hash_ids.max())}) is not below n_seen ({n_seen})")
    if len(np.unique(hashes)) != len(hashes):
        raise bad("text hashes are repeated")
    if meta.get("n_kept", len(ids)) != len(ids):
        raise bad(f"{len(ids)} kept positions but the manifest says n_kept={meta['n_kept']}")
    if meta.get("n_hashes", len(hashes)) != len(hashes):
        raise bad(f"{len(hashes)} text hashes but the manifest says n_hashes={meta['n_hashes']}")
    if vectors.shape != (len(ids), meta["dim"]):
        raise bad(
            f"vectors have shape {vectors.shape}; expected ({len(ids)}, {meta['dim']}) "
            "(one per kept position)"
        )
    if not np.all(np.isfinite(vectors)):
        raise bad("vectors hold NaN or infinite values")
    if any(k in a for k in ("weak_ids", "weak_offsets", "weak_grams")):
        weak_ids = need("weak_ids", 1, "iu")
        offsets = need("weak_offsets", 1, "iu")
        grams = need("weak_grams", 1, "U")
        if len(grams) and not all(str(g).endswith(GRAM_END) for g in grams.tolist()):
            raise bad("the 3-grams of uncovered texts lack their end mark")
        if (
            len(offsets) != len(weak_ids) + 1
            or offsets[0] != 0
            or offsets[-1] != len(grams)
            or np.any(np.diff(offsets) < 1)
        ):
            raise bad("the 3-gram table of uncovered texts does not match its positions")
        if len(weak_ids) and (weak_ids.min() < 0 or weak_ids.max() >= n_seen):
            raise bad(f"an uncovered text's position is not below n_seen ({n_seen})")
        if meta.get("n_uncovered", len(weak_ids)) != len(weak_ids):
            raise bad(f"{len(weak_ids)} uncovered texts but the manifest says n_uncovered")
    elif meta.get("n_uncovered", 0):
        raise bad("the 3-gram table of uncovered texts is missing")
    if not 0 <= int(trained_at) <= len(ids):
        raise bad(f"index_trained_at is {int(trained_at)}, not in [0, {len(ids)}]")
    cells = [k for k in ("index_coarse", "index_fine", "index_fine_offsets", "index_cell_of")]
    present = [k in a for k in cells]
    if any(present) and not all(present):
        raise bad("the cell tables are incomplete")
    if all(present):
        coarse = need("index_coarse", 2, "f")
        fine = need("index_fine", 2, "f")
        offsets = need("index_fine_offsets", 1, "iu")
        cell_of = need("index_cell_of", 1, "iu")
        width = fine.shape[1]
        if coarse.shape[1] != width or not 1 <= width <= meta["dim"]:
            raise bad(f"cell centroids have shapes {coarse.shape} and {fine.shape}")
        if (
            len(offsets) < 2
            or offsets[0] != 0
            or offsets[-1] != len(fine)
            or np.any(np.diff(offsets) < 0)
            or len(offsets) - 1 > max(1, len(coarse))
        ):
            raise bad("cell offsets do not match the centroids")
        if len(cell_of) != len(ids) or (
            len(cell_of) and (cell_of.min() < 0 or cell_of.max() >= len(fine))
        ):
            raise bad("cell assignments do not match the vectors and centroids")
        if not (np.all(np.isfinite(coarse)) and np.all(np.isfinite(fine))):
            raise bad("cell centroids hold NaN or infinite values")
