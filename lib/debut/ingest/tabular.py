"""CSV exports (orders, catalog, candidates) -> validated rows, quarantine reasons."""
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


def read_csv(spark: SparkSession, paths: Sequence[str], fields: Sequence[str]) -> DataFrame:
    """Rows of CSV files with a header, every field as a string.

    A row whose field count differs from the header's is kept whole in _raw and
    flagged malformed; good rows get _raw rebuilt from their fields.
    """
    schema = T.StructType([T.StructField(f, T.StringType()) for f in fields]
                          + [T.StructField("_corrupt", T.StringType())])
    df = (spark.read.schema(schema)
          .option("header", True).option("mode", "PERMISSIVE")
          .option("columnNameOfCorruptRecord", "_corrupt")
          .option("multiLine", False).option("encoding", "UTF-8")
          .option("escape", '"')  # RFC 4180: a quote inside a quoted field is doubled
          .csv(list(paths)))
    raw = F.coalesce(F.col("_corrupt"), F.concat_ws(",", *[F.coalesce(F.col(f), F.lit("")) for f in fields]))
    return df.select(c.source_file_col(spark, paths).alias("source_file"), raw.alias("_raw"),
                     F.col("_corrupt"), *fields)


def _base_rules(fields: Sequence[str]):
    return [
        c.Rule(c.INVALID_ENCODING, c.has_bad_encoding(["_raw"]), F.lit("invalid UTF-8 bytes")),
        c.Rule(c.RECORD_TOO_LARGE, F.length("_raw") > c.MAX_RECORD_CHARS,
               F.concat(F.lit("chars="), F.length("_raw").cast("string"))),
        c.Rule(c.MALFORMED, F.col("_corrupt").isNotNull(), F.lit(f"expected {len(fields)} fields")),
    ]


def _with_reason(df: DataFrame, rules) -> DataFrame:
    return c.with_reason(df, rules)


def _file_date(col: str = "source_file") -> F.Column:
    return F.to_date(F.regexp_extract(F.col(col), r"(\d{4}-\d{2}-\d{2})[^/]*$", 1))


# ------------------------------------------------------------------ orders
def validate_orders(rows: DataFrame, run_date: dt.date, ic: IngestConf) -> DataFrame:
    earliest, latest = c.time_window(run_date, ic.history_days, ic.max_future_minutes)
    df = (rows
          .withColumn("status", F.lower(F.trim("status")))
          .withColumn("channel", F.lower(F.trim("channel")))
          .withColumn("_line", c.parse_int("line_no"))
          .withColumn("_time", c.parse_time("order_time"))
          .withColumn("_stime", c.parse_time("status_time"))
          .withColumn("_qty", c.parse_int("quantity"))
          .withColumn("_price", c.parse_double("unit_price")))
    rules = _base_rules(schemas.ORDER_FIELDS) + [
        c.missing("order_id"), c.missing("line_no"), c.missing("order_time"), c.missing("item_id"),
        c.missing("quantity"), c.missing("unit_price"), c.missing("status"),
        c.bad_cast("line_no", F.col("_line")), c.bad_cast("order_time", F.col("_time")),
        c.bad_cast("status_time", F.col("_stime")), c.bad_cast("quantity", F.col("_qty")),
        c.bad_cast("unit_price", F.col("_price")),
        c.Rule(c.UNKNOWN_VALUE, ~F.col("status").isin(*schemas.ORDER_STATUSES), F.concat(F.lit("status="), F.col("status"))),
        c.Rule(c.UNKNOWN_VALUE, F.col("channel").isNotNull() & ~F.col("channel").isin(*schemas.CHANNELS),
               F.concat(F.lit("channel="), F.col("channel"))),
        c.Rule(c.BAD_QUANTITY, (F.col("_qty") < 1) | (F.col("_qty") > ic.max_quantity),
               F.concat(F.lit("quantity="), F.col("_qty").cast("string"))),
        c.Rule(c.BAD_PRICE, (F.col("_price") < 0) | (F.col("_price") > ic.max_price),
               F.concat(F.lit("unit_price="), F.col("_price").cast("string"))),
        c.Rule(c.FUTURE_TIME, F.col("_time") > F.lit(latest), F.col("order_time")),
        c.Rule(c.TOO_OLD, F.col("_time") < F.lit(earliest), F.col("order_time")),
    ]
    return _with_reason(df, rules)


def to_bronze_orders(good: DataFrame, key: bytes, run_date: dt.date) -> DataFrame:
    """One row per order line: its latest status (by status_time, then file)."""
    latest = Window.partitionBy("order_id", "_line").orderBy(
        F.col("_stime").desc_nulls_last(), F.col("source_file").desc(), F.col("_rawh"))
    return (good.withColumn("order_id", F.trim("order_id"))
            .withColumn("_n", F.row_number().over(latest)).where(F.col("_n") == 1)
            .transform(lambda df: c.with_user_key(df, key))
            .select("order_id", F.col("_line").alias("line_no"), F.col("_time").alias("order_time"),
                    F.to_date("_time").alias("order_date"), "user_key", F.trim("item_id").alias("item_id"),
                    F.col("_qty").alias("quantity"), F.col("_price").alias("unit_price"), "channel", "status",
                    F.col("_stime").alias("status_time"), "source_file",
                    F.lit(run_date).cast("date").alias("ingest_run_date"), F.lit(None).alias("seller_id"))
            .transform(lambda df: c.typed(df, schemas.ORDERS)))


# An order line is updated only when its status moved on; a re-read is a duplicate.
ORDER_UPDATE_CONDITION = ("s.status <> t.status AND "
                          "coalesce(s.status_time, s.order_time) >= coalesce(t.status_time, t.order_time)")


# ------------------------------------------------------------------ catalog and candidates
def _product_rules(fields, id_col: str, ic: IngestConf, cost_required: bool):
    return _base_rules(fields) + [
        c.missing(id_col), c.missing("category"), c.missing("price"),
        c.bad_cast("price", F.col("_price")), c.bad_cast("unit_cost", F.col("_cost")),
        c.Rule(c.MISSING_FIELD, F.lit(cost_required) & F.col("_cost").isNull(), F.lit("unit_cost")),
        c.Rule(c.BAD_PRICE, (F.col("_price") <= 0) | (F.col("_price") > ic.max_price),
               F.concat(F.lit("price="), F.col("_price").cast("string"))),
        c.Rule(c.BAD_PRICE, F.col("_cost").isNotNull() & ((F.col("_cost") < 0) | (F.col("_cost") > ic.max_price)),
               F.concat(F.lit("unit_cost="), F.col("_cost").cast("string"))),
        c.Rule(c.MISSING_FIELD, F.col("_file_date").isNull(), F.lit("date in file name")),
    ]


def validate_catalog(rows: DataFrame, run_date: dt.date, ic: IngestConf) -> DataFrame:
    df = (rows.withColumn("_price", c.parse_double("price")).withColumn("_cost", c.parse_double("unit_cost"))
          .withColumn("_launch", F.to_date(F.trim("launch_date")))
          .withColumn("status", F.lower(F.trim("status")))
          .withColumn("_file_date", _file_date()))
    rules = _product_rules(schemas.CATALOG_FIELDS, "item_id", ic, cost_required=False) + [
        c.bad_cast("launch_date", F.col("_launch")),
        c.Rule(c.UNKNOWN_VALUE, F.col("status").isNotNull() & ~F.col("status").isin("active", "delisted"),
               F.concat(F.lit("status="), F.col("status"))),
    ]
    return _with_reason(df, rules)


def to_bronze_catalog(good: DataFrame, key: bytes, run_date: dt.date) -> DataFrame:
    one = Window.partitionBy("item_id", "_file_date").orderBy("source_file", "_rawh")
    return (good.withColumn("item_id", F.trim("item_id"))
            .withColumn("_n", F.row_number().over(one)).where(F.col("_n") == 1)
            .withColumn("price", F.col("_price")).withColumn("unit_cost", F.col("_cost"))
            .withColumn("launch_date", F.col("_launch")).withColumn("snapshot_date", F.col("_file_date"))
            .withColumn("ingest_run_date", F.lit(run_date).cast("date"))
            .withColumn("category_source", F.lit("given"))      # the feed requires a category
            .withColumn("attributes", F.lit(None))
            .transform(lambda df: c.typed(df, schemas.CATALOG)))


def validate_candidates(rows: DataFrame, run_date: dt.date, ic: IngestConf) -> DataFrame:
    df = (rows.withColumn("_price", c.parse_double("price")).withColumn("_cost", c.parse_double("unit_cost"))
          .withColumn("_moq", c.parse_int("min_order_qty"))
          .withColumn("_file_date", _file_date()))
    rules = _product_rules(schemas.CANDIDATE_FIELDS, "candidate_id", ic, cost_required=True) + [
        c.bad_cast("min_order_qty", F.col("_moq")),
        c.Rule(c.BAD_QUANTITY, F.col("_moq") < 0, F.concat(F.lit("min_order_qty="), F.col("_moq").cast("string"))),
    ]
    return _with_reason(df, rules)


def to_bronze_candidates(good: DataFrame, key: bytes, run_date: dt.date) -> DataFrame:
    one = Window.partitionBy("candidate_id", "_file_date").orderBy("source_file", "_rawh")
    return (good.withColumn("candidate_id", F.trim("candidate_id"))
            .withColumn("_n", F.row_number().over(one)).where(F.col("_n") == 1)
            .withColumn("price", F.col("_price")).withColumn("unit_cost", F.col("_cost"))
            .withColumn("min_order_qty", F.col("_moq")).withColumn("plan_date", F.col("_file_date"))
            .withColumn("ingest_run_date", F.lit(run_date).cast("date"))
            .transform(lambda df: c.typed(df, schemas.CANDIDATES)))
