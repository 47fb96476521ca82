"""Train text classifiers on the bundled model, the scikit-learn way, and save one without pickle.

python examples/classify.py [examples/data/bank_messages.jsonl]
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path

from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from sememe import StaticClassifier, StaticEmbedder

path = Path(
    sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "data" / "bank_messages.jsonl"
)
rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
x_train, x_test, y_train, y_test = train_test_split(
    texts, labels, test_size=0.3, stratify=labels, random_state=0
)

# 1. Any scikit-learn model on raw text: the embedder is a transformer.
pipe = make_pipeline(StaticEmbedder(), LogisticRegression(C=4.0)).fit(x_train, y_train)
print(f"pipeline accuracy: {pipe.score(x_test, y_test):.2f}")

# 2. The classifier: encoder + head in one estimator.
clf = StaticClassifier("logistic").fit(x_train, y_train)
print(
    f"StaticClassifier accuracy: {clf.score(x_test, y_test):.2f}  classes: {clf.classes_.tolist()}"
)
question = ["my card has not come yet", "what rate will I get for dollars?"]
for text, proba in zip(question, clf.predict_proba(question), strict=True):
    best = proba.argmax()
    print(f"  {text!r} -> {clf.classes_[best]} ({proba[best]:.2f})")

# 3. Tuning with scikit-learn's tools (texts in, nothing else to wire).
grid = GridSearchCV(StaticClassifier(), {"head": ["logistic", "ridge"], "C": [1.0, 4.0]}, cv=3)
grid.fit(x_train, y_train)
print(f"grid search best: {grid.best_params_}")

# 4. Multi-label: a list of labels per text.
multi = [[lab] + (["money"] if lab in ("transfer", "exchange") else []) for lab in y_train]
tagger = StaticClassifier().fit(x_train, multi)
print(
    "multi-label:",
    tagger.predict_labels(
        ["My payment to my landlord failed", "what rate do you use for dollars?"]
    ),
)

# 5. Save and load without pickle: JSON + safetensors; the bundled model is stored by name.
with tempfile.TemporaryDirectory() as tmp:
    folder = clf.save(Path(tmp) / "bank-intents")
    print("saved:", sorted(p.name for p in folder.iterdir()))
    again = StaticClassifier.load(folder)
    assert (again.predict(x_test) == clf.predict(x_test)).all()

# 6. Optional: fine-tune the token table with the head (needs torch: pip install 'sememe[train]').
if importlib.util.find_spec("torch") is not None:
    tuned = StaticClassifier(fine_tune="table", epochs=5).fit(x_train, y_train)
    print(f"fine-tuned accuracy: {tuned.score(x_test, y_test):.2f}  encoder: {tuned.encoder_}")
else:
    print("torch not installed: skipping fine-tuning")
