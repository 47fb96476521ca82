"""``sememe encode``: texts to a .npy matrix of vectors."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..loading import load
from ._io import read_texts
from .common import add_input_options, add_model_options, common_options, show_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode",
        parents=[common_options()],
        help="embed texts (one per line, or a jsonl/csv field) into a .npy file",
        description="Embed texts into an (n, dim) float32 .npy matrix, row i for text i. "
        "Empty lines give zero vectors, so rows stay aligned with lines.",
    )
    add_input_options(p)
    add_model_options(p)
    p.add_argument("-o", "--output", required=True, type=Path, help="output .npy file")
    p.add_argument(
        "--binary", action="store_true", help="packed sign bits (uint8, dim/8 bytes per text)"
    )
    p.add_argument("--no-normalize", action="store_true", help="keep the raw pooled vectors")
    p.add_argument("--batch-size", type=int, default=8192)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    texts = read_texts(args.input, fmt=args.format, field=args.field)
    enc = load(args.model, dim=args.dim)
    t0 = time.perf_counter()
    progress = show_progress(args, len(texts))
    if args.binary:
        out = enc.encode_binary(texts, batch_size=args.batch_size, show_progress=progress)
    else:
        out = enc.encode(
            texts,
            batch_size=args.batch_size,
            normalize=False if args.no_normalize else None,
            show_progress=progress,
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.save(args.output, out)
    if not args.quiet:
        secs = time.perf_counter() - t0
        print(
            f"encoded {len(texts):,} texts -> {args.output} {out.shape} {out.dtype} in {secs:.2f}s",
            file=sys.stderr,
        )
    return 0
