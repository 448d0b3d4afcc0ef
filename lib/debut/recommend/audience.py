"""Audience tables of train_als: gold.launch_audience, gold.item_audience, gold.audience_segment_mix."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from debut import schemas as S
from debut.core.dates import lit_date


def to_launch_audience(top: DataFrame, profile: DataFrame, *, plan_date: dt.date) -> DataFrame:
    """gold.launch_audience rows from top_users_per_item output restricted to candidates."""
    return (top.join(profile.select("user_key", "segment"), on="user_key", how="left")
            .select(F.col("item_id").alias("candidate_id"), lit_date(plan_date).alias("plan_date"),
                    "user_key", F.col("score").cast("double"), F.col("rank").cast("int"),
                    F.col("segment").cast("int")))


def to_item_audience(top: DataFrame, reach: DataFrame, profile: DataFrame, item_flags: DataFrame, *,
                     as_of: dt.date) -> DataFrame:
    """gold.item_audience: per item the top-K score sum and mean, reach, top segment and its share."""
    seg = top.join(profile.select("user_key", "segment"), on="user_key", how="left")
    per_seg = seg.where(F.col("segment").isNotNull()).groupBy("item_id", "segment").agg(F.count(F.lit(1)).alias("n"))
    first = Window.partitionBy("item_id").orderBy(F.col("n").desc(), F.col("segment"))
    top_seg = (per_seg.withColumn("_r", F.row_number().over(first)).where(F.col("_r") == 1)
               .select("item_id", F.col("segment").alias("top_segment"), F.col("n").alias("_seg_n")))
    agg = top.groupBy("item_id").agg(F.sum("score").alias("audience_score_sum"),
                                     F.avg("score").alias("audience_score_mean"),
                                     F.count(F.lit(1)).alias("_n"))
    return (item_flags.join(agg, on="item_id", how="left").join(reach, on="item_id", how="left")
            .join(top_seg, on="item_id", how="left")
            .select("item_id", F.col("is_candidate").cast("boolean"),
                    F.coalesce(F.col("audience_score_sum"), F.lit(0.0)).alias("audience_score_sum"),
                    F.col("audience_score_mean").cast("double"),
                    F.coalesce(F.col("reach"), F.lit(0)).cast("long").alias("audience_reach"),
                    F.col("top_segment").cast("int"),
                    (F.col("_seg_n") / F.col("_n")).cast("double").alias("top_segment_share"),
                    lit_date(as_of).alias("as_of_date")))


def audience_segment_mix(audience_df: DataFrame, profile_df: DataFrame) -> DataFrame:
    """Per candidate_id: customers and share of its audience in each segment.

    audience_df: candidate_id, user_key, score (gold.launch_audience). Customers
    without a profile (or a segment) form the null segment, so shares sum to 1.
    """
    a = (audience_df.select("candidate_id", "user_key", "score")
         .join(profile_df.select("user_key", "segment"), on="user_key", how="left"))
    total = a.groupBy("candidate_id").agg(F.count(F.lit(1)).alias("_n"), F.sum("score").alias("_score"))
    per = a.groupBy("candidate_id", "segment").agg(F.count(F.lit(1)).alias("customers"),
                                                   F.sum("score").alias("score"))
    return (per.join(total, on="candidate_id", how="inner")
            .select("candidate_id", F.col("segment").cast("int"), F.col("customers").cast("long"),
                    (F.col("customers") / F.col("_n")).alias("share"),
                    F.when(F.col("_score") != 0, F.col("score") / F.col("_score")).alias("score_share"))
            .select([F.col(f.name).cast(f.dataType).alias(f.name) for f in S.SEGMENT_MIX.fields]))
