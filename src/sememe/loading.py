"""``sememe.load``: one entry point for the bundled model, folders and registered names."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from . import _folder
from ._export import verify_export
from ._validate import check_choice, check_positive_int
from .encoder import Encoder
from .errors import InvalidArgumentError, InvalidTypeError, ModelFormatError, ModelNotFoundError
from .foreign import (
    load_model2vec,
    load_sentence_transformers,
    load_wordllama,
    static_module_dir,
    tensor_names,
    wordllama_files,
    wordllama_tokenizer,
)
from .persistence import TABLE_FILE, is_sememe_folder, read_model
from .quantization import QuantizeTo, check_dtype, quantize

#: Name of the model that ships inside the package.
DEFAULT_MODEL = "sememe-base"

_MODELS_DIR = Path(__file__).parent / "models"

Format = Literal["auto", "sememe", "model2vec", "sentence-transformers", "wordllama"]
FORMATS: tuple[str, ...] = ("auto", "sememe", "model2vec", "sentence-transformers", "wordllama")

_registry: dict[str, Callable[[], Encoder]] = {}
_cache: dict[str, Encoder] = {}
_cache_lock = threading.Lock()


def load_model(path: str | Path, *, dim: int | None = None, verify: bool = True) -> Encoder:
    """An encoder from a sememe model folder (see :func:`sememe.persistence.read_model`)."""
    parts = read_model(Path(path), verify=verify)
    return Encoder(
        parts.tokenizer,
        parts.embeddings,
        weights=parts.weights,
        mapping=parts.mapping,
        config=parts.config,
        dim=dim,
        source=parts.source,
        word_table=parts.word_table,
        copy_tokenizer=False,  # freshly parsed from tokenizer.json: nothing else holds it
    )


def loaded_models() -> dict[str, Encoder]:
    """The registered models loaded so far in this process, by name (a snapshot).

    Nothing is loaded here; pickling uses it to store a loaded model by reference.
    """
    with _cache_lock:
        return dict(_cache)


def register_model(name: str, source: str | Path | Callable[[], Encoder]) -> None:
    """Make ``sememe.load(name)`` return the model at ``source`` (a path or a factory).

    A path must exist when it is registered (``ModelNotFoundError`` otherwise), so a typo
    shows at registration rather than at the first ``load``.
    """
    if not isinstance(name, str):
        raise InvalidTypeError(f"a model name must be a str, got {type(name).__name__}")
    if not name:
        raise InvalidArgumentError("a model name must be a non-empty str")
    if callable(source):
        _registry[name] = source
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ModelNotFoundError(f"{path}: no such model folder or file (registering {name!r})")
        _registry[name] = lambda: load_path(path)
    else:
        raise InvalidTypeError(
            f"source must be a path or a callable returning an Encoder, got {type(source).__name__}"
        )
    _cache.pop(name, None)


def available_models() -> list[str]:
    """Registered model names (the bundled one first)."""
    return sorted(_registry, key=lambda n: (n != DEFAULT_MODEL, n))


def default_model_path() -> Path:
    """Folder of the bundled default model inside the installed package."""
    return _MODELS_DIR / DEFAULT_MODEL


def _detect(path: Path) -> str:
    """The format of ``path`` from the files the libraries write, never from its name.

    A ``modules.json`` alone does not mean sentence-transformers: Model2Vec's
    ``save_pretrained`` writes one too (pointing at its own folder). The tensors of the
    StaticEmbedding module's ``model.safetensors`` decide: ``embeddings`` is Model2Vec
    (with its ``config.json``, so Model2Vec's rules apply), ``embedding.weight``
    sentence-transformers.
    """
    if path.is_file() and path.suffix == ".safetensors":
        return "wordllama"
    if not path.is_dir():
        raise ModelNotFoundError(
            f"{path}: no such model folder, and not a registered name "
            f"(registered: {', '.join(available_models())})"
        )
    if is_sememe_folder(path):
        return "sememe"
    module_dir, _ = static_module_dir(path)
    table = module_dir / TABLE_FILE
    if table.is_file():
        names = tensor_names(table)
        if "embeddings" in names and (module_dir / "config.json").is_file():
            return "model2vec"
        if "embeddings" in names and module_dir == path:
            return "model2vec"
        if "embedding.weight" in names or "embeddings" in names:
            return "sentence-transformers"
        raise ModelFormatError(
            f"{table}: neither Model2Vec's 'embeddings' nor sentence-transformers' "
            f"'embedding.weight' tensor (found {sorted(names)})"
        )
    if (path / "modules.json").is_file():
        raise ModelFormatError(f"{table}: file is missing")
    raise ModelFormatError(
        f"{path}: not a model folder sememe knows (expected sememe, Model2Vec or "
        "sentence-transformers StaticEmbedding files)"
    )


def load_path(
    path: str | Path,
    *,
    format: Format = "auto",
    dim: int | None = None,
    max_tokens: int | None = None,
    tokenizer: str | Path | None = None,
) -> Encoder:
    """Load a model from a folder (or a WordLlama ``.safetensors`` file)."""
    check_choice(format, "format", FORMATS)
    _check_sizes(dim, max_tokens)
    path = Path(path)
    _folder.recover(path)  # a save killed mid-swap leaves the complete copy in a sibling
    fmt = _detect(path) if format == "auto" else format
    if fmt == "sememe":
        enc = load_model(path, dim=dim)
        return enc if max_tokens is None else enc.with_options(max_tokens=max_tokens)
    if fmt in ("model2vec", "sentence-transformers"):
        verify_export(path)
    if fmt == "model2vec":
        if not (path / TABLE_FILE).is_file():  # a modules.json layout: the module's folder
            path = static_module_dir(path)[0]
        return load_model2vec(path, dim=dim, max_tokens=max_tokens)
    if fmt == "sentence-transformers":
        return load_sentence_transformers(path, dim=dim, max_tokens=max_tokens)
    if fmt == "wordllama":
        if tokenizer is None:
            tokenizer = wordllama_tokenizer(path)
        return load_wordllama(path, tokenizer, dim=dim, max_tokens=max_tokens)
    raise AssertionError(f"unhandled format {fmt!r}")  # pragma: no cover - FORMATS checked


def load(
    model: str | Path | None = None,
    *,
    dim: int | None = None,
    max_tokens: int | None = None,
    normalize: bool | None = None,
    format: Format = "auto",
    tokenizer: str | Path | None = None,
    quantize_to: QuantizeTo | None = None,
    vocabulary_quantization: int | None = None,
) -> Encoder:
    """Load an encoder.

    Parameters
    ----------
    model:
        ``None`` for the bundled default model (works offline), a registered name
        (see :func:`available_models`), or a path: a sememe model folder, a
        Model2Vec folder, a sentence-transformers StaticEmbedding folder, or a
        WordLlama ``.safetensors`` file.
    dim:
        Default output size; keeps the leading dimensions (Matryoshka truncation).
    max_tokens:
        Tokens per text that count (default: the model's, 2048 for the bundled one).
    normalize:
        Override the model's default L2 normalisation.
    format:
        Skip format detection for a path.
    tokenizer:
        Tokenizer file for a WordLlama ``.safetensors`` path (found without it for
        WordLlama's own layout, see :func:`sememe.foreign.wordllama_tokenizer`).
    quantize_to, vocabulary_quantization:
        Quantize as Model2Vec's ``from_pretrained`` does: ``"float16"`` / ``"int8"``
        tables, k-means over the rows (see :func:`sememe.quantization.quantize`).

    Notes
    -----
    Registered models are loaded once per process and shared; the encoder is
    immutable, so sharing is safe.
    """
    check_choice(format, "format", FORMATS)
    _check_sizes(dim, max_tokens)
    check_dtype(quantize_to)
    if normalize is not None and not isinstance(normalize, bool):
        raise InvalidTypeError(
            f"normalize must be a bool or None, got {normalize!r} ({type(normalize).__name__})"
        )
    name = DEFAULT_MODEL if model is None else model
    if isinstance(name, str) and name in _registry:
        with _cache_lock:
            enc = _cache.get(name)
            if enc is None:
                enc = _registry[name]()
                _cache[name] = enc
    elif isinstance(name, (str, Path)):
        enc = load_path(name, format=format, dim=dim, max_tokens=max_tokens, tokenizer=tokenizer)
        dim = max_tokens = None
    else:
        raise InvalidTypeError(f"model must be None, a name or a path, got {type(model).__name__}")
    if dim is not None or max_tokens is not None or normalize is not None:
        enc = enc.with_options(dim=dim, max_tokens=max_tokens, normalize=normalize)
    if quantize_to is not None or vocabulary_quantization is not None:
        enc = quantize(
            enc, quantize_to=quantize_to, vocabulary_quantization=vocabulary_quantization
        )
    return enc


def _check_sizes(dim: Any, max_tokens: Any) -> None:
    """``dim`` and ``max_tokens`` are None or ints >= 1 (the encoder checks dim's upper bound)."""
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int)):
        import numpy as np

        if not isinstance(dim, np.integer):
            raise InvalidTypeError(f"dim must be an int, got {dim!r} ({type(dim).__name__})")
    if dim is not None and dim < 1:
        raise InvalidArgumentError(f"dim must be between 1 and the model's size, got {dim}")
    check_positive_int(max_tokens, "max_tokens", allow_none=True)


def _load_wordllama_package() -> Encoder:
    weights, tok = wordllama_files(256)
    return load_wordllama(weights, tok, name="wordllama-256")


register_model(DEFAULT_MODEL, lambda: load_model(default_model_path()))
register_model("wordllama-256", _load_wordllama_package)

#: The names every fresh process knows (registered on import); other names exist only in
#: the process that called :func:`register_model`.
BUILTIN_MODELS: tuple[str, ...] = tuple(_registry)
