"""The one place sememe imports torch, and the one torch copy of the encoder's pooling.

Used by :mod:`sememe.training` and by classifier fine-tuning
(:mod:`sememe.classify._finetune`), so it sits below both (see docs/architecture.md); importing
this module does not import torch.
"""

from __future__ import annotations

from typing import Any

from .errors import MissingDependencyError


def require_torch(feature: str = "sememe.training") -> Any:
    """Import and return torch, or raise :class:`~sememe.errors.MissingDependencyError`
    (an ``ImportError``) that says ``feature`` needs it and how to install it."""
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(
            f"{feature} needs torch, an optional extra: pip install 'sememe[train]' (torch==2.13.0)"
        ) from None
    return torch


def pool_bags(
    rows: Any,
    table: Any,
    offsets: Any,
    weights: Any,
    *,
    denominators: Any = None,
    normalize: bool = False,
    eps: float = 1e-12,
    sparse: bool = False,
) -> Any:
    """The encoder's pooling in torch, differentiable in ``table`` and ``weights``.

    Bag ``i`` holds the tokens ``offsets[i]:offsets[i + 1]`` (the last one runs to the
    end) of the flat ``rows`` (table rows, int64) with per-token ``weights``. Its vector is
    the sum of ``weight x row``, L2-normalised when ``normalize``, else divided by the sum
    of its ``denominators`` (default: the weights, i.e. ``weighted_mean``; clamped at
    ``eps``). ``sparse`` asks for sparse gradients of ``table``.
    """
    torch = require_torch()
    functional = torch.nn.functional
    summed = functional.embedding_bag(
        rows, table, offsets, mode="sum", per_sample_weights=weights, sparse=sparse
    )
    if normalize:
        return functional.normalize(summed, dim=1)
    lengths = torch.diff(offsets, append=torch.tensor([len(rows)]))
    bag = torch.repeat_interleave(torch.arange(len(offsets)), lengths)
    den = weights if denominators is None else denominators
    total = torch.zeros(len(offsets)).index_add_(0, bag, den)
    return summed / total.clamp(min=eps)[:, None]
