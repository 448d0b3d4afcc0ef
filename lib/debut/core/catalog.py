"""Shared pieces of the feature stage: the as-of cut-off, the current catalog, the category order.

Features "as of" a date use data strictly before that date (the state at the
start of the day), so a run on run_date never sees a partial day and labels
for [cutoff, run_date) are fully observable.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

# What counts as a purchase for RFM, price sensitivity and intent labels.
CANCELLED = "cancelled"
COMPLETED = "completed"
RETURNED = "returned"


def lit_date(d: dt.date) -> Column:
    return F.lit(d.isoformat()).cast("date")


def filter_before(df: DataFrame, *, date_col: str, as_of: dt.date) -> DataFrame:
    """Rows dated strictly before ``as_of``."""
    return df.where(F.col(date_col) < lit_date(as_of))


def latest_catalog(catalog_df: DataFrame, *, run_date: dt.date) -> DataFrame:
    """The rows of the latest bronze.catalog snapshot dated on or before run_date."""
    dated = catalog_df.where(F.col("snapshot_date") <= lit_date(run_date))
    latest = dated.agg(F.max("snapshot_date").alias("_latest"))
    return (dated.join(F.broadcast(latest), on=dated["snapshot_date"] == latest["_latest"], how="inner")
            .drop("_latest"))


def to_category_index(catalog_now_df: DataFrame) -> DataFrame:
    """(category, category_index): categories of the current catalog, sorted by name, 0-based.

    A small frame (one row per category); the single-partition window is deliberate.
    """
    w = Window.orderBy("category").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (catalog_now_df.select("category").where(F.col("category").isNotNull()).distinct()
            .select("category", (F.row_number().over(w) - 1).cast("int").alias("category_index")))


def with_n_categories(df: DataFrame, category_index_df: DataFrame) -> DataFrame:
    """Adds ``_n_categories`` (a broadcast one-row cross join): array lengths without a collect."""
    n = category_index_df.agg(F.count(F.lit(1)).cast("int").alias("_n_categories"))
    return df.crossJoin(F.broadcast(n))


def to_item_categories(catalog_df: DataFrame, category_index_df: DataFrame, *, run_date: dt.date) -> DataFrame:
    """(item_id, category, category_index) for every item of any snapshot up to run_date.

    Interactions with items that have since left the catalog still count; an
    item takes the category of its latest snapshot.
    """
    items = (catalog_df.where(F.col("snapshot_date") <= lit_date(run_date))
             .groupBy("item_id")
             .agg(F.max_by("category", "snapshot_date").alias("category")))
    return (items.join(F.broadcast(category_index_df), on="category", how="left")
            .select("item_id", "category", "category_index"))


def to_category_medians(catalog_now_df: DataFrame) -> DataFrame:
    """(category, median_price) of the current catalog: the reference for relative prices."""
    return (catalog_now_df.groupBy("category")
            .agg(F.median("price").alias("median_price"))
            .select("category", "median_price"))


def dense_vector(pairs: Column, n: Column, dtype: str = "float") -> Column:
    """A fixed-length array from an array of (index, value) structs: missing indices are 0.

    ``n`` is the length (a column); indices outside [0, n) are ignored.
    """
    m = F.map_from_entries(F.filter(pairs, lambda p: p["idx"].isNotNull()))
    vec = F.transform(F.sequence(F.lit(0), n - 1), lambda i: F.coalesce(m[i], F.lit(0.0)).cast(dtype))
    # sequence(0, -1) counts down: an empty category list must give an empty array
    return F.when(n > 0, vec).otherwise(F.array().cast(f"array<{dtype}>"))


def days_between(later: Column, earlier: Column) -> Column:
    return F.datediff(later, earlier).cast("int")
