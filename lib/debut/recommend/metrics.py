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

from typing import Dict, Optional, Sequence

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
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


# ------------------------------------------------------------------ the same metrics from factors, in one pass
# A slice scores one item set: ("factors", item matrix) ranks by user factors . item factors,
# ("fixed", item ids in rank order) gives every customer the same list, ("random", seed) ranks by
# seeded noise per customer (debut.recommend.scoring's random baseline).
_PARTIAL = T.StructType([
    T.StructField("slice", T.StringType(), False),
    T.StructField("k", T.IntegerType(), False),
    T.StructField("users", T.LongType(), False),
    T.StructField("precision", T.DoubleType(), False),
    T.StructField("recall", T.DoubleType(), False),
    T.StructField("ndcg", T.DoubleType(), False),
    T.StructField("map", T.DoubleType(), False),
    T.StructField("items", T.ArrayType(T.IntegerType(), False), False),
])


def hit_metrics(hit: np.ndarray, n_rel: np.ndarray, ks: Sequence[int]) -> Dict[int, np.ndarray]:
    """Per customer (rows of ``hit``: is the item at rank r relevant, ranks 1..L) and k: the
    (precision, recall, ndcg, map) of the module docstring, a (customers, 4) array per k."""
    b, width = hit.shape
    h = hit.astype(np.float64)
    ranks = np.arange(1, width + 1, dtype=np.float64)
    disc = 1.0 / np.log2(ranks + 1.0)
    gain = h * disc
    prec_at = h * np.cumsum(h, axis=1) / ranks
    n_rel = np.asarray(n_rel, dtype=np.int64)
    out = {}
    for k in ks:
        kk = min(int(k), width)
        hits = h[:, :kk].sum(axis=1)
        ideal = np.cumsum(1.0 / np.log2(np.arange(1, int(k) + 1, dtype=np.float64) + 1.0))
        idcg = ideal[np.minimum(n_rel, int(k)) - 1]
        out[int(k)] = np.column_stack([hits / float(k), hits / n_rel, gain[:, :kk].sum(axis=1) / idcg,
                                       prec_at[:, :kk].sum(axis=1) / np.minimum(n_rel, int(k))])
    return out


def ranking_metrics_in_one_pass(users_df: DataFrame, item_ids: Sequence[str], slices: Sequence[tuple], *,
                                ks: Sequence[int], block_bytes: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """``ranking_metrics`` of every slice over ``item_ids``, scored and aggregated in one Spark job.

    users_df: user_key, relevant (array<string>: the customer's held-out items, any
    item set), factors (array<float>, null for a customer the model has no factors for:
    evaluated, without a list). A customer is evaluated when one of its relevant
    items is in ``item_ids``. Each partition scores its customers in blocks and sends
    one row per slice and k (metric sums, the items its top k cover) to the driver,
    so what is collected is bounded by partitions x slices x catalog, never by customers.

    Returns {slice: {"users": n, "<metric>@<k>": mean, ...}}, ranking_metrics' row as a dict.
    """
    from debut.recommend import scoring

    ks = sorted(set(int(k) for k in ks))
    max_k = max(ks)
    ids = np.asarray(list(item_ids), dtype=object)
    n_items = len(ids)
    specs = []
    for name, kind, arg in slices:
        if kind == "factors":
            arg = np.asarray(arg, dtype=np.float64).reshape(n_items, -1)
        elif kind == "fixed":
            pos = {i: p for p, i in enumerate(ids)}
            arg = np.asarray([pos[i] for i in list(arg)[:max_k]], dtype=np.int64)
        elif kind != "random":
            raise ValueError(f"unknown slice kind {kind!r}")
        specs.append((name, kind, arg))
    budget = block_bytes or scoring.SCORE_BLOCK_BYTES
    bc = users_df.sparkSession.sparkContext.broadcast((ids, specs))

    def partials(batches):
        ids_, specs_ = bc.value
        pos = {i: p for p, i in enumerate(ids_)}
        n = len(ids_)
        sums = {(s, k): np.zeros(4) for s, _, _ in specs_ for k in ks}
        cover = {(s, k): np.zeros(n, bool) for s, _, _ in specs_ for k in ks}
        users = 0
        for batch in batches:
            for pdf in (scoring.row_blocks(batch, n, budget) if n and not batch.empty else ()):
                rows, cols = [], []
                for r, rel in enumerate(pdf["relevant"]):
                    for i in set(rel):
                        p = pos.get(i)
                        if p is not None:
                            rows.append(r)
                            cols.append(p)
                rel_m = np.zeros((len(pdf), n), bool)
                rel_m[rows, cols] = True
                n_rel = rel_m.sum(axis=1)
                users += int((n_rel > 0).sum())
                listed = (n_rel > 0) & pdf["factors"].notna().to_numpy()
                if not listed.any():
                    continue
                sub, rel_m, n_rel = pdf[listed], rel_m[listed], n_rel[listed]
                for name, kind, arg in specs_:
                    if kind == "fixed":
                        idx = np.broadcast_to(arg, (len(sub), len(arg)))
                    else:
                        s = (scoring._matrix(sub["factors"]) @ arg.T if kind == "factors"
                             else scoring._random_scores(sub["user_key"], n, arg))
                        idx = scoring.top_k_indices(s, max_k)
                    per_k = hit_metrics(np.take_along_axis(rel_m, idx, axis=1), n_rel, ks)
                    for k in ks:
                        sums[(name, k)] += per_k[k].sum(axis=0)
                        cover[(name, k)][idx[:, :k].reshape(-1)] = True
        yield pd.DataFrame({
            "slice": [s for s, _ in sums], "k": [k for _, k in sums], "users": [users] * len(sums),
            "precision": [v[0] for v in sums.values()], "recall": [v[1] for v in sums.values()],
            "ndcg": [v[2] for v in sums.values()], "map": [v[3] for v in sums.values()],
            "items": [np.flatnonzero(c).astype(np.int32) for c in cover.values()]})

    rows = users_df.select("user_key", "relevant", "factors").mapInPandas(partials, _PARTIAL).collect()
    out: Dict[str, Dict[str, float]] = {}
    for name, _, _ in specs:
        mine = [r for r in rows if r["slice"] == name]
        for k in ks:
            at = [r for r in mine if r["k"] == k]
            n_users = sum(r["users"] for r in at)
            res = out.setdefault(name, {"users": n_users})
            for m in ("precision", "recall", "ndcg", "map"):
                res[f"{m}@{k}"] = sum(r[m] for r in at) / n_users if n_users else 0.0
            covered = set().union(*(r["items"] for r in at)) if at else set()
            res[f"coverage@{k}"] = len(covered) / float(max(n_items, 1))
        out.setdefault(name, {"users": 0, **{f"{m}@{k}": 0.0 for m in METRICS for k in ks}})
    return out


def audience_recall_by_slice(top_df: DataFrame, relevant_df: DataFrame, slices: Sequence[str]) -> Dict[str, tuple]:
    """``audience_recall`` of several audiences of the same items in one query: {slice: (recall, items)}.

    top_df: slice, item_id, user_key (each slice's audiences); relevant_df as in audience_recall.
    """
    spark = top_df.sparkSession
    names = spark.createDataFrame([(s,) for s in slices], "slice string")
    rel = relevant_df.select("item_id", "user_key").distinct().crossJoin(F.broadcast(names))
    per = (rel.join(top_df.select("slice", "item_id", "user_key").withColumn("hit", F.lit(1)),
                    on=["slice", "item_id", "user_key"], how="left")
           .groupBy("slice", "item_id").agg((F.count("hit") / F.count(F.lit(1))).alias("r")))
    rows = {r["slice"]: (float(r["recall"]), int(r["items"])) for r in
            per.groupBy("slice").agg(F.avg("r").alias("recall"), F.count(F.lit(1)).alias("items")).collect()}
    return {s: rows.get(s, (0.0, 0)) for s in slices}
