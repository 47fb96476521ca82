"""sememe on Apache Spark: encode, deduplicate and prepare indexes for corpora past one machine.

    from sememe.spark import local_session, encode, dedupe
    spark = local_session()                      # or your cluster's SparkSession
    df = spark.read.text("corpus/*.txt").withColumnRenamed("value", "text")
    vectors = encode(df, "text")                 # + array<float> column "embedding"
    result = dedupe(df, "text", threshold=0.9)   # + kept, duplicate_of, similarity

Needs the ``spark`` extra (``pip install 'sememe[spark]'``: pyspark>=4, pyarrow) and a Java
runtime; nothing in the rest of sememe imports pyspark. docs/spark.md describes the plan, the
cost model, running on a cluster and the measurements.

* ``_session``: importing pyspark lazily, :func:`local_session` (loopback-bound);
* ``_model``: the model shipped to executors once, loaded once per worker process;
* ``_encode``: :func:`encode`;
* ``_dedupe``: :func:`dedupe` (exact hashes, k-means cells, tiled range search);
* ``_decide``: the no-chaining decision over the candidate edges, in rounds;
* ``_frames``: argument checks and Arrow helpers.
"""

from __future__ import annotations

from ._encode import encode
from ._session import JAVA_HINT, java_missing, local_session

__all__ = ["JAVA_HINT", "dedupe", "encode", "java_missing", "local_session"]


def __getattr__(name: str):  # the dedupe module is only imported when asked for
    if name == "dedupe":
        from ._dedupe import dedupe

        return dedupe
    raise AttributeError(f"module 'sememe.spark' has no attribute {name!r}")
