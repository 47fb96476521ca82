"""Training-free changes of the bundled table (issue 19, ablation): capacity and weighting.

Two questions, each answered by a model folder that ``benchmarks/quality.py`` scores:

* ``concat``: is the 256-d table short of dimensions? Concatenate sememe-base with
  WordLlama's 256-d codebook (the two share the Llama 2 tokenizer) into one 512-d table with
  :func:`sememe.training.merge.merge_tables` (token weights folded into the rows, both
  models scaled to the same typical vector length, then a PCA to ``--dim`` columns: at 512
  it only rotates), then the pipeline's block-wise ITQ rotation for the sign bits.
* ``norm-power``: the merge folded the SIF-style token weights into the row norms, so a
  row's norm is its weight in the pooled mean. Raising every norm to the power ``--power``
  (directions kept) flattens (< 1) or sharpens (> 1) that weighting.

    python scripts/table_ablation.py concat --out build/table/concat512
    python scripts/table_ablation.py norm-power --power 0.7 --out build/table/norm07
    python benchmarks/quality.py --models c512=build/table/concat512,n07=build/table/norm07
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _dims(width: int) -> tuple[int, ...]:
    """The Matryoshka prefixes of a ``width``-column table: 64, 128, 256 below it, and it."""
    return (*(d for d in (64, 128, 256) if d < width), width)


def _save(
    base: object, table: np.ndarray, weights: np.ndarray | None, out: Path, what: str
) -> None:
    from sememe.training.student import to_encoder

    dims = _dims(table.shape[1])
    encoder = to_encoder(
        base.tokenizer,  # type: ignore[attr-defined]
        table,
        weights,
        name=out.name,
        description=f"scripts/table_ablation.py {what}",
        provenance={"stage": "table-ablation", "init": "sememe-base + " + what},
        license="see src/sememe/models/sememe-base/MODEL_CARD.md",
        matryoshka_dims=dims,
        max_tokens=base.config.max_tokens,  # type: ignore[attr-defined]
    )
    encoder.save(out, overwrite=True)
    print(f"saved {out} {table.shape}")


def concat(out: Path, dim: int, alphas: tuple[float, float]) -> None:
    import sememe
    from sememe.training import binarize, merge
    from sememe.training.corpus import training_sentences

    base, wordllama = sememe.load(), sememe.load("wordllama-256")
    sample = training_sentences(SHARED / "corpus" / "sentences")[:50_000]
    table = merge.merge_tables([base, wordllama], alphas, sample, dim)
    dims = _dims(dim)
    pooled = merge.pooled_vectors(base, table, sample)
    rotated = binarize.center_and_rotate(table, pooled, dims, center=False, rotate=True)
    _save(base, rotated, None, out, f"concat wordllama-256 alphas={alphas} dim={dim}")


def norm_power(out: Path, power: float) -> None:
    import sememe
    from sememe.training.student import encoder_arrays

    base = sememe.load()
    table, weights = encoder_arrays(base)
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    scaled = table * (norms / np.median(norms)) ** (power - 1.0)
    _save(base, scaled.astype(np.float32), weights, out, f"norm-power {power}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("concat", help="sememe-base + WordLlama-256 as one wider table")
    c.add_argument("--out", type=Path, default=ROOT / "build" / "table" / "concat512")
    c.add_argument("--dim", type=int, default=512)
    c.add_argument("--alphas", default="1,1", help="weights of sememe-base and WordLlama")
    n = sub.add_parser("norm-power", help="row norms raised to a power, directions kept")
    n.add_argument("--out", type=Path, default=None)
    n.add_argument("--power", type=float, default=0.7)
    args = parser.parse_args(argv)
    if not (SHARED / "corpus" / "sentences").is_dir():
        print(f"{SHARED / 'corpus' / 'sentences'} not found; nothing to do")
        return 0
    if args.what == "concat":
        a, b = (float(x) for x in args.alphas.split(","))
        concat(args.out, args.dim, (a, b))
    else:
        out = args.out or ROOT / "build" / "table" / f"norm{args.power:g}"
        norm_power(out, args.power)
    return 0


if __name__ == "__main__":
    sys.exit(main())
