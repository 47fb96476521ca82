"""Loaders for static-embedding models saved by other libraries.

Each returns a regular :class:`~sememe.Encoder`, so a foreign model can be used
by every sememe module and re-saved in sememe's own format.

- Model2Vec folders (what ``StaticModel.save_pretrained`` writes, with or without its
  ``modules.json``): ``model.safetensors`` with ``embeddings`` (float32, float16 or int8)
  and optional ``weights`` / ``mapping`` (vocabulary quantization), ``tokenizer.json``,
  ``config.json`` (``normalize``, ``max_length``). Vectors are what Model2Vec's own
  ``encode`` gives: the unknown token dropped, mean of weight x row, truncation at
  ``max_length`` tokens (512 when absent, none when ``null``).
- sentence-transformers ``StaticEmbedding`` folders, the 6.x layout (module at the root,
  ``"path": ""``) and the older one (``0_StaticEmbedding/``): ``model.safetensors``
  (``embedding.weight``, or Model2Vec's tensors, which sentence-transformers folds into one
  row per token), ``tokenizer.json`` (its truncation, if any, is the token limit; none
  otherwise, as sentence-transformers applies none); a ``Normalize`` module switches
  normalisation on. Any other module (``Dense``, ...) is refused rather than skipped.
- WordLlama: its ``*.safetensors`` (``embedding.weight``) plus its tokenizer
  config (a ``tokenizers`` JSON file; see :func:`wordllama_tokenizer`).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open
from tokenizers import Tokenizer

from ._validate import check_positive_int
from .config import ModelConfig
from .encoder import Encoder
from .errors import MissingDependencyError, ModelFormatError, SememeError
from .persistence import read_tensors, read_tokenizer

#: ``max_tokens`` of a model whose own library truncates nothing (sentence-transformers'
#: ``StaticEmbedding``, Model2Vec's ``"max_length": null``): a limit no text reaches in
#: practice, kept finite because every sememe encoder has one.
NO_TOKEN_LIMIT = 1_000_000

#: sentence-transformers module types a static model may hold, by class name.
_STATIC = "StaticEmbedding"
_NORMALIZE = "Normalize"


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


def tensor_names(path: Path) -> list[str]:
    """The tensor names of a safetensors file, read from its header only (for detection)."""
    if not path.is_file():
        raise ModelFormatError(f"{path}: file is missing")
    try:
        with safe_open(str(path), framework="numpy") as f:
            return list(f.keys())
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFormatError(f"{path}: not a readable safetensors file ({exc})") from None


def _file_max_tokens(cfg: dict[str, Any], path: Path) -> int:
    """The token limit Model2Vec 0.10 applies: ``max_length`` (512 when absent, none when null)."""
    if "max_length" not in cfg:
        return 512
    value = cfg["max_length"]
    if value is None:
        return NO_TOKEN_LIMIT
    try:
        return check_positive_int(value, "max_length")
    except SememeError as exc:
        raise ModelFormatError(f"{path}: {exc}") from None


def _tensor(tensors: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    if name not in tensors:
        raise ModelFormatError(f"{path}: missing tensor {name!r} (found {sorted(tensors)})")
    return tensors[name]


def _float_table(table: np.ndarray, path: Path) -> np.ndarray:
    """A table as sememe pools it: float16/32/64 as stored; int8 as float32 of its values.

    Model2Vec stores an int8 table without its scale and pools the integer values, so
    the values as they are give Model2Vec's own vectors (a scale sememe folds in when it
    saves one is in the ``weights``).
    """
    if table.dtype == np.int8:
        return table.astype(np.float32)
    if table.dtype not in (np.float16, np.float32, np.float64):
        raise ModelFormatError(
            f"{path}: embedding table has dtype {table.dtype}; expected float32, float16 or int8"
        )
    return table


def unk_id(tokenizer: Tokenizer) -> int | None:
    """The id of the tokenizer model's unknown token (Model2Vec drops it), if it declares one."""
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
    """Load a Model2Vec model folder as Model2Vec 0.10 encodes with it.

    Mean of weight x row over the tokens, the unknown token dropped; normalisation as
    ``config.json``'s ``normalize`` (False when absent, Model2Vec's default); the token
    limit its ``max_length``. float16 and int8 tables, vocabulary-quantized ones
    (``mapping`` and fewer rows) included.
    """
    check_positive_int(max_tokens, "max_tokens", allow_none=True)
    path = Path(path)
    table_path = path / "model.safetensors"
    tensors = read_tensors(table_path)
    embeddings = _float_table(_tensor(tensors, "embeddings", table_path), table_path)
    tokenizer = read_tokenizer(path / "tokenizer.json")
    cfg_path = path / "config.json"
    cfg = _read_object(cfg_path) if cfg_path.is_file() else {}
    normalize = cfg.get("normalize", False)
    if not isinstance(normalize, bool):
        raise ModelFormatError(f"{cfg_path}: normalize must be true or false, got {normalize!r}")
    unk = unk_id(tokenizer)
    config = _config(
        embeddings,
        tokenizer,
        name=path.name,
        normalize=normalize,
        max_tokens=max_tokens if max_tokens is not None else _file_max_tokens(cfg, cfg_path),
        pooling="mean",
        ignore_token_ids=() if unk is None else (unk,),
        license=str(cfg.get("license", "unknown")),
        provenance={
            "format": "model2vec",
            "source": str(path),
            "stored_dtype": str(tensors["embeddings"].dtype),
        },
    )
    return Encoder(
        tokenizer,
        embeddings,
        copy_tokenizer=False,  # just read from the folder: nobody else holds it
        weights=tensors.get("weights"),
        mapping=tensors.get("mapping"),
        config=config,
        dim=dim,
        source=str(path),
    )


def _module_type(module: dict[str, Any]) -> str:
    """A module's class name (``...static_embedding.StaticEmbedding`` -> ``StaticEmbedding``)."""
    return str(module.get("type", "")).rsplit(".", 1)[-1]


def static_module_dir(path: Path) -> tuple[Path, bool]:
    """The StaticEmbedding module folder of a sentence-transformers model, and whether a
    ``Normalize`` module follows it.

    A folder without ``modules.json`` is the module folder itself (``0_StaticEmbedding/``
    is looked into). A module other than StaticEmbedding and Normalize would change the
    vectors, so it is refused by name rather than skipped.
    """
    modules_path = path / "modules.json"
    if not modules_path.is_file():
        nested = path / "0_StaticEmbedding"
        return (nested if nested.is_dir() else path), False
    modules = _read_json(modules_path)
    if not isinstance(modules, list) or not all(isinstance(m, dict) for m in modules):
        raise ModelFormatError(f"{modules_path}: expected a list of module objects")
    types = [_module_type(m) for m in modules]
    if _STATIC not in types:
        raise ModelFormatError(
            f"{modules_path}: no StaticEmbedding module (found {[m.get('type') for m in modules]})"
        )
    other = [
        m.get("type") for m, t in zip(modules, types, strict=True) if t not in (_STATIC, _NORMALIZE)
    ]
    if other:
        raise ModelFormatError(
            f"{modules_path}: modules {other} change the vectors and sememe does not run them; "
            "only StaticEmbedding (+ Normalize) models load"
        )
    if types[0] != _STATIC:
        raise ModelFormatError(
            f"{modules_path}: the first module must be StaticEmbedding, got {types}"
        )
    module_path = modules[0].get("path", "")
    if not isinstance(module_path, str):
        raise ModelFormatError(f"{modules_path}: module path must be a str, got {module_path!r}")
    return path / module_path, _NORMALIZE in types


def _tokenizer_limit(tokenizer: Tokenizer) -> int:
    """The truncation a ``tokenizer.json`` carries (what sentence-transformers applies), or none."""
    truncation = tokenizer.truncation
    if not truncation:
        return NO_TOKEN_LIMIT
    return int(truncation["max_length"])


def load_sentence_transformers(
    path: str | Path, *, dim: int | None = None, max_tokens: int | None = None
) -> Encoder:
    """Load a sentence-transformers model made of ``StaticEmbedding`` (+ ``Normalize``).

    Vectors are sentence-transformers' own: the mean of the token rows (no token dropped),
    normalised when a Normalize module follows, truncated only where the module's
    ``tokenizer.json`` says so. A module folder holding Model2Vec's tensors has them folded
    as sentence-transformers does (row of ``mapping[id]`` times ``weights[id]``).
    """
    check_positive_int(max_tokens, "max_tokens", allow_none=True)
    path = Path(path)
    module_dir, normalize = static_module_dir(path)
    table_path = module_dir / "model.safetensors"
    tensors = read_tensors(table_path)
    tokenizer = read_tokenizer(module_dir / "tokenizer.json")
    if "embedding.weight" in tensors:
        embeddings = _float_table(tensors["embedding.weight"], table_path)
    elif "embeddings" in tensors:
        embeddings = _float_table(tensors["embeddings"], table_path)
        if "mapping" in tensors:
            mapping = tensors["mapping"]
            if mapping.size and (mapping.min() < 0 or mapping.max() >= len(embeddings)):
                raise ModelFormatError(f"{table_path}: token mapping points outside the table")
            embeddings = embeddings[mapping]
        if "weights" in tensors:
            weights = tensors["weights"]
            if weights.shape != (len(embeddings),):
                raise ModelFormatError(
                    f"{table_path}: weights have shape {weights.shape}; expected ({len(embeddings)},)"
                )
            embeddings = embeddings.astype(np.float32) * weights[:, None].astype(np.float32)
    else:
        raise ModelFormatError(
            f"{table_path}: missing tensor 'embedding.weight' (found {sorted(tensors)})"
        )
    limit = _tokenizer_limit(tokenizer)
    config = _config(
        embeddings,
        tokenizer,
        name=path.name,
        normalize=normalize,
        max_tokens=max_tokens if max_tokens is not None else limit,
        pooling="mean",
        provenance={"format": "sentence-transformers StaticEmbedding", "source": str(path)},
    )
    return Encoder(
        tokenizer, embeddings, config=config, dim=dim, source=str(path), copy_tokenizer=False
    )


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
    return Encoder(
        tokenizer,
        embeddings,
        config=config,
        dim=dim,
        source=str(weights_path),
        copy_tokenizer=False,
    )


_WORDLLAMA_NAME = re.compile(r"(?P<config>.+?)_(?P<dim>\d+)(?:_binary)?")


def wordllama_tokenizer(weights_path: Path) -> Path:
    """The tokenizer config of a WordLlama weights file, found without a download.

    WordLlama keeps it in a ``tokenizers/`` folder beside ``weights/`` (in the package and
    in its cache), named ``<config>_tokenizer_config.json`` after the weights'
    ``<config>_<dim>.safetensors``. Looked for, in order: a single ``*tokenizer*.json``
    next to the weights; ``../tokenizers/<config>_tokenizer_config.json``; the same file
    in the installed ``wordllama`` package. Otherwise a :class:`ModelFormatError` says
    what to pass as ``tokenizer=``.
    """
    siblings = sorted(weights_path.parent.glob("*tokenizer*.json"))
    if len(siblings) == 1:
        return siblings[0]
    match = _WORDLLAMA_NAME.fullmatch(weights_path.stem)
    config = match["config"] if match else None
    wanted = f"{config}_tokenizer_config.json" if config else None
    if wanted:
        candidates = [weights_path.parent.parent / "tokenizers" / wanted]
        spec = importlib.util.find_spec("wordllama")
        if spec is not None and spec.origin:
            candidates.append(Path(spec.origin).parent / "tokenizers" / wanted)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
    where = (
        f"WordLlama keeps it as tokenizers/{wanted} beside its weights/ folder (in the "
        "wordllama package: wordllama/tokenizers/); for the Llama 2 models it is the "
        "tokenizer.json of meta-llama/Llama-2-70b-hf"
        if wanted
        else "a tokenizers JSON file, e.g. WordLlama's tokenizers/<config>_tokenizer_config.json"
    )
    found = f" (found {len(siblings)} *tokenizer*.json files beside it)" if siblings else ""
    raise ModelFormatError(
        f"{weights_path}: WordLlama weights need their tokenizer file{found}; pass "
        f"tokenizer=PATH: {where}"
    )


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
