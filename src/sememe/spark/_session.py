"""Starting pyspark lazily, and a local Spark session that keeps every connection on loopback.

Nothing in sememe's core imports pyspark: :func:`require_pyspark` imports it on first use and
turns its absence into a :class:`~sememe.errors.MissingDependencyError` that names the extra.
:func:`local_session` is the session tests, benchmarks and the documentation's examples use:
``master("local[N]")``, workers running this interpreter (``PYSPARK_PYTHON``), and driver,
block manager and workers bound to 127.0.0.1 (on a machine with a second interface address
Spark's block manager would otherwise connect to that address).
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from ..errors import MissingDependencyError

#: How to get Java, which Spark needs (printed by :func:`java_missing`'s callers).
JAVA_HINT = (
    "Spark needs a Java runtime (17 or 21): install one, e.g. `apt-get install "
    "openjdk-17-jre-headless`, or set JAVA_HOME"
)


def require_pyspark() -> Any:
    """The ``pyspark`` module, or :class:`MissingDependencyError` naming the ``spark`` extra."""
    try:
        import pyarrow  # noqa: F401  (the Arrow batches every UDF here exchanges)
        import pyspark
    except ImportError as exc:
        raise MissingDependencyError(
            f"sememe.spark needs pyspark>=4 and pyarrow ({exc.name} is missing): "
            "pip install 'sememe[spark]'"
        ) from exc
    return pyspark


def java_missing() -> str | None:
    """Why Spark cannot start here (no Java found), or ``None`` when a ``java`` is available."""
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return None
    if shutil.which("java"):
        return None
    return "no Java runtime found (no JAVA_HOME, no java on PATH). " + JAVA_HINT


def local_session(
    cores: int = 2,
    *,
    app_name: str = "sememe",
    shuffle_partitions: int = 4,
    driver_memory: str = "2g",
    conf: dict[str, str] | None = None,
) -> Any:
    """A local ``SparkSession`` (``local[cores]``) bound to loopback, for tests and laptops.

    Sets ``PYSPARK_PYTHON`` and ``PYSPARK_DRIVER_PYTHON`` to this interpreter (so workers
    import this environment's sememe) and ``SPARK_LOCAL_IP`` to 127.0.0.1, and binds the
    driver and its block manager there; the UI is off. ``conf`` adds or overrides settings.
    On a cluster, use your own session (see docs/spark.md); nothing else here needs this one.
    """
    require_pyspark()
    missing = java_missing()
    if missing is not None:
        raise MissingDependencyError(missing)
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    settings = {
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(int(shuffle_partitions)),
        "spark.driver.memory": driver_memory,
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.python.worker.reuse": "true",
        "spark.sql.adaptive.enabled": "true",
    }
    settings.update(conf or {})
    builder = SparkSession.builder.master(f"local[{int(cores)}]").appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
