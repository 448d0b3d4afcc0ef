"""ingest: landing files -> bronze.* + quarantine.records, with exact reconciliation.

For each source, the files not yet ingested (dated on or before run_date) are
read, validated, deduplicated on their natural key against what bronze already
holds (MERGE), and counted per file into ops.ingest_files; ops.run_log is the
sum per run. read = accepted + quarantined + duplicates, file by file.
A rerun finds no new file and changes nothing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io, schemas
from debut.config import Config
from debut.ingest import common as c
from debut.ingest import events as ev
from debut.ingest import tabular as tb

JOB = "ingest"


@dataclass(frozen=True)
class Source:
    name: str
    subdir: str
    suffixes: Tuple[str, ...]
    table: str
    read: Callable[[SparkSession, list], DataFrame]
    validate: Callable[[DataFrame, dt.date, object], DataFrame]
    to_bronze: Callable[[DataFrame, bytes, dt.date], DataFrame]
    update: bool = False
    update_condition: Optional[str] = None
    id_format: Optional[str] = None        # json | csv: quarantined records carry a customer id to redact


SOURCES = (
    Source("events", "events", (".jsonl", ".json"), "bronze.events", ev.read_lines, ev.validate_events,
           ev.to_bronze_events, id_format="json"),
    Source("orders", "orders", (".csv",), "bronze.orders",
           lambda s, p: tb.read_csv(s, p, schemas.ORDER_FIELDS), tb.validate_orders, tb.to_bronze_orders,
           update=True, update_condition=tb.ORDER_UPDATE_CONDITION, id_format="csv"),
    Source("catalog", "catalog", (".csv",), "bronze.catalog",
           lambda s, p: tb.read_csv(s, p, schemas.CATALOG_FIELDS), tb.validate_catalog, tb.to_bronze_catalog),
    Source("candidates", "candidates", (".csv",), "bronze.candidates",
           lambda s, p: tb.read_csv(s, p, schemas.CANDIDATE_FIELDS), tb.validate_candidates,
           tb.to_bronze_candidates),
)


def ingest_source(spark: SparkSession, conf: Config, run_date: dt.date, src: Source, key: bytes) -> Optional[Dict]:
    """Ingest one source's new files; returns its counts, or None when there was nothing new.

    The rows to write (``changes``: new keys, or order lines whose status moved
    on) are computed against the table as it is when the run starts, counted per
    file, then written; the per-file counts are the authoritative record.
    """
    root = f"{conf.paths.landing_dir.rstrip('/')}/{src.subdir}"
    files = c.files_to_ingest(spark, conf, root, src.suffixes, run_date)
    if not files:
        return None
    paths = [f.path for f in files]
    # the raw text is kept for quarantined rows only (good rows are tie-broken by its hash, _rawh)
    validated = (src.validate(src.read(spark, paths), run_date, conf.ingest)
                 .withColumn("_raw", F.when(F.col("_reason").isNotNull(), F.col("_raw")))
                 .persist(StorageLevel.MEMORY_AND_DISK))
    changes = None
    try:
        rows = src.to_bronze(validated.where(F.col("_reason").isNull()), key, run_date)
        changes = _changes(spark, conf, src, rows).persist(StorageLevel.MEMORY_AND_DISK)
        # Small: one row per landing file. Materialised before anything is written.
        counts = spark.createDataFrame(
            c.file_counts(validated, changes, files, src.name, run_date).collect(), schemas.INGEST_FILES)
        if src.update:
            io.merge(changes, conf, src.table, update=True, update_condition=src.update_condition)
        else:
            io.append(changes, conf, src.table)
        bad = validated.where(F.col("_reason").isNotNull())
        if src.id_format:
            bad = c.redact_user_ids(bad, key, src.id_format)
        io.merge(c.to_quarantine(bad, src.name, run_date),
                 conf, "quarantine.records", update=False)
        io.merge(counts, conf, "ops.ingest_files")
    finally:
        validated.unpersist()
        if changes is not None:
            changes.unpersist()
    total = {k: sum(r[k] for r in counts.collect()) for k in ("read", "accepted", "quarantined", "duplicates")}
    res = {"source": src.name, "files": len(files), **total}
    if res["duplicates"] < 0:  # more rows written than good rows read: a bug, never data to keep quiet about
        raise RuntimeError(f"ingest {src.name}: accepted more rows than were read: {res}")
    return res


def _changes(spark: SparkSession, conf: Config, src: Source, rows: DataFrame) -> DataFrame:
    """Rows of ``rows`` that change the table: new keys, or (for updatable sources)
    matched rows passing the update condition. Computed against the table's
    version at the start of the run, read by version number (time travel), so a
    recomputation after our own write (an evicted cache block) still sees the
    same target and yields the same rows."""
    if not io.exists(spark, conf, src.table):
        return rows
    keys = list(io.spec(src.table).keys)
    target = io.read(spark, conf, src.table, version=io.version(spark, conf, src.table))
    parts = io.spec(src.table).partition_by
    if parts == ("event_date",):
        # Prune the target to the batch's days: a re-delivered event keeps its event_time.
        lo, hi = rows.agg(F.min("event_date"), F.max("event_date")).first()
        if lo is None:
            return rows
        target = target.where(F.col("event_date").between(lo, hi))
    if not src.update:
        return rows.join(target.select(*keys), on=keys, how="left_anti")
    # Aliases s (incoming) and t (table), as in the MERGE's update condition.
    joined = rows.alias("s").join(target.alias("t"), on=[F.col(f"s.{k}").eqNullSafe(F.col(f"t.{k}")) for k in keys],
                                  how="left")
    is_new = F.col(f"t.{keys[0]}").isNull()
    return joined.where(is_new | F.expr(src.update_condition or "true")).select("s.*")


def run(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict[str, Dict]:
    key = c.hash_key(conf)  # fail before reading anything when the key is missing
    if not c.path_exists(spark, conf.paths.landing_dir):
        raise conf.path_error("paths.landing_dir", "does not exist: nothing to ingest from")
    results = {}
    for src in SOURCES:
        res = ingest_source(spark, conf, run_date, src, key)
        if res is None:
            print(f"[ingest] {src.name}: no new files")
            continue
        results[src.name] = res
        ok = res["read"] == res["accepted"] + res["quarantined"] + res["duplicates"]
        print(f"[ingest] {src.name}: files {res['files']}, read {res['read']:,} = accepted {res['accepted']:,}"
              f" + quarantined {res['quarantined']:,} + duplicates {res['duplicates']:,}"
              f"{'' if ok else '  (DOES NOT RECONCILE)'}")
    if results:
        # ops.ingest_files also holds files of `debut import`: only this job's sources here
        files = io.read(spark, conf, "ops.ingest_files").where(F.col("source").isin([s.name for s in SOURCES]))
        io.merge(c.run_log_rows(files, JOB, run_date), conf, "ops.run_log")
    return results
