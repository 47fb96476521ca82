"""Stage 3: contrastive fine-tuning of a static model on sentence pairs.

Each step combines up to three terms:

* MultipleNegativesRanking on positive pairs: every anchor must pick its own positive among
  the batch's positives (in-batch negatives), symmetric, at every Matryoshka prefix;
* CoSENT on scored pairs: pairs with a higher gold score must get a higher cosine;
* optionally the relational teacher loss of :mod:`.tokenlearn` on a corpus batch, which keeps
  the model close to the teacher on general text while the pairs pull it towards their tasks.

The epoch with the best Spearman correlation on held-out scored pairs is kept.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from tokenizers import Tokenizer

from ..errors import InvalidArgumentError
from .pairs import Pairs, ScoredPairs, text_key
from .student import Student, Tokenized, tokenize, torch
from .tokenlearn import binary_similarity_loss, relational_loss

F = torch.nn.functional


@dataclass
class ContrastiveConfig:
    """Knobs of the contrastive stage (``lr`` absolute here; relative on the command line)."""

    epochs: int = 2
    batch_size: int = 256
    lr: float = 1e-3
    weight_lr: float = 3e-3
    projection_lr: float = 0.0
    scale: float = 20.0
    matryoshka_dims: tuple[int, ...] = (64, 128, 256)
    mnrl_weight: float = 1.0
    cosent_weight: float = 1.0
    teacher_weight: float = 1.0
    binary_weight: float = 0.5
    temperature: float = 0.05
    binary_temperature: float | None = None
    held_out: float = 0.1
    seed: int = 0


def mnrl_loss(a: object, p: object, dims: Sequence[int], scale: float) -> object:
    """Symmetric in-batch-negative cross-entropy, averaged over prefix sizes."""
    labels = torch.arange(len(a))
    total = 0.0
    for d in dims:
        sims = F.normalize(a[:, :d], dim=1) @ F.normalize(p[:, :d], dim=1).T * scale
        total = total + (F.cross_entropy(sims, labels) + F.cross_entropy(sims.T, labels)) / 2
    return total / len(dims)


def cosent_loss(a: object, b: object, scores: object, dims: Sequence[int], scale: float) -> object:
    """CoSENT: log(1 + sum over pairs (i, j) with score_i > score_j of exp(s*(cos_j - cos_i)))."""
    total = 0.0
    for d in dims:
        cos = F.cosine_similarity(a[:, :d], b[:, :d], dim=1) * scale
        diff = cos[None, :] - cos[:, None]  # [i, j] = cos_j - cos_i
        mask = scores[:, None] > scores[None, :]
        diff = diff[mask]
        total = total + torch.logsumexp(torch.cat([torch.zeros(1), diff]), dim=0)
    return total / len(dims)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def _encode_tokenized(student: Student, data: Tokenized, batch: int = 2048) -> np.ndarray:
    with torch.no_grad():
        parts = [
            student(*data.batch(np.arange(s, min(s + batch, len(data))))).numpy()
            for s in range(0, len(data), batch)
        ]
    return np.concatenate(parts) if parts else np.zeros((0, student.table.shape[1]), np.float32)


def fine_tune(
    student: Student,
    tokenizer: Tokenizer,
    pairs: Pairs,
    scored: ScoredPairs,
    config: ContrastiveConfig,
    *,
    teacher_data: tuple[Tokenized, np.ndarray] | None = None,
    log: Callable[[str], None] | None = print,
) -> list[dict[str, float]]:
    """Fine-tune ``student`` in place; returns one log row per epoch (epoch 0 = the start)."""
    if not len(pairs):
        raise InvalidArgumentError("contrastive fine-tuning needs at least one positive pair")
    if config.epochs < 1 or config.batch_size < 1:
        raise InvalidArgumentError("epochs and batch_size must be at least 1")
    train_scored, held = scored.split(config.held_out, seed=config.seed)
    anchors = tokenize(tokenizer, pairs.anchors)
    positives = tokenize(tokenizer, pairs.positives)
    # Held-out scored pairs pick the best epoch, so they must not be trained on as positives.
    held_keys = {frozenset((text_key(a), text_key(b))) for a, b in zip(held.a, held.b, strict=True)}
    unseen = np.array(
        [
            frozenset((text_key(a), text_key(b))) not in held_keys
            for a, b in zip(pairs.anchors, pairs.positives, strict=True)
        ],
        dtype=bool,
    )
    keep = np.flatnonzero((anchors.lengths() > 0) & (positives.lengths() > 0) & unseen)
    if not len(keep):
        raise InvalidArgumentError("no usable positive pairs (all empty or held out)")
    sa, sb = tokenize(tokenizer, train_scored.a), tokenize(tokenizer, train_scored.b)
    s_keep = np.flatnonzero((sa.lengths() > 0) & (sb.lengths() > 0))
    s_scores = torch.tensor(np.asarray(train_scored.score, np.float32))
    ha, hb = tokenize(tokenizer, held.a), tokenize(tokenizer, held.b)
    dim = student.table.shape[1]
    dims = (*tuple(d for d in config.matryoshka_dims if d < dim), dim)
    groups = [
        {"params": [p], "lr": lr}
        for p, lr in (
            (student.table, config.lr),
            (student.log_weight, config.weight_lr),
            (student.projection, config.projection_lr),
        )
        if lr > 0
    ]
    for p in (student.table, student.log_weight, student.projection):
        p.requires_grad_(any(p is g["params"][0] for g in groups))
    optim = torch.optim.Adam(groups)
    steps_per_epoch = math.ceil(len(keep) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda step: min(1.0, (step + 1) / 50) * max(0.0, 1 - step / total_steps)
    )
    rng = np.random.default_rng(config.seed)

    def held_out_spearman() -> float:
        if not len(held):
            return float("nan")
        va, vb = _encode_tokenized(student, ha), _encode_tokenized(student, hb)
        va /= np.maximum(np.linalg.norm(va, axis=1, keepdims=True), 1e-12)
        vb /= np.maximum(np.linalg.norm(vb, axis=1, keepdims=True), 1e-12)
        return spearman(np.einsum("ij,ij->i", va, vb), np.asarray(held.score))

    history = [{"epoch": 0, "held_out_spearman": held_out_spearman()}]
    best_value = history[0]["held_out_spearman"]
    best_state = {k: v.detach().clone() for k, v in student.state_dict().items()}
    if log:
        log(f"epoch 0: {history[0]}")
    for epoch in range(config.epochs):
        t0 = time.perf_counter()
        order = rng.permutation(keep)
        for s in range(0, len(order), config.batch_size):
            rows = order[s : s + config.batch_size]
            loss = config.mnrl_weight * mnrl_loss(
                student(*anchors.batch(rows)), student(*positives.batch(rows)), dims, config.scale
            )
            if config.cosent_weight and len(s_keep):
                r = rng.choice(s_keep, size=min(config.batch_size, len(s_keep)), replace=False)
                loss = loss + config.cosent_weight * cosent_loss(
                    student(*sa.batch(r)), student(*sb.batch(r)), s_scores[r], dims, config.scale
                )
            if teacher_data is not None and (config.teacher_weight or config.binary_weight):
                data, targets = teacher_data
                r = rng.choice(len(data), size=min(config.batch_size, len(data)), replace=False)
                out = student(*data.batch(r))
                tgt = torch.from_numpy(np.asarray(targets[r], dtype=np.float32))
                if config.teacher_weight:
                    loss = loss + config.teacher_weight * relational_loss(
                        out, tgt, dims, config.temperature
                    )
                if config.binary_weight:
                    loss = loss + config.binary_weight * binary_similarity_loss(
                        out, tgt, config.binary_temperature
                    )
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
        row = {
            "epoch": epoch + 1,
            "held_out_spearman": held_out_spearman(),
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        if log:
            log(f"epoch {epoch + 1}: {row}")
        if row["held_out_spearman"] > best_value or math.isnan(best_value):
            best_value = row["held_out_spearman"]
            best_state = {k: v.detach().clone() for k, v in student.state_dict().items()}
    student.load_state_dict(best_state)
    return history
