"""Mixed-loss training of sememe-base on Wikipedia pairs with a teacher (issue 19, ablation).

Question: pairs alone barely move the 32k x 256 table (+0.14 on the held-out suite for one
epoch of MultipleNegativesRanking on Wikipedia pairs, the issue's calibration), so does
mixing them with the two other signals the pipeline has pay: CoSENT on the STS-B/SICK train
pairs and the teacher's (all-MiniLM-L6-v2's) in-batch similarity structure on Wikipedia
paragraphs, text the current model never saw the teacher on?

Stages (cached under ``build/mixed/``, a git-ignored folder):

1. pairs (built on every run): (title [+ heading], first paragraph of the section) pairs from
   ``../shared/corpus/documents/wikipedia_articles.jsonl.gz``, minus any pair holding a text
   the quality harness scores (``sememe.training.pairs.scored_texts``), plus the STS-B/SICK
   (score >= 4), MRPC and Quora positive pairs the pipeline uses (same decontamination).
2. ``teacher``: the teacher's vectors of ``--teacher-texts`` distinct Wikipedia pair texts
   (paragraphs and queries, shuffled), cached in resumable shards (the slow part: about
   93 texts a second on two quiet cores, 60,000 in about 11 minutes).
3. ``train``: one run of :func:`sememe.training.contrastive.fine_tune` from the bundled
   sememe-base table and weights: MNRL (in-batch negatives, Matryoshka 64/128/256) over the
   pairs + ``--cosent`` x CoSENT on the scored pairs + ``--teacher`` x the relational teacher
   loss and ``--binary`` x the sign-bit term on a teacher batch, every step; the last epoch is
   kept (no held-out early stopping: an ablation row must show what the training did). Then
   the block-wise ITQ rotation of the pipeline's last stage, so the sign bits stay tuned.
   Writes ``build/mixed/NAME`` (``--name``), a model folder ``benchmarks/quality.py`` scores:

    python scripts/mixed_ablation.py --name mix --teacher-texts 60000
    python benchmarks/quality.py --models sememe,mix=build/mixed/mix,mix=build/mixed/mix:binary

Torch runs on ``--threads`` threads; every figure it prints is CPU time of this process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WORK = ROOT / "build" / "mixed"
ARTICLES = SHARED / "corpus" / "documents" / "wikipedia_articles.jsonl.gz"


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="mix", help="output folder under build/mixed/")
    parser.add_argument("--teacher-texts", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.005, help="relative to the table's std")
    parser.add_argument("--weight-lr", type=float, default=3e-3)
    parser.add_argument("--mnrl", type=float, default=1.0, help="weight of MNRL on the pairs")
    parser.add_argument("--cosent", type=float, default=1.0)
    parser.add_argument("--teacher", type=float, default=1.0)
    parser.add_argument("--binary", type=float, default=0.5)
    parser.add_argument("--no-wiki", action="store_true", help="only the eval-train pairs")
    parser.add_argument("--no-rotate", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stages", default="teacher,train", help="teacher, train or both")
    args = parser.parse_args(argv)
    if not ARTICLES.is_file():
        print(f"{ARTICLES} not found; nothing to do")
        return 0
    stages = {s.strip() for s in args.stages.split(",") if s.strip()}
    WORK.mkdir(parents=True, exist_ok=True)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    import sememe
    from sememe.training import binarize
    from sememe.training.contrastive import ContrastiveConfig, fine_tune
    from sememe.training.corpus import training_sentences
    from sememe.training.pairs import (
        Pairs,
        eval_pairs,
        scored_pairs,
        scored_texts,
        wikipedia_pairs,
    )
    from sememe.training.student import Student, encoder_arrays, to_encoder, tokenize, torch
    from sememe.training.teacher import Teacher, TeacherCache, encode_cached

    torch.set_num_threads(args.threads)
    summary: dict[str, Any] = {"args": vars(args)}
    exclude = scored_texts(SHARED / "eval")
    anchors, positives = wikipedia_pairs(ARTICLES, exclude)
    found = Pairs()
    if not args.no_wiki:
        for a, p in zip(anchors, positives, strict=True):
            found.add(a, p, "wikipedia")
    found.extend(eval_pairs(SHARED / "eval", exclude))
    scored = scored_pairs(SHARED / "eval", exclude)
    summary["pairs"] = found.counts()
    summary["scored_pairs"] = len(scored)
    _log(f"pairs {found.counts()}, scored {len(scored)}, blocklist {len(exclude)}")

    texts = list(dict.fromkeys(" ".join(t.split()) for t in (*positives, *anchors)))
    texts = [t for t in texts if t]
    order = np.random.default_rng(0).permutation(len(texts))[: args.teacher_texts]
    texts = [texts[i] for i in order]
    folder = WORK / "teacher" / f"wiki{args.teacher_texts}"
    if "teacher" in stages:
        t0 = time.process_time()
        teacher = Teacher.load(threads=args.threads)
        encode_cached(teacher, texts, folder, shard_size=5_000, log=_log)
        summary["teacher_cpu_s"] = time.process_time() - t0
        torch.set_num_threads(args.threads)
    if "train" not in stages:
        return 0
    t_texts, t_vectors = TeacherCache(folder).load()
    if t_texts != texts:  # built from other articles or another blocklist: not these texts
        raise SystemExit(
            f"teacher cache {folder} holds other texts ({len(t_texts)}, not these "
            f"{len(texts)}); run --stages teacher again after removing it"
        )
    base = sememe.load()
    table, weights = encoder_arrays(base)
    student = Student(table, weights)
    std = float(np.std(table))
    config = ContrastiveConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr * std,
        weight_lr=args.weight_lr,
        mnrl_weight=args.mnrl,
        cosent_weight=args.cosent,
        teacher_weight=args.teacher,
        binary_weight=args.binary,
        held_out=0.0,
    )
    teacher_pack = None
    if args.teacher or args.binary:
        teacher_pack = (tokenize(base.tokenizer, t_texts), t_vectors.astype(np.float32))
    t0 = time.process_time()
    history = fine_tune(
        student, base.tokenizer, found, scored, config, teacher_data=teacher_pack, log=_log
    )
    summary["train_cpu_s"] = time.process_time() - t0
    summary["history"] = history
    new_table, new_weights = student.arrays()
    dims = (64, 128, 256)

    def as_encoder(t: np.ndarray) -> Any:
        return to_encoder(
            base.tokenizer,
            t,
            new_weights,
            name=args.name,
            description=f"scripts/mixed_ablation.py {' '.join(argv or sys.argv[1:])}",
            provenance={"stage": "mixed-ablation", "init": "sememe-base", **summary},
            license="see src/sememe/models/sememe-base/MODEL_CARD.md",
            matryoshka_dims=dims,
            max_tokens=base.config.max_tokens,
        )

    encoder = as_encoder(new_table)
    if not args.no_rotate:
        sample = training_sentences(SHARED / "corpus" / "sentences")[:50_000]
        pooled = encoder.with_options(normalize=False).encode(sample)
        encoder = as_encoder(
            binarize.center_and_rotate(new_table, pooled, dims, center=False, rotate=True)
        )
    encoder.save(WORK / args.name, overwrite=True)
    (WORK / f"{args.name}.json").write_text(json.dumps(summary, indent=2, default=str))
    _log(f"saved {WORK / args.name}; train CPU {summary['train_cpu_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
