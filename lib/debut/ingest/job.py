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


SOURCES = (
    Source("events", "events", (".jsonl", ".json"), "bronze.events", ev.read_lines, ev.validate_events,
           ev.to_bronze_events),
    Source("orders", "orders", (".csv",), "bronze.orders",
           lambda s, p: tb.read_csv(s, p, schemas.ORDER_FIELDS), tb.validate_orders, tb.to_bronze_orders,
           update=True, update_condition=tb.ORDER_UPDATE_CONDITION),
    Source("catalog", "catalog", (".csv",), "bronze.catalog",
           lambda s, p: tb.read_csv(s, p, schemas.CATALOG_FIELDS), tb.validate_catalog, tb.to_bronze_catalog),
    Source("candidates", "candidates", (".csv",), "bronze.candidates",
           lambda s, p: tb.read_csv(s, p, schemas.CANDIDATE_FIELDS), tb.validate_candidates,
           tb.to_bronze_candidates),
)


def ingest_source(spark: SparkSession, conf: Config, run_date: dt.date, src: Source, key: bytes) -> Optional[Dict]:
    """Ingest one source's new files; returns its counts, or None when there was nothing new."""
    root = f"{conf.paths.landing_dir.rstrip('/')}/{src.subdir}"
    files = c.files_to_ingest(spark, conf, root, src.suffixes, run_date)
    if not files:
        return None
    validated = src.validate(src.read(spark, [f.path for f in files]), run_date, conf.ingest)
    validated = validated.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        good = validated.where(F.col("_reason").isNull())
        bad = validated.where(F.col("_reason").isNotNull())
        io.merge(src.to_bronze(good, key, run_date), conf, src.table, update=src.update,
                 update_condition=src.update_condition)
        io.merge(c.to_quarantine(bad, src.name, run_date), conf, "quarantine.records", update=False)
        paths = [f.path for f in files]
        accepted = (io.read(spark, conf, src.table)
                    .where((F.col("ingest_run_date") == F.lit(run_date).cast("date"))
                           & F.col("source_file").isin(paths)))
        counts = c.file_counts(validated, accepted, files, src.name, run_date)
        io.merge(counts, conf, "ops.ingest_files")
    finally:
        validated.unpersist()
    total = io.read(spark, conf, "ops.ingest_files").where(F.col("source_file").isin(paths)).agg(
        *[F.sum(k).alias(k) for k in ("read", "accepted", "quarantined", "duplicates")]).first()
    res = {"source": src.name, "files": len(files), **{k: int(total[k] or 0) for k in total.asDict()}}
    if res["duplicates"] < 0:  # more rows written than good rows read: a bug, never data to keep quiet about
        raise RuntimeError(f"ingest {src.name}: accepted more rows than were read: {res}")
    return res


def run(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict[str, Dict]:
    key = c.hash_key(conf)  # fail before reading anything when the key is missing
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
        io.merge(c.run_log_rows(io.read(spark, conf, "ops.ingest_files"), JOB, run_date), conf, "ops.run_log")
    return results
