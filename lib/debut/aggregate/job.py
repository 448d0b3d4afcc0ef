"""aggregate job: bronze -> silver.sessions, silver.item_daily, silver.category_daily,
silver.user_item and gold.launch_history.

Incremental recompute. Each date-partitioned table's watermark ``wm`` is the
largest ``agg_run_date`` it holds (none when the table is missing: everything is
new, a full rebuild). Bronze rows with wm <= ingest_run_date <= run_date are
new: "on" wm too, so that an ingest rerun for the last run's date (a late
landing file) is still picked up; the price is redoing the previous run's days
once more. Delta file statistics keep the scan cheap: ingest appends per run,
and an order line whose status moves on is rewritten with the new
ingest_run_date. The dates those rows touch decide what is recomputed, from all
of bronze for those dates, and replaced with ``replaceWhere``:

  sessions        the touched event dates +-1 day (a late event can join or split
                  sessions across midnight); events of +-1 more day are read.
                  A single session longer than a day can come out split.
  item_daily      touched event and order dates, plus the 14 days after each
                  (their stock-out flag looks back 14 days), read with 14 days
                  of history before them.
  category_daily  touched event and order dates, plus launch dates of items first
                  listed after wm; recomputed from silver.item_daily.

silver.user_item (its weights decay to run_date) and gold.launch_history (its
``is_complete`` moves with run_date) are rebuilt from bronze on every run and
overwritten in one commit: fine at marketplace-history scale (one row per
user-item pair seen, one per launch and week), the first to make incremental
(decay the stored weights by 2^(-days/half_life), add the new events) if not.

A rerun with the same run_date recomputes the same days from the same bronze
and writes the same rows. Running for a date older than a table's watermark
leaves its partitions alone (no backfill: drop the table to rebuild it).
Category and item attributes come from the catalog as of the run that wrote the
row. Only distinct dates reach the driver (bounded by the calendar).
"""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional, Tuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io, schemas
from debut.aggregate import items, launch, sessions
from debut.aggregate.common import date_condition, expand_dates
from debut.core import user_item
from debut.core.catalog import to_catalog_as_of
from debut.config import Config

JOB = "aggregate"
OUTPUTS = ("silver.sessions", "silver.item_daily", "silver.category_daily", "silver.user_item",
           "gold.launch_history")


def _read_or_empty(spark: SparkSession, conf: Config, name: str, schema) -> DataFrame:
    """A bronze table, or no rows when the source never delivered (e.g. no orders feed)."""
    if io.exists(spark, conf, name):
        return io.read(spark, conf, name)
    return spark.createDataFrame([], schema)


def watermark(spark: SparkSession, conf: Config, name: str) -> Optional[dt.date]:
    """Largest agg_run_date in ``name``; None when the table is missing or empty."""
    if not io.exists(spark, conf, name):
        return None
    return io.read(spark, conf, name).agg(F.max("agg_run_date")).first()[0]


def new_dates(df: DataFrame, date_col: str, wm: Optional[dt.date], run_date: dt.date) -> List[dt.date]:
    """Distinct ``date_col`` of the bronze rows ingested on or after ``wm``, up to ``run_date``.

    On, not only after: an ingest rerun for the watermark's own date (a late
    landing file) adds rows with that ingest_run_date after the aggregate ran.
    """
    is_new = F.col("ingest_run_date") <= F.lit(run_date)
    if wm is not None:
        is_new = is_new & (F.col("ingest_run_date") >= F.lit(wm))
    return sorted(r[0] for r in df.where(is_new).select(date_col).distinct().collect())


class Touched:
    """Dates touched by new bronze rows, per source and watermark; each asked once
    (the tables usually share a watermark)."""

    def __init__(self, run_date: dt.date, sources: Dict[str, Tuple[DataFrame, str]]):
        self.run_date, self.sources, self._seen = run_date, sources, {}

    def __call__(self, wm: Optional[dt.date], *names: str) -> List[dt.date]:
        out = set()
        for name in names:
            if (name, wm) not in self._seen:
                df, date_col = self.sources[name]
                self._seen[(name, wm)] = new_dates(df, date_col, wm, self.run_date)
            out.update(self._seen[(name, wm)])
        return sorted(out)


def _replace_dates(df: DataFrame, conf: Config, name: str, column: str, dates: List[dt.date]) -> None:
    cond = date_condition(column, dates)
    io.replace_where(df.where(F.expr(cond)), conf, name, cond)


def update_sessions(spark: SparkSession, conf: Config, run_date: dt.date, events: DataFrame,
                    touched_by: Touched) -> int:
    name = "silver.sessions"
    touched = touched_by(watermark(spark, conf, name), "events")
    if not touched:
        return 0
    redo = expand_dates(touched, before=1, after=1)
    read_days = expand_dates(redo, before=1, after=1)
    out = (events.where(F.expr(date_condition("event_date", read_days)))
           .transform(sessions.to_sessions, gap_minutes=conf.aggregate.session_gap_minutes, run_date=run_date))
    _replace_dates(out, conf, name, "session_date", redo)
    return len(redo)


def update_item_daily(spark: SparkSession, conf: Config, run_date: dt.date, events: DataFrame,
                      orders: DataFrame, catalog_latest: DataFrame, touched_by: Touched) -> int:
    name = "silver.item_daily"
    touched = touched_by(watermark(spark, conf, name), "events", "orders")
    if not touched:
        return 0
    lookback = conf.aggregate.stockout_lookback_days
    last = max(max(touched), run_date)
    redo = [d for d in expand_dates(touched, after=lookback) if d <= last]
    read_days = expand_dates(redo, before=lookback)
    read_cond = F.expr(date_condition("event_date", read_days))
    out = items.to_item_daily(
        events.where(read_cond),
        orders.where(F.expr(date_condition("order_date", read_days))),
        catalog_latest, run_date=run_date,
        stockout_min_views=conf.aggregate.stockout_min_views,
        stockout_lookback_days=lookback)
    _replace_dates(out, conf, name, "date", redo)
    return len(redo)


def update_category_daily(spark: SparkSession, conf: Config, run_date: dt.date, catalog_latest: DataFrame,
                          touched_by: Touched) -> int:
    name = "silver.category_daily"
    touched = touched_by(watermark(spark, conf, name), "events", "orders", "catalog_launches")
    if not touched or not io.exists(spark, conf, "silver.item_daily"):
        return 0
    item_daily = io.read(spark, conf, "silver.item_daily").where(F.expr(date_condition("date", touched)))
    out = items.agg_category_daily(item_daily, catalog_latest, run_date=run_date)
    _replace_dates(out, conf, name, "date", touched)
    return len(touched)


def rebuild_user_item(conf: Config, run_date: dt.date, events: DataFrame) -> None:
    ac = conf.aggregate
    out = user_item.to_user_item(events, run_date=run_date, event_weights=ac.event_weights,
                                 half_life_days=ac.decay_half_life_days)
    io.overwrite(out, conf, "silver.user_item")


def rebuild_launch_history(conf: Config, run_date: dt.date, events: DataFrame, catalog_latest: DataFrame,
                           orders: Optional[DataFrame] = None) -> None:
    spark = events.sparkSession
    # launches given as a file (`debut import launch_history`) join the ones the events show
    imported = (io.read(spark, conf, "bronze.launch_history_input")
                if io.exists(spark, conf, "bronze.launch_history_input") else None)
    out = launch.to_launch_history(events, catalog_latest, run_date=run_date,
                                   launch_weeks=conf.aggregate.launch_weeks, imported=imported,
                                   orders=orders, burn_in_weeks=conf.aggregate.launch_burn_in_weeks)
    io.overwrite(out, conf, "gold.launch_history")


def run(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict[str, int]:
    """Fold bronze (as ingested up to run_date) into the aggregate tables; returns row counts."""
    orders = _read_or_empty(spark, conf, "bronze.orders", schemas.ORDERS)
    # order lines alone (an export without customers) are enough; nothing at all: fail loudly
    events = (_read_or_empty(spark, conf, "bronze.events", schemas.EVENTS) if io.exists(spark, conf, "bronze.orders")
              else io.read(spark, conf, "bronze.events"))
    catalog = _read_or_empty(spark, conf, "bronze.catalog", schemas.CATALOG)
    catalog_latest = to_catalog_as_of(catalog, run_date=run_date)

    # launch dates of items first listed after a watermark: new_items of those days changes
    first_listed = (catalog.where(F.col("snapshot_date") <= F.lit(run_date))
                    .groupBy("item_id").agg(F.min("ingest_run_date").alias("ingest_run_date")))
    launches = (catalog_latest.select("item_id", "launch_date").where(F.col("launch_date").isNotNull())
                .join(first_listed, on="item_id", how="inner"))
    touched_by = Touched(run_date, {"events": (events, "event_date"), "orders": (orders, "order_date"),
                                    "catalog_launches": (launches, "launch_date")})

    redone = {
        "silver.sessions": update_sessions(spark, conf, run_date, events, touched_by),
        "silver.item_daily": update_item_daily(spark, conf, run_date, events, orders, catalog_latest, touched_by),
        "silver.category_daily": update_category_daily(spark, conf, run_date, catalog_latest, touched_by),
    }
    rebuild_user_item(conf, run_date, events)
    rebuild_launch_history(conf, run_date, events, catalog_latest, orders)

    counts = {}
    for name in OUTPUTS:
        counts[name] = io.read(spark, conf, name).count() if io.exists(spark, conf, name) else 0
        what = f"{redone[name]} days recomputed" if name in redone else "rebuilt"
        print(f"[{JOB}] {name}: {counts[name]:,} rows ({what})")
    return counts
