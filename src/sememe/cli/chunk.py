"""``sememe chunk``: split documents into chunks for retrieval (JSON lines or text)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError, InvalidArgumentError
from ._outputs import OutputFiles
from .common import (
    add_mkdir_option,
    common_options,
    is_stdio,
    nonnegative_int,
    output_path,
    positive_int,
)

#: One line for ``sememe --help`` (read without building this command's parser).
HELP = "split documents into chunks of at most N tokens (semantic or fixed-size)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "chunk",
        parents=[common_options()],
        help=HELP,
        description="Split each FILE (a whole document; '-' reads stdin) into chunks that "
        "never exceed --max-tokens tokens. Every chunk carries its character offsets, so "
        "source[start:end] == text. Semantic chunking cuts where the topic changes; "
        "--chunker token fills fixed-size windows of whole words.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="text or markdown files; '-': stdin")
    p.add_argument(
        "--max-tokens", type=positive_int, default=512, help="hard limit per chunk (512)"
    )
    p.add_argument(
        "--min-tokens",
        type=nonnegative_int,
        default=None,
        help="merge smaller chunks (max-tokens / 6; 0: never merge)",
    )
    p.add_argument(
        "--threshold",
        default="auto",
        help="'auto' (per document) or a similarity in [-1, 1] below which to cut",
    )
    p.add_argument(
        "--window", type=positive_int, default=4, help="sentences compared on each side (4)"
    )
    p.add_argument(
        "--chunker", choices=["semantic", "token"], default="semantic", help="(semantic)"
    )
    p.add_argument(
        "--tokenizer",
        type=Path,
        default=None,
        metavar="TOKENIZER_JSON",
        help="count tokens with this tokenizer.json (e.g. your LLM's) instead of the model's",
    )
    p.add_argument("-m", "--model", default=None, help="model name or folder (default: bundled)")
    p.add_argument(
        "--format", choices=["jsonl", "text"], default="jsonl", help="output format (jsonl)"
    )
    p.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="PATH",
        help="chunks file ('-' or absent: stdout)",
    )
    p.add_argument(
        "--html",
        default=None,
        metavar="PATH",
        help="also write an HTML page showing each document with its cut points marked "
        "('-': stdout, then the chunks need -o PATH)",
    )
    add_mkdir_option(p)
    p.set_defaults(func=run)


def _check_exists(path: str) -> None:
    """A missing input is reported before the model loads, not after earlier files."""
    if path == "-":
        return
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file")
    if p.is_dir():
        raise InputError(f"{path}: is a folder, expected a file")


def _read(path: str) -> str:
    if path == "-":
        data = sys.stdin.buffer.read()
        name = "stdin"
    else:
        _check_exists(path)
        p = Path(path)
        data = p.read_bytes()
        if p.suffix == ".gz":
            import gzip

            try:
                data = gzip.decompress(data)
            except (EOFError, OSError) as exc:  # truncated or not gzip at all
                raise InputError(f"{path}: not a readable gzip file ({exc})") from None
        name = path
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _threshold(value: str) -> str | float:
    """'auto', or a finite similarity in [-1, 1] (NaN would never cut, or always)."""
    if value == "auto":
        return value
    try:
        number = float(value)
    except ValueError:
        raise InvalidArgumentError(
            f"--threshold must be 'auto' or a number, got {value!r}"
        ) from None
    if not math.isfinite(number) or not -1.0 <= number <= 1.0:
        raise InvalidArgumentError(
            f"--threshold must be 'auto' or a similarity in [-1, 1], got {value!r}"
        )
    return number


def _chunker(args: argparse.Namespace):
    from ..chunking import SemanticChunker, TokenChunker

    tokenizer = None
    if args.tokenizer is not None:
        from tokenizers import Tokenizer

        if not args.tokenizer.is_file():
            raise InputError(f"{args.tokenizer}: no such tokenizer file")
        try:
            tokenizer = Tokenizer.from_file(str(args.tokenizer))
        except Exception as exc:  # tokenizers raises its own exception type
            raise InputError(f"{args.tokenizer}: not a tokenizers JSON file ({exc})") from None
    if args.chunker == "token":
        encoder = None
        if tokenizer is None:
            from ..loading import load

            encoder = load(args.model)
        return TokenChunker(encoder, max_tokens=args.max_tokens, tokenizer=tokenizer)
    from ..loading import load

    return SemanticChunker(
        load(args.model),
        max_tokens=args.max_tokens,
        min_tokens=args.min_tokens,
        threshold=_threshold(args.threshold),
        window=args.window,
        tokenizer=tokenizer,
    )


def run(args: argparse.Namespace) -> int:
    if args.min_tokens is not None and args.min_tokens > args.max_tokens:
        raise InvalidArgumentError(
            f"--min-tokens ({args.min_tokens}) must not exceed --max-tokens ({args.max_tokens})"
        )
    _threshold(args.threshold)  # before loading anything
    if args.files.count("-") > 1:
        raise InputError("'-' (stdin) is given more than once; stdin can be read once")
    if args.html is not None and is_stdio(args.html) and is_stdio(args.output):
        raise InvalidArgumentError(
            "--html - and the chunks would both go to stdout; give the chunks -o PATH"
        )
    for path in args.files:
        _check_exists(path)
    t0 = time.perf_counter()
    n_chars = n_chunks = 0
    documents: list[tuple[str, str, list]] = []
    with contextlib.ExitStack() as stack:
        # temporary files, moved over the outputs at the end: an output may be one of
        # the inputs, and a failed run leaves existing outputs as they were
        outputs = stack.enter_context(OutputFiles(mkdir=args.mkdir))
        out = sys.stdout
        target = output_path(args.output)
        if target is not None:
            out = stack.enter_context(open(outputs.add(target), "w", encoding="utf-8"))
        html_tmp = None if args.html is None else outputs.add(args.html, "--html")
        chunker = _chunker(args)
        # The files are read as the chunker's stream asks for them (a batch at a time),
        # so they go through its batched path; ``read`` remembers each one's name (and
        # text, for --html) until its chunks come back, in input order.
        read: deque[tuple[str, str]] = deque()

        # A file that cannot be read ends the stream there; its error is raised once the
        # chunks of every file before it are written (as one file at a time would).
        failed: list[Exception] = []

        def texts() -> Iterator[str]:
            nonlocal n_chars
            for path in args.files:
                try:
                    text = _read(path)
                except (InputError, OSError) as exc:
                    failed.append(exc)
                    return
                n_chars += len(text)
                read.append(
                    ("stdin" if path == "-" else path, text if html_tmp is not None else "")
                )
                yield text

        for chunks in chunker.chunk_stream(texts()):
            source, text = read.popleft()
            n_chunks += len(chunks)
            if html_tmp is not None:
                documents.append((source, text, chunks))
            for c in chunks:
                if args.format == "jsonl":
                    record = {"source": source, **c.to_dict()}
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
                else:
                    out.write(
                        f"--- {source} chunk {c.index}: [{c.start}:{c.end}] "
                        f"{c.n_tokens} tokens ---\n{c.text}\n\n"
                    )
        if failed:
            raise failed[0]
        if html_tmp is not None:
            from ..chunking import documents_html

            title = f"Chunks of at most {args.max_tokens} tokens ({args.chunker})"
            html_tmp.write_text(documents_html(documents, title=title), encoding="utf-8")
    if not args.quiet:
        secs = time.perf_counter() - t0
        where = "" if args.html is None else f"; HTML view -> {args.html}"
        print(
            f"chunked {len(args.files)} file(s), {n_chars:,} characters, into {n_chunks:,} "
            f"chunks of at most {args.max_tokens} tokens in {secs:.2f}s{where}",
            file=sys.stderr,
        )
    return 0
