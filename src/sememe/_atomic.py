"""Kept for imports from earlier code: the folder protocol lives in :mod:`sememe._folder`."""

from __future__ import annotations

from ._folder import atomic_folder

__all__ = ["atomic_folder"]
