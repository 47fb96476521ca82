"""``sememe encode``: texts to a .npy matrix of vectors."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .._progress import ticking
from ..errors import InputError
from ..loading import load
from ..records import read_texts
from ._outputs import OutputFiles
from .common import (
    add_input_options,
    add_model_options,
    add_output_option,
    common_options,
    output_path,
    positive_int,
    reading,
    show_progress,
)

#: One line for ``sememe --help`` (read without building this command's parser).
HELP = "embed texts (one per line, or a jsonl/csv field) into a .npy file"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode",
        parents=[common_options()],
        help=HELP,
        description="Embed texts into an (n, dim) float32 .npy matrix, row i for text i. "
        "Empty lines give zero vectors, so rows stay aligned with lines.",
    )
    add_input_options(p)
    add_model_options(p)
    add_output_option(
        p,
        "output .npy file ('.npy' is added to a name without it, as numpy.save does); "
        "'-' or absent: stdout, refused when stdout is a terminal",
    )
    p.add_argument(
        "--binary", action="store_true", help="packed sign bits (uint8, dim/8 bytes per text)"
    )
    p.add_argument("--no-normalize", action="store_true", help="keep the raw pooled vectors")
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=8192,
        help="texts encoded per call (8192); larger uses more memory, rarely faster",
    )
    p.set_defaults(func=run)


def npy_path(path: Path) -> Path:
    """Where ``numpy.save(path)`` writes: ``path`` itself, or ``path.npy`` without the suffix."""
    return path if path.name.endswith(".npy") else path.with_name(path.name + ".npy")


def run(args: argparse.Namespace) -> int:
    target = output_path(args.output)
    if target is not None and target.is_dir():
        raise InputError(
            f"--output {target}: is a folder; give a file name (e.g. {target / 'vectors.npy'})"
        )
    destination = "stdout" if target is None else npy_path(target)
    with OutputFiles(mkdir=args.mkdir) as outputs:
        # checked before any work (a terminal refuses binary data); replaced at the end
        tmp = outputs.add("-" if target is None else destination, binary=True)
        n, shape, dtype, secs = _encode(args, tmp)
    if not args.quiet:
        print(
            f"encoded {n:,} texts -> {destination} {shape} {dtype} in {secs:.2f}s",
            file=sys.stderr,
        )
    return 0


def _encode(args: argparse.Namespace, tmp: Path) -> tuple[int, tuple[int, ...], np.dtype, float]:
    with reading(args.input):
        texts = read_texts(args.input, fmt=args.format, field=args.field)
    enc = load(args.model, dim=args.dim)
    t0 = time.perf_counter()
    progress = show_progress(args)
    if args.binary:
        out = enc.encode_binary(texts, batch_size=args.batch_size, show_progress=progress)
    else:
        out = enc.encode(
            texts,
            batch_size=args.batch_size,
            normalize=False if args.no_normalize else None,
            show_progress=progress,
        )
    with ticking("writing"), open(tmp, "wb") as f:
        np.save(f, out)  # a file object: numpy adds no suffix to the temporary name
    return len(texts), out.shape, out.dtype, time.perf_counter() - t0
