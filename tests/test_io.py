"""Delta I/O helpers on real Delta tables: MERGE, replaceWhere, time travel."""
from __future__ import annotations

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from debut import io

SCHEMA = T.StructType([
    T.StructField("k", T.StringType(), True),
    T.StructField("p", T.StringType(), True),
    T.StructField("v", T.LongType(), True),
])


@pytest.fixture
def kv(monkeypatch):
    monkeypatch.setitem(io.TABLES, "scratch.kv", io.TableSpec(("k",), ("p",), "test table"))
    return "scratch.kv"


def df(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def test_merge_upserts_and_time_travel_reads_earlier_version(spark, conf, kv):
    io.merge(df(spark, [("a", "x", 1), ("b", "x", 2), (None, "y", 9)]), conf, kv)
    io.merge(df(spark, [("b", "x", 20), ("c", "y", 3)]), conf, kv)
    expected_now = df(spark, [("a", "x", 1), ("b", "x", 20), ("c", "y", 3), (None, "y", 9)])
    assert_df_equality(io.read(spark, conf, kv), expected_now, ignore_row_order=True)
    assert io.version(spark, conf, kv) == 1
    expected_v0 = df(spark, [("a", "x", 1), ("b", "x", 2), (None, "y", 9)])
    assert_df_equality(io.read(spark, conf, kv, version=0), expected_v0, ignore_row_order=True)


def test_merge_twice_changes_nothing(spark, conf, kv):
    rows = df(spark, [("a", "x", 1), ("b", "y", 2)])
    io.merge(rows, conf, kv)
    io.merge(rows, conf, kv)
    assert_df_equality(io.read(spark, conf, kv), rows, ignore_row_order=True)


def test_insert_only_merge_keeps_existing_rows(spark, conf, kv):
    io.merge(df(spark, [("a", "x", 1)]), conf, kv)
    io.merge(df(spark, [("a", "x", 100), ("b", "x", 2)]), conf, kv, update=False)
    assert_df_equality(io.read(spark, conf, kv), df(spark, [("a", "x", 1), ("b", "x", 2)]), ignore_row_order=True)


def test_replace_where_replaces_one_partition_only(spark, conf, kv):
    io.replace_where(df(spark, [("a", "x", 1), ("b", "y", 2)]), conf, kv, "p = 'x'")
    io.replace_where(df(spark, [("c", "x", 3)]), conf, kv, "p = 'x'")
    assert_df_equality(io.read(spark, conf, kv), df(spark, [("b", "y", 2), ("c", "x", 3)]), ignore_row_order=True)


def test_replace_where_rejects_rows_outside_the_partition(spark, conf, kv):
    io.replace_where(df(spark, [("a", "x", 1)]), conf, kv, "p = 'x'")
    with pytest.raises(Exception, match="(?i)replaceWhere|does not conform|DELTA_REPLACE_WHERE_MISMATCH"):
        io.replace_where(df(spark, [("z", "y", 1)]), conf, kv, "p = 'x'")
    assert_df_equality(io.read(spark, conf, kv), df(spark, [("a", "x", 1)]))


def test_read_missing_table_says_which(spark, conf, kv):
    with pytest.raises(io.MissingTableError, match="table 'scratch.kv' does not exist"):
        io.read(spark, conf, kv)


def test_unknown_table_name_lists_known():
    with pytest.raises(KeyError, match="unknown table 'bronze.nope'"):
        io.spec("bronze.nope")


def test_locations_in_path_and_catalog_mode(conf):
    assert io.location(conf, "bronze.events").endswith("/data/bronze/events")
    cat = conf.replace(**{"storage.mode": "catalog", "storage.catalog": "main"})
    assert io.location(cat, "bronze.events") == "main.debut_bronze.events"


def test_describe_tables_counts_rows_and_versions(spark, conf, kv):
    io.merge(df(spark, [("a", "x", 1)]), conf, kv)
    io.merge(df(spark, [("b", "x", 1)]), conf, kv)
    [row] = io.describe_tables(spark, conf, [kv])
    assert (row["table"], row["rows"], row["version"]) == (kv, 2, 1)


def test_python_worker_pool_stays_set_until_the_last_thread_leaves(spark):
    import threading

    from debut.spark import POOL_ENV, python_worker_pool

    env = spark.sparkContext.environment
    assert POOL_ENV not in env
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with python_worker_pool(spark, "torch"):
            a_in.set()
            b_in.wait(5)
        seen["after_a"] = env.get(POOL_ENV)   # b is still inside
        a_out.set()

    def b():
        a_in.wait(5)
        with python_worker_pool(spark, "torch"):
            b_in.set()
            a_out.wait(5)
            seen["b_inside"] = env.get(POOL_ENV)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"after_a": "torch", "b_inside": "torch"}
    assert POOL_ENV not in env   # the last one out restored the shared pool
