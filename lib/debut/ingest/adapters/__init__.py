"""``debut import <format> <path>``: public export formats -> the bronze tables.

Each adapter reads with an all-string schema, validates with reason codes
(bad records -> quarantine.records, source = the format name), maps to the
bronze schemas and MERGEs on the natural keys. Files are recorded in
ops.ingest_files (source = the format) and summed into ops.run_log
(job "import:<format>"): per file, read = accepted + quarantined + duplicates,
counted in the format's own records (REES46 rows, UCI invoice lines,
launch-history records). Rows derived from them (catalog rows, UCI purchase
events) are written alongside and reported, not counted.

A file already imported (same path and size) is skipped, so re-importing
changes nothing; the rows of a new file that bronze already holds are
duplicates. Times are checked against run_date as in ingest (future_time,
too_old after ingest.history_days): import a historical export with a
--run-date near its end.

Formats: rees46, uci_retail, order_lines, launch_history (see each module's
docstring). Import options (items file, category mapping, column mapping) are
ingest.* config keys; ``debut import`` sets them from its flags.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Dict, List

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from debut import io, schemas
from debut.config import Config, ConfigError
from debut.ingest import common as c
from debut.ingest.adapters import launch_history, order_lines, rees46, uci_retail
from debut.ingest.adapters.base import Adapter
from debut.ingest.adapters.launch_history import LAUNCH_HISTORY_INPUT

FORMATS: Dict[str, Adapter] = {a.name: a for a in (rees46.ADAPTER, uci_retail.ADAPTER, order_lines.ADAPTER,
                                                    launch_history.ADAPTER)}
COUNTS = ("read", "accepted", "quarantined", "duplicates")

__all__ = ["FORMATS", "LAUNCH_HISTORY_INPUT", "check_format", "run_import", "job_name"]


def check_format(fmt: str) -> Adapter:
    if fmt not in FORMATS:
        raise ConfigError(f"unknown import format {fmt!r} (allowed: {', '.join(FORMATS)})")
    return FORMATS[fmt]


def job_name(fmt: str) -> str:
    return f"import:{fmt}"


def new_files(spark: SparkSession, conf: Config, path: str, adapter: Adapter) -> List[c.LandingFile]:
    """Files of the format under ``path`` (a file or a directory) not imported yet."""
    listed = c.list_landing_files(spark, path, adapter.suffixes)
    if not listed:
        raise ConfigError(f"{adapter.name}: no {' or '.join(adapter.suffixes)} files at {path}")
    if not io.exists(spark, conf, "ops.ingest_files"):
        return listed
    done = {(r["source_file"], r["file_size"]) for r in
            io.read(spark, conf, "ops.ingest_files")
            .where(F.col("source_file").isin([f.path for f in listed]))
            .select("source_file", "file_size").collect()}
    return [f for f in listed if (f.path, f.size) not in done]


def run_import(spark: SparkSession, conf: Config, run_date: dt.date, fmt: str, path: str) -> Dict:
    """Import the new files of ``fmt`` under ``path``; returns the counts.

    Every table change is computed against the tables as they are before the
    first write and materialised (localCheckpoint), then counted, then written.
    """
    adapter = check_format(fmt)
    key = c.hash_key(conf)  # fail before reading anything when the key is missing
    files = new_files(spark, conf, path, adapter)
    res = {"source": fmt, "files": len(files), **{k: 0 for k in COUNTS}, "tables": {}}
    if not files:
        print(f"[{job_name(fmt)}] no new files under {path}; read 0 = accepted 0 + quarantined 0 + duplicates 0")
        return res
    validated = (adapter.validate(adapter.read(spark, files), run_date, conf.ingest, key)
                 .persist(StorageLevel.MEMORY_AND_DISK))
    try:
        writes = [dataclasses.replace(w, rows=w.rows.localCheckpoint(eager=True))
                  for w in adapter.plan(spark, conf, validated.where(F.col("_reason").isNull()), run_date)]
        [counted] = [w for w in writes if w.counted]
        accepted = counted.rows.select("source_file", "_rid").distinct()
        rows = c.file_counts(validated, accepted, files, fmt, run_date).collect()   # one per file
        counts = spark.createDataFrame(rows, schemas.INGEST_FILES)
        res.update({k: sum(r[k] for r in rows) for k in COUNTS})
        if any(r["duplicates"] < 0 for r in rows):  # more accepted than read: a bug, never data to keep quiet about
            raise RuntimeError(f"{job_name(fmt)}: accepted more records than were read: {res}")
        for w in writes:
            n = w.rows.count()
            res["tables"][w.table] = n
            if n:
                io.merge(c.typed(w.rows, w.schema), conf, w.table, update=w.update)
        if res["quarantined"]:
            io.merge(c.to_quarantine(validated.where(F.col("_reason").isNotNull()), fmt, run_date),
                     conf, "quarantine.records", update=False)
        io.merge(counts, conf, "ops.ingest_files")
        mine = io.read(spark, conf, "ops.ingest_files").where(F.col("source") == fmt)
        io.merge(c.run_log_rows(mine, job_name(fmt), run_date), conf, "ops.run_log")
    finally:
        validated.unpersist()
    print(f"[{job_name(fmt)}] read {res['read']:,} = accepted {res['accepted']:,} + quarantined "
          f"{res['quarantined']:,} + duplicates {res['duplicates']:,} ({len(files)} file(s); rows written: "
          + ", ".join(f"{t} {n:,}" for t, n in res["tables"].items()) + ")")
    return res
