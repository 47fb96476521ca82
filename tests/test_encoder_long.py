"""Very long texts are tokenized in pieces: exactly as if whole where the text has safe cuts
(spaces), within a token per cut where a long stretch has none (CJK, blobs), in time linear in
the length; and bad arguments to the encoder get sememe errors that name them."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from conftest import llama_like_tokenizer, tiny_encoder, word_tokenizer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sememe
from sememe import encoder as encoder_module
from sememe.errors import InvalidArgumentError, InvalidTypeError, SememeError

# Strings rich in piece-boundary cases: runs of spaces, tabs, newlines, non-ASCII letters,
# byte-fallback characters, lone surrogates, the space markers themselves.
PARTS = [
    *"ab cd  ",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n",
    "é",
    "日",
    "😀",
    "\ud800",
    "▁",
    "Ġ",
    ".",
    "-",
    "1",
]
WORDS = ["cat", "sat", "the", "mat", "stock", "river"]
ALPHABET = st.sampled_from([*PARTS, *WORDS])
LONGISH = st.lists(ALPHABET, min_size=0, max_size=60).map("".join)


def whole(enc: sememe.Encoder, text: str) -> tuple[np.ndarray, np.ndarray]:
    e = enc._encode_raw(enc._offsets_tokenizer, [text], fast=False)[0]
    return np.asarray(e.ids, np.int32), np.asarray(e.offsets, np.int64).reshape(-1, 2)


@pytest.fixture(scope="module", params=["word", "llama", "bundled"])
def any_enc(request):
    if request.param == "bundled":
        return sememe.load()
    return tiny_encoder(word_tokenizer() if request.param == "word" else llama_like_tokenizer())


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=LONGISH, piece=st.integers(1, 8))
def test_pieces_give_the_tokens_and_offsets_of_the_whole_text(any_enc, text, piece):
    """Cut only at safe places (no bound on a piece's size), pieces are exact."""
    ids, offsets = whole(any_enc, text)
    unbounded = 10**9
    got = any_enc._tokenize_long(text, piece_chars=piece, max_chars=unbounded)
    np.testing.assert_array_equal(got.ids, ids)
    np.testing.assert_array_equal(got.offsets, offsets)
    pieces = any_enc._long_pieces(text, piece_chars=piece, max_chars=unbounded)
    assert sum(len(e) - d for e, d, _, _ in pieces) == len(ids)
    cut = any_enc._tokenize_long(text, piece_chars=piece, max_chars=unbounded, limit=5)
    np.testing.assert_array_equal(cut.ids, ids[:5])


def check_offsets(text: str, got: sememe.encoder.TokenizedText) -> None:
    """Offsets are character offsets into ``text``, in order."""
    starts, ends = got.offsets[:, 0], got.offsets[:, 1]
    assert (starts >= 0).all() and (ends <= len(text)).all() and (starts <= ends).all()
    assert (np.diff(starts) >= 0).all() and (np.diff(ends) >= 0).all()


SPACELESS = st.lists(st.sampled_from([*"xé日本。，.,", "😀", "e\u0301", "\ud800", "\r\n", "ab"]))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(text=st.one_of(LONGISH, SPACELESS.map("".join)), piece=st.integers(1, 8))
def test_forced_cuts_stay_in_order_and_close_to_the_whole_text(any_enc, text, piece):
    """With pieces of at most 2 * piece characters, stretches without a safe cut are cut at
    character boundaries: offsets stay exact and ordered, the count is within two tokens
    per forced cut of the whole text's (a token that spans the cut becomes two or three),
    and count_tokens agrees with tokenize."""
    ids, _ = whole(any_enc, text)
    cuts = list(any_enc._cuts(text, piece, 2 * piece))
    forced = [c for c, f in cuts if f]
    for c in forced:
        assert encoder_module._is_boundary(text, c), (text, c)
        assert not ("\ud800" <= text[c - 1] <= "\udbff" and "\udc00" <= text[c] <= "\udfff")
    got = any_enc._tokenize_long(text, piece_chars=piece)
    check_offsets(text, got)
    counted = sum(len(e) - d for e, d, _, _ in any_enc._long_pieces(text, piece_chars=piece))
    assert counted == len(got)
    assert abs(len(got) - len(ids)) <= 2 * len(forced)
    if not forced:
        np.testing.assert_array_equal(got.ids, ids)


def count_calls(monkeypatch, enc: sememe.Encoder) -> list[int]:
    """Record the length of every text handed to the tokenizer."""
    sizes: list[int] = []
    raw = enc._encode_raw

    def spy(tok, texts, fast):
        sizes.extend(map(len, texts))
        return raw(tok, texts, fast)

    monkeypatch.setattr(enc, "_encode_raw", spy)
    return sizes


@pytest.mark.parametrize(
    "text",
    [
        "x" * 300_000,
        ("中文文本测试这是一个句子，没有空格。" * 20_000)[:300_000],
        "日本語" * 100_000,  # no punctuation: cut at any character
        "x" * 150_000 + " cat " + "y" * 150_000,
    ],
    ids=["x", "chinese", "no-punctuation", "one-space"],
)
def test_spaceless_runs_are_tokenized_in_bounded_pieces(default, monkeypatch, text):
    """A long run without spaces never reaches the tokenizer whole: every call gets at most
    2 * PIECE_CHARS + 1 characters, so the time is linear in the length."""
    monkeypatch.setattr(encoder_module, "PIECE_CHARS", 4096)
    sizes = count_calls(monkeypatch, default)
    t0 = time.perf_counter()
    n = default.count_tokens(text)
    got = default.tokenize(text)
    assert time.perf_counter() - t0 < 10  # about 1 s; generous for a shared machine
    assert sizes and max(sizes) <= 2 * 4096 + 1
    assert sum(sizes) < 2.1 * len(text)  # each character tokenized once per call, plus windows
    assert n == len(got)
    check_offsets(text, got)
    monkeypatch.undo()
    ids, _ = whole(default, text)
    n_cuts = len(list(default._cuts(text, 4096, 2 * 4096)))
    assert abs(n - len(ids)) <= n_cuts


def test_chinese_cut_after_punctuation_is_exact(default, monkeypatch):
    """Forced cuts prefer the place after punctuation, across which the bundled tokenizer
    never merges: the tokens are those of the whole text."""
    text = ("他们在河边坐了很久，谈论着过去的事情。明天还要早起。" * 4000)[:100_000]
    monkeypatch.setattr(encoder_module, "PIECE_CHARS", 1000)
    cuts = list(default._cuts(text, 1000, 2000))
    assert cuts and all(f and text[c - 1] in "，。" for c, f in cuts)
    ids, offsets = whole(default, text)
    got = default.tokenize(text)
    np.testing.assert_array_equal(got.ids, ids)
    np.testing.assert_array_equal(got.offsets, offsets)


def test_text_with_spaces_is_still_exact(default, monkeypatch):
    monkeypatch.setattr(encoder_module, "PIECE_CHARS", 500)
    text = ("The river bank was steep. 河 岸 很 陡。 " * 3000)[:70_000]
    assert not any(f for _, f in default._cuts(text, 500, 1000))
    ids, offsets = whole(default, text)
    got = default.tokenize(text)
    np.testing.assert_array_equal(got.ids, ids)
    np.testing.assert_array_equal(got.offsets, offsets)
    assert default.count_tokens(text) == len(ids)


def test_encode_of_a_long_spaceless_text_reads_only_a_prefix(default, monkeypatch):
    """encode keeps the first max_tokens tokens: a 2 MB run without spaces is cut at a
    character boundary, and only the first pieces are tokenized again."""
    text = "x" * 2_000_000 + " cat"
    sizes = count_calls(monkeypatch, default)
    t0 = time.perf_counter()
    vec = default.encode(text)
    assert time.perf_counter() - t0 < 10
    assert sum(sizes) < 200_000
    ref = default.encode_ids([default.tokenize(text[:100_000]).ids[: default.max_tokens]])[0]
    np.testing.assert_allclose(vec, ref, atol=1e-6)


def test_long_texts_through_the_public_api(monkeypatch, tiny_llama):
    """Public tokenize / count_tokens switch to pieces above LONG_TEXT characters."""
    text = ("the cat  sat\ton the mat.\n\n日本 😀 \ud800 " * 40).strip()
    ids, offsets = whole(tiny_llama, text)
    monkeypatch.setattr(encoder_module, "LONG_TEXT", 50)
    monkeypatch.setattr(encoder_module, "PIECE_CHARS", 7)
    monkeypatch.setattr(encoder_module, "PIECES_PER_BATCH", 3)
    assert tiny_llama.count_tokens(text) == len(ids)
    n_cat = len(whole(tiny_llama, "cat")[0])
    assert tiny_llama.count_tokens(["cat", text, ""]).tolist() == [n_cat, len(ids), 0]
    got = tiny_llama.tokenize(["cat", text])[1]
    np.testing.assert_array_equal(got.ids, ids)
    np.testing.assert_array_equal(got.offsets, offsets)
    truncated = tiny_llama.tokenize(text, truncate=True)
    np.testing.assert_array_equal(truncated.ids, ids[: tiny_llama.max_tokens])


def test_a_long_run_without_spaces_is_cut_anyway(tiny_llama, monkeypatch):
    monkeypatch.setattr(encoder_module, "LONG_TEXT", 50)
    monkeypatch.setattr(encoder_module, "PIECE_CHARS", 20)
    sizes = count_calls(monkeypatch, tiny_llama)
    text = "x" * 500  # no safe cut anywhere
    n_cuts = len(list(tiny_llama._cuts(text, 20, 40)))
    assert n_cuts >= 12
    n = tiny_llama.count_tokens(text)
    assert max(sizes) <= 41  # 40 characters of a piece, one of context
    assert abs(n - len(whole(tiny_llama, text)[0])) <= n_cuts


def test_encode_of_long_texts_stays_exact(tiny_llama):
    """encode cuts texts over 8 * max_tokens characters; the truncated vector is the one
    of the first max_tokens tokens."""
    enc = tiny_llama.with_options(max_tokens=16)
    text = "cat sat " * 200 + "x" * 3000
    ref = enc.encode_ids([enc.tokenize(text).ids[:16]], normalize=True)[0]
    np.testing.assert_allclose(enc.encode(text), ref, atol=1e-6)
    blob = "x" * 3000 + " cat"  # the cut prefix is one long token: tokenized whole
    ref = enc.encode_ids([enc.tokenize(blob).ids[:16]], normalize=True)[0]
    np.testing.assert_allclose(enc.encode(blob), ref, atol=1e-6)


def test_encode_of_a_long_text_without_safe_cuts_reads_a_prefix(monkeypatch):
    """Tokenizers whose tokens may span words (here: special tokens on) cannot be cut
    safely; encode still tokenizes only a prefix that holds the first max_tokens tokens."""
    enc = tiny_encoder(llama_like_tokenizer(), add_special_tokens=True).with_options(max_tokens=16)
    assert enc._split_mode is None
    text = "cat" + "x" * 3_000_000 + " cat"
    sizes = count_calls(monkeypatch, enc)
    vec = enc.encode(text)
    assert sum(sizes) < 5_000
    monkeypatch.undo()
    ref = enc.encode_ids([enc.tokenize(text[:2_000]).ids[:16]])[0]
    np.testing.assert_allclose(vec, ref, atol=1e-6)


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 2.5}, InvalidTypeError, "batch_size must be an integer, got 2.5"),
        ({"batch_size": 0}, InvalidArgumentError, "batch_size must be >= 1"),
        ({"batch_size": None}, InvalidTypeError, "batch_size must be an integer"),
        ({"batch_size": True}, InvalidTypeError, "batch_size must be an integer"),
        ({"dim": 2.5}, InvalidTypeError, "dim must be an int"),
        ({"dim": 0}, InvalidArgumentError, "dim must be between 1 and 16"),
        ({"dim": 17}, InvalidArgumentError, "dim must be between 1 and 16"),
        ({"normalize": "yes"}, InvalidTypeError, "normalize must be a bool"),
    ],
)
def test_encode_names_the_bad_argument(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny.encode(["cat"], **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_tokens": math.nan}, InvalidTypeError, "max_tokens must be an integer, got nan"),
        ({"max_tokens": 0}, InvalidArgumentError, "max_tokens must be >= 1, got 0"),
        ({"max_tokens": -1}, InvalidArgumentError, "max_tokens must be >= 1"),
        ({"max_tokens": 2.5}, InvalidTypeError, "max_tokens must be an integer"),
        ({"max_tokens": True}, InvalidTypeError, "max_tokens must be an integer"),
        ({"dim": math.nan}, InvalidTypeError, "dim must be an int"),
        ({"dim": 0}, InvalidArgumentError, "dim must be"),
        ({"dim": 10_000}, InvalidArgumentError, "dim must be between 1 and 256"),
        ({"dim": "64"}, InvalidTypeError, "dim must be an int"),
        ({"normalize": 1}, InvalidTypeError, "normalize must be a bool"),
        ({"format": "onnx"}, InvalidArgumentError, "format must be one of"),
    ],
)
def test_load_names_the_bad_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        sememe.load(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_tokens": math.nan}, InvalidTypeError, "max_tokens must be an integer"),
        ({"max_tokens": 0}, InvalidArgumentError, "max_tokens must be >= 1"),
        ({"dim": -3}, InvalidArgumentError, "dim must be between"),
        ({"normalize": "no"}, InvalidTypeError, "normalize must be a bool"),
    ],
)
def test_with_options_names_the_bad_argument(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny.with_options(**kwargs)


def test_model_config_refuses_non_integer_sizes():
    with pytest.raises(InvalidTypeError, match="max_tokens must be an integer"):
        sememe.ModelConfig(dim=4, vocab_size=10, max_tokens=math.nan)
    with pytest.raises(InvalidArgumentError, match="dim must be >= 1"):
        sememe.ModelConfig(dim=0, vocab_size=10)
    with pytest.raises(InvalidTypeError, match=r"matryoshka_dims\[0\] must be an integer"):
        sememe.ModelConfig(dim=4, vocab_size=10, matryoshka_dims=("x",))


@pytest.mark.parametrize(
    ("ids", "error", "match"),
    [
        ([[1, 99]], InvalidArgumentError, r"ids\[0\] has token ids outside 0..\d+"),
        ([[2], [-1]], InvalidArgumentError, r"ids\[1\] has token ids outside"),
        ([[1.5]], InvalidTypeError, r"ids\[0\] must hold integer token ids"),
        ([[True]], InvalidTypeError, r"ids\[0\] must hold integer token ids"),
        ([[[1, 2], [3]]], InvalidTypeError, r"ids\[0\] is not a flat sequence"),
        ([[[1, 2]]], InvalidTypeError, r"ids\[0\] must be a flat sequence"),
        ([3], InvalidTypeError, r"ids\[0\] must be a flat sequence"),
        (["ab"], InvalidTypeError, r"ids\[0\] is str"),
        (None, InvalidTypeError, "ids must be a sequence"),
    ],
)
def test_encode_ids_refuses_bad_ids(tiny, ids, error, match):
    with pytest.raises(error, match=match):
        tiny.encode_ids(ids)


def test_encode_ids_accepts_empty_and_numpy_sequences(tiny):
    out = tiny.encode_ids([[], np.array([1, 2], np.int32), (3,)])
    assert out.shape == (3, 16) and not out[0].any()
    with pytest.raises(InvalidArgumentError, match="outside"):
        tiny.token_weights([tiny.vocab_size])


def test_similarity_of_any_shapes(tiny):
    assert isinstance(tiny.similarity("cat", "dog"), float)
    assert tiny.similarity("cat", ["dog", "cat"]).shape == (1, 2)
    assert tiny.similarity(["cat", "dog", "mat"], "dog").shape == (3, 1)
    assert tiny.similarity([], ["dog"]).shape == (0, 1)
    with pytest.raises(InvalidTypeError, match=r"^a\[0\] is None"):  # names the argument
        tiny.similarity([None], "dog")


def test_encoder_errors_are_sememe_errors(tiny):
    with pytest.raises(SememeError):
        tiny.encode_binary(["cat"], dim=12)
    with pytest.raises(InvalidTypeError, match="text is bytes"):
        tiny.token_vectors(b"cat")
    with pytest.raises(InvalidTypeError, match=r"texts is of type bytes"):
        tiny.encode(b"cat")


def test_chunkers_cut_a_long_spaceless_text_in_bounded_pieces(default, monkeypatch):
    """The chunkers' own counter never tokenizes a long run without spaces whole either;
    the chunks still cover the text and each holds at most max_tokens tokens."""
    from sememe.chunking import _counting

    text = ("中文文本测试这是一个句子没有标点" * 20_000)[:300_000]
    monkeypatch.setattr(_counting, "LONG_WORD", 20_000)
    monkeypatch.setattr(_counting, "PIECE_CHARS", 4096)
    sizes: list[int] = []
    raw = _counting._encode

    def spy(tok, texts, **kwargs):
        sizes.extend(map(len, texts))
        return raw(tok, texts, **kwargs)

    monkeypatch.setattr(_counting, "_encode", spy)
    for chunker in (sememe.TokenChunker(default, max_tokens=256), sememe.SemanticChunker(default)):
        t0 = time.perf_counter()
        chunks = chunker.chunk(text)
        assert time.perf_counter() - t0 < 20  # about 2 s; generous for a shared machine
        assert "".join(c.text for c in chunks) == text
        assert [c.start for c in chunks[1:]] == [c.end for c in chunks[:-1]]
        assert all(0 < c.n_tokens <= chunker.max_tokens for c in chunks)
        sample = chunks[:: max(1, len(chunks) // 20)]
        assert [c.n_tokens for c in sample] == default.count_tokens(
            [c.text for c in sample]
        ).tolist()
    assert max(sizes) <= 20_000
