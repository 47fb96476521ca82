"""Model folders: bit-exact round trips and clear errors for broken files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TEXTS, tiny_encoder
from safetensors.numpy import load_file, save_file

import sememe
from sememe import ModelFormatError


def test_round_trip_is_bit_exact(tmp_path, tiny):
    path = tiny.save(tmp_path / "m")
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    back = sememe.load(path)
    np.testing.assert_array_equal(back.encode(TEXTS), tiny.encode(TEXTS))
    np.testing.assert_array_equal(back._embeddings, tiny._embeddings)
    np.testing.assert_array_equal(back._weights, tiny._weights)
    assert back.config == tiny.config
    assert back.fingerprint == tiny.fingerprint


def test_round_trip_float16_and_mapping(tmp_path):
    enc = tiny_encoder()
    table = enc._embeddings[:10].astype(np.float16)
    mapping = np.arange(enc.vocab_size) % 10
    m = sememe.Encoder(enc.tokenizer, table, mapping=mapping, config=enc.config)
    back = sememe.load(m.save(tmp_path / "m"))
    assert back._embeddings.dtype == np.float16
    np.testing.assert_array_equal(back.encode(TEXTS), m.encode(TEXTS))


def test_save_refuses_to_clobber(tmp_path, tiny):
    tiny.save(tmp_path / "m")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        tiny.save(tmp_path / "m")
    other = tiny_encoder(seed=9)
    other.save(tmp_path / "m", overwrite=True)
    assert sememe.load(tmp_path / "m").fingerprint == other.fingerprint
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folders left


def test_dim_option_survives_load(tmp_path, tiny):
    path = tiny.save(tmp_path / "m")
    assert sememe.load(path, dim=8).encode("cat").shape == (8,)


@pytest.fixture
def saved(tmp_path, tiny):
    return tiny.save(tmp_path / "m")


def test_truncated_table(saved):
    f = saved / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(ModelFormatError, match=r"model\.safetensors.*truncated or corrupt"):
        sememe.load(saved)


def test_missing_tensor(saved):
    f = saved / "model.safetensors"
    tensors = load_file(str(f))
    save_file({"weights": tensors["weights"]}, str(f))
    with pytest.raises(ModelFormatError, match="missing tensor 'embeddings'"):
        sememe.load(saved)


def test_wrong_table_shape(saved):
    f = saved / "model.safetensors"
    t = load_file(str(f))
    save_file({"embeddings": t["embeddings"][:-3], "weights": t["weights"]}, str(f))
    with pytest.raises(ModelFormatError, match="rows but the tokenizer has"):
        sememe.load(saved)


def test_wrong_weights_shape(saved):
    f = saved / "model.safetensors"
    t = load_file(str(f))
    save_file({"embeddings": t["embeddings"], "weights": t["weights"][:5]}, str(f))
    with pytest.raises(ModelFormatError, match="token weights have shape"):
        sememe.load(saved)


def test_dim_mismatch(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["dim"] = 32
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFormatError, match="16 columns but config says dim=32"):
        sememe.load(saved)


def test_vocab_mismatch(saved):
    cfg = json.loads((saved / "config.json").read_text())
    cfg["vocab_size"] = 99
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFormatError, match="vocab_size=99"):
        sememe.load(saved)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ('{"model_type": "sememe", "vocab_size": 3}', "missing field 'dim'"),
        ('{"model_type": "sememe", "dim": 16, "vocab_size": 32, "colour": 1}', "unknown field"),
    ],
)
def test_bad_config(saved, content, message):
    (saved / "config.json").write_text(content)
    with pytest.raises(ModelFormatError, match=message):
        sememe.load(saved, format="sememe")


def test_bad_tokenizer(saved):
    (saved / "tokenizer.json").write_text("{}")
    with pytest.raises(ModelFormatError, match=r"tokenizer\.json"):
        sememe.load(saved)


def test_missing_files(saved):
    (saved / "tokenizer.json").unlink()
    with pytest.raises(ModelFormatError, match=r"tokenizer\.json: file is missing"):
        sememe.load(saved)


def test_nan_table_rejected(tiny):
    table = tiny._embeddings.copy()
    table[3, 2] = np.nan
    with pytest.raises(ModelFormatError, match="NaN"):
        sememe.Encoder(tiny.tokenizer, table, config=tiny.config)


def test_unknown_path_and_name(tmp_path):
    with pytest.raises(sememe.ModelNotFoundError, match="registered"):
        sememe.load(tmp_path / "nope")
    with pytest.raises(sememe.ModelNotFoundError):
        sememe.load("no-such-model-name")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match="not a model folder"):
        sememe.load(tmp_path / "empty")


def test_register_model(tmp_path, tiny):
    sememe.register_model("tiny-test", tiny.save(tmp_path / "m"))
    assert "tiny-test" in sememe.available_models()
    assert sememe.load("tiny-test").fingerprint == tiny.fingerprint
