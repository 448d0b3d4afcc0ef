"""The one place that knows table names and where they live.

Logical names are ``<layer>.<name>`` (``bronze.events``). In ``storage.mode:
path`` a table is a Delta directory ``<paths.data_dir>/<layer>/<name>``; in
``catalog`` mode it is the metastore table ``[<catalog>.]<prefix>_<layer>.<name>``.
Every write is one Delta commit (atomic) and re-runnable: MERGE on natural keys,
``replaceWhere`` on a partition, or a full overwrite. Every write is checked
against the table's schema in the registry (debut.core.tables): column names
and types must match; nullability is left to Delta.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from contextlib import contextmanager
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from debut.config import Config
from debut.core import tables
from debut.core.tables import TABLES, TableSpec  # noqa: F401 - io.TABLES / io.TableSpec name the registry


def spec(name: str) -> TableSpec:
    return tables.spec(name)


def _split(name: str) -> Tuple[str, str]:
    spec(name)
    layer, table = name.split(".", 1)
    return layer, table


def location(conf: Config, name: str) -> str:
    """Delta path (path mode) or qualified table name (catalog mode)."""
    layer, table = _split(name)
    if conf.storage.mode == "catalog":
        db = f"{conf.storage.database_prefix}_{layer}"
        return f"{conf.storage.catalog}.{db}.{table}" if conf.storage.catalog else f"{db}.{table}"
    return os.path.abspath(os.path.join(conf.paths.data_dir, layer, table))


def _is_catalog(conf: Config) -> bool:
    return conf.storage.mode == "catalog"


def exists(spark: SparkSession, conf: Config, name: str) -> bool:
    loc = location(conf, name)
    if _is_catalog(conf):
        return spark.catalog.tableExists(loc)
    return DeltaTable.isDeltaTable(spark, loc)


def delta_table(spark: SparkSession, conf: Config, name: str) -> DeltaTable:
    loc = location(conf, name)
    return DeltaTable.forName(spark, loc) if _is_catalog(conf) else DeltaTable.forPath(spark, loc)


def read(spark: SparkSession, conf: Config, name: str, version: Optional[int] = None) -> DataFrame:
    """Read a table; ``version`` reads an earlier Delta version (time travel)."""
    if not exists(spark, conf, name):
        raise MissingTableError(f"table '{name}' does not exist at {location(conf, name)}; "
                                f"run the job that writes it first")
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    loc = location(conf, name)
    return reader.table(loc) if _is_catalog(conf) else reader.load(loc)


class MissingTableError(RuntimeError):
    """A job needs a table that an earlier job has not written yet."""


class SchemaMismatchError(ValueError):
    """A write whose columns or types differ from the table's registered schema."""


_NULLABILITY = ("nullable", "containsNull", "valueContainsNull", "metadata")


def _plain(data_type: T.DataType):
    """``data_type`` as JSON without nullability and metadata, for comparison."""
    def strip(v):
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k not in _NULLABILITY}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return strip(data_type.jsonValue())


def check_schema(df: DataFrame, conf: Config, name: str) -> None:
    """Raise SchemaMismatchError unless ``df`` has the table's columns with its types (any order)."""
    expected = spec(name).struct(conf)
    if expected is None:
        return
    got = {f.name: f.dataType for f in df.schema.fields}
    want = {f.name: f.dataType for f in expected.fields}
    problems = [f"missing column(s) {', '.join(c for c in want if c not in got)}"] \
        if any(c not in got for c in want) else []
    if any(c not in want for c in got):
        problems.append(f"unexpected column(s) {', '.join(c for c in got if c not in want)}")
    wrong = [f"{c} is {got[c].simpleString()}, expected {want[c].simpleString()}"
             for c in want if c in got and json.dumps(_plain(got[c])) != json.dumps(_plain(want[c]))]
    if wrong:
        problems.append("wrong type: " + "; ".join(wrong))
    if problems:
        raise SchemaMismatchError(f"write to table '{name}' does not match its schema "
                                  f"(debut.core.tables): {'; '.join(problems)}")


def _writer(df: DataFrame, conf: Config, name: str, mode: str):
    parts = spec(name).partition_by
    if parts:
        # one writer task per partition value: a few files per partition, not tasks x partitions
        df = df.repartition(*parts)
    w = df.write.format("delta").mode(mode)
    if parts:
        w = w.partitionBy(*parts)
    return w


def _save(writer, conf: Config, name: str) -> None:
    loc = location(conf, name)
    if _is_catalog(conf):
        writer.saveAsTable(loc)
    else:
        writer.save(loc)


def _ensure_database(spark: SparkSession, conf: Config, name: str) -> None:
    if _is_catalog(conf):
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {location(conf, name).rsplit('.', 1)[0]}")


def overwrite(df: DataFrame, conf: Config, name: str) -> None:
    """Replace the whole table in one commit."""
    check_schema(df, conf, name)
    _ensure_database(df.sparkSession, conf, name)
    _save(_writer(df, conf, name, "overwrite").option("overwriteSchema", "false"), conf, name)


def replace_where(df: DataFrame, conf: Config, name: str, condition: str) -> None:
    """Atomically replace the rows matching ``condition`` (a partition) with ``df``.

    Every row of ``df`` must match ``condition``; Delta enforces it. Creates the
    table on first use.
    """
    check_schema(df, conf, name)
    spark = df.sparkSession
    _ensure_database(spark, conf, name)
    if not exists(spark, conf, name):
        _save(_writer(df, conf, name, "append"), conf, name)
        return
    _save(_writer(df, conf, name, "overwrite").option("replaceWhere", condition), conf, name)


def _sql_string(value: str) -> str:
    """A SQL string literal of ``value``."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def replace_keys(df: DataFrame, conf: Config, name: str, keys: Sequence[str], values: Sequence[Tuple]) -> None:
    """Replace the table's rows whose ``keys`` take one of ``values`` (tuples of strings, dates or
    numbers) by ``df`` in one commit: what a MERGE on those keys does when ``df`` holds exactly
    those keys' rows, without the MERGE's join against the table (``replace_where``)."""
    def lit(v) -> str:
        if isinstance(v, dt.date):
            return f"DATE'{v.isoformat()}'"
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return repr(v)
        return _sql_string(str(v))
    distinct = sorted(set(map(tuple, values)), key=repr)
    if not distinct:
        replace_where(df, conf, name, "false")
        return
    # a key with one value is one equality; the others one tuple IN list (an OR per row grew into a
    # data-skipping filter too big for code generation)
    fixed = [j for j in range(len(keys)) if len({row[j] for row in distinct}) == 1]
    free = [j for j in range(len(keys)) if j not in fixed]
    parts = [f"`{keys[j]}` = {lit(distinct[0][j])}" for j in fixed]
    if free:
        cols = ", ".join(f"`{keys[j]}`" for j in free)
        rows = ", ".join("(" + ", ".join(lit(row[j]) for j in free) + ")" for row in distinct)
        parts.append(f"({cols}) IN ({rows})")
    cond = " AND ".join(parts)
    replace_where(df, conf, name, cond)


def merge(df: DataFrame, conf: Config, name: str, *, update: bool = True,
          keys: Optional[Sequence[str]] = None, update_condition: Optional[str] = None) -> None:
    """Upsert ``df`` on the table's natural key (insert-only when ``update=False``).

    ``update_condition`` (SQL over aliases ``t`` and ``s``) limits which matched
    rows are updated, e.g. only a newer status.
    ``df`` must hold at most one row per key (MERGE refuses ambiguous matches).
    Creates the table on first use.
    """
    check_schema(df, conf, name)
    spark = df.sparkSession
    keys = tuple(keys or spec(name).keys)
    _ensure_database(spark, conf, name)
    if not exists(spark, conf, name):
        _save(_writer(df, conf, name, "append"), conf, name)
        return
    cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    m = delta_table(spark, conf, name).alias("t").merge(df.alias("s"), cond)
    if update:
        m = m.whenMatchedUpdateAll(condition=update_condition)
    m.whenNotMatchedInsertAll().execute()


def append(df: DataFrame, conf: Config, name: str) -> None:
    check_schema(df, conf, name)
    _ensure_database(df.sparkSession, conf, name)
    _save(_writer(df, conf, name, "append"), conf, name)


def version(spark: SparkSession, conf: Config, name: str) -> int:
    """Latest Delta version of a table."""
    return int(delta_table(spark, conf, name).history(1).select("version").first()[0])


_USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


@contextmanager
def commit_metadata(spark: SparkSession, meta: dict) -> Iterator[None]:
    """Delta commits made inside carry ``meta`` (JSON) as their commitInfo.userMetadata:
    a later run can tell from a table's history what a commit was."""
    spark.conf.set(_USER_METADATA, json.dumps(meta, sort_keys=True, separators=(",", ":")))
    try:
        yield
    finally:
        spark.conf.unset(_USER_METADATA)


def last_commit(spark: SparkSession, conf: Config, name: str) -> Tuple[int, Optional[dict]]:
    """(version, userMetadata as a dict or None) of the table's latest commit."""
    row = delta_table(spark, conf, name).history(1).select("version", "userMetadata").first()
    try:
        meta = json.loads(row["userMetadata"]) if row["userMetadata"] else None
    except ValueError:
        meta = None
    return int(row["version"]), meta if isinstance(meta, dict) else None


def describe_tables(spark: SparkSession, conf: Config, names: Optional[Iterable[str]] = None) -> List[dict]:
    """Name, location, row count and Delta version of each existing table."""
    out = []
    for name in names or sorted(TABLES):
        if not exists(spark, conf, name):
            out.append({"table": name, "location": location(conf, name), "rows": None, "version": None})
            continue
        out.append({"table": name, "location": location(conf, name),
                    "rows": read(spark, conf, name).count(), "version": version(spark, conf, name)})
    return out


def select_schema(df: DataFrame, schema) -> DataFrame:
    """Cast and order ``df`` to ``schema``: the table's contract."""
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])
