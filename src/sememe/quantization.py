"""Smaller tables, as Model2Vec users know them: float16, int8 with a scale, and
vocabulary quantization (k-means over the rows plus a token -> row mapping).

:func:`quantize` returns a new :class:`~sememe.Encoder` whose vectors carry exactly the
loss of the chosen storage, so what you measure in memory is what a saved folder gives:

- ``"float16"``: the table is held (and saved) as float16; half of float32 on disk.
- ``"int8"``: one scale for the whole table (``max |x| / 127``, Model2Vec's rule), values
  rounded to -127..127. The encoder holds ``int8 x scale`` as float32 (pooling reads
  float32 anyway); saving with ``quantize_to="int8"`` stores the int8 values and the scale,
  a quarter of float32 on disk, and loading gives the same table back.
- ``vocabulary_quantization=k``: the rows' directions become ``k`` k-means centres (FAISS)
  and every token id maps to its centre's row (Encoder's ``mapping``); each row's length
  moves into its token's weight, as Model2Vec does for tables without weights, and
  pooling becomes Model2Vec's ``"mean"`` (normalised vectors mean the same; unnormalised
  ones are divided by the token count).

Measured cost on the development tasks: ``benchmarks/quantization.py`` and
``benchmarks/results/quantization.md``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from ._validate import check_choice, check_int
from ._vectors import euclidean_kmeans
from .encoder import Encoder
from .errors import InvalidArgumentError, InvalidTypeError

QuantizeTo = Literal["float32", "float16", "int8"]
#: The storage types :func:`quantize` and ``Encoder.save(quantize_to=)`` accept.
DTYPES: tuple[str, ...] = ("float32", "float16", "int8")
_INT8_MAX = 127


def check_dtype(quantize_to: object) -> str | None:
    """``quantize_to`` checked: None or one of :data:`DTYPES` (numpy dtypes accepted)."""
    if quantize_to is None:
        return None
    if isinstance(quantize_to, (np.dtype, type)):
        try:
            quantize_to = np.dtype(quantize_to).name
        except TypeError:
            raise InvalidTypeError(
                f"quantize_to must be one of {list(DTYPES)} or None, got {quantize_to!r}"
            ) from None
    if not isinstance(quantize_to, str):
        raise InvalidTypeError(
            f"quantize_to must be one of {list(DTYPES)} or None, got {quantize_to!r} "
            f"({type(quantize_to).__name__})"
        )
    check_choice(quantize_to, "quantize_to", DTYPES)
    return quantize_to


def int8_table(table: np.ndarray) -> tuple[np.ndarray, float]:
    """``(values, scale)`` with ``values * scale`` ~ ``table``: one scale, max |x| / 127.

    A table of zeros gets scale 1, a table of subnormals the smallest float32 step. Applying
    it to a table that already is ``int8 x scale`` gives the same values and scale back (up to
    float rounding of the scale).
    """
    table = np.asarray(table, dtype=np.float32)
    peak = float(np.max(np.abs(table))) if table.size else 0.0
    if peak <= 0:
        return _round(table, 1.0), 1.0
    # A table of subnormals (peak under 127 x the smallest float32) would get a scale that
    # rounds to 0; the smallest subnormal is then the step (every subnormal is a multiple of it).
    scale = float(max(np.float32(peak / _INT8_MAX), np.finfo(np.float32).smallest_subnormal))
    return _round(table, scale), scale


def _round(table: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.rint(table / np.float32(scale)), -_INT8_MAX, _INT8_MAX).astype(np.int8)


def dequantize(values: np.ndarray, scale: float) -> np.ndarray:
    """The float32 table an int8 table with ``scale`` stands for."""
    return values.astype(np.float32) * np.float32(scale)


def held_scale(provenance: dict[str, object]) -> float | None:
    r"""The int8 scale a :func:`quantize`\ d (or int8-loaded) encoder records, if any."""
    held = provenance.get("quantization")
    scale = held.get("scale") if isinstance(held, dict) else None
    return float(scale) if isinstance(scale, (int, float)) and scale > 0 else None


def int8_of(table: np.ndarray, scale: float | None = None) -> tuple[np.ndarray, float]:
    """``(values, scale)`` for ``table``: with the recorded ``scale`` when ``table`` is exactly
    ``values x scale`` (an int8 table saved again stays bit-identical), else :func:`int8_table`."""
    table = np.asarray(table, dtype=np.float32)
    if scale is not None:
        values = _round(table, scale)
        if np.array_equal(dequantize(values, scale), table):
            return values, scale
    return int8_table(table)


def _clusters(rows: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(centres, labels)`` of Euclidean k-means over ``rows`` (FAISS, 25 iterations, all
    rows used), each row labelled with its nearest centre."""
    return euclidean_kmeans(rows, k, seed=seed, niter=25)


def quantize(
    encoder: Encoder,
    *,
    quantize_to: QuantizeTo | None = None,
    vocabulary_quantization: int | None = None,
    seed: int = 42,
) -> Encoder:
    """An encoder with a smaller table: see the module docstring for each option.

    ``vocabulary_quantization`` is the number of rows to keep (an int from 1 to the
    table's rows); an encoder that already maps tokens to rows cannot be quantized again.
    Both options may be combined (clustering first, as Model2Vec does). With neither, the
    encoder is returned unchanged.
    """
    if not isinstance(encoder, Encoder):
        raise InvalidTypeError(f"encoder must be a sememe.Encoder, got {type(encoder).__name__}")
    dtype = check_dtype(quantize_to)
    arrays = encoder.arrays
    rows = arrays.embeddings.shape[0]
    if vocabulary_quantization is not None:
        k = check_int(vocabulary_quantization, "vocabulary_quantization")
        if not 1 <= k <= rows:
            raise InvalidArgumentError(
                f"vocabulary_quantization must be between 1 and the table's {rows} rows, got {k}"
            )
        if arrays.mapping is not None:
            raise InvalidArgumentError(
                f"{encoder.source}: the model is already vocabulary-quantized "
                f"({rows} rows for {encoder.vocab_size} tokens); quantize the original instead"
            )
    if dtype is None and vocabulary_quantization is None:
        return encoder
    table = arrays.table
    weights = None if arrays.weights is None else np.array(arrays.weights, dtype=np.float32)
    mapping = None if arrays.mapping is None else np.array(arrays.mapping)
    config = encoder.config
    if vocabulary_quantization is not None:
        # Cluster directions, not rows: a row's length is kept in its token's weight
        # (Model2Vec does this for tables without weights; sememe's tables keep most of
        # their magnitude in the rows, and clustering raw rows costs more quality).
        norms = np.linalg.norm(table, axis=1).astype(np.float32)
        weights = norms if weights is None else weights * norms
        table = table / np.where(norms > 0, norms, 1)[:, None]
        table, mapping = _clusters(table, k, seed)
        # The weights now carry lengths, so they are no pooling denominator: Model2Vec's
        # mean (normalised vectors are unchanged by this; unnormalised ones are divided
        # by the token count, as Model2Vec divides them).
        config = replace(config, pooling="mean")
    stored = arrays.embeddings if vocabulary_quantization is None else table
    if dtype == "float16":
        stored = np.asarray(stored, dtype=np.float16)
    elif dtype == "float32":
        stored = np.asarray(stored, dtype=np.float32)
    scale = None
    if dtype == "int8":
        values, scale = int8_of(stored, held_scale(config.provenance))
        stored = dequantize(values, scale)
    provenance = dict(config.provenance)
    provenance["quantization"] = {
        "dtype": dtype or str(stored.dtype),
        **({"scale": scale} if scale is not None else {}),
        **({"vocabulary": int(stored.shape[0])} if vocabulary_quantization else {}),
    }
    return Encoder(
        encoder.tokenizer,  # a fresh copy on each access
        stored,
        copy_tokenizer=False,
        weights=weights,
        mapping=mapping,
        config=replace(config, provenance=provenance),
        dim=encoder.dim,
        source=encoder.source,
    )
