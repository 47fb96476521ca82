"""Fine-tuning the encoder together with a classification head (needs torch).

The static encoder's vector is a weighted mean of token rows, so it is differentiable
in the table and in the per-token weights. Training them with the head's loss adapts
the model to the task (Model2Vec does the same with its ``StaticModelForClassification``).
Afterwards the trained table and weights become an ordinary :class:`~sememe.Encoder`
and the head becomes a frozen array head, so prediction never needs torch.

Steps: tokenize once; start the head from a logistic regression fitted on the frozen
vectors (so epoch 0 is the frozen model) or, for the MLP, from a seeded random start;
train with Adam on mini-batches; after each epoch score a 10% validation split and keep
the best epoch (epoch 0 included, so fine-tuning never ends worse than where it
started on that split); stop after three epochs without improvement.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _progress
from .._torch import pool_bags
from .._torch import require_torch as _require_torch
from . import _heads

if TYPE_CHECKING:
    from ..encoder import Encoder

_PATIENCE = 3
_VALIDATION = 0.1


@dataclass
class FineTuneResult:
    """What :func:`fine_tune` returns: the new encoder, its head and the training log."""

    encoder: Encoder
    head: _heads.FrozenHead
    epochs: int
    history: list[dict[str, float]]


def require_torch() -> Any:
    """Import torch, or raise :class:`~sememe.errors.MissingDependencyError` (an
    ``ImportError``) naming the extra (:func:`sememe._torch.require_torch`)."""
    return _require_torch("fine_tune")


def fine_tune(
    encoder: Encoder,
    texts: list[str],
    targets: np.ndarray,
    *,
    classes: np.ndarray,
    multilabel: bool,
    mode: str,
    head: str,
    dim: int | None,
    C: float,
    class_weight: Any,
    sample_weight: np.ndarray | None,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    random_state: Any,
) -> FineTuneResult:
    """Train ``mode`` ("table", "weights" or "both") of ``encoder`` with a ``head``."""
    torch = require_torch()
    from sklearn.model_selection import train_test_split
    from sklearn.utils.class_weight import compute_sample_weight

    seed = random_state if isinstance(random_state, (int, np.integer)) else 0
    torch.manual_seed(int(seed))
    generator = np.random.default_rng(int(seed))
    d = encoder.dim if dim is None else int(dim)

    # Targets as class indices (single-label) or a float indicator (multi-label).
    y = targets.astype(np.float32) if multilabel else np.searchsorted(classes, targets)
    weights = np.ones(len(texts)) if sample_weight is None else np.asarray(sample_weight, float)
    if class_weight is not None:
        weights = weights * compute_sample_weight(class_weight, targets)

    # Tokenize once; blank texts carry nothing to learn from.
    token_ids = [t.ids.astype(np.int64) for t in encoder.tokenize(texts, truncate=True)]
    rows = np.array(
        [len(ids) > 0 and not t.isspace() for ids, t in zip(token_ids, texts, strict=True)]
    )
    idx = np.flatnonzero(rows)
    n_out = len(classes)
    val_idx = np.zeros(0, np.int64)
    train_idx = idx
    if len(idx) >= 50:
        stratify = None
        if not multilabel:
            counts = np.bincount(y[idx], minlength=n_out)
            stratify = y[idx] if counts[counts > 0].min() >= 2 else None
        train_idx, val_idx = train_test_split(
            idx, test_size=_VALIDATION, random_state=int(seed), stratify=stratify
        )

    # Trainable copies of the table and the per-token weights (the encoder is untouched).
    arrays = encoder.arrays  # read-only views: copied below before torch sees them
    table_np = np.asarray(arrays.table[:, :d], dtype=np.float32)
    mapping = None if arrays.mapping is None else arrays.mapping.astype(np.int32)
    train_table = mode in ("table", "both")
    train_weights = mode in ("weights", "both")
    if train_table and mapping is not None:
        table_np, mapping = table_np[mapping], None  # one row per token, trained separately
    token_weight = np.asarray(arrays.token_weights, dtype=np.float32)
    keep_mask = torch.from_numpy((token_weight > 0).astype(np.float32))
    table = torch.nn.Parameter(torch.from_numpy(np.array(table_np)), requires_grad=train_table)
    tweights = torch.nn.Parameter(
        torch.from_numpy(token_weight.copy()), requires_grad=train_weights
    )
    row_of = None if mapping is None else torch.from_numpy(mapping.astype(np.int64))
    normalize = encoder.config.normalize
    weighted = encoder.config.pooling == "weighted_mean"

    def pool(batch: np.ndarray) -> Any:
        lengths = np.fromiter((len(token_ids[i]) for i in batch), np.int64, len(batch))
        flat = torch.from_numpy(np.concatenate([token_ids[i] for i in batch]))
        offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]]))
        w = tweights[flat] * keep_mask[flat]
        table_rows = flat if row_of is None else row_of[flat]
        return pool_bags(
            table_rows,
            table,
            offsets,
            w,
            denominators=None if weighted else keep_mask[flat],
            normalize=normalize,
            sparse=train_table,
        )

    model = _torch_head(torch, head, d, n_out, multilabel)
    if head == "logistic" and not multilabel:
        _init_from_logistic(
            torch, model, encoder, texts, targets, train_idx, d, C, class_weight, seed
        )

    # The table gets sparse gradients (only the rows of a batch's tokens), hence SparseAdam.
    params = [*model.parameters()]
    if train_weights:
        params.append(tweights)
    optimizers = [torch.optim.Adam(params, lr=learning_rate)]
    if train_table:
        optimizers.append(torch.optim.SparseAdam([table], lr=learning_rate))
    y_t = torch.from_numpy(y if multilabel else y.astype(np.int64))
    w_t = torch.from_numpy(weights.astype(np.float32))

    def loss_of(logits: Any, batch: np.ndarray) -> Any:
        if multilabel:
            per = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y_t[batch], reduction="none"
            ).mean(dim=1)
        else:
            per = torch.nn.functional.cross_entropy(logits, y_t[batch], reduction="none")
        wb = w_t[batch]
        return (per * wb).sum() / wb.sum().clamp(min=1e-12)

    def evaluate() -> dict[str, float]:
        if len(val_idx) == 0:
            return {}
        with torch.no_grad():
            logits = model(pool(val_idx))
            loss = float(loss_of(logits, val_idx))
            if multilabel:
                pred = (logits > 0).numpy()
                acc = float((pred == (y[val_idx] > 0.5)).all(axis=1).mean())
            else:
                acc = float((logits.argmax(dim=1).numpy() == y[val_idx]).mean())
        return {"val_loss": loss, "val_accuracy": acc}

    def snapshot() -> dict[str, Any]:
        return {
            "head": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "table": table.detach().clone() if train_table else None,
            "weights": tweights.detach().clone() if train_weights else None,
        }

    history = [{"epoch": 0, **evaluate()}]
    best, best_epoch, since_best = snapshot(), 0, 0
    best_key = _score_key(history[0])
    # one tick per epoch inside a CLI's progress scope (silent otherwise)
    with _progress.phase("fine-tuning", epochs, unit="epoch") as bar:
        for epoch in range(1, epochs + 1):
            model.train()
            order = train_idx[generator.permutation(len(train_idx))]
            total = 0.0
            for start in range(0, len(order), batch_size):
                batch = order[start : start + batch_size]
                for opt in optimizers:
                    opt.zero_grad()
                loss = loss_of(model(pool(batch)), batch)
                loss.backward()
                for opt in optimizers:
                    opt.step()
                if train_weights:
                    with torch.no_grad():
                        tweights.clamp_(min=0.0)
                total += float(loss.detach()) * len(batch)
            model.eval()
            record = {"epoch": epoch, "train_loss": total / max(len(order), 1), **evaluate()}
            history.append(record)
            bar.update(1)
            key = _score_key(record)
            if not val_idx.size or key > best_key:
                best, best_epoch, best_key, since_best = snapshot(), epoch, key, 0
            else:
                since_best += 1
                if since_best >= _PATIENCE:
                    break

    model.load_state_dict(best["head"])
    new_table = best["table"].numpy() if best["table"] is not None else table_np
    new_weights = best["weights"].numpy() if best["weights"] is not None else None
    new_encoder = _export_encoder(
        encoder,
        d,
        mode,
        new_table if train_table else None,
        new_weights,
        mapping,
        len(texts),
        best_epoch,
    )
    frozen = _freeze_torch_head(model, head, classes, multilabel)
    return FineTuneResult(new_encoder, frozen, max(best_epoch, 1), history)


def _score_key(record: dict[str, float]) -> tuple[float, float]:
    """Higher is better: validation accuracy, then lower validation loss."""
    return (record.get("val_accuracy", 0.0), -record.get("val_loss", 0.0))


def _torch_head(torch: Any, head: str, d: int, n_out: int, multilabel: bool) -> Any:
    if head == "mlp":
        model = torch.nn.Sequential(
            torch.nn.Linear(d, _heads.MLP_HIDDEN),
            torch.nn.ReLU(),
            torch.nn.Linear(_heads.MLP_HIDDEN, n_out),
        )
    else:
        model = torch.nn.Sequential(torch.nn.Linear(d, n_out))
        torch.nn.init.zeros_(model[0].weight)
        torch.nn.init.zeros_(model[0].bias)
    return model


def _init_from_logistic(
    torch: Any,
    model: Any,
    encoder: Encoder,
    texts: list[str],
    targets: np.ndarray,
    train_idx: np.ndarray,
    d: int,
    C: float,
    class_weight: Any,
    seed: Any,
) -> None:
    """Start the linear head at the logistic regression fitted on the frozen vectors."""
    from sklearn.linear_model import LogisticRegression

    vectors = encoder.encode([texts[i] for i in train_idx], dim=d)
    y = targets[train_idx]
    if len(np.unique(y)) < 2:
        return
    lr = LogisticRegression(C=C, class_weight=class_weight, max_iter=1000, random_state=int(seed))
    with _progress.ticking("fitting the starting LogisticRegression"):
        lr.fit(vectors, y)
    coef, intercept = lr.coef_, lr.intercept_
    n_out = model[0].weight.shape[0]
    position = np.searchsorted(np.unique(targets), lr.classes_)
    weight = np.zeros((n_out, d), np.float32)
    bias = np.zeros(n_out, np.float32)
    if coef.shape[0] == 1:  # binary: softmax over (0, s) equals sigmoid(s)
        weight[position[1]] = coef[0]
        bias[position[1]] = intercept[0]
    else:
        weight[position] = coef
        bias[position] = intercept
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(weight))
        model[0].bias.copy_(torch.from_numpy(bias))


def _freeze_torch_head(
    model: Any, head: str, classes: np.ndarray, multilabel: bool
) -> _heads.FrozenHead:
    layers = [m for m in model if hasattr(m, "weight")]
    weights = [m.weight.detach().numpy().astype(np.float64) for m in layers]
    biases = [m.bias.detach().numpy().astype(np.float64) for m in layers]
    if head == "mlp":
        return _heads.MLPHead(
            [w.T for w in weights], biases, classes, activation="relu", multilabel=multilabel
        )
    coef, intercept = weights[0], biases[0]
    if not multilabel and coef.shape[0] == 2:  # the one-row form scikit-learn uses
        coef, intercept = (coef[1] - coef[0])[None, :], np.array([intercept[1] - intercept[0]])
    return _heads.LinearHead(coef, intercept, classes, loss="log_loss", multilabel=multilabel)


def _export_encoder(
    encoder: Encoder,
    d: int,
    mode: str,
    table: np.ndarray | None,
    weights: np.ndarray | None,
    mapping: np.ndarray | None,
    n_texts: int,
    epoch: int,
) -> Encoder:
    """A new torch-free encoder with the trained table and/or weights."""
    from ..encoder import Encoder

    cfg = encoder.config
    arrays = encoder.arrays
    if table is None:  # table not trained: keep the original rows (and dtype)
        table = (
            arrays.embeddings if d == cfg.dim else np.ascontiguousarray(arrays.embeddings[:, :d])
        )
        mapping = arrays.mapping
    if weights is None:
        weights = arrays.weights
    config = dataclasses.replace(
        cfg,
        dim=d,
        name=f"{cfg.name}-finetuned",
        matryoshka_dims=tuple(x for x in cfg.matryoshka_dims if x < d),
        description=f"{cfg.name} fine-tuned for classification ({mode})",
        provenance={
            **cfg.provenance,
            "fine_tuned": {
                "from": cfg.name,
                "from_fingerprint": encoder.fingerprint[:16],
                "trained": mode,
                "texts": n_texts,
                "best_epoch": epoch,
            },
        },
    )
    return Encoder(
        encoder.tokenizer,
        np.ascontiguousarray(table),
        weights=None if weights is None else np.ascontiguousarray(weights, dtype=np.float32),
        mapping=mapping,
        config=config,
        source="<fine-tuned>",
    )
