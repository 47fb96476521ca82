"""The training stages as functions over one work folder, each resumable and cached.

Work folder layout (every file is written atomically; a stage reuses what is there)::

    WORK/teacher/corpus/    teacher vectors of corpus sentences (TeacherCache)
    WORK/teacher/pairs/     teacher vectors of the pair texts (WordNet, STS-B/SICK/MRPC/Quora)
    WORK/token-vectors.npy  teacher vectors of every vocabulary token
    WORK/token-counts.npy   corpus token frequencies (for SIF)
    WORK/<stage>/           each stage's model, an ordinary sememe model folder
    WORK/<stage>.ckpt/      training checkpoints

The command line in :mod:`sememe.training.__main__` calls these functions.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from ..encoder import Encoder
from ..errors import InvalidArgumentError
from ..loading import load
from . import binarize, contrastive, distill, merge, pairs, tokenlearn
from .corpus import corpus_files, sif_weights, token_counts, training_sentences
from .student import Student, encoder_arrays, to_encoder, tokenize, torch
from .teacher import Teacher, TeacherCache, encode_cached

Log = Callable[[str], None] | None

#: Sources that enter the model and their licences (copied into the model's provenance).
DATA_LICENSES = {
    "shared/corpus/sentences/wikipedia_en_wikitasks.txt.gz": "CC BY-SA 3.0 (English Wikipedia)",
    "shared/corpus/sentences/nltk_*.txt.gz": "public domain / CC BY 4.0 as stated in SOURCES.md",
    "shared/corpus/wordnet.jsonl.gz": "WordNet 3.0 licence (Princeton, permissive)",
    "shared/eval/stsb/train.tsv": "STS Benchmark train (CC BY-SA 4.0 / source licences)",
    "shared/eval/sick/train.tsv": "SICK train (CC BY-NC-SA 3.0)",
    "shared/eval/mrpc/train.tsv": "MRPC train (Microsoft Research, research use)",
    "shared/eval/quora/dev.tsv": "Quora Question Pairs (Quora terms of use)",
}


def teacher_pass(
    work: Path,
    *,
    corpus_dir: Path,
    eval_dir: Path | None,
    wordnet: Path | None,
    teacher_path: Path | None = None,
    max_corpus: int | None = None,
    threads: int | None = None,
    log: Log = print,
) -> None:
    """Encode the pair texts, then the corpus sentences (up to ``max_corpus``), into caches."""
    teacher = Teacher.load(teacher_path, threads=threads)
    # The cache holds every pair text; texts the harness scores are dropped when the cache is
    # read (teacher_data), so changing the blocklist never invalidates hours of teacher work.
    found = collect_pairs(eval_dir, wordnet)
    texts = pairs.pair_texts(found, _scored(eval_dir))
    if texts:
        encode_cached(teacher, texts, work / "teacher" / "pairs", log=log)
    sentences = training_sentences(corpus_dir)
    shard = 10_000
    max_shards = None if max_corpus is None else -(-max_corpus // shard)
    encode_cached(
        teacher,
        sentences,
        work / "teacher" / "corpus",
        shard_size=shard,
        max_shards=max_shards,
        log=log,
    )


def collect_pairs(
    eval_dir: Path | None, wordnet: Path | None, exclude: set[str] | None = None
) -> pairs.Pairs:
    """Positive pairs from the eval train splits and WordNet, without ``exclude`` texts."""
    found = pairs.Pairs()
    if eval_dir is not None:
        found.extend(pairs.eval_pairs(eval_dir, exclude))
    if wordnet is not None:
        found.extend(pairs.wordnet_pairs(wordnet))
    return found


def _scored(eval_dir: Path | None, exclude: set[str] | None = None) -> pairs.ScoredPairs:
    return pairs.scored_pairs(eval_dir, exclude) if eval_dir is not None else pairs.ScoredPairs()


def blocklist(eval_dir: Path | None) -> set[str]:
    """Texts the quality harness scores (empty without an eval folder)."""
    return pairs.scored_texts(eval_dir) if eval_dir is not None else set()


def teacher_data(
    work: Path, max_corpus: int | None = None, exclude: set[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Cached teacher texts and vectors (corpus first, then pair texts), minus ``exclude``."""
    texts: list[str] = []
    parts: list[np.ndarray] = []
    for name, limit in (("corpus", max_corpus), ("pairs", None)):
        folder = work / "teacher" / name
        if (folder / "manifest.json").is_file():
            t, v = TeacherCache(folder).load(limit)
            if exclude and t:
                keep = [i for i, text in enumerate(t) if pairs.text_key(text) not in exclude]
                t, v = [t[i] for i in keep], v[keep]
            texts += t
            if len(v):
                parts.append(v)
    if not texts:
        raise FileNotFoundError(
            f"no teacher vectors under {work / 'teacher'}; run the teacher stage"
        )
    return texts, np.concatenate(parts)


def student_tokenizer(name: str | None) -> tuple[Tokenizer, Encoder]:
    """The tokenizer (and model) of a sememe model folder or registered name."""
    base = load(name) if name else load()
    return base.tokenizer, base


def distill_stage(
    work: Path,
    *,
    tokenizer_from: str | None,
    dim: int,
    corpus_dir: Path,
    sif_a: float,
    teacher_path: Path | None = None,
    threads: int | None = None,
    log: Log = print,
) -> Encoder:
    """Vocabulary distillation: teacher token vectors -> PCA -> SIF weights -> model folder."""
    tokenizer, base = student_tokenizer(tokenizer_from)
    teacher = Teacher.load(teacher_path, threads=threads)
    key = {"tokenizer": _tokenizer_digest(tokenizer), "teacher": teacher.fingerprint()}
    vectors = _cached_array(
        work / "token-vectors.npy",
        key,
        lambda: distill.teacher_token_vectors(teacher, tokenizer).astype(np.float16),
    ).astype(np.float32)
    table, pca = distill.distilled_table(vectors, dim)
    counts = corpus_token_counts(work, tokenizer, corpus_dir)
    weights = sif_weights(counts, sif_a)
    if log:
        log(f"distilled {table.shape[0]} tokens; PCA keeps {pca.explained.sum():.1%} of variance")
    encoder = to_encoder(
        tokenizer,
        table,
        weights,
        name="distilled",
        description=f"teacher token vectors, PCA {dim}, SIF a={sif_a}",
        provenance={"stage": "distill", "teacher": str(teacher.path), "sif_a": sif_a},
        license="see MODEL_CARD.md",
        matryoshka_dims=(*tuple(d for d in (64, 128) if d < dim), dim),
        max_tokens=base.config.max_tokens,
    )
    encoder.save(work / "distilled", overwrite=True)
    return encoder


def _cached_array(path: Path, key: dict[str, Any], compute: Callable[[], np.ndarray]) -> np.ndarray:
    """``path`` if its sidecar ``.json`` holds ``key``, else ``compute()`` saved atomically."""
    sidecar = path.with_suffix(".json")
    if path.is_file() and sidecar.is_file():
        try:
            if json.loads(sidecar.read_text()) == key:
                return np.load(path)
        except (ValueError, OSError):
            pass  # unreadable: recompute
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, value)
    os.replace(tmp, path)
    tmp_json = sidecar.with_name(sidecar.name + ".tmp")
    tmp_json.write_text(json.dumps(key))
    os.replace(tmp_json, sidecar)
    return value


def _tokenizer_digest(tokenizer: Tokenizer) -> str:
    return hashlib.sha256(tokenizer.to_str().encode()).hexdigest()[:16]


def _corpus_digest(corpus_dir: Path) -> str:
    digest = hashlib.sha256()
    for file in corpus_files(corpus_dir):
        digest.update(f"{file.name}:{file.stat().st_size}".encode())
    return digest.hexdigest()[:16]


def corpus_token_counts(work: Path, tokenizer: Tokenizer, corpus_dir: Path) -> np.ndarray:
    """Token frequencies over the corpus sentences, cached in ``WORK/token-counts.npy``."""
    vocab = tokenizer.get_vocab_size(with_added_tokens=True)
    key = {"tokenizer": _tokenizer_digest(tokenizer), "corpus": _corpus_digest(corpus_dir)}
    return _cached_array(
        work / "token-counts.npy",
        key,
        lambda: token_counts(tokenizer, training_sentences(corpus_dir), vocab),
    )


def _initial(init: str, work: Path) -> Encoder:
    """A starting model: ``distilled`` (from this work folder), a model name, or a folder."""
    if init == "distilled":
        return load(work / "distilled")
    if (work / init).is_dir():
        return load(work / init)
    return load(init)


def _arrays(encoder: Encoder) -> tuple[np.ndarray, np.ndarray | None]:
    """The starting table (mapping resolved) and weights; refuses what a Student cannot pool."""
    if encoder.config.ignore_token_ids or encoder.config.add_special_tokens:
        raise InvalidArgumentError(
            f"{encoder.config.name}: models with ignore_token_ids or add_special_tokens "
            "cannot be trained here"
        )
    if encoder.config.pooling != "weighted_mean" and encoder.arrays.weights is not None:
        raise InvalidArgumentError(
            f"{encoder.config.name}: only weighted_mean pooling can be trained"
        )
    return encoder_arrays(encoder)


def tokenlearn_stage(
    work: Path,
    *,
    init: str,
    out: str,
    config: tokenlearn.TrainConfig,
    eval_dir: Path | None = None,
    max_corpus: int | None = None,
    log: Log = print,
) -> Encoder:
    """Corpus training from ``init`` towards the cached teacher vectors.

    Texts that the quality harness in ``eval_dir`` scores are left out.
    """
    start = _initial(init, work)
    texts, vectors = teacher_data(work, max_corpus, blocklist(eval_dir))
    table, weights = _arrays(start)
    if config.loss == "cosine":
        pca = distill.fit_pca(vectors, table.shape[1])
        targets = pca.transform(vectors)
        student = Student(table, weights)
        data = tokenize(start.tokenizer, texts)
        # Put the starting table into the target space first (pooling is linear in it).
        with torch.no_grad():
            sample = np.arange(min(50_000, len(data)))
            pooled = student(*data.batch(sample)).numpy()
        table = table @ tokenlearn.fit_alignment(pooled, targets[sample])
    else:
        targets = vectors
        data = tokenize(start.tokenizer, texts)
    student = Student(table, weights)
    config = _scaled(config, table)
    history = tokenlearn.train(student, data, targets, config, work / f"{out}.ckpt", log=log)
    trained_table, trained_weights = student.arrays()
    encoder = _finish(
        work,
        start,
        trained_table,
        trained_weights,
        out,
        {
            "stage": "tokenlearn",
            "init": init,
            "texts": len(texts),
            "config": asdict(config),
            "history": history.history,
        },
    )
    return encoder


def contrastive_stage(
    work: Path,
    *,
    init: str,
    out: str,
    eval_dir: Path,
    wordnet: Path | None,
    config: contrastive.ContrastiveConfig,
    mined: int = 0,
    teacher: bool = True,
    max_corpus: int | None = None,
    log: Log = print,
) -> Encoder:
    """Contrastive fine-tuning of ``init`` on the offline pairs (plus mined pairs)."""
    start = _initial(init, work)
    exclude = blocklist(eval_dir)
    found = collect_pairs(eval_dir, wordnet, exclude)
    texts: list[str] = []
    vectors = np.zeros((0, 0), np.float32)
    if mined or teacher:
        texts, vectors = teacher_data(work, max_corpus, exclude)
    if mined:
        found.extend(pairs.mined_pairs(texts, vectors, sample=mined, seed=config.seed))
    if log:
        log(f"pairs: {found.counts()}")
    table, weights = _arrays(start)
    student = Student(table, weights)
    teacher_pack = (tokenize(start.tokenizer, texts), vectors) if teacher else None
    config = _scaled(config, table)
    scored = _scored(eval_dir, exclude)
    history = contrastive.fine_tune(
        student,
        start.tokenizer,
        found,
        scored,
        config,
        teacher_data=teacher_pack,
        log=log,
    )
    trained_table, trained_weights = student.arrays()
    encoder = _finish(
        work,
        start,
        trained_table,
        trained_weights,
        out,
        {
            "stage": "contrastive",
            "init": init,
            "pairs": found.counts(),
            "scored_pairs": len(scored),
            "config": asdict(config),
            "history": history,
        },
    )
    return encoder


def merge_stage(
    work: Path,
    *,
    models: Sequence[str],
    alphas: Sequence[float],
    out: str,
    dim: int,
    sample: int = 50_000,
    log: Log = print,
) -> Encoder:
    """Merge models that share a tokenizer (see :mod:`.merge`) into ``WORK/out``."""
    loaded = [_initial(m, work) for m in models]
    texts, _ = teacher_data(work, sample)
    table = merge.merge_tables(loaded, alphas, texts[:sample], dim)
    encoder = _finish(
        work,
        loaded[0],
        table,
        None,
        out,
        {
            "stage": "merge",
            "init": " + ".join(models),
            "alphas": list(alphas),
            "merged": [m.config.provenance for m in loaded],
        },
    )
    if log:
        log(f"merged {models} with weights {list(alphas)} into {dim} dimensions")
    return encoder


def rotate_stage(
    work: Path,
    *,
    init: str,
    out: str,
    center: bool = False,
    sample: int = 50_000,
    log: Log = print,
) -> Encoder:
    """Block-wise ITQ rotation of ``init``'s table for better sign bits (see :mod:`.binarize`).

    Without ``center`` the float vectors' cosines at every Matryoshka prefix are unchanged.
    """
    start = _initial(init, work)
    table, weights = _arrays(start)
    texts, _ = teacher_data(work, sample)
    pooled = start.with_options(normalize=False).encode(texts[:sample])
    dims = start.config.matryoshka_dims or (table.shape[1],)
    rotated = binarize.center_and_rotate(table, pooled, dims, center=center, rotate=True)
    encoder = _finish(
        work,
        start,
        rotated,
        weights,
        out,
        {
            "stage": "rotate",
            "init": init,
            "center": center,
            "blocks": binarize.block_bounds(table.shape[1], dims),
        },
    )
    if log:
        log(f"rotated {init} in blocks {binarize.block_bounds(table.shape[1], dims)}")
    return encoder


def _scaled(config: Any, table: np.ndarray) -> Any:
    """Learning rates are given relative to the table's standard deviation."""
    from dataclasses import replace

    return replace(config, lr=config.lr * float(np.std(table)))


def _finish(
    work: Path,
    start: Encoder,
    table: np.ndarray,
    weights: np.ndarray | None,
    name: str,
    provenance: dict[str, Any],
) -> Encoder:
    """The stage's model from ``start`` with a new table, written to ``WORK/name``."""
    history = {"previous": start.config.provenance, **provenance}
    if provenance["stage"] == "merge":
        history = dict(provenance)
    encoder = to_encoder(
        start.tokenizer,
        table,
        weights,
        name=name,
        description=f"sememe training stage {provenance['stage']} from {provenance['init']}",
        provenance=json.loads(json.dumps(history, default=str)),
        license="see MODEL_CARD.md",
        matryoshka_dims=(*tuple(d for d in (64, 128) if d < table.shape[1]), table.shape[1]),
        max_tokens=start.config.max_tokens,
    )
    encoder.save(work / name, overwrite=True)
    return encoder
