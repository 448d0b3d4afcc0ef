"""Ranking metrics as Spark joins and aggregations (no per-customer data reaches the driver).

For each evaluated customer (one with at least one relevant item) and cut-off k:

  precision@k = hits@k / k
  recall@k    = hits@k / |relevant|
  NDCG@k      = sum over hits at rank r <= k of 1/log2(r + 1), divided by the
                ideal sum over ranks 1..min(|relevant|, k)
  AP@k        = sum over hits at rank r <= k of (hits@r / r), divided by min(|relevant|, k)

averaged over the evaluated customers (a customer without a list scores 0),
and coverage@k = distinct items in the evaluated customers' top k / catalogue size.
"""
from __future__ import annotations

from typing import Dict, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

METRICS = ("precision", "recall", "ndcg", "map", "coverage")


def _idcg(n_rel: Column, k: int) -> Column:
    """sum_{i=1}^{min(n_rel, k)} 1 / log2(i + 1)."""
    m = F.least(n_rel, F.lit(k))
    return F.aggregate(F.sequence(F.lit(1), m), F.lit(0.0),
                       lambda acc, i: acc + F.lit(1.0) / F.log2(i.cast("double") + 1.0))


def ranking_metrics(recs_df: DataFrame, relevant_df: DataFrame, *, ks: Sequence[int],
                    n_items: int) -> DataFrame:
    """One row: ``<metric>@<k>`` for every metric in METRICS and k in ``ks``, plus ``users``.

    recs_df: user_key, item_id, rank (1 = best); relevant_df: user_key, item_id
    (the held-out interactions, restricted to the evaluated item set).
    """
    ks = sorted(set(int(k) for k in ks))
    max_k = max(ks)
    rel = relevant_df.select("user_key", "item_id").distinct()
    n_rel = rel.groupBy("user_key").agg(F.count(F.lit(1)).alias("n_rel"))
    recs = (recs_df.where(F.col("rank") <= max_k).select("user_key", "item_id", "rank")
            .join(n_rel.select("user_key"), on="user_key", how="inner"))
    upto = Window.partitionBy("user_key").orderBy("rank").rowsBetween(Window.unboundedPreceding,
                                                                      Window.currentRow)
    hits = (recs.join(rel.withColumn("hit", F.lit(1)), on=["user_key", "item_id"], how="left")
            .withColumn("hit", F.coalesce(F.col("hit"), F.lit(0)))
            .withColumn("cum_hits", F.sum("hit").over(upto)))
    is_hit = F.col("hit") == 1
    aggs = []
    for k in ks:
        within = F.col("rank") <= k
        aggs += [F.sum(F.when(within, F.col("hit")).otherwise(0)).alias(f"hits_{k}"),
                 F.sum(F.when(within & is_hit, 1.0 / F.log2(F.col("rank") + 1.0)).otherwise(0.0)).alias(f"dcg_{k}"),
                 F.sum(F.when(within & is_hit, F.col("cum_hits") / F.col("rank")).otherwise(0.0)).alias(f"ap_{k}")]
    per_user = n_rel.join(hits.groupBy("user_key").agg(*aggs), on="user_key", how="left").na.fill(0)
    cols = [F.count(F.lit(1)).alias("users")]
    for k in ks:
        cols += [F.avg(F.col(f"hits_{k}") / F.lit(float(k))).alias(f"precision@{k}"),
                 F.avg(F.col(f"hits_{k}") / F.col("n_rel")).alias(f"recall@{k}"),
                 F.avg(F.col(f"dcg_{k}") / _idcg(F.col("n_rel"), k)).alias(f"ndcg@{k}"),
                 F.avg(F.col(f"ap_{k}") / F.least(F.col("n_rel"), F.lit(k))).alias(f"map@{k}")]
    summary = per_user.agg(*cols)
    cover = recs.agg(*[(F.countDistinct(F.when(F.col("rank") <= k, F.col("item_id"))) / F.lit(float(max(n_items, 1))))
                       .alias(f"coverage@{k}") for k in ks])
    return summary.crossJoin(cover).na.fill(0.0)


def to_metric_dict(row, *, ks: Sequence[int], slice_: str) -> Dict[tuple, float]:
    """record_metrics keys ``(metric@k, slice, users)`` from a ranking_metrics row."""
    n = int(row["users"])
    return {(f"{m}@{k}", slice_, n): float(row[f"{m}@{k}"]) for m in METRICS for k in sorted(set(ks))}


def audience_recall(top_df: DataFrame, relevant_df: DataFrame) -> DataFrame:
    """One row: mean over items (with a relevant customer) of |top-K audience & relevant| / |relevant|.

    top_df: item_id, user_key (an item's audience); relevant_df: item_id, user_key
    (who interacted with it in the held-out window). Columns: recall, items.
    """
    rel = relevant_df.select("item_id", "user_key").distinct()
    per = (rel.join(top_df.select("item_id", "user_key").withColumn("hit", F.lit(1)),
                    on=["item_id", "user_key"], how="left")
           .groupBy("item_id").agg((F.count("hit") / F.count(F.lit(1))).alias("r")))
    return per.agg(F.coalesce(F.avg("r"), F.lit(0.0)).alias("recall"), F.count(F.lit(1)).alias("items"))
