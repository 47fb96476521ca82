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
``manifest.json``
    Since format version 2: the size and SHA-256 of every other file, the ``encoder/``
    sub-folder included (see :mod:`sememe._folder`).

Loading checks, before building anything: the manifest and every checksum (version 2),
then that the parts agree with each other, which catches hand-edited folders whose
manifest was rewritten: the classes are distinct, of the recorded type and in sorted
order (a reordered list would permute the labels), their number fits the head's
outputs and the multi-label flag, the head's arrays are finite float matrices that
chain, and the encoder gives the vectors the head takes. Every failure is a
:class:`~sememe.errors.ClassifierFormatError` naming the file; nothing in the folder
is ever executed, unlike a pickle.

Version policy (:func:`sememe._folder.check_version`): version 2 folders load
verified; version 1 folders (sememe before manifests) still load, unverified, with a
``UserWarning`` to save them again; newer versions ask for a sememe upgrade.

Encoder mismatch policy, the same as an index's: the encoder a classifier is loaded
with (the model named by ``name``, the ``encoder/`` sub-folder, or the ``encoder=``
given to :meth:`StaticClassifier.load`) must have the fingerprint recorded at save
time, else :class:`~sememe.errors.ClassifierFormatError` says how to fix it (load with
the encoder it was trained with, or train again). Earlier versions only warned when a
named model had changed; its predictions were then silently wrong.
"""

from __future__ import annotations

import json
import math
import numbers
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from safetensors.numpy import save_file

from .. import _folder
from .._resolve import registered_name, resolve_encoder
from ..errors import ClassifierFormatError, InvalidArgumentError, ModelFormatError
from ..loading import load_model
from ..persistence import CONFIG_FILE as MODEL_CONFIG_FILE
from ..persistence import TABLE_FILE as MODEL_TABLE_FILE
from ..persistence import TOKENIZER_FILE as MODEL_TOKENIZER_FILE
from ..persistence import is_sememe_folder, read_tensors
from . import _heads

if TYPE_CHECKING:
    from ..encoder import Encoder
    from ._estimators import StaticClassifier

FORMAT = "sememe-classifier"
#: 2: ``manifest.json`` with checksums; 1: no manifest (still read, with a warning).
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)
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

_Error = ClassifierFormatError


def _classes_to_json(classes: np.ndarray) -> tuple[list[Any], str]:
    values = [c.item() if hasattr(c, "item") else c for c in classes]
    for kind, types in (("bool", (bool,)), ("int", (int,)), ("float", (float,)), ("str", (str,))):
        if all(isinstance(v, types) and (kind != "int" or not isinstance(v, bool)) for v in values):
            return values, kind
    names = sorted({type(v).__name__ for v in values})
    raise InvalidArgumentError(
        f"class labels of type {', '.join(names)} cannot be saved; use str or int labels"
    )


_CLASS_TYPES: dict[str, tuple[type, ...]] = {
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "str": (str,),
}
_CLASS_DTYPES: dict[str, Any] = {"bool": bool, "int": np.int64, "float": np.float64, "str": str}


def _classes_from_json(values: Any, kind: Any, multilabel: bool, source: Path) -> np.ndarray:
    """The classes as saved, checked: typed as ``kind``, finite, distinct, sorted.

    Fitting always stores them sorted (``np.unique`` order, which the head's rows
    follow), so any other order means the list was edited and the labels would be
    permuted.
    """
    if kind not in _CLASS_TYPES:
        raise _Error(f"{source}: classes_kind {kind!r} is not one of {sorted(_CLASS_TYPES)}")
    if not isinstance(values, list) or not values:
        raise _Error(f"{source}: 'classes' must be a non-empty list")
    types = _CLASS_TYPES[kind]
    for i, v in enumerate(values):
        if not isinstance(v, types) or (kind != "bool" and isinstance(v, bool)):
            raise _Error(f"{source}: classes[{i}] is {v!r}, not a {kind} label")
        if kind == "float" and not math.isfinite(v):
            raise _Error(f"{source}: classes[{i}] is {v!r}, not a finite number")
        if kind == "int" and not -(2**63) <= v < 2**63:
            raise _Error(f"{source}: classes[{i}] = {v} does not fit in 64 bits")
    for i in range(1, len(values)):
        if values[i] == values[i - 1]:
            raise _Error(f"{source}: classes[{i}] = {values[i]!r} is listed twice")
        if values[i] < values[i - 1]:
            raise _Error(
                f"{source}: 'classes' are not in sorted order at classes[{i}] = {values[i]!r}; "
                "a saved classifier lists them sorted (the order of the head's outputs), so "
                "the list was edited and the labels would be permuted"
            )
    if not multilabel and len(values) < 2:
        raise _Error(f"{source}: a single-label classifier needs at least 2 classes")
    return np.asarray(values, dtype=_CLASS_DTYPES[kind])


def _head_kind_name(head: _heads.FrozenHead) -> str:
    if isinstance(head, _heads.MLPHead):
        return "mlp"
    return "logistic" if head.loss == "log_loss" else "linear_svm"


def save_classifier(clf: StaticClassifier, path: Path, *, overwrite: bool = False) -> Path:
    """Write ``clf`` to the folder ``path`` atomically (see the module docstring).

    An existing ``path`` is replaced only with ``overwrite=True`` and only if it is a
    sememe classifier folder; a folder of other files is never deleted
    (:class:`~sememe.errors.FolderExistsError`).
    """
    head = _heads.freeze(clf.head_, clf.classes_, clf.multilabel_)
    classes, classes_kind = _classes_to_json(clf.classes_)

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

    path = _folder.prepare_target(path, "classifier", overwrite=overwrite)
    with _folder.atomic_folder(path) as tmp:
        arrays = {k: np.ascontiguousarray(v, dtype=np.float64) for k, v in head.arrays().items()}
        save_file(arrays, str(tmp / HEAD_FILE), metadata={"format": FORMAT})
        if name is None:
            encoder.save(tmp / ENCODER_DIR)
        (tmp / CONFIG_FILE).write_text(
            json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        _folder.write_manifest(tmp, "classifier", FORMAT_VERSION)
    return path


# --------------------------------------------------------------------------- loading


def _read_config(cfg_path: Path) -> dict[str, Any]:
    try:
        text = cfg_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _Error(f"{cfg_path}: file is missing; not a saved StaticClassifier") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _Error(f"{cfg_path}: cannot be read ({exc})") from None
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise _Error(f"{cfg_path}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise _Error(f"{cfg_path}: expected a JSON object")
    if config.get("format") != FORMAT:
        raise _Error(f"{cfg_path}: not a sememe classifier (format {config.get('format')!r})")
    return config


def _get(
    table: dict[str, Any],
    key: str,
    types: type | tuple[type, ...],
    source: Path,
    *,
    where: str = "",
    optional: bool = False,
    default: Any = None,
) -> Any:
    """``table[key]`` if it has one of ``types`` (``bool`` never passes as a number)."""
    label = f"{where}.{key}" if where else key
    if key not in table:
        if optional:
            return default
        raise _Error(f"{source}: missing field {label!r}")
    value = table[key]
    if value is None and optional:
        return default
    types = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        names = " or ".join(t.__name__ for t in types)
        raise _Error(f"{source}: field {label!r} is {value!r}; expected {names}")
    return value


def _check_head(
    meta: dict[str, Any],
    tensors: dict[str, np.ndarray],
    n_classes: int,
    multilabel: bool,
    n_features: int,
    head_path: Path,
    cfg_path: Path,
) -> None:
    """The head's arrays against ``classifier.json``: names, dtypes, finite values,
    shapes that chain, input width and number of outputs."""
    kind = meta.get("kind")
    if kind == "linear":
        if meta.get("loss") not in ("log_loss", "margin"):
            raise _Error(f"{cfg_path}: unknown linear head loss {meta.get('loss')!r}")
        names = ["coef", "intercept"]
    elif kind == "mlp":
        n_layers = _get(meta, "n_layers", int, cfg_path, where="head")
        if not 1 <= n_layers <= 64:
            raise _Error(f"{cfg_path}: head.n_layers = {n_layers} is not in [1, 64]")
        if meta.get("activation", "relu") not in _heads.ACTIVATIONS:
            raise _Error(f"{cfg_path}: unknown MLP activation {meta.get('activation')!r}")
        names = [f"layer{i}.{part}" for i in range(n_layers) for part in ("weight", "bias")]
    else:
        raise _Error(f"{cfg_path}: unknown head kind {kind!r}; expected 'linear' or 'mlp'")
    missing = [n for n in names if n not in tensors]
    if missing:
        raise _Error(f"{head_path}: missing tensor {missing[0]!r} (found {sorted(tensors)})")
    extra = sorted(set(tensors) - set(names))
    if extra:
        raise _Error(f"{head_path}: unexpected tensors {extra}")
    for name in names:
        arr = tensors[name]
        want = 1 if name == "intercept" or name.endswith(".bias") else 2
        if arr.dtype.kind != "f" or arr.ndim != want:
            raise _Error(
                f"{head_path}: tensor {name!r} is {arr.dtype} with shape {arr.shape}; "
                f"expected a {want}-d float array"
            )
        if not np.isfinite(arr).all():
            raise _Error(f"{head_path}: tensor {name!r} holds NaN or infinite values")
    if kind == "linear":
        coef, intercept = tensors["coef"], tensors["intercept"]
        if coef.shape[0] != intercept.shape[0]:
            raise _Error(
                f"{head_path}: coef {coef.shape} and intercept {intercept.shape} do not match"
            )
        width, outputs = coef.shape[1], coef.shape[0]
    else:
        weights = [tensors[f"layer{i}.weight"] for i in range(len(names) // 2)]
        biases = [tensors[f"layer{i}.bias"] for i in range(len(names) // 2)]
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            if w.shape[1] != b.shape[0] or (i and weights[i - 1].shape[1] != w.shape[0]):
                raise _Error(f"{head_path}: MLP layer {i} does not chain with its neighbours")
        width, outputs = weights[0].shape[0], weights[-1].shape[1]
    if width != n_features:
        raise _Error(
            f"{head_path}: head takes {width}-d vectors, {cfg_path.name} says {n_features}"
        )
    fits = (
        outputs == n_classes
        if multilabel or n_classes != 2
        else outputs in (1, 2)  # binary: one score (scikit-learn) or two (softmax)
    )
    if not fits:
        what = "labels (multi-label)" if multilabel else "classes"
        raise _Error(
            f"{head_path}: the head has {outputs} outputs but {cfg_path.name} lists "
            f"{n_classes} {what}; the classes list or the multilabel flag was edited"
        )


def _check_listed(manifest: dict[str, Any] | None, names: list[str], path: Path) -> None:
    """Every file the loader reads is covered by the manifest's checksums."""
    if manifest is None:
        return
    unlisted = [n for n in names if n not in manifest["files"]]
    if unlisted:
        raise _Error(
            f"{path / _folder.MANIFEST}: does not list {', '.join(unlisted)}; the manifest "
            "was edited or the folder is incomplete"
        )


def _check_fingerprint(
    encoder: Encoder, want: str, info: dict[str, Any], cfg_path: Path, given: bool
) -> None:
    """The encoder to predict with must be the one the classifier was trained with
    (the policy an index follows too); the message says how to fix a mismatch."""
    if encoder.fingerprint == want:
        return
    what = "the encoder given to load" if given else f"model {info.get('name')!r}"
    change = "is not" if given else "has changed since this classifier was saved and is not"
    raise _Error(
        f"{cfg_path}: {what} {change} the encoder it was trained with (fingerprint "
        f"{encoder.fingerprint[:12]}, saved {want[:12]}); its predictions would be wrong. "
        "Load it with that encoder (StaticClassifier.load(path, encoder=...)) or train it "
        "again"
    )


def load_classifier(
    cls: type[StaticClassifier], path: Path, *, encoder: Any = None
) -> StaticClassifier:
    """Read a folder written by :func:`save_classifier` (checks: see the module docstring);
    ``encoder`` (an Encoder, model name or path) replaces the one the folder names."""
    given = None if encoder is None else resolve_encoder(encoder)
    try:
        return _load(cls, Path(path), given)
    except ModelFormatError as exc:
        if isinstance(exc, ClassifierFormatError):
            raise
        raise _Error(str(exc)) from None  # from the encoder/ sub-folder; names its file


def _load(cls: type[StaticClassifier], path: Path, given: Encoder | None) -> StaticClassifier:
    from ..loading import load

    _folder.recover(path)
    if not path.is_dir():
        raise _Error(f"{path}: no such classifier folder")
    cfg_path = path / CONFIG_FILE
    manifest = None
    if (path / _folder.MANIFEST).exists():
        manifest = _folder.read_manifest(path, "classifier", FORMAT_VERSION, error=_Error)
    config = _read_config(cfg_path)
    version = _folder.check_version(config.get("format_version"), READ_VERSIONS, cfg_path, _Error)
    if manifest is None:
        if version >= 2:
            raise _Error(
                f"{path / _folder.MANIFEST}: missing; a version-{version} classifier folder "
                "always has one (the folder is incomplete or was changed)"
            )
        warnings.warn(
            f"{path}: a classifier folder of format version {version} has no checksums, so "
            "damage to its files cannot be detected; save it again to add them",
            UserWarning,
            stacklevel=4,
        )
    elif manifest["format_version"] != version:
        raise _Error(
            f"{cfg_path}: format_version {version} but {_folder.MANIFEST} says "
            f"{manifest['format_version']}"
        )
    _check_listed(manifest, [CONFIG_FILE, HEAD_FILE], path)

    multilabel = _get(config, "multilabel", bool, cfg_path)
    classes = _classes_from_json(
        config.get("classes"), config.get("classes_kind"), multilabel, cfg_path
    )
    n_features = _get(config, "n_features_in", int, cfg_path)
    if n_features < 1:
        raise _Error(f"{cfg_path}: n_features_in = {n_features} must be >= 1")
    n_iter = _get(config, "n_iter", int, cfg_path, optional=True, default=1)
    head_meta = _get(config, "head", dict, cfg_path)
    head_name = _get(head_meta, "name", str, cfg_path, where="head", optional=True)
    head_name = head_name or "logistic"
    if head_name not in _heads.HEADS:
        raise _Error(f"{cfg_path}: head.name {head_name!r} is not one of {_heads.HEADS}")
    enc_info = _get(config, "encoder", dict, cfg_path)
    params = dict(_get(config, "params", dict, cfg_path))

    head_path = path / HEAD_FILE
    try:
        tensors = read_tensors(head_path)
    except ModelFormatError as exc:
        raise _Error(str(exc)) from None
    _check_head(head_meta, tensors, len(classes), multilabel, n_features, head_path, cfg_path)
    try:
        head = _heads.thaw(head_meta, tensors, classes, multilabel)
    except ValueError as exc:
        raise _Error(f"{head_path}: {exc}") from None

    fine_tuned = params.get("fine_tune") is not None
    fingerprint = _get(enc_info, "fingerprint", str, cfg_path, where="encoder", optional=True)
    has_folder, has_name = "folder" in enc_info, "name" in enc_info
    if has_folder == has_name:
        raise _Error(f"{cfg_path}: encoder needs exactly one of 'name' and 'folder'")
    if fine_tuned and not has_folder:
        raise _Error(f"{cfg_path}: a fine-tuned classifier keeps its encoder in {ENCODER_DIR}/")
    if has_folder:
        if enc_info["folder"] != ENCODER_DIR:
            raise _Error(
                f"{cfg_path}: encoder.folder is {enc_info['folder']!r}; expected {ENCODER_DIR!r}"
            )
        enc_dir = path / ENCODER_DIR
        files = (MODEL_CONFIG_FILE, MODEL_TABLE_FILE, MODEL_TOKENIZER_FILE)
        _check_listed(manifest, [f"{ENCODER_DIR}/{f}" for f in files], path)
        if not is_sememe_folder(enc_dir):
            raise _Error(f"{enc_dir}: missing or not a sememe model folder")
        if given is not None:
            encoder = given
        else:
            # the classifier's manifest already checked every file of encoder/
            encoder = load_model(enc_dir, verify=manifest is None)
            if fingerprint is not None and encoder.fingerprint != fingerprint:
                raise _Error(
                    f"{enc_dir}: this is not the encoder the classifier was saved with "
                    "(fingerprint differs from the one in classifier.json)"
                )
    else:
        name = _get(enc_info, "name", str, cfg_path, where="encoder")
        encoder = load(name) if given is None else given
    max_tokens = _get(enc_info, "max_tokens", int, cfg_path, where="encoder", optional=True)
    normalize = _get(enc_info, "normalize", bool, cfg_path, where="encoder", optional=True)
    if max_tokens is not None and max_tokens < 1:
        raise _Error(f"{cfg_path}: encoder.max_tokens = {max_tokens} must be >= 1")
    base_encoder = encoder
    want = (
        encoder.max_tokens if max_tokens is None else max_tokens,
        encoder.config.normalize if normalize is None else normalize,
    )
    if want != (encoder.max_tokens, encoder.config.normalize):
        encoder = encoder.with_options(max_tokens=want[0], normalize=want[1])
    # compared after the options: the fingerprint covers max_tokens
    if (has_name or given is not None) and fingerprint is not None:
        _check_fingerprint(encoder, fingerprint, enc_info, cfg_path, given is not None)

    class_weight = params.get("class_weight")
    if isinstance(class_weight, list):
        if not all(
            isinstance(pair, list)
            and len(pair) == 2
            and isinstance(pair[1], numbers.Real)
            and not isinstance(pair[1], bool)
            for pair in class_weight
        ):
            raise _Error(f"{cfg_path}: params.class_weight must be a list of [label, weight]")
        params["class_weight"] = {k: v for k, v in class_weight}
    known = {k: params[k] for k in _PLAIN_PARAMS if k in params}
    if fine_tuned:
        base = _get(enc_info, "base", str, cfg_path, where="encoder", optional=True)
        clf = cls(head=head_name, encoder=base, **known)
        clf.encoder_ = encoder
    else:
        by_name = has_name and given is None and base_encoder is encoder
        clf = cls(head=head_name, encoder=enc_info["name"] if by_name else encoder, **known)
    try:
        clf._check_params()
    except (ValueError, TypeError) as exc:
        raise _Error(f"{cfg_path}: bad params ({exc})") from None
    clf.head_ = head
    clf.classes_ = classes
    clf.multilabel_ = multilabel
    clf.n_features_in_ = n_features
    clf.n_iter_ = max(1, n_iter)
    if not fine_tuned and clf.dim is not None and clf.dim > encoder.full_dim:
        raise _Error(
            f"{cfg_path}: params.dim = {clf.dim} but the encoder has only {encoder.full_dim} "
            "dimensions"
        )
    width = encoder.dim if fine_tuned or clf.dim is None else clf.dim
    if width != n_features:
        raise _Error(
            f"{cfg_path}: the encoder gives {width}-d vectors but the head takes {n_features}-d"
        )
    return clf
