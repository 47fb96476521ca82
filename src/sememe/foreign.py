"""Loaders for static-embedding models saved by other libraries.

Each returns a regular :class:`~sememe.Encoder`, so a foreign model can be used
by every sememe module and re-saved in sememe's own format.

- Model2Vec folders: ``model.safetensors`` with ``embeddings`` and optional
  ``weights`` / ``mapping``, ``tokenizer.json``, ``config.json``.
- sentence-transformers ``StaticEmbedding`` folders: ``modules.json`` pointing at
  a module folder with ``model.safetensors`` (``embedding.weight``) and
  ``tokenizer.json``; a ``Normalize`` module switches normalisation on.
- WordLlama: its ``*.safetensors`` (``embedding.weight``) plus its tokenizer
  config (a ``tokenizers`` JSON file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from ._validate import check_positive_int
from .config import ModelConfig
from .encoder import Encoder
from .errors import MissingDependencyError, ModelFormatError, SememeError
from .persistence import read_tensors, read_tokenizer


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFormatError(f"{path}: file is missing") from None
    except OSError as exc:
        raise ModelFormatError(f"{path}: cannot be read ({exc})") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelFormatError(f"{path}: not valid JSON ({exc})") from None


def _read_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ModelFormatError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _file_max_tokens(cfg: dict[str, Any], path: Path) -> int | None:
    """A Model2Vec config's ``max_length`` / ``seq_length``, checked, or None."""
    for key in ("max_length", "seq_length"):
        value = cfg.get(key)
        if value is not None:
            try:
                return check_positive_int(value, key)
            except SememeError as exc:
                raise ModelFormatError(f"{path}: {exc}") from None
    return None


def _tensor(tensors: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    if name not in tensors:
        raise ModelFormatError(f"{path}: missing tensor {name!r} (found {sorted(tensors)})")
    return tensors[name]


def _unk_id(tokenizer: Tokenizer) -> int | None:
    """The id of the model's unknown token, if its tokenizer model declares one."""
    model = json.loads(tokenizer.to_str()).get("model", {})
    unk = model.get("unk_token")
    if unk is None and "unk_id" in model:  # Unigram
        unk_id = model["unk_id"]
        return unk_id if isinstance(unk_id, int) and not isinstance(unk_id, bool) else None
    return None if not isinstance(unk, str) else tokenizer.token_to_id(unk)


def _config(
    embeddings: np.ndarray,
    tokenizer: Tokenizer,
    *,
    name: str,
    normalize: bool,
    max_tokens: int | None,
    **extra: Any,
) -> ModelConfig:
    if embeddings.ndim != 2:
        raise ModelFormatError(f"{name}: embedding table must be 2-D, got shape {embeddings.shape}")
    source = extra.get("provenance", {}).get("source", name)
    try:
        return ModelConfig(
            dim=int(embeddings.shape[1]),
            vocab_size=tokenizer.get_vocab_size(with_added_tokens=True),
            name=name,
            normalize=normalize,
            max_tokens=512 if max_tokens is None else max_tokens,
            **extra,
        )
    except SememeError as exc:  # what the files declare is inconsistent
        raise ModelFormatError(f"{source}: {exc}") from None


def load_model2vec(
    path: str | Path, *, dim: int | None = None, max_tokens: int | None = None
) -> Encoder:
    """Load a Model2Vec model folder (mean of weighted token vectors, [UNK] dropped)."""
    check_positive_int(max_tokens, "max_tokens", allow_none=True)
    path = Path(path)
    table_path = path / "model.safetensors"
    tensors = read_tensors(table_path)
    embeddings = _tensor(tensors, "embeddings", table_path)
    tokenizer = read_tokenizer(path / "tokenizer.json")
    cfg_path = path / "config.json"
    cfg = _read_object(cfg_path) if cfg_path.is_file() else {}
    unk = _unk_id(tokenizer)
    config = _config(
        embeddings,
        tokenizer,
        name=path.name,
        normalize=bool(cfg.get("normalize", True)),
        max_tokens=max_tokens if max_tokens is not None else _file_max_tokens(cfg, cfg_path),
        pooling="mean",
        ignore_token_ids=() if unk is None else (unk,),
        license=str(cfg.get("license", "unknown")),
        provenance={"format": "model2vec", "source": str(path)},
    )
    return Encoder(
        tokenizer,
        embeddings,
        weights=tensors.get("weights"),
        mapping=tensors.get("mapping"),
        config=config,
        dim=dim,
        source=str(path),
    )


def load_sentence_transformers(
    path: str | Path, *, dim: int | None = None, max_tokens: int | None = None
) -> Encoder:
    """Load a sentence-transformers folder whose first module is ``StaticEmbedding``."""
    check_positive_int(max_tokens, "max_tokens", allow_none=True)
    path = Path(path)
    module_dir, normalize = path, False
    modules_path = path / "modules.json"
    if modules_path.is_file():
        modules = _read_json(modules_path)
        if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
            raise ModelFormatError(f"{modules_path}: expected a list of module objects")
        static = [m for m in modules if str(m.get("type", "")).endswith("StaticEmbedding")]
        if not static:
            types = [m.get("type") for m in modules]
            raise ModelFormatError(f"{modules_path}: no StaticEmbedding module (found {types})")
        module_path = static[0].get("path", "")
        if not isinstance(module_path, str):
            raise ModelFormatError(
                f"{modules_path}: module path must be a str, got {module_path!r}"
            )
        module_dir = path / module_path
        normalize = any(str(m.get("type", "")).endswith("Normalize") for m in modules)
    table_path = module_dir / "model.safetensors"
    tensors = read_tensors(table_path)
    embeddings = _tensor(tensors, "embedding.weight", table_path)
    tokenizer = read_tokenizer(module_dir / "tokenizer.json")
    config = _config(
        embeddings,
        tokenizer,
        name=path.name,
        normalize=normalize,
        max_tokens=max_tokens,
        pooling="mean",
        provenance={"format": "sentence-transformers StaticEmbedding", "source": str(path)},
    )
    return Encoder(tokenizer, embeddings, config=config, dim=dim, source=str(path))


def load_wordllama(
    weights_path: str | Path,
    tokenizer_path: str | Path,
    *,
    dim: int | None = None,
    max_tokens: int | None = None,
    name: str | None = None,
) -> Encoder:
    """Load WordLlama's codebook (``embedding.weight``) with its tokenizer config file."""
    check_positive_int(max_tokens, "max_tokens", allow_none=True)
    weights_path = Path(weights_path)
    tensors = read_tensors(weights_path)
    embeddings = _tensor(tensors, "embedding.weight", weights_path)
    tokenizer = read_tokenizer(Path(tokenizer_path))
    full = int(embeddings.shape[1]) if embeddings.ndim == 2 else 0
    config = _config(
        embeddings,
        tokenizer,
        name=name or weights_path.stem,
        normalize=True,
        max_tokens=max_tokens,
        pooling="mean",
        matryoshka_dims=tuple(d for d in (64, 128, 256, 512, 1024) if d <= full),
        license="MIT",
        provenance={"format": "wordllama", "source": str(weights_path)},
    )
    return Encoder(tokenizer, embeddings, config=config, dim=dim, source=str(weights_path))


def wordllama_files(dim: int = 256) -> tuple[Path, Path]:
    """Paths of the codebook and tokenizer shipped in the installed ``wordllama`` package."""
    try:
        import wordllama
    except ImportError:
        raise MissingDependencyError(
            "the 'wordllama' package is not installed; pip install wordllama "
            '(or pip install "sememe[bench]")'
        ) from None
    root = Path(wordllama.__file__).parent
    weights = root / "weights" / f"l2_supercat_{dim}.safetensors"
    tokenizer = root / "tokenizers" / "l2_supercat_tokenizer_config.json"
    if not weights.is_file():
        shipped = sorted(p.name for p in (root / "weights").glob("*.safetensors"))
        raise ModelFormatError(f"{weights}: not shipped with wordllama (it has {shipped})")
    return weights, tokenizer
