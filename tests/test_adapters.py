"""Import adapters: REES46 events, UCI Online Retail invoices, launch history.

Each format is imported once per module (a fixture) from a tiny inline file;
the tests check the mapping row by row, the quarantine reasons, the
reconciliation and that importing again changes no table.
"""
from __future__ import annotations

import datetime as dt
import os

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from debut import io
from debut.cli import main
from debut.config import ConfigError
from debut.ingest import adapters
from debut.ingest import common as c
from debut.ingest.adapters import base as b

REES_RUN = dt.date(2019, 10, 2)
UCI_RUN = dt.date(2011, 12, 10)
LAUNCH_RUN = dt.date(2026, 10, 1)   # the test env's run_date, used by the CLI

TABLES = ("bronze.events", "bronze.orders", "bronze.catalog", "bronze.launch_history_input",
          "quarantine.records", "ops.ingest_files", "ops.run_log")


def write(path, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return str(path)


def versions(spark, conf):
    return {t: io.version(spark, conf, t) for t in TABLES if io.exists(spark, conf, t)}


def counts(res):
    return tuple(res[k] for k in ("files", "read", "accepted", "quarantined", "duplicates"))


def quarantine(spark, conf, source, path=None):
    q = io.read(spark, conf, "quarantine.records").where(F.col("source") == source)
    if path is not None:
        q = q.where(F.col("source_file") == "file:" + path)
    return sorted((r.reason, r.detail) for r in q.collect())


def io_capture(fn):
    """(fn's return value, what it printed)."""
    import contextlib
    import io as _io
    buf = _io.StringIO()
    with contextlib.redirect_stdout(buf):
        value = fn()
    return value, buf.getvalue()


def user_key(conf, user_id):
    return c.hmac_reference(c.hash_key(conf), user_id)


# ======================================================================== rees46
REES_HEADER = "event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session"
REES_ROWS = [
    "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,s-1",
    "2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,s-1",   # exact copy
    "2019-10-01 00:00:01 UTC,cart,3900821,2053013552326770905,appliances.water_heater,aqua,33.20,554748717,s-2",
    "2019-10-01 00:05:00 UTC,purchase,3900821,2053013552326770905,appliances.water_heater,aqua,31.90,554748717,",
    "2019-10-01 00:00:09 UTC,view,1,,,,,555000001,s-3",                                  # empty fields
    "2019-10-01 00:06:00 UTC,remove_from_cart,3900821,2053013552326770905,,aqua,31.90,554748717,s-2",
    "2019-10-01 00:07:00 UTC,like,3900821,2053013552326770905,,aqua,31.90,554748717,s-2",
    "2019-10-01 00:08:00 UTC,view,,2053013552326770905,,aqua,31.90,554748717,s-2",
    "2019-13-01 00:00:00 UTC,view,5,2,,,1.0,555000002,s-4",
    "2019-10-01 00:09:00 UTC,view,5,2,,,-1,555000002,s-4",
    "2019-10-01 00:10:00 UTC,view,6,2,,,1.0,,s-5",
    "2019-10-01 00:11:00 UTC,view,6,2,,,1.0,555000003",                                 # 8 fields
    "2019-10-04 00:00:00 UTC,view,6,2,,,1.0,555000003,s-6",
]


@pytest.fixture(scope="module")
def rees(spark, tmp_path_factory):
    from tests.conftest import make_conf
    root = tmp_path_factory.mktemp("rees46")
    conf = make_conf(root)
    path = write(root / "export" / "2019-Oct.csv", "\n".join([REES_HEADER] + REES_ROWS) + "\n")
    res, out = io_capture(lambda: adapters.run_import(spark, conf, REES_RUN, "rees46", path))
    res["printed"] = out
    res["run_log"] = io.read(spark, conf, "ops.run_log").collect()   # before the copy test adds to it
    return conf, path, res


def test_rees46_events_map_row_by_row(spark, rees):
    conf, path, _ = rees
    got = (io.read(spark, conf, "bronze.events").orderBy("event_time")
           .select("event_time", "event_date", "event_type", "user_key", "session_id", "item_id", "price",
                   "quantity", "query", "channel", "source_file", "ingest_run_date"))
    src = "file:" + path
    expected = spark.createDataFrame([
        (dt.datetime(2019, 10, 1, 0, 0, 0), dt.date(2019, 10, 1), "view", user_key(conf, "541312140"), "s-1",
         "44600062", 35.79, 1, None, None, src, REES_RUN),
        (dt.datetime(2019, 10, 1, 0, 0, 1), dt.date(2019, 10, 1), "cart", user_key(conf, "554748717"), "s-2",
         "3900821", 33.2, 1, None, None, src, REES_RUN),
        (dt.datetime(2019, 10, 1, 0, 0, 9), dt.date(2019, 10, 1), "view", user_key(conf, "555000001"), "s-3",
         "1", None, 1, None, None, src, REES_RUN),
        (dt.datetime(2019, 10, 1, 0, 5, 0), dt.date(2019, 10, 1), "purchase", user_key(conf, "554748717"), None,
         "3900821", 31.9, 1, None, None, src, REES_RUN),
    ], got.schema)
    assert_df_equality(got, expected, ignore_nullable=True)
    ids = [r.event_id for r in io.read(spark, conf, "bronze.events").collect()]
    assert len(set(ids)) == 4 and all(len(i) == 64 for i in ids)


def test_rees46_quarantine_reasons_and_no_raw_user_id(spark, rees):
    conf, path, _ = rees
    assert quarantine(spark, conf, "rees46", path) == [
        ("bad_price", "price=-1.0"),
        ("bad_type", "event_time=2019-13-01 00:00:00 UTC"),
        ("future_time", "2019-10-04 00:00:00 UTC"),
        ("malformed_record", "expected 9 fields"),
        ("missing_field", "product_id"),
        ("missing_field", "user_id"),
        ("unknown_event_type", "like"),
        ("unsupported_event_type", "remove_from_cart"),
    ]
    raws = [r.raw for r in io.read(spark, conf, "quarantine.records").collect()]
    assert not any("554748717" in r or "555000002" in r for r in raws)
    assert sum(user_key(conf, "554748717") in r for r in raws) == 3


def test_rees46_catalog_rows_latest_price_category_levels(spark, rees):
    """category_code's first level is the category, its second the subcategory; an
    empty code gives the numeric category_id; the launch date is left to aggregate."""
    conf, _, _ = rees
    got = sorted(tuple(r) for r in io.read(spark, conf, "bronze.catalog")
                 .select("item_id", "category", "subcategory", "brand", "title", "price", "launch_date", "status",
                         "snapshot_date", "category_source").collect())
    assert got == [
        ("3900821", "appliances", "water_heater", "aqua", None, 31.9, None, "active", REES_RUN, "given"),
        ("44600062", "cat_2103807459595387724", None, "shiseido", None, 35.79, None, "active", REES_RUN, "given"),
    ]


def test_rees46_reconciles_per_file_and_run(spark, rees):
    conf, path, res = rees
    assert counts(res) == (1, 13, 4, 8, 1)
    assert res["tables"] == {"bronze.events": 4, "bronze.catalog": 2}
    assert "[import:rees46] read 13 = accepted 4 + quarantined 8 + duplicates 1" in res["printed"]
    [f] = io.read(spark, conf, "ops.ingest_files").where(F.col("source_file") == "file:" + path).collect()
    assert (f.source, f.file_size, f.ingest_run_date, f.read, f.accepted, f.quarantined, f.duplicates) == (
        "rees46", os.path.getsize(path), REES_RUN, 13, 4, 8, 1)
    [log] = res["run_log"]
    assert (log.job, log.run_date, log.source, log.files, log.read, log.accepted, log.quarantined,
            log.duplicates) == ("import:rees46", REES_RUN, "rees46", 1, 13, 4, 8, 1)


def test_rees46_reimport_changes_nothing(spark, rees, capsys):
    conf, path, _ = rees
    before = versions(spark, conf)
    res = adapters.run_import(spark, conf, REES_RUN, "rees46", path)
    assert counts(res) == (0, 0, 0, 0, 0)
    assert versions(spark, conf) == before
    assert "[import:rees46] no new files" in capsys.readouterr().out


def test_changed_rows_are_new_keys_or_moved_content(spark, rees):
    """What a second delivery of the same rows would write: nothing but the new or changed."""
    conf, _, _ = rees
    events = io.read(spark, conf, "bronze.events")
    new = events.limit(1).withColumn("event_id", F.lit("new"))
    assert [r.event_id for r in b.changed_rows(spark, conf, "bronze.events", events.unionByName(new)).collect()] == [
        "new"]
    catalog = io.read(spark, conf, "bronze.catalog")
    elsewhere = catalog.withColumn("source_file", F.lit("another file"))       # not content
    repriced = catalog.withColumn("price", F.when(F.col("item_id") == "3900821", 30.0).otherwise(F.col("price")))
    assert b.changed_rows(spark, conf, "bronze.catalog", elsewhere, b.CATALOG_CONTENT).count() == 0
    assert [(r.item_id, r.price) for r in
            b.changed_rows(spark, conf, "bronze.catalog", repriced, b.CATALOG_CONTENT).collect()] == [
        ("3900821", 30.0)]


# ======================================================================== uci_retail
UCI_HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country"
UCI_ROWS = [
    '489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,12/1/2009 7:45,6.95,13085.0,United Kingdom',
    '489434,79323P,PINK CHERRY LIGHTS,12,12/1/2009 7:45,6.75,13085.0,United Kingdom',
    '489434,POST,POSTAGE,1,12/1/2009 7:45,18.00,13085.0,United Kingdom',
    '489435,22350,"CAT BOWL ""BLUE"", SMALL",12,2009-12-01 07:46:00,2.55,,United Kingdom',
    'C489449,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,-2,12/1/2009 10:33,6.50,16321,Australia',
    '489450,22087,PAPER BUNTING WHITE LACE,-5,12/1/2009 10:40,2.95,16321,Australia',
    '489451,21232,,1,12/1/2009 10:41,0,,',
    '489452,gift_0001_10,Dotcomgiftshop Gift Voucher,1,12/1/2009 10:42,8.50,,',
    '489453,TEST001,This is a test product.,1,12/1/2009 10:43,4.50,12346,United Kingdom',
    '489454,21232,STRAWBERRY CERAMIC TRINKET BOX,1,31/12/2009 10:44,1.25,12346,United Kingdom',
    '489455,21232,STRAWBERRY CERAMIC TRINKET BOX,x,12/1/2009 10:44,1.25,12346,United Kingdom',
    '489456,21232,,2,12/1/2009 11:00,1.25,,',
]


@pytest.fixture(scope="module")
def uci(spark, tmp_path_factory):
    from tests.conftest import make_conf
    root = tmp_path_factory.mktemp("uci")
    conf = make_conf(root)
    path = write(root / "online retail.csv", "\n".join([UCI_HEADER] + UCI_ROWS) + "\n")   # a space in the name
    return conf, path, adapters.run_import(spark, conf, UCI_RUN, "uci_retail", path)


def test_uci_orders_map_row_by_row_with_cancellation_and_guest(spark, uci):
    conf, path, _ = uci
    got = sorted(tuple(r) for r in io.read(spark, conf, "bronze.orders")
                 .select("order_id", "line_no", "order_time", "user_key", "item_id", "quantity", "unit_price",
                         "channel", "status", "status_time", "source_file").collect())
    t = dt.datetime
    u13085, u16321, src = user_key(conf, "13085"), user_key(conf, "16321"), "file:" + path
    assert got == [
        ("489434", 1, t(2009, 12, 1, 7, 45), u13085, "85048", 12, 6.95, "web", "completed", t(2009, 12, 1, 7, 45), src),
        ("489434", 2, t(2009, 12, 1, 7, 45), u13085, "79323P", 12, 6.75, "web", "completed", t(2009, 12, 1, 7, 45),
         src),
        ("489435", 1, t(2009, 12, 1, 7, 46), None, "22350", 12, 2.55, "web", "completed", t(2009, 12, 1, 7, 46), src),
        ("489449", 1, t(2009, 12, 1, 10, 33), u16321, "85048", 2, 6.5, "web", "cancelled", t(2009, 12, 1, 10, 33),
         src),
        ("489456", 1, t(2009, 12, 1, 11, 0), None, "21232", 2, 1.25, "web", "completed", t(2009, 12, 1, 11, 0), src),
    ]


def test_uci_quarantine_reasons(spark, uci):
    conf, _, _ = uci
    assert quarantine(spark, conf, "uci_retail") == [
        ("bad_price", "price=0.0"),
        ("bad_quantity", "quantity=-5"),
        ("bad_type", "invoice_date=31/12/2009 10:44"),
        ("bad_type", "quantity=x"),
        ("not_a_product", "POST"),
        ("not_a_product", "TEST001"),
        ("not_a_product", "gift_0001_10"),
    ]
    raws = [r.raw for r in io.read(spark, conf, "quarantine.records").collect()]
    assert not any("13085" in r.replace(user_key(conf, "13085"), "") or "16321" in r or "12346" in r for r in raws)


def test_uci_purchase_events_only_for_completed_lines_of_known_customers(spark, uci):
    conf, path, _ = uci
    got = sorted(tuple(r) for r in io.read(spark, conf, "bronze.events")
                 .select("event_id", "event_time", "event_type", "user_key", "session_id", "item_id", "price",
                         "quantity", "channel").collect())
    sha = lambda s: __import__("hashlib").sha256(s.encode()).hexdigest()  # noqa: E731
    u = user_key(conf, "13085")
    assert got == sorted([
        (sha("489434\u00011"), dt.datetime(2009, 12, 1, 7, 45), "purchase", u, None, "85048", 6.95, 12, "web"),
        (sha("489434\u00012"), dt.datetime(2009, 12, 1, 7, 45), "purchase", u, None, "79323P", 6.75, 12, "web"),
    ])


def test_uci_catalog_rows(spark, uci):
    """No category in the export: derived from the titles; none without a title."""
    conf, _, _ = uci
    got = sorted(tuple(r) for r in io.read(spark, conf, "bronze.catalog")
                 .select("item_id", "category", "subcategory", "title", "price", "launch_date", "status",
                         "snapshot_date", "category_source").collect())
    assert got == [
        ("21232", "uncategorised", None, None, 1.25, None, "active", UCI_RUN, "none"),
        ("22350", "blue", "blue small", 'CAT BOWL "BLUE", SMALL', 2.55, None, "active", UCI_RUN, "derived"),
        ("79323P", "lights", "ball lights", "PINK CHERRY LIGHTS", 6.75, None, "active", UCI_RUN, "derived"),
        ("85048", "lights", "ball lights", "15CM CHRISTMAS GLASS BALL 20 LIGHTS", 6.5, None, "active", UCI_RUN,
         "derived"),
    ]


def test_uci_reconciles_and_reimport_changes_nothing(spark, uci):
    conf, path, res = uci
    assert counts(res) == (1, 12, 5, 7, 0)
    assert res["tables"] == {"bronze.orders": 5, "bronze.events": 2, "bronze.catalog": 4}
    [log] = io.read(spark, conf, "ops.run_log").collect()
    assert (log.job, log.read, log.accepted, log.quarantined, log.duplicates) == ("import:uci_retail", 12, 5, 7, 0)
    before = versions(spark, conf)
    assert counts(adapters.run_import(spark, conf, UCI_RUN, "uci_retail", path)) == (0, 0, 0, 0, 0)
    assert versions(spark, conf) == before


# ======================================================================== launch_history
WIDE = """item_id,category,subcategory,brand,title,colour,material,style,price,unit_cost,launch_date,week_1,week_2,week_3
L1,shoes,boots,Acme,Red boot,red,leather,classic,80,40,2026-03-02,10,7,
L2,bags,,,,,,,25.5,,2026-04-06,0,3,5
L3,shoes,boots,Acme,Blue boot,blue,leather,classic,0,40,2026-03-02,1,2,3
L4,shoes,,,,,,,50,,2026-03-02,1,-2,3
L5,shoes,,,,,,,50,,2026-03-02,1,x,3
L6,shoes,,,,,,,50,,2026-03-02,,,
L7,,,,,,,,50,,2026-03-02,1,,
L8,shoes,,,,,,,50,,2027-01-04,1,,
L9,shoes,,,,,,,50,,2026-03-02,1,,
L9,shoes,,,,,,,50,,2026-03-02,1,,
L10,shoes,,,,,,,50,,2026-03-02,1,,
L10,bags,,,,,,,50,,2026-03-02,1,,
"""


@pytest.fixture(scope="module")
def launches(spark, tmp_path_factory):
    """One command-line import of a folder: the wide form as CSV, the long form as Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tests.conftest import make_conf
    root = tmp_path_factory.mktemp("launch")
    conf = make_conf(root)
    wide = write(root / "in" / "launches.csv", WIDE)
    nan = float("nan")
    rows = [
        ("K1", "toys", 12.0, nan, dt.date(2026, 5, 4), 1, 4),
        ("K1", "toys", 12.0, nan, dt.date(2026, 5, 4), 2, 6),
        ("K2", "toys", 12.0, 5.0, dt.date(2026, 5, 4), 1, 4),
        ("K2", "toys", 12.0, 5.0, dt.date(2026, 5, 4), 2, -1),
        ("K3", "toys", 12.0, 5.0, dt.date(2026, 5, 4), 0, 3),
        ("K4", "toys", 12.0, 5.0, dt.date(2026, 5, 4), 1, None),
        ("K5", "toys", 12.0, 5.0, dt.date(2026, 5, 4), 1, 4),
        ("K5", "toys", 12.0, 5.0, dt.date(2026, 5, 4), 1, 5),
        ("L9", "shoes", 50.0, nan, dt.date(2026, 3, 2), 1, 1),      # as the CSV has it: a duplicate
    ]
    names = ["Item_ID", "category", "price", "unit_cost", "launch_date", "week", "units"]
    types = [pa.string(), pa.string(), pa.float64(), pa.float64(), pa.date32(), pa.int32(), pa.int32()]
    table = pa.table({n: pa.array([r[i] for r in rows], type=t) for i, (n, t) in enumerate(zip(names, types))})
    long = str(root / "in" / "long.parquet")
    pq.write_table(table, long)
    argv = ["import", "launch_history", str(root / "in"), "--env", "test",
            "--set", f"paths.data_dir={conf.paths.data_dir}"]
    out = io_capture(lambda: main(argv))
    return conf, wide, long, argv, out


def test_launch_history_cli_import_exits_zero_and_prints_the_reconciliation(launches):
    _, _, _, _, (rc, out) = launches
    assert rc == 0
    assert "[import:launch_history] read 21 = accepted 5 + quarantined 14 + duplicates 2" in out


def test_launch_history_rows_wide_and_long(spark, launches):
    conf, wide, long, _, _ = launches
    got = (io.read(spark, conf, "bronze.launch_history_input").orderBy("item_id", "week")
           .drop("source_file"))
    m, a = dt.date(2026, 3, 2), dt.date(2026, 4, 6)
    k = dt.date(2026, 5, 4)
    expected = spark.createDataFrame([
        ("K1", "toys", None, None, None, None, None, None, 12.0, None, k, 1, 4, LAUNCH_RUN),
        ("K1", "toys", None, None, None, None, None, None, 12.0, None, k, 2, 6, LAUNCH_RUN),
        ("L1", "shoes", "boots", "Acme", "Red boot", "red", "leather", "classic", 80.0, 40.0, m, 1, 10, LAUNCH_RUN),
        ("L1", "shoes", "boots", "Acme", "Red boot", "red", "leather", "classic", 80.0, 40.0, m, 2, 7, LAUNCH_RUN),
        ("L2", "bags", None, None, None, None, None, None, 25.5, None, a, 1, 0, LAUNCH_RUN),
        ("L2", "bags", None, None, None, None, None, None, 25.5, None, a, 2, 3, LAUNCH_RUN),
        ("L2", "bags", None, None, None, None, None, None, 25.5, None, a, 3, 5, LAUNCH_RUN),
        ("L9", "shoes", None, None, None, None, None, None, 50.0, None, m, 1, 1, LAUNCH_RUN),
    ], got.schema)
    assert_df_equality(got, expected, ignore_nullable=True)
    files = {(r.item_id, r.source_file) for r in io.read(spark, conf, "bronze.launch_history_input").collect()}
    assert files == {("K1", "file:" + long), ("L1", "file:" + wide), ("L2", "file:" + wide), ("L9", "file:" + wide)}


def test_launch_history_quarantine_reasons(spark, launches):
    conf, _, _, _, _ = launches
    assert quarantine(spark, conf, "launch_history") == [
        ("bad_price", "price=0.0"),
        ("bad_quantity", "units=-1"),
        ("bad_quantity", "week_2=-2"),
        ("bad_type", "week_2=x"),
        ("bad_week", "week=0"),
        ("future_time", "launch_date=2027-01-04"),
        ("inconsistent_product", "attributes differ between records"),
        ("inconsistent_product", "attributes differ between records"),
        ("inconsistent_product", "units differ for a week"),
        ("inconsistent_product", "units differ for a week"),
        ("missing_field", "category"),
        ("missing_field", "units"),
        ("missing_field", "units"),
        ("product_rejected", "another record of the product: bad_quantity"),
    ]


def test_launch_history_reconciles_per_file(spark, launches):
    conf, wide, long, _, _ = launches
    files = {r.source_file: (r.source, r.read, r.accepted, r.quarantined, r.duplicates)
             for r in io.read(spark, conf, "ops.ingest_files").collect()}
    assert files == {"file:" + wide: ("launch_history", 12, 3, 8, 1),
                     "file:" + long: ("launch_history", 9, 2, 6, 1)}
    [log] = io.read(spark, conf, "ops.run_log").collect()
    assert (log.job, log.files, log.read, log.accepted, log.quarantined, log.duplicates) == (
        "import:launch_history", 2, 21, 5, 14, 2)


def test_launch_history_reimport_through_cli_changes_nothing(spark, launches):
    conf, _, _, argv, _ = launches
    before = versions(spark, conf)
    assert main(argv) == 0
    assert versions(spark, conf) == before


# ======================================================================== contract
def test_unknown_format_is_a_config_error_naming_the_formats():
    with pytest.raises(ConfigError, match="allowed: rees46, uci_retail, order_lines, launch_history"):
        adapters.check_format("shopify")


def test_cli_unknown_format_and_wrong_header_exit_2(tmp_path, capsys):
    data = ["--env", "test", "--set", f"paths.data_dir={tmp_path / 'data'}"]
    assert main(["import", "shopify", str(tmp_path), *data]) == 2
    bad = write(tmp_path / "x.csv", "a,b\n1,2\n")
    assert main(["import", "rees46", bad, *data]) == 2
    assert "unexpected column 'a'" in capsys.readouterr().err
    assert main(["import", "launch_history", str(tmp_path / "none"), *data]) == 2


def test_timestamp_parsers_never_raise(spark):
    df = spark.createDataFrame([("2019-10-01 00:00:00 UTC",), ("12/1/2009 7:45",), ("2009-12-01 07:45:00",),
                                ("12/1/2009 7:45:30",), ("2019-13-45 00:00:00",), ("2019-10-01 00:00:00 junk",),
                                (None,)], "s string")
    got = [tuple(r) for r in df.select(F.coalesce(b.us_timestamp(F.col("s")), b.iso_timestamp(F.col("s")))).collect()]
    t = dt.datetime
    assert got == [(t(2019, 10, 1),), (t(2009, 12, 1, 7, 45),), (t(2009, 12, 1, 7, 45),), (t(2009, 12, 1, 7, 45, 30),),
                   (None,), (None,), (None,)]


def test_redact_replaces_the_field_not_substrings(spark):
    df = spark.createDataFrame([("12,123,\"12\",x", "12"), ("a,b", None), ("1\\2,c", "1\\2")], "raw string, v string")
    got = [r[0] for r in df.select(b.redact(F.col("raw"), F.col("v"), F.lit("K"))).collect()]
    assert got == ["K,123,K,x", "a,b", "K,c"]


def test_headers_map_to_canonical_names_or_fail_clearly():
    from debut.ingest.adapters import launch_history, uci_retail
    online_retail_1 = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country".split(",")
    assert b.map_header("uci_retail", "f.csv", online_retail_1, uci_retail._ALIASES, uci_retail.FIELDS) == list(
        uci_retail.FIELDS)
    assert launch_history._fields("f.csv", ["Item_ID", "Category", "Price", "Launch_Date", "Week", "Units"]) == [
        "item_id", "category", "price", "launch_date", "week", "units"]
    with pytest.raises(ConfigError, match="both long"):
        launch_history._fields("f.csv", ["item_id", "category", "price", "launch_date", "week", "units", "week_1"])
    with pytest.raises(ConfigError, match="missing price"):
        launch_history._fields("f.csv", ["item_id", "category", "launch_date", "week_1"])
    with pytest.raises(ConfigError, match="week columns start at week_1"):
        launch_history._fields("f.csv", ["item_id", "category", "price", "launch_date", "week_0"])
