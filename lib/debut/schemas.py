"""Schemas: the landing-file contract and the Delta tables, as StructTypes.

Landing files are what a marketplace exports (and what debut.simulate writes):

  <landing>/events/date=YYYY-MM-DD/*.jsonl      one JSON object per line, EVENT_FIELDS
  <landing>/orders/date=YYYY-MM-DD/*.csv        header row, ORDER_FIELDS
  <landing>/catalog/catalog-YYYY-MM-DD.csv      full snapshot, CATALOG_FIELDS
  <landing>/candidates/candidates-YYYY-MM-DD.csv  candidate products, CANDIDATE_FIELDS

Times are ISO-8601 UTC strings ("2026-06-01T10:15:00Z"). The simulator's hidden
truth goes under paths.truth_dir and is never read by a pipeline stage.
"""
from __future__ import annotations

from pyspark.sql import types as T

EVENT_TYPES = ("view", "cart", "purchase", "search")
CHANNELS = ("web", "app", "store")
ORDER_STATUSES = ("completed", "cancelled", "returned")
ITEM_ATTRIBUTES = ("colour", "material", "style")

# ----------------------------------------------------------------- landing
EVENT_FIELDS = ("event_id", "event_time", "event_type", "user_id", "session_id", "item_id",
                "price", "quantity", "query", "channel")
ORDER_FIELDS = ("order_id", "line_no", "order_time", "user_id", "item_id", "quantity",
                "unit_price", "channel", "status", "status_time")
CATALOG_FIELDS = ("item_id", "category", "subcategory", "brand", "title", "colour", "material",
                  "style", "price", "unit_cost", "launch_date", "status")
CANDIDATE_FIELDS = ("candidate_id", "category", "subcategory", "brand", "title", "colour",
                    "material", "style", "price", "unit_cost", "min_order_qty")

# How landing JSON is parsed: everything as string first, so that a wrong type
# becomes a quarantine reason instead of a silent null.
RAW_EVENT = T.StructType([T.StructField(f, T.StringType()) for f in EVENT_FIELDS])

# ----------------------------------------------------------------- bronze
EVENTS = T.StructType([
    T.StructField("event_id", T.StringType(), False),
    T.StructField("event_time", T.TimestampType(), False),
    T.StructField("event_date", T.DateType(), False),
    T.StructField("event_type", T.StringType(), False),
    T.StructField("user_key", T.StringType(), False),     # keyed hash of user_id; raw ids stop at ingest
    T.StructField("session_id", T.StringType(), True),
    T.StructField("item_id", T.StringType(), True),       # null for searches
    T.StructField("price", T.DoubleType(), True),
    T.StructField("quantity", T.IntegerType(), True),
    T.StructField("query", T.StringType(), True),
    T.StructField("channel", T.StringType(), True),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("ingest_run_date", T.DateType(), False),
])

ORDERS = T.StructType([
    T.StructField("order_id", T.StringType(), False),
    T.StructField("line_no", T.IntegerType(), False),
    T.StructField("order_time", T.TimestampType(), False),
    T.StructField("order_date", T.DateType(), False),
    T.StructField("user_key", T.StringType(), True),      # null: guest checkout
    T.StructField("item_id", T.StringType(), False),
    T.StructField("quantity", T.IntegerType(), False),
    T.StructField("unit_price", T.DoubleType(), False),
    T.StructField("channel", T.StringType(), True),
    T.StructField("status", T.StringType(), False),
    T.StructField("status_time", T.TimestampType(), True),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("ingest_run_date", T.DateType(), False),
])

CATALOG = T.StructType([
    T.StructField("item_id", T.StringType(), False),
    T.StructField("category", T.StringType(), False),
    T.StructField("subcategory", T.StringType(), True),
    T.StructField("brand", T.StringType(), True),
    T.StructField("title", T.StringType(), True),
    T.StructField("colour", T.StringType(), True),
    T.StructField("material", T.StringType(), True),
    T.StructField("style", T.StringType(), True),
    T.StructField("price", T.DoubleType(), False),
    T.StructField("unit_cost", T.DoubleType(), True),
    T.StructField("launch_date", T.DateType(), True),
    T.StructField("status", T.StringType(), True),
    T.StructField("snapshot_date", T.DateType(), False),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("ingest_run_date", T.DateType(), False),
])

CANDIDATES = T.StructType([
    T.StructField("candidate_id", T.StringType(), False),
    T.StructField("category", T.StringType(), False),
    T.StructField("subcategory", T.StringType(), True),
    T.StructField("brand", T.StringType(), True),
    T.StructField("title", T.StringType(), True),
    T.StructField("colour", T.StringType(), True),
    T.StructField("material", T.StringType(), True),
    T.StructField("style", T.StringType(), True),
    T.StructField("price", T.DoubleType(), False),
    T.StructField("unit_cost", T.DoubleType(), False),
    T.StructField("min_order_qty", T.IntegerType(), True),
    T.StructField("plan_date", T.DateType(), False),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("ingest_run_date", T.DateType(), False),
])

QUARANTINE = T.StructType([
    T.StructField("source", T.StringType(), False),       # events | orders | catalog | candidates | adapter name
    T.StructField("source_file", T.StringType(), False),
    T.StructField("raw", T.StringType(), True),           # the record as read
    T.StructField("reason", T.StringType(), False),       # a reason code, see debut.ingest.reasons
    T.StructField("detail", T.StringType(), True),
    T.StructField("record_hash", T.StringType(), False),  # sha2 of source_file + raw: natural key for MERGE
    T.StructField("ingest_run_date", T.DateType(), False),
])

_COUNTS = [
    T.StructField("read", T.LongType(), False),
    T.StructField("accepted", T.LongType(), False),
    T.StructField("quarantined", T.LongType(), False),
    T.StructField("duplicates", T.LongType(), False),
]

# One row per landing file ingested, written in the same run as its data: the
# authoritative record of what was read and what became of each row.
INGEST_FILES = T.StructType([
    T.StructField("source_file", T.StringType(), False),
    T.StructField("source", T.StringType(), False),
    T.StructField("file_size", T.LongType(), False),
    T.StructField("ingest_run_date", T.DateType(), False),
    *_COUNTS,
])

# Per job x run_date x source: the sums over INGEST_FILES (derived, so it
# always reconciles: read = accepted + quarantined + duplicates).
RUN_LOG = T.StructType([
    T.StructField("job", T.StringType(), False),
    T.StructField("run_date", T.DateType(), False),
    T.StructField("source", T.StringType(), False),
    T.StructField("files", T.LongType(), False),
    *_COUNTS,
])
