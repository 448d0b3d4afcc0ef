"""Behaviour sequences: each customer's last N item interactions before a date, as padded arrays.

Oldest first, left-padded to N (the latest interaction is always the last
element): item ids (pad null), category ids = category_index + 1, event type
ids = EVENT_TYPES index + 1 (pad SEQUENCE_PAD = 0, also for an unknown
category), log1p of the hours since the customer's previous interaction
(pad 0.0; 0.0 for a first-ever interaction). Built with window and array
functions only; a customer's rows are cut to N before they are collected.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from debut import schemas as S
from debut.core.dates import filter_before, lit_date


def _left_pad(arr: Column, n: int, pad: Column) -> Column:
    missing = F.greatest(F.lit(n) - F.size(arr), F.lit(0))
    return F.concat(F.array_repeat(pad, missing), arr)


def to_behaviour_sequences(events_df: DataFrame, item_categories_df: DataFrame, *, as_of: dt.date,
                           length: int) -> DataFrame:
    """gold.behaviour_sequences rows for every customer with an item interaction before ``as_of``."""
    ev = (filter_before(events_df, date_col="event_date", as_of=as_of)
          .where(F.col("item_id").isNotNull())
          .join(F.broadcast(item_categories_df.select("item_id", "category_index")), on="item_id", how="left"))
    newest = Window.partitionBy("user_key").orderBy(F.col("event_time").desc(), F.col("event_id").desc())
    # the next row, newest first, is the interaction before this one
    gap_h = (F.col("event_time").cast("double") - F.lead("event_time").over(newest).cast("double")) / 3600.0
    last = (ev.select("user_key", "event_time", "event_id", "item_id",
                      F.coalesce(F.col("category_index") + 1, F.lit(S.SEQUENCE_PAD)).cast("int").alias("cat"),
                      F.expr(f"array_position(array({', '.join(repr(t) for t in S.EVENT_TYPES)}), event_type)")
                      .cast("int").alias("etype"),
                      F.log1p(F.coalesce(F.greatest(gap_h, F.lit(0.0)), F.lit(0.0))).cast("float").alias("gap"),
                      F.row_number().over(newest).alias("_rn"))
            .where(F.col("_rn") <= length))
    seq = (last.groupBy("user_key")
           .agg(F.array_sort(F.collect_list(F.struct("event_time", "event_id", "item_id", "cat", "etype", "gap")))
                .alias("_s")))
    return seq.select(
        "user_key",
        _left_pad(F.transform("_s", lambda s: s["item_id"]), length, F.lit(None).cast("string")).alias("seq_item_id"),
        _left_pad(F.transform("_s", lambda s: s["cat"]), length, F.lit(S.SEQUENCE_PAD)).alias("seq_category"),
        _left_pad(F.transform("_s", lambda s: s["etype"]), length, F.lit(S.SEQUENCE_PAD)).alias("seq_event"),
        _left_pad(F.transform("_s", lambda s: s["gap"]), length, F.lit(0.0).cast("float")).alias("seq_gap"),
        F.size("_s").cast("int").alias("seq_length"),
        lit_date(as_of).alias("as_of_date"),
    ).select([F.col(f.name).cast(f.dataType).alias(f.name) for f in S.BEHAVIOUR_SEQUENCES.fields])
