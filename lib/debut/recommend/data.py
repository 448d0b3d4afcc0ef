"""Inputs of train_als: integer id tables, the time-based validation split, the cold hold-out.

Validation split: interactions before ``cutoff = run_date - validation_days``
train (weights rebuilt from bronze.events with silver.user_item's own
definition, decayed to the cutoff), interactions in [cutoff, run_date) are the
relevant items. Cold items for evaluation are catalog items launched inside
the validation window plus a seeded share of the other catalog items; all their
training interactions are dropped, so the model never saw them and they can
only be scored through the content map.
"""
from __future__ import annotations

import datetime as dt
from typing import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

RATING_TRANSFORMS = ("raw", "log1p")
HASH_BUCKETS = 10000


def to_id_table(df: DataFrame, col: str, idx_col: str) -> DataFrame:
    """(col, idx_col int): the distinct non-null values of ``col`` numbered 0.. in sorted order.

    A distributed sort and zipWithIndex: no value list on the driver, and the
    same data gives the same ids run after run.
    """
    spark = df.sparkSession
    values = df.select(col).where(F.col(col).isNotNull()).distinct().orderBy(col)
    rdd = values.rdd.map(lambda r: r[0]).zipWithIndex().map(lambda t: (t[0], int(t[1])))
    schema = T.StructType([T.StructField(col, df.schema[col].dataType, False),
                           T.StructField(idx_col, T.IntegerType(), False)])
    return spark.createDataFrame(rdd, schema)


def to_ratings(user_item_df: DataFrame, user_ids: DataFrame, item_ids: DataFrame, *, transform: str) -> DataFrame:
    """(user_idx, item_idx, rating) from (user_key, item_id, weight) rows with a positive weight.

    ``log1p`` tames the heavy tail of decayed event weights (a frequent buyer's
    favourite item would otherwise dominate its confidence 1 + alpha x weight).
    """
    if transform not in RATING_TRANSFORMS:
        raise ValueError(f"unknown rating transform {transform!r} (known: {', '.join(RATING_TRANSFORMS)})")
    w = F.col("weight").cast("double")
    rating = F.log1p(w) if transform == "log1p" else w
    return (user_item_df.where(F.col("weight") > 0)
            .join(user_ids, on="user_key", how="inner")
            .join(item_ids, on="item_id", how="inner")
            .select("user_idx", "item_idx", rating.cast("float").alias("rating")))


def relevant_pairs(events_df: DataFrame, *, start: dt.date, end: dt.date,
                   event_weights: Mapping[str, float]) -> DataFrame:
    """Distinct (user_key, item_id) with an event of positive weight dated in [start, end)."""
    weighted = [t for t, w in sorted(event_weights.items()) if w > 0]
    return (events_df.where(F.col("item_id").isNotNull() & F.col("event_type").isin(*weighted)
                            & (F.col("event_date") >= F.lit(start)) & (F.col("event_date") < F.lit(end)))
            .select("user_key", "item_id").distinct())


def is_hash_selected(col: str, *, share: float, seed: int):
    """Column: True for a reproducible pseudo-random ``share`` of the values of ``col``."""
    bucket = F.pmod(F.xxhash64(F.col(col), F.lit(int(seed))), F.lit(HASH_BUCKETS))
    return bucket < F.lit(int(round(share * HASH_BUCKETS)))


def sample_customers(pairs_df: DataFrame, max_customers: int, *, seed: int) -> DataFrame:
    """``pairs_df`` restricted to a reproducible hash sample of about ``max_customers`` of its
    customers (all of them when there are no more, or when ``max_customers`` is 0)."""
    if max_customers <= 0:
        return pairs_df
    n = pairs_df.select("user_key").distinct().count()
    if n <= max_customers:
        return pairs_df
    return pairs_df.where(is_hash_selected("user_key", share=max_customers / n, seed=seed))


def to_cold_items(catalog_now_df: DataFrame, *, cutoff: dt.date, share: float, seed: int) -> DataFrame:
    """(item_id): catalog items launched on or after ``cutoff``, plus a seeded ``share`` of the others."""
    launched_late = F.col("launch_date").isNotNull() & (F.col("launch_date") >= F.lit(cutoff))
    return (catalog_now_df.where(launched_late | is_hash_selected("item_id", share=share, seed=seed))
            .select("item_id").distinct())
