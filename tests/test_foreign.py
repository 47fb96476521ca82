"""Loading Model2Vec, sentence-transformers StaticEmbedding and WordLlama files (tiny fixtures)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TEXTS, llama_like_tokenizer, reference_vectors, word_tokenizer
from safetensors.numpy import save_file

import sememe
from sememe import ModelFormatError

rng = np.random.default_rng(0)


def write_model2vec(path, *, weights=True, mapping=False):
    tok = word_tokenizer()
    n = tok.get_vocab_size()
    rows = 8 if mapping else n
    tensors = {"embeddings": rng.standard_normal((rows, 12)).astype(np.float32)}
    if weights:
        tensors["weights"] = rng.uniform(0.1, 1, n).astype(np.float32)
    if mapping:
        tensors["mapping"] = (np.arange(n) % rows).astype(np.int64)
    path.mkdir()
    save_file(tensors, str(path / "model.safetensors"))
    tok.save(str(path / "tokenizer.json"))
    (path / "config.json").write_text(
        json.dumps({"model_type": "model2vec", "normalize": True, "hidden_dim": 12})
    )
    return tensors, tok


def model2vec_reference(tensors, tok, texts):
    """Model2Vec's own rule: drop [UNK], mean of weight * row, then normalise."""
    out = []
    for t in texts:
        ids = [i for i in tok.encode(t, add_special_tokens=False).ids if i != 0]
        if not ids:
            out.append(np.zeros(12, np.float32))
            continue
        rows = tensors["mapping"][ids] if "mapping" in tensors else ids
        v = tensors["embeddings"][rows] * tensors.get("weights", np.ones(100))[ids][:, None]
        v = v.mean(0)
        out.append(v / np.linalg.norm(v))
    return np.array(out)


@pytest.mark.parametrize("weights, mapping", [(True, False), (False, False), (True, True)])
def test_model2vec_folder(tmp_path, weights, mapping):
    tensors, tok = write_model2vec(tmp_path / "m2v", weights=weights, mapping=mapping)
    enc = sememe.load(tmp_path / "m2v")
    assert enc.config.pooling == "mean" and enc.config.ignore_token_ids == (0,)
    texts = [t for t in TEXTS if t.strip()]
    np.testing.assert_allclose(
        enc.encode(texts), model2vec_reference(tensors, tok, texts), atol=1e-5
    )


def test_model2vec_library_agrees(tmp_path):
    model2vec = pytest.importorskip("model2vec")
    write_model2vec(tmp_path / "m2v")
    theirs = model2vec.StaticModel.from_pretrained(str(tmp_path / "m2v"))
    texts = [t for t in TEXTS if t.strip()]
    np.testing.assert_allclose(
        sememe.load(tmp_path / "m2v").encode(texts), theirs.encode(texts), atol=1e-5
    )


def test_model2vec_resave_as_sememe(tmp_path):
    write_model2vec(tmp_path / "m2v", mapping=True)
    enc = sememe.load(tmp_path / "m2v")
    back = sememe.load(enc.save(tmp_path / "native"))
    np.testing.assert_array_equal(back.encode(TEXTS), enc.encode(TEXTS))


def test_model2vec_missing_embeddings(tmp_path):
    d = tmp_path / "m2v"
    write_model2vec(d)
    save_file({"weights": np.ones(3, np.float32)}, str(d / "model.safetensors"))
    with pytest.raises(ModelFormatError, match=r"model\.safetensors"):
        sememe.load(d, format="model2vec")


def write_sentence_transformers(path, normalize=True):
    tok = word_tokenizer()
    table = rng.standard_normal((tok.get_vocab_size(), 10)).astype(np.float32)
    module = path / "0_StaticEmbedding"
    module.mkdir(parents=True)
    save_file({"embedding.weight": table}, str(module / "model.safetensors"))
    tok.save(str(module / "tokenizer.json"))
    modules = [
        {
            "idx": 0,
            "name": "0",
            "path": "0_StaticEmbedding",
            "type": "sentence_transformers.models.StaticEmbedding",
        }
    ]
    if normalize:
        modules.append(
            {
                "idx": 1,
                "name": "1",
                "path": "1_Normalize",
                "type": "sentence_transformers.models.Normalize",
            }
        )
    (path / "modules.json").write_text(json.dumps(modules))
    return table, tok


@pytest.mark.parametrize("normalize", [True, False])
def test_sentence_transformers_folder(tmp_path, normalize):
    table, tok = write_sentence_transformers(tmp_path / "st", normalize)
    enc = sememe.load(tmp_path / "st")
    assert enc.config.normalize is normalize
    texts = ["the cat sat", "dog ran in park"]
    expected = np.array(
        [table[tok.encode(t).ids].mean(0) for t in texts]
    )  # EmbeddingBag(mode="mean")
    if normalize:
        expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(enc.encode(texts), expected, atol=1e-5)


def test_sentence_transformers_without_static_module(tmp_path):
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "modules.json").write_text(
        json.dumps([{"path": "0_Transformer", "type": "x.Transformer"}])
    )
    with pytest.raises(ModelFormatError, match="no StaticEmbedding module"):
        sememe.load(tmp_path / "st")


def test_wordllama_files(tmp_path):
    tok = llama_like_tokenizer()
    table = rng.standard_normal((tok.get_vocab_size(), 64)).astype(np.float16)
    save_file({"embedding.weight": table}, str(tmp_path / "wl_64.safetensors"))
    tok.save(str(tmp_path / "wl_tokenizer_config.json"))
    enc = sememe.load(tmp_path / "wl_64.safetensors")
    assert enc.config.matryoshka_dims == (64,) and enc._split_mode == "space"
    texts = ["the cat sat on the mat", "quick brown fox"]
    np.testing.assert_allclose(enc.encode(texts), reference_vectors(enc, texts), atol=1e-4)


def test_wordllama_needs_tokenizer(tmp_path):
    save_file({"embedding.weight": np.zeros((4, 8), np.float32)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(ModelFormatError, match="tokenizer=PATH"):
        sememe.load(tmp_path / "w.safetensors")


def test_wordllama_package_agrees():
    """The installed wordllama package (bench extra) embeds like sememe's loader of its files."""
    pytest.importorskip("wordllama")
    from wordllama import WordLlama

    from sememe.foreign import wordllama_files

    weights, _ = wordllama_files()
    wl = WordLlama.load(dim=256, cache_dir=weights.parents[1], disable_download=True)
    texts = ["The cat sat on the mat.", "Stock markets fell sharply today."]
    np.testing.assert_allclose(
        sememe.load("wordllama-256").encode(texts), wl.embed(texts, norm=True), atol=1e-4
    )


def test_model2vec_defaults_are_model2vecs(tmp_path):
    """No ``normalize`` in config.json means False and no ``max_length`` means 512, as in
    Model2Vec 0.10 (``seq_length`` is a distillation setting, not a limit)."""
    d = tmp_path / "m2v"
    write_model2vec(d)
    (d / "config.json").write_text(json.dumps({"model_type": "model2vec", "seq_length": 7}))
    enc = sememe.load(d)
    assert enc.config.normalize is False and enc.max_tokens == 512
    (d / "config.json").write_text(json.dumps({"normalize": "yes"}))
    with pytest.raises(ModelFormatError, match="normalize must be true or false"):
        sememe.load(d)


def test_model2vec_table_dtype_refused(tmp_path):
    d = tmp_path / "m2v"
    tensors, _ = write_model2vec(d)
    tensors["embeddings"] = tensors["embeddings"].astype(np.int32)
    save_file(tensors, str(d / "model.safetensors"))
    with pytest.raises(ModelFormatError, match="dtype int32; expected float32, float16 or int8"):
        sememe.load(d)
