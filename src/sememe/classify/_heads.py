"""Classification heads: scikit-learn models on the vectors, and their frozen array form.

A *head* is the classifier that sits on the encoder's vectors. While fitting, it is an
ordinary scikit-learn estimator (``LogisticRegression``, ``LinearSVC``,
``RidgeClassifier``, ``MLPClassifier`` or anything the user passes). To save it without
pickle, a fitted head is *frozen* into plain arrays (:class:`LinearHead`,
:class:`MLPHead`): a few matrix products reproduce its predictions exactly, so a saved
classifier can be loaded from safetensors and JSON alone, and a fine-tuned torch head
becomes the same kind of object.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InvalidArgumentError

#: Names accepted for the ``head`` parameter.
HEADS: tuple[str, ...] = ("logistic", "mlp", "linear_svm", "ridge")

#: Width of the hidden layer of the ``"mlp"`` head (and of a fine-tuned MLP head).
MLP_HIDDEN = 256

#: Logit used for a label that was constant in training (one-vs-rest keeps no model).
_CONSTANT_LOGIT = 30.0


def make_head(
    name: str, *, C: float, class_weight: Any, max_iter: int, random_state: Any, n_samples: int
) -> Any:
    """A fresh scikit-learn classifier for one of the :data:`HEADS` names."""
    if name == "logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=C, class_weight=class_weight, max_iter=max_iter, random_state=random_state
        )
    if name == "linear_svm":
        from sklearn.svm import LinearSVC

        return LinearSVC(
            C=C, class_weight=class_weight, max_iter=max_iter, random_state=random_state
        )
    if name == "ridge":
        from sklearn.linear_model import RidgeClassifier

        return RidgeClassifier(alpha=1.0 / (2.0 * C), class_weight=class_weight)
    if name == "mlp":
        from sklearn.neural_network import MLPClassifier

        # Early stopping needs a validation split; on tiny data it would starve training.
        return MLPClassifier(
            hidden_layer_sizes=(MLP_HIDDEN,),
            alpha=1e-4 / C,
            max_iter=max_iter if n_samples < 500 else min(max_iter, 200),
            early_stopping=n_samples >= 500,
            n_iter_no_change=5,
            random_state=random_state,
        )
    raise InvalidArgumentError(
        f"head must be one of {', '.join(HEADS)} or a scikit-learn classifier; got {name!r}"
    )


# --------------------------------------------------------------------------- frozen heads


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def _softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


class LinearHead:
    """A linear classifier as arrays: ``scores = X @ coef.T + intercept``.

    ``loss`` is ``"log_loss"`` (logistic: probabilities by sigmoid or softmax, as
    scikit-learn's ``LogisticRegression``) or ``"margin"`` (SVM, ridge: scores only).
    A binary single-label head has one row, whose positive score means ``classes[1]``.
    """

    kind = "linear"

    def __init__(
        self,
        coef: np.ndarray,
        intercept: np.ndarray,
        classes: np.ndarray,
        *,
        loss: str = "log_loss",
        multilabel: bool = False,
    ) -> None:
        self.coef_ = np.ascontiguousarray(np.atleast_2d(coef), dtype=np.float64)
        self.intercept_ = np.ascontiguousarray(intercept, dtype=np.float64).ravel()
        self.classes_ = np.asarray(classes)
        self.loss = loss
        self.multilabel = multilabel
        if self.coef_.ndim != 2 or self.coef_.shape[0] != self.intercept_.shape[0]:
            raise InvalidArgumentError(
                f"coef {self.coef_.shape} and intercept {self.intercept_.shape} do not match"
            )

    def __repr__(self) -> str:
        return f"LinearHead(loss={self.loss!r}, classes={len(self.classes_)}, dim={self.coef_.shape[1]})"

    @property
    def n_features_in_(self) -> int:
        return int(self.coef_.shape[1])

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        scores = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        if scores.shape[1] == 1 and not self.multilabel:
            return scores.ravel()
        return scores

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        if self.loss != "log_loss":
            raise AttributeError("this head gives scores, not probabilities")
        scores = self.decision_function(X)
        if self.multilabel:
            return _sigmoid(scores)
        if scores.ndim == 1:
            p = _sigmoid(scores)
            return np.column_stack([1.0 - p, p])
        return _softmax(scores)

    def predict(self, X: np.ndarray) -> np.ndarray:
        scores = self.decision_function(X)
        if self.multilabel:
            return (scores > 0).astype(np.int64)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(np.int64)]
        return self.classes_[scores.argmax(axis=1)]

    def arrays(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef_, "intercept": self.intercept_}

    def meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "loss": self.loss}


_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
    "logistic": _sigmoid,
    "identity": lambda x: x,
}
#: Activation names an MLP head accepts.
ACTIVATIONS: tuple[str, ...] = tuple(_ACTIVATIONS)


class MLPHead:
    """A multi-layer perceptron as arrays (the layout of scikit-learn's ``MLPClassifier``).

    Hidden layers apply ``activation``; the output layer gives probabilities with a
    softmax (several classes) or a sigmoid (binary: one output; multi-label: one per
    label).
    """

    kind = "mlp"

    def __init__(
        self,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        classes: np.ndarray,
        *,
        activation: str = "relu",
        multilabel: bool = False,
    ) -> None:
        if activation not in _ACTIVATIONS:
            raise InvalidArgumentError(
                f"unknown activation {activation!r}; expected one of {sorted(_ACTIVATIONS)}"
            )
        if not weights or len(weights) != len(biases):
            raise InvalidArgumentError(
                "an MLP head needs as many bias vectors as weight matrices (>= 1)"
            )
        self.coefs_ = [np.ascontiguousarray(w, dtype=np.float64) for w in weights]
        self.intercepts_ = [np.ascontiguousarray(b, dtype=np.float64).ravel() for b in biases]
        for w, nxt in zip(self.coefs_, self.coefs_[1:], strict=False):
            if w.shape[1] != nxt.shape[0]:
                raise InvalidArgumentError("MLP head layer sizes do not chain")
        self.classes_ = np.asarray(classes)
        self.activation = activation
        self.multilabel = multilabel

    def __repr__(self) -> str:
        sizes = [self.coefs_[0].shape[0], *(w.shape[1] for w in self.coefs_)]
        return f"MLPHead(layers={sizes}, activation={self.activation!r})"

    @property
    def n_features_in_(self) -> int:
        return int(self.coefs_[0].shape[0])

    def _logits(self, X: np.ndarray) -> np.ndarray:
        h = np.asarray(X, dtype=np.float64)
        act = _ACTIVATIONS[self.activation]
        for w, b in zip(self.coefs_[:-1], self.intercepts_[:-1], strict=True):
            h = act(h @ w + b)
        return h @ self.coefs_[-1] + self.intercepts_[-1]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = self._logits(X)
        if self.multilabel:
            return _sigmoid(logits)
        if logits.shape[1] == 1:
            p = _sigmoid(logits.ravel())
            return np.column_stack([1.0 - p, p])
        return _softmax(logits)

    def predict(self, X: np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)
        if self.multilabel:
            return (proba > 0.5).astype(np.int64)
        return self.classes_[proba.argmax(axis=1)]

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for i, (w, b) in enumerate(zip(self.coefs_, self.intercepts_, strict=True)):
            out[f"layer{i}.weight"] = w
            out[f"layer{i}.bias"] = b
        return out

    def meta(self) -> dict[str, Any]:
        return {"kind": self.kind, "activation": self.activation, "n_layers": len(self.coefs_)}


FrozenHead = LinearHead | MLPHead


def freeze(head: Any, classes: np.ndarray, multilabel: bool) -> FrozenHead:
    """The array form of a fitted head; raises InvalidArgumentError (a ValueError) for heads
    it cannot reproduce."""
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, RidgeClassifierCV
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import LinearSVC

    if isinstance(head, (LinearHead, MLPHead)):
        return head
    linear = (LogisticRegression, LinearSVC, RidgeClassifier, RidgeClassifierCV)
    if isinstance(head, linear):
        loss = "log_loss" if isinstance(head, LogisticRegression) else "margin"
        return LinearHead(head.coef_, head.intercept_, classes, loss=loss, multilabel=multilabel)
    if isinstance(head, MLPClassifier):
        return MLPHead(
            head.coefs_,
            head.intercepts_,
            classes,
            activation=head.activation,
            multilabel=multilabel,
        )
    if isinstance(head, OneVsRestClassifier) and multilabel:
        parts = [e for e in head.estimators_ if isinstance(e, linear)]
        losses = {isinstance(e, LogisticRegression) for e in parts}
        if len(losses) == 1 and all(
            isinstance(e, linear) or hasattr(e, "y_") for e in head.estimators_
        ):
            dim = parts[0].coef_.shape[1] if parts else head.n_features_in_
            coef = np.zeros((len(head.estimators_), dim))
            intercept = np.zeros(len(head.estimators_))
            for i, est in enumerate(head.estimators_):
                if isinstance(est, linear):
                    coef[i], intercept[i] = est.coef_.ravel(), float(np.ravel(est.intercept_)[0])
                else:  # a label that was always (or never) present
                    intercept[i] = _CONSTANT_LOGIT if float(est.y_) > 0.5 else -_CONSTANT_LOGIT
            loss = "log_loss" if losses == {True} else "margin"
            return LinearHead(coef, intercept, classes, loss=loss, multilabel=True)
    raise InvalidArgumentError(
        f"cannot save a {type(head).__name__} head without pickle; save() supports the "
        "logistic, linear_svm, ridge and mlp heads (use pickle or joblib for others)"
    )


def thaw(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], classes: np.ndarray, multilabel: bool
) -> FrozenHead:
    """Inverse of ``head.meta()`` / ``head.arrays()``; raises ValueError on bad input."""
    kind = meta.get("kind")
    if kind == "linear":
        if meta.get("loss") not in ("log_loss", "margin"):
            raise InvalidArgumentError(f"unknown linear head loss {meta.get('loss')!r}")
        for key in ("coef", "intercept"):
            if key not in arrays:
                raise InvalidArgumentError(f"linear head is missing tensor {key!r}")
        return LinearHead(
            arrays["coef"], arrays["intercept"], classes, loss=meta["loss"], multilabel=multilabel
        )
    if kind == "mlp":
        n = int(meta.get("n_layers", 0))
        try:
            weights = [arrays[f"layer{i}.weight"] for i in range(n)]
            biases = [arrays[f"layer{i}.bias"] for i in range(n)]
        except KeyError as exc:
            raise InvalidArgumentError(f"MLP head is missing tensor {exc.args[0]!r}") from None
        return MLPHead(
            weights,
            biases,
            classes,
            activation=meta.get("activation", "relu"),
            multilabel=multilabel,
        )
    raise InvalidArgumentError(f"unknown head kind {kind!r}; expected 'linear' or 'mlp'")
