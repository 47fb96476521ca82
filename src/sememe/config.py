"""The ``config.json`` of a sememe model folder, as a typed dataclass."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from ._validate import check_choice, check_int, check_positive_int
from .errors import InvalidArgumentError, InvalidTypeError, ModelFormatError

#: Version of the folder layout written by :meth:`sememe.Encoder.save`.
FORMAT_VERSION = 1

Pooling = Literal["mean", "weighted_mean"]
_POOLINGS = ("mean", "weighted_mean")


@dataclass(frozen=True)
class ModelConfig:
    """What a model folder declares about itself.

    Attributes
    ----------
    dim:
        Columns of the embedding table (the full vector size).
    vocab_size:
        Number of token ids the tokenizer can produce.
    pooling:
        ``"weighted_mean"``: sum of weight x vector over the tokens divided by the
        sum of the weights. ``"mean"``: the same sum divided by the number of
        tokens (Model2Vec's convention). The two differ only when vectors are not
        normalised afterwards.
    normalize:
        Whether :meth:`Encoder.encode` L2-normalises by default.
    max_tokens:
        Tokens beyond this many in one text are ignored.
    matryoshka_dims:
        Leading-dimension sizes the table was trained to be truncated to (informative).
    add_special_tokens:
        Whether the tokenizer's special tokens (``[CLS]``, ``<s>``...) are added.
    ignore_token_ids:
        Token ids dropped before pooling (for example an ``[UNK]`` id).
    """

    dim: int
    vocab_size: int
    name: str = "unnamed"
    pooling: Pooling = "weighted_mean"
    normalize: bool = True
    max_tokens: int = 512
    matryoshka_dims: tuple[int, ...] = ()
    add_special_tokens: bool = False
    ignore_token_ids: tuple[int, ...] = ()
    license: str = "unknown"
    description: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        # Sizes are ints >= 1 (NaN, floats and bools refused with the field's name); the
        # errors are InvalidTypeError / InvalidArgumentError, ModelFormatError from a file.
        for name in ("dim", "vocab_size", "max_tokens"):
            object.__setattr__(self, name, check_positive_int(getattr(self, name), name))
        check_choice(self.pooling, "pooling", _POOLINGS)
        for name in ("normalize", "add_special_tokens"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidTypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        dims = _int_tuple(self.matryoshka_dims, "matryoshka_dims", 1, self.dim)
        ids = _int_tuple(self.ignore_token_ids, "ignore_token_ids", 0, None)
        object.__setattr__(self, "matryoshka_dims", dims)
        object.__setattr__(self, "ignore_token_ids", ids)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as written to ``config.json``."""
        out = asdict(self)
        out["matryoshka_dims"] = list(self.matryoshka_dims)
        out["ignore_token_ids"] = list(self.ignore_token_ids)
        return {"model_type": "sememe", **out}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path = "config.json") -> ModelConfig:
        """Build from a parsed ``config.json``; errors name ``source``."""
        if not isinstance(data, dict):
            raise ModelFormatError(f"{source}: expected a JSON object, got {type(data).__name__}")
        data = {k: v for k, v in data.items() if k != "model_type"}
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ModelFormatError(f"{source}: unknown field(s) {unknown}")
        for required in ("dim", "vocab_size"):
            if required not in data:
                raise ModelFormatError(f"{source}: missing field {required!r}")
        version = data.get("format_version", FORMAT_VERSION)
        if isinstance(version, bool) or not isinstance(version, int):
            raise ModelFormatError(f"{source}: format_version must be an integer, got {version!r}")
        if version > FORMAT_VERSION:
            raise ModelFormatError(
                f"{source}: format_version {version} is newer than this sememe understands "
                f"({FORMAT_VERSION}); upgrade sememe"
            )
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise ModelFormatError(f"{source}: {exc}") from None

    @classmethod
    def read(cls, path: Path) -> ModelConfig:
        """Read and validate a ``config.json`` file."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelFormatError(f"{path}: file is missing") from None
        except OSError as exc:
            raise ModelFormatError(f"{path}: cannot be read ({exc})") from None
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise ModelFormatError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_dict(data, path)


def _int_tuple(values: Any, name: str, minimum: int, maximum: int | None) -> tuple[int, ...]:
    """``values`` as a tuple of ints in ``[minimum, maximum]``, or an error naming the item."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InvalidTypeError(f"{name} must be a sequence of ints, got {values!r}")
    out = tuple(int(check_int(v, f"{name}[{i}]")) for i, v in enumerate(values))
    bad = [v for v in out if v < minimum or (maximum is not None and v > maximum)]
    if bad:
        top = "" if maximum is None else str(maximum)
        raise InvalidArgumentError(f"{name} {bad} are outside {minimum}..{top}")
    return out
