"""The one place that knows table names and where they live.

Logical names are ``<layer>.<name>`` (``bronze.events``). In ``storage.mode:
path`` a table is a Delta directory ``<paths.data_dir>/<layer>/<name>``; in
``catalog`` mode it is the metastore table ``[<catalog>.]<prefix>_<layer>.<name>``.
Every write is one Delta commit (atomic) and re-runnable: MERGE on natural keys,
``replaceWhere`` on a partition, or a full overwrite.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut.config import Config


@dataclass(frozen=True)
class TableSpec:
    keys: Tuple[str, ...]                  # natural key: MERGE condition, uniqueness contract
    partition_by: Tuple[str, ...] = ()
    description: str = ""


TABLES: Dict[str, TableSpec] = {
    # bronze: validated, deduplicated, pseudonymised landing data
    "bronze.events": TableSpec(("event_id",), ("event_date",), "marketplace events (view/cart/purchase/search)"),
    "bronze.orders": TableSpec(("order_id", "line_no"), ("order_date",), "order lines with status"),
    "bronze.catalog": TableSpec(("item_id", "snapshot_date"), ("snapshot_date",), "catalog snapshots"),
    "bronze.candidates": TableSpec(("candidate_id", "plan_date"), ("plan_date",), "candidate products per plan"),
    "bronze.launch_history_input": TableSpec(("item_id", "week"), (), "launch history given as a file (adapter)"),
    "quarantine.records": TableSpec(("record_hash",), ("source",), "rejected landing rows with a reason"),
    "ops.run_log": TableSpec(("job", "run_date", "source"), (), "read = accepted + quarantined + duplicates"),
    "ops.stage_status": TableSpec(("job", "run_date", "part"), (), "stage parts run, skipped or failed, with a reason"),
    # silver: behaviour aggregates
    "silver.sessions": TableSpec(("session_key",), ("session_date",), "sessions by inactivity gap"),
    "silver.item_daily": TableSpec(("item_id", "date"), ("date",), "per item and day: funnel, units, revenue"),
    "silver.category_daily": TableSpec(("category", "date"), (), "per category and day"),
    "silver.user_item": TableSpec(("user_key", "item_id"), (), "implicit feedback weights, time-decayed"),
    "ops.ingest_files": TableSpec(("source_file",), (), "landing files already ingested"),
    # gold: features and decisions
    "gold.launch_history": TableSpec(("item_id", "week"), (), "first weeks of every past launch"),
    "gold.customer_profile": TableSpec(("user_key",), (), "RFM, affinities, taste embedding, segment"),
    "gold.segments": TableSpec(("segment",), (), "segment descriptions"),
    "gold.item_features": TableSpec(("item_id",), (), "content features of catalog items and candidates"),
    "gold.behaviour_sequences": TableSpec(("user_key",), (), "last N interactions per customer"),
    "gold.purchase_intent": TableSpec(("user_key", "category", "cutoff_date"), (), "intent labels"),
    "gold.als_user_factors": TableSpec(("user_key",), (), "ALS user factors"),
    "gold.als_item_factors": TableSpec(("item_id",), (), "ALS item factors (warm + cold-start mapped)"),
    "gold.launch_audience": TableSpec(("candidate_id", "user_key"), (), "top-K customers per candidate"),
    "gold.audience_segment_mix": TableSpec(("candidate_id", "segment"), (), "segment mix of each candidate's audience"),
    "gold.item_audience": TableSpec(("item_id",), (), "audience strength of every item from content alone"),
    "gold.recommendations": TableSpec(("user_key", "rank"), (), "recommendation lists with exploration slots"),
    "gold.categories": TableSpec(("category",), (), "category index of the current catalog"),
    "gold.forecast_backtest": TableSpec(("run_date", "cutoff_date", "item_id", "method"), (),
                                        "backtest forecasts against actuals"),
    "gold.launch_outcomes": TableSpec(("plan_date", "policy", "candidate_id"), (), "plans played forward (simulator)"),
    "gold.launch_forecast": TableSpec(("candidate_id", "plan_date"), ("plan_date",), "demand quantiles"),
    "gold.launch_plan": TableSpec(("category", "candidate_id", "plan_date"), ("plan_date",), "launch decisions"),
    "gold.launch_adjustments": TableSpec(("candidate_id", "as_of_date"), (), "post-launch decisions"),
    "gold.evaluation": TableSpec(("run_date", "component", "metric", "slice"), (), "backtest metrics"),
}


def spec(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table '{name}' (known: {', '.join(sorted(TABLES))})") from None


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
    _ensure_database(df.sparkSession, conf, name)
    _save(_writer(df, conf, name, "overwrite").option("overwriteSchema", "false"), conf, name)


def replace_where(df: DataFrame, conf: Config, name: str, condition: str) -> None:
    """Atomically replace the rows matching ``condition`` (a partition) with ``df``.

    Every row of ``df`` must match ``condition``; Delta enforces it. Creates the
    table on first use.
    """
    spark = df.sparkSession
    _ensure_database(spark, conf, name)
    if not exists(spark, conf, name):
        _save(_writer(df, conf, name, "append"), conf, name)
        return
    _save(_writer(df, conf, name, "overwrite").option("replaceWhere", condition), conf, name)


def merge(df: DataFrame, conf: Config, name: str, *, update: bool = True,
          keys: Optional[Sequence[str]] = None, update_condition: Optional[str] = None) -> None:
    """Upsert ``df`` on the table's natural key (insert-only when ``update=False``).

    ``update_condition`` (SQL over aliases ``t`` and ``s``) limits which matched
    rows are updated, e.g. only a newer status.
    ``df`` must hold at most one row per key (MERGE refuses ambiguous matches).
    Creates the table on first use.
    """
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
    _ensure_database(df.sparkSession, conf, name)
    _save(_writer(df, conf, name, "append"), conf, name)


def version(spark: SparkSession, conf: Config, name: str) -> int:
    """Latest Delta version of a table."""
    return int(delta_table(spark, conf, name).history(1).select("version").first()[0])


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
