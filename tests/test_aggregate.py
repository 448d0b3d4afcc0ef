"""aggregate: sessions, item/category days, user-item weights, launch history, and the job."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from debut import io, schemas
from debut.aggregate import items, job, launch, sessions
from debut.aggregate.common import date_condition, expand_dates
from debut.core import user_item
from debut.core.catalog import to_catalog_as_of

UTC = dt.timezone.utc
D0 = dt.date(2026, 9, 1)
RUN = dt.date(2026, 9, 21)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def at(n: int, hh: int = 10, mm: int = 0, ss: int = 0) -> dt.datetime:
    return dt.datetime.combine(day(n), dt.time(hh, mm, ss), tzinfo=UTC)


def ev(eid, when, etype, user, item, *, price=None, qty=None, session="s1", channel="web", query=None,
       ingested=RUN):
    qty = 1 if qty is None and etype == "view" else qty
    return (eid, when, when.date(), etype, user, session, item, price, qty, query, channel, "f.jsonl", ingested)


def order(oid, line, n, item, qty, status, *, price=10.0, ingested=RUN):
    return (oid, line, at(n), day(n), "u1", item, qty, price, "web", status, at(n, 12), "f.csv", ingested, None)


def cat(item, category, *, launch=None, snapshot=D0, ingested=None, brand="b"):
    return (item, category, "sub", brand, f"title {item}", "red", "cotton", "casual", 20.0, 8.0, launch, "active",
            snapshot, "c.csv", ingested or snapshot, "given", None)


def events_df(spark, rows):
    return spark.createDataFrame(rows, schemas.EVENTS)


def assert_rows(actual, expected):
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------ common
def test_date_condition_merges_consecutive_days_into_ranges():
    assert date_condition("d", [day(2), day(0), day(1), day(5)]) == \
        "(`d` BETWEEN DATE'2026-09-01' AND DATE'2026-09-03' OR `d` = DATE'2026-09-06')"
    assert date_condition("d", []) == "false"
    # short runs join one IN list; a run of three or more stays a range
    assert date_condition("d", [day(0), day(1), day(3), day(5), day(6), day(7)]) == \
        ("(`d` BETWEEN DATE'2026-09-06' AND DATE'2026-09-08' OR "
         "`d` IN (DATE'2026-09-01', DATE'2026-09-02', DATE'2026-09-04'))")
    assert expand_dates([day(5), day(1)], before=1, after=1) == [day(0), day(1), day(2), day(4), day(5), day(6)]


def test_date_condition_of_scattered_days_is_one_in_list_that_selects_exactly_them(spark):
    days = [day(0) + dt.timedelta(days=k) for k in range(0, 30)] + \
           [day(0) + dt.timedelta(days=k) for k in range(40, 400, 4)] + \
           [day(0) + dt.timedelta(days=k) for k in range(500, 700, 7) for k in (k, k + 1, k + 2)]
    cond = date_condition("d", days)
    assert cond.startswith("`d` IN (") and " OR " not in cond
    df = spark.createDataFrame([(day(0) + dt.timedelta(days=k),) for k in range(-5, 760)], "d date")
    assert sorted(r["d"] for r in df.where(F.expr(cond)).collect()) == sorted(days)


def test_catalog_as_of_takes_last_snapshot_on_or_before_run_date(spark):
    rows = [cat("i1", "old", snapshot=day(0)), cat("i1", "A", snapshot=day(3)), cat("i1", "future", snapshot=day(30)),
            cat("i2", "B", snapshot=day(1))]
    out = to_catalog_as_of(spark.createDataFrame(rows, schemas.CATALOG), run_date=RUN)
    assert_rows(out, spark.createDataFrame([rows[1], rows[3]], schemas.CATALOG))


# ------------------------------------------------------------------ sessions
def _key(user: str, start: dt.datetime) -> str:
    micros = int(start.timestamp()) * 1_000_000
    return hashlib.sha256(f"{user}|{micros}".encode()).hexdigest()


def test_sessions_split_only_when_the_gap_exceeds_it(spark):
    rows = [
        ev("e1", at(0, 10, 0), "view", "u1", "i1", session="s1"),
        ev("e2", at(0, 10, 30), "cart", "u1", "i1", session="s2"),           # exactly 30 min: same session
        ev("e3", at(0, 11, 0, 1), "purchase", "u1", "i1", price=5.0, qty=1, channel="app"),  # 30 min 1 s: new
        ev("e4", at(0, 9), "search", "u2", None, channel=None, session=None, query="red"),
        ev("e5", at(0, 23, 50), "view", "u3", "i2"),                          # crosses midnight
        ev("e6", at(1, 0, 10), "view", "u3", "i2"),
    ]
    out = sessions.to_sessions(events_df(spark, rows), gap_minutes=30, run_date=RUN)
    expected = spark.createDataFrame([
        (_key("u1", at(0, 10)), "u1", day(0), at(0, 10), at(0, 10, 30), 1800, 2, 1, 1, 0, 0, 2, "web", False, RUN),
        (_key("u1", at(0, 11, 0, 1)), "u1", day(0), at(0, 11, 0, 1), at(0, 11, 0, 1), 0, 1, 0, 0, 1, 0, 1, "app",
         True, RUN),
        (_key("u2", at(0, 9)), "u2", day(0), at(0, 9), at(0, 9), 0, 1, 0, 0, 0, 1, 0, None, False, RUN),
        (_key("u3", at(0, 23, 50)), "u3", day(0), at(0, 23, 50), at(1, 0, 10), 1200, 2, 2, 0, 0, 0, 1, "web", False,
         RUN),
    ], schemas.SESSIONS)
    assert_rows(out, expected)


# ------------------------------------------------------------------ items
def test_item_daily_funnel_orders_and_catalog(spark):
    events = events_df(spark, [
        ev("e1", at(1), "view", "u1", "i1"),
        ev("e2", at(1, 11), "view", "u2", "i1", channel=None),
        ev("e3", at(1, 12), "cart", "u1", "i1"),
        ev("e4", at(1, 13), "purchase", "u1", "i1", price=10.0, qty=2),
        ev("e5", at(1, 14), "search", "u1", None, query="shoes"),
        ev("e6", at(1, 15), "cart", "u2", "i2"),
    ])
    orders = spark.createDataFrame([
        order("O1", 1, 1, "i1", 2, "completed"),
        order("O2", 1, 1, "i1", 1, "cancelled"),
        order("O3", 1, 1, "i1", 1, "returned"),
        order("O4", 1, 1, "i3", 1, "completed"),       # i3: not in the catalog, no events
    ], schemas.ORDERS)
    catalog = spark.createDataFrame([cat("i1", "A"), cat("i2", "B")], schemas.CATALOG)
    out = items.to_item_daily(events, orders, catalog, run_date=RUN, stockout_min_views=2)
    expected = spark.createDataFrame([
        ("i1", day(1), "A", 2, 1, 1, 2, 20.0, 3, 1, 2, 0.5, 1.0, 0.5, False, RUN),
        ("i2", day(1), "B", 0, 1, 0, 0, 0.0, 0, 0, 0, None, 0.0, None, False, RUN),
        ("i3", day(1), None, 0, 0, 0, 0, 0.0, 1, 0, 1, None, None, None, False, RUN),
    ], schemas.ITEM_DAILY)
    assert_rows(out, expected)


def test_stockout_suspected_needs_views_no_sales_and_trailing_14_day_conversion(spark):
    rows = [
        ("x", day(0), 10, 1),
        ("x", day(14), 5, 0),    # day 0 is 14 days back: trailing conversion 0.1 -> suspected
        ("x", day(15), 5, 0),    # days 1..14 sold nothing: not suspected
        ("y", day(14), 5, 0),    # no history: not suspected
        ("z", day(0), 10, 1),
        ("z", day(1), 2, 0),     # too few views
    ]
    df = spark.createDataFrame(rows, "item_id string, date date, views long, purchases long")
    out = items.with_stockout_suspected(df, min_views=3, lookback_days=14)
    flags = [True if (r[0], r[1]) == ("x", day(14)) else False for r in rows]
    expected = spark.createDataFrame([(*r, f) for r, f in zip(rows, flags)],
                                     "item_id string, date date, views long, purchases long, "
                                     "is_stockout_suspected boolean")
    assert_rows(out, expected)


def _item_day(item, n, category, views, carts, purchases, units, revenue, ordered, returned):
    return (item, day(n), category, views, carts, purchases, units, revenue, ordered, returned, ordered - returned,
            None, None, None, False, RUN)


def test_category_daily_sums_items_counts_active_and_new_items(spark):
    item_daily = spark.createDataFrame([
        _item_day("i1", 1, "A", 2, 1, 1, 2, 20.0, 3, 1),
        _item_day("i2", 1, "A", 0, 0, 0, 0, 0.0, 1, 0),      # orders only: not active
        _item_day("i3", 1, None, 1, 0, 0, 0, 0.0, 0, 0),     # not in the catalog
    ], schemas.ITEM_DAILY)
    catalog = spark.createDataFrame([
        cat("i1", "A", launch=day(-100)), cat("i2", "A", launch=day(1)),
        cat("i4", "B", launch=day(1)),                         # launched, no activity yet
        cat("i5", "B", launch=day(-50)),                       # launch day not covered by item_daily
    ], schemas.CATALOG)
    out = items.agg_category_daily(item_daily, catalog, run_date=RUN)
    expected = spark.createDataFrame([
        ("A", day(1), 2, 1, 1, 2, 20.0, 3, 1, 1, RUN),
        (None, day(1), 1, 0, 0, 0, 0.0, 0, 1, 0, RUN),
        ("B", day(1), 0, 0, 0, 0, 0.0, 0, 0, 1, RUN),
    ], schemas.CATEGORY_DAILY)
    assert_rows(out, expected)


# ------------------------------------------------------------------ user x item
def test_user_item_weight_decays_by_half_life_to_run_date(spark):
    r = RUN
    t = lambda days_ago: dt.datetime.combine(r - dt.timedelta(days=days_ago), dt.time(8), tzinfo=UTC)  # noqa: E731
    events = events_df(spark, [
        ev("e1", t(45), "view", "u1", "i1"),                    # 1 x 2^-1
        ev("e2", t(0), "cart", "u1", "i1"),                     # 3 x 1
        ev("e3", t(90), "purchase", "u1", "i1", price=4.0, qty=2),  # 8 x 2^-2
        ev("e4", t(0), "search", "u1", None, query="q"),       # no item: not a pair
        ev("e5", t(10), "view", "u2", "i2", channel=None),
    ])
    out = user_item.to_user_item(events, run_date=r, event_weights={"view": 1.0, "cart": 3.0, "purchase": 8.0},
                                 half_life_days=45.0)
    expected = spark.createDataFrame([
        ("u1", "i1", 1, 1, 1, 2, t(0), 0.5 + 3.0 + 2.0, r),
        ("u2", "i2", 1, 0, 0, 0, t(10), 2 ** (-10 / 45), r),
    ], schemas.USER_ITEM)
    assert_approx_df_equality(out, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


# ------------------------------------------------------------------ launch history
def test_launch_history_zero_fills_weeks_and_keeps_only_observed_launches(spark):
    run_date = day(20)
    events = events_df(spark, [
        ev("e1", at(0), "view", "u1", "old"),          # history starts on day 0
        ev("e2", at(0), "view", "u1", "day0"),         # first seen on day 0: maybe older, not a launch
        ev("e3", at(1), "view", "u1", "new"),          # before its launch: week 0, ignored
        ev("e4", at(4), "purchase", "u1", "new", price=20.0, qty=2),
        ev("e5", at(5), "view", "u2", "new"),
        ev("e6", at(17), "purchase", "u2", "new", price=20.0, qty=1),
        ev("e7", at(7), "view", "u1", "inferred"),
        ev("e8", at(7), "search", "u1", None, query="q"),
    ])
    catalog = spark.createDataFrame([
        cat("old", "A", launch=day(-100)), cat("day0", "A"), cat("new", "A", launch=day(3)),
        cat("inferred", "B"), cat("future", "B", launch=day(20)),
    ], schemas.CATALOG)
    out = launch.to_launch_history(events, catalog, run_date=run_date, launch_weeks=4)

    def row(item, category, launch_date, inferred, week, units, views, complete):
        start = launch_date + dt.timedelta(days=7 * (week - 1))
        return (item, category, "sub", "b", f"title {item}", "red", "cotton", "casual", 20.0, 8.0, launch_date,
                inferred, week, start, units, views, complete, run_date)

    expected = spark.createDataFrame([
        row("new", "A", day(3), False, 1, 2, 1, True),
        row("new", "A", day(3), False, 2, 0, 0, True),       # nothing sold: 0-filled
        row("new", "A", day(3), False, 3, 1, 0, False),      # days 17..23: not over on day 20
        row("inferred", "B", day(7), True, 1, 0, 1, True),
        row("inferred", "B", day(7), True, 2, 0, 0, False),  # days 14..20: run_date itself not seen
    ], schemas.LAUNCH_HISTORY)
    assert_rows(out, expected)


# ------------------------------------------------------------------ job
def _write_bronze(spark, conf, events, orders, catalog):
    io.merge(spark.createDataFrame(events, schemas.EVENTS), conf, "bronze.events")
    io.merge(spark.createDataFrame(orders, schemas.ORDERS), conf, "bronze.orders")
    io.merge(spark.createDataFrame(catalog, schemas.CATALOG), conf, "bronze.catalog")


R1, R2 = day(10), day(11)
BRONZE_EVENTS = [
    ev("e1", at(1, 10), "view", "u1", "i1", ingested=R1),
    ev("e2", at(1, 10, 5), "purchase", "u1", "i1", price=10.0, qty=1, ingested=R1),
    ev("e3", at(3, 23, 55), "view", "u2", "i2", channel=None, ingested=R1),
    ev("e4", at(4, 9), "search", "u2", None, query="q", ingested=R1),
    ev("e5", at(5, 9), "view", "u1", "i2", ingested=R1),
]
BRONZE_ORDERS = [order("O1", 1, 1, "i1", 1, "completed", ingested=R1), order("O2", 1, 5, "i2", 2, "cancelled",
                                                                           ingested=R1)]
BRONZE_CATALOG = [cat("i1", "A", launch=day(-30), snapshot=R1), cat("i2", "B", launch=day(3), snapshot=R1)]


def _snapshot(spark, conf):
    return {name: io.read(spark, conf, name).localCheckpoint() for name in job.OUTPUTS}


@pytest.mark.slow   # two whole aggregate runs, ~1 min
def test_job_twice_changes_nothing(spark, conf):
    _write_bronze(spark, conf, BRONZE_EVENTS, BRONZE_ORDERS, BRONZE_CATALOG)
    first_counts = job.run(spark, conf, R1)
    first = _snapshot(spark, conf)
    second_counts = job.run(spark, conf, R1)
    assert first_counts == second_counts == {
        "silver.sessions": 4, "silver.item_daily": 3, "silver.category_daily": 3, "silver.user_item": 3,
        "gold.launch_history": 1}
    for name in job.OUTPUTS:
        assert_rows(io.read(spark, conf, name), first[name])


@pytest.mark.slow   # two whole aggregate runs on the small simulator, ~2 min
def test_job_incremental_run_matches_a_full_rebuild(spark, conf):
    _write_bronze(spark, conf, BRONZE_EVENTS, BRONZE_ORDERS, BRONZE_CATALOG)
    job.run(spark, conf, R1)
    late = [
        ev("e6", at(4, 0, 10), "view", "u2", "i2", ingested=R2),   # joins u2's session that began on day 3
        ev("e7", at(10, 8), "cart", "u3", "i1", ingested=R2),
    ]
    status_change = [order("O1", 1, 1, "i1", 1, "returned", ingested=R2)]
    _write_bronze(spark, conf, late, status_change, [cat("i1", "A", launch=day(-30), snapshot=R2)])
    job.run(spark, conf, R2)

    events = io.read(spark, conf, "bronze.events")
    catalog_latest = to_catalog_as_of(io.read(spark, conf, "bronze.catalog"), run_date=R2)
    item_daily = items.to_item_daily(events, io.read(spark, conf, "bronze.orders"), catalog_latest, run_date=R2)
    full = {
        "silver.sessions": sessions.to_sessions(events, gap_minutes=30, run_date=R2),
        "silver.item_daily": item_daily,
        "silver.category_daily": items.agg_category_daily(item_daily, catalog_latest, run_date=R2),
    }
    for name, expected in full.items():
        assert_rows(io.read(spark, conf, name).drop("agg_run_date"), expected.drop("agg_run_date"))
    [across_midnight] = (io.read(spark, conf, "silver.sessions")
                         .where((F.col("user_key") == "u2") & (F.col("session_date") == day(3))).collect())
    assert (across_midnight["n_events"], across_midnight["agg_run_date"]) == (2, R2)
