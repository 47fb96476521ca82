"""``sememe dedupe``: remove exact and near duplicates from a txt, jsonl or csv file."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

from .._progress import phase, ticking
from ..errors import InvalidArgumentError
from ..loading import load
from ..records import RecordWriter, format_of, write_records
from ._io import OutputFiles, Records, detect_format, iter_numbered, read_records, texts_of
from .common import (
    add_input_options,
    add_model_options,
    add_output_option,
    common_options,
    finite_float,
    is_stdio,
    one_stdin,
    output_path,
    plain_name,
    positive_int,
    reading,
    show_progress,
)

T = TypeVar("T")


#: One line for ``sememe --help`` (read without building this command's parser).
HELP = "remove exact and near duplicates (txt lines, jsonl or csv records)"


def register(sub: argparse._SubParsersAction) -> None:
    # The library is imported here and in the handlers, not at the top, so that
    # ``sememe --help`` and the other commands never load it (see main.build_parser).
    from ..deduplication import BATCH_SIZE

    p = sub.add_parser(
        "dedupe",
        parents=[common_options()],
        help=HELP,
        description="Keep one record of every group of duplicates (by --keep order, the "
        "first by default): records equal after normalisation (case, Unicode form, "
        "whitespace) or with cosine similarity >= --threshold. A record is removed only "
        "when a kept record is that similar (no chaining). Output has the input's format "
        "(or the output extension's); --report lists each removed record with the one it "
        "duplicates. --stream handles files larger than memory.",
    )
    add_input_options(p)
    add_model_options(p)
    add_output_option(
        p,
        "deduplicated output file, in its extension's format; '-' or absent: stdout, in "
        "the input's format (stdin: txt unless --format)",
    )
    p.add_argument(
        "-t", "--threshold", type=finite_float, default=0.9, help="cosine threshold in (0, 1] (0.9)"
    )
    p.add_argument(
        "--keep",
        choices=["first", "last", "longest", "shortest"],
        default="first",
        help="which record of a group survives (first)",
    )
    p.add_argument("--no-exact", action="store_true", help="no exact-text matching, vectors only")
    p.add_argument(
        "--report",
        default=None,
        metavar="PATH",
        help="write each removed record and the one it duplicates as jsonl ('-': stdout)",
    )
    p.add_argument(
        "--against",
        default=None,
        metavar="FILE",
        help="reference file: also drop records it has ('-': stdin)",
    )
    p.add_argument(
        "--target-size", type=positive_int, default=None, help="pick the threshold keeping ~N"
    )
    p.add_argument(
        "--stream",
        action="store_true",
        help="read and decide in batches, keeping only kept vectors in memory (keep=first)",
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=BATCH_SIZE, help="records per batch (--stream)"
    )
    p.add_argument(
        "--search",
        choices=["auto", "exact", "cells"],
        default="auto",
        help="pair search: exact compares all pairs, cells only near ones (a k-means "
        "inverted file; misses about 1 pair in 1,000); auto: exact up to 8,192 records",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..deduplication import check_threshold, dedupe

    t0 = time.perf_counter()
    check_threshold(args.threshold)  # before reading a large file
    if args.stream and (args.keep != "first" or args.target_size is not None or args.against):
        raise InvalidArgumentError(
            "--stream supports only --keep first, without --target-size/--against"
        )
    one_stdin(args.input, args.against)
    kind = detect_format(
        None if args.input in (None, "-") else str(args.input).removesuffix(".gz"), args.format
    )
    target = output_path(args.output)
    # the output extension's format (a trailing .gz looked through); unknown or stdout:
    # the input's, written as plain text (a csv/tsv input's delimiter kept)
    like = target if target is not None else plain_name(args.input, kind)
    out_kind = format_of(target, default=kind) if target is not None else kind
    field = args.field or "text"
    # Outputs go to temporary files in their folders and replace the destinations only
    # once everything succeeded: -o may be the input (or --against) itself, and a failed
    # or killed run leaves every existing file as it was (stdout gets all or nothing).
    with OutputFiles(mkdir=args.mkdir) as outputs:
        out_tmp = outputs.add("-" if target is None else target)
        report_tmp = None if args.report is None else outputs.add(args.report, "--report")
        enc = load(args.model, dim=args.dim)
        if args.stream:
            n, kept, removed = _run_stream(args, enc, kind, out_kind, field, out_tmp, report_tmp)
            threshold = args.threshold
        else:
            with reading(args.input):
                records = read_records(args.input, fmt=args.format, field=args.field)
                texts = texts_of(records, field, args.input)
                against = None
                if args.against:
                    against = texts_of(
                        read_records(args.against, fmt=None, field=args.field),
                        field,
                        args.against,
                    )
            result = dedupe(
                texts,
                threshold=args.threshold,
                encoder=enc,
                keep=args.keep,
                exact=not args.no_exact,
                against=against,
                target_size=args.target_size,
                search=_search(args.search),
                show_progress=show_progress(args),
            )
            with ticking("writing"):
                rows = [records[i] for i in result.kept]
                kept_texts = [texts[i] for i in result.kept]
                write_records(out_tmp, _plain(rows, kind), out_kind, kept_texts, like=like)
                if report_tmp is not None:
                    result.write_report(report_tmp)
            n, kept, removed = len(texts), result.n_kept, result.n_removed
            threshold = result.threshold
    if not args.quiet:
        secs = time.perf_counter() - t0
        share = removed / n if n else 0.0
        print(
            f"kept {kept:,} of {n:,} records ({removed:,} duplicates, {share:.2%}) at "
            f"threshold {threshold:.4g} -> {'stdout' if target is None else target} "
            f"in {secs:.2f}s",
            file=sys.stderr,
        )
    return 0


def _plain(rows: list[dict], kind: str) -> list[Any]:
    """txt input records are ``{"text": line}``: write them back as plain lines."""
    return [r["text"] for r in rows] if kind == "txt" else rows


def _search(name: str) -> str:
    """``--search cells`` keeps its old name on the command line (``"ivf"`` in the library)."""
    return "ivf" if name == "cells" else name


def _run_stream(
    args: argparse.Namespace,
    enc: Any,
    kind: str,
    out_kind: str,
    field: str,
    out_path: Path,
    report_path: Path | None,
) -> tuple[int, int, int]:
    """Read, decide and write batch by batch (``out_path``/``report_path``: temporaries)."""
    from ..deduplication import Deduplicator

    dd = Deduplicator(
        args.threshold,
        encoder=enc,
        exact=not args.no_exact,
        search=_search(args.search),
        show_progress=show_progress(args),  # each batch's encoding, when it is long
    )

    def batch_texts(pairs: list[tuple[int, dict]]) -> list[str]:
        # Records remember each record's line, for error messages naming it
        return texts_of(Records(pairs), field, args.input)

    n = kept = 0
    with ExitStack() as stack:
        like = output_path(args.output) or plain_name(args.input, kind)
        out = stack.enter_context(RecordWriter(out_path, out_kind, like=like))
        # records counted as they are read (the batch being filled), and as decided
        read_bar = stack.enter_context(phase("dedupe --stream: reading", unit="record"))
        bar = stack.enter_context(phase("dedupe --stream: decided", unit="record"))
        report = None
        if report_path is not None:
            report_like = None if is_stdio(args.report) else args.report  # .jsonl.gz compresses
            report = stack.enter_context(RecordWriter(report_path, "jsonl", like=report_like))
        numbered = _counted(iter_numbered(args.input, fmt=kind), read_bar)
        for result in dd.stream(numbered, batch_size=args.batch_size, texts=batch_texts):
            batch_kept = [result.records[i][1] for i in result.kept]
            out.write(batch_kept, texts=[result.texts[i] for i in result.kept])
            if report is not None:
                report.write(result.report_rows(positions="stream"))
            n += result.n_records
            kept += result.n_kept
            bar.update(result.n_records)
    return n, kept, n - kept


def _counted(items: Iterator[T], bar: Any, every: int = 1024) -> Iterator[T]:
    """``items`` unchanged, counted on ``bar`` every ``every`` items (and at the end)."""
    n = 0
    for item in items:
        yield item
        n += 1
        if n == every:
            bar.update(n)
            n = 0
    bar.update(n)
