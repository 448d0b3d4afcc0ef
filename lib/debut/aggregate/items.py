"""Per item x day and per category x day: funnel, units, revenue, net order units.

Events are the behavioural signal (views, carts, purchases, purchase units and
revenue); orders give net units. A bronze order line carries its latest status
(ingest updates it in place), so a returned line was sold and came back:
ordered_units counts completed and returned lines, returned_units the returned
ones, net_units = ordered - returned (= completed); cancelled lines count nowhere.
All of it is dated by event_date / order_date.

Stock-out is a heuristic: the logs have no stock field. A day is suspected when
the item had at least ``min_views`` views, no purchase, and a conversion
(purchases / views) above zero over the ``lookback_days`` before it. A day
after a price rise or a fad's end looks the same; treat it as a flag, not a fact.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from debut import io, schemas

STOCKOUT_MIN_VIEWS = 20       # defaults of aggregate.stockout_min_views / stockout_lookback_days
STOCKOUT_LOOKBACK_DAYS = 14

_COUNTS = ("views", "carts", "purchases", "units", "ordered_units", "returned_units")


def _ratio(num: str, den: str):
    return F.when(F.col(den) > 0, F.col(num) / F.col(den))


def agg_item_events(events: DataFrame) -> DataFrame:
    """Item-level events -> item_id, date, views, carts, purchases, units, revenue."""
    is_purchase = F.col("event_type") == "purchase"
    qty = F.coalesce(F.col("quantity"), F.lit(1))
    return (
        events
        .where(F.col("item_id").isNotNull())
        .groupBy("item_id", F.col("event_date").alias("date"))
        .agg(
            F.count(F.when(F.col("event_type") == "view", F.lit(1))).alias("views"),
            F.count(F.when(F.col("event_type") == "cart", F.lit(1))).alias("carts"),
            F.count(F.when(is_purchase, F.lit(1))).alias("purchases"),
            F.coalesce(F.sum(F.when(is_purchase, qty)), F.lit(0)).cast("long").alias("units"),
            F.coalesce(F.sum(F.when(is_purchase, F.col("price") * qty)), F.lit(0.0)).alias("revenue"),
        )
        .select("item_id", "date", "views", "carts", "purchases", "units", "revenue")
    )


def agg_item_orders(orders: DataFrame) -> DataFrame:
    """Order lines -> item_id, date, ordered_units (not cancelled), returned_units."""
    status = F.col("status")
    return (
        orders
        .groupBy("item_id", F.col("order_date").alias("date"))
        .agg(
            F.coalesce(F.sum(F.when(status != "cancelled", F.col("quantity"))), F.lit(0)).cast("long")
            .alias("ordered_units"),
            F.coalesce(F.sum(F.when(status == "returned", F.col("quantity"))), F.lit(0)).cast("long")
            .alias("returned_units"),
        )
        .select("item_id", "date", "ordered_units", "returned_units")
    )


def with_stockout_suspected(df: DataFrame, *, min_views: int,
                            lookback_days: int = STOCKOUT_LOOKBACK_DAYS) -> DataFrame:
    """Add ``is_stockout_suspected`` to item-day rows (item_id, date, views, purchases).

    The trailing conversion covers the ``lookback_days`` calendar days before the
    row's date (days without a row count as nothing seen), never the day itself.
    """
    trailing = (Window.partitionBy("item_id").orderBy("_day")
                .rangeBetween(-lookback_days, -1))
    trail_views = F.sum("views").over(trailing)
    trail_conv = F.when(trail_views > 0, F.sum("purchases").over(trailing) / trail_views)
    suspected = (F.col("views") >= min_views) & (F.col("purchases") == 0) & (trail_conv > 0)
    return (
        df
        .withColumn("_day", F.datediff(F.col("date"), F.lit(dt.date(1970, 1, 1))))
        .withColumn("is_stockout_suspected", F.coalesce(suspected, F.lit(False)))
        .drop("_day")
    )


def to_item_daily(events: DataFrame, orders: DataFrame, catalog_latest: DataFrame, *, run_date: dt.date,
                  stockout_min_views: int = STOCKOUT_MIN_VIEWS,
                  stockout_lookback_days: int = STOCKOUT_LOOKBACK_DAYS) -> DataFrame:
    """bronze events + orders + latest catalog -> ITEM_DAILY, one row per item and
    day with any event or order line. The stock-out flag of a day needs the
    ``stockout_lookback_days`` before it in ``events``."""
    return (
        agg_item_events(events)
        .join(agg_item_orders(orders), on=["item_id", "date"], how="full")
        .fillna(0, subset=list(_COUNTS))
        .fillna(0.0, subset=["revenue"])
        .withColumn("net_units", F.col("ordered_units") - F.col("returned_units"))
        .withColumn("view_to_cart", _ratio("carts", "views"))
        .withColumn("cart_to_purchase", _ratio("purchases", "carts"))
        .withColumn("conversion", _ratio("purchases", "views"))
        .transform(with_stockout_suspected, min_views=stockout_min_views, lookback_days=stockout_lookback_days)
        .join(catalog_latest.select("item_id", "category"), on="item_id", how="left")
        .withColumn("agg_run_date", F.lit(run_date))
        .transform(lambda df: io.select_schema(df, schemas.ITEM_DAILY))
    )


def agg_category_daily(item_daily: DataFrame, catalog_latest: DataFrame, *, run_date: dt.date) -> DataFrame:
    """silver.item_daily + latest catalog -> CATEGORY_DAILY.

    new_items counts catalog items launched that day, on days that ``item_daily``
    covers (a launch before the history is not a day of it).
    """
    is_active = (F.col("views") + F.col("carts") + F.col("purchases")) > 0
    activity = (
        item_daily
        .groupBy("category", "date")
        .agg(*[F.sum(c).alias(c) for c in ("views", "carts", "purchases", "units", "revenue", "net_units")],
             F.count(F.when(is_active, F.lit(1))).alias("active_items"))
    )
    days = item_daily.select("date").distinct()
    launches = (
        catalog_latest
        .where(F.col("launch_date").isNotNull())
        .groupBy("category", F.col("launch_date").alias("date"))
        .agg(F.count(F.lit(1)).alias("new_items"))
        .join(days, on="date", how="left_semi")
    )
    return (
        activity
        .join(launches, on=["category", "date"], how="full")
        .fillna(0, subset=["views", "carts", "purchases", "units", "net_units", "active_items", "new_items"])
        .fillna(0.0, subset=["revenue"])
        .withColumn("agg_run_date", F.lit(run_date))
        .transform(lambda df: io.select_schema(df, schemas.CATEGORY_DAILY))
    )
