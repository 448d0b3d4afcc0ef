"""Sessions by inactivity gap: a user's next event more than ``gap_minutes`` after
the previous one starts a new session. The log's own session_id is not trusted
for the boundary (apps and web disagree on it); it is only counted."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from debut import io, schemas

_MICROS_PER_MINUTE = 60 * 1_000_000


def with_session_seq(events: DataFrame, *, gap_minutes: int) -> DataFrame:
    """Add ``session_seq``: 1, 2, ... per user_key; a gap of exactly ``gap_minutes``
    stays in the session, anything longer starts the next."""
    by_time = Window.partitionBy("user_key").orderBy("event_time", "event_id")
    running = by_time.rowsBetween(Window.unboundedPreceding, Window.currentRow)
    prev = F.lag("event_time").over(by_time)  # offset function: no frame
    gap = F.unix_micros(F.col("event_time")) - F.unix_micros(prev)
    is_start = prev.isNull() | (gap > F.lit(gap_minutes * _MICROS_PER_MINUTE))
    return (
        events
        .withColumn("_is_start", is_start.cast("long"))
        .withColumn("session_seq", F.sum("_is_start").over(running))
        .drop("_is_start")
    )


def _count_type(event_type: str):
    return F.count(F.when(F.col("event_type") == event_type, F.lit(1)))


def to_sessions(events: DataFrame, *, gap_minutes: int, run_date: dt.date) -> DataFrame:
    """bronze.events -> one row per session (SESSIONS)."""
    # min of a struct led by (event_time, event_id): the first event, deterministic and null-safe
    first = F.min(F.struct("event_time", "event_id", "event_date", "channel"))
    return (
        events
        .transform(with_session_seq, gap_minutes=gap_minutes)
        .groupBy("user_key", "session_seq")
        .agg(
            first.alias("_first"),
            F.max("event_time").alias("end_time"),
            F.count(F.lit(1)).alias("n_events"),
            _count_type("view").alias("n_views"),
            _count_type("cart").alias("n_carts"),
            _count_type("purchase").alias("n_purchases"),
            _count_type("search").alias("n_searches"),
            F.countDistinct("session_id").alias("n_log_sessions"),
        )
        .withColumn("start_time", F.col("_first.event_time"))
        .withColumn("session_key", F.sha2(F.concat_ws("|", F.col("user_key"),
                                                      F.unix_micros("start_time").cast("string")), 256))
        .withColumn("session_date", F.col("_first.event_date"))
        .withColumn("channel", F.col("_first.channel"))
        .withColumn("duration_s", F.floor((F.unix_micros("end_time") - F.unix_micros("start_time")) / 1_000_000))
        .withColumn("has_purchase", F.col("n_purchases") > 0)
        .withColumn("agg_run_date", F.lit(run_date))
        .transform(lambda df: io.select_schema(df, schemas.SESSIONS))
    )
