"""Embedding quality harness: one score table for sememe and its peers on the shared dev sets.

``evaluate(encode_fn, eval_dir)`` scores any ``list[str] -> (n, d)`` encoder on six tasks
(STS, classification, retrieval, clustering). Run as a script to compare models:

    python benchmarks/quality.py --models sememe,wordllama,model2vec-minilm,minilm

Only dev/train splits from ``shared/eval`` are used; the held-out test splits are not there.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # make the sibling module importable however this file is run
    sys.path.insert(0, str(_HERE))

import _peers  # noqa: E402

EncodeFn = Callable[[list[str]], np.ndarray]
Log = Callable[[str], None] | None

TASKS: tuple[str, ...] = ("stsb", "sick", "trec", "banking77", "scifact", "banking77_cluster")
MODELS: tuple[str, ...] = ("sememe", "wordllama", "model2vec-minilm", "minilm")
KMEANS_N_INIT = 3  # fixed, with random_state=0, so cluster scores are comparable across runs
SPLIT_SEED = 0


def default_eval_dir() -> Path:
    """``shared/eval`` beside the repository (``<repo>/../shared/eval``)."""
    return Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data readers


def _read_tsv(path: Path) -> list[list[str]]:
    """Rows of a tab-separated file with one header line (no quoting: texts may hold quotes)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines[1:] if line]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --------------------------------------------------------------------------- encoding


def encode_unique(encode_fn: EncodeFn, texts: Sequence[str]) -> np.ndarray:
    """Encode each distinct text once; return L2-normalised float32 rows aligned with ``texts``."""
    index: dict[str, int] = {}
    rows = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64)
    unique = list(index)
    vectors = np.asarray(encode_fn(unique), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] != len(unique):
        raise ValueError(f"encode_fn returned shape {vectors.shape} for {len(unique)} texts")
    return _peers.l2_normalize(vectors)[rows]


# --------------------------------------------------------------------------- tasks


def sts_spearman(encode_fn: EncodeFn, path: Path) -> float:
    """Spearman x100 between pair cosine and gold score (file: score, sentence1, sentence2)."""
    from scipy.stats import spearmanr

    rows = _read_tsv(path)
    gold = np.array([float(r[0]) for r in rows])
    n = len(rows)
    emb = encode_unique(encode_fn, [r[1] for r in rows] + [r[2] for r in rows])
    cosine = np.einsum("ij,ij->i", emb[:n], emb[n:])
    return 100.0 * float(spearmanr(cosine, gold).statistic)


def classification_accuracy(encode_fn: EncodeFn, path: Path) -> float:
    """Accuracy x100 of logistic regression on a fixed stratified 80/20 split of a JSONL set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    rows = _read_jsonl(path)
    labels = np.array([r["label"] for r in rows])
    emb = encode_unique(encode_fn, [r["text"] for r in rows])
    x_tr, x_te, y_tr, y_te = train_test_split(
        emb, labels, test_size=0.2, stratify=labels, random_state=SPLIT_SEED
    )
    clf = LogisticRegression(max_iter=2000).fit(x_tr, y_tr)
    return 100.0 * float(clf.score(x_te, y_te))


def clustering_v_measure(encode_fn: EncodeFn, path: Path) -> float:
    """V-measure x100 of KMeans (k = number of labels) on all rows of a JSONL set."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import v_measure_score

    rows = _read_jsonl(path)
    labels = [r["label"] for r in rows]
    emb = encode_unique(encode_fn, [r["text"] for r in rows])
    km = KMeans(n_clusters=len(set(labels)), n_init=KMEANS_N_INIT, random_state=0)
    return 100.0 * float(v_measure_score(labels, km.fit_predict(emb)))


def ndcg_at_k(ranked: Sequence[str], relevance: dict[str, float], k: int = 10) -> float:
    """nDCG@k with linear graded gain (rel / log2(rank + 1)), as in trec_eval / BEIR."""
    dcg = sum(relevance.get(d, 0.0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in relevance.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def retrieval_ndcg10(
    encode_fn: EncodeFn, folder: Path, qrels_name: str = "qrels_train.tsv"
) -> float:
    """Mean nDCG@10 x100 of cosine retrieval over a whole BEIR-layout corpus.

    Queries are those in the qrels file; documents are ``title + " " + text``.
    """
    qrels: dict[str, dict[str, float]] = {}
    for qid, did, grade in _read_tsv(folder / qrels_name):
        qrels.setdefault(qid, {})[did] = float(grade)
    queries = {q["_id"]: q["text"] for q in _read_jsonl(folder / "queries.jsonl")}
    corpus = _read_jsonl(folder / "corpus.jsonl")
    doc_ids = [d["_id"] for d in corpus]
    qids = [q for q in qrels if any(g > 0 for g in qrels[q].values())]

    texts = [queries[q] for q in qids] + [f"{d['title']} {d['text']}" for d in corpus]
    emb = encode_unique(encode_fn, texts)
    q_emb, d_emb = emb[: len(qids)], emb[len(qids) :]

    total = 0.0
    for start in range(0, len(qids), 256):
        scores = q_emb[start : start + 256] @ d_emb.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
        for qid, row in zip(qids[start : start + 256], top, strict=True):
            total += ndcg_at_k([doc_ids[j] for j in row], qrels[qid], k=10)
    return 100.0 * total / len(qids)


@dataclass(frozen=True)
class Task:
    """One benchmark task: the files it needs (relative to eval_dir) and its scorer."""

    name: str
    files: tuple[str, ...]
    run: Callable[[EncodeFn, Path], float]


TASK_SPECS: dict[str, Task] = {
    "stsb": Task("stsb", ("stsb/dev.tsv",), lambda f, d: sts_spearman(f, d / "stsb/dev.tsv")),
    "sick": Task("sick", ("sick/trial.tsv",), lambda f, d: sts_spearman(f, d / "sick/trial.tsv")),
    "trec": Task(
        "trec",
        ("trec/train.jsonl",),
        lambda f, d: classification_accuracy(f, d / "trec/train.jsonl"),
    ),
    "banking77": Task(
        "banking77",
        ("banking77/train.jsonl",),
        lambda f, d: classification_accuracy(f, d / "banking77/train.jsonl"),
    ),
    "scifact": Task(
        "scifact",
        ("scifact/corpus.jsonl", "scifact/queries.jsonl", "scifact/qrels_train.tsv"),
        lambda f, d: retrieval_ndcg10(f, d / "scifact"),
    ),
    "banking77_cluster": Task(
        "banking77_cluster",
        ("banking77/train.jsonl",),
        lambda f, d: clustering_v_measure(f, d / "banking77/train.jsonl"),
    ),
}


def evaluate(
    encode_fn: EncodeFn,
    eval_dir: Path | None = None,
    tasks: Sequence[str] | None = None,
    *,
    log: Log = _stderr,
) -> dict[str, float]:
    """Score ``encode_fn`` on ``tasks`` (default: all six); returns task -> score plus ``mean``.

    ``encode_fn`` maps a list of texts to an (n, d) array; rows are L2-normalised here.
    A task whose files are missing is skipped with a message; ``mean`` averages the tasks
    that ran. Raises FileNotFoundError if ``eval_dir`` itself is missing.
    """
    eval_dir = Path(eval_dir) if eval_dir is not None else default_eval_dir()
    if not eval_dir.is_dir():
        raise FileNotFoundError(f"eval dir not found: {eval_dir}")
    names = list(tasks) if tasks is not None else list(TASKS)
    unknown = [n for n in names if n not in TASK_SPECS]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; choose from {list(TASKS)}")

    scores: dict[str, float] = {}
    for name in names:
        task = TASK_SPECS[name]
        missing = [f for f in task.files if not (eval_dir / f).is_file()]
        if missing:
            if log:
                log(f"  {name}: skipped, missing {', '.join(missing)}")
            continue
        start = time.perf_counter()
        scores[name] = task.run(encode_fn, eval_dir)
        if log:
            log(f"  {name}: {scores[name]:.2f} ({time.perf_counter() - start:.1f}s)")
    if scores:
        scores["mean"] = float(np.mean(list(scores.values())))
    return scores


# --------------------------------------------------------------------------- models


class TimedEncoder:
    """Wraps an EncodeFn and adds up the wall time and number of texts it encodes."""

    def __init__(self, fn: EncodeFn) -> None:
        self.fn = fn
        self.seconds = 0.0
        self.texts = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        start = time.perf_counter()
        out = self.fn(texts)
        self.seconds += time.perf_counter() - start
        self.texts += len(texts)
        return out


def sememe_encoder(model_path: Path | None = None) -> Any:
    """sememe's bundled default model, or the model folder at ``model_path``, as an Encoder."""
    try:
        import sememe
    except ImportError as exc:
        src = Path(__file__).resolve().parents[1] / "src"
        if not (src / "sememe").is_dir():
            raise _peers.PeerUnavailable(f"sememe is not importable: {exc}") from exc
        sys.path.insert(0, str(src))  # uninstalled checkout: use the src layout directly
        try:
            import sememe
        except ImportError as exc:
            raise _peers.PeerUnavailable(f"sememe is not importable yet: {exc}") from exc
    if not hasattr(sememe, "load"):
        raise _peers.PeerUnavailable("sememe has no load() yet")
    return sememe.load(str(model_path) if model_path is not None else None)


def load_sememe(model_path: Path | None = None) -> EncodeFn:
    """sememe's bundled default model, or the model folder at ``model_path``."""
    return sememe_encoder(model_path).encode


def binary_encode_fn(model_path: Path | None = None) -> EncodeFn:
    """A sememe model's packed binary codes as +-1 vectors (cosine = 1 - 2 Hamming / bits)."""
    enc = sememe_encoder(model_path)

    def encode(texts: list[str]) -> np.ndarray:
        bits = np.unpackbits(enc.encode_binary(texts), axis=1, bitorder="little")
        return bits.astype(np.float32) * 2.0 - 1.0

    return encode


def load_model(name: str, args: argparse.Namespace) -> EncodeFn:
    """Build the EncodeFn for a model name; raises PeerUnavailable if it cannot run here.

    ``LABEL=FOLDER`` names a sememe model folder; a ``:binary`` suffix (``sememe:binary``,
    ``LABEL=FOLDER:binary``) scores that model's binary codes instead of its float vectors.
    """
    if name.endswith(":binary"):
        base = name.removesuffix(":binary")
        if base == "sememe":
            return binary_encode_fn(args.sememe_model)
        if "=" in base:
            return binary_encode_fn(Path(base.split("=", 1)[1]))
        raise ValueError(f"binary codes are only available for sememe models, not {base!r}")
    if "=" in name:
        return load_sememe(Path(name.split("=", 1)[1]))
    if name == "sememe":
        return load_sememe(args.sememe_model)
    if name == "wordllama":
        return _peers.wordllama_encoder(dim=256)
    if name == "model2vec-minilm":
        return _peers.model2vec_minilm_encoder(rebuild=args.rebuild_model2vec)
    if name == "minilm":
        return _peers.minilm_encoder(cache_dir=None if args.no_cache else _peers.MINILM_VECTOR_DIR)
    raise ValueError(f"unknown model {name!r}; choose from {list(MODELS)}")


@dataclass
class ModelResult:
    """Scores and timings of one model run."""

    scores: dict[str, float]
    load_seconds: float
    encode_seconds: float
    texts_encoded: int
    notes: list[str] = field(default_factory=list)


def markdown_table(results: dict[str, ModelResult], tasks: Sequence[str]) -> str:
    """Markdown table: one row per model, tasks + mean at 1 decimal, encode wall time."""
    cols = [*tasks, "mean"]
    lines = [
        "| model | " + " | ".join(cols) + " | encode s |",
        "|---|" + "---:|" * (len(cols) + 1),
    ]
    for name, res in results.items():
        cells = [f"{res.scores[c]:.1f}" if c in res.scores else "-" for c in cols]
        wall = f"{res.encode_seconds:.1f}" + (" (cached)" if "cached" in res.notes else "")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {wall} |")
    return "\n".join(lines)


def _parse_list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: evaluate the chosen models and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        help="comma list of models: "
        + ", ".join(MODELS)
        + ", LABEL=FOLDER (a sememe model folder); add :binary to a sememe model for its codes",
    )
    parser.add_argument("--tasks", default=",".join(TASKS), help="comma list of tasks")
    parser.add_argument("--eval-dir", type=Path, default=default_eval_dir())
    parser.add_argument("--sememe-model", type=Path, default=None, help="sememe model folder")
    parser.add_argument("--json", type=Path, default=None, help="write raw numbers here")
    parser.add_argument(
        "--rebuild-model2vec", action="store_true", help="re-distill the cached Model2Vec model"
    )
    parser.add_argument("--no-cache", action="store_true", help="do not use cached MiniLM vectors")
    args = parser.parse_args(argv)

    models, tasks = _parse_list(args.models), _parse_list(args.tasks)
    for bad, known, what in ((models, MODELS, "model"), (tasks, TASKS, "task")):
        unknown = [x for x in bad if x.removesuffix(":binary") not in known and "=" not in x]
        if unknown:
            parser.error(f"unknown {what}(s) {unknown}; choose from {list(known)}")
    if not args.eval_dir.is_dir():
        print(f"eval dir not found: {args.eval_dir}; nothing to evaluate (use --eval-dir)")
        return 0

    results: dict[str, ModelResult] = {}
    skipped: dict[str, str] = {}
    failed = False
    for model in models:
        name = model.split("=", 1)[0] + (
            ":binary" if model.endswith(":binary") and "=" in model else ""
        )
        _stderr(f"[{name}] loading")
        start = time.perf_counter()
        try:
            fn = load_model(model, args)
        except _peers.PeerUnavailable as exc:
            skipped[name] = str(exc)
            _stderr(f"[{name}] skipped: {exc}")
            continue
        except Exception as exc:  # report it and carry on with the other models
            skipped[name] = f"failed to load: {type(exc).__name__}: {exc}"
            _stderr(f"[{name}] {skipped[name]}")
            failed = True
            continue
        load_seconds = time.perf_counter() - start
        timed = TimedEncoder(fn)
        _stderr(f"[{name}] loaded in {load_seconds:.1f}s")
        scores = evaluate(timed, args.eval_dir, tasks)
        notes = ["cached"] if getattr(fn, "hits", 0) else []
        results[name] = ModelResult(scores, load_seconds, timed.seconds, timed.texts, notes)
        _stderr(
            f"[{name}] mean {scores.get('mean', float('nan')):.2f}, encode {timed.seconds:.1f}s"
        )

    if results:
        print(markdown_table(results, tasks))
        if any("cached" in r.notes for r in results.values()):
            print(
                "\n(cached): some vectors came from benchmarks/.cache, so encode time is partial."
            )
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")

    if args.json is not None:
        payload = {
            "eval_dir": str(args.eval_dir),
            "tasks": tasks,
            "results": {
                name: {
                    "scores": r.scores,
                    "load_seconds": r.load_seconds,
                    "encode_seconds": r.encode_seconds,
                    "texts_encoded": r.texts_encoded,
                    "notes": r.notes,
                }
                for name, r in results.items()
            },
            "skipped": skipped,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        _stderr(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
