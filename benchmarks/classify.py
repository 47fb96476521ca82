"""Classification benchmark: sememe heads beside TF-IDF, WordLlama and Model2Vec.

    python benchmarks/classify.py             # full run, one run per method (minutes)
    python benchmarks/classify.py --quick     # 2,000 training texts per set, for development

Data (``../shared/eval``; test splits are held back there, so):

* TREC (6 coarse classes): a fixed stratified 80/20 split of train (seed 0).
* SST-2: train on train (67k phrases), score on dev (872 sentences).
* Banking77 (77 intents): a fixed stratified 80/20 split of train (seed 0), as
  ``benchmarks/quality.py`` does.

Methods: sememe ``StaticClassifier`` with the frozen bundled encoder (logistic and mlp
heads) and fine-tuned (``fine_tune="table"``, logistic head); TF-IDF (word 1-2 grams,
sublinear tf) + LogisticRegression(C=10); WordLlama 256-d embeddings +
LogisticRegression (the same C as sememe's default); Model2Vec's
``StaticModelForClassification`` (needs ``model2vec[train]``: torch and datasets) on the
Model2Vec model distilled from all-MiniLM-L6-v2 in ``benchmarks/.cache`` (see
``_peers.py``), with its default training settings. Reported: accuracy and macro-F1 x100,
train and predict wall time (predict: the whole test split, encoding included).

All thread pools (BLAS, OpenMP, torch) are limited to ``--threads`` (default 1): the
machine is shared, and under contention extra threads spin and slow everyone down.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import _peers  # noqa: E402

os.environ.setdefault("TQDM_DISABLE", "1")  # Model2Vec's per-step progress bars

EVAL = _HERE.parent.parent / "shared" / "eval"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@dataclass
class Split:
    name: str
    x_train: list[str]
    y_train: list[Any]
    x_test: list[str]
    y_test: list[Any]


def load_splits(limit: int | None) -> list[Split]:
    out = []
    for name in ("trec", "banking77"):
        rows = _rows(EVAL / name / "train.jsonl")
        x, y = [r["text"] for r in rows], [r["label"] for r in rows]
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
        out.append(Split(name, x_tr, y_tr, x_te, y_te))
    train, dev = _rows(EVAL / "sst2" / "train.jsonl"), _rows(EVAL / "sst2" / "dev.jsonl")
    out.insert(
        1,
        Split(
            "sst2",
            [r["text"] for r in train],
            [r["label"] for r in train],
            [r["text"] for r in dev],
            [r["label"] for r in dev],
        ),
    )
    if limit:
        for s in out:
            keep = np.random.default_rng(0).permutation(len(s.x_train))[:limit]
            s.x_train = [s.x_train[i] for i in keep]
            s.y_train = [s.y_train[i] for i in keep]
    return out


# --------------------------------------------------------------------------- methods

Fit = Callable[[list[str], list[Any]], Callable[[list[str]], Any]]


def sememe_method(**params: Any) -> Fit:
    from sememe import StaticClassifier

    def fit(x: list[str], y: list[Any]) -> Callable[[list[str]], Any]:
        return StaticClassifier(**params).fit(x, y).predict

    return fit


def tfidf_logistic(x: list[str], y: list[Any]) -> Callable[[list[str]], Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(C=10.0, max_iter=1000),
    )
    return pipe.fit(x, y).predict


def wordllama_logistic(x: list[str], y: list[Any]) -> Callable[[list[str]], Any]:
    from sklearn.linear_model import LogisticRegression

    from sememe import StaticClassifier

    wl = _peers.load_wordllama(256)
    model = LogisticRegression(C=StaticClassifier().C, max_iter=1000)
    model.fit(wl.embed(x, norm=True), y)
    return lambda texts: model.predict(wl.embed(texts, norm=True))


def model2vec_classifier(x: list[str], y: list[Any]) -> Callable[[list[str]], Any]:
    _peers._require("model2vec", "model2vec")
    _peers._require("datasets", "model2vec[train] (datasets)")
    _peers._require("torch", "model2vec[train] (torch)")
    from model2vec.train import StaticModelForClassification

    if not (_peers.MODEL2VEC_MINILM_DIR / "model.safetensors").is_file():
        raise _peers.PeerUnavailable("no distilled Model2Vec model in benchmarks/.cache")
    model = StaticModelForClassification.from_pretrained(path=str(_peers.MODEL2VEC_MINILM_DIR))
    labels = [str(v) for v in y]
    model.fit(x, labels)
    kind = type(y[0])
    return lambda texts: [kind(v) for v in model.predict(texts)]


METHODS: dict[str, Fit] = {
    "sememe logistic (frozen)": sememe_method(),
    "sememe mlp (frozen)": sememe_method(head="mlp"),
    "sememe logistic (fine-tuned table)": sememe_method(fine_tune="table"),
    "TF-IDF + LogisticRegression": tfidf_logistic,
    "WordLlama + LogisticRegression": wordllama_logistic,
    "Model2Vec StaticModelForClassification": model2vec_classifier,
}


def run(split: Split, name: str, fit: Fit) -> dict[str, Any] | str:
    try:
        start = time.perf_counter()
        predict = fit(split.x_train, split.y_train)
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        pred = list(predict(split.x_test))
        predict_s = time.perf_counter() - start
    except _peers.PeerUnavailable as exc:
        return f"skipped: {exc}"
    return {
        "accuracy": 100 * accuracy_score(split.y_test, pred),
        "macro_f1": 100 * f1_score(split.y_test, pred, average="macro"),
        "train_s": train_s,
        "predict_s": predict_s,
    }


def limit_threads(n: int) -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(n)
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 training texts per set")
    parser.add_argument("--threads", type=int, default=1, help="thread pool size (default 1)")
    parser.add_argument("--methods", default=None, help="comma list of method-name substrings")
    parser.add_argument("--json", type=Path, default=None, help="write raw numbers here")
    args = parser.parse_args(argv)
    if not EVAL.is_dir():
        print(f"{EVAL} not found; nothing to measure")
        return 0
    limit_threads(args.threads)
    logging.getLogger().setLevel(logging.WARNING)
    methods = METHODS
    if args.methods:
        wanted = [w.strip().lower() for w in args.methods.split(",")]
        methods = {k: v for k, v in METHODS.items() if any(w in k.lower() for w in wanted)}

    splits = load_splits(2000 if args.quick else None)
    results: dict[str, dict[str, Any]] = {}
    for split in splits:
        for name, fit in methods.items():
            _log(f"[{split.name}] {name} ...")
            res = run(split, name, fit)
            results.setdefault(split.name, {})[name] = res
            _log(f"[{split.name}] {name}: {res}")

    print(
        f"One run per cell; {args.threads} thread(s); shared 2-core machine under contention "
        "from other jobs, so times are indicative.\n"
    )
    print("| data | method | accuracy | macro-F1 | train s | predict s |")
    print("|---|---|---:|---:|---:|---:|")
    for split in splits:
        label = f"{split.name} ({len(split.x_train):,} / {len(split.x_test):,})"
        for name, res in results[split.name].items():
            if isinstance(res, str):
                print(f"| {label} | {name} | - | - | - | {res} |")
                continue
            print(
                f"| {label} | {name} | {res['accuracy']:.1f} | {res['macro_f1']:.1f} | "
                f"{res['train_s']:.1f} | {res['predict_s']:.2f} |"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
