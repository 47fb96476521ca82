"""Remove exact and near duplicates from a file of lines, explain the decisions, keep a stream.

python examples/dedupe.py [examples/data/dedupe_sample.txt]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sememe import Deduplicator, dedupe

path = Path(
    sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "data" / "dedupe_sample.txt"
)
lines = path.read_text(encoding="utf-8").splitlines()

# Keep the first of every group of records within cosine 0.9 of a kept record (or equal
# after normalising case, Unicode and whitespace).
result = dedupe(lines, threshold=0.9)
print(result)
for line in result.deduplicated:
    print("  kept:", line)

# Why was each record removed, and what did the first record remove?
for dup in result.removed[:4]:
    print(result.explain(dup.index))
print(result.explain(0))

# Other thresholds from the same pairs, without encoding again (any threshold >= floor).
stricter = result.rethreshold(0.97)
print(f"at 0.97: {stricter.n_kept} kept; at 0.9: {result.n_kept} kept")

# Or ask for a size and let dedupe find the threshold.
small = dedupe(lines, target_size=6)
print(f"target_size=6 -> threshold {small.threshold:.3f}, {small.n_kept} kept")

# Records as dicts, keeping the longest text of each group.
records = [{"id": n, "text": line} for n, line in enumerate(lines) if line.strip()]
longest = dedupe(records, key="text", keep="longest")
print("longest kept ids:", [r["id"] for r in longest.deduplicated])

# A stream: each batch is deduplicated against everything kept so far; the state can be
# saved and resumed in another process.
dd = Deduplicator(threshold=0.9)
for start in range(0, len(lines), 5):
    batch = dd.update(lines[start : start + 5])
    print(f"batch at {batch.offset}: kept {batch.kept}, removed {[d.index for d in batch.removed]}")
with tempfile.TemporaryDirectory() as tmp:
    dd.save(Path(tmp) / "state")
    resumed = Deduplicator.load(Path(tmp) / "state")
    print("resumed:", resumed)
    new = [
        "The server will be down for maintenance tonight from 10 pm to midnight!",
        "Lunch is free.",
    ]
    print("survivors of a new batch:", resumed.filter(new))

# Audit trail: one JSON line per removed record with both texts.
with tempfile.TemporaryDirectory() as tmp:
    report = result.write_report(Path(tmp) / "removed.jsonl")
    print(report.read_text(encoding="utf-8").splitlines()[0])
