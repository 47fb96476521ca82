"""``sememe search``: query an index folder written by ``sememe index build``."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._progress import ticking
from ..errors import InvalidArgumentError
from ..loading import load
from ..records import read_texts
from .common import common_options, positive_int

if TYPE_CHECKING:
    from ..index import Hit


#: One line for ``sememe --help`` (read without building this command's parser).
HELP = "find the documents of an index closest to a query"


def register(sub: argparse._SubParsersAction) -> None:
    # The library is imported here and in the handlers, not at the top, so that
    # ``sememe --help`` and the other commands never load it (see main.build_parser).
    from ..index import FUSIONS, MODES

    p = sub.add_parser(
        "search",
        parents=[common_options()],
        help=HELP,
        description="Search an index folder. Prints a table per query, or with --json one "
        'JSON object per query: {"query": ..., "hits": [{"id", "score", "text", "metadata"}]} '
        "(hybrid and lexical hits add dense_score and lexical_score). An index built with "
        "--chunk prints each passage with its document id and character offsets.",
    )
    p.add_argument("index", type=Path, help="index folder (from 'sememe index build')")
    p.add_argument(
        "query", nargs="*", help="query text(s); options may come before, between or after"
    )
    p.add_argument("-k", type=positive_int, default=10, help="results per query (default: 10)")
    p.add_argument("--queries", default=None, help="file with one query per line ('-': stdin)")
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="keep documents whose metadata FIELD equals VALUE (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print JSON lines")
    p.add_argument("-m", "--model", default=None, help="model to load the index with")
    p.add_argument("--ef-search", type=positive_int, default=None, help="HNSW search breadth")
    p.add_argument("--nprobe", type=positive_int, default=None, help="IVF lists visited")
    p.add_argument("--candidates", type=positive_int, default=None, help="binary+rerank candidates")
    p.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="ranking: hybrid (default for an index built with --lexical), dense, lexical",
    )
    p.add_argument(
        "--alpha", type=float, default=None, help="hybrid: weight of the dense side, 0..1"
    )
    p.add_argument("--fusion", choices=FUSIONS, default=None, help="hybrid: score fusion")
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="skip the SHA-256 of the document and vector files (sizes and headers are "
        "still checked, FAISS files always hashed); faster for large indexes",
    )
    p.set_defaults(func=run)


def _where(items: list[str]) -> dict[str, Any] | None:
    if not items:
        return None
    out: dict[str, Any] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field:
            raise InvalidArgumentError(f"--where {item!r}: expected FIELD=VALUE")
        try:  # numbers and true/false compare as JSON values; anything else as text
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(field, []).extend([value, parsed] if parsed != value else [value])
    return out


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def run(args: argparse.Namespace) -> int:
    from ..index import Index

    queries = list(args.query)
    if args.queries is not None:
        queries += [q for q in read_texts(args.queries, fmt="txt") if q.strip()]
    if not queries:
        raise InvalidArgumentError("no query given; pass query text or --queries FILE")
    where = _where(args.where)  # a malformed --where is reported before the index loads
    encoder = load(args.model) if args.model else None
    with ticking("loading the index"):
        index = Index.load(args.index, encoder, verify=not args.no_verify)
    results = index.search(
        queries,
        args.k,
        where=where,
        ef_search=args.ef_search,
        nprobe=args.nprobe,
        candidates=args.candidates,
        mode=args.mode,
        alpha=args.alpha,
        fusion=args.fusion,
    )
    if args.json:
        for query, hits in zip(queries, results, strict=True):
            row = {"query": query, "hits": [h.to_dict() for h in hits]}
            print(json.dumps(row, ensure_ascii=False))
        return 0
    width = shutil.get_terminal_size((100, 24)).columns
    for n, (query, hits) in enumerate(zip(queries, results, strict=True)):
        if len(queries) > 1:
            print(("\n" if n else "") + f"query: {query}")
        if not hits:
            print("(no results)")
            continue
        if all(_passage(h) for h in hits):
            _print_passages(hits, width)
            continue
        ids = [str(h.id) for h in hits]
        id_w = max(2, *map(len, ids))
        print(f"{'#':>3}  {'score':>6}  {'id'.ljust(id_w)}  text")
        for rank, (h, doc_id) in enumerate(zip(hits, ids, strict=True), 1):
            text = _shorten(h.text, width - id_w - 17)
            print(f"{rank:>3}  {h.score:6.3f}  {doc_id.ljust(id_w)}  {text}")
    return 0


def _passage(hit: Hit) -> bool:
    """Whether ``hit`` is a passage of a document (an index built with ``--chunk``)."""
    m = hit.metadata
    return bool(m) and "document" in m and isinstance(m.get("start"), int)


def _print_passages(hits: list[Hit], width: int) -> None:
    """Rank, score, document id and offsets on one line, the passage below it."""
    for rank, h in enumerate(hits, 1):
        m = h.metadata or {}
        print(f"{rank:>3}  {h.score:6.3f}  {m['document']}  [{m['start']}:{m['end']}]")
        print("     " + _shorten(h.text, max(width - 5, 20)))
