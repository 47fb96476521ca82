"""Shared fixtures: tiny models built in-process (nothing is downloaded) and the bundled one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

import sememe
from sememe.config import ModelConfig
from sememe.index import Index

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "on",
    "mat",
    "ran",
    "in",
    "park",
    "stock",
    "market",
    "fell",
    "sharply",
    "today",
    "bank",
    "money",
    "loan",
    "interest",
    "rate",
    "river",
    "water",
    "fish",
    "swim",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
]


TEXTS = [
    "The cat sat on the mat.",
    "A dog ran in the park",
    "stock market fell sharply today",
    "",
    "   \t\n ",
    "the  cat   sat",  # runs of spaces
    " leading and trailing ",
    "unknown zebra words ☃ 😀 日本語",
    "tabs\tand\nnewlines",
]


def sentences(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct random word sequences over the tiny vocabulary."""
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        out[" ".join(rng.choice(WORDS, rng.integers(2, 9)))] = None
    return list(out)


def word_tokenizer() -> Tokenizer:
    """A BERT-like word-level tokenizer: lower-cased, split on whitespace and punctuation."""
    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(WORDS)}, ".": len(WORDS) + 1}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tok


def llama_like_tokenizer() -> Tokenizer:
    """A byte-fallback BPE without pre-tokenizer, spaces turned into '▁' (as Llama 2 does)."""
    chars = sorted(set("".join(WORDS)))
    vocab: dict[str, int] = {"<unk>": 0}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece in ["▁", *chars, *(f"▁{c}" for c in chars)]:
        vocab.setdefault(piece, len(vocab))
    merges = []
    for w in WORDS:  # merge each word left to right, prefixed with the space marker
        cur = "▁" + w[0]
        for c in w[1:]:
            merges.append((cur, c))
            vocab.setdefault(cur + c, len(vocab))
            cur += c
    merges = list(dict.fromkeys(merges))
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    return tok


def tiny_encoder(
    tokenizer: Tokenizer | None = None, dim: int = 16, seed: int = 0, **cfg
) -> sememe.Encoder:
    """A random-table encoder over ``tokenizer`` with per-token weights."""
    tokenizer = tokenizer or word_tokenizer()
    n = tokenizer.get_vocab_size()
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((n, dim)).astype(np.float32)
    weights = rng.uniform(0.2, 1.0, n).astype(np.float32)
    config = ModelConfig(dim=dim, vocab_size=n, name="tiny", **cfg)
    return sememe.Encoder(tokenizer, table, weights=weights, config=config)


@pytest.fixture
def tiny() -> sememe.Encoder:
    return tiny_encoder()


@pytest.fixture
def tiny_llama() -> sememe.Encoder:
    return tiny_encoder(llama_like_tokenizer())


@pytest.fixture(scope="session")
def default() -> sememe.Encoder:
    return sememe.load()


def reference_vectors(enc: sememe.Encoder, texts: list[str], normalize: bool = True) -> np.ndarray:
    """Straightforward re-implementation of pooling, one text at a time, for comparison."""
    tok = enc.tokenizer
    tok.no_truncation()
    out = np.zeros((len(texts), enc.full_dim), np.float32)
    for i, t in enumerate(texts):
        if not t.strip():
            continue
        ids = np.array(
            tok.encode(t, add_special_tokens=False).ids[: enc.max_tokens], dtype=np.int64
        )
        keep = ~np.isin(ids, enc.config.ignore_token_ids)
        ids = ids[keep]
        if ids.size == 0:
            continue
        rows = ids if enc._mapping is None else enc._mapping[ids]
        w = enc._token_weight[ids].astype(np.float64)
        s = (enc._table[rows].astype(np.float64) * w[:, None]).sum(0)
        if normalize:
            norm = np.linalg.norm(s)
            out[i] = s / norm if norm > 0 else 0
        else:
            den = w.sum() if enc.config.pooling == "weighted_mean" else len(ids)
            out[i] = s / den
    return out


@pytest.fixture(scope="module")
def memory_tempdir(tmp_path_factory):
    """Hybrid indexes keep their live tantivy folder under tempfile's directory, and each
    commit fsyncs it (about 0.1 s per add on a disk): keep those in memory when /dev/shm
    is there, so that these tests stay fast. Saved folders (tmp_path) are unaffected."""
    import os
    import tempfile

    tmp_path_factory.getbasetemp()  # tmp_path stays where pytest puts it
    shm = "/dev/shm"
    if not (os.path.isdir(shm) and os.access(shm, os.W_OK)):
        yield
        return
    old = tempfile.tempdir
    tempfile.tempdir = shm
    try:
        yield
    finally:
        tempfile.tempdir = old


#: Ten short texts with overlapping words, for index tests (dense and hybrid).
SMALL_DOCS = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "stock market fell sharply today",
    "bank loan interest rate",
    "river water fish swim",
    "the quick brown fox jumps over the lazy dog",
    "money in the bank",
    "fish swim in the river",
    "the dog sat on the mat",
    "interest rate fell today",
]


def apply_steps(index: Index, steps: list[tuple[bool, int, int]]) -> dict[int, str]:
    """Run (is_add, size, seed) steps of adds and removes; returns the expected id -> text."""
    model: dict[int, str] = {}
    next_id = 0
    for is_add, size, seed in steps:
        if is_add or not model:
            texts = sentences(size, seed=seed)
            ids = list(range(next_id, next_id + size))
            next_id += size
            index.add(texts, ids=ids)
            model.update(zip(ids, texts, strict=True))
        else:
            rng = np.random.default_rng(seed)
            gone = [int(i) for i in rng.choice(list(model), min(size, len(model)), replace=False)]
            index.remove(gone)
            for i in gone:
                del model[i]
    return model


# The session-scoped local Spark session of tests/test_spark.py (skips without Java).
#: Set in the fresh pytest process :func:`ran_in_a_fresh_process` starts.
FRESH_PROCESS_ENV = "SEMEME_TEST_FRESH_PROCESS"


def ran_in_a_fresh_process(request: pytest.FixtureRequest) -> bool:
    """Run the calling test in a fresh one-thread pytest process when this one runs other
    threads, and return True once it passed there (the caller then returns).

    sememe forks helpers only from a process with one thread (``sememe._fork.can_fork``,
    ``chunking._pool.can_fork``); earlier tests of a full run leave threads behind
    (Spark's, the hybrid index's), so there the fork tests would pass without forking.
    """
    import os
    import subprocess
    import sys
    import threading

    if threading.active_count() == 1:
        return False
    assert not os.environ.get(FRESH_PROCESS_ENV), "the fresh process runs other threads"
    nodeid = f"{request.node.path.resolve()}::{request.node.name}"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", nodeid],
        env={**os.environ, FRESH_PROCESS_ENV: "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "skipped" not in run.stdout, run.stdout[-2000:]
    return True


@pytest.fixture
def forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The children each ``sememe._fork.RowSplit.fork`` started from now on (one entry
    per call): the encoder's and the chunkers' process splits."""
    from sememe import _fork

    got: list[int] = []
    original = _fork.RowSplit.fork

    def spy(self: _fork.RowSplit) -> int:
        got.append(original(self))
        return got[-1]

    monkeypatch.setattr(_fork.RowSplit, "fork", spy)
    return got


def no_children() -> bool:
    """True when this process has no child process left (reaped or not)."""
    import os

    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


from spark_fixture import spark  # noqa: E402, F401
