"""The catalog as of a date, and the category order every feature array follows.

Two views of bronze.catalog (one row per item and snapshot_date):
``to_catalog_as_of`` gives every item ever listed up to a date, each in its
latest state (items that have since left the catalog included);
``to_latest_snapshot`` gives the rows of the one latest snapshot, the
catalog on sale that day.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from debut import schemas
from debut.core.dates import lit_date


def to_catalog_as_of(catalog_df: DataFrame, *, run_date: dt.date) -> DataFrame:
    """One row per item: its latest snapshot taken on or before ``run_date`` (schemas.CATALOG)."""
    latest_first = Window.partitionBy("item_id").orderBy(F.col("snapshot_date").desc())  # row_number: no frame
    return (
        catalog_df
        .where(F.col("snapshot_date") <= F.lit(run_date))
        .withColumn("_rank", F.row_number().over(latest_first))
        .where(F.col("_rank") == 1)
        .select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schemas.CATALOG.fields])
    )


def to_latest_snapshot(catalog_df: DataFrame, *, run_date: dt.date) -> DataFrame:
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
