"""Schemas: the landing-file contract and the Delta tables, as StructTypes.

Landing files are what a marketplace exports (and what debut.simulate writes):

  <landing>/events/date=YYYY-MM-DD/*.jsonl      one JSON object per line, EVENT_FIELDS
  <landing>/orders/date=YYYY-MM-DD/*.csv        header row, ORDER_FIELDS
  <landing>/catalog/catalog-YYYY-MM-DD.csv      full snapshot, CATALOG_FIELDS
  <landing>/candidates/candidates-YYYY-MM-DD.csv  candidate products, CANDIDATE_FIELDS

Times are ISO-8601 UTC strings ("2026-06-01T10:15:00Z"). The simulator's hidden
truth goes under paths.truth_dir; only the simulator's side (debut.simulate, its
evaluate_truth stage) reads it.
"""
from __future__ import annotations

from typing import Sequence

from pyspark.sql import types as T

from debut.core.quantiles import quantile_name  # noqa: F401 - re-exported

EVENT_TYPES = ("view", "cart", "purchase", "search")
CHANNELS = ("web", "app", "store")
ORDER_STATUSES = ("completed", "cancelled", "returned")
COMPLETED, CANCELLED, RETURNED = ORDER_STATUSES   # cancelled lines never count as purchases
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
    T.StructField("seller_id", T.StringType(), True),     # marketplaces with many sellers (order_lines import)
])

def product_fields(id_name: str = "item_id", unit_cost_nullable: bool = True):
    """The product description every catalog-like table shares, id first."""
    return [
        T.StructField(id_name, T.StringType(), False),
        T.StructField("category", T.StringType(), False),
        T.StructField("subcategory", T.StringType(), True),
        T.StructField("brand", T.StringType(), True),
        T.StructField("title", T.StringType(), True),
        T.StructField("colour", T.StringType(), True),
        T.StructField("material", T.StringType(), True),
        T.StructField("style", T.StringType(), True),
        T.StructField("price", T.DoubleType(), False),
        T.StructField("unit_cost", T.DoubleType(), unit_cost_nullable),
    ]

CATALOG = T.StructType(product_fields() + [
    T.StructField("launch_date", T.DateType(), True),
    T.StructField("status", T.StringType(), True),
    T.StructField("snapshot_date", T.DateType(), False),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("ingest_run_date", T.DateType(), False),
    T.StructField("category_source", T.StringType(), True),   # CATEGORY_SOURCES; null: written before it existed
    T.StructField("attributes", T.StringType(), True),   # numeric item attributes, a JSON object (name: value)
])
CATEGORY_SOURCES = ("given", "mapping", "derived", "none")   # export | user's file | title clusters | uncategorised

CANDIDATES = T.StructType(product_fields("candidate_id", unit_cost_nullable=False) + [
    T.StructField("min_order_qty", T.IntegerType(), True),
    T.StructField("plan_date", T.DateType(), False),
    T.StructField("source_file", T.StringType(), False),
    T.StructField("ingest_run_date", T.DateType(), False),
])

QUARANTINE = T.StructType([
    T.StructField("source", T.StringType(), False),       # events | orders | catalog | candidates | adapter name
    T.StructField("source_file", T.StringType(), False),
    T.StructField("raw", T.StringType(), True),           # the record as read
    T.StructField("reason", T.StringType(), False),       # a reason code, see debut.ingest.common
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


# =================================================================== features
# gold tables written by debut.features (build_features). Arrays in a fixed
# order: categories by ``category_index`` (0-based, sorted category names of
# the current catalog, stored with every item in gold.item_features), channels
# and event types in the order of CHANNELS / EVENT_TYPES above.
ATTRIBUTE_DIM = 128              # hashed one-hot of "field=value" tokens
SEQUENCE_PAD = 0                 # padding id in behaviour sequences (ids start at 1)

ITEM_FEATURES = T.StructType([
    T.StructField("item_id", T.StringType(), False),          # candidate_id for candidates
    T.StructField("is_candidate", T.BooleanType(), False),
    T.StructField("plan_date", T.DateType(), True),           # candidates: their plan; catalog items: null
    T.StructField("category", T.StringType(), False),
    T.StructField("category_index", T.IntegerType(), True),   # null: a category the catalog does not have
    T.StructField("subcategory", T.StringType(), True),
    T.StructField("brand", T.StringType(), True),
    T.StructField("title", T.StringType(), True),
    T.StructField("colour", T.StringType(), True),
    T.StructField("material", T.StringType(), True),
    T.StructField("style", T.StringType(), True),
    T.StructField("status", T.StringType(), True),            # catalog status; "candidate" for candidates
    T.StructField("price", T.DoubleType(), False),
    T.StructField("unit_cost", T.DoubleType(), True),
    T.StructField("margin_rate", T.DoubleType(), True),       # (price - unit_cost) / price
    T.StructField("price_band", T.IntegerType(), True),       # 1..features.price_bands within category
    T.StructField("relative_price", T.DoubleType(), True),    # price / catalog median price of the category
    T.StructField("attribute_vector", T.ArrayType(T.FloatType()), False),   # ATTRIBUTE_DIM
    T.StructField("text", T.StringType(), False),             # what was embedded
    T.StructField("text_hash", T.StringType(), False),        # sha2(model id + text): recompute when it moves
    T.StructField("text_embedding", T.ArrayType(T.FloatType()), True),      # features.embedding_dim
    T.StructField("as_of_date", T.DateType(), False),         # run_date of the last build that saw the item
])

CUSTOMER_PROFILE = T.StructType([
    T.StructField("user_key", T.StringType(), False),
    T.StructField("first_seen_date", T.DateType(), True),
    T.StructField("tenure_days", T.IntegerType(), True),      # as_of_date - first event or order
    T.StructField("last_purchase_date", T.DateType(), True),
    T.StructField("recency_days", T.IntegerType(), True),     # null: never purchased
    T.StructField("frequency", T.LongType(), False),          # orders with a line not cancelled
    T.StructField("units", T.LongType(), False),              # units kept (completed lines)
    T.StructField("monetary", T.DoubleType(), False),         # net revenue: completed lines (returns taken off)
    T.StructField("returned_value", T.DoubleType(), False),
    T.StructField("category_affinity", T.MapType(T.StringType(), T.DoubleType()), False),
    T.StructField("category_affinity_vector", T.ArrayType(T.FloatType()), False),  # by category_index
    T.StructField("price_sensitivity", T.DoubleType(), True),  # mean price paid / category median
    T.StructField("below_median_share", T.DoubleType(), True),  # share of purchases below the median
    T.StructField("sessions", T.LongType(), False),
    T.StructField("mean_session_minutes", T.DoubleType(), True),
    T.StructField("events_per_session", T.DoubleType(), True),
    T.StructField("purchase_session_share", T.DoubleType(), True),
    T.StructField("channel_mix", T.ArrayType(T.FloatType()), False),   # share of events by CHANNELS
    T.StructField("taste_embedding", T.ArrayType(T.FloatType()), True),
    T.StructField("segment", T.IntegerType(), True),
    T.StructField("as_of_date", T.DateType(), False),
])

SEGMENTS = T.StructType([
    T.StructField("segment", T.IntegerType(), False),          # 0 = largest
    T.StructField("size", T.LongType(), False),
    T.StructField("share", T.DoubleType(), False),
    T.StructField("top_categories", T.ArrayType(T.StringType()), False),   # by mean affinity, top 3
    T.StructField("mean_price_sensitivity", T.DoubleType(), True),
    T.StructField("mean_recency_days", T.DoubleType(), True),
    T.StructField("mean_frequency", T.DoubleType(), False),
    T.StructField("mean_monetary", T.DoubleType(), False),
    T.StructField("label", T.StringType(), False),            # "frequent, price-sensitive, shoes+bags"
    T.StructField("k", T.IntegerType(), False),                # segments chosen by silhouette
    T.StructField("silhouette", T.DoubleType(), True),
    T.StructField("as_of_date", T.DateType(), False),
])

BEHAVIOUR_SEQUENCES = T.StructType([
    T.StructField("user_key", T.StringType(), False),
    # oldest first, left-padded to features.sequence_length (pad: null / SEQUENCE_PAD / 0.0)
    T.StructField("seq_item_id", T.ArrayType(T.StringType()), False),
    T.StructField("seq_category", T.ArrayType(T.IntegerType()), False),   # category_index + 1
    T.StructField("seq_event", T.ArrayType(T.IntegerType()), False),      # EVENT_TYPES index + 1
    T.StructField("seq_gap", T.ArrayType(T.FloatType()), False),          # log1p(hours since previous)
    T.StructField("seq_length", T.IntegerType(), False),       # real (unpadded) interactions
    T.StructField("as_of_date", T.DateType(), False),
])

PURCHASE_INTENT = T.StructType([
    T.StructField("user_key", T.StringType(), False),
    T.StructField("category", T.StringType(), False),
    T.StructField("cutoff_date", T.DateType(), False),
    T.StructField("category_index", T.IntegerType(), False),
    # features as of the cutoff (data strictly before it)
    T.StructField("recency_days", T.IntegerType(), True),
    T.StructField("frequency", T.LongType(), False),
    T.StructField("monetary", T.DoubleType(), False),
    T.StructField("tenure_days", T.IntegerType(), True),
    T.StructField("category_share", T.DoubleType(), False),    # share of the weighted interactions
    T.StructField("category_views_28d", T.LongType(), False),
    T.StructField("category_carts_28d", T.LongType(), False),
    T.StructField("category_purchases", T.LongType(), False),  # order lines not cancelled, all history
    T.StructField("days_since_category_event", T.IntegerType(), True),
    # label: an order line (not cancelled) in the category in [cutoff, cutoff + intent_window_days)
    T.StructField("label", T.IntegerType(), False),
])

SEGMENT_MIX = T.StructType([
    T.StructField("candidate_id", T.StringType(), False),
    T.StructField("segment", T.IntegerType(), True),           # null: customers without a profile
    T.StructField("customers", T.LongType(), False),
    T.StructField("share", T.DoubleType(), False),             # of the candidate's audience
    T.StructField("score_share", T.DoubleType(), True),        # of the audience's summed score
])

# =================================================================== train_als
# gold tables written by debut.recommend (train_als). Factors are the ALS
# latent vectors (length recommend.rank); an item without interactions has
# factors mapped from its content (is_cold).
ALS_USER_FACTORS = T.StructType([
    T.StructField("user_key", T.StringType(), False),
    T.StructField("factors", T.ArrayType(T.FloatType()), True),
    T.StructField("as_of_date", T.DateType(), False),
])

ALS_ITEM_FACTORS = T.StructType([
    T.StructField("item_id", T.StringType(), False),
    T.StructField("factors", T.ArrayType(T.FloatType()), True),
    T.StructField("is_cold", T.BooleanType(), False),          # mapped from content, not fitted by ALS
    T.StructField("as_of_date", T.DateType(), False),
])

# gold.launch_audience: the top-K customers of each candidate of a plan
LAUNCH_AUDIENCE = T.StructType([
    T.StructField("candidate_id", T.StringType(), False),
    T.StructField("plan_date", T.DateType(), False),
    T.StructField("user_key", T.StringType(), False),
    T.StructField("score", T.DoubleType(), True),
    T.StructField("rank", T.IntegerType(), False),             # 1 = strongest
    T.StructField("segment", T.IntegerType(), True),
])

# gold.item_audience: every item's audience strength from content-mapped factors
ITEM_AUDIENCE = T.StructType([
    T.StructField("item_id", T.StringType(), False),
    T.StructField("is_candidate", T.BooleanType(), True),
    T.StructField("audience_score_sum", T.DoubleType(), False),   # over the top-K customers
    T.StructField("audience_score_mean", T.DoubleType(), True),
    T.StructField("audience_reach", T.LongType(), False),         # customers with a positive score
    T.StructField("top_segment", T.IntegerType(), True),
    T.StructField("top_segment_share", T.DoubleType(), True),
    T.StructField("as_of_date", T.DateType(), False),
])

# gold.recommendations: each customer's list, new items in reserved slots
RECOMMENDATIONS = T.StructType([
    T.StructField("user_key", T.StringType(), False),
    T.StructField("rank", T.IntegerType(), False),
    T.StructField("item_id", T.StringType(), False),
    T.StructField("score", T.DoubleType(), False),
    T.StructField("is_new", T.BooleanType(), False),
    T.StructField("as_of_date", T.DateType(), False),
])

# =================================================== silver/gold aggregate
# Written by debut.aggregate (bronze -> silver, and gold.launch_history).
# ``agg_run_date``: run_date of the aggregate run that last wrote the row; its
# max over a table is that table's incremental watermark (bronze rows with a
# later ingest_run_date are what the next run has to fold in).

SESSIONS = T.StructType([
    T.StructField("session_key", T.StringType(), False),  # sha2(user_key | start_time in epoch micros)
    T.StructField("user_key", T.StringType(), False),
    T.StructField("session_date", T.DateType(), False),   # event_date of the first event
    T.StructField("start_time", T.TimestampType(), False),
    T.StructField("end_time", T.TimestampType(), False),
    T.StructField("duration_s", T.LongType(), False),
    T.StructField("n_events", T.LongType(), False),
    T.StructField("n_views", T.LongType(), False),
    T.StructField("n_carts", T.LongType(), False),
    T.StructField("n_purchases", T.LongType(), False),
    T.StructField("n_searches", T.LongType(), False),
    T.StructField("n_log_sessions", T.LongType(), False),  # distinct session_id of the log inside it
    T.StructField("channel", T.StringType(), True),       # the first event's, null when it had none
    T.StructField("has_purchase", T.BooleanType(), False),
    T.StructField("agg_run_date", T.DateType(), False),
])

ITEM_DAILY = T.StructType([
    T.StructField("item_id", T.StringType(), False),
    T.StructField("date", T.DateType(), False),
    T.StructField("category", T.StringType(), True),      # latest catalog snapshot; null: not in the catalog
    T.StructField("views", T.LongType(), False),
    T.StructField("carts", T.LongType(), False),
    T.StructField("purchases", T.LongType(), False),      # purchase events
    T.StructField("units", T.LongType(), False),          # quantity of purchase events
    T.StructField("revenue", T.DoubleType(), False),      # price x quantity of purchase events
    T.StructField("ordered_units", T.LongType(), False),  # order lines not cancelled (completed + returned)
    T.StructField("returned_units", T.LongType(), False),
    T.StructField("net_units", T.LongType(), False),      # ordered_units - returned_units
    T.StructField("view_to_cart", T.DoubleType(), True),  # carts / views; null without views
    T.StructField("cart_to_purchase", T.DoubleType(), True),  # purchases / carts; null without carts
    T.StructField("conversion", T.DoubleType(), True),    # purchases / views; null without views
    T.StructField("is_stockout_suspected", T.BooleanType(), False),  # heuristic, see aggregate.items
    T.StructField("agg_run_date", T.DateType(), False),
])

CATEGORY_DAILY = T.StructType([
    T.StructField("category", T.StringType(), True),      # null: items missing from the catalog
    T.StructField("date", T.DateType(), False),
    T.StructField("views", T.LongType(), False),
    T.StructField("carts", T.LongType(), False),
    T.StructField("purchases", T.LongType(), False),
    T.StructField("units", T.LongType(), False),
    T.StructField("revenue", T.DoubleType(), False),
    T.StructField("net_units", T.LongType(), False),
    T.StructField("active_items", T.LongType(), False),   # items with a view, cart or purchase that day
    T.StructField("new_items", T.LongType(), False),      # catalog items whose launch_date is that day
    T.StructField("agg_run_date", T.DateType(), False),
])

USER_ITEM = T.StructType([
    T.StructField("user_key", T.StringType(), False),
    T.StructField("item_id", T.StringType(), False),
    T.StructField("views", T.LongType(), False),
    T.StructField("carts", T.LongType(), False),
    T.StructField("purchases", T.LongType(), False),
    T.StructField("units", T.LongType(), False),
    T.StructField("last_event_time", T.TimestampType(), False),
    T.StructField("weight", T.DoubleType(), False),       # sum of event_weight x 2^(-age_days / half_life)
    T.StructField("as_of_date", T.DateType(), False),     # run_date the ages are measured to
])

LAUNCH_HISTORY = T.StructType(product_fields() + [
    T.StructField("launch_date", T.DateType(), False),
    T.StructField("is_launch_date_inferred", T.BooleanType(), False),  # catalog had none: first event
    T.StructField("week", T.IntegerType(), False),        # 1 = launch_date .. launch_date + 6
    T.StructField("week_start", T.DateType(), False),
    T.StructField("units", T.LongType(), False),          # purchase-event quantity; 0 when nothing sold
    T.StructField("views", T.LongType(), False),
    T.StructField("is_complete", T.BooleanType(), False),  # the whole week lies before run_date
    T.StructField("as_of_date", T.DateType(), False),
])


# ========================================================== evaluation
# gold.evaluation: every measured number of every stage, one row per metric.
# Written through debut.tracking.record_metrics (MERGE on the key, so a rerun
# replaces its own rows), and logged to the stage's MLflow run as well.
EVALUATION = T.StructType([
    T.StructField("run_date", T.DateType(), False),
    T.StructField("component", T.StringType(), False),   # recommend | deep.ctr | forecast | optimize | adjust ...
    T.StructField("metric", T.StringType(), False),      # ndcg@10, wape, coverage_p10_p90, profit_pct_oracle ...
    T.StructField("slice", T.StringType(), False),       # "all", "warm", "cold", "cutoff=2026-08-01", "baseline=popularity" ...
    T.StructField("value", T.DoubleType(), True),
    T.StructField("n", T.LongType(), True),              # rows / users / launches behind the number
    T.StructField("recorded_at", T.TimestampType(), False),
])

# ops.stage_status: what each stage part did with this run's inputs (debut.core.status)
STAGE_STATUS = T.StructType([
    T.StructField("job", T.StringType(), False),
    T.StructField("run_date", T.DateType(), False),
    T.StructField("part", T.StringType(), False),        # customers, als, ctr, audience ...
    T.StructField("status", T.StringType(), False),      # ok | skipped | failed
    T.StructField("reason", T.StringType(), True),       # why a part was skipped or failed
    T.StructField("rows", T.LongType(), True),           # rows the part wrote or used, when known
])


# bronze.launch_history_input: launch histories given as a file (`debut import launch_history`)
LAUNCH_HISTORY_INPUT = T.StructType(product_fields() + [
    T.StructField("launch_date", T.DateType(), False),
    T.StructField("week", T.IntegerType(), False),          # 1 = launch_date .. launch_date + 6
    T.StructField("units", T.LongType(), False),            # as gold.launch_history.units
    T.StructField("source_file", T.StringType(), False),
    T.StructField("ingest_run_date", T.DateType(), False),
])


# ====================================================================== stage outputs (gold)
# gold.launch_forecast: one row per candidate of a plan (key candidate_id, plan_date;
# partitioned by plan_date). The optimizer samples demand scenarios from
# quantile_levels/quantile_units by inverse CDF; the report shows neighbours.
# Quantile column names follow forecast.quantiles (0.1 -> units_p10, weekly_p10).
NEIGHBOUR = T.StructType([
    T.StructField("item_id", T.StringType(), True),
    T.StructField("title", T.StringType(), True),
    T.StructField("similarity", T.DoubleType(), True),
    T.StructField("units", T.DoubleType(), True),          # its units over the horizon (as used)
])

METHODS = ("blend", "knn_only", "category_fallback", "global_model")




def launch_forecast_schema(quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> T.StructType:
    names = [quantile_name(q) for q in quantiles]
    return T.StructType([
        T.StructField("candidate_id", T.StringType(), False),
        T.StructField("plan_date", T.DateType(), False),
        T.StructField("category", T.StringType(), False),
        T.StructField("subcategory", T.StringType(), True),
        T.StructField("brand", T.StringType(), True),
        T.StructField("title", T.StringType(), True),
        T.StructField("price", T.DoubleType(), True),
        T.StructField("unit_cost", T.DoubleType(), True),
        T.StructField("price_band", T.IntegerType(), True),
        T.StructField("horizon_weeks", T.IntegerType(), False),
        T.StructField("mean_units", T.DoubleType(), False),     # mean of quantile_units (the scenario grid)
        *[T.StructField(f"units_{n}", T.DoubleType(), False) for n in names],
        *[T.StructField(f"weekly_{n}", T.ArrayType(T.DoubleType()), False) for n in names],
        T.StructField("quantile_levels", T.ArrayType(T.DoubleType()), False),   # 1/(L+1) .. L/(L+1)
        T.StructField("quantile_units", T.ArrayType(T.DoubleType()), False),    # total units, non-decreasing
        T.StructField("knn_units", T.DoubleType(), True),       # component P50s; null when absent
        T.StructField("net_units", T.DoubleType(), True),
        T.StructField("audience_units", T.DoubleType(), True),
        T.StructField("weights", T.MapType(T.StringType(), T.DoubleType()), True),
        T.StructField("neighbours", T.ArrayType(NEIGHBOUR), True),
        T.StructField("method", T.StringType(), False),          # METHODS
        T.StructField("n_history", T.IntegerType(), False),      # past launches the forecast learned from
        T.StructField("as_of_date", T.DateType(), False),
    ])


LAUNCH_FORECAST = launch_forecast_schema()

# gold.forecast_backtest: one row per cutoff, past launch and method.
FORECAST_BACKTEST = T.StructType([
    T.StructField("cutoff_date", T.DateType(), False),
    T.StructField("item_id", T.StringType(), False),
    T.StructField("method", T.StringType(), False),          # blend | knn | category_mean
    T.StructField("category", T.StringType(), False),
    T.StructField("launch_date", T.DateType(), False),
    T.StructField("actual", T.DoubleType(), False),          # units over the horizon
    T.StructField("p10", T.DoubleType(), True),              # lower / middle / upper forecast.quantiles
    T.StructField("p50", T.DoubleType(), True),
    T.StructField("p90", T.DoubleType(), True),
    T.StructField("mean_units", T.DoubleType(), True),
    T.StructField("n_train", T.IntegerType(), False),        # past launches known at the cutoff
    T.StructField("run_date", T.DateType(), False),
])


# gold.demand_net_predictions: train_deep's demand network scored on every past launch of
# gold.launch_history and every candidate of the run date (key run_date, item_id), with the
# date its training launches end before: forecast reads this instead of the model.
DEMAND_NET_PREDICTIONS = T.StructType([
    T.StructField("run_date", T.DateType(), False),          # train_deep's run (= the plan date it scored)
    T.StructField("item_id", T.StringType(), False),         # a past launch's item_id or a candidate_id
    T.StructField("is_candidate", T.BooleanType(), False),
    T.StructField("launch_date", T.DateType(), True),        # past launches only
    T.StructField("as_of_date", T.DateType(), False),        # features (category context) as of this date
    T.StructField("trained_before", T.DateType(), False),    # launches before this date trained the network
    T.StructField("model_name", T.StringType(), False),
    T.StructField("model_version", T.IntegerType(), False),
    T.StructField("quantile_levels", T.ArrayType(T.DoubleType()), False),
    T.StructField("quantile_log1p", T.ArrayType(T.DoubleType()), True),  # log1p units; null: no features
])


# gold.launch_plan: one row per candidate, key (category, candidate_id, plan_date). The optimizer's
# UDF also yields a status row per failed category (candidate_id null): the job writes those to
# gold.launch_plan_status, never to the plan.
PLAN_SCHEMA = T.StructType([
    T.StructField("plan_date", T.DateType(), False),
    T.StructField("category", T.StringType(), False),
    T.StructField("candidate_id", T.StringType(), True),
    T.StructField("subcategory", T.StringType(), True),
    T.StructField("price_band", T.IntegerType(), True),
    T.StructField("price", T.DoubleType(), True),
    T.StructField("unit_cost", T.DoubleType(), True),
    T.StructField("horizon_weeks", T.IntegerType(), True),
    T.StructField("launch", T.BooleanType(), False),
    T.StructField("quantity", T.IntegerType(), False),         # units stocked (0 when not launched)
    T.StructField("spend", T.DoubleType(), True),              # unit_cost x quantity
    T.StructField("expected_demand", T.DoubleType(), True),    # mean of the demand scenarios
    T.StructField("expected_units_sold", T.DoubleType(), True),
    T.StructField("expected_leftover", T.DoubleType(), True),
    T.StructField("expected_profit", T.DoubleType(), True),    # incl. salvage and launch cost; 0 when not launched
    T.StructField("profit_p10", T.DoubleType(), True),         # 10th percentile across scenarios
    T.StructField("stockout_prob", T.DoubleType(), True),      # P(demand > quantity); null when not launched
    T.StructField("margin_rate", T.DoubleType(), True),        # (price - unit_cost) / price
    T.StructField("solver_status", T.StringType(), False),     # optimal | time_limit | infeasible | no_candidates | no_solution | error
    T.StructField("mip_gap", T.DoubleType(), True),
    T.StructField("objective", T.DoubleType(), True),          # the category's objective value
    T.StructField("reason", T.StringType(), True),
    T.StructField("decision_rank", T.IntegerType(), True),     # 1 = best decision of the category
    T.StructField("formulation", T.StringType(), True),        # piecewise | scenario
    T.StructField("n_scenarios", T.IntegerType(), True),
    T.StructField("solve_time_s", T.DoubleType(), True),       # the whole category, sampling included
])


# gold.launch_plan_status: the optimizer's outcome per category and plan date (key category, plan_date)
PLAN_STATUS = T.StructType([
    T.StructField("plan_date", T.DateType(), False),
    T.StructField("category", T.StringType(), False),
    T.StructField("solver_status", T.StringType(), False),     # as PLAN_SCHEMA; "error" when nothing came back
    T.StructField("reason", T.StringType(), True),             # why a category has no plan
    T.StructField("candidates", T.LongType(), False),
    T.StructField("launches", T.LongType(), False),
    T.StructField("units", T.LongType(), True),
    T.StructField("spend", T.DoubleType(), True),
    T.StructField("expected_profit", T.DoubleType(), True),    # over the candidates
    T.StructField("mip_gap", T.DoubleType(), True),
    T.StructField("solve_time_s", T.DoubleType(), True),
])


# gold.launch_adjustments: one row per launched candidate and review date
LAUNCH_ADJUSTMENTS = T.StructType([
    T.StructField("candidate_id", T.StringType(), False),
    T.StructField("as_of_date", T.DateType(), False),
    T.StructField("plan_date", T.DateType(), False),
    T.StructField("category", T.StringType(), True),
    T.StructField("days_observed", T.IntegerType(), False),
    T.StructField("units_sold", T.LongType(), False),
    T.StructField("censored_days", T.IntegerType(), False),
    T.StructField("demand_estimate", T.DoubleType(), False),   # sold + expected demand on censored days
    T.StructField("expected_units", T.DoubleType(), False),    # forecast P50 over the observed days
    T.StructField("pace_ratio", T.DoubleType(), True),         # demand_estimate / expected_units
    T.StructField("prior_rate", T.DoubleType(), False),        # units per day
    T.StructField("posterior_rate", T.DoubleType(), False),
    T.StructField("posterior_alpha", T.DoubleType(), False),
    T.StructField("posterior_beta", T.DoubleType(), False),
    T.StructField("remaining_days", T.IntegerType(), False),
    T.StructField("remaining_p10", T.DoubleType(), False),     # negative binomial posterior predictive
    T.StructField("remaining_p50", T.DoubleType(), False),
    T.StructField("remaining_p90", T.DoubleType(), False),
    T.StructField("stock_on_hand", T.DoubleType(), False),     # received - sold (+ reorders on the way)
    T.StructField("critical_fractile", T.DoubleType(), False),
    T.StructField("reorder_qty", T.IntegerType(), False),
    T.StructField("action", T.StringType(), False),            # keep | reorder | markdown | delist | breakout
    T.StructField("is_breakout", T.BooleanType(), False),
    T.StructField("breakout_boost", T.DoubleType(), False),    # 1.0 unless a breakout
    T.StructField("reason", T.StringType(), False),
])


# gold.launch_outcomes: each policy's plan played against realised demand (key plan_date, policy,
# candidate_id); see debut.evaluate.schema for what each demand_source means.
POLICY_PLAN = "plan"                 # the optimizer's gold.launch_plan
POLICY_ORACLE = "oracle"             # best plan knowing the realised demand
POLICY_CEILING_MEAN = "ceiling_exact_mean"     # simulator only: the MILP fed each candidate's exact
                                                #   expected demand (what no forecast can beat on average)
POLICY_CEILING_ATTRIBUTES = "ceiling_attributes"  # simulator only: the MILP fed the demand the attributes
                                                #   imply, noise integrated out (the best pre-launch forecast)
POLICY_STATIC = "static"             # closed loop: the plan, never adjusted
POLICY_ADJUSTED = "adjusted"         # closed loop: the plan with the adjust rules

LAUNCH_OUTCOMES = T.StructType([
    T.StructField("plan_date", T.DateType(), False),
    T.StructField("policy", T.StringType(), False),
    T.StructField("candidate_id", T.StringType(), False),
    T.StructField("category", T.StringType(), True),
    T.StructField("demand_source", T.StringType(), False),
    T.StructField("launched", T.BooleanType(), False),
    T.StructField("quantity", T.IntegerType(), False),      # initial stock
    T.StructField("reorder_units", T.IntegerType(), False),
    T.StructField("reorders", T.IntegerType(), False),
    T.StructField("demand", T.LongType(), True),            # units wanted over the horizon
    T.StructField("weekly_demand", T.ArrayType(T.LongType()), True),
    T.StructField("units_sold", T.LongType(), True),
    T.StructField("lost_units", T.LongType(), True),
    T.StructField("leftover", T.LongType(), True),
    T.StructField("revenue", T.DoubleType(), True),
    T.StructField("stock_cost", T.DoubleType(), True),
    T.StructField("fixed_cost", T.DoubleType(), True),      # launch cost + reorder costs
    T.StructField("salvage", T.DoubleType(), True),
    T.StructField("profit", T.DoubleType(), True),
    T.StructField("actions", T.StringType(), True),         # adjusted policy: "day 14: reorder 30; ..."
    T.StructField("run_date", T.DateType(), False),
])


# ops.leases: the run that holds the lake (debut.lease), one row per lease name.
LEASES = T.StructType([
    T.StructField("lease", T.StringType(), False),
    T.StructField("job", T.StringType(), False),
    T.StructField("run_id", T.StringType(), False),
    T.StructField("owner", T.StringType(), False),       # host:pid
    T.StructField("acquired_at", T.TimestampType(), False),
    T.StructField("expires_at", T.TimestampType(), False),
])
