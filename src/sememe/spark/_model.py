"""Shipping the model to Spark's Python workers once, and loading it there once per process.

The driver turns the ``model`` argument into a small picklable *spec*: a model name or
folder path (``None``: the bundled model) travels as that string, and each worker process
loads it from its own disk the first time a task needs it (so the folder must exist at that
path on every executor: docs/spark.md says where to put it). An :class:`~sememe.Encoder`
built in memory has no path: it travels by value in a Spark broadcast variable, sent to each
executor once, not once per batch or task. Either way the worker keeps the loaded encoder in
a per-process cache keyed by the spec, so the Python worker reuse Spark does by default
(``spark.python.worker.reuse``) loads it once per worker process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._resolve import encoder_state, registered_name, restore_encoder
from ..encoder import Encoder
from ..errors import InvalidTypeError

_cache: dict[str, Encoder] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class ModelSpec:
    """What a worker needs to get the model: a name/path, or a broadcast encoder state.

    ``key`` identifies the model in the worker cache (the driver-side fingerprint).
    """

    key: str
    name: str | None = None
    broadcast: Any = None  # pyspark Broadcast of an encoder state

    def load(self) -> Encoder:
        """The encoder, loaded (or unpickled) once per worker process."""
        with _lock:
            enc = _cache.get(self.key)
            if enc is None:
                if self.broadcast is not None:
                    enc = restore_encoder(self.broadcast.value)
                else:
                    from ..loading import load

                    enc = load(self.name)
                _cache[self.key] = enc
        return enc


def model_spec(spark: Any, model: Encoder | str | Path | None) -> tuple[ModelSpec, Encoder]:
    """The spec for ``model`` and the encoder itself on the driver (to check ``dim`` etc.).

    A registered model (the bundled one included) or a path travels by name; an in-memory
    encoder that is not a registered model travels by broadcast.
    """
    from ..loading import load

    if model is None or isinstance(model, (str, Path)):
        enc = load(None if model is None else model)
        name = None if model is None else str(model)
        return ModelSpec(key=f"{name}:{enc.fingerprint}", name=name), enc
    if not isinstance(model, Encoder):
        raise InvalidTypeError(
            "model must be None (the bundled model), a model name or folder path, or a "
            f"sememe.Encoder; got {type(model).__name__}"
        )
    state = encoder_state(model, portable=True)  # workers know only the built-in names
    key = f"{registered_name(model)}:{model.fingerprint}:{model.dim}:{model.max_tokens}"
    bc = spark.sparkContext.broadcast(state)
    return ModelSpec(key=key, broadcast=bc), model
