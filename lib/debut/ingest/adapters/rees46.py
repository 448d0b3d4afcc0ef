"""REES46 e-commerce behaviour export (CSV) -> bronze.events + derived bronze.catalog.

Columns: event_time, event_type, product_id, category_id, category_code, brand,
price, user_id, user_session; times like "2019-10-01 00:00:00 UTC".
The export has no event id: event_id is the sha2 of the normalised row (with
the user_key in place of the user id), so exact duplicate rows count as
duplicates. ``remove_from_cart`` is a REES46 type debut does not model.
"""
from __future__ import annotations

import datetime as dt
from typing import List, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from debut import schemas
from debut.config import Config, IngestConf
from debut.ingest import common as c
from debut.ingest.adapters import base as b

NAME = "rees46"
FIELDS = ("event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price",
          "user_id", "user_session")
MODELLED = ("view", "cart", "purchase")
UNSUPPORTED = ("remove_from_cart",)
_ALIASES = {f.replace("_", ""): f for f in FIELDS}


def read(spark: SparkSession, files: Sequence[c.LandingFile]) -> DataFrame:
    groups = b.read_csv_files(spark, files, lambda path, header: b.map_header(NAME, path, header, _ALIASES, FIELDS))
    return b.union_all([df.select("source_file", "_rid", "_raw", "_corrupt", *FIELDS) for _, df in groups]
                       or [b.empty_rows(spark, FIELDS)])


def validate(rows: DataFrame, run_date: dt.date, ic: IngestConf, key: bytes) -> DataFrame:
    """Rules in order, first failure wins; adds user_key, and the raw user id leaves
    the frame (and ``_raw``) once the rules have seen it."""
    earliest, latest = c.time_window(run_date, ic.history_days, ic.max_future_minutes)
    df = (rows
          .withColumn("event_type", F.lower(F.trim("event_type")))
          .withColumn("_time", b.iso_timestamp(F.col("event_time")))
          .withColumn("_price", b.to_double(F.col("price")))
          .withColumn("_uid", b.nonblank(F.col("user_id")))
          .transform(lambda d: c.with_user_key(d, key, src="_uid")))
    rules = [
        c.Rule(c.INVALID_ENCODING, c.has_bad_encoding(["_raw"]), F.lit("invalid UTF-8 bytes")),
        c.Rule(c.RECORD_TOO_LARGE, F.length("_raw") > c.MAX_RECORD_CHARS,
               F.concat(F.lit("chars="), F.length("_raw").cast("string"))),
        c.Rule(c.MALFORMED, F.col("_corrupt").isNotNull(), F.lit(f"expected {len(FIELDS)} fields")),
        c.missing("event_time"), c.missing("event_type"), c.missing("product_id"),
        c.Rule(c.MISSING_FIELD, F.col("user_key").isNull(), F.lit("user_id")),
        c.bad_cast("event_time", F.col("_time")),
        c.Rule(b.UNSUPPORTED_EVENT_TYPE, F.col("event_type").isin(*UNSUPPORTED), F.col("event_type")),
        c.Rule(c.UNKNOWN_EVENT_TYPE, ~F.col("event_type").isin(*MODELLED), F.col("event_type")),
        c.bad_cast("price", F.col("_price")),
        c.Rule(c.MISSING_FIELD, (F.col("event_type") == "purchase") & F.col("_price").isNull(), F.lit("price")),
        c.Rule(c.BAD_PRICE, (F.col("_price") < 0) | (F.col("_price") > ic.max_price),
               F.concat(F.lit("price="), F.col("_price").cast("string"))),
        c.Rule(c.FUTURE_TIME, F.col("_time") > F.lit(latest), F.col("event_time")),
        c.Rule(c.TOO_OLD, F.col("_time") < F.lit(earliest), F.col("event_time")),
    ]
    reason, detail = c.first_failure(rules)
    return (df.withColumn("_reason", reason).withColumn("_detail", detail)
            .transform(lambda d: b.without_raw_id(d, "user_id")))


def _event_id() -> F.Column:
    parts = [F.date_format("_time", "yyyy-MM-dd HH:mm:ss"), F.col("event_type"), F.trim("product_id"),
             F.trim("category_id"), F.trim("category_code"), F.trim("brand"), F.col("_price").cast("string"),
             F.col("user_key"), F.trim("user_session")]
    return F.sha2(F.concat_ws("\u0001", *[F.coalesce(p, F.lit("")) for p in parts]), 256)


def to_events(good: DataFrame, run_date: dt.date) -> DataFrame:
    """One row per event_id, the first copy in file order; keeps source_file and _rid."""
    first = Window.partitionBy("event_id").orderBy("source_file", "_rid")
    return (good.withColumn("event_id", _event_id())
            .withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1)
            .select("event_id",
                    F.col("_time").alias("event_time"), F.to_date("_time").alias("event_date"),
                    "event_type", "user_key",
                    b.nonblank(F.col("user_session")).alias("session_id"),
                    F.trim("product_id").alias("item_id"),
                    F.col("_price").alias("price"), F.lit(1).alias("quantity"),
                    F.lit(None).cast("string").alias("query"), F.lit(None).cast("string").alias("channel"),
                    "source_file", b.run_date_col(run_date).alias("ingest_run_date"), "_rid"))


def to_catalog_items(good: DataFrame) -> DataFrame:
    """Per product: category, brand and price of its latest event with a positive
    price (products never seen with one get no catalog row).

    category_code "appliances.kitchen.refrigerators" gives category "appliances",
    subcategory "kitchen"; an empty code gives "cat_<category_id>" (the export's
    numeric id), and neither leaves the category to debut.ingest.categories.
    An empty brand is null."""
    item = F.trim("product_id")
    latest = Window.partitionBy("item_id").orderBy(F.col("_time").desc(), F.col("source_file").desc(),
                                                   F.col("_rid").desc())
    levels = F.split(F.lower(b.nonblank(F.col("category_code"))), r"\.")
    level = lambda i: F.when(F.size(levels) > i, b.nonblank(F.element_at(levels, i + 1)))  # noqa: E731
    category = F.coalesce(level(0), F.concat(F.lit("cat_"), b.nonblank(F.col("category_id"))))
    return (good.where(F.col("_price") > 0).withColumn("item_id", item)
            .withColumn("_n", F.row_number().over(latest)).where(F.col("_n") == 1)
            .select("item_id", category.alias("category"), level(1).alias("subcategory"),
                    b.nonblank(F.col("brand")).alias("brand"), F.lit(None).cast("string").alias("title"),
                    F.col("_price").alias("price"), "source_file"))


def plan(spark: SparkSession, conf: Config, good: DataFrame, run_date: dt.date) -> List[b.Write]:
    events = to_events(good, run_date)
    return [
        b.Write("bronze.events", b.changed_rows(spark, conf, "bronze.events", events), schemas.EVENTS,
                counted=True),
        b.catalog_write(spark, conf, to_catalog_items(good), run_date),
    ]


ADAPTER = b.Adapter(NAME, (".csv", ".csv.gz"), read, validate, plan)
