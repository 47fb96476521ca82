"""Cross-validation of ``StaticClassifier``'s head defaults (C, class_weight, scaling).

    python benchmarks/classifier_defaults.py                  # CV table + held-out check
    python benchmarks/classifier_defaults.py --folds 3 --sst2-limit 20000   # quicker

Why: the default head must earn its defaults. ``StaticClassifier()`` is compared with a plain
``LogisticRegression(C=10)`` on the same vectors, and the candidate defaults are chosen by
cross-validation on *development* data only (``../shared/eval``; the test splits there are
held back and never read):

* TREC coarse (6 classes) and TREC fine (50 classes): the 80% part of the fixed stratified
  80/20 split of train (seed 0, as ``benchmarks/classify.py`` and ``quality.py`` do);
* Banking77 (77 intents): the same 80% part of train;
* SST-2 (binary sentiment): train (67k phrases; ``--sst2-limit`` for a random subset).

Every candidate is scored by stratified k-fold CV (accuracy and macro-F1 x100) on those
parts only; the selection rule is the best mean CV accuracy over the four sets (each set
weighs the same). Afterwards, and only to report, the chosen default, the previous default
and the baseline are fitted on the whole development part and scored once on the 20% rest
(TREC, Banking77) or SST-2 dev. Vectors are encoded once per set with the bundled model, so
the table measures the head alone.

Candidates: ``C`` in a log grid, ``class_weight`` None or "balanced", and the vectors either
as the encoder gives them (unit length) or standardised per feature (``StandardScaler``).
Thread pools are limited to ``--threads`` (default 1): the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
EVAL = _HERE.parent.parent / "shared" / "eval"

#: C values tried (inverse L2 strength of the logistic head).
C_GRID: tuple[float, ...] = (1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 16.0, 32.0, 64.0)
#: C values tried with class_weight="balanced" (it lost at every C on a first, wider pass).
BALANCED_GRID: tuple[float, ...] = (4.0, 10.0)
#: C values tried on standardised vectors (their scale is ~16x the unit vectors', so C
#: ~1/256 of the unit-vector C is comparable).
SCALED_GRID: tuple[float, ...] = (0.01, 0.03, 0.1)
#: Largest loss (accuracy points, CV) against the baseline on any one set that a default
#: may have: the issue asks that the default never be worse than the baseline.
TOLERANCE = 0.1
#: The head defaults before this study, and the plain baseline of issue 19.
PREVIOUS = {"C": 4.0, "class_weight": None}
BASELINE_C = 10.0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class DevSet:
    """A development part (for CV) and the held-out rest (for the one final check)."""

    name: str
    x_dev: list[str]
    y_dev: np.ndarray
    x_out: list[str]
    y_out: np.ndarray
    held_out: str


def load_sets(sst2_limit: int | None) -> list[DevSet]:
    """The four development sets; no test split is read."""
    from sklearn.model_selection import train_test_split

    out = []
    trec = _rows(EVAL / "trec" / "train.jsonl")
    bank = _rows(EVAL / "banking77" / "train.jsonl")
    for name, rows, key in (
        ("trec", trec, "label"),
        ("trec_fine", trec, "label_fine"),
        ("banking77", bank, "label"),
    ):
        x = [r["text"] for r in rows]
        y = np.array([r[key] for r in rows])
        # the split stratifies on the coarse label for both TREC views, so both hold out
        # the same 20% of questions that classify.py and quality.py score
        strat = np.array([r["label"] for r in rows])
        x_d, x_o, y_d, y_o = train_test_split(x, y, test_size=0.2, stratify=strat, random_state=0)
        out.append(DevSet(name, x_d, y_d, x_o, y_o, "20% of train"))
    train, dev = _rows(EVAL / "sst2" / "train.jsonl"), _rows(EVAL / "sst2" / "dev.jsonl")
    if sst2_limit and sst2_limit < len(train):
        keep = np.random.default_rng(0).permutation(len(train))[:sst2_limit]
        train = [train[i] for i in sorted(keep)]
    out.append(
        DevSet(
            "sst2",
            [r["text"] for r in train],
            np.array([r["label"] for r in train]),
            [r["text"] for r in dev],
            np.array([r["label"] for r in dev]),
            "dev",
        )
    )
    return out


# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    """One head configuration; ``make()`` returns a fresh unfitted estimator on vectors."""

    label: str
    make: Callable[[], Any]


def _static(C: float, class_weight: Any) -> Callable[[], Any]:
    def make() -> Any:
        from sememe import StaticClassifier

        return StaticClassifier(C=C, class_weight=class_weight)

    return make


def _scaled(C: float, class_weight: Any) -> Callable[[], Any]:
    def make() -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            StandardScaler(),
            LogisticRegression(C=C, class_weight=class_weight, max_iter=1000, random_state=0),
        )

    return make


def _plain_baseline() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=BASELINE_C)


BASELINE_LABEL = f"baseline LogisticRegression(C={BASELINE_C:g})"


def candidates() -> list[Candidate]:
    """Baseline first, then StaticClassifier settings, then standardised vectors."""
    out = [Candidate(BASELINE_LABEL, _plain_baseline)]
    out += [Candidate(f"C={C:g} cw=None", _static(C, None)) for C in C_GRID]
    out += [Candidate(f"C={C:g} cw=balanced", _static(C, "balanced")) for C in BALANCED_GRID]
    out += [Candidate(f"standardised C={C:g} cw=None", _scaled(C, None)) for C in SCALED_GRID]
    return out


def cv_score(make: Callable[[], Any], X: np.ndarray, y: np.ndarray, folds: int) -> dict[str, float]:
    """Mean accuracy and macro-F1 x100 over stratified folds (seed 0), and CPU seconds."""
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    acc, f1 = [], []
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rare TREC-fine classes; baseline lbfgs at 100 iter
        for tr, te in StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y):
            pred = make().fit(X[tr], y[tr]).predict(X[te])
            acc.append(100 * accuracy_score(y[te], pred))
            f1.append(100 * f1_score(y[te], pred, average="macro"))
    return {
        "acc": float(np.mean(acc)),
        "f1": float(np.mean(f1)),
        "cpu_s": time.process_time() - start,
    }


def held_out(make: Callable[[], Any], s: DevSet, vecs: dict[str, np.ndarray]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = make().fit(vecs["dev"], s.y_dev).predict(vecs["out"])
    return {
        "acc": 100 * float(accuracy_score(s.y_out, pred)),
        "f1": 100 * float(f1_score(s.y_out, pred, average="macro")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5, help="CV folds (default 5)")
    parser.add_argument("--sst2-limit", type=int, default=None, help="SST-2 train subset size")
    parser.add_argument("--threads", type=int, default=1, help="thread pool size (default 1)")
    parser.add_argument("--json", type=Path, default=None, help="write raw numbers here")
    parser.add_argument("--fresh", action="store_true", help="ignore cached CV results")
    args = parser.parse_args(argv)
    if not EVAL.is_dir():
        print(f"{EVAL} not found; nothing to measure")
        return 0
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    import sememe

    enc = sememe.load()
    sets = load_sets(args.sst2_limit)
    vectors = {s.name: {"dev": enc.encode(s.x_dev), "out": enc.encode(s.x_out)} for s in sets}
    cands = candidates()
    # CV results are cached per (candidate, set, folds, SST-2 size) so a rerun that adds
    # candidates only fits those; --fresh ignores the cache
    cache_path = _HERE / ".cache" / "classifier_defaults_cv.json"
    cache = {} if args.fresh or not cache_path.is_file() else json.loads(cache_path.read_text())
    cv: dict[str, dict[str, dict[str, float]]] = {}
    for c in cands:
        for s in sets:
            key = f"{c.label}|{s.name}|{args.folds}|{len(s.y_dev)}"
            if key not in cache:
                cache[key] = cv_score(c.make, vectors[s.name]["dev"], s.y_dev, args.folds)
                cache_path.parent.mkdir(parents=True, exist_ok=True)
                cache_path.write_text(json.dumps(cache, indent=1) + "\n")
            res = cv.setdefault(c.label, {})[s.name] = cache[key]
            _log(
                f"{c.label:45s} {s.name:10s} acc {res['acc']:.2f} f1 {res['f1']:.2f} "
                f"({res['cpu_s']:.1f} CPU s)"
            )

    def mean_acc(label: str) -> float:
        return float(np.mean([cv[label][s.name]["acc"] for s in sets]))

    names = [s.name for s in sets]
    print(
        f"CV: {args.folds}-fold stratified (seed 0) on the development parts; "
        f"{args.threads} thread(s). Accuracy (macro-F1) x100.\n"
    )
    sizes = ", ".join(f"{s.name} {len(s.y_dev):,}" for s in sets)
    print(f"Development parts: {sizes}.\n")
    print("| candidate | " + " | ".join(names) + " | mean acc |")
    print("|---|" + "---:|" * (len(names) + 1))
    for c in cands:
        cells = " | ".join(
            f"{cv[c.label][n]['acc']:.2f} ({cv[c.label][n]['f1']:.2f})" for n in names
        )
        print(f"| {c.label} | {cells} | {mean_acc(c.label):.2f} |")
    base = cv[BASELINE_LABEL]

    def worst_gap(label: str) -> float:
        """The largest CV accuracy loss against the baseline on any one set (>= 0)."""
        return max(0.0, *(base[n]["acc"] - cv[label][n]["acc"] for n in names))

    static = [c for c in cands if c.label.startswith("C=")]
    allowed = [c for c in static if worst_gap(c.label) <= TOLERANCE]
    best = max(allowed or static, key=lambda c: mean_acc(c.label))
    best_mean = max(static, key=lambda c: mean_acc(c.label))
    best_any = max(cands, key=lambda c: mean_acc(c.label))
    print(
        f"\nRule: the StaticClassifier setting with the best mean CV accuracy among those "
        f"no more than {TOLERANCE:g} points below the baseline on any set. "
        f"Chosen: **{best.label}** (mean {mean_acc(best.label):.2f}, worst gap "
        f"{worst_gap(best.label):.2f}). Best mean without the constraint: {best_mean.label} "
        f"({mean_acc(best_mean.label):.2f}, worst gap {worst_gap(best_mean.label):.2f}); "
        f"best of all candidates: {best_any.label} ({mean_acc(best_any.label):.2f}).\n"
    )

    from sememe import StaticClassifier

    final = {
        "StaticClassifier() now": StaticClassifier,
        f"previous default (C={PREVIOUS['C']:g})": _static(PREVIOUS["C"], PREVIOUS["class_weight"]),
        f"CV choice ({best.label})": best.make,
        f"baseline LogisticRegression(C={BASELINE_C:g})": _plain_baseline,
    }
    print(
        f"Held-out check (fit on the whole development part, scored once; "
        f"StaticClassifier() now has C={StaticClassifier().C:g}, "
        f"class_weight={StaticClassifier().class_weight}):\n"
    )
    print(
        "| head | " + " | ".join(f"{s.name} ({s.held_out}, {len(s.y_out):,})" for s in sets) + " |"
    )
    print("|---|" + "---:|" * len(sets))
    out_rows: dict[str, dict[str, dict[str, float]]] = {}
    for label, make in final.items():
        out_rows[label] = {s.name: held_out(make, s, vectors[s.name]) for s in sets}
        cells = " | ".join(
            f"{out_rows[label][n]['acc']:.2f} ({out_rows[label][n]['f1']:.2f})" for n in names
        )
        print(f"| {label} | {cells} |")
    if args.json:
        args.json.write_text(json.dumps({"cv": cv, "held_out": out_rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
