"""Encoder.encode's two stages (prepare words in the caller's thread, pool in a worker
thread) and the vectorised pieces of the cold path: the vectors must be exactly those of
the one-thread loop, whatever the batching, the threads or the process."""

from __future__ import annotations

import multiprocessing
import re
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

import numpy as np
import pytest
from conftest import llama_like_tokenizer, reference_vectors, sentences, tiny_encoder
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

import sememe
from sememe import _wordcache
from sememe import encoder as encoder_module


def mixed_texts(n: int) -> list[str]:
    """Sentences plus the texts that leave the word path: runs of spaces, an added
    token's literal, whitespace-only, empty, and a text past the character limit."""
    texts = sentences(n)
    extras = [
        "the  cat",
        " leading space",
        "trailing ",
        "a <s> b",
        "",
        "   ",
        "\u3000",
        "cat " * 5000,
    ]
    for i, extra in enumerate(extras):
        texts[(i * 997) % n] = extra
    return texts


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch):
    """Threads from 1,000 texts (instead of 8,192), so the tests stay quick."""
    monkeypatch.setattr(encoder_module, "THREAD_MIN_TEXTS", 1000)


@pytest.fixture
def llama() -> sememe.Encoder:
    return tiny_encoder(llama_like_tokenizer())


@pytest.fixture
def threads_on(monkeypatch):
    """The pooling thread allowed whatever the runner's cores (``_use_threads`` also asks
    for two cores, so on a one-core runner the env var alone would test the serial loop),
    except inside ``single_threaded()``."""
    monkeypatch.setattr(
        encoder_module, "_use_threads", lambda: not encoder_module._THREADS_OFF.get()
    )


def encode_with(monkeypatch, enc: sememe.Encoder, texts, threads: bool, **kwargs) -> np.ndarray:
    monkeypatch.setattr(encoder_module, "_use_threads", lambda: threads)
    return enc.encode(texts, **kwargs)


class CountingPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor that records each one made (one per threaded call)."""

    made: ClassVar[list[int]] = []

    def __init__(self, *args, **kwargs):
        CountingPool.made.append(1)
        super().__init__(*args, **kwargs)


@pytest.fixture
def pools(monkeypatch) -> list[int]:
    """The pools the encoder starts during the test (one entry per pooling thread)."""
    CountingPool.made = []
    monkeypatch.setattr(encoder_module, "ThreadPoolExecutor", CountingPool)
    return CountingPool.made


@pytest.mark.parametrize("normalize", [True, False])
def test_threads_give_the_one_thread_vectors_bit_for_bit(llama, monkeypatch, normalize):
    texts = mixed_texts(6000)
    fresh = tiny_encoder(llama_like_tokenizer())  # cold memo in both runs
    serial = encode_with(monkeypatch, fresh, texts, False, normalize=normalize, batch_size=1000)
    threaded = encode_with(monkeypatch, llama, texts, True, normalize=normalize, batch_size=1000)
    np.testing.assert_array_equal(threaded, serial)
    # one batch cut in two halves, and a warm memo, give the same again
    again = encode_with(monkeypatch, llama, texts, True, normalize=normalize)
    np.testing.assert_array_equal(again, serial)
    ref = reference_vectors(llama, texts[:400], normalize=normalize)
    np.testing.assert_allclose(threaded[:400], ref, atol=1e-5)


def test_bundled_model_threads_equal_one_thread(default, monkeypatch):
    texts = [*mixed_texts(3000), "Hello <unk> world", "x" * 70_000]
    serial = encode_with(monkeypatch, default, texts, False, batch_size=700)
    np.testing.assert_array_equal(encode_with(monkeypatch, default, texts, True), serial)


def test_generators_and_sized_inputs_that_lie(llama, monkeypatch):
    texts = sentences(5000)
    want = encode_with(monkeypatch, llama, texts, False)

    class Claims:  # an iterable whose len() is not the number of texts it yields
        def __init__(self, n: int) -> None:
            self.n = n

        def __len__(self) -> int:
            return self.n

        def __iter__(self):
            return iter(texts)

    Longer, Shorter = (lambda _: Claims(3000)), (lambda _: Claims(9000))
    monkeypatch.setattr(encoder_module, "_use_threads", lambda: True)
    np.testing.assert_array_equal(llama.encode(iter(texts), batch_size=999), want)
    np.testing.assert_array_equal(llama.encode(Longer(texts), batch_size=999), want)
    np.testing.assert_array_equal(llama.encode(Shorter(texts), batch_size=999), want)


def test_worker_thread_used_only_for_large_calls_and_turned_off_by_env(llama, monkeypatch):
    made = []

    class Counting(ThreadPoolExecutor):
        def __init__(self, *args, **kwargs):
            made.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(encoder_module, "ThreadPoolExecutor", Counting)
    monkeypatch.setattr(encoder_module, "_use_threads", lambda: True)
    llama.encode(sentences(encoder_module.THREAD_MIN_TEXTS))
    assert made == []
    llama.encode(sentences(encoder_module.THREAD_MIN_TEXTS + 1))
    assert made == [1]
    monkeypatch.undo()
    monkeypatch.setattr(encoder_module, "THREAD_MIN_TEXTS", 1000)
    monkeypatch.setattr(encoder_module, "ThreadPoolExecutor", Counting)
    for off in ("0", "false", "OFF", " no "):
        monkeypatch.setenv(encoder_module.THREADS_ENV, off)
        assert not encoder_module._use_threads()
        llama.encode(sentences(5000))
    assert made == [1]


def test_error_in_the_worker_reaches_the_caller(llama, monkeypatch, threads_on):
    ran_on: list[str] = []

    def broken(*args):
        ran_on.append(threading.current_thread().name)
        raise MemoryError("pooling failed")

    monkeypatch.setattr(llama, "_pool_batch", broken)
    with pytest.raises(MemoryError, match="pooling failed"):
        llama.encode(sentences(5000))
    assert ran_on and ran_on[0].startswith("sememe-pool")


def test_small_generator_stays_in_the_callers_thread(llama, threads_on, pools):
    texts = sentences(50)
    want = llama.encode(texts)
    assert pools == []
    np.testing.assert_array_equal(llama.encode(iter(texts)), want)
    np.testing.assert_array_equal(llama.encode(t for t in texts[:1]), want[:1])
    np.testing.assert_array_equal(llama.encode(iter([])), np.zeros((0, llama.dim), np.float32))
    # exactly the threshold is still small; one more text (over several batches) is not
    limit = encoder_module.THREAD_MIN_TEXTS
    llama.encode(iter(sentences(limit)), batch_size=300)
    assert pools == []
    big = sentences(limit + 1)
    want_big = llama.encode(big, batch_size=300)  # a list over the threshold: threaded
    assert pools == [1]
    np.testing.assert_array_equal(llama.encode(iter(big), batch_size=300), want_big)
    assert pools == [1, 1]


def test_the_thread_is_opt_in(monkeypatch):
    monkeypatch.delenv(encoder_module.THREADS_ENV, raising=False)
    assert not encoder_module._use_threads()  # off by default
    for bad in ("", "2", "maybe"):
        monkeypatch.setenv(encoder_module.THREADS_ENV, bad)
        assert not encoder_module._use_threads()


def test_single_threaded_turns_the_thread_off_for_its_block_and_thread_only(
    llama, pools, monkeypatch
):
    monkeypatch.setenv(encoder_module.THREADS_ENV, "1")
    if not encoder_module._use_threads():
        pytest.skip("the pooling thread needs two cores")
    texts = sentences(3000)
    with encoder_module.single_threaded():
        assert not encoder_module._use_threads()
        inside = llama.encode(texts)
        assert pools == []
        with ThreadPoolExecutor(1) as other:  # another thread is not affected
            assert other.submit(encoder_module._use_threads).result()
    assert encoder_module._use_threads()
    np.testing.assert_array_equal(llama.encode(texts), inside)
    assert pools == [1]


def test_threaded_memo_replacement_matches_the_serial_loop(monkeypatch, threads_on):
    """When a batch fills the memo the pooling thread starts a fresh one; the batch
    prepared meanwhile against the old memo must use the fresh one, not start another."""
    monkeypatch.setattr(_wordcache, "CAPACITY", 10_000)
    # 3,500 new words per batch of 500 texts: a fresh memo every two or three batches
    texts = [" ".join(f"cat{7 * i + k} the" for k in range(7)) for i in range(6000)]
    counts = {}
    results = {}
    for threads in (False, True):
        enc = tiny_encoder(llama_like_tokenizer())
        made: list[int] = []
        new_cache = enc._new_cache

        def counted(new_cache=new_cache, made=made):
            made.append(1)
            return new_cache()

        monkeypatch.setattr(enc, "_new_cache", counted)
        monkeypatch.setattr(encoder_module, "_use_threads", lambda threads=threads: threads)
        results[threads] = enc.encode(texts, batch_size=500)
        counts[threads] = len(made)
    np.testing.assert_array_equal(results[True], results[False])
    assert counts[False] > 1  # the memo was replaced at all
    assert counts[True] == counts[False]


def test_callers_in_many_threads_get_the_same_vectors(llama, threads_on):
    chunks = [sentences(3000, seed=s) for s in range(4)]
    want = [tiny_encoder(llama_like_tokenizer()).encode(c) for c in chunks]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(llama.encode, chunks))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def _child_encode(texts: list[str]) -> np.ndarray:
    return _FORK_ENCODER.encode(texts)


_FORK_ENCODER: sememe.Encoder | None = None


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_forked_child_encodes_after_the_parent_used_threads(llama, monkeypatch, threads_on):
    global _FORK_ENCODER
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")  # its own fork warning
    texts = sentences(5000)
    want = llama.encode(texts)
    _FORK_ENCODER = llama
    try:
        with multiprocessing.get_context("fork").Pool(1) as pool:
            got = pool.apply_async(_child_encode, (sentences(5000, seed=1),)).get(timeout=60)
    finally:
        _FORK_ENCODER = None
    np.testing.assert_array_equal(
        got, tiny_encoder(llama_like_tokenizer()).encode(sentences(5000, seed=1))
    )
    np.testing.assert_array_equal(llama.encode(texts), want)


def test_truncation_is_a_slice_of_the_untruncated_ids():
    enc = tiny_encoder(llama_like_tokenizer(), max_tokens=7)
    truncating = enc.tokenizer
    truncating.enable_truncation(7)
    texts = ["the cat sat on the mat with a hat", "cat", "naïve 😀 café résumé über", ""]
    for text, got in zip(texts, enc.tokenize(texts, truncate=True), strict=True):
        want = truncating.encode(text, add_special_tokens=False)
        assert got.ids.tolist() == want.ids
        assert [tuple(o) for o in got.offsets.tolist()] == want.offsets
    np.testing.assert_allclose(enc.encode(texts), reference_vectors(enc, texts), atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="ab \n\u00a0x", max_size=12), max_size=30))
def test_space_words_are_the_per_text_splits(texts):
    words, indptr = _wordcache.space_words(texts)
    for i, text in enumerate(texts):
        assert words[indptr[i] : indptr[i + 1]] == text.split(" ")
    assert indptr[-1] == len(words)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=400), st.integers(41, 5000))
def test_unique_rows_is_np_unique(rows, n_rows):
    arr = np.asarray(rows, np.int64)
    uniq, inv = _wordcache.unique_rows(arr, n_rows)
    want_u, want_i = np.unique(arr, return_inverse=True)
    np.testing.assert_array_equal(uniq, want_u)
    np.testing.assert_array_equal(inv, want_i.ravel())
    assert inv.dtype == np.int32


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet="<s>/Sa\nb", max_size=8), max_size=30))
def test_matching_finds_the_words_a_search_finds(words):
    pattern = re.compile("<s>|</s>", re.IGNORECASE)
    assert _wordcache.matching(words, pattern) == [w for w in words if pattern.search(w)]


def test_vocabulary_scan_agrees_with_the_per_token_check():
    from tokenizers import models

    def local(vocab: list[str]) -> bool:
        tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocab)}, unk_token=vocab[0]))
        return _wordcache._structurally_word_local(tok)

    assert local(["<unk>", "▁the", "▁▁", "cat", "Ġx"])
    assert not local(["<unk>", "▁the", "of▁the"])
    assert not local(["<unk>", "aĠ"])
    assert not local(["<unk>", "a\x00", "b▁c"])  # a NUL in a token: the per-token loop
    assert local(["<unk>", "a\x00", "▁b"])
    assert _wordcache._structurally_word_local(llama_like_tokenizer())


def test_one_private_tokenizer_unless_special_tokens_are_added():
    """Parsing a tokenizer costs about 0.1 s: an encoder keeps one private copy, and a
    second (truncating) one only where special tokens are added."""
    given_tok = llama_like_tokenizer()
    enc = tiny_encoder(given_tok)
    assert enc._tokenizer is enc._offsets_tokenizer
    assert enc._tokenizer is not given_tok  # the caller may still reconfigure theirs
    given_tok.enable_truncation(2)
    assert len(enc.tokenize("the cat sat on the mat").ids) > 2
    special = tiny_encoder(llama_like_tokenizer(), add_special_tokens=True)
    assert special._tokenizer is not special._offsets_tokenizer


def test_seeded_memo_shares_the_table_and_indexes_its_words_when_used(tmp_path):
    """A memo seeded from a word table copies no index: the table's words get their table
    row when a text first uses them, and only new words are tokenized."""
    tok = llama_like_tokenizer()
    path = tmp_path / "words.safetensors"
    _wordcache.write_word_table(path, tok, tok.to_str(), ["the", "cat", "sat", "mat"])
    table = _wordcache.WordTable.open(path, tok.get_vocab_size(), ValueError)
    loaded = table.load()
    enc = tiny_encoder(tok)
    cache = _wordcache.WordCache(
        enc.arrays.table.shape[0], enc.arrays.token_weights, enc.arrays.denominators
    )
    cache.seed(loaded)
    assert len(cache) == 5 and cache.index == {"": 0}
    rows, missing = cache.lookup(["cat", "dog", "cat", "the"])
    assert missing == {"dog"}
    assert cache.index == {"": 0, "cat": loaded.index["cat"], "the": loaded.index["the"]}
    asked: list[list[str]] = []

    def tokenize(words):
        asked.append(list(words))
        return enc._tokenize_words(words)

    cache.add_words(missing | {"mat"}, tokenize)
    assert asked == [["dog"]]  # "mat" is the table's: never tokenized
    cache.fill(rows, ["cat", "dog", "cat", "the"])
    assert rows.tolist() == [loaded.index["cat"], 5, loaded.index["cat"], loaded.index["the"]]
    assert cache.row("mat") == loaded.index["mat"] and cache.row("zzz") is None
    assert "dog" not in loaded.index  # the shared table is never written


def test_spark_worker_functions_encode_without_the_pooling_thread(llama, threads_on, pools):
    """Spark runs one Python worker per core and sends Arrow batches of 10,000 rows (over
    THREAD_MIN_TEXTS): the worker functions must not start a second thread each."""
    pa = pytest.importorskip("pyarrow")
    from types import SimpleNamespace

    from sememe._resolve import encoder_state
    from sememe.spark._dedupe import _encode_items
    from sememe.spark._encode import _encode_batches
    from sememe.spark._model import ModelSpec

    texts = sentences(3000)
    spec = ModelSpec(
        key="test-threads-off", broadcast=SimpleNamespace(value=encoder_state(llama, portable=True))
    )
    batch = pa.RecordBatch.from_arrays([pa.array(texts)], ["text"])
    (out,) = _encode_batches(iter([batch]), spec, "text", llama.dim, False, "embedding")
    got = np.asarray(out.column("embedding").to_pylist(), np.float32)
    (codes,) = _encode_batches(iter([batch]), spec, "text", llama.dim, True, "code")
    items = pa.RecordBatch.from_arrays(
        [pa.array(range(len(texts))), pa.array(texts)], ["_item", "text"]
    )
    (deduped,) = _encode_items(iter([items]), spec, "text")
    assert pools == []  # none of the three started the pooling thread
    np.testing.assert_array_equal(got, llama.encode(texts))
    assert pools == [1]  # the same call outside the workers does (the test can fail)
    assert codes.num_rows == deduped.num_rows == len(texts)
