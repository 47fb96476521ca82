"""The Encoder's boundary: no module outside ``encoder.py`` reads one of its private attributes.

The Encoder's private attribute names are collected from ``encoder.py`` itself (every
``self._name = ...`` it assigns), so a new private array is covered without editing this
test. Any ``something._name`` for one of those names in another module under
``src/sememe/`` is a failure: modules use the public view (``Encoder.arrays``, the pooling
primitives) instead. The rule is by name, not by type, which keeps it simple and strict:
other classes must not reuse the Encoder's private names either.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "sememe"
ENCODER = SRC / "encoder.py"
#: Names of variables and attributes that hold an encoder.
ENCODER_LIKE = re.compile(r"(^|_)(enc|encoder|encoders|model|teacher|base)(_|\d|$)", re.I)


def _self_private_assignments(tree: ast.AST) -> set[str]:
    """``_x`` for every ``self._x`` assigned under ``tree`` (dunders excluded)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Name)
                    and sub.value.id == "self"
                    and sub.attr.startswith("_")
                    and not sub.attr.startswith("__")
                ):
                    names.add(sub.attr)
    return names


def _private_names_of_encoder() -> set[str]:
    tree = ast.parse(ENCODER.read_text(encoding="utf-8"))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Encoder")
    return _self_private_assignments(cls)


def _modules() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if p != ENCODER]


def _parse(path: Path) -> ast.AST:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:  # removed since the listing (files moving in a checkout)
        return ast.Module(body=[], type_ignores=[])


def _shared_names(names: set[str]) -> set[str]:
    """Those of ``names`` that another class under ``src/sememe/`` assigns as well."""
    shared: set[str] = set()
    for path in _modules():
        shared |= names & _self_private_assignments(_parse(path))
    return shared


def _receiver_name(node: ast.expr) -> str:
    """``enc`` for ``enc``, ``_encoder`` for ``self._encoder``, "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _private_reads(
    path: Path, names: set[str], shared: set[str], root: Path = SRC.parent
) -> list[str]:
    tree = _parse(path)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr in names):
            continue
        receiver = _receiver_name(node.value)
        if isinstance(node.value, ast.Name) and receiver in ("self", "cls"):
            continue  # the class's own attribute of the same name, not the Encoder's
        if node.attr in shared and not ENCODER_LIKE.search(receiver.lstrip("_")):
            continue  # e.g. an Index's own ``_lock``
        found.append(f"{path.relative_to(root)}:{node.lineno}: {receiver}.{node.attr}")
    return found


def test_the_encoder_has_private_state_to_protect():
    names = _private_names_of_encoder()
    assert {"_embeddings", "_weights", "_mapping", "_tokenizer_json", "_table"} <= names


def test_no_module_outside_encoder_py_reads_an_encoder_private_attribute():
    names = _private_names_of_encoder()
    shared = _shared_names(names)
    offenders = [hit for path in _modules() for hit in _private_reads(path, names, shared)]
    assert not offenders, "private Encoder attributes read outside encoder.py:\n" + "\n".join(
        offenders
    )


def test_the_rule_catches_reads_through_any_encoder_name(tmp_path):
    names = _private_names_of_encoder()
    sample = tmp_path / "sample.py"
    sample.write_text(
        "a = enc._embeddings\n"
        "b = self.encoder._lock\n"
        "c = index._lock\n"
        "d = self._lock\n"
        "e = loading._cache\n",
        encoding="utf-8",
    )
    found = [h.split(": ", 1)[1] for h in _private_reads(sample, names, {"_lock"}, tmp_path)]
    assert found == ["enc._embeddings", "encoder._lock", "loading._cache"]
