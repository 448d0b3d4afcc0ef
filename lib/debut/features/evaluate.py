"""Segment recovery: adjusted Rand index between our segments and the simulator's truth.

Evaluation code: it may read ``<paths.truth_dir>/user_segments.parquet``; no
feature is built from it. The index is computed from contingency-table counts
with Spark aggregations, so only four numbers reach the driver.
"""
from __future__ import annotations

import os
from typing import Optional

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from debut.config import Config

TRUTH_FILE = "user_segments.parquet"


def ari_from_counts(n: int, sum_sq_cells: int, sum_sq_true: int, sum_sq_pred: int) -> float:
    """Adjusted Rand index from n, sum of squared contingency cells and of squared row/column totals.

    The pair-counting form sklearn uses (same special case: perfect agreement,
    including a single cluster on both sides, gives 1.0).
    """
    tp = sum_sq_cells - n
    fp = sum_sq_pred - sum_sq_cells
    fn = sum_sq_true - sum_sq_cells
    tn = n * n - sum_sq_true - sum_sq_pred + sum_sq_cells
    if fn == 0 and fp == 0:
        return 1.0
    return 2.0 * (tp * tn - fn * fp) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn))


def adjusted_rand_index(labels_df: DataFrame, *, true_col: str = "true", pred_col: str = "predicted") -> float:
    """ARI of two label columns over the rows where both are present."""
    both = labels_df.where(F.col(true_col).isNotNull() & F.col(pred_col).isNotNull())
    cells = both.groupBy(true_col, pred_col).agg(F.count(F.lit(1)).alias("n"))
    sq = lambda c: F.sum(F.col(c).cast("long") * F.col(c).cast("long"))  # noqa: E731
    rows = cells.groupBy(true_col).agg(F.sum("n").alias("a")).agg(sq("a").alias("s"))
    cols = cells.groupBy(pred_col).agg(F.sum("n").alias("b")).agg(sq("b").alias("s"))
    tot = cells.agg(F.sum("n").alias("n"), sq("n").alias("s"))
    r = tot.crossJoin(rows.withColumnRenamed("s", "s_true")).crossJoin(cols.withColumnRenamed("s", "s_pred")).first()
    n = int(r["n"] or 0)
    if n == 0:
        return float("nan")
    return ari_from_counts(n, int(r["s"]), int(r["s_true"]), int(r["s_pred"]))


def truth_path(conf: Config) -> str:
    root = conf.paths.truth_dir
    if "://" not in root and not root.startswith("/"):
        root = os.path.abspath(root)
    return f"{root.rstrip('/')}/{TRUTH_FILE}"


def read_truth_segments(spark: SparkSession, conf: Config, key: bytes) -> Optional[DataFrame]:
    """(user_key, true) from the simulator's truth, user ids pseudonymised like ingest; None when absent."""
    from debut.ingest.common import with_user_key

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
