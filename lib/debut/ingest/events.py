"""Event logs (JSON lines) -> validated rows with a quarantine reason per bad row."""
from __future__ import annotations

import datetime as dt
from typing import Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from debut import schemas
from debut.config import IngestConf
from debut.ingest import common as c

_PARSE_SCHEMA = T.StructType(schemas.RAW_EVENT.fields + [T.StructField("_corrupt", T.StringType())])
_PARSE_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": "_corrupt"}


def read_lines(spark: SparkSession, paths: Sequence[str]) -> DataFrame:
    """One row per non-blank line: source_file, _raw (invalid UTF-8 shows as U+FFFD)."""
    return (spark.read.text(list(paths))
            .select(c.source_file_col(spark, paths).alias("source_file"), F.col("value").alias("_raw"))
            .where(F.trim(F.col("_raw")) != ""))


def validate_events(lines: DataFrame, run_date: dt.date, ic: IngestConf) -> DataFrame:
    """Parse JSON lines and apply the rules; good rows have a null _reason."""
    earliest, latest = c.time_window(run_date, ic.history_days, ic.max_future_minutes)
    too_big = F.length("_raw") > c.MAX_RECORD_CHARS
    parsed = (lines
              .withColumn("_j", F.when(~too_big, F.from_json("_raw", _PARSE_SCHEMA, _PARSE_OPTIONS)))
              .select("source_file", "_raw", "_j.*")
              .withColumn("event_id", F.trim("event_id"))
              .withColumn("event_type", F.lower(F.trim("event_type")))
              .withColumn("channel", F.lower(F.trim("channel")))
              .withColumn("_time", c.parse_time("event_time"))
              .withColumn("_price", c.parse_double("price"))
              .withColumn("_qty", c.parse_int("quantity")))
    is_item_event = F.col("event_type").isin("view", "cart", "purchase")
    needs_qty = F.col("event_type").isin("cart", "purchase")
    rules = [
        c.Rule(c.INVALID_ENCODING, c.has_bad_encoding(["_raw"]), F.lit("invalid UTF-8 bytes")),
        c.Rule(c.RECORD_TOO_LARGE, too_big, F.concat(F.lit("chars="), F.length("_raw").cast("string"))),
        c.Rule(c.MALFORMED, F.col("_corrupt").isNotNull() | ~F.trim("_raw").startswith("{"),
               F.lit("not a JSON object")),
        c.missing("event_id"), c.missing("event_time"), c.missing("event_type"), c.missing("user_id"),
        c.bad_cast("event_time", F.col("_time")),
        c.Rule(c.UNKNOWN_EVENT_TYPE, ~F.col("event_type").isin(*schemas.EVENT_TYPES), F.col("event_type")),
        c.Rule(c.MISSING_FIELD, is_item_event & (F.col("item_id").isNull() | (F.trim("item_id") == "")),
               F.lit("item_id")),
        c.bad_cast("price", F.col("_price")),
        c.bad_cast("quantity", F.col("_qty")),
        c.Rule(c.MISSING_FIELD, needs_qty & F.col("_qty").isNull(), F.lit("quantity")),
        c.Rule(c.BAD_QUANTITY, F.col("_qty").isNotNull() & ((F.col("_qty") < 1) | (F.col("_qty") > ic.max_quantity)),
               F.concat(F.lit("quantity="), F.col("_qty").cast("string"))),
        c.Rule(c.MISSING_FIELD, (F.col("event_type") == "purchase") & F.col("_price").isNull(), F.lit("price")),
        c.Rule(c.BAD_PRICE, F.col("_price").isNotNull() & ((F.col("_price") < 0) | (F.col("_price") > ic.max_price)),
               F.concat(F.lit("price="), F.col("_price").cast("string"))),
        c.Rule(c.UNKNOWN_VALUE, F.col("channel").isNotNull() & ~F.col("channel").isin(*schemas.CHANNELS),
               F.concat(F.lit("channel="), F.col("channel"))),
        c.Rule(c.FUTURE_TIME, F.col("_time") > F.lit(latest), F.col("event_time")),
        c.Rule(c.TOO_OLD, F.col("_time") < F.lit(earliest), F.col("event_time")),
    ]
    return c.with_reason(parsed, rules)


def to_bronze_events(good: DataFrame, key: bytes, run_date: dt.date) -> DataFrame:
    """Typed, pseudonymised, one row per event_id (first by time, then file)."""
    first = Window.partitionBy("event_id").orderBy("_time", "source_file", "_rawh")
    return (good
            .withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1)
            .transform(lambda df: c.with_user_key(df, key))
            .select("event_id",
                    F.col("_time").alias("event_time"),
                    F.to_date("_time").alias("event_date"),
                    "event_type", "user_key",
                    F.col("session_id"),
                    F.when(F.trim("item_id") != "", F.trim("item_id")).alias("item_id"),
                    F.col("_price").alias("price"),
                    F.coalesce(F.col("_qty"), F.when(F.col("event_type") == "view", F.lit(1))).alias("quantity"),
                    F.col("query"), F.col("channel"), F.col("source_file"),
                    F.lit(run_date).cast("date").alias("ingest_run_date"))
            .transform(lambda df: c.typed(df, schemas.EVENTS)))
