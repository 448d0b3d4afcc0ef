"""A plain launch-history table (CSV or Parquet) -> bronze.launch_history_input.

One product per past launch with its attributes, release date and units sold
in each of its first weeks. Columns (names case-insensitive):
item_id, category, price, launch_date (required); subcategory, brand, title,
colour, material, style, unit_cost (optional); and the weeks either wide
(``week_1 ... week_N``, one record per product) or long (``week``, ``units``,
one record per product and week, attributes repeated). Units are non-negative
integers; an empty week is not observed (no row), not zero.

A product is loaded whole or not at all: when any record of a product is
quarantined, its other records are too (``product_rejected``); records of one
product that disagree on attributes or on a week's units are all quarantined
(``inconsistent_product``). A re-delivered (item_id, week) with other content
replaces the stored row.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Dict, List, Sequence, Tuple

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from debut import schemas
from debut.config import Config, ConfigError, IngestConf
from debut.ingest import common as c
from debut.ingest.adapters import base as b

NAME = "launch_history"
ATTRS = ("item_id", "category", "subcategory", "brand", "title", "colour", "material", "style", "price",
         "unit_cost", "launch_date")
REQUIRED = ("item_id", "category", "price", "launch_date")
_WEEK_COL = re.compile(r"^week_(\d+)$")

LAUNCH_HISTORY_INPUT = schemas.LAUNCH_HISTORY_INPUT
CONTENT = tuple(f.name for f in LAUNCH_HISTORY_INPUT.fields if f.name not in
                ("item_id", "week", "source_file", "ingest_run_date"))


# ------------------------------------------------------------------ reading
def _fields(path: str, header: Sequence[str]) -> List[str]:
    """Canonical column names; ConfigError when the header is not a launch history."""
    names = [b.norm_name(h) for h in header]
    known = set(ATTRS) | {"week", "units"}
    unknown = [h for h, n in zip(header, names) if n not in known and not _WEEK_COL.match(n)]
    weeks = [int(_WEEK_COL.match(n).group(1)) for n in names if _WEEK_COL.match(n)]
    is_long = "week" in names or "units" in names
    problem = None
    if unknown:
        problem = f"unexpected column(s) {', '.join(map(repr, unknown))}"
    elif len(set(names)) != len(names):
        problem = "repeated column names"
    elif [r for r in REQUIRED if r not in names]:
        problem = f"missing {', '.join(r for r in REQUIRED if r not in names)}"
    elif is_long and weeks:
        problem = "both long (week, units) and wide (week_N) columns"
    elif is_long and not {"week", "units"} <= set(names):
        problem = "long form needs both week and units"
    elif not is_long and not weeks:
        problem = "no week columns (week_1 ... week_N, or week and units)"
    elif weeks and min(weeks) < 1:
        problem = "week columns start at week_1"
    if problem:
        raise ConfigError(f"{NAME}: {path}: {problem} (columns: {', '.join(ATTRS)}, then week_1..week_N "
                          f"or week, units; required: {', '.join(REQUIRED)})")
    return names


def _shape(df: DataFrame, fields: Sequence[str]) -> DataFrame:
    """One frame layout for either form: attributes plus ``_weeks`` (week, units) text pairs."""
    if "week" in fields:
        form, weeks = "long", F.array(F.struct(F.col("week").alias("week"), F.col("units").alias("units")))
    else:
        ks = sorted(int(_WEEK_COL.match(f).group(1)) for f in fields if _WEEK_COL.match(f))
        form = "wide"
        weeks = F.array(*[F.struct(F.lit(str(k)).alias("week"), F.col(f"week_{k}").alias("units")) for k in ks])
    attrs = [F.col(a) if a in fields else F.lit(None).cast("string").alias(a) for a in ATTRS]
    return df.select("source_file", "_rid", "_raw", "_corrupt", F.lit(form).alias("_form"), *attrs,
                     weeks.alias("_weeks"))


def _read_parquet(spark: SparkSession, paths: Sequence[str]) -> Tuple[Tuple[str, ...], DataFrame]:
    """Parquet files of one schema, every column as a string (NaN read as empty)."""
    df = spark.read.parquet(*paths)
    names = _fields(paths[0], df.columns)
    vals = []
    for f in df.schema.fields:
        col = F.col(f"`{f.name}`")
        if isinstance(f.dataType, (T.DoubleType, T.FloatType)):
            col = F.when(~F.isnan(col), col)
        vals.append(col.cast("string"))
    raw = F.to_json(F.struct(*[v.alias(f.name) for v, f in zip(vals, df.schema.fields)]))
    return tuple(names), df.select(b.source_file_col(spark, paths).alias("source_file"),
                                   F.monotonically_increasing_id().alias("_rid"), raw.alias("_raw"),
                                   F.lit(None).cast("string").alias("_corrupt"),
                                   *[v.alias(n) for v, n in zip(vals, names)])


def read(spark: SparkSession, files: Sequence[c.LandingFile]) -> DataFrame:
    csvs = [f for f in files if not f.path.endswith(".parquet")]
    groups = b.read_csv_files(spark, csvs, _fields) if csvs else []
    by_schema: Dict[str, List[str]] = {}
    for f in files:
        if f.path.endswith(".parquet"):
            by_schema.setdefault(spark.read.parquet(f.path).schema.json(), []).append(f.path)
    groups += [_read_parquet(spark, paths) for paths in by_schema.values()]
    frames = [_shape(df, fields) for fields, df in groups]
    if not frames:
        empty = b.empty_rows(spark, ATTRS).withColumn("week", F.lit(None).cast("string"))
        frames = [_shape(empty.withColumn("units", F.lit(None).cast("string")), list(ATTRS) + ["week", "units"])]
    return b.union_all(frames)


# ------------------------------------------------------------------ validation
def _first(pred) -> Column:
    """The first (week, units) pair matching ``pred``, null when none does."""
    return F.element_at(F.filter("_wk", pred), 1)


def _units_detail(pair: Column) -> Column:
    return F.when(F.col("_form") == "wide", F.concat(F.lit("week_"), pair["week"], F.lit("="), pair["units"])
                  ).otherwise(F.concat(F.lit("units="), pair["units"]))


def validate(rows: DataFrame, run_date: dt.date, ic: IngestConf, key: bytes) -> DataFrame:
    """Record rules (first failure wins), then product rules across the import."""
    df = (rows
          .withColumn("_item", b.nonblank(F.col("item_id")))
          .withColumn("_price", b.to_double(F.col("price")))
          .withColumn("_cost", b.to_double(F.col("unit_cost")))
          .withColumn("_launch", b.iso_date(F.col("launch_date")))
          .withColumn("_wk", F.transform("_weeks", lambda w: F.struct(
              w["week"].alias("week"), w["units"].alias("units"),
              b.to_int(w["week"]).alias("w"), b.to_int(w["units"]).alias("u")))))
    blank_week = _first(lambda w: b.blank(w["week"]))
    week_type = _first(lambda w: ~b.blank(w["week"]) & w["w"].isNull())
    week_low = _first(lambda w: w["w"] < 1)
    units_type = _first(lambda w: ~b.blank(w["units"]) & w["u"].isNull())
    units_neg = _first(lambda w: w["u"] < 0)
    observed = F.size(F.filter("_wk", lambda w: w["u"].isNotNull()))
    rules = [
        c.Rule(c.INVALID_ENCODING, c.has_bad_encoding(["_raw"]), F.lit("invalid UTF-8 bytes")),
        c.Rule(c.RECORD_TOO_LARGE, F.length("_raw") > c.MAX_RECORD_CHARS,
               F.concat(F.lit("chars="), F.length("_raw").cast("string"))),
        c.Rule(c.MALFORMED, F.col("_corrupt").isNotNull(), F.lit("field count differs from the header")),
        *[c.missing(r) for r in REQUIRED],
        c.Rule(c.MISSING_FIELD, blank_week.isNotNull(), F.lit("week")),
        c.bad_cast("price", F.col("_price")), c.bad_cast("unit_cost", F.col("_cost")),
        c.bad_cast("launch_date", F.col("_launch")),
        c.Rule(c.BAD_TYPE, week_type.isNotNull(), F.concat(F.lit("week="), week_type["week"])),
        c.Rule(b.BAD_WEEK, week_low.isNotNull(), F.concat(F.lit("week="), week_low["week"])),
        c.Rule(c.BAD_TYPE, units_type.isNotNull(), _units_detail(units_type)),
        c.Rule(c.BAD_QUANTITY, units_neg.isNotNull(), _units_detail(units_neg)),
        c.Rule(c.MISSING_FIELD, observed == 0, F.lit("units")),
        c.Rule(c.BAD_PRICE, (F.col("_price") <= 0) | (F.col("_price") > ic.max_price),
               F.concat(F.lit("price="), F.col("_price").cast("string"))),
        c.Rule(c.BAD_PRICE, (F.col("_cost") < 0) | (F.col("_cost") > ic.max_price),
               F.concat(F.lit("unit_cost="), F.col("_cost").cast("string"))),
        c.Rule(c.FUTURE_TIME, F.col("_launch") > b.run_date_col(run_date),
               F.concat(F.lit("launch_date="), F.trim("launch_date"))),
    ]
    reason, detail = c.first_failure(rules)
    return df.withColumn("_reason", reason).withColumn("_detail", detail).transform(_product_rules)


def _attributes() -> Column:
    return F.struct(*[b.nonblank(F.col(a)) for a in ATTRS[1:8]], F.col("_price"), F.col("_cost"), F.col("_launch"))


def _product_rules(df: DataFrame) -> DataFrame:
    """A product's records stand or fall together."""
    good = F.col("_reason").isNull()
    product = Window.partitionBy("_item")
    conflicts = (df.where(good)
                 .select("_item", F.explode(F.filter("_wk", lambda w: w["u"].isNotNull())).alias("p"))
                 .groupBy("_item", F.col("p.w").alias("week")).agg(F.countDistinct("p.u").alias("_n"))
                 .where(F.col("_n") > 1).select("_item").distinct()
                 .withColumn("_units_conflict", F.lit(True)))
    df = (df.withColumn("_item_reasons", F.array_sort(F.collect_set("_reason").over(product)))
          .withColumn("_versions", F.size(F.collect_set(F.when(good, _attributes())).over(product)))
          .join(conflicts, on="_item", how="left"))
    rejected = good & (F.size("_item_reasons") > 0)
    attrs_differ = good & (F.col("_versions") > 1)
    units_differ = good & F.col("_units_conflict").isNotNull()
    reason = (F.when(rejected, F.lit(b.PRODUCT_REJECTED))
              .when(attrs_differ | units_differ, F.lit(b.INCONSISTENT_PRODUCT)))
    detail = (F.when(rejected, F.concat(F.lit("another record of the product: "),
                                        F.array_join("_item_reasons", ",")))
              .when(attrs_differ, F.lit("attributes differ between records"))
              .when(units_differ, F.lit("units differ for a week")))
    return (df.withColumn("_detail", F.when(good, detail).otherwise(F.col("_detail")))
            .withColumn("_reason", F.coalesce(F.col("_reason"), reason))
            .drop("_item_reasons", "_versions", "_units_conflict"))


# ------------------------------------------------------------------ output
def to_rows(good: DataFrame, run_date: dt.date) -> DataFrame:
    """One row per (item_id, week) observed, the first copy in file order; keeps source_file and _rid."""
    first = Window.partitionBy("item_id", "week").orderBy("source_file", "_rid")
    return (good.select("*", F.explode(F.filter("_wk", lambda w: w["u"].isNotNull())).alias("_p"))
            .select(F.col("_item").alias("item_id"), *[b.nonblank(F.col(a)).alias(a) for a in ATTRS[1:8]],
                    F.col("_price").alias("price"), F.col("_cost").alias("unit_cost"),
                    F.col("_launch").alias("launch_date"), F.col("_p.w").alias("week"), F.col("_p.u").alias("units"),
                    "source_file", b.run_date_col(run_date).alias("ingest_run_date"), "_rid")
            .withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1).drop("_n"))


def plan(spark: SparkSession, conf: Config, good: DataFrame, run_date: dt.date) -> List[b.Write]:
    rows = to_rows(good, run_date)
    return [b.Write("bronze.launch_history_input",
                    b.changed_rows(spark, conf, "bronze.launch_history_input", rows, CONTENT),
                    LAUNCH_HISTORY_INPUT, update=True, counted=True)]


ADAPTER = b.Adapter(NAME, (".csv", ".parquet"), read, validate, plan)
