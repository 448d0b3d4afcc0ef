"""gold.launch_history: the first weeks of every launch the history observed.

An item's launch_date is the catalog's, else the day of its first sale or event
(inferred). Only launches inside the history count: a catalog launch_date on or
after the first day of the data; an inferred one only after a burn-in
(aggregate.launch_burn_in_weeks, default 8): an item first seen in the data's
first weeks was most likely on sale before the export starts, so it is not a
launch (and never a day-one item). Week w covers launch_date + 7(w-1) .. + 6;
weeks that have not started by run_date are left out, started ones are 0-filled
and say whether they are complete.

Units are the purchase events' quantities plus the completed order lines of
guests (no customer id, so no event): demand from every sale, audiences from
the identified ones. Views come from the events.

Launches given as a file (``debut import launch_history``, bronze.launch_history_input)
join them: ``with_imported_history`` adds the imported items the events do not
cover (an item in both keeps its event-derived rows). Their weeks are the ones
the file lists (a missing week stays missing, not 0), ``views`` is 0 (a file
has none) and ``is_complete`` says whether the week ended before run_date.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from debut import io, schemas
from debut.core.launch_history import to_imported_history, with_imported_history  # noqa: F401 - re-exported

_ATTRIBUTES = ("category", "subcategory", "brand", "title", "colour", "material", "style", "price", "unit_cost")


def _activity(events: DataFrame, orders: Optional[DataFrame]) -> DataFrame:
    """item_id, date of every event on an item and every order line not cancelled."""
    act = events.where(F.col("item_id").isNotNull()).select("item_id", F.col("event_date").alias("date"))
    if orders is not None:
        act = act.unionByName(orders.where(F.col("status") != "cancelled")
                              .select("item_id", F.col("order_date").alias("date")))
    return act


def _guest_units(orders: DataFrame) -> DataFrame:
    """Completed order lines without a customer: item_id, event_date, units (no event stands for them)."""
    return (orders.where(F.col("user_key").isNull() & (F.col("status") == "completed"))
            .select("item_id", F.col("order_date").alias("event_date"),
                    F.col("quantity").cast("long").alias("_guest_units")))


def to_launches(events: DataFrame, catalog_latest: DataFrame, *, run_date: dt.date,
                orders: Optional[DataFrame] = None, burn_in_weeks: int = 0) -> DataFrame:
    """Catalog items launched inside the history, before run_date:
    item_id, attributes, launch_date, is_launch_date_inferred."""
    activity = _activity(events, orders)
    history_start = activity.agg(F.min("date").alias("_history_start"))  # one row
    first_seen = activity.groupBy("item_id").agg(F.min("date").alias("_first_seen"))
    inferred = F.col("launch_date").isNull()
    after_burn_in = ((F.col("launch_date") > F.col("_history_start"))
                     & (F.col("launch_date") >= F.date_add(F.col("_history_start"), 7 * burn_in_weeks)))
    return (
        catalog_latest
        .join(first_seen, on="item_id", how="left")
        .crossJoin(history_start)
        .withColumn("is_launch_date_inferred", inferred)
        .withColumn("launch_date", F.coalesce(F.col("launch_date"), F.col("_first_seen")))
        .where(F.when(F.col("is_launch_date_inferred"), after_burn_in)
               .otherwise(F.col("launch_date") >= F.col("_history_start")))
        .where(F.col("launch_date") < F.lit(run_date))
        .select("item_id", *_ATTRIBUTES, "launch_date", "is_launch_date_inferred")
    )


def to_launch_history(events: DataFrame, catalog_latest: DataFrame, *, run_date: dt.date,
                      launch_weeks: int, imported: Optional[DataFrame] = None,
                      orders: Optional[DataFrame] = None, burn_in_weeks: int = 0) -> DataFrame:
    """bronze.events (+ bronze.orders) + latest catalog -> LAUNCH_HISTORY, one row per
    launch and started week; plus the launches of ``imported`` (bronze.launch_history_input)
    the events lack."""
    launches = to_launches(events, catalog_latest, run_date=run_date, orders=orders, burn_in_weeks=burn_in_weeks)
    week_no = F.floor(F.datediff(F.col("event_date"), F.col("launch_date")) / 7).cast("int") + 1
    sales = events.select("item_id", "event_date", "event_type", "quantity",
                          F.lit(None).cast("long").alias("_guest_units"))
    if orders is not None:
        sales = sales.unionByName(_guest_units(orders), allowMissingColumns=True)
    is_purchase = F.col("event_type") == "purchase"
    weekly = (
        sales
        .join(launches.select("item_id", "launch_date"), on="item_id", how="inner")
        .withColumn("week", week_no)
        .where(F.col("week").between(1, launch_weeks))
        .groupBy("item_id", "week")
        .agg(
            F.sum(F.when(is_purchase, F.coalesce(F.col("quantity"), F.lit(1))).otherwise(F.col("_guest_units")))
            .alias("units"),
            F.count(F.when(F.col("event_type") == "view", F.lit(1))).alias("views"),
        )
    )
    return (
        launches
        .withColumn("week", F.explode(F.sequence(F.lit(1), F.lit(launch_weeks))))
        .withColumn("week_start", F.expr("date_add(launch_date, (week - 1) * 7)"))
        .where(F.col("week_start") < F.lit(run_date))
        .join(weekly, on=["item_id", "week"], how="left")
        .fillna(0, subset=["units", "views"])
        .withColumn("is_complete", F.date_add(F.col("week_start"), 6) < F.lit(run_date))
        .withColumn("as_of_date", F.lit(run_date))
        .transform(lambda df: io.select_schema(df, schemas.LAUNCH_HISTORY))
        .transform(lambda df: df if imported is None else with_imported_history(
            df, imported, run_date=run_date, launch_weeks=launch_weeks))
    )
