"""Shared ingest machinery: landing-file discovery, validation rules, quarantine rows,
the keyed hash that pseudonymises customer ids, and reconciliation counts.

A validated frame carries two extra columns, ``_reason`` (null when the row is
good) and ``_detail``; ``split`` turns it into the accepted rows and the
quarantine rows. Nothing is dropped: every row read is accepted, quarantined or
counted as a duplicate.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import signal
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

# ingest pseudonymises as it reads; the definition is shared with build_features
from debut.core.pseudonym import hash_key, hmac_reference, with_user_key  # noqa: F401


# Reason codes (stable: reports and alerts key on them).
INVALID_ENCODING = "invalid_encoding"
RECORD_TOO_LARGE = "record_too_large"
MALFORMED = "malformed_record"
MISSING_FIELD = "missing_field"
BAD_TYPE = "bad_type"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
UNKNOWN_VALUE = "unknown_value"
BAD_QUANTITY = "bad_quantity"
BAD_PRICE = "bad_price"
FUTURE_TIME = "future_time"
TOO_OLD = "too_old"

MAX_RECORD_CHARS = 65536
_DATE_DIR = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
_DATE_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


@dataclass(frozen=True)
class LandingFile:
    path: str
    size: int
    date: Optional[dt.date]


# Test hook: a job that reaches the named point (e.g. "ingest:after_data_commit") kills
# itself with SIGKILL there, as a crash or an OOM kill would: tests/test_concurrency.py.
KILL_AT_ENV = "DEBUT_TEST_KILL_AT"


def crash_point(name: str) -> None:
    """Die here, unannounced, when ``$DEBUT_TEST_KILL_AT`` names this point."""
    if os.environ.get(KILL_AT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


# ------------------------------------------------------------------ files
def list_landing_files(spark: SparkSession, root: str, suffixes: Tuple[str, ...]) -> List[LandingFile]:
    """Files under ``root`` (any Hadoop filesystem), with the date from their path.

    Paths are Hadoop's (``file:/...`` on a local disk). A local root is walked
    in Python (the same names, without a JVM round trip per file, which costs
    about 10 ms each); any other filesystem is listed through Hadoop.
    """
    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(_qualify(root))
    fs = path.getFileSystem(hconf)
    if not fs.exists(path):
        return []
    if fs.getScheme() == "file":
        listed = _walk_local(str(path.toUri().getPath()))
    else:
        listed = _list_hadoop(fs, path)
    out = []
    for name, size in listed:
        base = name.rsplit("/", 1)[-1]
        if base.startswith((".", "_")) or not base.endswith(suffixes):
            continue
        m = _DATE_DIR.search(name) or _DATE_NAME.search(base)
        out.append(LandingFile(name, size, dt.date.fromisoformat(m.group(1)) if m else None))
    return sorted(out, key=lambda f: f.path)


def _list_hadoop(fs, path) -> List[Tuple[str, int]]:
    """(path, size) of every file under ``path``, recursively, as Hadoop names them."""
    out = []
    it = fs.listFiles(path, True)
    while it.hasNext():
        status = it.next()
        out.append((status.getPath().toString(), int(status.getLen())))
    return out


def _walk_local(root: str) -> List[Tuple[str, int]]:
    """``_list_hadoop`` of a local directory: Hadoop's ``file:`` names, directory links followed."""
    if os.path.isfile(root):
        return [(f"file:{root}", os.path.getsize(root))]
    out = []
    for d, _, names in os.walk(root, followlinks=True):
        for n in names:
            full = os.path.join(d, n)
            if os.path.isfile(full):
                out.append((f"file:{os.path.normpath(full)}", os.path.getsize(full)))
    return out


def _qualify(path: str) -> str:
    """Relative local paths become absolute; schemes and absolute paths (a cluster's
    default filesystem, /Volumes on Databricks) are left to Hadoop."""
    return path if "://" in path or path.startswith("/") else os.path.abspath(path)


def path_exists(spark: SparkSession, path: str) -> bool:
    """Whether a Hadoop path (local, HDFS, object store) exists."""
    jpath = spark.sparkContext._jvm.org.apache.hadoop.fs.Path(path)
    return bool(jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()).exists(jpath))


def files_to_ingest(spark: SparkSession, conf, listed: Dict[str, List[LandingFile]],
                    run_date: dt.date) -> Dict[str, List[LandingFile]]:
    """Per source, its listed landing files dated on or before run_date that no earlier
    run ingested; one lookup in ops.ingest_files for all of them.

    A file is known by its path and size: a file re-delivered with new
    content under the same name is read again (its rows dedup on their keys).
    """
    from debut import io

    due = {name: [f for f in files if f.date is None or f.date <= run_date] for name, files in listed.items()}
    paths = sorted({f.path for files in due.values() for f in files})
    if not paths or not io.exists(spark, conf, "ops.ingest_files"):
        return due
    done = {(r["source_file"], r["file_size"]) for r in
            io.read(spark, conf, "ops.ingest_files")
            .where(F.col("source_file").isin(paths))
            .select("source_file", "file_size").collect()}  # bounded by the files listed
    return {name: [f for f in files if (f.path, f.size) not in done] for name, files in due.items()}


# ------------------------------------------------------------------ validation
@dataclass(frozen=True)
class Rule:
    reason: str
    failed: Column          # true when the row breaks the rule
    detail: Column


def first_failure(rules: Sequence[Rule]) -> Tuple[Column, Column]:
    """(_reason, _detail) of the first rule a row breaks, null when none."""
    reason = F.lit(None).cast("string")
    detail = F.lit(None).cast("string")
    for rule in reversed(rules):
        reason = F.when(rule.failed, F.lit(rule.reason)).otherwise(reason)
        detail = F.when(rule.failed, rule.detail).otherwise(detail)
    return reason, detail


def missing(col: str) -> Rule:
    c = F.col(col)
    return Rule(MISSING_FIELD, c.isNull() | (F.trim(c) == ""), F.lit(col))


def bad_cast(raw_col: str, typed: Column) -> Rule:
    """Present in the input but not convertible to its type."""
    raw = F.col(raw_col)
    return Rule(BAD_TYPE, raw.isNotNull() & (F.trim(raw) != "") & typed.isNull(),
                F.concat(F.lit(f"{raw_col}="), F.substring(raw, 1, 200)))


def parse_time(col: str) -> Column:
    """ISO-8601 with or without zone; UTC assumed when none is given."""
    c = F.trim(F.col(col))
    return F.coalesce(F.to_timestamp(c, "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX"),
                      F.to_timestamp(c, "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]"),
                      F.to_timestamp(c, "yyyy-MM-dd HH:mm:ss[.SSSSSS]"),
                      F.to_timestamp(c, "yyyy-MM-dd"))


def parse_int(col: str) -> Column:
    """Integer text ("2", "-3", "2.0"); "2.5" or "two" give null."""
    c = F.trim(F.col(col))
    return F.when(c.rlike(r"^[+-]?\d{1,9}(\.0*)?$"), c.cast("double").cast("int"))


def parse_double(col: str) -> Column:
    c = F.trim(F.col(col))
    return F.when(c.rlike(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"), c.cast("double"))


def has_bad_encoding(cols: Sequence[str]) -> Column:
    """Invalid UTF-8 in the input. Spark keeps the raw bytes in its strings, so
    byte-wise instr/contains miss them; a regex decodes to Java chars (U+FFFD)."""
    cond = F.lit(False)
    for c in cols:
        cond = cond | F.coalesce(F.col(c).rlike("\\uFFFD"), F.lit(False))
    return cond


def with_reason(df: DataFrame, rules: Sequence["Rule"]) -> DataFrame:
    """The first failing rule as _reason/_detail (null for a good row), and _rawh.

    _rawh (xxhash64 of the raw record) is the last tie-break when one key has
    several records in a file, so the raw text of good rows is not needed
    after validation: ingest keeps it only for rows going to quarantine.
    """
    reason, detail = first_failure(rules)
    return df.withColumn("_reason", reason).withColumn("_detail", detail).withColumn("_rawh", F.xxhash64("_raw"))


def time_window(run_date: dt.date, history_days: int, future_minutes: int) -> Tuple[dt.datetime, dt.datetime]:
    """[earliest, latest] event time accepted for a run."""
    end = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time()) + dt.timedelta(minutes=future_minutes)
    start = dt.datetime.combine(run_date - dt.timedelta(days=history_days), dt.time())
    return start, end


# ------------------------------------------------------------------ outputs
def to_quarantine(bad: DataFrame, source: str, run_date: dt.date) -> DataFrame:
    """Quarantine rows from a validated frame (needs _raw, _reason, _detail, source_file).

    record_hash numbers identical raw lines of one file, so two copies of the
    same bad line are two quarantine rows and the counts still reconcile.
    """
    w = (Window.partitionBy("source_file", "_raw").orderBy(F.lit(1))
         .rowsBetween(Window.unboundedPreceding, Window.currentRow))
    return bad.select(
        F.lit(source).alias("source"),
        F.col("source_file"),
        F.substring(F.col("_raw"), 1, MAX_RECORD_CHARS).alias("raw"),
        F.col("_reason").alias("reason"),
        F.col("_detail").alias("detail"),
        F.sha2(F.concat_ws("\u0001", F.col("source_file"), F.col("_raw"),
                           F.row_number().over(w).cast("string")), 256).alias("record_hash"),
        F.lit(run_date).cast("date").alias("ingest_run_date"),
    )


def file_counts(validated: DataFrame, accepted: DataFrame, files: Sequence[LandingFile],
                source: str, run_date: dt.date) -> DataFrame:
    """Per file: read, accepted, quarantined and duplicates (good rows not accepted).

    ``validated`` has one row per record read (source_file, _reason);
    ``accepted`` has one row per table row this run wrote (source_file).
    """
    spark = validated.sparkSession
    read = (validated.groupBy("source_file")
            .agg(F.count(F.lit(1)).alias("read"), F.count(F.col("_reason")).alias("quarantined")))
    acc = accepted.groupBy("source_file").agg(F.count(F.lit(1)).alias("accepted"))
    listing = spark.createDataFrame([(f.path, f.size) for f in files], "source_file string, file_size long")
    n = {c: F.coalesce(F.col(c), F.lit(0)).cast("long") for c in ("read", "accepted", "quarantined")}
    return (listing.join(read, on="source_file", how="left").join(acc, on="source_file", how="left")
            .select("source_file", F.lit(source).alias("source"), "file_size",
                    F.lit(run_date).cast("date").alias("ingest_run_date"),
                    n["read"].alias("read"), n["accepted"].alias("accepted"),
                    n["quarantined"].alias("quarantined"),
                    (n["read"] - n["accepted"] - n["quarantined"]).alias("duplicates")))


def read_counts(validated: DataFrame, span: Optional[str] = None) -> DataFrame:
    """Per file read: rows read, rows quarantined and, with ``span`` (a timestamp
    column), the first and last day of the good rows (``_lo``, ``_hi``). Small:
    one row per file."""
    good_day = F.when(F.col("_reason").isNull(), F.to_date(span)) if span else F.lit(None).cast("date")
    return (validated.groupBy("source_file")
            .agg(F.count(F.lit(1)).alias("read"), F.count(F.col("_reason")).alias("quarantined"),
                 F.min(good_day).alias("_lo"), F.max(good_day).alias("_hi")))


def span_of(read_rows) -> Optional[Tuple[dt.date, dt.date]]:
    """(first, last) good day over ``read_counts`` rows; None when no row has one."""
    los = [r["_lo"] for r in read_rows if r["_lo"] is not None]
    his = [r["_hi"] for r in read_rows if r["_hi"] is not None]
    return (min(los), max(his)) if los else None


def count_rows(files: Sequence[LandingFile], read_rows, accepted: dict, source: str,
               run_date: dt.date) -> List[dict]:
    """ops.ingest_files rows (as dicts, in its column order): per listed file, read and
    quarantined (``read_counts`` rows), accepted (``accepted``: source_file -> rows the
    run writes) and duplicates, the good rows not accepted. A listed file without
    a row read (empty) counts zeros."""
    read = {r["source_file"]: r for r in read_rows}
    out = []
    for f in files:
        r = read.get(f.path)
        n_read, n_bad = (int(r["read"]), int(r["quarantined"])) if r else (0, 0)
        n_acc = int(accepted.get(f.path, 0))
        out.append({"source_file": f.path, "source": source, "file_size": int(f.size), "ingest_run_date": run_date,
                    "read": n_read, "accepted": n_acc, "quarantined": n_bad,
                    "duplicates": n_read - n_acc - n_bad})
    return out


def counts_frame(spark: SparkSession, rows: List[dict]) -> DataFrame:
    """``count_rows`` as an ops.ingest_files frame."""
    from debut import schemas
    return spark.createDataFrame([tuple(r[f.name] for f in schemas.INGEST_FILES.fields) for r in rows],
                                 schemas.INGEST_FILES)


def run_log_rows(ingest_files: DataFrame, job: str, run_date: dt.date) -> DataFrame:
    """Sums of ops.ingest_files for one run: derived, so it always reconciles."""
    return (ingest_files.where(F.col("ingest_run_date") == F.lit(run_date).cast("date"))
            .groupBy("source")
            .agg(F.count(F.lit(1)).alias("files"), F.sum("read").alias("read"),
                 F.sum("accepted").alias("accepted"), F.sum("quarantined").alias("quarantined"),
                 F.sum("duplicates").alias("duplicates"))
            .select(F.lit(job).alias("job"), F.lit(run_date).cast("date").alias("run_date"), "source",
                    *[F.col(c).cast("long").alias(c) for c in ("files", "read", "accepted", "quarantined",
                                                              "duplicates")]))


def typed(df: DataFrame, schema: T.StructType) -> DataFrame:
    """Select ``schema``'s columns from ``df`` in order, cast to their types."""
    return df.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def source_file_col(spark: SparkSession, paths: Sequence[str]) -> Column:
    """The listed path of each row's file. ``_metadata.file_path`` is URL-encoded
    (a space reads %20) while listings and ops.ingest_files are not."""
    jvm_path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path
    pairs = []
    for p in paths:
        uri = jvm_path(p).toUri().toString()
        if uri != p:        # only paths with characters the URI escapes need the lookup (a per-row map scan)
            pairs += [F.lit(uri), F.lit(p)]
    encoded = F.col("_metadata.file_path")
    return F.coalesce(F.create_map(*pairs)[encoded], encoded) if pairs else encoded


_JSON_USER_ID = r'("user_id"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\s]+)'


def redact_user_ids(bad: DataFrame, key: bytes, fmt: str) -> DataFrame:
    """Quarantined records keep their text but never a raw customer id: the id is
    replaced by its user_key (the same HMAC bronze uses), so a quarantined row can
    still be matched to the customer's other rows without exposing who it is.

    ``fmt`` "json": the ``"user_id": ...`` member is found by pattern, so even a
    line too malformed to parse is redacted. "csv": the parsed user_id field is
    replaced wherever it stands in the line.
    """
    if fmt == "json":
        found = F.regexp_extract(F.col("_raw"), _JSON_USER_ID, 2)
        ident = F.when(found.startswith('"'), F.expr("substring(_uid_raw, 2, length(_uid_raw) - 2)")) \
            .otherwise(F.col("_uid_raw"))
        out = (bad.withColumn("_uid_raw", found).withColumn("_uid", F.when(found != "", ident))
               .transform(lambda d: with_user_key(d, key, src="_uid", dst="_ukey"))
               .withColumn("_raw", F.when(F.col("_ukey").isNull(), F.col("_raw")).otherwise(
                   F.regexp_replace("_raw", F.lit(_JSON_USER_ID),
                                    F.concat(F.lit('$1"'), F.col("_ukey"), F.lit('"')))))
               .drop("_uid_raw", "_ukey"))
        return out
    return (bad.withColumn("_uid", F.col("user_id"))
            .transform(lambda d: with_user_key(d, key, src="_uid", dst="_ukey"))
            .withColumn("_raw", redact(F.col("_raw"), F.col("user_id"), F.coalesce(F.col("_ukey"), F.lit(""))))
            .drop("_ukey"))


def blank(col: Column) -> Column:
    return col.isNull() | (F.trim(col) == "")


def redact(raw: Column, value: Column, replacement: Column) -> Column:
    """``raw`` with the CSV field equal to ``value`` (quoted or not) replaced.

    Used so that quarantine keeps the record but not the raw customer id (it
    holds the user_key instead). A record too malformed to place its fields may
    keep an id in another position.
    """
    quoted = F.concat(F.lit('(^|,)"?\\Q'), value, F.lit('\\E"?(?=,|$)'))
    by_field = F.regexp_replace(raw, quoted, F.concat(F.lit("$1"), replacement))
    anywhere = F.call_function("replace", raw, value, replacement)
    return (F.when(blank(value), raw)
            .when(value.contains("\\"), anywhere)  # a backslash could end the \\Q quote
            .otherwise(by_field))
