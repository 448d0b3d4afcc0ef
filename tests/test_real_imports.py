"""Real exports as they come: UCI netting and per-item rules, case-normalised ids,
categories (mapping / given / derived), the generic order_lines import (with and
without customers), the launch burn-in, and the real REES46 and Olist files."""
from __future__ import annotations

import datetime as dt
import os
import time

import pandas as pd
import pytest
from pyspark.sql import functions as F

from debut import io, schemas
from debut.config import ConfigError
from debut.aggregate import launch
from debut.cli import main
from debut.ingest import adapters, categories
from debut.ingest import common as c

from tests.test_adapters import UCI_HEADER, counts, quarantine, user_key, write

REAL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "realdata")
REAL = os.environ.get("DEBUT_REALDATA", REAL if os.path.isdir(REAL) else "/work/shared/realdata")
UCI_RUN = dt.date(2011, 12, 10)
LINES_RUN = dt.date(2018, 3, 1)

# ======================================================================== uci rules
NET_ROWS = [
    # an absurd order cancelled 12 minutes later: the credit nets it (same day: cancelled)
    "581483,23843,PAPER CRAFT LITTLE BIRDIE,80995,12/9/2011 9:15,2.08,16446,United Kingdom",
    "C581484,23843,PAPER CRAFT LITTLE BIRDIE,-80995,12/9/2011 9:27,2.08,16446,United Kingdom",
    # two equal sales, one credit days later: the latest earlier sale comes back (returned)
    "500001,22197,POPCORN HOLDER,12,1/10/2011 10:00,0.85,12000,United Kingdom",
    "500002,22197,POPCORN HOLDER,12,1/12/2011 10:00,0.85,12000,United Kingdom",
    "C500003,22197,POPCORN HOLDER,-12,1/15/2011 10:00,0.85,12000,United Kingdom",
    # a guest credit nets nothing (customers cannot be matched)
    "500004,22197,POPCORN HOLDER,6,1/16/2011 10:00,0.85,,United Kingdom",
    "C500005,22197,POPCORN HOLDER,-6,1/16/2011 11:00,0.85,,United Kingdom",
    # case variants of one stock code
    "500010,85123a,WHITE HANGING HEART T-LIGHT HOLDER,6,2/1/2011 10:00,2.95,12001,United Kingdom",
    "500011, 85123A ,WHITE HANGING HEART T-LIGHT HOLDER,6,2/2/2011 10:00,2.95,12001,United Kingdom",
    # wholesale: an item that sells in hundreds keeps its 1,200 line
    "500020,84077,WORLD WAR 2 GLIDERS,100,3/1/2011 10:00,0.21,12002,United Kingdom",
    "500021,84077,WORLD WAR 2 GLIDERS,200,3/2/2011 10:00,0.21,12003,United Kingdom",
    "500022,84077,WORLD WAR 2 GLIDERS,150,3/3/2011 10:00,0.21,12004,United Kingdom",
    "500023,84077,WORLD WAR 2 GLIDERS,1200,3/4/2011 10:00,0.18,12005,United Kingdom",
    # absurd: an item sold in twos, one line of 5,000 that nothing cancels
    "500030,23166,MEDIUM CERAMIC STORAGE JAR,2,4/1/2011 10:00,1.25,12006,United Kingdom",
    "500031,23166,MEDIUM CERAMIC STORAGE JAR,3,4/2/2011 10:00,1.25,12007,United Kingdom",
    "500032,23166,MEDIUM CERAMIC STORAGE JAR,2,4/3/2011 10:00,1.25,12008,United Kingdom",
    "500033,23166,MEDIUM CERAMIC STORAGE JAR,5000,4/4/2011 10:00,1.04,12009,United Kingdom",
]


@pytest.fixture(scope="module")
def uci_net(spark, tmp_path_factory):
    from tests.conftest import make_conf
    root = tmp_path_factory.mktemp("uci_net")
    conf = make_conf(root)
    path = write(root / "retail.csv", "\n".join([UCI_HEADER] + NET_ROWS) + "\n")
    return conf, path, adapters.run_import(spark, conf, UCI_RUN, "uci_retail", path)


def _orders(spark, conf, item):
    return sorted((r.order_id, r.quantity, r.status, r.status_time) for r in
                  io.read(spark, conf, "bronze.orders").where(F.col("item_id") == item).collect())


def test_uci_same_day_credit_cancels_its_original_line(spark, uci_net):
    conf, _, _ = uci_net
    t = dt.datetime
    assert _orders(spark, conf, "23843") == [
        ("581483", 80995, "cancelled", t(2011, 12, 9, 9, 27)),
        ("581484", 80995, "cancelled", t(2011, 12, 9, 9, 27)),
    ]


def test_uci_later_credit_returns_the_latest_earlier_sale_and_guest_credits_net_nothing(spark, uci_net):
    conf, _, _ = uci_net
    t = dt.datetime
    assert _orders(spark, conf, "22197") == [
        ("500001", 12, "completed", t(2011, 1, 10, 10)),
        ("500002", 12, "returned", t(2011, 1, 15, 10)),
        ("500003", 12, "cancelled", t(2011, 1, 15, 10)),
        ("500004", 6, "completed", t(2011, 1, 16, 10)),
        ("500005", 6, "cancelled", t(2011, 1, 16, 11)),
    ]


def test_uci_netted_lines_make_no_purchase_event(spark, uci_net):
    conf, _, _ = uci_net
    got = sorted((r.item_id, r.quantity, r.event_time) for r in io.read(spark, conf, "bronze.events")
                 .where(F.col("item_id").isin("23843", "22197")).collect())
    assert got == [("22197", 12, dt.datetime(2011, 1, 10, 10))]


def test_uci_stock_code_case_variants_are_one_item(spark, uci_net):
    conf, _, _ = uci_net
    assert sorted((r.order_id, r.item_id) for r in io.read(spark, conf, "bronze.orders")
                  .where(F.upper(F.trim("item_id")) == "85123A").collect()) == [
        ("500010", "85123A"), ("500011", "85123A")]
    assert [r.item_id for r in io.read(spark, conf, "bronze.catalog")
            .where(F.upper("item_id") == "85123A").collect()] == ["85123A"]


def test_uci_wholesale_line_is_kept(spark, uci_net):
    conf, _, _ = uci_net
    assert [r.quantity for r in io.read(spark, conf, "bronze.orders")
            .where(F.col("item_id") == "84077").orderBy("order_id").collect()] == [100, 200, 150, 1200]


def test_uci_absurd_line_is_quarantined_with_its_reason(spark, uci_net):
    conf, path, _ = uci_net
    assert quarantine(spark, conf, "uci_retail", path) == [
        ("outlier_quantity", "quantity=5000 > 100 x item median 2")]
    assert [r.quantity for r in io.read(spark, conf, "bronze.orders")
            .where(F.col("item_id") == "23166").orderBy("order_id").collect()] == [2, 3, 2]


def test_uci_netting_reconciles(spark, uci_net):
    _, _, res = uci_net
    assert counts(res) == (1, 17, 16, 1, 0)


# ======================================================================== categories
TITLES = [("I1", "LUNCH BAG RED RETROSPOT"), ("I2", "LUNCH BAG PINK POLKADOT"), ("I3", "JUMBO BAG RED RETROSPOT"),
          ("I4", "JUMBO BAG PINK POLKADOT"), ("I5", "WHITE HANGING HEART T-LIGHT HOLDER"),
          ("I6", "RED HANGING HEART T-LIGHT HOLDER"), ("I7", "GLASS STAR T-LIGHT HOLDER"),
          ("I8", "ZINC STAR T-LIGHT HOLDER"), ("I9", None)]
EXPECTED_DERIVED = [
    ("I1", "bag", "bag red", "derived"), ("I2", "bag", "bag pink", "derived"), ("I3", "bag", "bag red", "derived"),
    ("I4", "bag", "bag pink", "derived"), ("I5", "holder", "hanging heart", "derived"),
    ("I6", "holder", "hanging heart", "derived"), ("I7", "holder", "star light", "derived"),
    ("I8", "holder", "star light", "derived"), ("I9", "uncategorised", None, "none")]


def _items(spark, rows):
    return spark.createDataFrame([(i, None, None, t) for i, t in rows],
                                 "item_id string, category string, subcategory string, title string")


def _assigned(spark, conf, rows):
    out = categories.assign(spark, conf, _items(spark, rows))
    return sorted((r.item_id, r.category, r.subcategory, r.category_source) for r in out.collect())


def test_derived_categories_are_named_and_stable_under_reordering(spark, conf):
    conf = conf.replace(**{"ingest.derived_categories": 2, "ingest.derived_subcategories": 2})
    assert _assigned(spark, conf, TITLES) == EXPECTED_DERIVED
    shuffled = [TITLES[i] for i in (8, 3, 6, 0, 5, 2, 7, 1, 4)]
    assert _assigned(spark, conf, shuffled) == EXPECTED_DERIVED


def test_mapping_file_wins_over_the_export_and_titles(spark, conf, tmp_path):
    mapping = write(tmp_path / "map.csv", "item_id,category,subcategory\n i1 ,bags,lunch\nI5,lights,\n")
    conf = conf.replace(**{"ingest.categories_file": mapping})
    items = spark.createDataFrame([("I1", "given", None, "LUNCH BAG"), ("I2", "given", "g", "X"),
                                   ("I5", None, None, "HEART HOLDER")],
                                  "item_id string, category string, subcategory string, title string")
    out = categories.assign(spark, conf, items, id_norm=lambda col: F.upper(F.trim(col)))
    assert sorted((r.item_id, r.category, r.subcategory, r.category_source) for r in out.collect()) == [
        ("I1", "bags", "lunch", "mapping"), ("I2", "given", "g", "given"), ("I5", "lights", None, "mapping")]


def test_mapping_file_without_a_category_column_names_the_key(spark, conf, tmp_path):
    from debut.config import ConfigError
    mapping = write(tmp_path / "map.csv", "item_id,cat\nI1,bags\n")
    conf = conf.replace(**{"ingest.categories_file": mapping})
    with pytest.raises(ConfigError, match="ingest.categories_file.*item_id,category"):
        categories.assign(spark, conf, _items(spark, TITLES[:1]))


# ======================================================================== order_lines
LINES = """order,line,sku,when,qty,unit price,customer,seller
O1,1,P1,2018-01-02 10:00:00,2,10.0,C7,S1
O1,2,P2,2018-01-02 10:00:00,1,5.5,C7,S1
O2,1,P1,2018-01-03 11:00:00,,10.0,,S2
O2,1,P1,2018-01-03 11:00:00,,10.0,,S2
O3,1,P3,2018-01-04 12:00:00,1,0,,S2
O4,1,P9,2018-01-05 12:00:00,1,3.0,,
"""
ITEMS = """sku,category,weight_g,colour
P1,shoes,250,red
P2,bags,,blue
P3,bags,100,
"""


@pytest.fixture(scope="module")
def lines(spark, tmp_path_factory):
    """order_lines through the CLI: explicit columns, an items file, guests and customers."""
    from tests.conftest import make_conf
    root = tmp_path_factory.mktemp("order_lines")
    conf = make_conf(root)
    path = write(root / "lines.csv", LINES)
    items = write(root / "items.csv", ITEMS)
    conf_dir = root / "conf"
    import shutil
    shutil.copytree(os.path.join(os.path.dirname(__file__), "..", "conf"), conf_dir)
    with open(conf_dir / "envs" / "test.yaml", "a") as f:
        f.write(f"paths:\n  data_dir: {root / 'data'}\n")
    rc = main(["import", "order_lines", path, "--env", "test", "--conf-dir", str(conf_dir),
               "--run-date", LINES_RUN.isoformat(), "--items", items, "--item-column", "item_id=sku",
               "--column", "order_id=order", "--column", "line_no=line", "--column", "item_id=sku",
               "--column", "time=when", "--column", "price=unit price", "--column", "customer_id=customer",
               "--column", "seller_id=seller"])
    return conf, path, rc


def test_order_lines_orders_with_and_without_customers(spark, lines):
    conf, path, rc = lines
    assert rc == 0
    got = sorted((r.order_id, r.line_no, r.item_id, r.quantity, r.unit_price, r.user_key, r.seller_id, r.status)
                 for r in io.read(spark, conf, "bronze.orders").collect())
    u = user_key(conf, "C7")
    assert got == [("O1", 1, "P1", 2, 10.0, u, "S1", "completed"), ("O1", 2, "P2", 1, 5.5, u, "S1", "completed"),
                   ("O2", 1, "P1", 1, 10.0, None, "S2", "completed"), ("O4", 1, "P9", 1, 3.0, None, None, "completed")]


def test_order_lines_purchase_events_only_for_identified_customers(spark, lines):
    conf, _, _ = lines
    assert sorted((r.item_id, r.quantity) for r in io.read(spark, conf, "bronze.events").collect()) == [
        ("P1", 2), ("P2", 1)]


def test_order_lines_catalog_from_the_items_file(spark, lines):
    conf, _, _ = lines
    got = sorted((r.item_id, r.category, r.category_source, r.price, r.attributes, r.launch_date)
                 for r in io.read(spark, conf, "bronze.catalog").collect())
    assert got == [("P1", "shoes", "given", 10.0, '{"weight_g":250.0}', None),
                   ("P2", "bags", "given", 5.5, None, None),
                   ("P9", "uncategorised", "none", 3.0, None, None)]


def test_order_lines_reconcile_exactly(spark, lines):
    conf, path, _ = lines
    [f] = io.read(spark, conf, "ops.ingest_files").collect()
    assert (f.source, f.read, f.accepted, f.quarantined, f.duplicates) == ("order_lines", 6, 4, 1, 1)
    [log] = io.read(spark, conf, "ops.run_log").collect()
    assert (log.job, log.read, log.accepted, log.quarantined, log.duplicates) == ("import:order_lines", 6, 4, 1, 1)
    assert quarantine(spark, conf, "order_lines") == [("bad_price", "price=0.0")]


def test_order_lines_olist_preset_one_row_per_unit_no_customers(spark, conf, tmp_path):
    ts = pd.Timestamp
    pd.DataFrame({"order_id": ["a", "a", "b"], "order_item_id": pd.array([1, 2, 1], dtype="int32"),
                  "product_id": ["p1", "p1", "p2"], "seller_id": ["s1", "s1", "s2"],
                  "shipping_limit_date": [ts("2018-01-02 10:00", tz="UTC")] * 2 + [ts("2018-01-09 08:30", tz="UTC")],
                  "price": [58.9, 58.9, 12.0], "freight_value": [1.0, 1.0, 2.0]}
                 ).to_parquet(tmp_path / "order_items.parquet")
    pd.DataFrame({"product_id": ["p1", "p2"], "product_category_name": ["beleza_saude", None],
                  "product_weight_g": pd.array([225, None], dtype="Int32")}).to_parquet(tmp_path / "products.parquet")
    pd.DataFrame({"product_category_name": ["beleza_saude"], "product_category_name_english": ["health_beauty"]}
                 ).to_parquet(tmp_path / "names.parquet")
    conf = conf.replace(**{"ingest.order_lines_preset": "olist", "ingest.items_file": str(tmp_path / "products.parquet"),
                           "ingest.category_names_file": str(tmp_path / "names.parquet")})
    res = adapters.run_import(spark, conf, LINES_RUN, "order_lines", str(tmp_path / "order_items.parquet"))
    assert counts(res) == (1, 3, 3, 0, 0)
    assert res["tables"] == {"bronze.orders": 3, "bronze.events": 0, "bronze.catalog": 2}
    assert sorted((r.order_id, r.line_no, r.item_id, r.quantity, r.order_time, r.user_key, r.seller_id) for r in
                  io.read(spark, conf, "bronze.orders").collect()) == [
        ("a", 1, "p1", 1, dt.datetime(2018, 1, 2, 10), None, "s1"),
        ("a", 2, "p1", 1, dt.datetime(2018, 1, 2, 10), None, "s1"),
        ("b", 1, "p2", 1, dt.datetime(2018, 1, 9, 8, 30), None, "s2")]
    # no brand in the items file: the seller is the item's brand (its vendor's history)
    assert sorted((r.item_id, r.category, r.category_source, r.attributes, r.brand) for r in
                  io.read(spark, conf, "bronze.catalog").collect()) == [
        ("p1", "health_beauty", "given", '{"product_weight_g":225.0}', "s1"), ("p2", "uncategorised", "none", None, "s2")]


def test_first_sold_candidates_are_the_window_launches_at_their_launch_price(spark, conf, tmp_path):
    """A backtest's candidates: items first sold in [start, end), priced as on their first day, named
    as the catalog names them; an item sold before the window or first after it is not one."""
    from debut.ingest.adapters import order_lines as ol
    ts = pd.Timestamp
    when = [ts("2018-04-30 23:00"), ts("2018-05-01 09:00"), ts("2018-05-01 17:00"), ts("2018-05-20 10:00"),
            ts("2018-05-03 10:00"), ts("2018-06-01 00:00"), ts("2018-05-30 23:59")]
    pd.DataFrame({"order_id": ["a", "b", "c", "d", "e", "f", "g"], "order_item_id": pd.array([1] * 7, dtype="int32"),
                  "product_id": ["old", "p1", "p1", "p1", "p2", "late", "p3"],
                  "seller_id": ["s0", "s1", "s1", "s9", "s2", "s0", " "],
                  "shipping_limit_date": [t.tz_localize("UTC") for t in when],
                  "price": [9.0, 10.0, 12.0, 50.0, 4.0, 7.0, 0.5]}).to_parquet(tmp_path / "order_items.parquet")
    pd.DataFrame({"product_id": ["p1", "p2", "old"], "product_category_name": ["beleza_saude", None, "x"]}
                 ).to_parquet(tmp_path / "products.parquet")
    pd.DataFrame({"product_category_name": ["beleza_saude"], "product_category_name_english": ["health_beauty"]}
                 ).to_parquet(tmp_path / "names.parquet")
    conf = conf.replace(**{"ingest.order_lines_preset": "olist", "ingest.items_file": str(tmp_path / "products.parquet"),
                           "ingest.category_names_file": str(tmp_path / "names.parquet"),
                           "ingest.unit_cost_share": 0.6})
    files = c.list_landing_files(spark, str(tmp_path / "order_items.parquet"), ol.ADAPTER.suffixes)
    good = ol.validate(ol.read(spark, files), dt.date(2018, 10, 1), conf.ingest, c.hash_key(conf)).where(
        F.col("_reason").isNull())
    got = ol.first_sold_candidates(spark, conf, good, start=dt.date(2018, 5, 1), end=dt.date(2018, 5, 31))
    assert tuple(got.columns) == schemas.CANDIDATE_FIELDS
    assert sorted((r.candidate_id, r.category, r.brand, r.price, r.unit_cost) for r in got.collect()) == [
        ("p1", "health_beauty", "s1", 11.0, 6.6), ("p2", "uncategorised", "s2", 4.0, 2.4),
        ("p3", "uncategorised", None, 0.5, 0.3)]
    with pytest.raises(ConfigError, match="ingest.unit_cost_share"):
        ol.first_sold_candidates(spark, conf.replace(**{"ingest.unit_cost_share": None}), good,
                                 start=dt.date(2018, 5, 1), end=dt.date(2018, 5, 31))


# ======================================================================== launches
def test_burn_in_excludes_early_items_and_guest_lines_are_demand(spark):
    d0 = dt.date(2026, 1, 1)
    day = lambda n: d0 + dt.timedelta(days=n)  # noqa: E731
    at = lambda n: dt.datetime.combine(day(n), dt.time(10))  # noqa: E731
    orders = spark.createDataFrame([
        ("o1", 1, at(0), day(0), None, "old", 3, 5.0, None, "completed", at(0), "f", day(40), None),
        ("o2", 1, at(10), day(10), None, "early", 2, 5.0, None, "completed", at(10), "f", day(40), None),
        ("o3", 1, at(20), day(20), None, "late", 4, 5.0, None, "completed", at(20), "f", day(40), None),
        ("o4", 1, at(22), day(22), None, "late", 1, 5.0, None, "returned", at(25), "f", day(40), None),
        ("o5", 1, at(23), day(23), "u1", "late", 2, 5.0, None, "completed", at(23), "f", day(40), None),
    ], schemas.ORDERS)
    events = spark.createDataFrame([
        ("e1", at(23), day(23), "purchase", "u1", None, "late", 5.0, 2, None, None, "f", day(40)),
        ("e2", at(24), day(24), "view", "u1", None, "late", None, 1, None, None, "f", day(40)),
    ], schemas.EVENTS)
    catalog = spark.createDataFrame(
        [(i, "c", None, None, None, None, None, None, 5.0, None, None, "active", day(40), "f", day(40), "none", None)
         for i in ("old", "early", "late")], schemas.CATALOG)
    out = launch.to_launch_history(events, catalog, run_date=day(35), launch_weeks=2, orders=orders,
                                   burn_in_weeks=2)
    assert sorted((r.item_id, r.launch_date, r.is_launch_date_inferred, r.week, r.units, r.views)
                  for r in out.collect()) == [
        ("late", day(20), True, 1, 6, 1),       # guest 4 + the identified purchase 2; the returned line is not
        ("late", day(20), True, 2, 0, 0)]


# ======================================================================== real files
def _real(*parts):
    path = os.path.join(REAL, *parts)
    if not os.path.exists(path):
        pytest.skip(f"{path} not present")
    return path


def test_rees46_sample_imports_and_reconciles(spark, conf):
    path = _real("rees46", "2019-Oct-sample.csv")
    res = adapters.run_import(spark, conf, dt.date(2019, 10, 2), "rees46", path)
    q = io.read(spark, conf, "quarantine.records").groupBy("reason").count().collect() if res["quarantined"] else []
    print(f"rees46 sample: {res}; quarantine {sorted((r.reason, r['count']) for r in q)}")
    assert res["read"] == 1000 and res["read"] == res["accepted"] + res["quarantined"] + res["duplicates"]
    cat = io.read(spark, conf, "bronze.catalog")
    assert cat.where(F.col("category").isNull() | (F.col("category") == "") | (F.col("brand") == "")).count() == 0
    assert {r.category_source for r in cat.select("category_source").distinct().collect()} == {"given"}


@pytest.mark.slow
def test_olist_files_import_and_reconcile(spark, conf):
    olist = _real("olist")
    conf = conf.replace(**{"ingest.order_lines_preset": "olist",
                           "ingest.items_file": os.path.join(olist, "products.parquet"),
                           "ingest.category_names_file": os.path.join(olist, "product_category_name_translation.parquet")})
    t0 = time.time()
    res = adapters.run_import(spark, conf, dt.date(2018, 9, 30), "order_lines",
                              os.path.join(olist, "order_items.parquet"))
    took = time.time() - t0
    cat = io.read(spark, conf, "bronze.catalog")
    n_items, n_cats = cat.count(), cat.select("category").distinct().count()
    print(f"olist: read {res['read']:,} accepted {res['accepted']:,} quarantined {res['quarantined']:,} "
          f"duplicates {res['duplicates']:,}; items {n_items:,}; categories {n_cats}; {took:.0f}s")
    assert res["read"] == 112650 == res["accepted"] + res["quarantined"] + res["duplicates"]
    assert n_items == io.read(spark, conf, "bronze.orders").select("item_id").distinct().count()


def test_parquet_with_nanosecond_timestamps_is_read_without_a_failed_job(spark, tmp_path):
    import pandas as pd

    from debut.ingest.adapters import base as b

    path = str(tmp_path / "lines.parquet")
    pd.DataFrame({"t": pd.to_datetime(["2018-05-01 10:00:00.123456789", "2017-09-19 09:45:35"], format="ISO8601"),
                  "n": [1, 2]}).to_parquet(path)          # pandas writes nanoseconds
    assert b._local_nanos([path]) is True and b._local_nanos([str(tmp_path)]) is True
    assert b._local_nanos(["s3://bucket/lines.parquet"]) is None
    sc = spark.sparkContext
    sc.setJobGroup("nanos-read", "read_parquet of a nanosecond file")
    try:
        df = b.read_parquet(spark, path)
        df.schema  # noqa: B018
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    tracker = sc.statusTracker()
    statuses = [tracker.getJobInfo(j).status for j in tracker.getJobIdsForGroup("nanos-read")]
    assert "FAILED" not in statuses, statuses   # the footer was looked at, not a read tried and failed
    assert dict(df.dtypes)["t"] == "bigint"               # the epoch nanoseconds, as Spark reads them
    got = sorted(r.t for r in df.select(b.epoch_nanos(F.col("t").cast("string")).alias("t")).collect())
    assert got == [dt.datetime(2017, 9, 19, 9, 45, 35), dt.datetime(2018, 5, 1, 10, 0, 0, 123456)]
