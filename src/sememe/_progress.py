"""Progress bars for long work, shared by the library and the CLI."""

from __future__ import annotations

import sys
from typing import Any

#: Inputs larger than this get a bar by default (when stderr is a terminal).
AUTO_THRESHOLD = 50_000


class _NullBar:
    def update(self, n: int) -> None:
        pass

    def __enter__(self) -> _NullBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress(total: int | None, show: bool | None, desc: str) -> Any:
    """A tqdm bar on stderr, or a no-op; ``show=None`` decides by size and terminal."""
    if show is None:
        show = total is not None and total > AUTO_THRESHOLD and sys.stderr.isatty()
    if not show:
        return _NullBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="text", unit_scale=True, leave=False)
