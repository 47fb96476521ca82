"""Models travel both ways between sememe, Model2Vec and sentence-transformers (issue 16).

Every foreign folder here is written in the test run by the installed library itself
(``StaticModel.save_pretrained``, ``quantize_model``, ``SentenceTransformer.save``), and
every folder sememe exports is read back by that library; vectors are compared on real
text (examples/data/sample.txt) with cosine >= 0.99999.

One round trip per library (``test_save_*_gives_the_same_vectors[bundled]``) uses the
bundled model itself; every other case uses ``small``: the bundled table on a trimmed copy
of its Llama 2 tokenizer (about 2,200 tokens, the same normalizer, byte fallback and
merges), so that its folders are written and parsed in milliseconds rather than seconds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import TEXTS, word_tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from tokenizers import Tokenizer

import sememe
from sememe import FolderExistsError, InvalidArgumentError, InvalidTypeError, ModelFormatError
from sememe.quantization import dequantize, int8_table, quantize

model2vec = pytest.importorskip("model2vec")
from model2vec import StaticModel  # noqa: E402
from model2vec.model import quantize_model  # noqa: E402

logging.getLogger("model2vec").setLevel(logging.ERROR)

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data" / "sample.txt"
DIM = 64  # leading columns of the bundled table: small folders, fast saves
EXTRA = [
    "<unk>",
    "naïve café — 東京 🙂 emoji",
    "Tabs\tand\nnewlines  and   runs of spaces",
]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines + EXTRA


@pytest.fixture(scope="module")
def base() -> sememe.Encoder:
    """The bundled model cut to its first 64 Matryoshka columns."""
    return sememe.load(dim=DIM)


def trimmed_tokenizer(
    tokenizer_json: str, texts: list[str], keep_first: int = 2048
) -> tuple[Tokenizer, np.ndarray]:
    """A BPE tokenizer keeping the first ``keep_first`` ids of ``tokenizer_json``, the
    single characters they and ``texts`` use, and the merges among those; everything else
    (normalizer, byte fallback, added tokens, post-processor) is unchanged. Returns it
    with the old id of each new id, for taking the matching table rows."""
    spec = json.loads(tokenizer_json)
    vocab: dict[str, int] = spec["model"]["vocab"]
    chars = set("".join(texts)) | {c for t, i in vocab.items() if i < keep_first for c in t}
    old = sorted(i for t, i in vocab.items() if i < keep_first or (len(t) == 1 and t in chars))
    token_of = {i: t for t, i in vocab.items()}
    kept = {token_of[i]: n for n, i in enumerate(old)}
    spec["model"]["vocab"] = kept
    spec["model"]["merges"] = [
        m for m in spec["model"]["merges"] if m[0] in kept and m[1] in kept and m[0] + m[1] in kept
    ]
    return Tokenizer.from_str(json.dumps(spec)), np.array(old)


@pytest.fixture(scope="module")
def small(base, texts) -> sememe.Encoder:
    """The bundled model (its stored float16 table and weights, all 256 columns, used at
    64) on a trimmed copy of its tokenizer: the same pooling and config, small folders."""
    tok, old = trimmed_tokenizer(base.arrays.tokenizer_json, texts + TEXTS)
    arrays = base.arrays
    config = dataclasses.replace(base.config, vocab_size=len(old), name="sememe-base-trimmed")
    enc = sememe.Encoder(
        tok, arrays.embeddings[old], weights=arrays.weights[old], config=config, dim=DIM
    )
    pieces = {p for t in texts for p in tok.encode(t, add_special_tokens=False).tokens}
    assert len(pieces) > 500 and "<0xF0>" in pieces  # many merged pieces, and byte fallback
    return enc


@pytest.fixture(scope="module")
def sentence_transformers():
    return pytest.importorskip("sentence_transformers")


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    keep = (np.linalg.norm(a, axis=1) > 0) | (np.linalg.norm(b, axis=1) > 0)
    a, b = a[keep], b[keep]
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(1).min())


def m2v_cut(model: StaticModel, texts: list[str]) -> list[str]:
    """Model2Vec's own first step: each text cut to max_length x the median token length
    (in characters) of its vocabulary; only then tokens are counted. sememe counts tokens
    exactly, so a comparison at a small limit applies that cut to sememe's input."""
    return [t[: model.max_length * model.median_token_length] for t in texts]


def table_and_weights(enc: sememe.Encoder) -> tuple[np.ndarray, np.ndarray]:
    arrays = enc.arrays
    return np.array(arrays.table[:, :DIM]), np.array(arrays.token_weights)


@pytest.mark.parametrize(
    "text", ["x <s> y and a literal <unk> too", "<s>", "a</s>b", "struck <S>out</S> html"]
)
def test_added_token_literals_pool_the_plain_tokenizers_ids(base, text):
    """The tokenizer matches added tokens in raw text before splitting words, so texts
    holding a literal go the exact way, not through the word memo."""
    ids = base.tokenizer.encode(text, add_special_tokens=False).ids
    arrays = base.arrays
    want = (arrays.table[ids, :DIM] * arrays.token_weights[ids, None]).sum(0)
    assert min_cosine(base.encode([text]), want[None]) >= 0.99999


# ---------------------------------------------------------------- Model2Vec -> sememe
@pytest.mark.parametrize(("normalize", "modules_json"), [(True, True), (False, False)])
def test_model2vec_save_pretrained_loads(tmp_path, small, texts, normalize, modules_json):
    table, weights = table_and_weights(small)
    theirs = StaticModel(table, small.tokenizer, normalize=normalize, weights=weights)
    theirs.save_pretrained(tmp_path / "m2v")
    if normalize:
        assert (tmp_path / "m2v" / "modules.json").is_file()  # what made detection fail
    if not modules_json:
        (tmp_path / "m2v" / "modules.json").unlink(missing_ok=True)
    ours = sememe.load(tmp_path / "m2v")
    assert ours.config.provenance["format"] == "model2vec"
    assert ours.config.normalize is normalize and ours.max_tokens == 512
    mine, want = ours.encode(texts), theirs.encode(texts)
    assert min_cosine(mine, want) >= 0.99999
    np.testing.assert_allclose(mine, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_model2vec_quantized_tables_load(tmp_path, small, texts, dtype):
    _, weights = table_and_weights(small)
    model = StaticModel(
        np.array(small.arrays.embeddings[:, :DIM]), small.tokenizer, weights=weights
    )
    quantized = quantize_model(model, quantize_to=dtype)
    quantized.save_pretrained(tmp_path / "q")
    ours = sememe.load(tmp_path / "q")
    assert ours.config.provenance["stored_dtype"] == dtype
    # Model2Vec pools the stored values (int8 as integers: it keeps no scale)
    assert min_cosine(ours.encode(texts), quantized.encode(texts)) >= 0.99999
    np.testing.assert_allclose(
        ours.encode(texts, normalize=False),
        quantized.encode(texts, normalize=False),
        rtol=2e-3,
        atol=1e-6,
    )


def test_model2vec_vocabulary_quantized_loads(tmp_path):
    tok = word_tokenizer()
    rng = np.random.default_rng(0)
    table = rng.standard_normal((tok.get_vocab_size(), 16)).astype(np.float32)
    model = StaticModel(table, tok, normalize=True)
    quantized = quantize_model(model, vocabulary_quantization=8)
    quantized.save_pretrained(tmp_path / "vq")
    cfg = json.loads((tmp_path / "vq" / "config.json").read_text())
    assert cfg["vocabulary_quantization"] == 8
    ours = sememe.load(tmp_path / "vq")
    assert ours.info()["table_rows"] == 8 and ours.config.ignore_token_ids == (0,)
    texts = [t for t in TEXTS if t.strip()]
    assert min_cosine(ours.encode(texts), quantized.encode(texts)) >= 0.99999


def test_model2vec_max_length_is_the_token_limit(tmp_path, small, texts):
    table, weights = table_and_weights(small)
    theirs = StaticModel(table, small.tokenizer, normalize=True, weights=weights, max_length=7)
    theirs.save_pretrained(tmp_path / "m2v")
    ours = sememe.load(tmp_path / "m2v")
    assert ours.max_tokens == 7
    assert min_cosine(ours.encode(m2v_cut(theirs, texts)), theirs.encode(texts)) >= 0.99999
    cfg_path = tmp_path / "m2v" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["max_length"] = None  # Model2Vec: no truncation
    cfg_path.write_text(json.dumps(cfg))
    assert sememe.load(tmp_path / "m2v").max_tokens >= 1_000_000


# ---------------------------------------------------------------- sentence-transformers -> sememe
def _st_model(sentence_transformers, tokenizer, table, normalize: bool):
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    modules = [StaticEmbedding(tokenizer, embedding_weights=table)]
    if normalize:
        modules.append(Normalize())
    return sentence_transformers.SentenceTransformer(modules=modules, device="cpu")


@pytest.mark.parametrize("normalize", [False])
def test_sentence_transformers_6_layout_loads(
    tmp_path, small, texts, sentence_transformers, normalize
):
    table, weights = table_and_weights(small)
    model = _st_model(sentence_transformers, small.tokenizer, table * weights[:, None], normalize)
    model.save(str(tmp_path / "st"))
    modules = json.loads((tmp_path / "st" / "modules.json").read_text())
    assert modules[0]["path"] == ""  # the 6.x layout: StaticEmbedding at the root
    ours = sememe.load(tmp_path / "st")
    assert ours.config.normalize is normalize
    theirs = model.encode(texts)
    assert min_cosine(ours.encode(texts), theirs) >= 0.99999
    np.testing.assert_allclose(ours.encode(texts), theirs, rtol=1e-4, atol=1e-6)


def test_sentence_transformers_old_layout_loads(tmp_path, small, texts, sentence_transformers):
    """``0_StaticEmbedding/`` and the pre-6.x module names: sentence-transformers itself
    still reads them, and so does sememe."""
    table, weights = table_and_weights(small)
    model = _st_model(sentence_transformers, small.tokenizer, table * weights[:, None], True)
    root = tmp_path / "st"
    model.save(str(root))
    (root / "0_StaticEmbedding").mkdir()
    for name in ("model.safetensors", "tokenizer.json"):
        shutil.move(root / name, root / "0_StaticEmbedding" / name)
    modules = json.loads((root / "modules.json").read_text())
    modules[0].update(path="0_StaticEmbedding", type="sentence_transformers.models.StaticEmbedding")
    modules[1]["type"] = "sentence_transformers.models.Normalize"
    (root / "modules.json").write_text(json.dumps(modules))
    theirs = sentence_transformers.SentenceTransformer(str(root), device="cpu").encode(texts)
    assert min_cosine(sememe.load(root).encode(texts), theirs) >= 0.99999


def test_sentence_transformers_other_modules_refused(tmp_path, small, sentence_transformers):
    table, _ = table_and_weights(small)
    model = _st_model(sentence_transformers, small.tokenizer, table, True)
    model.save(str(tmp_path / "st"))
    modules = json.loads((tmp_path / "st" / "modules.json").read_text())
    modules.insert(1, {"idx": 1, "name": "1", "path": "1_Dense", "type": "x.models.Dense"})
    (tmp_path / "st" / "modules.json").write_text(json.dumps(modules))
    with pytest.raises(ModelFormatError, match=r"Dense.*change the vectors"):
        sememe.load(tmp_path / "st")


def test_sentence_transformers_reads_model2vec_folders_as_sememe_does(
    tmp_path, small, texts, sentence_transformers
):
    """A Model2Vec folder through sentence-transformers (which folds mapping and weights)
    equals sememe's ``format="sentence-transformers"`` reading of it."""
    table, weights = table_and_weights(small)
    StaticModel(table, small.tokenizer, normalize=True, weights=weights).save_pretrained(
        tmp_path / "m2v"
    )
    theirs = sentence_transformers.SentenceTransformer(str(tmp_path / "m2v"), device="cpu")
    ours = sememe.load(tmp_path / "m2v", format="sentence-transformers")
    assert min_cosine(ours.encode(texts), theirs.encode(texts)) >= 0.99999


# ---------------------------------------------------------------- sememe -> Model2Vec
def exported_variant(variant: str, base: sememe.Encoder, small: sememe.Encoder) -> sememe.Encoder:
    """``bundled`` is the real model (the one full-size round trip per library); the other
    variants change one thing each on the trimmed ``small`` model."""
    if variant == "bundled":
        return base
    if variant == "full-dim-short-limit":
        return small.with_options(dim=small.full_dim, max_tokens=9)
    assert variant == "int8"
    return quantize(small, quantize_to="int8")


@pytest.mark.parametrize("variant", ["bundled", "full-dim-short-limit", "int8"])
def test_save_model2vec_gives_the_same_vectors(tmp_path, base, small, texts, variant):
    enc = exported_variant(variant, base, small)
    path = enc.save(tmp_path / "out", format="model2vec")
    theirs = StaticModel.from_pretrained(path)
    assert theirs.max_length == enc.max_tokens and theirs.normalize is enc.config.normalize
    assert theirs.dim == enc.dim
    assert min_cosine(theirs.encode(texts), enc.encode(m2v_cut(theirs, texts))) >= 0.99999
    back = sememe.load(path)
    assert min_cosine(back.encode(texts), enc.encode(texts)) >= 0.99999
    if variant == "int8":
        assert theirs.embedding.dtype == np.int8


def test_save_model2vec_vocabulary_quantized(tmp_path, texts):
    tok = word_tokenizer()
    rng = np.random.default_rng(1)
    table = rng.standard_normal((tok.get_vocab_size(), 16)).astype(np.float32)
    config = sememe.ModelConfig(dim=16, vocab_size=len(table), ignore_token_ids=(0,))
    weights = rng.uniform(0.5, 2, len(table)).astype(np.float32)
    enc = sememe.Encoder(tok, table, weights=weights, config=config)
    small = quantize(enc, vocabulary_quantization=6)
    assert small.info()["table_rows"] == 6 and small.arrays.mapping is not None
    path = small.save(tmp_path / "vq", format="model2vec")
    theirs = StaticModel.from_pretrained(path)
    assert theirs.vocabulary_quantization == 6
    words = [t for t in TEXTS if t.strip()]
    assert min_cosine(theirs.encode(words), small.encode(words)) >= 0.99999


# ---------------------------------------------------------------- sememe -> sentence-transformers
@pytest.mark.parametrize("variant", ["bundled", "full-dim-short-limit"])
def test_save_sentence_transformers_gives_the_same_vectors(
    tmp_path, base, small, texts, sentence_transformers, variant
):
    enc = exported_variant(variant, base, small)
    path = enc.save(tmp_path / "out", format="sentence-transformers")
    theirs = sentence_transformers.SentenceTransformer(str(path), device="cpu")
    assert theirs.get_embedding_dimension() == enc.dim
    assert min_cosine(theirs.encode(texts), enc.encode(texts)) >= 0.99999
    np.testing.assert_allclose(theirs.encode(texts), enc.encode(texts), rtol=1e-4, atol=1e-6)
    back = sememe.load(path)
    assert back.max_tokens == enc.max_tokens
    assert min_cosine(back.encode(texts), enc.encode(texts)) >= 0.99999


def test_save_sentence_transformers_unnormalised_mean(
    tmp_path, small, texts, sentence_transformers
):
    tok = small.tokenizer
    rng = np.random.default_rng(2)
    table = rng.standard_normal((tok.get_vocab_size(), 8)).astype(np.float32)
    config = sememe.ModelConfig(dim=8, vocab_size=len(table), pooling="mean", normalize=False)
    weights = rng.uniform(0.5, 2, len(table)).astype(np.float32)
    enc = sememe.Encoder(tok, table, weights=weights, config=config)
    int8 = quantize(enc, quantize_to="int8")
    for name, model, fmt in [
        ("st", enc, "sentence-transformers"),
        ("m2v", enc, "model2vec"),
        ("m2v-int8", int8, "model2vec"),  # Model2Vec keeps no scale: it is in the weights
    ]:
        path = model.save(tmp_path / name, format=fmt)
        if fmt == "model2vec":
            theirs = StaticModel.from_pretrained(path).encode(texts)
        else:
            theirs = sentence_transformers.SentenceTransformer(str(path), device="cpu").encode(
                texts
            )
        np.testing.assert_allclose(theirs, model.encode(texts), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- what cannot be exported
def test_exports_refuse_what_they_cannot_express(tmp_path, small):
    unnormalised = small.with_options(normalize=False)  # weighted_mean by the weights' sum
    for fmt in ("model2vec", "sentence-transformers"):
        with pytest.raises(InvalidArgumentError, match="weighted_mean"):
            unnormalised.save(tmp_path / fmt, format=fmt)
        assert not (tmp_path / fmt).exists()
    with pytest.raises(InvalidArgumentError, match="int8"):
        small.save(tmp_path / "st", format="sentence-transformers", quantize_to="int8")
    tok = word_tokenizer()  # WordLevel: emits [UNK], which Model2Vec drops
    table = np.ones((tok.get_vocab_size(), 4), np.float32)
    keeps_unk = sememe.Encoder(tok, table)
    with pytest.raises(InvalidArgumentError, match=r"drops the unknown token '\[UNK\]'"):
        keeps_unk.save(tmp_path / "m2v", format="model2vec")
    keeps_unk.save(tmp_path / "st", format="sentence-transformers")  # ST keeps it too
    special = sememe.Encoder(
        tok, table, config=sememe.ModelConfig(dim=4, vocab_size=len(table), add_special_tokens=True)
    )
    with pytest.raises(InvalidArgumentError, match="special tokens"):
        special.save(tmp_path / "sp", format="model2vec")
    with pytest.raises(InvalidArgumentError, match="format must be one of"):
        small.save(tmp_path / "x", format="onnx")
    with pytest.raises(InvalidTypeError, match="quantize_to"):
        small.save(tmp_path / "x", quantize_to=8)


def test_export_folders_are_guarded(tmp_path, small):
    out = small.save(tmp_path / "m2v", format="model2vec")
    with pytest.raises(FolderExistsError, match="overwrite=True"):
        small.save(out, format="model2vec")
    small.save(out, format="sentence-transformers", overwrite=True)  # an export replaces an export
    assert (out / "modules.json").is_file() and not (out / "config.json").exists()
    native = small.save(tmp_path / "native")
    with pytest.raises(FolderExistsError, match="not a sememe Model2Vec/sentence-transformers"):
        small.save(native, format="model2vec", overwrite=True)
    with pytest.raises(FolderExistsError, match="not a sememe model folder"):
        small.save(out, overwrite=True)
    theirs = tmp_path / "theirs"
    table, weights = table_and_weights(small)
    StaticModel(table, small.tokenizer, weights=weights).save_pretrained(theirs)
    with pytest.raises(FolderExistsError, match="did not write"):
        small.save(theirs, format="model2vec", overwrite=True)
    assert (theirs / "README.md").is_file()  # left alone


def test_damaged_export_is_reported(tmp_path, small):
    out = small.save(tmp_path / "m2v", format="model2vec")
    cfg = json.loads((out / "config.json").read_text())
    cfg["normalize"] = False
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFormatError, match=r"config\.json"):
        sememe.load(out)


# ---------------------------------------------------------------- quantization
@pytest.mark.parametrize("dtype, share", [("float16", 0.55), ("int8", 0.3)])
def test_quantized_sememe_folders_round_trip(tmp_path, small, texts, dtype, share):
    full = small.with_options(dim=small.full_dim)
    plain = full.save(tmp_path / "plain", quantize_to="float32")
    q = quantize(full, quantize_to=dtype)
    path = full.save(tmp_path / dtype, quantize_to=dtype)
    back = sememe.load(path)
    assert back.fingerprint == q.fingerprint
    np.testing.assert_array_equal(back.encode(texts), q.encode(texts))
    assert min_cosine(back.encode(texts), full.encode(texts)) > 0.99
    size = (path / "model.safetensors").stat().st_size
    assert size < share * (plain / "model.safetensors").stat().st_size
    again = back.save(tmp_path / "again")  # an int8 model is saved as int8 again
    assert (again / "model.safetensors").read_bytes() == (path / "model.safetensors").read_bytes()


def test_load_quantizes_as_model2vec_from_pretrained(tmp_path, small):
    folder = small.save(tmp_path / "small")
    enc = sememe.load(folder, quantize_to="int8")
    assert enc.config.provenance["quantization"]["dtype"] == "int8"
    assert enc.fingerprint == quantize(small, quantize_to="int8").fingerprint
    assert sememe.load(folder, quantize_to="float16").arrays.embeddings.dtype == np.float16
    with pytest.raises(InvalidArgumentError, match="quantize_to must be one of"):
        sememe.load(quantize_to="int4")
    tok = word_tokenizer()
    table = np.random.default_rng(3).standard_normal((tok.get_vocab_size(), 8)).astype(np.float32)
    enc = sememe.Encoder(tok, table)
    small = quantize(enc, vocabulary_quantization=5)
    assert small.config.pooling == "mean" and small.arrays.weights is not None
    # Model2Vec's rule without weights: cluster directions, the rows' norms become weights
    np.testing.assert_allclose(small.arrays.weights, np.linalg.norm(table, axis=1), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(small.arrays.table, axis=1) <= 1 + 1e-6, True)
    for bad in (0, len(table) + 1):
        with pytest.raises(InvalidArgumentError, match="vocabulary_quantization"):
            quantize(enc, vocabulary_quantization=bad)
    with pytest.raises(InvalidArgumentError, match="already vocabulary-quantized"):
        quantize(small, vocabulary_quantization=2)
    with pytest.raises(InvalidTypeError):
        quantize(enc, vocabulary_quantization=2.5)


def test_int8_folder_without_scale_is_refused(tmp_path, small):
    from safetensors.numpy import load_file, save_file

    path = small.save(tmp_path / "q", quantize_to="int8")
    tensors = load_file(str(path / "model.safetensors"))
    del tensors["scale"]
    save_file(tensors, str(path / "model.safetensors"))
    (path / "manifest.json").unlink()  # a hand-edited folder: the manifest would catch it first
    with pytest.raises(ModelFormatError, match="needs a 'scale' tensor"):
        sememe.load(path)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float32,
        st.tuples(st.integers(1, 6), st.integers(1, 6)),
        elements=st.floats(-1e3, 1e3, width=32),
    )
)
def test_int8_error_is_at_most_half_a_step(table):
    values, scale = int8_table(table)
    assert values.dtype == np.int8 and np.abs(values).max() <= 127
    np.testing.assert_array_less(np.abs(dequantize(values, scale) - table), scale * 0.5001 + 1e-30)
    again, _ = int8_table(dequantize(values, scale))
    if np.abs(table).max() > 0:
        np.testing.assert_array_equal(again, values)


# ---------------------------------------------------------------- WordLlama
def test_wordllama_weights_load_without_tokenizer(tmp_path):
    pytest.importorskip("wordllama")
    from sememe.foreign import wordllama_files

    weights, tokenizer = wordllama_files()
    texts = ["The cat sat on the mat.", "Stock markets fell sharply today."]
    want = sememe.load("wordllama-256").encode(texts)
    np.testing.assert_array_equal(sememe.load(weights).encode(texts), want)
    # WordLlama's cache layout (weights/ and tokenizers/ side by side) works too
    (tmp_path / "weights").mkdir()
    (tmp_path / "tokenizers").mkdir()
    shutil.copy(weights, tmp_path / "weights" / weights.name)
    shutil.copy(tokenizer, tmp_path / "tokenizers" / tokenizer.name)
    np.testing.assert_array_equal(
        sememe.load(tmp_path / "weights" / weights.name).encode(texts), want
    )


def test_wordllama_error_says_what_to_pass(tmp_path, monkeypatch):
    from safetensors.numpy import save_file

    import sememe.foreign as foreign

    monkeypatch.setattr(foreign.importlib.util, "find_spec", lambda name: None)
    path = tmp_path / "l2_supercat_64.safetensors"
    save_file({"embedding.weight": np.zeros((4, 8), np.float32)}, str(path))
    with pytest.raises(
        ModelFormatError, match=r"tokenizer=PATH.*l2_supercat_tokenizer_config\.json"
    ):
        sememe.load(path)
