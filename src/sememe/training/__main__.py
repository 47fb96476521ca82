"""``python -m sememe.training STAGE ...``: run one stage of the training pipeline.

    python -m sememe.training teacher     --work build/train   # slow: run in the background
    python -m sememe.training distill     --work build/train
    python -m sememe.training tokenlearn  --work build/train --init distilled --out tokenlearn
    python -m sememe.training merge       --work build/train --models sememe-base,tokenlearn \\
                                          --alphas 1,0.7 --out merged
    python -m sememe.training contrastive --work build/train --init merged --out contrastive
    python -m sememe.training rotate      --work build/train --init contrastive --out rotated

Every stage reads and writes the work folder, skips what is already done and resumes after
an interruption. ``scripts/build_sememe_model.sh`` runs the exact sequence behind sememe-base.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

DEFAULT_SHARED = Path("..") / "shared"


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m sememe.training", description=__doc__.splitlines()[0]
    )
    sub = ap.add_subparsers(dest="stage", required=True)

    def common(
        p: argparse.ArgumentParser,
        *,
        teacher: bool = False,
        corpus: bool = False,
        seed: bool = False,
    ) -> None:
        p.add_argument("--work", type=Path, default=Path("build/train"), help="work folder")
        p.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared/ folder")
        p.add_argument("--threads", type=int, default=None, help="torch threads")
        if teacher:
            p.add_argument(
                "--teacher", type=Path, default=None, help="sentence-transformers folder"
            )
        if corpus:
            p.add_argument(
                "--max-corpus", type=int, default=None, help="use at most N corpus texts"
            )
        if seed:
            p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("teacher", help="encode corpus and pair texts with the teacher (cached)")
    common(p, teacher=True, corpus=True)

    p = sub.add_parser("distill", help="vocabulary distillation: token vectors, PCA, SIF")
    common(p, teacher=True)
    p.add_argument(
        "--tokenizer-from", default=None, help="model whose tokenizer to use (default: bundled)"
    )
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--sif-a", type=float, default=1e-3)

    p = sub.add_parser("tokenlearn", help="train table and weights to reproduce teacher vectors")
    common(p, corpus=True, seed=True)
    p.add_argument(
        "--init", default="distilled", help="distilled, a stage name, a model name or folder"
    )
    p.add_argument("--out", default="tokenlearn")
    p.add_argument("--loss", choices=("cosine", "relational"), default="cosine")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=0.1, help="relative to the table's std")
    p.add_argument("--weight-lr", type=float, default=1e-2)
    p.add_argument("--binary-weight", type=float, default=1.0)
    p.add_argument("--binary-temperature", type=float, default=None, help="listwise binary term")

    p = sub.add_parser("merge", help="merge models sharing a tokenizer into one table (PCA)")
    common(p)
    p.add_argument(
        "--models", required=True, help="comma list: stage names, model names or folders"
    )
    p.add_argument("--alphas", required=True, help="comma list of weights, one per model")
    p.add_argument("--out", default="merged")
    p.add_argument("--dim", type=int, default=256)

    p = sub.add_parser("rotate", help="rotate the table within Matryoshka blocks for better bits")
    common(p)
    p.add_argument("--init", default="contrastive")
    p.add_argument("--out", default="rotated")
    p.add_argument("--center", action="store_true", help="also centre (changes float cosines)")

    p = sub.add_parser("contrastive", help="fine-tune on sentence pairs with in-batch negatives")
    common(p, corpus=True, seed=True)
    p.add_argument("--init", default="tokenlearn")
    p.add_argument("--out", default="contrastive")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.01, help="relative to the table's std")
    p.add_argument("--weight-lr", type=float, default=3e-3)
    p.add_argument("--no-wordnet", action="store_true")
    p.add_argument("--mined", type=int, default=0, help="mine positives among N corpus texts")
    p.add_argument("--teacher-weight", type=float, default=1.0)
    p.add_argument("--binary-weight", type=float, default=0.5)
    p.add_argument("--binary-temperature", type=float, default=None, help="listwise binary term")
    p.add_argument("--cosent-weight", type=float, default=1.0)
    p.add_argument("--mnrl-weight", type=float, default=1.0)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from . import pipeline
    from .contrastive import ContrastiveConfig
    from .tokenlearn import TrainConfig

    if args.threads:
        from .._torch import require_torch

        require_torch().set_num_threads(args.threads)
    corpus = args.shared / "corpus" / "sentences"
    eval_dir = args.shared / "eval"
    wordnet = args.shared / "corpus" / "wordnet.jsonl.gz"
    if args.stage == "teacher":
        pipeline.teacher_pass(
            args.work,
            corpus_dir=corpus,
            eval_dir=eval_dir,
            wordnet=wordnet,
            teacher_path=args.teacher,
            max_corpus=args.max_corpus,
            threads=args.threads,
        )
    elif args.stage == "distill":
        pipeline.distill_stage(
            args.work,
            tokenizer_from=args.tokenizer_from,
            dim=args.dim,
            corpus_dir=corpus,
            sif_a=args.sif_a,
            teacher_path=args.teacher,
            threads=args.threads,
        )
    elif args.stage == "tokenlearn":
        config = TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_lr=args.weight_lr,
            binary_weight=args.binary_weight,
            binary_temperature=args.binary_temperature,
            loss=args.loss,
            seed=args.seed,
        )
        pipeline.tokenlearn_stage(
            args.work,
            init=args.init,
            out=args.out,
            config=config,
            eval_dir=eval_dir,
            max_corpus=args.max_corpus,
        )
    elif args.stage == "rotate":
        pipeline.rotate_stage(args.work, init=args.init, out=args.out, center=args.center)
    elif args.stage == "merge":
        names = [m for m in args.models.split(",") if m]
        alphas = [float(a) for a in args.alphas.split(",") if a]
        pipeline.merge_stage(args.work, models=names, alphas=alphas, out=args.out, dim=args.dim)
    else:
        config = ContrastiveConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_lr=args.weight_lr,
            teacher_weight=args.teacher_weight,
            binary_weight=args.binary_weight,
            binary_temperature=args.binary_temperature,
            cosent_weight=args.cosent_weight,
            mnrl_weight=args.mnrl_weight,
            seed=args.seed,
        )
        pipeline.contrastive_stage(
            args.work,
            init=args.init,
            out=args.out,
            eval_dir=eval_dir,
            wordnet=None if args.no_wordnet else wordnet,
            config=config,
            mined=args.mined,
            teacher=bool(args.teacher_weight or args.binary_weight),
            max_corpus=args.max_corpus,
        )
    print(f"done: {args.stage} -> {args.work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
