"""``StaticEmbedder`` and ``StaticClassifier``: scikit-learn estimators on raw text.

Both take ``X`` as texts (a list, tuple, numpy array or pandas Series of ``str``, or a
one-column frame of them) *or* as an ``(n, d)`` array of vectors already made by the
same encoder. The second form skips encoding, which makes grid searches over head
parameters cheap, and it is what lets scikit-learn's own estimator checks, which feed
numeric arrays, run on these estimators.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    clone,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .. import _text
from . import _heads
from ._encoders import EncoderParamMixin, encoder_state, resolve_encoder, restore_encoder

if TYPE_CHECKING:
    from ..encoder import Encoder

FINE_TUNE_MODES: tuple[str, ...] = ("table", "weights", "both")


# --------------------------------------------------------------------------- input


def _looks_numeric(X: Any) -> bool:
    """True when ``X`` should be validated as a numeric (vector) array, not as texts."""
    if sp.issparse(X):
        return True
    if hasattr(X, "__array__") and not isinstance(X, np.ndarray) and not hasattr(X, "dtypes"):
        X = np.asarray(X)  # array-likes such as xarray or test doubles
    if hasattr(X, "dtypes") and hasattr(X, "columns"):  # a DataFrame
        return all(getattr(dt, "kind", "O") in "biuf" for dt in X.dtypes)
    if isinstance(X, np.ndarray):
        if X.dtype.kind in "US":
            return False
        if X.dtype == object:
            first = X.flat[0] if X.size else None
            return not isinstance(first, str) and first is not None
        return True
    if isinstance(X, (list, tuple)) and X:
        first = X[0]
        return isinstance(
            first, (list, tuple, np.ndarray, int, float, np.number)
        ) and not isinstance(first, bool)
    return False


def split_input(
    est: BaseEstimator, X: Any, *, reset: bool
) -> tuple[list[str] | None, np.ndarray | None]:
    """``(texts, None)`` or ``(None, vectors)``; errors name the bad row or the fix."""
    if isinstance(X, str):
        raise TypeError("X is a single str; pass a list of texts, for example [text]")
    if X is None:
        raise TypeError("X is None; expected a list of texts or an (n, dim) array of vectors")
    if hasattr(X, "dtypes") and hasattr(X, "columns") and not _looks_numeric(X):
        X = X.iloc[:, 0]  # one text column of a DataFrame
    elif isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1 and not _looks_numeric(X):
        X = X[:, 0]
    elif hasattr(X, "__array__") and not isinstance(X, np.ndarray) and not hasattr(X, "tolist"):
        X = np.asarray(X)
    if _looks_numeric(X):
        vectors = validate_data(est, X, reset=reset, dtype=[np.float64, np.float32])
        return None, vectors
    texts = _text.as_list(X, "X")
    if not texts:
        raise ValueError("X is empty: no texts given")
    return texts, None


# --------------------------------------------------------------------------- embedder


class StaticEmbedder(
    EncoderParamMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Texts to vectors with a sememe encoder, as a scikit-learn transformer.

    ``fit`` learns nothing (the encoder is fixed); ``transform`` returns float32
    ``(n, dim)`` vectors, L2-normalised as the model says. Put it in front of any
    scikit-learn model to work on raw text::

        make_pipeline(StaticEmbedder(), LogisticRegression())

    Parameters
    ----------
    encoder:
        A :class:`~sememe.Encoder`, a model name or path, or ``None`` for the bundled
        model. Cloning shares it; pickling stores a registered model by name.
    dim:
        Keep the first ``dim`` dimensions (Matryoshka truncation).

    An ``(n, d)`` numeric array is taken as vectors already embedded and returned as
    float32, unchanged.
    """

    def __init__(self, encoder: Encoder | str | Path | None = None, dim: int | None = None) -> None:
        self.encoder = encoder
        self.dim = dim

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def fit(self, X: Any, y: Any = None) -> StaticEmbedder:
        """Check ``X``; nothing is learned. Returns ``self``."""
        split_input(self, X, reset=True)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Vectors of the texts ``X``: float32 ``(n, dim)``."""
        texts, vectors = split_input(self, X, reset=False)
        if vectors is not None:
            return np.ascontiguousarray(vectors, dtype=np.float32)
        return resolve_encoder(self.encoder).encode(texts, dim=self.dim)

    @property
    def _n_features_out(self) -> int:
        if hasattr(self, "n_features_in_"):
            return int(self.n_features_in_)
        enc = resolve_encoder(self.encoder)
        return int(self.dim or enc.dim)


# --------------------------------------------------------------------------- classifier


def _head_has(name: str):
    """For ``available_if``: whether the (fitted, else configured) head offers ``name``."""

    def check(self: StaticClassifier) -> bool:
        head = getattr(self, "head_", None)
        if head is None:
            head = self.head
            if isinstance(head, str):
                return {
                    "predict_proba": head in ("logistic", "mlp"),
                    "decision_function": head in ("logistic", "linear_svm", "ridge"),
                }.get(name, False)
        return hasattr(head, name)

    return check


class StaticClassifier(EncoderParamMixin, ClassifierMixin, BaseEstimator):
    """Text classification: a sememe encoder followed by a scikit-learn head.

    Parameters
    ----------
    head:
        ``"logistic"`` (``LogisticRegression``), ``"mlp"`` (``MLPClassifier``, one hidden
        layer of 256 ReLU units, early stopping from 500 texts), ``"linear_svm"``
        (``LinearSVC``), ``"ridge"`` (``RidgeClassifier``), or any unfitted scikit-learn
        classifier (it is cloned at ``fit``; tune its parameters as ``head__<name>``).
    encoder:
        A :class:`~sememe.Encoder`, a model name or path, or ``None`` for the bundled
        model.
    dim:
        Keep the first ``dim`` dimensions of the vectors (Matryoshka truncation).
    C:
        Inverse regularisation strength of the named heads: ``C`` of logistic and
        linear_svm, ``alpha = 1 / (2 C)`` for ridge, ``alpha = 1e-4 / C`` for mlp. The
        default 4 suits unit-length sentence vectors better than scikit-learn's 1
        (chosen on the dev splits: Banking77 +1.8 points, TREC and SST-2 unchanged).
    class_weight:
        ``None``, ``"balanced"`` or ``{label: weight}``; the mlp head and fine-tuning get
        it as per-sample weights. Multi-label accepts ``None`` or ``"balanced"``.
    max_iter:
        Iteration limit of the named heads.
    random_state:
        Seed of the head and of fine-tuning.
    fine_tune:
        ``None`` (default: the encoder stays frozen), or with torch installed
        (``pip install 'sememe[train]'``): ``"table"`` trains the token vectors,
        ``"weights"`` the per-token pooling weights, ``"both"`` both, together with a
        logistic or mlp head. The result is a new torch-free encoder in ``encoder_``.
    epochs, learning_rate, batch_size:
        Fine-tuning schedule (Adam; best epoch on a 10% validation split is kept).

    Attributes
    ----------
    classes_:
        Class labels (single-label), or the label names of the indicator columns.
    multilabel_:
        Whether ``y`` was multi-label (a list of label lists or an indicator matrix).
    head_:
        The fitted head (a scikit-learn estimator, or a frozen array head after
        fine-tuning or :meth:`load`).
    encoder_:
        Only after fine-tuning: the trained encoder, used for prediction.
    n_features_in_:
        Width of the vectors the head sees.
    n_iter_:
        Iterations (or epochs) the head's training ran.
    """

    def __init__(
        self,
        head: Any = "logistic",
        encoder: Encoder | str | Path | None = None,
        dim: int | None = None,
        *,
        C: float = 4.0,
        class_weight: Any = None,
        max_iter: int = 1000,
        random_state: Any = 0,
        fine_tune: str | None = None,
        epochs: int = 20,
        learning_rate: float = 3e-3,
        batch_size: int = 256,
    ) -> None:
        self.head = head
        self.encoder = encoder
        self.dim = dim
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state
        self.fine_tune = fine_tune
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.classifier_tags.multi_label = True
        return tags

    # ------------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> StaticClassifier:
        """Learn the head (and, with ``fine_tune``, the encoder) from texts ``X`` and labels ``y``.

        ``y`` is a sequence of labels (single-label), a sequence of label lists or an
        indicator matrix (multi-label). ``sample_weight`` is passed to the head.
        """
        self._check_params()
        texts, vectors = split_input(self, X, reset=True)
        n = len(texts) if texts is not None else vectors.shape[0]
        targets, classes, multilabel = self._targets(y, n)
        if texts is not None and all(not t.strip() for t in texts):
            raise ValueError(f"all {n} texts in X are empty or whitespace; nothing to learn from")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, np.empty((n, 0)))

        for name in ("encoder_",):
            self.__dict__.pop(name, None)
        if self.fine_tune is not None:
            if texts is None:
                raise ValueError(
                    "fine_tune needs texts, not vectors: the encoder is what it trains"
                )
            from ._finetune import fine_tune

            result = fine_tune(
                resolve_encoder(self.encoder),
                texts,
                targets,
                classes=classes,
                multilabel=multilabel,
                mode=self.fine_tune,
                head=self.head,
                dim=self.dim,
                C=self.C,
                class_weight=self.class_weight,
                sample_weight=sample_weight,
                epochs=self.epochs,
                learning_rate=self.learning_rate,
                batch_size=self.batch_size,
                random_state=self.random_state,
            )
            self.encoder_ = result.encoder
            self.head_ = result.head
            self.n_iter_ = result.epochs
            self.n_features_in_ = result.encoder.dim
        else:
            features = vectors if vectors is not None else self._encode(texts)
            if texts is not None:
                self.n_features_in_ = features.shape[1]
            head = self._build_head(n, multilabel)
            fit_params = {}
            weights = self._sample_weights(targets, multilabel, sample_weight, head)
            if weights is not None:
                fit_params["sample_weight"] = weights
            try:
                head.fit(features, targets, **fit_params)
            except TypeError as exc:
                if "sample_weight" in str(exc) and fit_params:
                    raise TypeError(
                        f"the {type(head).__name__} head does not take sample_weight"
                    ) from None
                raise
            self.head_ = head
            self.n_iter_ = _n_iter(head)
        self.classes_ = classes
        self.multilabel_ = multilabel
        return self

    def _check_params(self) -> None:
        head = self.head
        if isinstance(head, str):
            if head not in _heads.HEADS:
                raise ValueError(
                    f"head must be one of {', '.join(_heads.HEADS)} or a scikit-learn "
                    f"classifier; got {head!r}"
                )
        elif not (
            hasattr(head, "fit") and hasattr(head, "predict") and hasattr(head, "get_params")
        ):
            raise TypeError(
                f"head must be a name or a scikit-learn classifier; got {type(head).__name__}"
            )
        if not (isinstance(self.C, (int, float)) and not isinstance(self.C, bool) and self.C > 0):
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        for name in ("max_iter", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not (isinstance(self.learning_rate, (int, float)) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a positive number, got {self.learning_rate!r}")
        if self.fine_tune is not None:
            if self.fine_tune not in FINE_TUNE_MODES:
                raise ValueError(
                    f"fine_tune must be None or one of {', '.join(FINE_TUNE_MODES)}; "
                    f"got {self.fine_tune!r}"
                )
            if head not in ("logistic", "mlp"):
                raise ValueError("fine_tune trains head='logistic' or head='mlp' only")

    def _targets(self, y: Any, n: int) -> tuple[np.ndarray, np.ndarray, bool]:
        """``(targets for the head, classes_, multilabel)``; raises on bad ``y``."""
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        if isinstance(y, str):
            raise TypeError("y is a single str; pass one label per text")
        if not hasattr(y, "shape") and hasattr(y, "__array__"):
            y = np.asarray(y)
        if _is_label_lists(y):
            from sklearn.preprocessing import MultiLabelBinarizer

            lists = list(y)
            if len(lists) != n:
                raise ValueError(f"X has {n} texts but y has {len(lists)} label lists")
            binarizer = MultiLabelBinarizer()
            indicator = binarizer.fit_transform(lists)
            if indicator.shape[1] < 1:
                raise ValueError("y has no labels at all; multi-label y needs at least one label")
            self._check_multilabel_weight()
            return indicator, binarizer.classes_, True
        if not hasattr(y, "shape"):
            y = list(y)
            missing = next((i for i, v in enumerate(y) if v is None), None)
            if missing is not None:
                raise ValueError(f"y[{missing}] is None; every text needs a label")
            y = np.asarray(y)
        if len(y) != n:
            raise ValueError(f"X has {n} samples but y has {len(y)} labels")
        kind = type_of_target(y, input_name="y")
        if kind == "multilabel-indicator":
            indicator = np.asarray(y)
            self._check_multilabel_weight()
            return indicator, np.arange(indicator.shape[1]), True
        if getattr(y, "ndim", 1) == 2 and y.shape[1] == 1:
            import warnings

            from sklearn.exceptions import DataConversionWarning

            warnings.warn(
                "A column-vector y was passed when a 1d array was expected; it was raveled.",
                DataConversionWarning,
                stacklevel=3,
            )
            y = np.ravel(y)
        if getattr(y, "ndim", 1) != 1:
            raise ValueError(
                f"y has shape {np.shape(y)}; expected one label per text, a list of label "
                "lists, or a 0/1 indicator matrix"
            )
        y = np.asarray(y)
        if y.dtype == object and any(v is None for v in y):
            first = next(i for i, v in enumerate(y) if v is None)
            raise ValueError(f"y[{first}] is None; every text needs a label")
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"y has only one class ({_plain(classes[0])!r}); a classifier needs at least "
                "two classes"
            )
        return y, classes, False

    def _check_multilabel_weight(self) -> None:
        if self.class_weight not in (None, "balanced"):
            raise ValueError("multi-label classification accepts class_weight=None or 'balanced'")

    def _build_head(self, n: int, multilabel: bool) -> Any:
        if isinstance(self.head, str):
            cw = self.class_weight if self.head != "mlp" else None
            head = _heads.make_head(
                self.head,
                C=self.C,
                class_weight=cw,
                max_iter=self.max_iter,
                random_state=self.random_state,
                n_samples=n,
            )
        else:
            head = clone(self.head)
            # Make a user head reproducible too, unless it has its own seed.
            if head.get_params().get("random_state", 0) is None:
                head.set_params(random_state=self.random_state)
            if self.class_weight is not None:
                if "class_weight" not in head.get_params():
                    raise ValueError(
                        f"{type(head).__name__} has no class_weight; set class_weight=None"
                    )
                head.set_params(class_weight=self.class_weight)
        if multilabel and not _native_multilabel(head):
            from sklearn.multiclass import OneVsRestClassifier

            head = OneVsRestClassifier(head)
        return head

    def _sample_weights(
        self, targets: np.ndarray, multilabel: bool, sample_weight: np.ndarray | None, head: Any
    ) -> np.ndarray | None:
        """Per-sample weights: the user's, times class weights for heads without class_weight."""
        from sklearn.neural_network import MLPClassifier

        weights = sample_weight
        if self.class_weight is not None and isinstance(head, MLPClassifier):
            from sklearn.utils.class_weight import compute_sample_weight

            cw = compute_sample_weight(self.class_weight, targets)
            weights = cw if weights is None else weights * cw
        return weights

    # ------------------------------------------------------------------ prediction
    def _encoder(self) -> Encoder:
        return getattr(self, "encoder_", None) or resolve_encoder(self.encoder)

    def _encode(self, texts: list[str]) -> np.ndarray:
        enc = self._encoder()
        dim = None if hasattr(self, "encoder_") else self.dim
        return enc.encode(texts, dim=dim)

    def _features(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "head_")
        texts, vectors = split_input(self, X, reset=False)
        if vectors is not None:
            return vectors
        features = self._encode(texts)
        if features.shape[1] != self.n_features_in_:
            raise ValueError(
                f"the encoder gives {features.shape[1]}-d vectors but the head was fitted on "
                f"{self.n_features_in_}-d ones; use the encoder it was fitted with"
            )
        return features

    def predict(self, X: Any) -> np.ndarray:
        """Labels of ``X``; for multi-label, a 0/1 indicator matrix over ``classes_``."""
        features = self._features(X)
        return self.head_.predict(features)

    @available_if(_head_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``; multi-label: per-label probabilities."""
        features = self._features(X)
        return self.head_.predict_proba(features)

    @available_if(_head_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        """Head scores: ``(n,)`` for binary, else ``(n, n_classes)``."""
        features = self._features(X)
        return self.head_.decision_function(features)

    def predict_labels(self, X: Any) -> list[Any]:
        """Predictions as plain labels: one per text, or a list of labels per text (multi-label)."""
        pred = self.predict(X)
        if self.multilabel_:
            return [[_plain(c) for c in self.classes_[row == 1]] for row in pred]
        return [_plain(p) for p in pred]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy (subset accuracy for multi-label); ``y`` may be label lists."""
        if getattr(self, "multilabel_", False) and _is_label_lists(y):
            from sklearn.preprocessing import MultiLabelBinarizer

            y = MultiLabelBinarizer(classes=list(self.classes_)).fit_transform(list(y))
        return super().score(X, y, sample_weight=sample_weight)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the fitted classifier to the folder ``path`` without pickle.

        Writes ``classifier.json`` (classes, settings) and ``head.safetensors`` (the head's
        arrays); a fine-tuned or unregistered encoder goes to ``encoder/`` as a sememe
        model folder, a registered one (the bundled default) is stored by name. Supports
        the logistic, linear_svm, ridge and mlp heads.
        """
        from ._persist import save_classifier

        check_is_fitted(self, "head_")
        return save_classifier(self, Path(path), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path) -> StaticClassifier:
        """Read a folder written by :meth:`save`; only JSON and safetensors are parsed."""
        from ._persist import load_classifier

        return load_classifier(cls, Path(path))

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        if "encoder_" in state:
            state["encoder_"] = encoder_state(state["encoder_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if "encoder_" in state:
            state["encoder_"] = restore_encoder(state["encoder_"])
        super().__setstate__(state)


# --------------------------------------------------------------------------- helpers


def _is_label_lists(y: Any) -> bool:
    """True when ``y`` is a sequence of label collections (multi-label as lists).

    Equal-length rows of only 0 and 1 are an indicator matrix, as scikit-learn reads
    them; any other sequence of lists, tuples or sets is one label list per text.
    """
    if isinstance(y, np.ndarray):
        if not (y.dtype == object and y.ndim == 1 and len(y) > 0):
            return False
        rows = list(y)
    elif isinstance(y, (list, tuple)) and y:
        rows = list(y)
    else:
        return False
    if not all(isinstance(r, (list, tuple, set, frozenset, np.ndarray)) for r in rows):
        return False
    lengths = {len(r) for r in rows}
    if len(lengths) == 1 and not isinstance(rows[0], (set, frozenset)):
        values = {v for r in rows for v in r}
        if values <= {0, 1} and all(not isinstance(v, str) for v in values):
            return False
    return True


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (for messages and JSON)."""
    return value.item() if hasattr(value, "item") else value


def _native_multilabel(head: Any) -> bool:
    from sklearn.neural_network import MLPClassifier

    return isinstance(head, MLPClassifier)


def _n_iter(head: Any) -> int:
    if hasattr(head, "estimators_"):
        values = [_n_iter(e) for e in head.estimators_]
        return max(values) if values else 1
    n = getattr(head, "n_iter_", None)
    if n is None:
        return 1
    return max(1, int(np.max(n)))
