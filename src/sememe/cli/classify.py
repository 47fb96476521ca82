"""``sememe classify train|predict``: fit a text classifier on labelled records, apply it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, InvalidArgumentError
from ..records import (
    field_values,
    format_of,
    line_of,
    read_records,
    source_name,
    texts_of,
    write_records,
)
from ._outputs import OutputFiles
from .common import (
    add_mkdir_option,
    add_output_option,
    check_folder_output,
    check_target,
    common_options,
    fraction,
    is_stdio,
    output_path,
    positive_float,
    positive_int,
    require,
)

if TYPE_CHECKING:
    from ..classify import StaticClassifier


#: One line for ``sememe --help`` (read without building this command's parser).
HELP = "train a text classifier on labelled jsonl/csv records, or predict with one"


def register(sub: argparse._SubParsersAction) -> None:
    # The library is imported here and in the handlers, not at the top, so that
    # ``sememe --help`` and the other commands never load it (see main.build_parser).
    from ..classify import FINE_TUNE_MODES, HEADS, StaticClassifier

    p = sub.add_parser(
        "classify",
        parents=[common_options()],
        help=HELP,
        description="Train a StaticClassifier (encoder + scikit-learn head) and save it as a "
        "folder without pickle, or load one and label new texts.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    t = actions.add_parser(
        "train",
        parents=[common_options()],
        help="fit on DATA and save the classifier folder",
        description="Fit on the records of DATA (jsonl or csv). A jsonl label that is a list "
        "makes the task multi-label.",
    )
    t.add_argument(
        "data", help="jsonl or csv file with a text and a label field ('-': stdin, jsonl)"
    )
    _add_field_options(t)
    t.add_argument("--label-field", default="label", help="default: label")
    t.add_argument(
        "--format",
        choices=["jsonl", "csv"],
        default=None,
        help="input format (default: by extension; stdin: jsonl)",
    )
    t.add_argument(
        "-o", "--output", required=True, type=Path, metavar="DIR", help="classifier folder to write"
    )
    add_mkdir_option(t)
    t.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    t.add_argument("--head", choices=HEADS, default="logistic", help="default: logistic")
    t.add_argument("-m", "--model", default=None, help="encoder name or folder (default: bundled)")
    t.add_argument("--dim", type=positive_int, default=None, help="keep the first DIM dimensions")
    t.add_argument(
        "-C", type=positive_float, default=StaticClassifier().C, help="inverse regularisation"
    )
    t.add_argument(
        "--class-weight",
        choices=["balanced"],
        default=None,
        help="balanced: weigh classes inversely to their frequency (default: equal)",
    )
    t.add_argument(
        "--fine-tune", choices=FINE_TUNE_MODES, default=None, help="train the encoder (needs torch)"
    )
    t.add_argument(
        "--epochs",
        type=positive_int,
        default=StaticClassifier().epochs,
        help="fine-tuning epochs at most",
    )
    t.add_argument(
        "--holdout",
        type=fraction,
        default=0.0,
        help="score on this fraction held out (stratified, seed 0) before saving",
    )
    t.set_defaults(func=run_train)

    q = actions.add_parser(
        "predict",
        parents=[common_options()],
        help="label the texts of DATA with a saved classifier",
        description="Print one prediction per line, or write records with a 'prediction' "
        "field to -o (.jsonl/.csv). With --label-field, also report accuracy and macro-F1.",
    )
    q.add_argument("classifier", type=Path, help="folder written by 'sememe classify train'")
    q.add_argument("data", nargs="?", default="-", help="txt/jsonl/csv file; '-': stdin")
    _add_field_options(q)
    q.add_argument("--label-field", default=None, help="gold labels to score against")
    q.add_argument(
        "--format",
        choices=["txt", "jsonl", "csv"],
        default=None,
        help="input format (default: by extension; stdin: txt)",
    )
    add_output_option(
        q,
        "write records with a 'prediction' field (.jsonl/.csv; .txt: one label per line); "
        "'-' or absent: one prediction per line on stdout",
    )
    q.add_argument("--proba", action="store_true", help="add the probability of each class")
    q.set_defaults(func=run_predict)


def _add_field_options(p: argparse.ArgumentParser) -> None:
    """``--field`` (the name every subcommand uses) and the old ``--text-field``, hidden."""
    p.add_argument("--field", default="text", help="text field of the records (default: text)")
    p.add_argument("--text-field", dest="field", help=argparse.SUPPRESS)


def _field(records: list[dict], key: str, path: str, what: str) -> list[Any]:
    """``key`` of every record; errors name the record's line (``FILE:LINE:``)."""
    return field_values(records, key, path, option=f"--{what}-field")


def _texts(records: list[dict], key: str, path: str) -> list[str]:
    return texts_of(records, key, path, option="--field")


def run_train(args: argparse.Namespace) -> int:
    from ..classify import StaticClassifier, evaluate_holdout

    if args.fine_tune is not None:
        require("torch", "--fine-tune")
    check_folder_output(args.output, args.mkdir)
    check_target(args.output, "classifier", args.overwrite)
    fmt = args.format or ("jsonl" if is_stdio(args.data) else None)
    records = read_records(args.data, fmt=fmt)
    texts = _texts(records, args.field, args.data)
    labels = _field(records, args.label_field, args.data, "label")
    if not texts:
        raise InputError(f"{args.data}: no records to train on")
    multilabel = any(isinstance(v, list) for v in labels)  # there, null means "no label"
    for i, value in enumerate([] if multilabel else labels):
        # a file's empty cell or null is a missing label, named at its line (the library
        # would name the 0-based y[i], and take "" as a class of its own)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise InputError(
                f"{source_name(args.data)}:{line_of(records, i)}: --label-field "
                f"{args.label_field!r} is empty; every training record needs a label"
            )
    if multilabel:
        labels = [v if isinstance(v, list) else ([] if v is None else [v]) for v in labels]
    clf = StaticClassifier(
        args.head,
        encoder=args.model,
        dim=args.dim,
        C=args.C,
        class_weight=args.class_weight,
        fine_tune=args.fine_tune,
        epochs=args.epochs,
    )
    t0 = time.perf_counter()
    scores = None
    if args.holdout > 0:
        try:
            scores = evaluate_holdout(clf, texts, labels, args.holdout)
        except InvalidArgumentError as exc:
            message = str(exc).replace(f"test_size={args.holdout}", f"--holdout {args.holdout}")
            raise InvalidArgumentError(message) from None
    else:
        clf.fit(texts, labels)
    secs = time.perf_counter() - t0
    clf.save(args.output, overwrite=args.overwrite)
    if not args.quiet:
        kind = "multi-label " if clf.multilabel_ else ""
        print(
            f"trained a {kind}{args.head} classifier on {len(texts):,} texts, "
            f"{len(clf.classes_)} classes, in {secs:.1f}s -> {args.output}",
            file=sys.stderr,
        )
        if scores is not None:
            print(f"held-out {args.holdout:.0%}: {_format_scores(scores)}", file=sys.stderr)
    return 0


def _format_scores(scores: dict[str, Any]) -> str:
    return (
        f"accuracy {scores['accuracy']:.4f}, macro-F1 {scores['macro_f1']:.4f} "
        f"on {scores['n']:,} texts"
    )


def run_predict(args: argparse.Namespace) -> int:
    with OutputFiles(mkdir=args.mkdir) as outputs:
        # the output is written to a temporary file and moved into place at the end, so it
        # may be the input itself and a failed run leaves an existing output unchanged
        target = output_path(args.output)
        tmp = None if target is None else outputs.add(target)
        return _predict(args, tmp)


def _gives_probabilities(clf: StaticClassifier) -> bool:
    """Whether ``clf.predict_proba`` works: asked of one text, before the real work.

    A saved head without probabilities (hinge loss, ridge) may still have the method
    and raise ``AttributeError`` only when called.
    """
    try:
        clf.predict_proba([""])
    except AttributeError:
        return False
    return True


def _predict(args: argparse.Namespace, tmp: Path | None) -> int:
    from ..classify import StaticClassifier

    clf = StaticClassifier.load(args.classifier)
    if args.proba and not _gives_probabilities(clf):
        raise InputError(f"{args.classifier}: this head gives no probabilities; drop --proba")
    records = read_records(args.data, fmt=args.format)
    texts = _texts(records, args.field, args.data)
    if not texts:
        raise InputError(f"{args.data}: no texts to classify")
    gold = None
    if args.label_field:  # checked before the work, not after it
        gold = _field(records, args.label_field, args.data, "label")
    t0 = time.perf_counter()
    labels = clf.predict_labels(texts)
    proba = None
    if args.proba:
        proba = clf.predict_proba(texts)
    secs = time.perf_counter() - t0
    classes = [c.item() if hasattr(c, "item") else c for c in clf.classes_]
    if tmp is None:
        for i, label in enumerate(labels):
            line = ", ".join(map(str, label)) if clf.multilabel_ else str(label)
            if proba is not None:
                line += "\t" + json.dumps(
                    {str(c): round(float(p), 4) for c, p in zip(classes, proba[i], strict=True)}
                )
            print(line)
    else:
        _write(tmp, records, labels, proba, classes, output=Path(args.output))
    if not args.quiet:
        print(f"classified {len(texts):,} texts in {secs:.2f}s", file=sys.stderr)
        if gold is not None:
            print(_format_scores(clf.evaluate(texts, gold)), file=sys.stderr)
    return 0


def _write(
    path: Path,
    records: list[dict],
    labels: list[Any],
    proba: Any,
    classes: list[Any],
    *,
    output: Path,
) -> None:
    """Write predictions to ``path`` in the format of ``output`` (the real output's name)."""
    rows = []
    for i, (rec, label) in enumerate(zip(records, labels, strict=True)):
        row = {**rec, "prediction": label}
        if proba is not None:
            row["probabilities"] = {
                str(c): round(float(p), 6) for c, p in zip(classes, proba[i], strict=True)
            }
        rows.append(row)
    if format_of(output, default="txt") == "txt":  # one label per line
        rows = [", ".join(map(str, lab)) if isinstance(lab, list) else str(lab) for lab in labels]
    write_records(path, rows, like=output)
