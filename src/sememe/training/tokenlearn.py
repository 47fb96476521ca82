"""Stage 2: train the table and token weights to reproduce a teacher's sentence vectors.

This is the tokenlearn recipe: sentences from a corpus are encoded once by the teacher (see
:mod:`.teacher`), the teacher vectors are reduced by PCA to the student's size, and the
static student is trained so its pooled vector points the same way. Two extra terms make the
result serve sememe's uses:

* a Matryoshka loss: the cosine loss is applied to the leading 64, 128, ... dimensions too
  (the PCA targets are ordered, so prefixes of the target are the best smaller targets);
* a binary term: the sign() of the student vector, passed straight through in the backward
  pass, must reproduce the teacher's in-batch cosine similarities, so Hamming distances
  between packed codes keep the teacher's ranking.

Training is resumable: each epoch writes a checkpoint, and a restarted run continues from it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InvalidArgumentError
from .student import Student, Tokenized, torch

F = torch.nn.functional


@dataclass
class TrainConfig:
    """Knobs of the corpus-training stage.

    ``lr`` is the table's Adam learning rate as given to :func:`train` (absolute); the
    pipeline and the command line give it relative to the table's standard deviation.
    """

    epochs: int = 3
    batch_size: int = 512
    lr: float = 5e-3
    weight_lr: float = 1e-2
    matryoshka_dims: tuple[int, ...] = (64, 128, 256)
    binary_weight: float = 1.0
    validation: int = 5000
    seed: int = 0
    learn_weights: bool = True
    projection_lr: float = 0.0
    loss: str = "cosine"
    temperature: float = 0.05
    binary_temperature: float | None = None


@dataclass
class TrainLog:
    """What happened per epoch (validation cosine to the teacher, binary similarity error)."""

    history: list[dict[str, float]] = field(default_factory=list)


def matryoshka_cosine_loss(student: object, target: object, dims: Sequence[int]) -> object:
    """Mean over ``dims`` of ``1 - cos`` between the leading ``d`` dimensions."""
    total = 0.0
    for d in dims:
        total = total + (1 - F.cosine_similarity(student[:, :d], target[:, :d], dim=1)).mean()
    return total / len(dims)


def relational_loss(
    student: object, target: object, dims: Sequence[int], temperature: float
) -> object:
    """Match in-batch similarity structure instead of coordinates (rotation-invariant).

    For each prefix size, the student's in-batch cosine matrix is pulled towards the
    teacher's by an MSE term and by a KL term between row-wise softmaxes at
    ``temperature`` (which stresses each text's nearest neighbours).
    """
    t = F.normalize(target, dim=1)
    t_sim = t @ t.T
    eye = torch.eye(len(t_sim), dtype=torch.bool)
    t_log = F.log_softmax((t_sim / temperature).masked_fill(eye, -1e4), dim=1)
    total = 0.0
    for d in dims:
        s = F.normalize(student[:, :d], dim=1)
        s_sim = s @ s.T
        s_log = F.log_softmax((s_sim / temperature).masked_fill(eye, -1e4), dim=1)
        kl = F.kl_div(s_log, t_log, log_target=True, reduction="batchmean")
        total = total + F.mse_loss(s_sim, t_sim) * 10 + kl
    return total / len(dims)


def binary_similarity_loss(
    student: object, target: object, temperature: float | None = None
) -> object:
    """How far the in-batch cosines of sign codes are from the teacher's.

    The codes are ``sign(student)`` in the forward pass and the identity in the backward
    pass (straight-through), so the float table learns to have good signs. Without a
    ``temperature`` the term is the MSE between the two cosine matrices; with one it is the
    :func:`relational_loss` (MSE plus the nearest-neighbour KL term) of the codes.
    """
    codes = student + (torch.sign(student) - student).detach()
    if temperature:
        return relational_loss(codes, target, (codes.shape[1],), temperature)
    c = F.normalize(codes, dim=1)
    t = F.normalize(target, dim=1)
    return F.mse_loss(c @ c.T, t @ t.T)


def fit_alignment(pooled: np.ndarray, targets: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """Least-squares map W with ``normalize(pooled) @ W ~ targets`` (ridge-regularised).

    Pooling is linear in the table, so multiplying the table by W maps every sentence vector
    by W: this puts any starting table into the target space before training.
    """
    p = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    p = p.astype(np.float64)
    gram = p.T @ p + ridge * len(p) * np.eye(p.shape[1])
    return np.linalg.solve(gram, p.T @ targets.astype(np.float64)).astype(np.float32)


def _run_key(student: Student, data: Tokenized, targets: np.ndarray, config: TrainConfig) -> str:
    """A digest of everything a checkpoint is only valid for: start, data, targets, settings."""
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True, default=str).encode())
    with torch.no_grad():
        digest.update(student.table.detach().numpy().tobytes())
        digest.update(student.log_weight.detach().numpy().tobytes())
    digest.update(data.ids.tobytes())
    digest.update(data.starts.tobytes())
    digest.update(np.ascontiguousarray(targets[:: max(1, len(targets) // 10_000)]).tobytes())
    digest.update(str(targets.shape).encode())
    return digest.hexdigest()


def train(
    student: Student,
    data: Tokenized,
    targets: np.ndarray,
    config: TrainConfig,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    *,
    log: Callable[[str], None] | None = print,
) -> TrainLog:
    """Train ``student`` in place on (token ids, target vectors); returns the epoch log.

    ``config.validation`` random rows are held out; the weights of the epoch with the best
    validation loss are kept (so training never ends worse than its best epoch).
    """
    if len(data) != len(targets):
        raise InvalidArgumentError(f"{len(data)} tokenized texts but {len(targets)} targets")
    if config.epochs < 1 or config.batch_size < 1:
        raise InvalidArgumentError("epochs and batch_size must be at least 1")
    run_key = _run_key(student, data, targets, config)
    n_val = min(config.validation, len(data) // 5)
    n_train = len(data) - n_val
    split = np.random.default_rng(config.seed + 1).permutation(len(data))
    val_rows, train_rows = np.sort(split[:n_val]), split[n_val:]
    if n_train < 1:
        raise InvalidArgumentError("need at least one training text")
    t_all = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    dim = student.table.shape[1]
    dims = (*tuple(d for d in config.matryoshka_dims if d < dim), dim)
    if config.loss not in ("cosine", "relational"):
        raise InvalidArgumentError(f"loss must be 'cosine' or 'relational', got {config.loss!r}")
    if config.loss == "cosine" and targets.shape[1] != dim:
        raise InvalidArgumentError(f"cosine loss needs {dim}-d targets, got {targets.shape[1]}-d")

    def main_loss(out: object, tgt: object) -> object:
        if config.loss == "relational":
            return relational_loss(out, tgt, dims, config.temperature)
        return matryoshka_cosine_loss(out, tgt, dims)

    groups = [{"params": [student.table], "lr": config.lr}]
    if config.learn_weights:
        groups.append({"params": [student.log_weight], "lr": config.weight_lr})
    else:
        student.log_weight.requires_grad_(False)
    if config.projection_lr:
        groups.append({"params": [student.projection], "lr": config.projection_lr})
    else:
        student.projection.requires_grad_(False)
    optim = torch.optim.Adam(groups)
    steps_per_epoch = math.ceil(n_train / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda step: min(1.0, (step + 1) / 100) * max(0.0, 1 - step / total_steps)
    )
    result = TrainLog()
    start_epoch = 0
    ckpt = Path(checkpoint_dir) / "checkpoint.pt" if checkpoint_dir is not None else None
    best_state: dict[str, object] | None = None
    best = math.inf
    saved = torch.load(ckpt, weights_only=False) if ckpt is not None and ckpt.is_file() else None
    if saved is not None and saved.get("run_key") != run_key:
        if log:
            log(f"{ckpt} belongs to another run (data, start or settings differ); starting over")
        saved = None
    if saved is not None:
        student.load_state_dict(saved["student"])
        optim.load_state_dict(saved["optim"])
        sched.load_state_dict(saved["sched"])
        start_epoch, result.history = saved["epoch"], saved["history"]
        best, best_state = saved["best"], saved["best_state"]
        if log:
            log(f"resuming after epoch {start_epoch}")

    def validate() -> dict[str, float]:
        rows = val_rows
        with torch.no_grad():
            losses, bins = [], []
            for s in range(0, len(rows), 1024):
                ids, offsets = data.batch(rows[s : s + 1024])
                out = student(ids, offsets)
                tgt = t_all[rows[s : s + 1024]]
                losses.append(float(main_loss(out, tgt)) * len(out))
                bins.append(
                    float(binary_similarity_loss(out, tgt, config.binary_temperature)) * len(out)
                )
        return {"val_loss": sum(losses) / n_val, "val_binary_mse": sum(bins) / n_val}

    if start_epoch == 0 and n_val:
        first = validate()
        best = first["val_loss"] + config.binary_weight * first["val_binary_mse"]
        best_state = {k: v.detach().clone() for k, v in student.state_dict().items()}
        result.history.append({"epoch": 0, **first})
        if log:
            log(f"epoch 0: {first}")
    rng = np.random.default_rng(config.seed)
    for _ in range(start_epoch):  # replay the shuffles so a resumed run sees the same order
        rng.permutation(n_train)
    for epoch in range(start_epoch, config.epochs):
        t0 = time.perf_counter()
        order = train_rows[rng.permutation(n_train)]
        running = 0.0
        for step, s in enumerate(range(0, n_train, config.batch_size)):
            rows = order[s : s + config.batch_size]
            ids, offsets = data.batch(rows)
            out = student(ids, offsets)
            tgt = t_all[rows]
            loss = main_loss(out, tgt)
            if config.binary_weight:
                loss = loss + config.binary_weight * binary_similarity_loss(
                    out, tgt, config.binary_temperature
                )
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            running += float(loss.detach())
            if log and step % 200 == 199:
                log(
                    f"  epoch {epoch + 1} step {step + 1}/{steps_per_epoch} loss {running / 200:.4f}"
                )
                running = 0.0
        scores = validate() if n_val else {}
        scores["seconds"] = time.perf_counter() - t0
        result.history.append({"epoch": epoch + 1, **scores})
        if log:
            log(f"epoch {epoch + 1}: {scores}")
        if n_val:
            value = scores["val_loss"] + config.binary_weight * scores["val_binary_mse"]
            if value < best:
                best = value
                best_state = {k: v.detach().clone() for k, v in student.state_dict().items()}
        if ckpt is not None:
            ckpt.parent.mkdir(parents=True, exist_ok=True)
            tmp = ckpt.with_suffix(".tmp")
            torch.save(
                {
                    "student": student.state_dict(),
                    "optim": optim.state_dict(),
                    "sched": sched.state_dict(),
                    "epoch": epoch + 1,
                    "history": result.history,
                    "best": best,
                    "best_state": best_state,
                    "config": asdict(config),
                    "run_key": run_key,
                },
                tmp,
            )
            os.replace(tmp, ckpt)
    if best_state is not None:
        student.load_state_dict(best_state)
    if checkpoint_dir is not None:
        (Path(checkpoint_dir) / "history.json").write_text(json.dumps(result.history, indent=2))
    return result
