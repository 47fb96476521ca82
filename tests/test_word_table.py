"""The shipped word table and joined word tokenizing change speed, never results.

- the bundled model's ``word_tokens.safetensors`` holds, for every word, exactly the ids
  its tokenizer gives that word alone;
- vectors and chunks are identical with and without the table on real text (the bundled
  sample data, and held-out Wikipedia articles when ``../shared`` is there);
- :func:`sememe._wordcache.word_ids` (many words per tokenizer input) equals tokenizing
  each word alone, for the bundled and a tiny Llama-like tokenizer, on any words;
- a damaged, foreign or mismatched table gives a clear error or is ignored with a warning;
- a saved model carries its table, checksummed by the manifest.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, llama_like_tokenizer, tiny_encoder
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file
from tokenizers import Tokenizer

import sememe
from sememe import _wordcache, persistence
from sememe.chunking import SemanticChunker
from sememe.errors import ModelFormatError
from sememe.loading import load_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"
ARTICLES = SHARED / "corpus" / "documents" / "wikipedia_articles.jsonl.gz"


def plain(enc: sememe.Encoder) -> sememe.Encoder:
    """``enc`` without a word table."""
    a = enc.arrays
    return sememe.Encoder(
        enc.tokenizer, a.embeddings, weights=a.weights, mapping=a.mapping, config=enc.config
    )


def alone(tok: Tokenizer, words: list[str]) -> list[list[int]]:
    """Each word tokenized on its own, without special tokens: the reference."""
    return [e.ids for e in tok.encode_batch_fast(words, add_special_tokens=False)]


def sample_texts() -> list[str]:
    """Real text from the bundled examples: lines and whole documents."""
    out = []
    for name in ("sample.txt", "chunking_sample.md", "dedupe_sample.txt"):
        text = (EXAMPLES / name).read_text(encoding="utf-8")
        out += [text, *text.splitlines()]
    return out


@functools.lru_cache(maxsize=1)
def held_out_articles(n: int) -> list[str]:
    """``n`` Wikipedia articles after the ones the table was counted on (as the benchmark)."""
    out: list[str] = []
    with gzip.open(ARTICLES, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i < 60_000 + 500:
                continue
            d = json.loads(line)
            parts = [d["title"]]
            for s in d["sections"]:
                parts += ([s["heading"]] if s["heading"] else []) + s["paragraphs"]
            out.append("\n\n".join(parts))
            if len(out) == n:
                break
    return out


@pytest.fixture(scope="module")
def bundled() -> sememe.Encoder:
    return sememe.load()


# ------------------------------------------------------------------ the shipped table
def test_bundled_model_ships_a_table_for_its_tokenizer(bundled):
    table = bundled.word_table
    assert table is not None
    assert table.tokenizer_sha256 == _wordcache.tokenizer_sha256(bundled.tokenizer.to_str())
    loaded = table.load()
    assert len(loaded.words) > 100_000 and loaded.words[0] == ""
    assert 1e6 < loaded.nbytes() < 64e6  # the memory the docs state, roughly


def test_shipped_ids_are_the_tokenizers_for_every_word(bundled):
    loaded = bundled.word_table.load()
    tok = bundled.tokenizer
    tok.no_truncation()
    ref = alone(tok, loaded.words)
    lens = np.fromiter(map(len, ref), np.int64, len(ref))
    np.testing.assert_array_equal(loaded.lens, lens)
    flat = np.fromiter((i for r in ref for i in r), np.int32, int(lens.sum()))
    np.testing.assert_array_equal(loaded.ids, flat)
    assert loaded.index == {w: i for i, w in enumerate(loaded.words)}


def test_vectors_identical_with_and_without_table(bundled):
    texts = [*sample_texts(), "", "  ", "a  b", "naïve café ▁x Ġy", "x" * 20_000]
    if ARTICLES.is_file():
        texts += held_out_articles(20)
    with_table = bundled.with_options().encode(texts)
    without = plain(bundled).encode(texts)
    assert np.array_equal(with_table, without)
    # a warm memo (second call) gives the same bits too
    assert np.array_equal(
        bundled.with_options().encode(texts[:5] + texts), np.concatenate([without[:5], without])
    )


def test_chunks_identical_with_and_without_table(bundled):
    docs = [(EXAMPLES / "chunking_sample.md").read_text(encoding="utf-8")]
    if ARTICLES.is_file():
        docs += held_out_articles(20)
    a = SemanticChunker(bundled.with_options(), max_tokens=256).chunk_batch(docs)
    b = SemanticChunker(plain(bundled), max_tokens=256).chunk_batch(docs)
    assert a == b


def test_with_options_shares_the_table(bundled):
    assert bundled.with_options(dim=64).word_table is bundled.word_table


# ------------------------------------------------------------------ joined tokenizing
WORDS = st.lists(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=" "), max_size=12),
    max_size=40,
)


@pytest.fixture(scope="module")
def bundled_tok(bundled) -> tuple[Tokenizer, np.ndarray]:
    tok = bundled.tokenizer
    tok.no_truncation()
    starts = _wordcache.word_starts(tok, bundled.split_mode)
    assert starts is not None  # the bundled (Llama 2) tokenizer tokenizes words joined
    return tok, starts


@settings(max_examples=60, deadline=None)
@given(words=WORDS)
def test_word_ids_equal_each_word_alone(bundled_tok, words):
    tok, starts = bundled_tok
    words = list(dict.fromkeys(words))
    order, flat, lens = _wordcache.word_ids(tok, words, starts)
    assert sorted(order) == sorted(words)
    ends = np.cumsum(lens)
    got = {w: flat[e - n : e].tolist() for w, e, n in zip(order, ends, lens, strict=True)}
    assert got == dict(zip(words, alone(tok, words), strict=True))


def test_word_ids_with_markers_long_words_and_a_tiny_tokenizer():
    tok = llama_like_tokenizer()
    starts = _wordcache.word_starts(tok, "space")
    assert starts is not None
    words = ["cat", "▁dog", "Ġx", "", "a" * 300, "x" * (_wordcache.LONG_WORD + 10), "héllo", "a\nb"]
    words += [f"w{i}" for i in range(600)]  # more than one joined group
    order, flat, lens = _wordcache.word_ids(tok, words, starts)
    ends = np.cumsum(lens)
    got = {w: flat[e - n : e].tolist() for w, e, n in zip(order, ends, lens, strict=True)}
    ref = {w: r for w, r in zip(words, alone(tok, words), strict=True)}
    long = words[5]
    ref[long] = [i for p in _wordcache.long_ids(tok, long) for i in p]
    assert got == ref


def test_no_joined_tokenizing_for_word_level_tokenizers():
    enc = tiny_encoder()  # word-level: words tokenize alone, but carry no space marker
    assert enc.split_mode is not None
    assert _wordcache.word_starts(enc.tokenizer, enc.split_mode) is None


# ------------------------------------------------------------------ bad tables
def write_table(path: Path, tok: Tokenizer, words: list[str]) -> Path:
    _wordcache.write_word_table(path, tok, tok.to_str(), words)
    return path


def tiny_model_folder(tmp_path: Path) -> tuple[sememe.Encoder, Path]:
    enc = tiny_encoder(llama_like_tokenizer())
    folder = tmp_path / "m"
    persistence.save_model(
        folder,
        tokenizer_json=enc.tokenizer.to_str(),
        embeddings=enc.arrays.embeddings,
        weights=enc.arrays.weights,
        mapping=None,
        config=enc.config,
        fingerprint=enc.fingerprint,
    )
    return enc, folder


def test_table_from_a_folder_matches_and_survives_save(tmp_path):
    enc, folder = tiny_model_folder(tmp_path)
    write_table(folder / persistence.WORD_TABLE_FILE, enc.tokenizer, ["cat", "dog", "cat."])
    loaded = load_model(folder)  # the table was added after the manifest
    assert loaded.word_table is not None
    texts = ["cat dog", "the cat. sat", "dog  cat"]
    assert np.array_equal(loaded.encode(texts), enc.encode(texts))
    again = tmp_path / "again"
    persistence.save_model(
        again,
        tokenizer_json=loaded.tokenizer.to_str(),
        embeddings=loaded.arrays.embeddings,
        weights=loaded.arrays.weights,
        mapping=None,
        config=loaded.config,
        fingerprint=loaded.fingerprint,
        word_table=loaded.word_table,
    )
    manifest = json.loads((again / "manifest.json").read_text(encoding="utf-8"))
    assert persistence.WORD_TABLE_FILE in manifest["files"]
    reread = sememe.load(again)
    assert reread.word_table is not None
    assert np.array_equal(reread.encode(texts), enc.encode(texts))
    data = bytearray((again / persistence.WORD_TABLE_FILE).read_bytes())
    data[-1] ^= 1
    (again / persistence.WORD_TABLE_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="word_tokens"):
        sememe.load(again)


def test_table_for_another_tokenizer_is_ignored_with_a_warning(tmp_path):
    enc, folder = tiny_model_folder(tmp_path)
    other = Tokenizer.from_str(enc.tokenizer.to_str())
    other.normalizer = None
    write_table(folder / persistence.WORD_TABLE_FILE, other, ["cat"])
    with pytest.warns(RuntimeWarning, match="another tokenizer"):
        loaded = load_model(folder)
    assert loaded.word_table is None
    assert np.array_equal(loaded.encode(["cat dog"]), enc.encode(["cat dog"]))


@pytest.mark.parametrize(
    ("tensors", "metadata", "match"),
    [
        (None, None, "not a readable safetensors"),
        ({"x": np.zeros(1, np.int32)}, {"format": "other"}, "not a sememe word table"),
        ({"ids": np.zeros(1, np.int32)}, "ok", "expected tensors"),
    ],
)
def test_malformed_table_files_name_the_file(tmp_path, tensors, metadata, match):
    _, folder = tiny_model_folder(tmp_path)
    path = folder / persistence.WORD_TABLE_FILE
    if tensors is None:
        path.write_bytes(b"not a table")
    else:
        meta = (
            {"format": "sememe-word-table-1", "tokenizer_sha256": "0"}
            if metadata == "ok"
            else metadata
        )
        save_file(tensors, str(path), metadata=meta)
    with pytest.raises(ModelFormatError, match=match):
        load_model(folder)


def bad_arrays(enc: sememe.Encoder, path: Path, words: str, lens, ids) -> None:
    save_file(
        {
            "words": np.frombuffer(words.encode(), np.uint8).copy(),
            "lens": np.asarray(lens, np.int32),
            "ids": np.asarray(ids, np.int32),
        },
        str(path),
        metadata={
            "format": "sememe-word-table-1",
            "tokenizer_sha256": _wordcache.tokenizer_sha256(enc.tokenizer.to_str()),
        },
    )


@pytest.mark.parametrize(
    ("words", "lens", "ids", "match"),
    [
        ("\ncat", [0, 2], [5], "do not add up"),
        ("\ncat", [0], [], "words but 1 lengths"),
        ("x\ncat", [0, 1], [5], "first word must be the empty word"),
        ("\ncat", [0, 1], [10**6], "outside the vocabulary"),
        ("\ncat\ncat", [0, 1, 1], [5, 5], "words repeat"),
        ("\nc t", [0, 1], [5], "whitespace"),
    ],
)
def test_inconsistent_tables_fail_on_first_use(tmp_path, words, lens, ids, match):
    enc, folder = tiny_model_folder(tmp_path)
    bad_arrays(enc, folder / persistence.WORD_TABLE_FILE, words, lens, ids)
    loaded = load_model(folder)  # only the metadata is read here
    with pytest.raises(ModelFormatError, match=match):
        loaded.encode(["cat"])


def test_write_word_table_refuses_whitespace(tmp_path):
    with pytest.raises(ValueError, match="no whitespace"):
        write_table(tmp_path / "t.safetensors", llama_like_tokenizer(), ["a b"])


def test_bundled_table_ships_in_package_data():
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"models/*/*.safetensors"' in text
