"""Encoder behaviour: shapes, pooling, inputs, truncation, binary codes, threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import TEXTS, llama_like_tokenizer, reference_vectors, tiny_encoder, word_tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st

import sememe
from sememe import _wordcache


@pytest.mark.parametrize("make", [word_tokenizer, llama_like_tokenizer])
def test_matches_reference_pooling(make):
    enc = tiny_encoder(make())
    got = enc.encode(TEXTS)
    assert got.dtype == np.float32 and got.shape == (len(TEXTS), 16)
    np.testing.assert_allclose(got, reference_vectors(enc, TEXTS), atol=1e-5)
    raw = enc.encode(TEXTS, normalize=False)
    np.testing.assert_allclose(raw, reference_vectors(enc, TEXTS, normalize=False), atol=1e-5)


def test_split_modes_detected():
    assert tiny_encoder(word_tokenizer())._split_mode is not None
    assert tiny_encoder(llama_like_tokenizer())._split_mode == "space"


def test_word_memo_equals_whole_text_tokenizing(tiny_llama):
    """The fast word path and the plain path agree on every text."""
    texts = [*TEXTS * 3, "cat " * 3000, "x" * 10000]
    table = tiny_llama._table
    fast = tiny_llama._encode_batch(texts, table, True)
    plain = tiny_llama._pool(tiny_llama._token_ids(texts), table, True)
    np.testing.assert_allclose(fast, plain, atol=1e-6)


def test_memo_grows_in_place_and_keeps_published_rows(tiny):
    """Words added in many small steps (past the buffers' first size) give the rows a
    single add would, and a snapshot taken earlier is never changed by later adds."""
    rng = np.random.default_rng(0)
    words = list(dict.fromkeys("".join(rng.choice(list("abcdefgh"), 6)) for _ in range(3000)))
    tok = tiny._tokenize_words
    one = tiny._new_cache()
    one.add_words(words, tok)
    steps = tiny._new_cache()
    early = None
    for start in range(0, len(words), 7):
        steps.add_words(words[start : start + 7], tok)
        if early is None and start >= 700:
            early = steps.matrix.copy(), steps.matrix, steps.n_tokens.copy(), steps.n_tokens
            # the snapshot views the buffers that later adds write into (no copy)
            assert np.shares_memory(steps.matrix.data, steps._data)
            assert np.shares_memory(steps.n_tokens, steps._n_tokens)
    assert steps.index.keys() == one.index.keys() and len(steps.index) > 1024
    # rows may be numbered in another order (words are added as a set): compare by word
    order = [steps.index[w] for w in one.index]
    assert sorted(order) == list(range(len(order)))
    assert (steps.matrix[order] != one.matrix[[one.index[w] for w in one.index]]).nnz == 0
    np.testing.assert_array_equal(steps.n_tokens[order], one.n_tokens[list(one.index.values())])
    np.testing.assert_array_equal(
        steps.denominator[order], one.denominator[list(one.index.values())]
    )
    copy, live, n_copy, n_live = early
    assert (live != copy).nnz == 0 and np.array_equal(n_live, n_copy)
    # one more word is written into spare room: no copy of the memo
    names = ("_data", "_indices", "_indptr", "_n_tokens", "_denominator")
    buffers = [getattr(steps, name) for name in names]
    steps.add_words(["zzzz"], tok)
    assert all(getattr(steps, name) is b for name, b in zip(names, buffers, strict=True))
    assert steps.matrix.shape[0] == len(steps.index)


def test_memo_starts_afresh_when_full(tiny, monkeypatch):
    monkeypatch.setattr(_wordcache, "CAPACITY", 5)
    before = tiny.encode(TEXTS)
    cache = tiny._cache
    tiny.encode(["river water fish swim quick brown fox"])  # new words overflow the memo
    assert tiny._cache is not cache
    np.testing.assert_array_equal(tiny.encode(TEXTS), before)


def test_memo_restart_keeps_known_words_of_the_batch(tiny_llama, monkeypatch):
    monkeypatch.setattr(_wordcache, "CAPACITY", 5)
    tiny_llama.encode(["the cat sat"])
    # "the" and "cat" are memoised; the new words overflow the memo, which starts afresh
    got = tiny_llama.encode(["the cat ran in park today"])
    np.testing.assert_allclose(
        got, reference_vectors(tiny_llama, ["the cat ran in park today"]), atol=1e-6
    )


def test_single_text_gives_vector(tiny):
    v = tiny.encode("the cat")
    assert v.shape == (16,)
    np.testing.assert_allclose(v, tiny.encode(["the cat"])[0])


def test_normalized_and_blank_vectors(tiny):
    v = tiny.encode(TEXTS)
    norms = np.linalg.norm(v, axis=1)
    assert np.allclose(norms[[0, 1, 2]], 1.0, atol=1e-6)
    assert norms[3] == 0 and norms[4] == 0  # empty and whitespace-only give the zero vector


def test_input_kinds_agree(tiny):
    expected = tiny.encode(TEXTS)
    np.testing.assert_array_equal(tiny.encode(tuple(TEXTS)), expected)
    np.testing.assert_array_equal(tiny.encode(t for t in TEXTS), expected)
    np.testing.assert_array_equal(tiny.encode(np.array(TEXTS, dtype=object)), expected)
    np.testing.assert_array_equal(tiny.encode(TEXTS, batch_size=2), expected)
    pd = pytest.importorskip("pandas")
    np.testing.assert_array_equal(tiny.encode(pd.Series(TEXTS)), expected)


def test_empty_input(tiny):
    assert tiny.encode([]).shape == (0, 16)
    assert tiny.encode_binary([]).shape == (0, 2)
    assert tiny.encode_binary("cat").shape == (2,)  # one str gives one code, like encode


@pytest.mark.parametrize("bad, pos", [(["ok", None], 1), (["ok", "fine", 3], 2), ([b"bytes"], 0)])
def test_non_str_names_position(tiny, bad, pos):
    with pytest.raises(TypeError, match=rf"texts\[{pos}\]"):
        tiny.encode(bad)


def test_non_str_in_generator_names_global_position(tiny):
    gen = (None if i == 7 else "cat" for i in range(10))
    with pytest.raises(TypeError, match=r"texts\[7\] is None"):
        tiny.encode(gen, batch_size=3)


@pytest.mark.parametrize("bad", [None, 5, 3.2])
def test_non_iterable_rejected(tiny, bad):
    with pytest.raises(TypeError):
        tiny.encode(bad)


def test_awkward_unicode_never_crashes(tiny_llama):
    texts = [
        "a\ud800b",
        "\udfff",
        "\x00\x01\x7f",
        "😀" * 1000,
        "日本語" * 5000,
        "\u200b\u200d",
        "e\u0301",
    ]
    v = tiny_llama.encode(texts)
    assert v.shape == (len(texts), 16) and np.all(np.isfinite(v))
    # a lone surrogate is read as U+FFFD
    np.testing.assert_allclose(v[0], tiny_llama.encode("a\ufffdb"), atol=1e-6)


def test_huge_text_truncated_exactly(tiny_llama):
    enc = tiny_llama.with_options(max_tokens=20)
    long = "the cat sat on the mat " * 50_000  # 1.1 MB
    prefix = "the cat sat on the mat " * 4
    # 20 tokens: with one token per word here, the first 20 words
    np.testing.assert_allclose(
        enc.encode(long), enc.encode(prefix[: prefix.rfind("mat") + 3]), atol=1e-6
    )
    one_token = "x" * 1_000_000
    assert np.isfinite(enc.encode(one_token)).all()


def test_truncation_uses_first_tokens(tiny):
    enc = tiny.with_options(max_tokens=3)
    np.testing.assert_allclose(
        enc.encode("cat dog fish river bank"), enc.encode("cat dog fish"), atol=1e-6
    )


def test_deterministic_across_instances():
    a = tiny_encoder(seed=3).encode(TEXTS)
    b = tiny_encoder(seed=3).encode(list(reversed(TEXTS)))[::-1]
    np.testing.assert_array_equal(a, b)


def test_matryoshka_truncation(tiny):
    full = tiny.encode(TEXTS, normalize=False)
    short = tiny.encode(TEXTS, dim=8)
    expected = full[:, :8] / np.maximum(np.linalg.norm(full[:, :8], axis=1, keepdims=True), 1e-30)
    expected[np.linalg.norm(full[:, :8], axis=1) == 0] = 0
    np.testing.assert_allclose(short, expected, atol=1e-6)
    assert tiny.with_options(dim=8).encode(TEXTS).shape == (len(TEXTS), 8)
    for bad in (0, 17, -1):
        with pytest.raises(ValueError, match="dim must be between 1 and 16"):
            tiny.encode("cat", dim=bad)


def test_binary_codes_match_faiss_reference(tiny):
    faiss = pytest.importorskip("faiss")
    vecs = tiny.encode(TEXTS, normalize=False)
    codes = tiny.encode_binary(TEXTS)
    assert codes.dtype == np.uint8 and codes.shape == (len(TEXTS), 2)
    ref = np.zeros(codes.size, np.uint8)
    faiss.real_to_binary(
        vecs.size, faiss.swig_ptr(np.ascontiguousarray(vecs.ravel())), faiss.swig_ptr(ref)
    )
    np.testing.assert_array_equal(codes.ravel(), ref)
    # and in plain terms: bit j of the code is component j > 0, least significant bit first
    bits = np.unpackbits(codes, axis=1, bitorder="little").astype(bool)
    np.testing.assert_array_equal(bits, vecs > 0)


def test_binary_hamming_in_faiss_index(tiny):
    faiss = pytest.importorskip("faiss")
    codes = tiny.encode_binary(TEXTS[:3])
    index = faiss.IndexBinaryFlat(16)
    index.add(codes)
    dist, ids = index.search(codes, 1)
    assert list(ids[:, 0]) == [0, 1, 2] and not dist.any()


def test_binary_needs_multiple_of_8(tiny):
    with pytest.raises(ValueError, match="multiple of 8"):
        tiny.encode_binary(["cat"], dim=12)


def test_similarity(tiny):
    assert tiny.similarity("the cat", "the cat") == pytest.approx(1.0, abs=1e-6)
    m = tiny.similarity(["cat", "dog"], ["cat", "dog", "fish"])
    assert m.shape == (2, 3) and m[0, 0] == pytest.approx(1.0, abs=1e-6)
    assert tiny.similarity("", "cat") == 0.0


def test_thread_safety(tiny_llama):
    texts = [f"the cat sat on the mat {i} {'dog ' * (i % 7)}" for i in range(3000)]
    expected = tiny_encoder(llama_like_tokenizer()).encode(texts)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(k: int) -> np.ndarray:
        barrier.wait()
        try:
            return tiny_llama.encode(texts[k:] + texts[:k], batch_size=97)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            raise

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(8)))
    assert not errors
    for k, got in enumerate(results):
        np.testing.assert_allclose(got, np.roll(expected, -k, axis=0), atol=1e-6)


def test_tokenize_offsets_point_into_text(tiny_llama):
    text = "the cat  sat ☃"
    toks = tiny_llama.tokenize(text)
    assert len(toks) == tiny_llama.count_tokens(text)
    for s, e in toks.offsets:
        assert 0 <= s <= e <= len(text)
    assert tiny_llama.count_tokens(["cat", ""]).tolist()[1] == 0


def test_encode_ids_equals_encode(tiny):
    toks = tiny.tokenize(["the cat sat", "dog"])
    np.testing.assert_allclose(
        tiny.encode_ids([t.ids for t in toks]), tiny.encode(["the cat sat", "dog"]), atol=1e-6
    )
    with pytest.raises(ValueError, match="outside"):
        tiny.encode_ids([[10_000]])


def test_fingerprint_tracks_content():
    a, b = tiny_encoder(seed=1), tiny_encoder(seed=1)
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != tiny_encoder(seed=2).fingerprint


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=12))
def test_any_text_list(texts):
    enc = _HYP_ENC
    got = enc.encode(texts)
    assert got.shape == (len(texts), 16)
    assert np.all(np.isfinite(got))
    clean = [sememe._text.replace_surrogates(t) for t in texts]
    np.testing.assert_allclose(got, reference_vectors(enc, clean), atol=1e-5)


_HYP_ENC = tiny_encoder(llama_like_tokenizer())


def _owned_twin(ref: sememe.Encoder, tok, copy_tokenizer: bool) -> sememe.Encoder:
    """An encoder with ``ref``'s arrays and config over ``tok``."""
    arrays = ref.arrays
    return sememe.Encoder(
        tok,
        arrays.embeddings,
        weights=arrays.weights,
        config=ref.config,
        copy_tokenizer=copy_tokenizer,
    )


@pytest.mark.parametrize("make", [word_tokenizer, llama_like_tokenizer])
@pytest.mark.parametrize("special", [False, True])
def test_copy_tokenizer_false_encodes_as_a_copy_does(make, special):
    """An encoder that takes the caller's tokenizer (loading's path) resets its padding and
    truncation and gives bit-identical vectors, counts and offsets."""
    ref = tiny_encoder(make(), add_special_tokens=special, max_tokens=5)
    tok = make()
    tok.enable_truncation(2)
    tok.enable_padding(length=40)
    copied = _owned_twin(ref, tok, True)
    owned = _owned_twin(ref, tok, False)
    texts = [*TEXTS, "the cat sat on the mat with the dog " * 4]
    want = ref.encode(texts)
    for enc in (copied, owned):
        assert enc.encode(texts).tobytes() == want.tobytes()
        assert enc.count_tokens(texts).tolist() == ref.count_tokens(texts).tolist()
        mine, theirs = enc.tokenize(texts, truncate=False), ref.tokenize(texts, truncate=False)
        for a, b in zip(mine, theirs, strict=True):
            assert np.asarray(a.ids).tolist() == np.asarray(b.ids).tolist()
            assert np.asarray(a.offsets).tolist() == np.asarray(b.offsets).tolist()
    assert owned.arrays.tokenizer_json == copied.arrays.tokenizer_json
    # the point of copy_tokenizer=False: no second parse, the caller's object is used
    assert owned._offsets_tokenizer is tok and copied._offsets_tokenizer is not tok


def test_copy_tokenizer_default_ignores_later_changes_to_the_callers_tokenizer(tiny_llama):
    tok = llama_like_tokenizer()
    enc = _owned_twin(tiny_llama, tok, True)
    before = enc.encode(TEXTS)
    tok.enable_truncation(1)
    assert enc.encode(TEXTS).tobytes() == before.tobytes()
    assert enc.count_tokens(TEXTS).tolist() == tiny_llama.count_tokens(TEXTS).tolist()


@pytest.mark.parametrize("bad", [0, 1, "no", None])
def test_copy_tokenizer_must_be_a_bool(tiny, bad):
    with pytest.raises(sememe.errors.InvalidTypeError, match="copy_tokenizer must be a bool"):
        _owned_twin(tiny, word_tokenizer(), bad)
