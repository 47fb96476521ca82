"""The ``encoder`` parameter of sememe's scikit-learn estimators: resolve, clone, pickle.

An :class:`~sememe.Encoder` holds locks and a tokenizer, so Python can neither deep-copy
nor pickle it. scikit-learn does both to estimator parameters (``clone`` deep-copies
them; ``joblib`` and ``pickle`` serialise them). These helpers let an estimator keep an
``Encoder`` as a parameter anyway:

* ``clone`` shares the encoder instead of copying it: an encoder is immutable.
* Pickling stores a *reference* when the encoder is a registered model that is loaded
  (the bundled default among them): its name and options, a few bytes. Any other
  encoder is stored by content (tokenizer, table, weights, config), so it still
  round-trips, at the size of its table.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidTypeError

if TYPE_CHECKING:
    from .encoder import Encoder

EncoderLike = Any  # Encoder | str | Path | None


def resolve_encoder(encoder: EncoderLike) -> Encoder:
    """An :class:`Encoder` from an encoder, a model name or path, or ``None`` (bundled)."""
    from .encoder import Encoder
    from .loading import load

    if encoder is None or isinstance(encoder, (str, Path)):
        return load(encoder)
    if isinstance(encoder, Encoder):
        return encoder
    raise InvalidTypeError(
        "encoder must be a sememe.Encoder, a model name or path, or None; "
        f"got {type(encoder).__name__}"
    )


def registered_name(encoder: Encoder) -> str | None:
    """The registered model name whose loaded table ``encoder`` uses, if any.

    Only models already loaded in this process are compared (nothing is loaded here);
    the comparison is by content fingerprint, so ``with_options`` variants match too.
    """
    from .loading import loaded_models

    loaded = loaded_models()
    for name, enc in loaded.items():
        if enc.shares_arrays(encoder):
            return name
    fingerprint = encoder.fingerprint
    for name, enc in loaded.items():
        if enc.fingerprint == fingerprint:
            return name
    return None


def encoder_state(encoder: EncoderLike, *, portable: bool = False) -> Any:
    """A picklable stand-in for the ``encoder`` parameter (see the module docstring).

    A registered model travels by name. With ``portable=True`` (state read by other
    processes, e.g. Spark workers) only the built-in names do: a name registered in this
    process means nothing elsewhere, so such a model travels by content.
    """
    from .encoder import Encoder
    from .loading import BUILTIN_MODELS

    if not isinstance(encoder, Encoder):
        return encoder
    options = {
        "dim": encoder.dim,
        "max_tokens": encoder.max_tokens,
        "normalize": encoder.config.normalize,
    }
    name = registered_name(encoder)
    if portable and name not in BUILTIN_MODELS:
        name = None
    if name is not None:
        return {"__sememe_encoder__": "reference", "name": name, **options}
    arrays = encoder.arrays
    return {
        "__sememe_encoder__": "content",
        "tokenizer": arrays.tokenizer_json,
        "embeddings": arrays.embeddings,
        "weights": arrays.weights,
        "mapping": arrays.mapping,
        "config": encoder.config.to_dict(),
        "source": encoder.source,
        **options,
    }


def restore_encoder(state: Any) -> EncoderLike:
    """Inverse of :func:`encoder_state`."""
    if not (isinstance(state, dict) and "__sememe_encoder__" in state):
        return state
    from tokenizers import Tokenizer

    from .config import ModelConfig
    from .encoder import Encoder
    from .loading import load

    if state["__sememe_encoder__"] == "reference":
        enc = load(state["name"])
    else:
        config = ModelConfig.from_dict(state["config"], source="pickled encoder")
        enc = Encoder(
            Tokenizer.from_str(state["tokenizer"]),
            state["embeddings"],
            copy_tokenizer=False,
            weights=state["weights"],
            mapping=state["mapping"],
            config=config,
            source=state["source"],
        )
    same = (
        enc.dim == state["dim"]
        and enc.max_tokens == state["max_tokens"]
        and enc.config.normalize == state["normalize"]
    )
    if same:
        return enc
    return enc.with_options(
        dim=state["dim"], max_tokens=state["max_tokens"], normalize=state["normalize"]
    )


class EncoderParamMixin:
    """Mixin for estimators with an ``encoder`` parameter: clone shares it, pickle refers to it.

    Put it before ``BaseEstimator`` in the bases.
    """

    def __sklearn_clone__(self) -> Any:
        encoder = getattr(self, "encoder", None)
        twin = copy.copy(self)
        twin.encoder = None
        from sklearn.base import BaseEstimator  # lazy: the CLI's start-up does not pay for sklearn

        new = BaseEstimator.__sklearn_clone__(twin)
        new.encoder = encoder
        return new

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()  # type: ignore[misc]
        state = dict(state)
        if "encoder" in state:
            state["encoder"] = encoder_state(state["encoder"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        if "encoder" in state:
            state["encoder"] = restore_encoder(state["encoder"])
        super().__setstate__(state)  # type: ignore[misc]
