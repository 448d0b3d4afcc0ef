"""The table registry (debut.core.tables) and the schema check every io write makes."""
from __future__ import annotations

import pytest
from pyspark.sql import types as T

from debut import io
from debut.core import stages
from debut.core.tables import TABLES, TableSpec

SCHEMA = T.StructType([
    T.StructField("k", T.StringType(), False),
    T.StructField("p", T.StringType(), False),
    T.StructField("v", T.ArrayType(T.LongType(), containsNull=False), True),
])


@pytest.fixture
def typed(monkeypatch):
    monkeypatch.setitem(io.TABLES, "scratch.typed", TableSpec(("k",), ("p",), "test table", SCHEMA, "aggregate"))
    return "scratch.typed"


def test_every_table_has_a_schema_holding_its_keys_and_partitions(conf):
    for name, spec in TABLES.items():
        fields = [f.name for f in spec.struct(conf).fields]
        assert set(spec.keys) <= set(fields), name
        assert set(spec.partition_by) <= set(fields), name


def test_every_table_is_owned_by_a_known_job():
    from debut.core.tables import ANY_STAGE
    assert {spec.owner for spec in TABLES.values()} <= set(stages.JOBS) | {ANY_STAGE}


def test_the_forecast_schema_follows_the_configured_quantiles(conf):
    five = conf.replace(**{"forecast.quantiles": [0.05, 0.25, 0.5, 0.75, 0.95]})
    names = [f.name for f in io.spec("gold.launch_forecast").struct(five).fields]
    assert "units_p5" in names and "units_p95" in names and "units_p10" not in names


def test_a_write_with_the_registered_types_passes_whatever_the_nullability(spark, conf, typed):
    loose = spark.createDataFrame([("a", "x", [1, None])], "k string, p string, v array<bigint>")
    io.merge(loose, conf, typed)
    assert io.read(spark, conf, typed).count() == 1


def test_a_wrong_type_names_the_table_and_the_column(spark, conf, typed):
    bad = spark.createDataFrame([("a", "x", [1])], "k string, p string, v array<int>")
    with pytest.raises(io.SchemaMismatchError, match=r"'scratch.typed'.*v is array<int>, expected array<bigint>"):
        io.overwrite(bad, conf, typed)
    assert not io.exists(spark, conf, typed)


def test_a_missing_and_an_extra_column_are_named(spark, conf, typed):
    bad = spark.createDataFrame([("a", "x", 1)], "k string, p string, w int")
    with pytest.raises(io.SchemaMismatchError, match=r"missing column\(s\) v; unexpected column\(s\) w"):
        io.append(bad, conf, typed)
