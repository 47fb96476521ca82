"""Damaged foreign model files (Model2Vec, sentence-transformers) and bad registrations:
every failure is a sememe error naming the file, never a raw exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_foreign import write_model2vec, write_sentence_transformers

import sememe
from sememe.errors import ModelFormatError, ModelNotFoundError, SememeError


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def load_or_error(path: Path) -> None:
    """Loading works, or fails with a sememe error that names a file under ``path``."""
    try:
        enc = sememe.load(path)
    except SememeError as exc:
        assert str(path) in str(exc), exc
        return
    enc.encode(["cat sat"])  # whatever loaded must work


@pytest.mark.parametrize("kind", ["model2vec", "sentence-transformers"])
@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_files_give_model_format_errors(tmp_path, kind, keep):
    root = tmp_path / "m"
    (write_model2vec if kind == "model2vec" else write_sentence_transformers)(root)
    originals = {p: p.read_bytes() for p in files(root)}
    for path, data in originals.items():
        path.write_bytes(data[: int(len(data) * keep)])
        load_or_error(root)
        path.write_bytes(data)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("config.json", "[1, 2]"),
        ("config.json", '{"normalize": true, "max_length": "long"}'),
        ("config.json", '{"max_length": -4}'),
        ("config.json", '{"max_length": 1.5}'),
        ("config.json", "null"),
        ("tokenizer.json", '{"model": 3}'),
    ],
)
def test_model2vec_config_of_the_wrong_shape(tmp_path, name, content):
    root = tmp_path / "m2v"
    write_model2vec(root)
    (root / name).write_text(content)
    with pytest.raises(ModelFormatError, match=name.replace(".", r"\.")):
        sememe.load(root)


@pytest.mark.parametrize(
    "modules",
    [
        "{}",
        '["x"]',
        '[{"type": "sentence_transformers.models.StaticEmbedding", "path": 3}]',
        '[{"type": 5}]',
    ],
)
def test_sentence_transformers_modules_of_the_wrong_shape(tmp_path, modules):
    root = tmp_path / "st"
    write_sentence_transformers(root)
    (root / "modules.json").write_text(modules)
    with pytest.raises(ModelFormatError, match=r"modules\.json"):
        sememe.load(root)


def test_register_model_checks_its_arguments(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no such model folder"):
        sememe.register_model("typo", tmp_path / "nowhere")
    with pytest.raises(TypeError, match="a model name must be a str"):
        sememe.register_model(3, tmp_path)
    with pytest.raises(ValueError, match="non-empty"):
        sememe.register_model("", tmp_path)
    with pytest.raises(TypeError, match="source must be a path or a callable"):
        sememe.register_model("x", 42)
    assert "typo" not in sememe.available_models()


def test_load_with_a_bad_model_argument():
    with pytest.raises(TypeError, match="model must be None, a name or a path") as info:
        sememe.load(3.5)
    assert isinstance(info.value, SememeError)
    with pytest.raises(ModelNotFoundError, match="not a registered name"):
        sememe.load("no-such-model-here")


def test_wordllama_without_its_package_names_the_install(monkeypatch):
    import sys

    from sememe.errors import MissingDependencyError
    from sememe.foreign import wordllama_files

    monkeypatch.setitem(sys.modules, "wordllama", None)
    with pytest.raises(ImportError, match="pip install wordllama") as info:
        wordllama_files()
    assert isinstance(info.value, MissingDependencyError)
