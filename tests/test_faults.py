"""Kill a save of every folder kind at random points: the previous state always loads.

A child process saves one kind of sememe folder (model, index, classifier, dedupe state)
to the same path in a loop, alternating between two versions, and the parent sends it
SIGKILL at a random moment. Whatever moment the kill hits, the path then loads through
the public API as one of the two complete versions, and the next save leaves no hidden
folders behind.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import sememe

ROOT = Path(__file__).resolve().parent

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from pathlib import Path
    import sememe
    from conftest import llama_like_tokenizer, tiny_encoder

    kind, path = sys.argv[1], Path(sys.argv[2])
    enc = tiny_encoder(llama_like_tokenizer(), dim=32)
    texts = ["the cat sat on the mat", "a dog ran in the park", "stock market fell"]

    def make(version):
        if kind == "model":
            return tiny_encoder(llama_like_tokenizer(), dim=32, seed=version)
        if kind == "index":
            return sememe.Index.from_texts(texts[: 2 + version], encoder=enc)
        if kind == "classifier":
            y = ["a", "b", "a"] if version == 0 else ["b", "a", "b"]
            return sememe.StaticClassifier(encoder=enc).fit(texts, y)
        dd = sememe.Deduplicator(0.9, encoder=enc)
        dd.update(texts[: 2 + version])
        return dd

    objects = [make(0), make(1)]
    objects[0].save(path, overwrite=True)
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        objects[n % 2].save(path, overwrite=True)
    """
).format(tests=str(ROOT))


def _load(kind: str, path: Path):
    from conftest import llama_like_tokenizer, tiny_encoder

    enc = tiny_encoder(llama_like_tokenizer(), dim=32)
    texts = ["the cat sat on the mat", "a dog ran in the park", "stock market fell"]
    if kind == "model":
        loaded = sememe.load(path)
        versions = [tiny_encoder(llama_like_tokenizer(), dim=32, seed=s) for s in (0, 1)]
        probe = ["the cat sat"]
        return [
            v for v in (0, 1) if np.array_equal(loaded.encode(probe), versions[v].encode(probe))
        ]
    if kind == "index":
        loaded = sememe.Index.load(path, encoder=enc)
        return [len(loaded) - 2]
    if kind == "classifier":
        loaded = sememe.StaticClassifier.load(path)
        return [
            0 if list(loaded.classes_) == ["a", "b"] and loaded.predict(texts[:1])[0] == "a" else 1
        ]
    loaded = sememe.Deduplicator.load(path, encoder=enc)
    return [loaded.n_seen_ - 2]


@pytest.mark.parametrize("kind", ["model", "index", "classifier", "dedupe-state"])
def test_random_kills_during_saves_leave_a_loadable_state(tmp_path: Path, kind: str) -> None:
    rng = random.Random(kind)
    path = tmp_path / "saved"
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, kind, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = proc.stdout.readline()
        if line.strip() != "ready":
            proc.kill()
            pytest.fail(f"child failed: {proc.stderr.read()}")
        time.sleep(rng.uniform(0.02, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        versions = _load(kind, path)
        assert len(versions) == 1 and versions[0] in (0, 1), versions
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    # the loads above already cleaned what the dead children left
    assert leftovers == []
