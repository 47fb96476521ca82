"""Build sememe's bundled default model, ``src/sememe/models/sememe-base``.

The bundled model is trained by sememe's own pipeline: ``scripts/build_sememe_model.sh`` runs
the training stages and then calls this script with ``--trained WORK/contrastive``, which
copies the trained table and weights into the package under the name ``sememe-base``, with
its licence, provenance and model card.

``--wordllama-only`` rebuilds the earlier default instead, WordLlama's codebook as is (the
baseline that the trained model is measured against). Its recipe (every input is
installable or in ``../shared``; nothing is downloaded):

1. Start from WordLlama's MIT-licensed 32k x 256 codebook and its Llama-2 tokenizer,
   both shipped inside the ``wordllama`` wheel (``pip install wordllama``).
2. Count token frequencies on the openly licensed sentences in
   ``../shared/corpus/sentences`` with that tokenizer.
3. Optionally (``--sif-a``), per-token weights ``a / (a + p(token))`` (smooth inverse
   frequency), stored beside the table so pooling becomes a weighted mean that discounts
   function words. Measured with benchmarks/quality.py, they do not help this codebook
   (it was trained for plain mean pooling), so the bundled model leaves them out.
4. Optionally remove the dominant common direction(s) of sentence vectors on a corpus
   sample by projecting every table row (pooling is linear, so this equals removing it
   from every sentence vector).

    python scripts/build_default_model.py --trained build/train/contrastive   # the default
    python scripts/build_default_model.py --wordllama-only --out /tmp/wl --sif-a 1e-2

The defaults are the settings chosen with ``benchmarks/quality.py`` (see MODEL_CARD.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

import sememe
from sememe.config import ModelConfig
from sememe.foreign import load_wordllama, wordllama_files
from sememe.training.corpus import sif_weights, token_counts

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEFAULT_OUT = ROOT / "src" / "sememe" / "models" / "sememe-base"
MODEL_CARD = ROOT / "scripts" / "model_cards" / "sememe-base.md"
WORDLLAMA_CARD = ROOT / "scripts" / "model_cards" / "wordllama-baseline.md"

#: Corpus files used for token frequencies, with their licences (for the model card).
CORPUS_FILES = {
    "wikipedia_en_wikitasks.txt.gz": "CC BY-SA 3.0 (English Wikipedia slice, WikiTasks)",
    "nltk_gutenberg.txt.gz": "public domain (Project Gutenberg selections, NLTK)",
    "nltk_masc_tagged.txt.gz": "MASC (commercial use allowed as stated)",
    "nltk_state_union.txt.gz": "public domain (State of the Union addresses, NLTK)",
    "nltk_inaugural.txt.gz": "public domain (US inaugural addresses, NLTK)",
    "nltk_movie_reviews.txt.gz": "CC BY 4.0 as stated (movie reviews, NLTK)",
    "nltk_product_reviews.txt.gz": "CC BY 4.0 as stated (product reviews, NLTK)",
    "nltk_pros_cons.txt.gz": "CC BY 4.0 as stated (pros and cons, NLTK)",
}


def read_corpus(folder: Path, max_lines: int | None) -> list[str]:
    """All lines of the corpus files, in a fixed order."""
    lines: list[str] = []
    for name in CORPUS_FILES:
        path = folder / name
        if not path.is_file():
            sys.exit(f"{path} is missing; the corpus lives in ../shared/corpus/sentences")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            lines.extend(f.read().splitlines())
    return lines[:max_lines] if max_lines else lines


def common_directions(enc: sememe.Encoder, lines: list[str], k: int, seed: int = 0) -> np.ndarray:
    """Top ``k`` principal directions (uncentred) of sentence vectors of a corpus sample."""
    rng = np.random.default_rng(seed)
    sample = [
        lines[i] for i in rng.choice(len(lines), size=min(100_000, len(lines)), replace=False)
    ]
    vecs = enc.encode(sample, normalize=True).astype(np.float64)
    _, _, vt = np.linalg.svd(vecs, full_matrices=False)
    return vt[:k]


def build(args: argparse.Namespace) -> sememe.Encoder:
    """Run the recipe and return the resulting encoder."""
    weights_path, tokenizer_path = wordllama_files(256)
    base = load_wordllama(weights_path, tokenizer_path, name="wordllama-256")
    lines: list[str] = []
    weights = None
    if args.sif_a is not None or args.remove_pcs:
        t0 = time.perf_counter()
        lines = read_corpus(args.corpus, args.max_lines)
    if args.sif_a is not None:
        counts = token_counts(base.tokenizer, lines, base.vocab_size)
        print(
            f"counted {counts.sum():,} tokens in {len(lines):,} lines ({time.perf_counter() - t0:.0f}s)"
        )
        weights = sif_weights(counts, args.sif_a, add_one=True)

    table = base._embeddings.astype(np.float32)
    cfg = ModelConfig(
        dim=256,
        vocab_size=base.vocab_size,
        name="sememe-base",
        pooling="weighted_mean",
        normalize=True,
        max_tokens=args.max_tokens,
        matryoshka_dims=(64, 128, 256),
        license="MIT",
        description="WordLlama's 256-d codebook (Llama 2 tokenizer), mean pooling"
        + (f", SIF token weights (a={args.sif_a})" if args.sif_a is not None else "")
        + (f", {args.remove_pcs} common direction(s) removed" if args.remove_pcs else ""),
        provenance={
            "table": "wordllama 0.4 weights/l2_supercat_256.safetensors (MIT, github.com/dleemiller/WordLlama)",
            "tokenizer": "wordllama tokenizers/l2_supercat_tokenizer_config.json (Llama 2 tokenizer)",
            "token_weights": None
            if args.sif_a is None
            else f"SIF a={args.sif_a} on {len(lines):,} lines of ../shared/corpus/sentences",
            "corpus_files": CORPUS_FILES if lines else {},
            "removed_common_directions": args.remove_pcs,
            "builder": "scripts/build_default_model.py",
        },
    )
    weighted = sememe.Encoder(base.tokenizer, table, weights=weights, config=cfg)
    if args.remove_pcs:
        u = common_directions(weighted, lines, args.remove_pcs)
        table = table - (table.astype(np.float64) @ u.T @ u).astype(np.float32)
    return sememe.Encoder(base.tokenizer, table.astype(np.float16), weights=weights, config=cfg)


TRAINED_LICENSE = (
    "see MODEL_CARD.md: WordLlama codebook MIT, teacher Apache-2.0; trained on CC BY-SA 3.0 "
    "Wikipedia text (attribution required) and on SICK (CC BY-NC-SA 3.0), MRPC and Quora "
    "(research-use terms) texts"
)


def install_trained(folder: Path, max_tokens: int) -> sememe.Encoder:
    """The trained model at ``folder`` renamed and documented as sememe-base."""
    trained = sememe.load(folder)
    cfg = trained.config
    config = ModelConfig(
        dim=cfg.dim,
        vocab_size=cfg.vocab_size,
        name="sememe-base",
        pooling=cfg.pooling,
        normalize=True,
        max_tokens=max_tokens,
        matryoshka_dims=(64, 128, 256),
        license=TRAINED_LICENSE,
        description="sememe's own static model: WordLlama's codebook merged with a table "
        "distilled from all-MiniLM-L6-v2 and trained to reproduce it on corpus text "
        "(tokenlearn), then tuned on STS-B/SICK train pairs; Llama 2 tokenizer",
        provenance={
            "builder": "scripts/build_sememe_model.sh (stages in sememe.training)",
            "training": cfg.provenance,
        },
    )
    return sememe.Encoder(
        trained.tokenizer,
        np.asarray(trained._embeddings, dtype=np.float16),
        weights=trained._weights,
        config=config,
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--trained", type=Path, help="a model folder made by sememe.training")
    mode.add_argument("--wordllama-only", action="store_true", help="WordLlama's codebook as is")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--corpus", type=Path, default=SHARED / "corpus" / "sentences")
    ap.add_argument("--max-lines", type=int, default=None)
    ap.add_argument("--sif-a", type=float, default=None, help="SIF weights a/(a+p); default none")
    ap.add_argument("--max-tokens", type=int, default=2048)
    ap.add_argument("--remove-pcs", type=int, default=0)
    args = ap.parse_args(argv)
    enc = install_trained(args.trained, args.max_tokens) if args.trained else build(args)
    enc.save(args.out, overwrite=True)
    shutil.copyfile(MODEL_CARD if args.trained else WORDLLAMA_CARD, args.out / "MODEL_CARD.md")
    print(f"wrote {args.out}")
    print(json.dumps(enc.info(), indent=2, default=str))


if __name__ == "__main__":
    main()
