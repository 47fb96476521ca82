"""``sememe classify train|predict``: fit a text classifier on labelled records, apply it."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..classify import StaticClassifier
from ..classify._estimators import FINE_TUNE_MODES
from ..classify._heads import HEADS
from ..errors import InputError, InvalidArgumentError
from ._io import OutputFiles, field_values, read_records, texts_of
from .common import (
    check_target,
    common_options,
    fraction,
    positive_float,
    positive_int,
    require,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify",
        parents=[common_options()],
        help="train a text classifier on labelled jsonl/csv records, or predict with one",
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
    t.add_argument("data", help="jsonl or csv file with a text and a label field")
    t.add_argument("--text-field", default="text", help="default: text")
    t.add_argument("--label-field", default="label", help="default: label")
    t.add_argument("--format", choices=["jsonl", "csv"], default=None, help="default: by extension")
    t.add_argument("-o", "--output", required=True, type=Path, help="classifier folder to write")
    t.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    t.add_argument("--head", choices=HEADS, default="logistic", help="default: logistic")
    t.add_argument("-m", "--model", default=None, help="encoder name or folder (default: bundled)")
    t.add_argument("--dim", type=positive_int, default=None, help="keep the first DIM dimensions")
    t.add_argument(
        "-C", type=positive_float, default=StaticClassifier().C, help="inverse regularisation"
    )
    t.add_argument("--class-weight", choices=["balanced"], default=None)
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
    q.add_argument("--text-field", default="text", help="default: text")
    q.add_argument("--label-field", default=None, help="gold labels to score against")
    q.add_argument("--format", choices=["txt", "jsonl", "csv"], default=None)
    q.add_argument("-o", "--output", type=Path, default=None, help=".jsonl/.csv/.txt output")
    q.add_argument("--proba", action="store_true", help="add the probability of each class")
    q.set_defaults(func=run_predict)


def _field(records: list[dict], key: str, path: str, what: str) -> list[Any]:
    """``key`` of every record; errors name the record's line (``FILE:LINE:``)."""
    return field_values(records, key, path, option=f"--{what}-field")


def _texts(records: list[dict], key: str, path: str) -> list[str]:
    return texts_of(records, key, path, option="--text-field")


def run_train(args: argparse.Namespace) -> int:
    if args.fine_tune is not None:
        require("torch", "--fine-tune")
    check_target(args.output, "classifier", args.overwrite)
    records = read_records(args.data, fmt=args.format)
    texts = _texts(records, args.text_field, args.data)
    labels = _field(records, args.label_field, args.data, "label")
    if not texts:
        raise InputError(f"{args.data}: no records to train on")
    if any(isinstance(v, list) for v in labels):
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
    report = ""
    if args.holdout > 0:
        from sklearn.model_selection import train_test_split

        multi = isinstance(labels[0], list)
        try:
            x_tr, x_te, y_tr, y_te = train_test_split(
                texts,
                labels,
                test_size=args.holdout,
                random_state=0,
                stratify=None if multi else labels,
            )
        except (TypeError, ValueError) as exc:  # too few records per class for a split
            raise InvalidArgumentError(f"--holdout {args.holdout}: {exc}") from None
        clf.fit(x_tr, y_tr)
        report = _scores(clf, x_te, y_te)
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
        if report:
            print(f"held-out {args.holdout:.0%}: {report}", file=sys.stderr)
    return 0


def _scores(clf: StaticClassifier, texts: list[str], gold: list[Any]) -> str:
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import MultiLabelBinarizer

    pred = clf.predict(texts)
    if clf.multilabel_:
        gold_m = MultiLabelBinarizer(classes=list(clf.classes_)).fit_transform(gold)
        acc = float((gold_m == pred).all(axis=1).mean())
        f1 = f1_score(gold_m, pred, average="macro", zero_division=0)
    else:
        acc = sum(p == g for p, g in zip(pred.tolist(), gold, strict=True)) / max(len(gold), 1)
        f1 = f1_score(gold, pred.tolist(), average="macro", zero_division=0)
    return f"accuracy {acc:.4f}, macro-F1 {f1:.4f} on {len(texts):,} texts"


def run_predict(args: argparse.Namespace) -> int:
    with OutputFiles() as outputs:
        # the output is written to a temporary file and moved into place at the end, so it
        # may be the input itself and a failed run leaves an existing output unchanged
        tmp = None if args.output is None else outputs.add(args.output)
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
    clf = StaticClassifier.load(args.classifier)
    if args.proba and not _gives_probabilities(clf):
        raise InputError(f"{args.classifier}: this head gives no probabilities; drop --proba")
    records = read_records(args.data, fmt=args.format)
    texts = _texts(records, args.text_field, args.data)
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
        _write(tmp, records, labels, proba, classes, suffix=args.output.suffix.lower())
    if not args.quiet:
        print(f"classified {len(texts):,} texts in {secs:.2f}s", file=sys.stderr)
        if gold is not None:
            print(_scores(clf, texts, gold), file=sys.stderr)
    return 0


def _write(
    path: Path,
    records: list[dict],
    labels: list[Any],
    proba: Any,
    classes: list[Any],
    *,
    suffix: str,
) -> None:
    """Write predictions to ``path`` in the format of ``suffix`` (the real output's)."""
    rows = []
    for i, (rec, label) in enumerate(zip(records, labels, strict=True)):
        row = {**rec, "prediction": label}
        if proba is not None:
            row["probabilities"] = {
                str(c): round(float(p), 6) for c, p in zip(classes, proba[i], strict=True)
            }
        rows.append(row)
    if suffix in (".jsonl", ".ndjson"):
        with path.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif suffix in (".csv", ".tsv"):
        fields = list(dict.fromkeys(k for row in rows for k in row))
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fields, delimiter="\t" if suffix == ".tsv" else ",")
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}
                )
    else:
        path.write_text(
            "".join(
                (", ".join(map(str, lab)) if isinstance(lab, list) else str(lab)) + "\n"
                for lab in labels
            ),
            encoding="utf-8",
        )
