"""Text classification with scikit-learn conventions on the shared encoder.

* :class:`StaticEmbedder`: a transformer from texts to vectors, so any scikit-learn
  model works on raw text (``make_pipeline(StaticEmbedder(), LogisticRegression())``).
* :class:`StaticClassifier`: encoder plus a head (logistic regression, MLP, linear SVM,
  ridge, or any scikit-learn classifier); single- and multi-label; ``save``/``load``
  without pickle; optional fine-tuning of the encoder with torch.

Layout: ``_estimators`` (the two estimators and input handling), ``_heads`` (head
factory and the frozen array heads), ``_persist`` (the folder format), ``_finetune``
(torch training). The ``encoder`` parameter under clone and pickle is shared with
:mod:`sememe.clustering` and lives in :mod:`sememe._resolve` (``_encoders`` re-exports it).

A damaged or inconsistent saved folder raises :class:`ClassifierFormatError` (also in
:mod:`sememe.errors`), a :class:`~sememe.errors.ModelFormatError` subclass.
"""

from __future__ import annotations

from ..errors import ClassifierFormatError
from ._estimators import FINE_TUNE_MODES, StaticClassifier, StaticEmbedder, evaluate_holdout
from ._heads import HEADS

__all__ = [
    "FINE_TUNE_MODES",
    "HEADS",
    "ClassifierFormatError",
    "StaticClassifier",
    "StaticEmbedder",
    "evaluate_holdout",
]
