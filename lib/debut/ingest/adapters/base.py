"""What the import adapters share: the adapter contract, header-mapped all-string
reads, parsing that never raises, customer-id redaction and change detection.

Every adapter reads rows with ``source_file``, ``_rid`` (a record's position,
unique and increasing within its file), ``_raw`` and ``_corrupt`` plus its
fields as strings; validates them into ``_reason``/``_detail`` (common.Rule);
and plans ``Write``s: the rows that change a table, computed against the table
before anything is written.
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from debut import io, schemas
from debut.config import Config, ConfigError, IngestConf
from debut.ingest import common as c
from debut.ingest.common import LandingFile, blank, redact, source_file_col  # noqa: F401  (adapters use b.blank, b.source_file_col)

# Reason codes the adapters add to those of debut.ingest.common.
UNSUPPORTED_EVENT_TYPE = "unsupported_event_type"   # a known type of the format that debut does not model
NOT_A_PRODUCT = "not_a_product"                     # postage, fees, adjustments, tests ...
BAD_WEEK = "bad_week"                               # launch week below 1
PRODUCT_REJECTED = "product_rejected"               # another record of the same product was quarantined
INCONSISTENT_PRODUCT = "inconsistent_product"       # records of one product disagree
OUTLIER_QUANTITY = "outlier_quantity"               # far above the item's own typical line (ingest.outlier_*)

_INT = r"^[+-]?\d{1,9}(\.0*)?$"
_DOUBLE = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


@dataclass(frozen=True)
class Write:
    """Rows that change ``table``: new keys, or (``update``) rows whose content moved."""
    table: str
    rows: DataFrame
    schema: T.StructType
    update: bool = False
    counted: bool = False     # its (source_file, _rid) are the records counted as accepted


@dataclass(frozen=True)
class Adapter:
    name: str
    suffixes: Tuple[str, ...]
    read: Callable[[SparkSession, Sequence[LandingFile]], DataFrame]
    validate: Callable[[DataFrame, dt.date, IngestConf, bytes], DataFrame]
    plan: Callable[[SparkSession, Config, DataFrame, dt.date], List[Write]]


# ------------------------------------------------------------------ reading
def header_fields(spark: SparkSession, path: str) -> Optional[List[str]]:
    """The header row of a CSV file as a list of names; None for an empty file."""
    lines = spark.sparkContext.textFile(path).take(1)
    if not lines:
        return None
    return next(csv.reader([lines[0].lstrip("\ufeff")]))


def norm_name(name: str) -> str:
    return name.strip().lower()


def csv_line(cols: Sequence[str]) -> Column:
    """Fields joined back into a CSV line (quoted where needed): ``_raw`` of a parsed row."""
    def field(c: str) -> Column:
        v = F.coalesce(F.col(c), F.lit(""))
        needs = v.rlike('[",\\r\\n]')
        return F.when(needs, F.concat(F.lit('"'), F.regexp_replace(v, '"', '""'), F.lit('"'))).otherwise(v)
    return F.concat_ws(",", *[field(c) for c in cols])


def read_csv_group(spark: SparkSession, paths: Sequence[str], fields: Sequence[str]) -> DataFrame:
    """CSV files sharing one header, all fields as strings, by position.

    RFC-4180 quoting (a quote inside a quoted field is doubled). A row whose
    field count differs from the header's keeps its line in ``_corrupt``.
    ``_rid`` comes from the scan itself, so it follows the order of the file.
    """
    schema = T.StructType([T.StructField(f, T.StringType()) for f in fields]
                          + [T.StructField("_corrupt", T.StringType())])
    df = (spark.read.schema(schema)
          .option("header", True).option("mode", "PERMISSIVE")
          .option("columnNameOfCorruptRecord", "_corrupt")
          .option("quote", '"').option("escape", '"')
          .option("multiLine", False).option("encoding", "UTF-8")
          .csv(list(paths)))
    return df.select(source_file_col(spark, paths).alias("source_file"),
                     F.monotonically_increasing_id().alias("_rid"),
                     F.coalesce(F.col("_corrupt"), csv_line(fields)).alias("_raw"),
                     F.col("_corrupt"), *fields)


def read_csv_files(spark: SparkSession, files: Sequence[LandingFile],
                   to_fields: Callable[[str, List[str]], List[str]]) -> List[Tuple[Tuple[str, ...], DataFrame]]:
    """Read files grouped by header; ``to_fields(path, header)`` maps a header to
    the canonical field names (raising ConfigError when it does not fit).
    Empty files are skipped (they count as zero rows read)."""
    groups: Dict[Tuple[str, ...], List[str]] = {}
    for f in files:
        header = header_fields(spark, f.path)
        if header is None:
            continue
        groups.setdefault(tuple(to_fields(f.path, header)), []).append(f.path)
    return [(fields, read_csv_group(spark, paths, fields)) for fields, paths in groups.items()]


NANOS_AS_LONG = "spark.sql.legacy.parquet.nanosAsLong"


def _local_nanos(paths) -> Optional[bool]:
    """Whether the local Parquet files at ``paths`` hold nanosecond timestamps (the first file of a
    folder stands for the folder); None when a path is not a local one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = []
    for p in paths:
        local = p[len("file:"):] if p.startswith("file:") else p
        if "://" in local or not os.path.exists(local):
            return None
        if os.path.isdir(local):
            found = sorted(os.path.join(r, f) for r, _, fs in os.walk(local) for f in fs
                           if f.endswith(".parquet") and not f.startswith((".", "_")))
            files += found[:1]
        else:
            files.append(local)
    return any(pa.types.is_timestamp(f.type) and f.type.unit == "ns"
               for path in files for f in pq.read_schema(path))


def read_parquet(spark: SparkSession, *paths: str) -> DataFrame:
    """spark.read.parquet, also for files with nanosecond timestamps (pandas' default),
    which Spark reads only as epoch-nanosecond longs (see ``epoch_nanos``). Local files are
    looked at first (their footers, with pyarrow); elsewhere the read is tried, which logs the
    failed task's stack trace before the second read."""
    nanos = _local_nanos(paths)
    if nanos:
        spark.conf.set(NANOS_AS_LONG, "true")
    if nanos is not None:
        return spark.read.parquet(*paths)
    try:
        df = spark.read.parquet(*paths)
        df.schema  # noqa: B018 - the footer is read here
        return df
    except Exception as exc:  # noqa: BLE001
        if "NANOS" not in str(exc):
            raise
    spark.conf.set(NANOS_AS_LONG, "true")
    return spark.read.parquet(*paths)


def epoch_nanos(col: Column) -> Column:
    """"1505814335000000000" (a nanosecond timestamp read as a long) -> timestamp."""
    t = F.trim(col)
    return F.when(t.rlike(r"^\d{16,19}$"), F.timestamp_micros(F.floor(t.cast("long") / 1000)))


def read_parquet_group(spark: SparkSession, paths: Sequence[str], names: Sequence[str]) -> DataFrame:
    """Parquet files of one schema, every column as a string named by ``names`` (NaN read as empty).
    ``_raw`` is the record as JSON; ``_rid`` follows the scan."""
    df = read_parquet(spark, *paths)
    vals = []
    for f in df.schema.fields:
        col = F.col(f"`{f.name}`")
        if isinstance(f.dataType, (T.DoubleType, T.FloatType)):
            col = F.when(~F.isnan(col), col)
        vals.append(col.cast("string"))
    raw = F.to_json(F.struct(*[v.alias(f.name) for v, f in zip(vals, df.schema.fields)]))
    return df.select(source_file_col(spark, paths).alias("source_file"),
                     F.monotonically_increasing_id().alias("_rid"), raw.alias("_raw"),
                     F.lit(None).cast("string").alias("_corrupt"),
                     *[v.alias(n) for v, n in zip(vals, names)])


def union_all(frames: Sequence[DataFrame]) -> DataFrame:
    return functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)


def empty_rows(spark: SparkSession, fields: Sequence[str]) -> DataFrame:
    schema = T.StructType([T.StructField("source_file", T.StringType()), T.StructField("_rid", T.LongType()),
                           T.StructField("_raw", T.StringType()), T.StructField("_corrupt", T.StringType())]
                          + [T.StructField(f, T.StringType()) for f in fields])
    return spark.createDataFrame([], schema)


def map_header(fmt: str, path: str, header: Sequence[str], aliases: Dict[str, str],
               required: Sequence[str]) -> List[str]:
    """Canonical names for ``header`` (in its order); ConfigError naming what is wrong."""
    out = []
    for name in header:
        key = norm_name(name).replace(" ", "").replace("_", "")
        if key not in aliases:
            raise ConfigError(f"{fmt}: {path}: unexpected column {name!r} (expected {', '.join(required)})")
        out.append(aliases[key])
    absent = [r for r in required if r not in out]
    if absent or len(set(out)) != len(out):
        raise ConfigError(f"{fmt}: {path}: header {','.join(header)!r} does not match the format "
                          f"(expected {', '.join(required)}{'; missing ' + ', '.join(absent) if absent else ''})")
    return out


# ------------------------------------------------------------------ parsing (never raises)
def nonblank(col: Column) -> Column:
    """Trimmed value, null when empty."""
    return F.when(~blank(col), F.trim(col))


def to_int(col: Column) -> Column:
    """Integer text ("2", "-3", "2.0"); anything else null."""
    t = F.trim(col)
    return F.when(t.rlike(_INT), t.cast("double").cast("int"))


def to_double(col: Column) -> Column:
    t = F.trim(col)
    return F.when(t.rlike(_DOUBLE), t.cast("double"))


# Casts (unlike to_timestamp with a pattern) give null on bad input under any
# spark.sql.legacy.timeParserPolicy; the regexes pin the accepted shapes.
_ISO_TS = r"^\d{4}-\d{2}-\d{2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d{1,6})?)?( ?(Z|UTC|[+-]\d{2}:?\d{2}))?$"
_ISO_DATE = r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$"
_US_TS = r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(:(\d{2}))?$"


def iso_timestamp(col: Column) -> Column:
    """"2019-10-01 00:00:00 UTC", "2019-10-01T00:00:00Z", "2009-12-01 07:45:00" (UTC when no zone)."""
    t = F.trim(col)
    return F.when(t.rlike(_ISO_TS), t.cast("timestamp"))


def us_timestamp(col: Column) -> Column:
    """"12/1/2009 7:45" (month/day/year, as Excel writes US dates), seconds optional."""
    t = F.trim(col)
    part = lambda i: F.regexp_extract(t, _US_TS, i)  # noqa: E731
    iso = F.concat(part(3), F.lit("-"), F.lpad(part(1), 2, "0"), F.lit("-"), F.lpad(part(2), 2, "0"), F.lit(" "),
                   F.lpad(part(4), 2, "0"), F.lit(":"), part(5), F.lit(":"),
                   F.when(part(7) != "", part(7)).otherwise(F.lit("00")))
    return F.when(t.rlike(_US_TS), iso.cast("timestamp"))


def iso_date(col: Column) -> Column:
    """"2024-03-04" (a time part, as Parquet timestamps print, is dropped)."""
    t = F.trim(col)
    return F.when(t.rlike(_ISO_DATE), t.cast("date"))


# ------------------------------------------------------------------ privacy
def without_raw_id(df: DataFrame, id_col: str) -> DataFrame:
    """Drop the raw customer id column and put the user_key in its place in ``_raw``.
    Called after validation, so the rules saw the record as read."""
    return (df.withColumn("_raw", redact(F.col("_raw"), F.col(id_col), F.col("user_key")))
            .drop(id_col))


# ------------------------------------------------------------------ batch rules
def with_item_outliers(df: DataFrame, *, item: str, qty: str, standing: Column, ic: IngestConf) -> DataFrame:
    """Quarantine (``outlier_quantity``) a good, standing line whose quantity is above
    ``ingest.outlier_ratio`` x its item's median line quantity and above
    ``ingest.outlier_min_quantity``: a robust per-item rule instead of a global cap,
    so a wholesale line of an item that often sells in hundreds stays. The median
    (the lower one: an item's only two lines never flag each other) is over the
    item's standing lines of this import."""
    if ic.outlier_ratio <= 0:
        return df
    good = F.col("_reason").isNull() & standing
    medians = (df.where(good).groupBy(item)
               .agg(F.percentile_approx(qty, 0.5, 1000000).alias("_item_median")))
    flagged = (good & (F.col(qty) > F.lit(ic.outlier_ratio) * F.col("_item_median"))
               & (F.col(qty) > F.lit(ic.outlier_min_quantity)))
    detail = F.format_string(f"quantity=%d > {ic.outlier_ratio:g} x item median %d", F.col(qty),
                             F.col("_item_median").cast("int"))
    return (df.join(medians, on=item, how="left")
            .withColumn("_detail", F.when(flagged, detail).otherwise(F.col("_detail")))
            .withColumn("_reason", F.when(flagged, F.lit(OUTLIER_QUANTITY)).otherwise(F.col("_reason")))
            .drop("_item_median"))


# ------------------------------------------------------------------ writes
def changed_rows(spark: SparkSession, conf: Config, table: str, rows: DataFrame,
                 compare: Sequence[str] = ()) -> DataFrame:
    """Rows of ``rows`` that change ``table``: keys it lacks, or (``compare`` given)
    keys whose compared columns differ. ``rows`` holds one row per key."""
    if not io.exists(spark, conf, table):
        return rows
    keys = list(io.spec(table).keys)
    target = io.read(spark, conf, table, version=io.version(spark, conf, table))  # pinned: safe to recompute after the write
    parts = io.spec(table).partition_by
    if len(parts) == 1 and parts[0] in rows.columns:
        lo, hi = rows.agg(F.min(parts[0]), F.max(parts[0])).first()
        if lo is None:
            return rows
        target = target.where(F.col(parts[0]).between(lo, hi))
    if not compare:
        return rows.join(target.select(*keys), on=keys, how="left_anti")
    t = target.select(*keys, *[F.col(c).alias(f"_t_{c}") for c in compare], F.lit(True).alias("_t_found"))
    differs = functools.reduce(lambda a, b: a | b, [~F.col(c).eqNullSafe(F.col(f"_t_{c}")) for c in compare])
    return (rows.join(t, on=keys, how="left")
            .where(F.col("_t_found").isNull() | differs)
            .select(*rows.columns))


def run_date_col(run_date: dt.date) -> Column:
    return F.lit(run_date).cast("date")


CATALOG_CONTENT = ("category", "subcategory", "brand", "title", "colour", "material", "style", "price",
                   "unit_cost", "launch_date", "status", "category_source", "attributes")


def catalog_write(spark: SparkSession, conf: Config, items: DataFrame, run_date: dt.date,
                  id_norm: Callable[[Column], Column] = F.trim) -> Write:
    """bronze.catalog rows derived from behaviour: snapshot run_date, status active.

    ``items``: item_id, category (null: the export has none), subcategory, brand,
    title, price, source_file, optionally attributes (one row per item). The
    category comes from ingest.categories_file, else the export, else clusters of
    the titles (debut.ingest.categories), with ``category_source`` saying which.
    launch_date stays unknown (null: aggregate infers it from the first sale, after
    its burn-in) unless bronze.catalog already holds one from another source.
    unit_cost is price x ingest.unit_cost_share when that is set.
    A derived row replaces a row of the same item and snapshot date.
    """
    from debut.ingest import categories

    if "attributes" not in items.columns:
        items = items.withColumn("attributes", F.lit(None).cast("string"))
    items = categories.assign(spark, conf, items, id_norm=id_norm)
    if io.exists(spark, conf, "bronze.catalog"):
        known = (io.read(spark, conf, "bronze.catalog").groupBy("item_id")
                 .agg(F.min("launch_date").alias("_known_launch")))
        items = items.join(known, on="item_id", how="left")
    else:
        items = items.withColumn("_known_launch", F.lit(None).cast("date"))
    share = conf.ingest.unit_cost_share
    unit_cost = F.round(F.col("price") * F.lit(share), 4) if share is not None else F.lit(None)
    rows = items.select(
        "item_id", "category", "subcategory", "brand", "title",
        F.lit(None).cast("string").alias("colour"), F.lit(None).cast("string").alias("material"),
        F.lit(None).cast("string").alias("style"), "price", unit_cost.cast("double").alias("unit_cost"),
        F.col("_known_launch").alias("launch_date"), F.lit("active").alias("status"),
        run_date_col(run_date).alias("snapshot_date"), "source_file",
        run_date_col(run_date).alias("ingest_run_date"), "category_source", "attributes",
    ).transform(lambda df: c.typed(df, schemas.CATALOG))
    return Write("bronze.catalog", changed_rows(spark, conf, "bronze.catalog", rows, CATALOG_CONTENT),
                 schemas.CATALOG, update=True)
