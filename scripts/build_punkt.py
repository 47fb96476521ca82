"""Copy the Punkt English parameters into the package (src/sememe/chunking/punkt_english/).

The sentence splitter of :mod:`sememe.chunking` uses NLTK's Punkt algorithm with the
English parameters that NLTK distributes as ``punkt_tab/english``. They ship inside the
sememe package so that nothing is ever downloaded at run time (``nltk.download`` is
never called). This script copies the four parameter files from
``../shared/corpus/punkt_tab/english`` (see ``../shared/corpus/SOURCES.md`` for their
origin), checks that they decode to the same parameters as with NLTK's own decoder, and writes
``SOURCE.md`` with provenance, licence and checksums next to them.

    python scripts/build_punkt.py                  # from the repository root
    python scripts/build_punkt.py --source DIR     # another punkt_tab/english folder
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "corpus" / "punkt_tab" / "english"
TARGET = ROOT / "src" / "sememe" / "chunking" / "punkt_english"
FILES = ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab")

SOURCE_MD = """\
# Punkt English parameters

The four files in this folder are the parameters of NLTK's Punkt sentence tokenizer
for English (`punkt_tab/english`): abbreviation types, collocations, frequent sentence
starters and orthographic context. sememe's sentence splitter
(`sememe/chunking/sentences.py`) reads them directly; NLTK is never asked to find or
download anything.

- Model: "Pretrained Punkt Models -- Jan Strunk" (Kiss and Strunk 2006, *Unsupervised
  Multilingual Sentence Boundary Detection*, Computational Linguistics 32: 485-525);
  the English model was trained on Wall Street Journal text (Penn Treebank), about
  469,000 tokens.
- Licence: **MIT License**, as stated for the `punkt_tab` package in NLTK's data index
  (`nltk/nltk_data`, `packages/tokenizers/punkt_tab.xml`). The older `punkt.xml` entry
  states no licence.
- Obtained from the project's shared corpus folder (`shared/corpus/punkt_tab/english`),
  where they were converted from NLTK's `english.pickle` with a non-executing unpickler
  and checked against the official `punkt_tab` files; `shared/corpus/SOURCES.md` gives
  the exact commits and checksums.
- Copied by `scripts/build_punkt.py`, which also checks that they decode to the same
  parameters as with NLTK's own `punkt_tab` decoder.

| file | bytes | sha256 |
|---|---|---|
{rows}
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_against_nltk(folder: Path) -> str:
    """Compare sememe's reader with NLTK's; return a one-line verdict."""
    sys.path.insert(0, str(ROOT / "src"))
    from sememe.chunking.sentences import read_punkt_parameters

    ours = read_punkt_parameters(folder)
    try:
        from nltk.tabdata import PunktDecoder
    except ImportError:
        return "this nltk has no punkt_tab decoder; comparison skipped"
    # NLTK's own decoding of the files (its load_punkt_params refuses paths outside its
    # data folders, so the files are opened here and handed to its decoder).
    dec = PunktDecoder()

    class Theirs:
        pass

    theirs = Theirs()
    with open(folder / "collocations.tab", encoding="utf-8") as f:
        theirs.collocations = set(dec.tab2tups(f))
    with open(folder / "sent_starters.txt", encoding="utf-8") as f:
        theirs.sent_starters = dec.txt2set(f)
    with open(folder / "abbrev_types.txt", encoding="utf-8") as f:
        theirs.abbrev_types = dec.txt2set(f)
    with open(folder / "ortho_context.tab", encoding="utf-8") as f:
        theirs.ortho_context = dec.tab2intdict(f)
    for name in ("abbrev_types", "collocations", "sent_starters"):
        if set(getattr(ours, name)) != set(getattr(theirs, name)):
            raise SystemExit(f"{name} differs from NLTK's reading of {folder}")
    if dict(ours.ortho_context) != dict(theirs.ortho_context):
        raise SystemExit(f"ortho_context differs from NLTK's reading of {folder}")
    return "identical to NLTK's punkt_tab decoding"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = ap.parse_args(argv)
    missing = [f for f in FILES if not (args.source / f).is_file()]
    if missing:
        raise SystemExit(f"{args.source}: missing {', '.join(missing)}")
    TARGET.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in FILES:
        src, dst = args.source / name, TARGET / name
        shutil.copyfile(src, dst)
        rows.append(f"| {name} | {dst.stat().st_size:,} | `{sha256(dst)}` |")
    (TARGET / "SOURCE.md").write_text(SOURCE_MD.format(rows="\n".join(rows)), encoding="utf-8")
    verdict = check_against_nltk(TARGET)
    print(f"wrote {len(FILES)} files and SOURCE.md to {TARGET.relative_to(ROOT)}; {verdict}")


if __name__ == "__main__":
    main()
