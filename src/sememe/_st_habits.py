"""The sentence-transformers ``encode`` keywords that :meth:`sememe.Encoder.encode` accepts.

People moving from sentence-transformers pass ``show_progress_bar=``,
``normalize_embeddings=``, ``truncate_dim=``, ``convert_to_numpy=``, ``convert_to_tensor=``
and ``precision=`` by habit. Each is either the same thing under sememe's own name
(:func:`merge_alias`) or a way of returning the vectors (:class:`Output`):

* ``convert_to_tensor=True`` gives a CPU ``torch.Tensor`` (torch is optional: without it
  the call fails before encoding, naming the package to install);
* ``convert_to_numpy=False`` is accepted only together with ``convert_to_tensor=True``
  (sentence-transformers would return a list of tensors; sememe returns one array);
* ``precision="float32"`` is the default, ``"ubinary"`` and ``"binary"`` give the exact bytes
  of sentence-transformers' ``quantize_embeddings`` (sign bits packed most significant bit
  first, ``"binary"`` shifted by -128 into int8). ``"int8"``/``"uint8"`` need calibration
  ranges and are refused with the call to use instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidArgumentError, InvalidTypeError

#: Precisions ``encode(precision=...)`` gives, as sentence-transformers names them.
PRECISIONS = ("float32", "ubinary", "binary")


def merge_alias(value: Any, alias_value: Any, name: str, alias: str) -> Any:
    """The value of an option that may be given under sememe's ``name`` or under
    sentence-transformers' ``alias``; both given with different values is an error."""
    if alias_value is None:
        return value
    if value is None or _same(value, alias_value):
        return alias_value
    raise InvalidArgumentError(
        f"{name}={value!r} and {alias}={alias_value!r} disagree; {alias} is "
        f"sentence-transformers' name for {name}, pass only one"
    )


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same kind (``True`` and ``1`` are not the same option value)."""
    flags = (bool, np.bool_)
    try:
        return bool(a == b) and isinstance(a, flags) == isinstance(b, flags)
    except (TypeError, ValueError):
        return False


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidTypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__})")
    return bool(value)


@dataclass(frozen=True)
class Output:
    """How :meth:`~sememe.Encoder.encode` returns its float32 vectors."""

    precision: str = "float32"
    tensor: bool = False

    @classmethod
    def of(cls, precision: Any, convert_to_numpy: Any, convert_to_tensor: Any) -> Output:
        """Check the three keywords (before any encoding) and return the choice."""
        numpy_out = _check_bool(convert_to_numpy, "convert_to_numpy")
        tensor = _check_bool(convert_to_tensor, "convert_to_tensor")
        if not numpy_out and not tensor:
            raise InvalidArgumentError(
                "convert_to_numpy=False without convert_to_tensor=True: sememe returns one "
                "numpy array (or, with convert_to_tensor=True, one torch tensor), never a list "
                "of vectors"
            )
        if precision in ("int8", "uint8"):
            raise InvalidArgumentError(
                f"precision={precision!r} needs calibration ranges; encode as float32 and use "
                "sentence_transformers.quantization.quantize_embeddings(vectors, "
                f"{precision!r}, ranges=...), or Encoder.encode_binary for sign bits"
            )
        if not isinstance(precision, str) or precision not in PRECISIONS:
            shown = ", ".join(repr(p) for p in PRECISIONS)
            raise InvalidArgumentError(f"precision must be one of {shown}; got {precision!r}")
        if tensor:
            from ._torch import require_torch

            require_torch("Encoder.encode(convert_to_tensor=True)")
        return cls(precision, tensor)

    def apply(self, vectors: np.ndarray) -> Any:
        """``vectors`` (float32, 1-D or 2-D) in the chosen precision and container."""
        out = vectors
        if self.precision != "float32":
            out = np.packbits(vectors > 0, axis=-1)
            if self.precision == "binary":
                out = (out.astype(np.int16) - 128).astype(np.int8)
        if self.tensor:
            import torch

            return torch.from_numpy(np.ascontiguousarray(out))
        return out
