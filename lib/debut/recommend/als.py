"""Spark ML ALS with implicit feedback, and its factors keyed by the original ids."""
from __future__ import annotations

from typing import Optional

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def fit_als(ratings_df: DataFrame, *, rank: int, reg_param: float, alpha: float, max_iter: int, seed: int,
            checkpoint_interval: int, num_blocks: Optional[int] = None):
    """ALSModel on (user_idx, item_idx, rating): confidence 1 + alpha x rating (Hu, Koren, Volinsky).

    ``num_blocks`` user and item blocks (each iteration's tasks per side); None: the
    cluster's default parallelism, so two local cores run two tasks rather than
    Spark ML's fixed ten. The blocks seed the initial factors, so they are part of
    what a fit reproduces.
    """
    from pyspark.ml.recommendation import ALS

    blocks = max(1, int(num_blocks or ratings_df.sparkSession.sparkContext.defaultParallelism))
    als = ALS(userCol="user_idx", itemCol="item_idx", ratingCol="rating", implicitPrefs=True, rank=rank,
              numUserBlocks=blocks, numItemBlocks=blocks, regParam=reg_param, alpha=alpha, maxIter=max_iter,
              seed=seed, nonnegative=False,
              checkpointInterval=checkpoint_interval, coldStartStrategy="drop",
              intermediateStorageLevel="MEMORY_AND_DISK", finalStorageLevel="MEMORY_AND_DISK")
    return als.fit(ratings_df)


def user_factors(model, user_ids: DataFrame) -> DataFrame:
    """(user_key, factors array<float>) of every customer the model was fitted on."""
    return (model.userFactors.join(user_ids, on=model.userFactors["id"] == user_ids["user_idx"], how="inner")
            .select("user_key", F.col("features").cast("array<float>").alias("factors")))


def item_factors(model, item_ids: DataFrame) -> DataFrame:
    """(item_id, factors array<float>) of every item the model was fitted on."""
    return (model.itemFactors.join(item_ids, on=model.itemFactors["id"] == item_ids["item_idx"], how="inner")
            .select("item_id", F.col("features").cast("array<float>").alias("factors")))
