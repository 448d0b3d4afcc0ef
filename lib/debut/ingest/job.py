"""ingest: landing files -> bronze.* + quarantine.records, with exact reconciliation.

For each source, the files not yet ingested (dated on or before run_date) are
read, validated, deduplicated on their natural key against what bronze already
holds (MERGE), and counted per file into ops.ingest_files; ops.run_log is the
sum per run. read = accepted + quarantined + duplicates, file by file.
A rerun finds no new file and changes nothing.

Crash safety: per source the writes are quarantine (insert-only), then data;
the run's ops.ingest_files rows for all sources are one commit at its end. The
data commit carries the batch's per-file counts in its commitInfo.userMetadata;
a run that finds a source table's latest commit is a batch whose files
ops.ingest_files lacks completes that bookkeeping from it and does not read
those files again. ops.run_log is re-derived at the end of every
run and written only when it differs. Concurrent runs are kept apart by the
lake's lease (debut.lease, taken by the CLI).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io, schemas
from debut.config import Config
from debut.ingest import common as c
from debut.ingest import events as ev
from debut.ingest import tabular as tb

JOB = "ingest"
BATCH = "debut_ingest_batch"    # key of a data commit's userMetadata: the batch's ops.ingest_files rows
RECORDED = "debut_ingest_recorded"  # key of an ops.ingest_files commit's userMetadata: {source, data_version}
COUNTS = ("read", "accepted", "quarantined", "duplicates")


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
    span: Optional[str] = None             # validated timestamp column whose dates are the table's partitions


SOURCES = (
    Source("events", "events", (".jsonl", ".json"), "bronze.events", ev.read_lines, ev.validate_events,
           ev.to_bronze_events, id_format="json", span="_time"),
    Source("orders", "orders", (".csv",), "bronze.orders",
           lambda s, p: tb.read_csv(s, p, schemas.ORDER_FIELDS), tb.validate_orders, tb.to_bronze_orders,
           update=True, update_condition=tb.ORDER_UPDATE_CONDITION, id_format="csv"),
    Source("catalog", "catalog", (".csv",), "bronze.catalog",
           lambda s, p: tb.read_csv(s, p, schemas.CATALOG_FIELDS), tb.validate_catalog, tb.to_bronze_catalog),
    Source("candidates", "candidates", (".csv",), "bronze.candidates",
           lambda s, p: tb.read_csv(s, p, schemas.CANDIDATE_FIELDS), tb.validate_candidates,
           tb.to_bronze_candidates),
)


def ingest_source(spark: SparkSession, conf: Config, run_date: dt.date, src: Source, key: bytes,
                  files: List[c.LandingFile]) -> Tuple[Dict, List[dict]]:
    """Ingest one source's new ``files``; returns its counts and its ops.ingest_files rows.

    The rows to write (``changes``: new keys, or order lines whose status moved
    on) are computed against the table as it is when the run starts, counted per
    file, then written; the per-file counts are the authoritative record.
    Writes go quarantine, then data: the data commit carries the batch's
    per-file counts (``BATCH``). The run records every source's rows in
    ops.ingest_files in one commit at its end (``record``); a run that dies
    before that is completed by the next one (``complete_unrecorded``) and never
    re-appended.
    """
    paths = [f.path for f in files]
    # the raw text is kept for quarantined rows only (good rows are tie-broken by its hash, _rawh)
    validated = (src.validate(src.read(spark, paths), run_date, conf.ingest)
                 .withColumn("_raw", F.when(F.col("_reason").isNotNull(), F.col("_raw")))
                 .persist(StorageLevel.MEMORY_AND_DISK))
    changes = None
    try:
        # One pass over the files' text parses and validates every row (cached): per file,
        # rows read and quarantined, and the good rows' days (they bound the dedup against the table).
        read_rows = c.read_counts(validated, src.span).collect()   # one row per file read
        rows = src.to_bronze(validated.where(F.col("_reason").isNull()), key, run_date)
        changes = _changes(spark, conf, src, rows, c.span_of(read_rows)).persist(StorageLevel.MEMORY_AND_DISK)
        # The second and last pass dedups and pseudonymises the good rows (cached): per file, rows accepted.
        accepted = {r["source_file"]: r["accepted"] for r in
                    changes.groupBy("source_file").agg(F.count(F.lit(1)).alias("accepted")).collect()}
        count_rows = c.count_rows(files, read_rows, accepted, src.name, run_date)
        if sum(r["quarantined"] for r in count_rows):
            bad = validated.where(F.col("_reason").isNotNull())
            if src.id_format:
                bad = c.redact_user_ids(bad, key, src.id_format)
            # insert-only on record_hash: a batch redone after a crash adds no second copy
            io.merge(c.to_quarantine(bad, src.name, run_date), conf, "quarantine.records", update=False)
        if sum(r["accepted"] for r in count_rows):
            with io.commit_metadata(spark, batch_metadata(src.name, run_date, count_rows)):
                if src.update:
                    io.merge(changes, conf, src.table, update=True, update_condition=src.update_condition)
                else:
                    io.append(changes, conf, src.table)
        c.crash_point(f"{JOB}:after_data_commit")
    finally:
        validated.unpersist()
        if changes is not None:
            changes.unpersist()
    total = {k: sum(r[k] for r in count_rows) for k in ("read", "accepted", "quarantined", "duplicates")}
    res = {"source": src.name, "files": len(files), **total}
    if res["duplicates"] < 0:  # more rows written than good rows read: a bug, never data to keep quiet about
        raise RuntimeError(f"ingest {src.name}: accepted more rows than were read: {res}")
    return res, count_rows


def record(spark: SparkSession, conf: Config, batches: Dict[str, List[dict]]) -> None:
    """One ops.ingest_files commit for the run's batches (source -> its rows). The commit
    says up to which data version each source is recorded (``RECORDED``)."""
    if not batches:
        return
    marks = [{"source": src.name,
              "data_version": io.version(spark, conf, src.table) if io.exists(spark, conf, src.table) else -1}
             for src in SOURCES if src.name in batches]
    with io.commit_metadata(spark, {RECORDED: marks}):
        io.merge(c.counts_frame(spark, [r for rows in batches.values() for r in rows]), conf, "ops.ingest_files")


def _recorded_marks(meta: dict) -> List[dict]:
    """The {source, data_version} marks of a bookkeeping commit's metadata: a list (one commit
    for a run's sources) or, as older runs wrote it, one mark."""
    marks = meta.get(RECORDED) or []
    return [m for m in (marks if isinstance(marks, list) else [marks]) if isinstance(m, dict)]


def batch_metadata(source: str, run_date: dt.date, count_rows) -> Dict:
    """What a data commit says about its batch: the ops.ingest_files rows it stands for."""
    return {BATCH: {"job": JOB, "source": source, "run_date": run_date.isoformat(),
                    "files": [[r["source_file"], r["file_size"], *[r[k] for k in COUNTS]] for r in count_rows]}}


def complete_unrecorded(spark: SparkSession, conf: Config, src: Source) -> Optional[dt.date]:
    """Finish the bookkeeping of a batch whose data committed but whose ops.ingest_files
    rows did not (the run died between the two); returns that batch's run date.

    Only the table's latest commit can be such a batch (runs hold the lake's
    lease, so nothing commits between a batch's data and its bookkeeping). It is
    recorded when its files are in ops.ingest_files with their sizes, or when an
    ops.ingest_files commit says the source is recorded up to that version (a
    later batch with nothing new re-recorded one of its files, re-delivered).
    """
    if not io.exists(spark, conf, src.table):
        return None
    version, meta = io.last_commit(spark, conf, src.table)
    batch = (meta or {}).get(BATCH)
    if not batch or batch.get("job") != JOB or batch.get("source") != src.name:
        return None
    run_date = dt.date.fromisoformat(batch["run_date"])
    rows = [(p, src.name, int(size), run_date, *[int(n) for n in ns]) for p, size, *ns in batch["files"]]
    known = set()
    if io.exists(spark, conf, "ops.ingest_files"):
        known = {(r["source_file"], r["file_size"]) for r in
                 io.read(spark, conf, "ops.ingest_files").where(F.col("source_file").isin([r[0] for r in rows]))
                 .select("source_file", "file_size").collect()}  # bounded by the batch's files
    missing = [r for r in rows if (r[0], r[2]) not in known]
    if not missing or _recorded_up_to(spark, conf, src.name) >= version:
        return None
    io.merge(spark.createDataFrame(missing, schemas.INGEST_FILES), conf, "ops.ingest_files")
    print(f"[{JOB}] {src.name}: completed the bookkeeping of {len(missing)} file(s) whose data committed at "
          f"{src.table} version {version} (run of {run_date}) before that run stopped")
    return run_date


def _recorded_up_to(spark: SparkSession, conf: Config, source: str, commits: int = 500) -> int:
    """The largest data version an ops.ingest_files commit (of the last ``commits``) records for ``source``."""
    import json
    best = -1
    if not io.exists(spark, conf, "ops.ingest_files"):
        return best
    for r in io.delta_table(spark, conf, "ops.ingest_files").history(commits).select("userMetadata").collect():
        try:
            marks = _recorded_marks(json.loads(r["userMetadata"] or "{}"))
        except (ValueError, AttributeError, TypeError):
            continue
        for mark in marks:
            if mark.get("source") == source:
                best = max(best, int(mark.get("data_version", -1)))
    return best


def update_run_log(spark: SparkSession, conf: Config, dates) -> None:
    """ops.run_log rows of ``dates`` re-derived from ops.ingest_files; written only when they differ
    (a rerun that changes nothing makes no commit)."""
    if not dates or not io.exists(spark, conf, "ops.ingest_files"):
        return
    # ops.ingest_files also holds files of `debut import`: only this job's sources here
    files = io.read(spark, conf, "ops.ingest_files").where(F.col("source").isin([s.name for s in SOURCES]))
    for day in sorted(dates):
        derived = c.run_log_rows(files, JOB, day)
        want = {tuple(r) for r in derived.collect()}  # one row per source
        have = set()
        if io.exists(spark, conf, "ops.run_log"):
            have = {tuple(r) for r in io.read(spark, conf, "ops.run_log")
                    .where((F.col("job") == JOB) & (F.col("run_date") == F.lit(day).cast("date")))
                    .select(*derived.columns).collect()}
        if want and want != have:
            io.merge(spark.createDataFrame(sorted(want), schemas.RUN_LOG), conf, "ops.run_log")


def _changes(spark: SparkSession, conf: Config, src: Source, rows: DataFrame,
             span: Optional[Tuple[dt.date, dt.date]] = None) -> DataFrame:
    """Rows of ``rows`` that change the table: new keys, or (for updatable sources)
    matched rows passing the update condition. Computed against the table's
    version at the start of the run, read by version number (time travel), so a
    recomputation after our own write (an evicted cache block) still sees the
    same target and yields the same rows. ``span``: the first and last day of
    the rows' partitions (src.span), None when the rows are not partitioned by day."""
    if not io.exists(spark, conf, src.table):
        return rows
    keys = list(io.spec(src.table).keys)
    target = io.read(spark, conf, src.table, version=io.version(spark, conf, src.table))
    if src.span:
        # Prune the target to the batch's days: a re-delivered event keeps its event_time.
        if span is None:   # no good row
            return rows
        (partition,) = io.spec(src.table).partition_by
        target = target.where(F.col(partition).between(*span))
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
    results, batches = {}, {}
    log_dates = {run_date}
    for src in SOURCES:
        recovered = complete_unrecorded(spark, conf, src)
        if recovered is not None:
            log_dates.add(recovered)
    landing = conf.paths.landing_dir.rstrip("/")
    listed = {src.name: c.list_landing_files(spark, f"{landing}/{src.subdir}", src.suffixes) for src in SOURCES}
    new = c.files_to_ingest(spark, conf, listed, run_date)
    for src in SOURCES:
        if not new[src.name]:
            print(f"[ingest] {src.name}: no new files")
            continue
        res, batches[src.name] = ingest_source(spark, conf, run_date, src, key, new[src.name])
        results[src.name] = res
        ok = res["read"] == res["accepted"] + res["quarantined"] + res["duplicates"]
        print(f"[ingest] {src.name}: files {res['files']}, read {res['read']:,} = accepted {res['accepted']:,}"
              f" + quarantined {res['quarantined']:,} + duplicates {res['duplicates']:,}"
              f"{'' if ok else '  (DOES NOT RECONCILE)'}")
    record(spark, conf, batches)
    update_run_log(spark, conf, log_dates)
    return results
