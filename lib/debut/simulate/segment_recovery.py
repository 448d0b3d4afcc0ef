"""Segment recovery (simulator side): adjusted Rand index between gold.customer_profile's
segments and the simulator's ``<paths.truth_dir>/user_segments.parquet``; no feature is built from it."""
from __future__ import annotations

import os
from typing import Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from debut.config import Config
from debut.core.ari import adjusted_rand_index
from debut.core.pseudonym import with_user_key

TRUTH_FILE = "user_segments.parquet"


def truth_path(conf: Config) -> str:
    root = conf.paths.truth_dir
    if "://" not in root and not root.startswith("/"):
        root = os.path.abspath(root)
    return f"{root.rstrip('/')}/{TRUTH_FILE}"


def read_truth_segments(spark: SparkSession, conf: Config, key: bytes) -> Optional[DataFrame]:
    """(user_key, true) from the simulator's truth, user ids pseudonymised like ingest; None when absent."""
    try:
        truth = spark.read.parquet(truth_path(conf))
    except AnalysisException:
        return None
    return with_user_key(truth.select("user_id", F.col("segment").alias("true")), key).select("user_key", "true")


def segment_recovery(segments_df: DataFrame, truth_df: DataFrame) -> float:
    """ARI between (user_key, segment) and (user_key, true), over the customers in both."""
    joined = segments_df.select("user_key", F.col("segment").alias("predicted")).join(truth_df, on="user_key",
                                                                                      how="inner")
    return adjusted_rand_index(joined)
