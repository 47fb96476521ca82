"""The one place the training subpackage imports torch, with an error naming the extra."""

from __future__ import annotations

from typing import Any

from ..errors import MissingDependencyError


def require_torch() -> Any:
    """Import and return torch, or raise an ImportError that says how to install it."""
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            "sememe.training needs torch, an optional extra: "
            "pip install 'sememe[train]' (torch==2.13.0)"
        ) from None
    return torch
