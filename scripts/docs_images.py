"""Regenerate the pictures of the documentation site (docs/images/).

python scripts/docs_images.py            (needs the docs or plot extra: matplotlib)

Writes, from the sample data in examples/data and the bundled model:

- ``cluster_map.png``: ``cluster(bank_messages, 4).plot(...)``, the map of the Getting started page;
- ``chunking_view.png``: ``examples/data/chunking_sample.md`` as ``SemanticChunker(max_tokens=64)``
  cuts it, each chunk shaded and every cut point marked (a picture of what
  ``sememe chunk --html`` shows in a browser);
- ``chunking_view.html``: that page itself (``sememe.chunking.chunks_html``), linked from the docs.

Everything is deterministic (seeded clustering, a PCA projection, fixed sizes), so rerunning it on
an unchanged model and data gives the same pictures; ``--check`` says whether they are current
(compares the chunk offsets and cluster sizes recorded in ``docs/images/images.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
OUT = ROOT / "docs" / "images"

#: The chunk size of the chunking picture: small enough that the 33-line sample gets several cuts.
CHUNK_TOKENS = 64
#: Pale fills that stay readable under black text, cycled over the chunks.
FILLS = ["#dbeafe", "#fde68a", "#d1fae5", "#fbcfe8", "#e9d5ff", "#fed7aa"]


def _matplotlib():  # type: ignore[no-untyped-def]
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
    except ImportError:
        sys.exit("scripts/docs_images.py needs matplotlib: pip install -e '.[docs]'")
    return Figure, Rectangle


def cluster_map(path: Path) -> dict[str, object]:
    """Cluster the 60 banking messages into 4 groups and save their 2-D map."""
    from sememe import cluster

    rows = [json.loads(line) for line in (DATA / "bank_messages.jsonl").open(encoding="utf-8")]
    result = cluster([r["text"] for r in rows], 4)
    figure = result.plot(title="cluster(bank_messages, 4): 60 messages, 4 intents")
    figure.savefig(path, dpi=100)
    return {"sizes": [int(n) for n in result.sizes], "keywords": result.keywords(3)}


def chunking_view(png: Path, html: Path) -> dict[str, object]:
    """Draw the sample document with its chunks shaded and the cut points marked."""
    from sememe import SemanticChunker
    from sememe.chunking import chunks_html

    figure_cls, rectangle = _matplotlib()
    text = (DATA / "chunking_sample.md").read_text(encoding="utf-8")
    chunks = SemanticChunker(max_tokens=CHUNK_TOKENS).chunk(text)
    html.write_text(chunks_html(text, chunks), encoding="utf-8")

    owner = [-1] * len(text)  # chunk of each character, -1 between chunks
    for c in chunks:
        owner[c.start : c.end] = [c.index] * (c.end - c.start)
    lines = text.split("\n")
    columns = max(len(line) for line in lines) + 26  # room for the cut labels on the right
    width = 11.0
    points_per_column = width * 72 / columns
    font = points_per_column / 0.602  # DejaVu Sans Mono advances 0.602 em per character
    height = 0.35 + len(lines) * font * 1.45 / 72
    fig = figure_cls(figsize=(width, height), dpi=110)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, columns)
    ax.set_ylim(len(lines) + 0.5, -0.5)
    ax.axis("off")
    pos = 0
    for row, line in enumerate(lines):
        col = 0
        while col < len(line):  # one rectangle per run of characters in the same chunk
            who = owner[pos + col]
            end = col
            while end < len(line) and owner[pos + end] == who:
                end += 1
            if who >= 0:
                fill = FILLS[who % len(FILLS)]
                ax.add_patch(rectangle((col, row - 0.5), end - col, 1.0, color=fill, lw=0))
            col = end
        ax.text(0, row, line, family="DejaVu Sans Mono", fontsize=font, va="center")
        for c in chunks:  # a cut: where a chunk after the first one starts
            if c.index > 0 and pos <= c.start <= pos + len(line):
                x = c.start - pos
                ax.plot([x, x], [row - 0.55, row + 0.55], color="#dc2626", lw=2)
                label = f"\u2702 {c.index}  [{c.start}:{c.end}] {c.n_tokens} tok"
                ax.text(
                    columns - 24.5,
                    row,
                    label,
                    color="#dc2626",
                    fontsize=font * 0.8,
                    va="center",
                    family="DejaVu Sans Mono",
                )
        pos += len(line) + 1
    fig.savefig(png, dpi=110)
    return {"chunks": [[c.start, c.end, c.n_tokens] for c in chunks]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="only report whether the recorded pictures match the code",
    )
    args = parser.parse_args(argv)
    _matplotlib()
    OUT.mkdir(parents=True, exist_ok=True)
    record = OUT / "images.json"
    if args.check:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            now = {
                "cluster_map": cluster_map(Path(tmp) / "c.png"),
                "chunking_view": chunking_view(Path(tmp) / "v.png", Path(tmp) / "v.html"),
            }
        was = json.loads(record.read_text(encoding="utf-8")) if record.exists() else None
        current = json.loads(json.dumps(now)) == was
        print("docs/images are current" if current else "docs/images are stale: rerun this script")
        return 0 if current else 1
    now = {
        "cluster_map": cluster_map(OUT / "cluster_map.png"),
        "chunking_view": chunking_view(OUT / "chunking_view.png", OUT / "chunking_view.html"),
    }
    record.write_text(json.dumps(now, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {', '.join(sorted(p.name for p in OUT.iterdir()))} in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
