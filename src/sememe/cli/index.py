"""``sememe index build``: embed a file of documents into a searchable index folder."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from .._progress import ticking
from ..errors import InputError, InvalidArgumentError
from ..loading import load
from ..records import line_of, read_records, source_name, texts_of
from .common import (
    add_input_options,
    add_mkdir_option,
    add_model_options,
    check_folder_output,
    check_target,
    common_options,
    positive_int,
    reading,
    show_progress,
)

#: One line for ``sememe --help`` (read without building this command's parser).
HELP = "build a search index from texts (see 'sememe search')"


def register(sub: argparse._SubParsersAction) -> None:
    # The library is imported here and in the handlers, not at the top, so that
    # ``sememe --help`` and the other commands never load it (see main.build_parser).
    from ..index import FUSIONS, KINDS

    p = sub.add_parser(
        "index",
        parents=[common_options()],
        help=HELP,
        description="Manage search indexes. 'sememe index build DOCS -o DIR' embeds DOCS.",
    )
    actions = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    b = actions.add_parser(
        "build",
        parents=[common_options()],
        help="embed documents into an index folder",
        description="Embed documents (txt: one per line; jsonl/csv: the --field column) into "
        "an index folder for 'sememe search'. Blank documents are skipped. Ids are line "
        "numbers for txt (from 1) and the --id-field of jsonl/csv records (record numbers "
        "from 1 when absent); other jsonl/csv fields are kept as metadata.",
    )
    add_input_options(b)
    add_model_options(b)
    b.add_argument(
        "-o", "--output", required=True, type=Path, metavar="DIR", help="index folder to write"
    )
    add_mkdir_option(b)
    b.add_argument("--kind", choices=KINDS, default="float", help="default: float")
    b.add_argument("--id-field", default="id", help="id field of jsonl/csv records (default: id)")
    b.add_argument("--no-metadata", action="store_true", help="do not keep other fields")
    b.add_argument(
        "--factory",
        default=None,
        help="FAISS structure beyond --exact-limit, e.g. HNSW32, BIVF1024",
    )
    b.add_argument(
        "--exact-limit", type=positive_int, default=None, help="documents searched exactly"
    )
    b.add_argument(
        "--candidates",
        type=positive_int,
        default=None,
        help="binary+rerank: candidates re-scored per query (saved as the default)",
    )
    b.add_argument(
        "--scan-dims",
        type=positive_int,
        default=None,
        help="binary+rerank: leading dimensions the first stage scores (multiple of 8)",
    )
    b.add_argument(
        "--lexical",
        action="store_true",
        default=None,
        help="also keep a BM25 index: 'sememe search' then fuses both (hybrid) by default "
        "(the default with --chunk)",
    )
    b.add_argument(
        "--no-lexical",
        dest="lexical",
        action="store_false",
        help="dense vectors only, also with --chunk",
    )
    b.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="hybrid: weight of the dense side, 0..1 (saved as the default)",
    )
    b.add_argument(
        "--fusion", choices=FUSIONS, default=None, help="hybrid: score fusion (default: zscore)"
    )
    b.add_argument(
        "--chunk",
        action="store_true",
        help="cut each document into passages (semantic chunks) and index those, hybrid "
        "unless --no-lexical; hits name the document id and the passage's character offsets",
    )
    b.add_argument(
        "--max-tokens",
        type=positive_int,
        default=None,
        help="with --chunk: tokens per passage at most (default: 256)",
    )
    b.add_argument("--overwrite", action="store_true", help="replace an existing index folder")
    b.set_defaults(func=run_build)


def _documents(args: argparse.Namespace) -> tuple[list[str], list[Any], list[dict | None], int]:
    """Texts, ids and metadata of the input; also the number of blank documents skipped."""
    records = read_records(args.input, fmt=args.format, field=args.field)
    key = args.field or "text"
    name = source_name(args.input)
    texts: list[str] = []
    ids: list[Any] = []
    meta: list[dict | None] = []
    skipped = 0
    # records are numbered from 1, like the lines of a txt file, which are their default ids
    for n, (rec, text) in enumerate(zip(records, texts_of(records, key, args.input), strict=True)):
        if not text.strip():
            skipped += 1
            continue
        doc_id = rec.get(args.id_field, n + 1)
        if doc_id is None or isinstance(doc_id, (bool, float, list, dict)):
            raise InputError(
                f"{name}:{line_of(records, n)}: record has id {doc_id!r}; "
                "ids must be text or integers"
            )
        rest = {k: v for k, v in rec.items() if k not in (key, args.id_field)}
        texts.append(text)
        ids.append(doc_id)
        meta.append(None if args.no_metadata else (rest or None))
    return texts, ids, meta, skipped


def run_build(args: argparse.Namespace) -> int:
    from ..index import Index

    # refused before any work (the save checks again): only an index folder is replaced,
    # never a file or a folder of other files, and nothing is deleted here
    check_folder_output(args.output, args.mkdir)
    check_target(args.output, "index", args.overwrite)
    if args.max_tokens is not None and not args.chunk:
        raise InvalidArgumentError("--max-tokens applies with --chunk only")
    if args.lexical is None:  # as Index.from_documents: passages get a lexical side
        args.lexical = bool(args.chunk)
    if (args.alpha is not None or args.fusion is not None) and not args.lexical:
        raise InvalidArgumentError("--alpha and --fusion apply with --lexical only")
    t0 = time.perf_counter()
    with reading(args.input):
        texts, ids, meta, skipped = _documents(args)
    enc = load(args.model, dim=args.dim)
    hybrid: dict[str, Any] = {"lexical": args.lexical}
    if args.alpha is not None:
        hybrid["alpha"] = args.alpha
    if args.fusion is not None:
        hybrid["fusion"] = args.fusion
    index = Index(
        enc,
        kind=args.kind,
        factory=args.factory,
        exact_limit=args.exact_limit,
        scan_dims=args.scan_dims,
        show_progress=show_progress(args),
        **({} if args.candidates is None else {"candidates": args.candidates}),
        **hybrid,
    )
    if args.chunk:
        index.add_documents(texts, ids, meta, max_tokens=args.max_tokens)
    else:
        index.add(texts, ids, meta)
    with ticking("writing"):
        index.save(args.output, overwrite=args.overwrite)
    if not args.quiet:
        secs = time.perf_counter() - t0
        extra = f", {skipped:,} blank skipped" if skipped else ""
        what = (
            f"{len(index):,} passages of {len(texts):,} documents"
            if args.chunk
            else (f"{len(index):,} documents")
        )
        print(
            f"indexed {what}{extra} -> {args.output} "
            f"(kind {index.kind}, {index.structure}{', hybrid' if index.lexical else ''}) "
            f"in {secs:.2f}s",
            file=sys.stderr,
        )
    return 0
