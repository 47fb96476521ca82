"""``sememe cluster``: group texts by meaning, write the labels, print what each group is."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .._progress import ticking
from ..errors import InvalidArgumentError
from ..loading import load
from ..records import format_of, read_records, texts_of, write_records
from ._outputs import OutputFiles
from .common import (
    add_input_options,
    add_model_options,
    add_output_option,
    common_options,
    int_at_least,
    nonnegative_int,
    output_path,
    positive_int,
    reading,
    require,
    show_progress,
)

if TYPE_CHECKING:
    from ..clustering import Clusters

#: Image formats matplotlib writes (``savefig`` picks the format from the extension).
PLOT_FORMATS = (
    ".png",
    ".pdf",
    ".svg",
    ".svgz",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".webp",
    ".eps",
    ".ps",
    ".pgf",
    ".raw",
    ".rgba",
)


#: One line for ``sememe --help`` (read without building this command's parser).
HELP = "cluster texts; write labels and print each cluster's keywords and an example"


def register(sub: argparse._SubParsersAction) -> None:
    # The library is imported here and in the handlers, not at the top, so that
    # ``sememe --help`` and the other commands never load it (see main.build_parser).
    from ..clustering import METHODS

    p = sub.add_parser(
        "cluster",
        parents=[common_options()],
        help=HELP,
        description="Cluster texts (one per line, or a jsonl/csv field) and print a table of "
        "clusters: size, class-based TF-IDF keywords and the text nearest the centre. "
        "Blank texts get cluster -1, as does HDBSCAN's noise.",
    )
    add_input_options(p)
    add_model_options(p)
    p.add_argument(
        "-k",  # the old spelling, kept as an alias (search -k is the number of results)
        "-n",
        "--clusters",
        dest="clusters",
        type=positive_int,
        default=None,
        help="number of clusters (default: chosen by silhouette; not for hdbscan); "
        "-k is a deprecated alias, to be removed in a later release",
    )
    p.add_argument("--method", choices=METHODS, default="kmeans", help="default: kmeans")
    add_output_option(
        p,
        "write labels: .jsonl/.csv add 'cluster' and 'cluster_distance' to each input "
        "record; any other name gets one label per line; '-': labels to stdout, one per "
        "line (the table then goes to stderr)",
    )
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="IMAGE",
        help="draw a 2-D map to this image file (.png, .svg, .pdf, ...)",
    )
    p.add_argument("--seed", type=nonnegative_int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--min-cluster-size", type=int_at_least(2), default=5, help="hdbscan only (default: 5)"
    )
    p.add_argument(
        "--keywords", type=positive_int, default=5, help="keywords shown per cluster (5)"
    )
    p.add_argument(
        "--top", type=positive_int, default=30, help="clusters shown in the table (default 30)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.plot is not None:  # before any work: the labels are not written, then refused
        require("matplotlib", "--plot")
        if args.plot.suffix.lower() not in PLOT_FORMATS:
            raise InvalidArgumentError(
                f"--plot {args.plot}: unknown image format {args.plot.suffix or '(none)'!r}; "
                f"use one of {', '.join(PLOT_FORMATS[:4])}, ..."
            )
    with OutputFiles(mkdir=args.mkdir) as outputs:
        # temporary files, moved into place only once everything succeeded: the labels
        # may overwrite the input itself, and a failed run leaves existing files unchanged
        labels_tmp = None if args.output is None else outputs.add(args.output)
        plot_tmp = None if args.plot is None else outputs.add(args.plot, "--plot")
        return _run(args, labels_tmp, plot_tmp)


def _run(args: argparse.Namespace, labels_tmp: Path | None, plot_tmp: Path | None) -> int:
    from ..clustering import cluster

    # labels to stdout ('-') are one per line, and the table moves to stderr
    to_stdout = args.output is not None and output_path(args.output) is None
    labels_name = Path("labels.txt") if to_stdout else output_path(args.output)
    with reading(args.input):
        records = read_records(args.input, fmt=args.format, field=args.field)
        texts = texts_of(records, args.field, args.input)
    enc = load(args.model, dim=args.dim)
    t0 = time.perf_counter()
    result = cluster(
        texts,
        args.clusters,
        method=args.method,
        encoder=enc,
        seed=args.seed,
        min_cluster_size=args.min_cluster_size,
        show_progress=show_progress(args),
    )
    secs = time.perf_counter() - t0
    with ticking("writing"):
        if labels_tmp is not None:
            _write(labels_tmp, records, result, output=labels_name)  # type: ignore[arg-type]
        if plot_tmp is not None:
            result.plot(plot_tmp)
    if not args.quiet:
        table = format_table(result, n_keywords=args.keywords, top=args.top)
        print(table, file=sys.stderr if to_stdout else sys.stdout)
        where = "" if args.output is None else f" -> {'stdout' if to_stdout else args.output}"
        print(
            f"clustered {len(texts):,} texts into {result.n_clusters} clusters "
            f"({result.n_noise:,} unclustered) in {secs:.2f}s{where}",
            file=sys.stderr,
        )
    return 0


def format_table(result: Clusters, *, n_keywords: int = 5, top: int = 30, width: int = 70) -> str:
    """A markdown table of the largest ``top`` clusters."""
    lines = ["| cluster | size | keywords | representative |", "|---:|---:|---|---|"]
    for s in result.describe(n_keywords=max(n_keywords, 1), n_representatives=1)[:top]:
        rep = " ".join(s.representatives[0].split()) if s.representatives else ""
        if len(rep) > width:
            rep = rep[: width - 1] + "…"
        words = ", ".join(s.keywords[:n_keywords]) if n_keywords > 0 else ""
        lines.append(f"| {s.label} | {s.size:,} | {words} | {rep.replace('|', '/')} |")
    if result.n_clusters > top:
        rest = int(result.sizes[top:].sum())
        lines.append(f"| … | {rest:,} | ({result.n_clusters - top} more clusters) | |")
    if result.n_noise:
        lines.append(f"| -1 | {result.n_noise:,} | (noise or blank) | |")
    return "\n".join(lines)


def _write(path: Path, records: list[dict], result: Clusters, *, output: Path) -> None:
    """Write the labels to ``path`` in the format of ``output`` (the real output's name):
    jsonl/csv records with ``cluster`` and ``cluster_distance`` added, else one label
    per line."""
    labels = result.labels.tolist()
    if format_of(output, default="txt") == "txt":
        write_records(path, [str(lab) for lab in labels], "txt")
        return
    distances = [round(float(d), 6) for d in result.distances]
    rows = [
        {**rec, "cluster": lab, "cluster_distance": dist}
        for rec, lab, dist in zip(records, labels, distances, strict=True)
    ]
    fields = list(dict.fromkeys(k for rec in records for k in rec))
    fields += [k for k in ("cluster", "cluster_distance") if k not in fields]
    write_records(path, rows, fields=fields, like=output)
