"""Vocabulary ablation for static embeddings (issue 19): whole-word tokens, teacher-free.

Question: does giving the most frequent corpus words that the Llama-2 tokenizer splits into
two or more pieces a row of their own (as potion-base-32M grew to 63k tokens) pay, once the
model is trained briefly on retrieval-style pairs? The vocabulary's own effect is isolated
by running the *same* training on the unchanged 32k vocabulary.

Stages (each cached under ``build/vocab/``, a git-ignored folder):

1. ``count``: word frequencies, words being maximal runs of ASCII letters that start a
   space-separated word (the form ``"▁word"`` the tokenizer sees), over the text
   ``scripts/build_word_table.py`` counts (the corpus sentence files except the Wikipedia
   slice, and the first 60k Wikipedia articles). Choosing words needs no decontamination:
   no scored text is read or trained on.
2. ``tokenizer``: the ``--words`` most frequent words that split into >= 2 pieces get one
   token each, as BPE merges appended after the existing 61k (so every existing merge still
   applies first, and a word's pieces are merged left to right into it; the intermediate
   prefixes a chain needs become tokens too). Each added word is checked to tokenize to its
   one token; those that do not (another chain's merge fired first) are reported.
   Every new row is the weight-weighted mean of the rows it joins and its weight the sum of
   their weights, so the pooled vector of any text is the same as before, up to float16
   rounding (checked on sample texts): the untrained model with the new vocabulary is
   the old model.
3. ``pairs``: (title, first paragraph) and (title + heading, first paragraph of the
   section) pairs from the Wikipedia articles, dropping any pair with a text the quality
   harness scores (``sememe.training.pairs.scored_texts``, the project's decontamination).
4. ``train``: MultipleNegativesRanking with in-batch negatives at the Matryoshka prefixes
   64/128/256 (``sememe.training.contrastive.mnrl_loss``), Adam on the table only, plus an
   L2 pull of the rows towards the start table; identical settings, seed and pair order for
   both variants. Writes ``build/vocab/base-trained`` (``--variants base``) and
   ``build/vocab/vocab<N>k-trained`` (``--variants vocab``, N = ``--words`` / 1000; the
   ``tokenizer`` stage writes ``vocab<N>k-init``, the untrained extended model), folders that
   ``benchmarks/quality.py`` scores as ``LABEL=FOLDER``.
5. ``speed``: tokens per text and CPU seconds to encode texts no stage counted
   (``../shared/bench/corpus_100k.txt.gz`` and paragraphs of the uncounted articles), cold
   then warm, for sememe-base and every extended model built so far (all folders without a
   word table, so the comparison is the vocabulary's).

    python scripts/vocab_ablation.py --words 16000                   # all stages
    python scripts/vocab_ablation.py --words 16000 --stages speed    # one stage
    python benchmarks/quality.py --models sememe,base=build/vocab/base-trained,\
vocab=build/vocab/vocab16k-trained,sememe:binary,base=build/vocab/base-trained:binary,\
vocab=build/vocab/vocab16k-trained:binary

``--init teacher`` starts the new rows from all-MiniLM-L6-v2's one-word vectors through a
least-squares linear map instead of their pieces (``teacher_rows``); its models are
``vocab<N>k-teacher-init`` / ``-trained`` and its summary ``summary_<N>_teacher.json``:

    python scripts/vocab_ablation.py --words 16000 --init teacher --stages tokenizer,pairs,train \
--variants vocab

Torch runs on one thread (``--threads``): the machine is shared.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
WORK = ROOT / "build" / "vocab"
ARTICLES = SHARED / "corpus" / "documents" / "wikipedia_articles.jsonl.gz"
#: Articles counted for word frequencies (the ones ``build_word_table.py`` counts).
COUNT_ARTICLES = 60_000
#: A word as the tokenizer meets it: letters starting a space-separated word.
WORD = re.compile(r"(?<!\S)[A-Za-z]+(?![^\W\d_])")
STAGES = ("count", "tokenizer", "pairs", "train", "speed")


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- 1. count


def corpus_lines() -> Iterator[str]:
    """Sentence files (minus the Wikipedia slice) and the first articles' text: the text the
    word table is counted on (``scripts/build_word_table.py``, the same reader)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from build_word_table import corpus_lines as word_table_lines

    return word_table_lines(SHARED, COUNT_ARTICLES)


def count_words(path: Path) -> collections.Counter[str]:
    """Word counts (cached as JSON at ``path``)."""
    if path.is_file():
        return collections.Counter(json.loads(path.read_text(encoding="utf-8")))
    counts: collections.Counter[str] = collections.Counter()
    for line in corpus_lines():
        counts.update(WORD.findall(line))
    top = dict(counts.most_common(300_000))
    path.write_text(json.dumps(top), encoding="utf-8")
    return collections.Counter(top)


# --------------------------------------------------------------------------- 2. tokenizer


def split_words(
    tok: Tokenizer, counts: collections.Counter[str], n: int
) -> list[tuple[str, list[str]]]:
    """The ``n`` most frequent words the tokenizer splits into >= 2 pieces, with the pieces."""
    out = []
    words = [w for w, _ in counts.most_common()]
    for start in range(0, len(words), 20_000):
        chunk = words[start : start + 20_000]
        for word, enc in zip(chunk, tok.encode_batch(chunk, add_special_tokens=False), strict=True):
            if len(enc.tokens) >= 2 and not any(t.startswith("<0x") for t in enc.tokens):
                out.append((word, list(enc.tokens)))
                if len(out) == n:
                    return out
    return out


def extend_tokenizer(
    tok: Tokenizer, chosen: list[tuple[str, list[str]]]
) -> tuple[Tokenizer, list[tuple[int, int]], list[str]]:
    """A tokenizer with a merge chain per word; returns it, the (left, right) ids each new
    token joins (in id order), and the words that did not come out as one token."""
    spec = json.loads(tok.to_str())
    vocab: dict[str, int] = spec["model"]["vocab"]
    merges: list[Any] = spec["model"]["merges"]
    top_id = max(max(vocab.values()), *(t["id"] for t in spec["added_tokens"]))
    known = {tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in merges}
    parts: list[tuple[int, int]] = []
    for _, pieces in chosen:
        cur = pieces[0]
        for piece in pieces[1:]:
            joined = cur + piece
            if joined not in vocab:
                top_id += 1
                vocab[joined] = top_id
                parts.append((vocab[cur], vocab[piece]))
            if (cur, piece) not in known:
                known.add((cur, piece))
                merges.append(
                    [cur, piece] if merges and isinstance(merges[0], list) else f"{cur} {piece}"
                )
            cur = joined
    new = Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))
    failed = []
    words = [w for w, _ in chosen]
    for word, enc in zip(words, new.encode_batch(words, add_special_tokens=False), strict=True):
        if enc.tokens != ["▁" + word]:
            failed.append(word)
    return new, parts, failed


def extended_arrays(
    table: np.ndarray, weights: np.ndarray, parts: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Rows for the new tokens: the weight-weighted mean of the two rows each joins (so of
    all its pieces), weight the sum: pooling any text gives the same vector as before."""
    n = len(table) + len(parts)
    out = np.zeros((n, table.shape[1]), np.float64)
    w = np.zeros(n, np.float64)
    out[: len(table)], w[: len(table)] = table, weights
    for i, (a, b) in enumerate(parts, start=len(table)):
        w[i] = w[a] + w[b]
        out[i] = (w[a] * out[a] + w[b] * out[b]) / max(w[i], 1e-12)
    return out.astype(np.float32), w.astype(np.float32)


def teacher_rows(
    tok: Tokenizer,
    table: np.ndarray,
    weights: np.ndarray,
    init_table: np.ndarray,
    n_old: int,
    *,
    threads: int,
) -> tuple[np.ndarray, dict[str, Any]]:
    """``init_table`` with every new row (index >= ``n_old``) replaced by the teacher's view.

    The piece-mean rows only restate what the pieces already say; a new word earns its
    own meaning only if something gives it one. Here all-MiniLM-L6-v2 embeds each new
    token's text as a one-word input; a linear map 384 -> dim, fitted by least squares from
    the teacher's vectors of the existing single-token words (``▁`` + 2 or more ASCII
    letters) to their rows (pooling is a weighted mean, so a one-token text pools to its
    row and the weight cancels), carries them into the table's space; each mapped row is
    rescaled to the norm of its piece mean (the pooled vector of its pieces), and keeps the
    pieces' summed weight, so a word weighs in a sentence as its pieces did."""
    from sememe.training.teacher import Teacher

    teacher = Teacher.load(threads=threads)
    vocab = tok.get_vocab()
    old = sorted(
        (i, t[1:]) for t, i in vocab.items() if i < n_old and re.fullmatch("▁[A-Za-z]{2,}", t)
    )
    new = sorted((i, t.removeprefix("▁")) for t, i in vocab.items() if i >= n_old)
    if len(new) != len(init_table) - n_old:
        raise RuntimeError(
            f"{len(new)} new tokens in the tokenizer, {len(init_table) - n_old} rows"
        )
    t0 = time.process_time()
    x_old = teacher.encode([w for _, w in old], batch_size=256).astype(np.float64)
    x_new = teacher.encode([w for _, w in new], batch_size=256).astype(np.float64)
    cpu = time.process_time() - t0
    ids_old = np.array([i for i, _ in old])
    y = table[ids_old].astype(np.float64)
    design = np.hstack([x_old, np.ones((len(x_old), 1))])  # with a bias column
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    fit = design @ coef
    r2 = 1.0 - float(((y - fit) ** 2).sum() / ((y - y.mean(0)) ** 2).sum())
    cos_fit = np.einsum("ij,ij->i", fit, y) / (
        np.linalg.norm(fit, axis=1) * np.linalg.norm(y, axis=1) + 1e-12
    )
    mapped = np.hstack([x_new, np.ones((len(x_new), 1))]) @ coef
    out = init_table.astype(np.float64).copy()
    ids_new = np.array([i for i, _ in new])
    piece_norm = np.linalg.norm(out[ids_new], axis=1)
    out[ids_new] = (
        mapped * (piece_norm / np.maximum(np.linalg.norm(mapped, axis=1), 1e-12))[:, None]
    )
    cos_pieces = np.einsum("ij,ij->i", mapped, init_table[ids_new]) / (
        np.linalg.norm(mapped, axis=1) * piece_norm + 1e-12
    )
    del weights  # the new rows keep their pieces' summed weight (set by extended_arrays)
    info = {
        "teacher": str(teacher.path),
        "fit_words": len(old),
        "new_tokens": len(new),
        "fit_r2": r2,
        "fit_cosine_mean": float(cos_fit.mean()),
        "cosine_to_piece_mean": float(cos_pieces.mean()),
        "teacher_cpu_s": cpu,
    }
    return out.astype(np.float32), info


# --------------------------------------------------------------------------- 3. pairs


def wiki_pairs(exclude: set[str], limit: int | None) -> tuple[list[str], list[str]]:
    """(title [+ heading], first paragraph) pairs, none holding a scored text; a random
    ``limit`` of them (in file order) if given."""
    from sememe.training.pairs import wikipedia_pairs

    anchors, positives = wikipedia_pairs(ARTICLES, exclude)
    if limit and limit < len(anchors):
        keep = np.sort(np.random.default_rng(0).permutation(len(anchors))[:limit])
        anchors = [anchors[i] for i in keep]
        positives = [positives[i] for i in keep]
    return anchors, positives


# --------------------------------------------------------------------------- 4. train


def train(
    table: np.ndarray,
    weights: np.ndarray,
    tok: Tokenizer,
    anchors: Sequence[str],
    positives: Sequence[str],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    pull: float,
    seed: int,
    max_tokens: int = 256,
) -> tuple[np.ndarray, list[dict[str, float]]]:
    """MNRL (Matryoshka 64/128/256) + ``pull`` x mean squared row change, Adam on the table;
    ``lr`` is relative to the table's standard deviation (as the pipeline's stages)."""
    from sememe.training.contrastive import mnrl_loss
    from sememe.training.student import Student, tokenize, torch

    a, p = tokenize(tok, anchors, max_tokens), tokenize(tok, positives, max_tokens)
    keep = np.flatnonzero((a.lengths() > 0) & (p.lengths() > 0))
    student = Student(table, weights)
    student.log_weight.requires_grad_(False)
    student.projection.requires_grad_(False)
    start = student.table.detach().clone()
    optim = torch.optim.Adam([student.table], lr=lr * float(np.std(table)))
    dims = tuple(d for d in (64, 128, 256) if d <= table.shape[1])
    steps = epochs * int(np.ceil(len(keep) / batch_size))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / steps)
    )
    rng = np.random.default_rng(seed)
    log: list[dict[str, float]] = []
    step = 0
    for epoch in range(epochs):
        t0, total = time.process_time(), 0.0
        order = rng.permutation(keep)
        for s in range(0, len(order), batch_size):
            rows = order[s : s + batch_size]
            ids_a, off_a = a.batch(rows)
            ids_p, off_p = p.batch(rows)
            loss = mnrl_loss(student(ids_a, off_a), student(ids_p, off_p), dims, 20.0)
            if pull:
                used = torch.unique(torch.cat([ids_a, ids_p]))
                delta = student.table[used] - start[used]
                loss = loss + pull * (delta * delta).sum(dim=1).mean() / float(np.var(table))
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            total += float(loss.detach())
            step += 1
            if step % 100 == 0:
                _log(f"  step {step}/{steps} loss {total / (s // batch_size + 1):.4f}")
        log.append(
            {
                "epoch": epoch + 1,
                "loss": total / max(1, int(np.ceil(len(order) / batch_size))),
                "cpu_s": time.process_time() - t0,
            }
        )
    trained, _ = student.arrays()
    return trained, log


def save_model(
    tok: Tokenizer, table: np.ndarray, weights: np.ndarray, name: str, info: dict[str, Any]
) -> Path:
    from sememe.training.student import to_encoder

    enc = to_encoder(
        tok,
        table,
        weights,
        name=name,
        description=f"vocabulary ablation model {name} (scripts/vocab_ablation.py); not bundled",
        provenance=json.loads(json.dumps(info, default=str)),
        license="see src/sememe/models/sememe-base/MODEL_CARD.md; trained on CC BY-SA 3.0 Wikipedia text",
        matryoshka_dims=(64, 128, 256),
        max_tokens=2048,
    )
    path = WORK / name
    enc.save(path, overwrite=True)
    return path


# --------------------------------------------------------------------------- 5. speed


def speed_texts(n_texts: int) -> dict[str, list[str]]:
    """Texts no stage counted: the encode benchmark's lines (man pages, Python and Rust
    docs) and paragraphs of the Wikipedia articles after the counted ones."""
    with gzip.open(SHARED / "bench" / "corpus_100k.txt.gz", "rt", encoding="utf-8") as f:
        bench = [line.rstrip("\n") for _, line in zip(range(n_texts), f, strict=False)]
    wiki: list[str] = []
    with gzip.open(ARTICLES, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < COUNT_ARTICLES:
                continue
            for section in json.loads(line)["sections"]:
                wiki.extend(section["paragraphs"])
            if len(wiki) >= n_texts // 4:
                break
    return {"corpus_100k lines": bench, "Wikipedia paragraphs (uncounted articles)": wiki}


def speed(folders: dict[str, Path], n_texts: int) -> dict[str, dict[str, dict[str, float]]]:
    """Tokens per text and encode CPU seconds, cold (a fresh encoder: texts it has not
    seen) and warm (the same texts again), per text set and model folder; medians of 3
    runs, the models alternating."""
    import sememe

    out: dict[str, dict[str, dict[str, float]]] = {}
    for set_name, texts in speed_texts(n_texts).items():
        times: dict[str, dict[str, list[float]]] = {k: {"cold": [], "warm": []} for k in folders}
        tokens: dict[str, float] = {}
        for _ in range(3):
            for label, path in folders.items():
                enc = sememe.load(str(path))
                t0 = time.process_time()
                enc.encode(texts)
                times[label]["cold"].append(time.process_time() - t0)
                t0 = time.process_time()
                enc.encode(texts)
                times[label]["warm"].append(time.process_time() - t0)
                if label not in tokens:
                    ids = enc.tokenizer.encode_batch(texts, add_special_tokens=False)
                    tokens[label] = float(np.mean([len(e.ids) for e in ids]))
        out[f"{set_name} ({len(texts):,})"] = {
            k: {
                "tokens_per_text": tokens[k],
                "cold_cpu_s": float(np.median(v["cold"])),
                "warm_cpu_s": float(np.median(v["warm"])),
            }
            for k, v in times.items()
        }
    return out


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=16_000, help="whole words to add")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma list of stages")
    parser.add_argument("--pairs", type=int, default=None, help="use a random subset of pairs")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.01, help="relative to the table's std")
    parser.add_argument("--pull", type=float, default=1.0, help="L2 pull weight (0: none)")
    parser.add_argument("--speed-texts", type=int, default=100_000)
    parser.add_argument(
        "--variants",
        default="base,vocab",
        help="which models the train stage trains: base (32k vocabulary), vocab (extended)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--init",
        choices=("pieces", "teacher"),
        default="pieces",
        help="new rows from their pieces' mean, or from the teacher (all-MiniLM-L6-v2) "
        "through a least-squares map; teacher models are named vocab<N>k-teacher-*",
    )
    parser.add_argument("--teacher-threads", type=int, default=2)
    args = parser.parse_args(argv)
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    if unknown := [s for s in stages if s not in STAGES]:
        parser.error(f"unknown stage(s) {unknown}; choose from {list(STAGES)}")
    if not ARTICLES.is_file():
        print(f"{ARTICLES} not found; nothing to do")
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    import sememe
    from sememe.training.student import encoder_arrays, torch

    torch.set_num_threads(args.threads)
    base = sememe.load()
    table, weights = encoder_arrays(base)
    if weights is None:
        weights = np.ones(len(table), np.float32)
    summary_path = WORK / f"summary_{args.words}.json"
    summary: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.is_file() else {}

    tag = f"vocab{args.words // 1000}k"  # folder prefix of this vocabulary's models
    if args.init == "teacher":
        tag += "-teacher"
        summary_path = WORK / f"summary_{args.words}_teacher.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    counts = count_words(WORK / "word_counts.json")
    _log(f"{len(counts):,} distinct words counted")
    chosen = split_words(base.tokenizer, counts, args.words)
    new_tok, parts, failed = extend_tokenizer(base.tokenizer, chosen)
    new_table, new_weights = extended_arrays(table, weights, parts)
    if args.init == "teacher" and ("tokenizer" in stages or "train" in stages):
        new_table, summary["teacher_init"] = teacher_rows(
            new_tok, table, weights, new_table, len(table), threads=args.teacher_threads
        )
        torch.set_num_threads(args.threads)
        _log(f"teacher init: {summary['teacher_init']}")
    pieces = np.array([len(p) for _, p in chosen])
    covered = sum(counts[w] for w, _ in chosen)
    summary["vocabulary"] = {
        "words_added": len(chosen),
        "new_tokens": len(parts),
        "intermediate_tokens": len(parts) - len(chosen),
        "vocab_size": len(new_table),
        "not_one_token": len(failed),
        "not_one_token_examples": failed[:10],
        "pieces_mean": float(pieces.mean()),
        "least_frequent_count": counts[chosen[-1][0]],
        "share_of_word_occurrences": covered / sum(counts.values()),
    }
    _log(f"vocabulary: {summary['vocabulary']}")
    if "tokenizer" in stages:
        init = save_model(
            new_tok,
            new_table,
            new_weights,
            f"{tag}-init",
            {"stage": "vocab-init", "words": len(chosen)},
        )
        probe = [line for line, _ in zip(corpus_lines(), range(3000), strict=False) if line.strip()]
        probe += ["Wikipedia is an unbelievably large encyclopedia.", "housing prices rose"]
        old = base.encode(probe)
        ext = sememe.load(str(init)).encode(probe)
        cos = np.einsum("ij,ij->i", old, ext)
        summary["init_cosine_to_base"] = {"min": float(cos.min()), "mean": float(cos.mean())}
        _log(f"init vs base cosine: {summary['init_cosine_to_base']}")

    if "pairs" in stages or "train" in stages:
        from sememe.training.pairs import scored_texts

        exclude = scored_texts(SHARED / "eval")
        anchors, positives = wiki_pairs(exclude, args.pairs)
        summary["pairs"] = {"pairs": len(anchors), "blocklist": len(exclude)}
        _log(f"pairs: {summary['pairs']}")
    if "train" in stages:
        settings = {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "pull": args.pull,
            "seed": 0,
            "pairs": len(anchors),
        }
        for name, (tok, tb, wt) in {
            "base-trained": (base.tokenizer, table, weights),
            f"{tag}-trained": (new_tok, new_table, new_weights),
        }.items():
            if name.split("-")[0].rstrip("0123456789k") not in args.variants.split(","):
                continue
            _log(f"training {name} ({len(tb):,} rows)")
            trained, log = train(
                tb,
                wt,
                tok,
                anchors,
                positives,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                pull=args.pull,
                seed=0,
            )
            save_model(tok, trained, wt, name, {"stage": name, **settings, "log": log})
            summary.setdefault("train", {})[name] = {**settings, "log": log}
            _log(f"{name}: {log}")
    if "speed" in stages:
        folders = {
            "sememe-base (no word table)": WORK / "base-plain",
            f"extended +{len(chosen):,} words": WORK / f"{tag}-init",
        }
        for other in sorted(WORK.glob("vocab*k-init")):  # other vocabulary sizes built before
            if other.name != f"{tag}-init":
                folders[f"extended ({other.name})"] = other
        if not folders[f"extended +{len(chosen):,} words"].is_dir():
            raise SystemExit(f"{WORK / (tag + '-init')} missing: run the tokenizer stage first")
        if not folders["sememe-base (no word table)"].is_dir():
            save_model(
                base.tokenizer, table, weights, "base-plain", {"stage": "copy of sememe-base"}
            )
        summary["speed"] = speed(folders, args.speed_texts)
        _log(f"speed: {summary['speed']}")
    if summary_path.is_file():  # another run (one variant each) may have written meanwhile
        done = json.loads(summary_path.read_text())
        for key, value in done.get("train", {}).items():
            summary.setdefault("train", {}).setdefault(key, value)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
