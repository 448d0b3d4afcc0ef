"""Implicit feedback per user and item (silver.user_item): counts and a time-decayed weight.

One definition for aggregate (which writes silver.user_item as of run_date)
and for the stages that need it as of an earlier cut-off (intent labels,
training windows, the recommender's validation split).

weight = sum over the pair's events of event_weight[type] * 2^(-age_days / half_life),
age_days = whole days from event_date to run_date (0 for events dated on or
after run_date). Measured to run_date, so a rerun gives the same weights.
"""
from __future__ import annotations

import datetime as dt
from typing import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from debut import io, schemas
from debut.core.dates import AsOf, as_of_col, filter_before


def _event_weight(event_weights: Mapping[str, float]):
    """CASE over event_type; a type without a weight weighs 0."""
    expr = F.lit(0.0)
    for event_type, w in sorted(event_weights.items()):
        expr = F.when(F.col("event_type") == event_type, F.lit(float(w))).otherwise(expr)
    return expr


def _decay(as_of: AsOf, half_life_days: float) -> Column:
    """2^(-age_days / half_life), age in whole days from event_date to ``as_of`` (0 on or after it)."""
    age_days = F.greatest(F.datediff(as_of_col(as_of), F.col("event_date")), F.lit(0))
    return F.pow(F.lit(2.0), -age_days / F.lit(float(half_life_days)))


def to_user_item(events: DataFrame, *, run_date: dt.date, event_weights: Mapping[str, float],
                 half_life_days: float) -> DataFrame:
    """bronze.events -> USER_ITEM, one row per user_key and item_id seen together."""
    decay = _decay(run_date, half_life_days)
    is_purchase = F.col("event_type") == "purchase"
    return (
        events
        .where(F.col("item_id").isNotNull())
        .groupBy("user_key", "item_id")
        .agg(
            F.count(F.when(F.col("event_type") == "view", F.lit(1))).alias("views"),
            F.count(F.when(F.col("event_type") == "cart", F.lit(1))).alias("carts"),
            F.count(F.when(is_purchase, F.lit(1))).alias("purchases"),
            F.coalesce(F.sum(F.when(is_purchase, F.coalesce(F.col("quantity"), F.lit(1)))), F.lit(0)).alias("units"),
            F.max("event_time").alias("last_event_time"),
            F.sum(_event_weight(event_weights) * decay).alias("weight"),
        )
        .withColumn("as_of_date", F.lit(run_date))
        .transform(lambda df: io.select_schema(df, schemas.USER_ITEM))
    )


def to_user_item_as_of(events_df: DataFrame, *, as_of: AsOf, event_weights: Mapping[str, float],
                       half_life_days: float, keys: Sequence[str] = ("user_key",)) -> DataFrame:
    """(user_key, item_id, weight) from the events before ``as_of``, decayed to ``as_of``.

    silver.user_item's own definition recomputed at an earlier date: intent
    labels and training windows need it as of their cut-off (the weight of
    ``to_user_item``, without its counts). Several cut-offs in one pass:
    ``as_of`` the column ``as_of_date`` of events from ``dates.explode_as_of``
    and ``keys`` ("user_key", "as_of_date").
    """
    return (filter_before(events_df, date_col="event_date", as_of=as_of)
            .where(F.col("item_id").isNotNull())
            .groupBy(*keys, "item_id")
            .agg(F.sum(_event_weight(event_weights) * _decay(as_of, half_life_days)).alias("weight"))
            .where(F.col("weight") > 0)
            .select(*keys, "item_id", "weight"))
