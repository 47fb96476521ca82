"""Cluster short customer messages, explain the clusters, and use the scikit-learn estimator.

python examples/cluster.py [examples/data/bank_messages.jsonl]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sklearn.metrics import v_measure_score

from sememe import TextClusterer, cluster

path = Path(
    sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "data" / "bank_messages.jsonl"
)
rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
texts = [r["text"] for r in rows]

# k-means with a fixed k; labels are numbered by size (0 is the largest cluster).
result = cluster(texts, 4, seed=0)
print(result)
for summary in result.describe(n_keywords=4, n_representatives=2):
    print(f"\ncluster {summary.label} ({summary.size} texts): {', '.join(summary.keywords)}")
    for text in summary.representatives:
        print(f"  - {text}")

# The gold intents are in the file, so we can see how well the clusters match them.
print(
    f"\nV-measure against the intents: {v_measure_score([r['label'] for r in rows], result.labels):.2f}"
)

# The most atypical texts: the largest cosine distance to their own centroid.
print("\nmost atypical:", [texts[i] for i in result.outliers(2)])

# Let sememe choose k (silhouette over candidates), or let HDBSCAN find dense groups.
auto = cluster(texts)
print(
    f"\nautomatic k = {auto.n_clusters}; silhouette per candidate k:",
    {k: round(v, 3) for k, v in auto.k_scores.items()},
)
dense = cluster(texts, method="hdbscan", min_cluster_size=4)
print(f"hdbscan: {dense.n_clusters} clusters, {dense.n_noise} texts left as noise (-1)")

# As a scikit-learn estimator: fit on some texts, assign new ones to the nearest centroid.
model = TextClusterer(n_clusters=4, random_state=0).fit(texts)
new = ["my card never came in the post", "what rate do you give for yen?"]
for text, label in zip(new, model.predict(new), strict=True):
    print(f"{text!r} -> cluster {label}: {', '.join(model.clusters_.keywords(3)[label])}")
