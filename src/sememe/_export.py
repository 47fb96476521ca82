"""Writing an encoder as a Model2Vec or a sentence-transformers folder
(``Encoder.save(path, format=...)``).

The promise: ``model2vec.StaticModel.from_pretrained(path)`` or
``sentence_transformers.SentenceTransformer(path)`` gives the vectors sememe gives, with
the same token limit and normalisation. Where a format cannot express what the encoder
does, :func:`check_exportable` raises :class:`~sememe.errors.InvalidArgumentError` naming
the setting, instead of writing a folder that silently differs:

- special tokens added per text (neither library adds them);
- token weights that are not a plain mean without normalisation (``weighted_mean``
  pooling divides by the weights; both libraries divide by the token count);
- ignored token ids without normalisation (both libraries count every token kept);
- for Model2Vec, an unknown token sememe pools but Model2Vec drops, when the tokenizer
  can emit it (a BPE tokenizer with every byte as a fallback cannot, and its unknown
  token is written as none);
- int8 for sentence-transformers (its ``EmbeddingBag`` pools floats only).

What each format holds:

Model2Vec
    ``model.safetensors`` (``embeddings`` in the stored dtype, ``weights``, ``mapping``),
    ``tokenizer.json``, ``config.json`` (``normalize``, ``max_length`` = ``max_tokens``,
    ``embedding_dtype``, ``vocabulary_quantization``). int8 has no scale in Model2Vec, so
    the scale is folded into ``weights`` (Model2Vec multiplies each row by its weight).
sentence-transformers
    The 6.x layout: ``modules.json`` (StaticEmbedding at the root, Normalize when the
    encoder normalises), ``config_sentence_transformers.json``, ``model.safetensors``
    (``embedding.weight``: one row per token id with the weight and mapping folded in),
    ``tokenizer.json`` with truncation at ``max_tokens``.

Both get ``manifest.json`` (kind ``model-export``: the files' checksums, checked when sememe
loads the folder; the other libraries ignore it) and are written atomically through
:mod:`sememe._folder`; ``overwrite=True`` replaces only another such export.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Tokenizer

from . import _folder
from ._validate import check_choice
from .encoder import Encoder
from .errors import InvalidArgumentError, InvalidTypeError, ModelFormatError
from .foreign import NO_TOKEN_LIMIT, unk_id
from .persistence import save_model
from .quantization import check_dtype, held_scale, int8_of, quantize

ExportFormat = Literal["model2vec", "sentence-transformers"]
KIND = "model-export"
VERSION = 1


def verify_export(path: Path, *, verify: bool = True) -> None:
    """Check an export's manifest (when the folder has one of kind ``model-export``)."""
    manifest = path / _folder.MANIFEST
    if not manifest.is_file():
        return
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError):
        data = None
    if isinstance(data, dict) and data.get("format") == f"sememe-{KIND}":
        _folder.read_manifest(path, KIND, VERSION, error=ModelFormatError, verify=verify)


def _unk_emittable(tokenizer: dict[str, Any]) -> bool:
    """Whether the tokenizer model itself can produce its unknown token.

    A BPE model with byte fallback and all 256 ``<0xXX>`` byte tokens never does (every
    character has bytes); any other model may.
    """
    model = tokenizer.get("model", {})
    if model.get("type") == "BPE" and model.get("byte_fallback"):
        vocab = model.get("vocab", {})
        return not all(f"<0x{b:02X}>" in vocab for b in range(256))
    return True


def check_exportable(encoder: Encoder, fmt: ExportFormat, dtype: str | None) -> dict[str, Any]:
    """Raise where ``fmt`` cannot give ``encoder``'s vectors; return the tokenizer as JSON
    (adjusted for the format where needed)."""
    cfg = encoder.config
    arrays = encoder.arrays
    label = "Model2Vec" if fmt == "model2vec" else "sentence-transformers"
    tok = json.loads(arrays.tokenizer_json)
    if cfg.add_special_tokens:
        raise InvalidArgumentError(
            f"{label} adds no special tokens to a text and this encoder does "
            "(add_special_tokens=True); save it in sememe's format"
        )
    plain = arrays.weights is None or np.all(arrays.weights == arrays.weights.flat[0])
    if not cfg.normalize and cfg.pooling == "weighted_mean" and not plain:
        raise InvalidArgumentError(
            f"{label} divides the sum of weighted rows by the token count; this encoder divides "
            "by the sum of the weights (pooling='weighted_mean', normalize=False), so the "
            "vectors would differ in length. Save a normalising encoder "
            "(encoder.with_options(normalize=True)) or in sememe's format"
        )
    unk = unk_id(Tokenizer.from_str(arrays.tokenizer_json))
    ignored = set(cfg.ignore_token_ids)
    if fmt == "model2vec":
        ignored.discard(unk)  # Model2Vec drops it itself
    if ignored and not cfg.normalize:
        raise InvalidArgumentError(
            f"{label} counts every token in the mean and this encoder ignores token ids "
            f"{sorted(ignored)} without normalising, so the vectors would differ in length; "
            "save a normalising encoder (encoder.with_options(normalize=True)) or in sememe's format"
        )
    if fmt == "model2vec" and unk is not None and unk not in cfg.ignore_token_ids:
        if _unk_emittable(tok):
            name = Tokenizer.from_str(arrays.tokenizer_json).id_to_token(unk)
            raise InvalidArgumentError(
                f"Model2Vec drops the unknown token {name!r} (id {unk}) from every text and this "
                "encoder pools it; save with format='sentence-transformers' or in sememe's format"
            )
        tok["model"]["unk_token"] = None  # never emitted; Model2Vec must not drop "<unk>" text
    if fmt == "sentence-transformers" and dtype == "int8":
        raise InvalidArgumentError(
            "sentence-transformers pools float tables only; use quantize_to='float16' or "
            "format='model2vec' for int8"
        )
    return tok


def _limit(encoder: Encoder) -> int | None:
    return None if encoder.max_tokens >= NO_TOKEN_LIMIT else encoder.max_tokens


def _held_dtype(encoder: Encoder, quantize_to: str | None, fmt: str) -> str:
    """The dtype to store: ``quantize_to``, else the one :func:`~sememe.quantization.quantize`
    recorded (an int8 model stays int8), else the stored one for sememe's format and float32
    for the others (Model2Vec and sentence-transformers compute in the table's dtype, and
    float16 arithmetic would move their vectors away from sememe's)."""
    if quantize_to is not None:
        return quantize_to
    held = encoder.config.provenance.get("quantization", {})
    dtype = held.get("dtype") if isinstance(held, dict) else None
    if dtype in ("float32", "float16", "int8"):
        return dtype
    return str(encoder.arrays.embeddings.dtype) if fmt == "sememe" else "float32"


#: The formats ``Encoder.save(format=)`` writes.
SAVE_FORMATS: tuple[str, ...] = ("sememe", "model2vec", "sentence-transformers")


def save_as(
    encoder: Encoder,
    path: str | Path,
    *,
    format: str = "sememe",
    quantize_to: str | None = None,
    vocabulary_quantization: int | None = None,
    overwrite: bool = False,
) -> Path:
    """What :meth:`sememe.Encoder.save` does: quantize if asked, then write ``format``."""
    check_choice(format, "format", SAVE_FORMATS)
    if not isinstance(overwrite, bool):
        raise InvalidTypeError(f"overwrite must be a bool, got {overwrite!r}")
    dtype = check_dtype(quantize_to)
    # The word table maps words to token ids, which quantizing the rows does not change.
    word_table = encoder.word_table
    if vocabulary_quantization is not None or dtype is not None:
        encoder = quantize(
            encoder, quantize_to=dtype, vocabulary_quantization=vocabulary_quantization
        )
    if format != "sememe":
        return save_foreign(encoder, path, format, overwrite=overwrite)  # type: ignore[arg-type]
    arrays = encoder.arrays
    embeddings, scale = arrays.embeddings, None
    if _held_dtype(encoder, None, "sememe") == "int8":
        embeddings, scale = int8_of(arrays.embeddings, held_scale(encoder.config.provenance))
    return save_model(
        Path(path),
        tokenizer_json=arrays.tokenizer_json,
        embeddings=embeddings,
        weights=arrays.weights,
        mapping=arrays.mapping,
        config=encoder.config,
        fingerprint=encoder.fingerprint,
        overwrite=overwrite,
        scale=scale,
        word_table=word_table,
    )


def save_foreign(
    encoder: Encoder,
    path: str | Path,
    fmt: ExportFormat,
    *,
    quantize_to: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``encoder`` as a ``fmt`` folder at ``path`` (see the module docstring)."""
    dtype = _held_dtype(encoder, check_dtype(quantize_to), fmt)
    tok = check_exportable(encoder, fmt, dtype)
    path = _folder.prepare_target(path, KIND, overwrite=overwrite)
    writer = _write_model2vec if fmt == "model2vec" else _write_sentence_transformers
    with _folder.atomic_folder(path) as tmp:
        writer(encoder, tmp, tok, dtype)
        _folder.write_manifest(
            tmp, KIND, VERSION, {"export_format": fmt, "fingerprint": encoder.fingerprint}
        )
    return path


def _table(encoder: Encoder) -> np.ndarray:
    """The stored table cut to the encoder's ``dim`` (what both libraries then return)."""
    table = encoder.arrays.embeddings
    return np.ascontiguousarray(table[:, : encoder.dim])


def _write_model2vec(encoder: Encoder, folder: Path, tok: dict[str, Any], dtype: str) -> None:
    arrays = encoder.arrays
    cfg = encoder.config
    table = _table(encoder)
    weights = None if arrays.weights is None else np.array(arrays.weights, np.float32)
    if cfg.ignore_token_ids:
        weights = np.ones(encoder.vocab_size, np.float32) if weights is None else weights
        weights[list(cfg.ignore_token_ids)] = 0.0
    if dtype == "int8":
        table, scale = int8_of(table, held_scale(cfg.provenance))
        base = np.ones(encoder.vocab_size, np.float32) if weights is None else weights
        weights = base * np.float32(scale)
    else:
        table = table.astype(dtype)
    tensors = {"embeddings": np.ascontiguousarray(table)}
    if weights is not None:
        tensors["weights"] = np.ascontiguousarray(weights)
    if arrays.mapping is not None:
        tensors["mapping"] = np.ascontiguousarray(arrays.mapping, dtype=np.int64)
    save_file(tensors, str(folder / "model.safetensors"))
    (folder / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    config: dict[str, Any] = {
        "model_type": "model2vec",
        "architectures": ["StaticModel"],
        "tokenizer_name": cfg.name,
        "apply_pca": None,
        "sif_coefficient": None,
        "hidden_dim": int(table.shape[1]),
        "normalize": cfg.normalize,
        "max_length": _limit(encoder),
        "embedding_dtype": str(table.dtype),
        "exported_by": "sememe",
    }
    if arrays.mapping is not None:
        config["vocabulary_quantization"] = int(table.shape[0])
    (folder / "config.json").write_text(json.dumps(config, indent=4) + "\n", encoding="utf-8")


def _write_sentence_transformers(
    encoder: Encoder, folder: Path, tok: dict[str, Any], dtype: str
) -> None:
    arrays = encoder.arrays
    cfg = encoder.config
    table = _table(encoder).astype(np.float32)
    if arrays.mapping is not None:
        table = table[arrays.mapping]
    if arrays.weights is not None or cfg.ignore_token_ids:
        table = table * arrays.token_weights[:, None]
    table = table.astype(np.float16 if dtype == "float16" else np.float32)
    save_file({"embedding.weight": np.ascontiguousarray(table)}, str(folder / "model.safetensors"))
    limit = _limit(encoder)
    tok["truncation"] = (
        None
        if limit is None
        else {"direction": "Right", "max_length": limit, "strategy": "LongestFirst", "stride": 0}
    )
    tok["padding"] = None
    (folder / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    modules = [
        {
            "idx": 0,
            "name": "0",
            "path": "",
            "type": "sentence_transformers.sentence_transformer.modules.static_embedding."
            "StaticEmbedding",
        }
    ]
    if cfg.normalize:
        modules.append(
            {
                "idx": 1,
                "name": "1",
                "path": "1_Normalize",
                "type": "sentence_transformers.base.modules.normalize.Normalize",
            }
        )
        (folder / "1_Normalize").mkdir()
        (folder / "1_Normalize" / "config.json").write_text(
            json.dumps(
                {
                    "module_input_name": "sentence_embedding",
                    "module_output_name": "sentence_embedding",
                },
                indent=4,
            )
            + "\n",
            encoding="utf-8",
        )
    (folder / "modules.json").write_text(json.dumps(modules, indent=2) + "\n", encoding="utf-8")
    st_config = {
        "model_type": "SentenceTransformer",
        "prompts": {},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps(st_config, indent=2) + "\n", encoding="utf-8"
    )
