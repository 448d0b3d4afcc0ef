"""Adjusted Rand index of two labelings, from contingency-table counts aggregated in Spark
(only four numbers reach the driver): how well our customer segments recover known ones."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


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
