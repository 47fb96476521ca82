"""The import layers of docs/architecture.md, checked by parsing every import.

Every module under ``src/sememe/`` belongs to a layer; an import of a higher layer, of a
``_`` module of another capability, or (from the CLI) of any ``_`` module of a
capability fails this test, naming the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sememe"

#: The first part of a module's name under ``sememe`` -> its layer (docs/architecture.md).
LAYERS = {
    "errors": 0,
    "_validate": 0,
    "_text": 0,
    "_progress": 0,
    "_folder": 0,
    "_atomic": 0,
    "_vectors": 0,
    "_inputs": 0,
    "_fork": 0,
    "config": 0,
    "__version__": 0,
    "encoder": 1,
    "_resolve": 1,
    "_torch": 1,
    "_wordcache": 1,
    "persistence": 1,
    "foreign": 1,
    "loading": 1,
    "_st_habits": 1,
    "_compare": 1,
    "_export": 1,
    "quantization": 1,
    "records": 2,
    "chunking": 3,
    "index": 3,
    "deduplication": 3,
    "clustering": 3,
    "classify": 3,
    "training": 3,
    "_representatives": 3,
    "cli": 4,
    "__main__": 4,
    "integrations": 4,
    "spark": 4,
    "models": 1,
}
CAPABILITIES = {"chunking", "index", "deduplication", "clustering", "classify", "training"}


def _module_name(path: Path) -> list[str]:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path, here: list[str]) -> list[tuple[int, list[str]]]:
    """``(line, target)`` for every import of a sememe module, relative or absolute, in
    the module ``sememe.<here>`` at ``path``; ``target`` is the module path under
    ``sememe`` (``["index", "_common"]``)."""
    package = here if path.name == "__init__.py" else here[:-1]
    out: list[tuple[int, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                mod = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "sememe":
                mod = node.module.split(".")[1:]
            else:
                continue
            if node.module:
                out.append((node.lineno, mod))
            # each imported name may itself be a module (``from ..index import _common``)
            out.extend(
                (node.lineno, [*mod, a.name])
                for a in node.names
                if not node.module or a.name.startswith("_")
            )
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "sememe":
                    out.append((node.lineno, a.name.split(".")[1:]))
    return out


def _layer(parts: list[str]) -> int | None:
    return LAYERS.get(parts[0]) if parts else None


MODULES = sorted(p for p in SRC.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    missing = sorted({_module_name(p)[0] for p in MODULES if _module_name(p)} - set(LAYERS))
    assert not missing, f"add these to LAYERS and docs/architecture.md: {missing}"


def _problems(path: Path, here: list[str]) -> list[str]:
    """Every import of ``path`` (the module ``sememe.<here>``) that breaks a rule."""
    mine = _layer(here)
    problems = []
    for line, target in _imports(path, here):
        if not target or target[0] == here[0]:
            continue  # inside its own package or module
        theirs = _layer(target)
        if theirs is None or mine is None:
            continue
        where = f"{path.name}:{line} imports sememe.{'.'.join(target)}"
        if theirs > mine:
            problems.append(f"{where}: layer {theirs} from layer {mine}")
        private = any(part.startswith("_") and not part.startswith("__") for part in target[1:])
        if target[0] in CAPABILITIES and private:
            problems.append(f"{where}: a private module of another capability")
    return problems


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_layers(path: Path) -> None:
    here = _module_name(path)
    if not here:  # sememe/__init__.py re-exports the public API of every layer
        return
    problems = _problems(path, here)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("here", "source", "expected"),
    [
        (["encoder"], "from .index import Index\n", "layer 3 from layer 1"),
        (["errors"], "from sememe.encoder import Encoder\n", "layer 1 from layer 0"),
        (["clustering"], "from .index._common import Hit\n", "private module"),
        (["cli", "search"], "from ..deduplication import _result\n", "private module"),
        (["cli", "search"], "from ..index import Index\n", None),
        (["index", "_index"], "from ._common import Hit\n", None),
    ],
)
def test_the_checker_catches_violations(tmp_path: Path, here, source, expected) -> None:
    """The rules are not vacuous: hand-written violations are caught, allowed imports pass."""
    fake = tmp_path / f"{here[-1]}.py"
    fake.write_text(source, encoding="utf-8")
    problems = _problems(fake, here)
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems), problems


def test_one_encoder_resolution_everywhere(tmp_path: Path) -> None:
    """Every capability takes ``encoder=`` the same way: an Encoder, a model name, a model
    folder, or None (the bundled model); anything else gets the same error."""
    from conftest import tiny_encoder

    import sememe

    tiny = tiny_encoder(dim=16)
    folder = tiny.save(tmp_path / "tiny-model")
    texts = ["the cat sat on the mat", "a dog ran in the park"]
    users = {
        "Index": lambda e: sememe.Index.from_texts(texts, encoder=e).encoder.fingerprint,
        "dedupe": lambda e: sememe.dedupe(texts, encoder=e).n_records,
        "chunker": lambda e: len(sememe.TokenChunker(e, max_tokens=8).chunk(texts[0])),
        "cluster": lambda e: len(sememe.cluster(texts, 1, encoder=e).labels),
        "classifier": lambda e: len(
            sememe.StaticClassifier(encoder=e).fit(texts, ["a", "b"]).predict(texts)
        ),
    }
    for name, use in users.items():
        for given in (tiny, str(folder), folder, "sememe-base", None):
            assert use(given), (name, given)
        with pytest.raises(sememe.InvalidTypeError, match=r"encoder must be a sememe\.Encoder"):
            use(3.5)
