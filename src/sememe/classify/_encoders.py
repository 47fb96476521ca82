"""Kept for imports from earlier code: the ``encoder`` parameter helpers live in
:mod:`sememe._resolve`, shared by every estimator (classify and clustering alike)."""

from __future__ import annotations

from .._resolve import (
    EncoderLike,
    EncoderParamMixin,
    encoder_state,
    registered_name,
    resolve_encoder,
    restore_encoder,
)

__all__ = [
    "EncoderLike",
    "EncoderParamMixin",
    "encoder_state",
    "registered_name",
    "resolve_encoder",
    "restore_encoder",
]
