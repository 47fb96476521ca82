"""One local Spark session for the whole test run (imported by conftest.py).

Skips, with the reason, where pyspark or Java is missing: docs/spark.md says how to
install them. Every connection stays on loopback (see sememe.spark.local_session).
"""

from __future__ import annotations

import importlib.util

import pytest


@pytest.fixture(scope="session")
def spark():
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("pyarrow") is None:
        pytest.skip("pyspark/pyarrow not installed: pip install 'sememe[spark]' (docs/spark.md)")
    from sememe.spark import java_missing, local_session

    missing = java_missing()
    if missing is not None:
        pytest.skip(missing + " (docs/spark.md)")
    session = local_session(2, app_name="sememe-tests", shuffle_partitions=4)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
