"""Saving a fitted :class:`StaticClassifier` as plain files, and loading it back.

A classifier folder holds

``classifier.json``
    Format tag and version, the classes, whether it is multi-label, the head's kind and
    settings, the estimator's parameters, and which encoder it needs: a registered model
    by name (with its fingerprint, checked on load), or the ``encoder/`` sub-folder.
``head.safetensors``
    The head's arrays (``coef``/``intercept``, or ``layer{i}.weight``/``layer{i}.bias``).
``encoder/``
    Only for a fine-tuned or unregistered encoder: a sememe model folder.

Loading parses JSON, safetensors and a tokenizer file; nothing in the folder is ever
executed, unlike a pickle.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors.numpy import save_file

from .._atomic import atomic_folder
from ..errors import ModelFormatError
from ..persistence import read_tensors
from . import _heads
from ._encoders import registered_name, resolve_encoder

if TYPE_CHECKING:
    from ._estimators import StaticClassifier

FORMAT = "sememe-classifier"
FORMAT_VERSION = 1
CONFIG_FILE = "classifier.json"
HEAD_FILE = "head.safetensors"
ENCODER_DIR = "encoder"

_PLAIN_PARAMS = (
    "dim",
    "C",
    "class_weight",
    "max_iter",
    "random_state",
    "fine_tune",
    "epochs",
    "learning_rate",
    "batch_size",
)


def _classes_to_json(classes: np.ndarray) -> tuple[list[Any], str]:
    values = [c.item() if hasattr(c, "item") else c for c in classes]
    for kind, types in (("bool", (bool,)), ("int", (int,)), ("float", (float,)), ("str", (str,))):
        if all(isinstance(v, types) and (kind != "int" or not isinstance(v, bool)) for v in values):
            return values, kind
    names = sorted({type(v).__name__ for v in values})
    raise ValueError(
        f"class labels of type {', '.join(names)} cannot be saved; use str or int labels"
    )


def _classes_from_json(values: list[Any], kind: str, source: Path) -> np.ndarray:
    dtypes = {"bool": bool, "int": np.int64, "float": np.float64, "str": str}
    if kind not in dtypes or not isinstance(values, list):
        raise ModelFormatError(f"{source}: bad classes (kind {kind!r})")
    return np.asarray(values, dtype=dtypes[kind])


def _head_kind_name(head: _heads.FrozenHead) -> str:
    if isinstance(head, _heads.MLPHead):
        return "mlp"
    return "logistic" if head.loss == "log_loss" else "linear_svm"


def save_classifier(clf: StaticClassifier, path: Path, *, overwrite: bool = False) -> Path:
    """Write ``clf`` to the folder ``path`` atomically (see the module docstring)."""
    head = _heads.freeze(clf.head_, clf.classes_, clf.multilabel_)
    classes, classes_kind = _classes_to_json(clf.classes_)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())) and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True (--overwrite on the command line) to replace it"
        )

    fine_tuned = hasattr(clf, "encoder_")
    encoder = clf.encoder_ if fine_tuned else resolve_encoder(clf.encoder)
    name = None if fine_tuned else registered_name(encoder)
    encoder_info: dict[str, Any] = {
        "dim": clf.dim,
        "max_tokens": encoder.max_tokens,
        "normalize": encoder.config.normalize,
        "fingerprint": encoder.fingerprint,
    }
    if name is not None:
        encoder_info["name"] = name
    else:
        encoder_info["folder"] = ENCODER_DIR
    if fine_tuned:
        base = clf.encoder
        encoder_info["base"] = base if isinstance(base, str) else None
        encoder_info["dim"] = None

    params = {k: getattr(clf, k) for k in _PLAIN_PARAMS}
    if isinstance(params["class_weight"], dict):
        params["class_weight"] = [
            [k.item() if hasattr(k, "item") else k, float(v)]
            for k, v in params["class_weight"].items()
        ]
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None
    head_name = clf.head if isinstance(clf.head, str) else _head_kind_name(head)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "classes": classes,
        "classes_kind": classes_kind,
        "multilabel": bool(clf.multilabel_),
        "n_features_in": int(clf.n_features_in_),
        "n_iter": int(getattr(clf, "n_iter_", 1)),
        "head": {**head.meta(), "name": head_name},
        "encoder": encoder_info,
        "params": params,
    }

    with atomic_folder(path) as tmp:
        arrays = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in head.arrays().items()}
        save_file(arrays, str(tmp / HEAD_FILE), metadata={"format": FORMAT})
        if name is None:
            encoder.save(tmp / ENCODER_DIR)
        (tmp / CONFIG_FILE).write_text(
            json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return path


def load_classifier(cls: type[StaticClassifier], path: Path) -> StaticClassifier:
    """Read a folder written by :func:`save_classifier`."""
    from ..loading import load, load_path

    cfg_path = path / CONFIG_FILE
    if not path.is_dir():
        raise ModelFormatError(f"{path}: no such classifier folder")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFormatError(
            f"{cfg_path}: file is missing; not a saved StaticClassifier"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{cfg_path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelFormatError(
            f"{cfg_path}: not a sememe classifier (format {config.get('format')!r})"
            if isinstance(config, dict)
            else f"{cfg_path}: expected a JSON object"
        )
    if int(config.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelFormatError(
            f"{cfg_path}: format_version {config['format_version']} is newer than this sememe "
            f"understands ({FORMAT_VERSION}); upgrade sememe"
        )
    try:
        classes = _classes_from_json(config["classes"], config["classes_kind"], cfg_path)
        multilabel = bool(config["multilabel"])
        head_meta = config["head"]
        enc_info = config["encoder"]
        params = dict(config["params"])
        n_features = int(config["n_features_in"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{cfg_path}: missing or bad field ({exc})") from None

    tensors = read_tensors(path / HEAD_FILE)
    try:
        head = _heads.thaw(head_meta, tensors, classes, multilabel)
    except ValueError as exc:
        raise ModelFormatError(f"{path / HEAD_FILE}: {exc}") from None
    if head.n_features_in_ != n_features:
        raise ModelFormatError(
            f"{path / HEAD_FILE}: head takes {head.n_features_in_}-d vectors, config says {n_features}"
        )

    if "folder" in enc_info:
        encoder = load_path(path / str(enc_info["folder"]))
    elif "name" in enc_info:
        encoder = load(enc_info["name"])
        if enc_info.get("fingerprint") and encoder.fingerprint != enc_info["fingerprint"]:
            warnings.warn(
                f"{cfg_path}: model {enc_info['name']!r} has changed since this classifier was "
                "saved (fingerprint differs); its predictions may be wrong. Retrain it.",
                UserWarning,
                stacklevel=3,
            )
    else:
        raise ModelFormatError(f"{cfg_path}: encoder has neither 'name' nor 'folder'")
    options = {k: enc_info.get(k) for k in ("max_tokens", "normalize")}
    if (options["max_tokens"], options["normalize"]) != (
        encoder.max_tokens,
        encoder.config.normalize,
    ):
        encoder = encoder.with_options(**{k: v for k, v in options.items() if v is not None})

    if isinstance(params.get("class_weight"), list):
        params["class_weight"] = {k: v for k, v in params["class_weight"]}
    fine_tuned = params.get("fine_tune") is not None
    known = {k: params[k] for k in _PLAIN_PARAMS if k in params}
    if fine_tuned:
        clf = cls(head=head_meta.get("name", "logistic"), encoder=enc_info.get("base"), **known)
        clf.encoder_ = encoder
    else:
        clf = cls(
            head=head_meta.get("name", "logistic"),
            encoder=enc_info["name"]
            if "name" in enc_info and encoder is load(enc_info["name"])
            else encoder,
            **known,
        )
    clf.head_ = head
    clf.classes_ = classes
    clf.multilabel_ = multilabel
    clf.n_features_in_ = n_features
    clf.n_iter_ = int(config.get("n_iter", 1))
    width = encoder.dim if fine_tuned or clf.dim is None else clf.dim
    if width != n_features:
        raise ModelFormatError(
            f"{cfg_path}: the encoder gives {width}-d vectors but the head takes {n_features}-d"
        )
    return clf
