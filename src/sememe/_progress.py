"""Progress bars for long work, shared by the library and the CLI.

Two kinds of callers:

* Calls with a ``show_progress=`` argument (``Encoder.encode``, ``Index``, ``dedupe``)
  use :func:`progress`: ``True`` draws a bar, ``False`` never does, ``None`` decides.
  Outside a scope, ``None`` means "inputs over :data:`AUTO_THRESHOLD` on a terminal"
  (the library's long-standing default).
* Phases with no such argument (building a FAISS structure, searching pairs, writing)
  use :func:`phase` or :func:`ticking`: they are silent unless a :func:`progress_scope`
  that shows bars is active. Library users see exactly what they saw before.

The command line runs every subcommand inside ``progress_scope(show)``, ``show`` being
"stderr is a terminal and no ``--quiet``". Inside a showing scope every bar waits
:func:`delay` seconds before it appears (so phases shorter than about a second print
nothing) and is named by the phase it reports ("encoding", "building the index",
"searching pairs", "writing"); inside a silent scope no bar is ever drawn, whatever
``show_progress=None`` would decide by size.

A scope is a :class:`contextvars.ContextVar`, so it follows the calling thread (and
asyncio task): library calls on other threads are not affected by a CLI's scope.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

#: Inputs larger than this get a bar by default (when stderr is a terminal).
AUTO_THRESHOLD = 50_000

#: Seconds a bar waits before it appears inside a showing scope (environment variable
#: ``SEMEME_PROGRESS_DELAY`` overrides it: ``0`` shows every bar at once).
DELAY = 1.0

#: Bar names of the library's ``show_progress`` bars, as phases ("what is it doing").
PHASES = {"encode": "encoding", "index": "encoding", "dedupe: encode": "encoding"}

_SCOPE: contextvars.ContextVar[bool | None] = contextvars.ContextVar(
    "sememe_progress_scope", default=None
)


class _NullBar:
    """What a bar that is not shown returns: every call does nothing."""

    total: int | None = None

    def update(self, n: int = 1) -> None:
        pass

    def reset(self, total: int | None = None) -> None:
        pass

    def set_description(self, desc: str) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NullBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


#: The one bar that shows nothing, for callers that need a bar object and never a display
#: (a forked child's part of a call).
NULL_BAR = _NullBar()


def delay() -> float:
    """Seconds before a bar appears in a showing scope (``SEMEME_PROGRESS_DELAY``)."""
    text = os.environ.get("SEMEME_PROGRESS_DELAY")
    if text is None:
        return DELAY
    try:
        value = float(text)
    except ValueError:
        return DELAY
    return value if value >= 0 else DELAY


@contextlib.contextmanager
def progress_scope(show: bool) -> Iterator[None]:
    """Within the block, phases report progress when ``show`` and never when not.

    ``show=True`` also turns on the phase bars (:func:`phase`, :func:`ticking`) that are
    otherwise silent; ``show=False`` silences even ``show_progress=None`` bars.
    """
    token = _SCOPE.set(bool(show))
    try:
        yield
    finally:
        _SCOPE.reset(token)


def scope_shows() -> bool:
    """Whether a showing :func:`progress_scope` is active in this context."""
    return bool(_SCOPE.get())


def _bar(total: int | None, desc: str, unit: str, wait: float) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        leave=False,
        delay=wait,
        file=sys.stderr,
        dynamic_ncols=True,
    )


def progress(total: int | None, show: bool | None, desc: str, unit: str = "text") -> Any:
    """A tqdm bar on stderr, or a no-op; ``show=None`` decides (see the module docstring).

    Use as a context manager and call ``update(n)`` as work is done.
    """
    scope = _SCOPE.get()
    if show is None:
        if scope is not None:
            show = scope
        else:
            show = total is not None and total > AUTO_THRESHOLD and sys.stderr.isatty()
    if not show or scope is False:
        return _NullBar()
    if not scope:  # the library's own bar, exactly as before scopes existed
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False)
    return _bar(total, PHASES.get(desc, desc), unit, delay())


def phase(desc: str, total: int | None = None, unit: str = "it") -> Any:
    """A bar for a phase that has no ``show_progress`` of its own: shown only inside a
    showing :func:`progress_scope` (after :func:`delay`), else a no-op."""
    if not scope_shows():
        return _NullBar()
    return _bar(total, desc, unit, delay())


class _Ticker:
    """A bar with no count for one long call (a FAISS train, a save): shows the phase
    and the time spent, refreshed from a thread, once :func:`delay` has passed."""

    def __init__(self, desc: str) -> None:
        self._desc = desc
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bar: Any = None

    def _run(self) -> None:
        if self._stop.wait(delay()):
            return
        from tqdm import tqdm

        with tqdm(
            total=None,
            desc=self._desc,
            bar_format="{desc}: {elapsed}",
            leave=False,
            file=sys.stderr,
        ) as bar:
            while not self._stop.wait(0.5):
                bar.refresh()

    def __enter__(self) -> _Ticker:
        self._thread = threading.Thread(target=self._run, name="sememe-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def ticking(desc: str) -> Any:
    """A context manager naming a phase without a count (shown as in :func:`phase`)."""
    if not scope_shows():
        return _NullBar()
    return _Ticker(desc)
