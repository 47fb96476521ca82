"""The ``config.json`` of a sememe model folder, as a typed dataclass."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import ModelFormatError

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
        if self.dim < 1:
            raise ValueError(f"dim must be >= 1, got {self.dim}")
        if self.vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {self.vocab_size}")
        if self.pooling not in _POOLINGS:
            raise ValueError(f"pooling must be one of {_POOLINGS}, got {self.pooling!r}")
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        bad = [d for d in self.matryoshka_dims if not 1 <= d <= self.dim]
        if bad:
            raise ValueError(f"matryoshka_dims {bad} are outside 1..{self.dim}")
        object.__setattr__(self, "matryoshka_dims", tuple(int(d) for d in self.matryoshka_dims))
        object.__setattr__(self, "ignore_token_ids", tuple(int(i) for i in self.ignore_token_ids))

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
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ModelFormatError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_dict(data, path)
