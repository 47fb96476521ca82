"""Model folders: bit-exact round trips and clear errors for broken files."""

from __future__ import annotations

import json
from pathlib import Path

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
        "manifest.json",
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
    """A saved folder without its manifest, as a folder made by hand or by sememe before
    manifests: the checks below the checksums are what these tests exercise (with the
    manifest, every edit here fails its checksum first; see test_edits_fail_checksums)."""
    path = tiny.save(tmp_path / "m")
    (path / "manifest.json").unlink()
    return path


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


# --------------------------------------------------------------------------- folder safety


def test_overwrite_never_deletes_a_folder_of_user_files(tmp_path, tiny):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    with pytest.raises(sememe.FolderExistsError, match="not a sememe model folder"):
        tiny.save(mine, overwrite=True)
    assert (mine / "notes.txt").read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]  # nothing else written
    a_file = tmp_path / "model.bin"
    a_file.write_bytes(b"x")
    with pytest.raises(FileExistsError, match="is a file"):
        tiny.save(a_file, overwrite=True)
    assert a_file.read_bytes() == b"x"


def test_overwrite_replaces_a_model_folder_with_or_without_manifest(tmp_path, tiny):
    path = tiny.save(tmp_path / "m")
    (path / "manifest.json").unlink()  # a folder from before manifests
    other = tiny_encoder(seed=3)
    other.save(path, overwrite=True)
    assert sememe.load(path).fingerprint == other.fingerprint


def test_manifest_records_fingerprint_and_checksums(tmp_path, tiny):
    from sememe import _folder

    path = tiny.save(tmp_path / "m")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format"] == "sememe-model" and manifest["format_version"] == 1
    assert manifest["fingerprint"] == tiny.fingerprint
    assert sorted(manifest["files"]) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert _folder.folder_kind(path) == "model"


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "tokenizer.json"])
def test_edits_fail_checksums(tmp_path, tiny, name):
    path = tiny.save(tmp_path / "m")
    f = path / name
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0x01
    f.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match=rf"{name}: checksum mismatch"):
        sememe.load(path)


def test_flipped_bytes_never_load_silently(tmp_path, tiny):
    """A flip anywhere in a saved folder is a clear ModelFormatError, or changes nothing
    (a flip in the manifest's timestamp, say)."""
    path = tiny.save(tmp_path / "m")
    expected = tiny.encode(TEXTS)
    for f in sorted(path.iterdir()):
        original = f.read_bytes()
        for offset in range(0, len(original), max(1, len(original) // 60)):
            damaged = bytearray(original)
            damaged[offset] ^= 0x20
            f.write_bytes(bytes(damaged))
            try:
                back = sememe.load(path)
            except sememe.SememeError:
                continue
            finally:
                f.write_bytes(original)
            np.testing.assert_array_equal(back.encode(TEXTS), expected, err_msg=f"{f}@{offset}")


def test_a_listed_file_that_is_missing(tmp_path, tiny):
    path = tiny.save(tmp_path / "m")
    (path / "model.safetensors").unlink()
    with pytest.raises(ModelFormatError, match=r"model\.safetensors: missing"):
        sememe.load(path)


def test_kill_between_the_renames_is_recovered_on_load(tmp_path, tiny):
    """A save killed after the old folder was moved aside and before the new one was put
    in place leaves no folder at the path; the next load puts the new one back."""
    import subprocess
    import sys
    import textwrap

    path = tiny.save(tmp_path / "m")
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from conftest import tiny_encoder
        from sememe import _folder
        calls = []
        real = os.replace
        def replace(src, dst):
            calls.append(dst)
            if len(calls) == 3:  # tmp -> .new, path -> .old, then killed before .new -> path
                os._exit(9)
            real(src, dst)
        _folder.os.replace = replace
        tiny_encoder(seed=5).save({str(path)!r}, overwrite=True)
        """
    )
    assert subprocess.run([sys.executable, "-c", script], check=False).returncode == 9
    assert not path.exists()
    assert sememe.load(path).fingerprint == tiny_encoder(seed=5).fingerprint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # leftovers cleaned


def test_bundled_model_loads_unchanged_and_round_trips(tmp_path):
    bundled = sememe.load()
    assert not (sememe.loading.default_model_path() / "manifest.json").exists()
    # the fingerprint indexes and classifiers recorded before manifests existed
    assert bundled.fingerprint.startswith("8d97a5cf497c95e6")
    back = sememe.load(bundled.save(tmp_path / "base"))
    assert back.fingerprint == bundled.fingerprint
    np.testing.assert_array_equal(back._embeddings, bundled._embeddings)
