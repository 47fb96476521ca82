"""Memory of the shipped word table: resident memory a process adds for it.

    python benchmarks/word_table_memory.py

Loads the bundled model in two fresh processes (its folder, and a copy of it without the
table), encodes one short text and chunks one (so both word memos exist), and
prints the resident set size (``/proc/self/statm``, Linux) after each step, with the
table's own estimate (:meth:`sememe._wordcache.LoadedWordTable.nbytes`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def rss_mb() -> float:
    """Resident set size of this process, MB."""
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def child(with_table: bool) -> None:
    import sememe
    from sememe.chunking import SemanticChunker
    from sememe.loading import default_model_path
    from sememe.persistence import WORD_TABLE_FILE

    folder = default_model_path()
    if not with_table:  # the same folder without its table
        copy = Path(tempfile.mkdtemp()) / "sememe-base"
        shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(WORD_TABLE_FILE))
        folder = copy
    enc = sememe.load(folder)
    loaded = rss_mb()
    enc.encode(["A first text."])
    encoded = rss_mb()
    SemanticChunker(enc, max_tokens=256).chunk("A first text. And a second one.")
    chunked = rss_mb()
    table = enc.word_table.load().nbytes() / 1e6 if enc.word_table is not None else 0.0
    print(json.dumps({"loaded": loaded, "encoded": encoded, "chunked": chunked, "table": table}))


def main() -> None:
    if len(sys.argv) > 1:
        child(sys.argv[1] == "table")
        return
    rows = {}
    for kind in ("table", "plain"):
        out = subprocess.run(
            [sys.executable, __file__, kind], capture_output=True, text=True, check=True
        )
        rows[kind] = json.loads(out.stdout)
    t, p = rows["table"], rows["plain"]
    print("| step | RSS with table, MB | RSS without, MB | difference, MB |")
    print("|---|---:|---:|---:|")
    for step in ("loaded", "encoded", "chunked"):
        print(f"| {step} | {t[step]:.0f} | {p[step]:.0f} | {t[step] - p[step]:+.0f} |")
    print(f"\nThe loaded table's own estimate (arrays, strings, index): {t['table']:.1f} MB")


if __name__ == "__main__":
    main()
