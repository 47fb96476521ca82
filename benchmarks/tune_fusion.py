"""Tune sememe's hybrid fusion (fusion method, alpha, fusion_candidates) on development data.

Grid: fusion in {zscore, rrf} x alpha in 0.00, 0.05, ..., 1.00 x fusion_candidates in
{50, 100, 200}, scored by nDCG@10 on the "tune" splits only: SciFact tune (even positions of
the sorted train-qrels query ids) and Wikipedia tune (articles of even id hash; see
``_retrieval.py``). The setting chosen per set and the joint setting (best mean of the two
tune scores; ties go to the earlier grid point: zscore before rrf, smaller alpha, fewer
candidates) are then scored on the disjoint "check" splits, which are reported and never used
for choosing. Nothing here reads a test split.

One float index (lexical=True) is built per set and per fusion_candidates value, from vectors
encoded once; alpha and fusion are passed per ``search`` call. Writes
``benchmarks/results/tune_fusion.md``.

    python benchmarks/tune_fusion.py                 # about 10 minutes on 2 busy cores
    python benchmarks/tune_fusion.py --kind binary+rerank --out -
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import sys
import time
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))

import _retrieval  # noqa: E402
import retrieval  # noqa: E402

import sememe  # noqa: E402
from sememe.index import Index  # noqa: E402

K = 10
RESULTS = _HERE / "results" / "tune_fusion.md"
FUSIONS = ("zscore", "rrf")
ALPHAS = tuple(round(0.05 * i, 2) for i in range(21))
CANDIDATES = (50, 100, 200)

Setting = tuple[str, float, int]  # (fusion, alpha, fusion_candidates)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build(
    rs: _retrieval.RetrievalSet, enc: sememe.Encoder, vectors: np.ndarray, kind: str, fc: int
) -> Index:
    return Index.from_texts(
        rs.texts,
        rs.doc_ids,
        encoder=enc,
        vectors=vectors,
        kind=kind,
        lexical=True,
        fusion_candidates=fc,
    )


def score(index: Index, rs: _retrieval.RetrievalSet, fusion: str, alpha: float) -> float:
    hits = index.search(rs.query_texts, k=K, mode="hybrid", alpha=alpha, fusion=fusion)
    return rs.ndcg10([[h.id for h in row] for row in hits])


def grid(
    name: str,
    tune: _retrieval.RetrievalSet,
    check: _retrieval.RetrievalSet,
    enc: sememe.Encoder,
    kind: str,
) -> tuple[dict[Setting, float], dict[int, Index], dict[str, float]]:
    """Tune scores of every setting, the built indexes (per candidates) and side baselines."""
    if tune.doc_ids != check.doc_ids:
        raise AssertionError(f"{name}: tune and check must search the same corpus")
    t0 = time.perf_counter()
    vectors = enc.encode(tune.texts)
    _log(f"== {name}: {tune.describe()}; encoded in {time.perf_counter() - t0:.1f}s")
    scores: dict[Setting, float] = {}
    indexes: dict[int, Index] = {}
    sides: dict[str, float] = {}
    for fc in CANDIDATES:
        index = indexes[fc] = build(tune, enc, vectors, kind, fc)
        t0 = time.perf_counter()
        for fusion in FUSIONS:
            for alpha in ALPHAS:
                scores[(fusion, alpha, fc)] = score(index, tune, fusion, alpha)
        best = max((v, s) for s, v in scores.items() if s[2] == fc)
        _log(
            f"  candidates={fc}: {len(FUSIONS) * len(ALPHAS)} settings in "
            f"{time.perf_counter() - t0:.0f}s; best {best[1]} {best[0]:.2f}"
        )
    index = indexes[CANDIDATES[0]]
    for split, rs in (("tune", tune), ("check", check)):
        for mode in ("dense", "lexical"):
            hits = index.search(rs.query_texts, k=K, mode=mode)
            sides[f"{mode} {split}"] = rs.ndcg10([[h.id for h in row] for row in hits])
    return scores, indexes, sides


def best(scores: dict[Setting, float]) -> Setting:
    """The highest score; ties to the earliest grid point (grid order of ``scores``)."""
    top = max(scores.values())
    return next(s for s, v in scores.items() if v == top)


def fmt(setting: Setting) -> str:
    return f"fusion={setting[0]}, alpha={setting[1]:.2f}, fusion_candidates={setting[2]}"


def curve_table(all_scores: dict[str, dict[Setting, float]], fc: int) -> str:
    names = list(all_scores)
    head = "| alpha | " + " | ".join(f"{n} {f}" for f in FUSIONS for n in names) + " |"
    lines = [head, "|---:|" + "---:|" * (len(FUSIONS) * len(names))]
    for alpha in ALPHAS:
        cells = [f"{all_scores[n][(f, alpha, fc)]:.2f}" for f in FUSIONS for n in names]
        lines.append(f"| {alpha:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", default="float")
    ap.add_argument("--n-articles", type=int, default=6000, help="Wikipedia slice size")
    ap.add_argument("--out", type=Path, default=RESULTS, help="markdown report ('-': none)")
    args = ap.parse_args(argv)
    if not _retrieval.SCIFACT.is_dir():
        print(f"{_retrieval.SHARED} not found; nothing to tune")
        return 0
    enc = sememe.load()
    start_load = retrieval.load_average()
    t_start = time.perf_counter()
    sets = {
        "scifact": (_retrieval.scifact("tune"), _retrieval.scifact("check")),
        "wikipedia": (
            _retrieval.wikipedia("tune", n_articles=args.n_articles),
            _retrieval.wikipedia("check", n_articles=args.n_articles),
        ),
    }
    all_scores: dict[str, dict[Setting, float]] = {}
    indexes: dict[str, dict[int, Index]] = {}
    sides: dict[str, dict[str, float]] = {}
    for name, (tune, check) in sets.items():
        all_scores[name], indexes[name], sides[name] = grid(name, tune, check, enc, args.kind)
    names = list(sets)
    joint_scores = {
        s: float(np.mean([all_scores[n][s] for n in names])) for s in all_scores[names[0]]
    }
    fresh = Index(enc, lexical=True)  # an empty index shows the defaults
    default: Setting = (fresh.fusion, float(fresh.alpha), fresh.fusion_candidates)
    chosen: dict[str, Setting] = {f"best for {n}": best(all_scores[n]) for n in names}
    chosen["best joint (mean of both)"] = best(joint_scores)
    if default in joint_scores:
        chosen["current defaults"] = default
    check_scores: dict[Setting, dict[str, float]] = {}
    for setting in dict.fromkeys(chosen.values()):
        fusion, alpha, fc = setting
        check_scores[setting] = {n: score(indexes[n][fc], sets[n][1], fusion, alpha) for n in names}

    rows = [
        "| choice | setting | "
        + " | ".join(f"{n} tune" for n in names)
        + " | mean tune | "
        + " | ".join(f"{n} check" for n in names)
        + " | mean check |",
        "|---|---|" + "---:|" * (2 * len(names) + 2),
    ]
    for label, setting in chosen.items():
        tunes = [all_scores[n][setting] for n in names]
        checks = [check_scores[setting][n] for n in names]
        rows.append(
            f"| {label} | {fmt(setting)} | "
            + " | ".join(f"{v:.2f}" for v in tunes)
            + f" | {np.mean(tunes):.2f} | "
            + " | ".join(f"{v:.2f}" for v in checks)
            + f" | {np.mean(checks):.2f} |"
        )
    side_rows = [
        "| side alone | "
        + " | ".join(f"{n} {sp}" for n in names for sp in ("tune", "check"))
        + " |"
    ]
    side_rows.append("|---|" + "---:|" * (2 * len(names)))
    for mode in ("dense", "lexical"):
        cells = [f"{sides[n][f'{mode} {sp}']:.2f}" for n in names for sp in ("tune", "check")]
        side_rows.append(f"| sememe {mode} | " + " | ".join(cells) + " |")
    top_joint = sorted(joint_scores.items(), key=lambda kv: -kv[1])[:10]
    top_rows = ["| setting | " + " | ".join(f"{n} tune" for n in names) + " | mean tune |"]
    top_rows.append("|---|" + "---:|" * (len(names) + 1))
    for setting, mean in top_joint:
        cells = " | ".join(f"{all_scores[n][setting]:.2f}" for n in names)
        top_rows.append(f"| {fmt(setting)} | {cells} | {mean:.2f} |")
    per_fusion = []
    for fusion in FUSIONS:
        sub = {s: v for s, v in joint_scores.items() if s[0] == fusion}
        s = best(sub)
        per_fusion.append(f"- best {fusion}: {fmt(s)}, mean tune {sub[s]:.2f}")
    curves = "\n\n".join(
        f"nDCG@10 on the tune splits, fusion_candidates={fc}:\n\n{curve_table(all_scores, fc)}"
        for fc in CANDIDATES
    )
    command = "python benchmarks/tune_fusion.py " + " ".join(sys.argv[1:] if argv is None else argv)
    report = (
        "# Hybrid fusion tuning (development data only)\n\n"
        f"Command: `{command.strip()}`  \n"
        f"Machine: {retrieval.machine()}; load average {start_load} at start.  \n"
        f"Versions: {retrieval.versions()}  \n"
        f"Index kind {args.kind}, sememe default model; {len(ALPHAS) * len(FUSIONS) * len(CANDIDATES)} "
        f"settings per set, {time.perf_counter() - t_start:.0f}s in all.\n\n"
        "Sets: "
        + "; ".join(
            f"{sets[n][0].describe()} / check {len(sets[n][1].queries):,} queries" for n in names
        )
        + ". Settings are chosen on the tune splits; the check splits (disjoint queries, same "
        "corpus) only report. alpha is the dense weight (1.0 = dense only, 0.0 = lexical only).\n\n"
        "## Chosen settings\n\n" + "\n".join(rows) + "\n\n" + "\n".join(per_fusion) + "\n\n"
        "## Each side alone (mode dense / lexical)\n\n" + "\n".join(side_rows) + "\n\n"
        "## Ten best joint settings (tune)\n\n" + "\n".join(top_rows) + "\n\n"
        "## Curves\n\n" + curves + "\n"
    )
    print(report)
    if str(args.out) != "-":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report, encoding="utf-8")
        _log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
