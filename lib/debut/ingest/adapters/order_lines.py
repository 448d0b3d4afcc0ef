"""Generic order lines (CSV or Parquet) + an item-attributes file -> bronze.orders,
purchase events of identified customers, and derived bronze.catalog.

Line columns (canonical name: what a header may call it, names case- and
underscore-insensitive; ``ingest.order_lines_columns`` / ``--column
NAME=COLUMN`` map any other column, ``--preset`` a known export):
  item_id (required)     item_id, product_id, sku, stock_code, item, product
  time (required)        time, order_time, order_date, timestamp, invoice_date, date
  price (required)       price, unit_price   (per unit, > 0)
  quantity               quantity, qty, units; absent: one row per unit sold (1)
  order_id               order_id, invoice, invoice_no; absent: one order per (time, customer)
  line_no                line_no, line, order_item_id; absent: position within the order, in file order
  customer_id            customer_id, user_id, customer; absent or empty: a guest line
  seller_id              seller_id, seller, vendor_id
Other columns are ignored (kept in quarantined records' raw text).

- item_id and ids are trimmed (case kept: ids of this format are opaque, e.g. hashes).
- A guest line (no customer id) is an order line with a null user_key and no
  event: its units are demand, never a faked purchase. A line of a known
  customer also makes a purchase event.
- Rules: the common ones (missing, bad types, future/too old times), quantity
  below 1, price <= 0 or above ingest.max_price, and the per-item outlier rule
  (ingest.outlier_ratio / outlier_min_quantity). Reconciliation counts the lines:
  read = accepted + quarantined + duplicates (a repeated (order_id, line_no)).
- Items file (ingest.items_file / ``--items``; CSV with a header or Parquet):
  one row per item; its id column (item_id, product_id, or items_columns.item_id),
  optional category, subcategory, brand, title (or items_columns.<name>), and
  every other numeric column becomes ``attributes`` (a JSON object name: value;
  from_json(attributes, 'map<string,double>') reads it back). Other text
  columns are not kept. Items without a category get one from
  debut.ingest.categories; category names can be renamed
  (ingest.category_names_file). The catalog lists the items that have lines.

Olist (``--preset olist``): order_items.parquet (order_id, order_item_id =
line_no, product_id, seller_id, shipping_limit_date = time, price; one row per
unit) with ``--items products.parquet`` (category product_category_name; the
lengths, photo count, weight and dimensions become attributes) and
``--category-names product_category_name_translation.parquet``.
"""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from debut import schemas
from debut.config import Config, ConfigError, IngestConf
from debut.ingest import common as c
from debut.ingest.adapters import base as b

NAME = "order_lines"
FIELDS = ("order_id", "line_no", "item_id", "time", "quantity", "price", "customer_id", "seller_id")
REQUIRED = ("item_id", "time", "price")
_ALIASES = {
    "order_id": ("orderid", "invoice", "invoiceno"),
    "line_no": ("lineno", "line", "orderitemid", "linenumber"),
    "item_id": ("itemid", "productid", "sku", "stockcode", "item", "product"),
    "time": ("time", "ordertime", "orderdate", "timestamp", "invoicedate", "date"),
    "quantity": ("quantity", "qty", "units"),
    "price": ("price", "unitprice"),
    "customer_id": ("customerid", "userid", "customer"),
    "seller_id": ("sellerid", "seller", "vendorid"),
}
ITEM_FIELDS = ("item_id", "category", "subcategory", "brand", "title")
_ITEM_ALIASES = {"item_id": ("itemid", "productid", "sku", "stockcode"),
                 "category": ("category", "categoryname", "productcategoryname"),
                 "subcategory": ("subcategory",), "brand": ("brand",), "title": ("title", "name", "description")}
PRESETS: Dict[str, Dict[str, Dict[str, str]]] = {
    "olist": {"lines": {"order_id": "order_id", "line_no": "order_item_id", "item_id": "product_id",
                        "time": "shipping_limit_date", "price": "price", "seller_id": "seller_id"},
              "items": {"item_id": "product_id", "category": "product_category_name"}},
}


def _key(name: str) -> str:
    return b.norm_name(name).replace(" ", "").replace("_", "")


def _mapping(ic: IngestConf, which: str, fields: Sequence[str]) -> Dict[str, str]:
    """canonical -> source column name (normalised) from the preset and the explicit keys."""
    key = "ingest.order_lines_columns" if which == "lines" else "ingest.items_columns"
    out: Dict[str, str] = {}
    if ic.order_lines_preset:
        if ic.order_lines_preset not in PRESETS:
            raise ConfigError(f"key 'ingest.order_lines_preset': unknown preset {ic.order_lines_preset!r} "
                              f"(known: {', '.join(PRESETS)})")
        out.update(PRESETS[ic.order_lines_preset][which])
    explicit = ic.order_lines_columns if which == "lines" else ic.items_columns
    for k, v in explicit.items():
        if k not in fields:
            raise ConfigError(f"key '{key}.{k}': unknown field (known: {', '.join(fields)})")
        out[k] = v
    return {k: _key(v) for k, v in out.items()}


def map_columns(path: str, header: Sequence[str], explicit: Dict[str, str], aliases: Dict[str, Sequence[str]],
                fields: Sequence[str], required: Sequence[str], what: str) -> List[str]:
    """Canonical names for ``header`` (unused columns become ``_extra_<i>``); ConfigError
    naming the file when a required field has no column."""
    keys = [_key(h) for h in header]
    out = [f"_extra_{i}" for i in range(len(header))]
    for f in fields:
        wanted = [explicit[f]] if f in explicit else list(aliases.get(f, ()))
        for w in wanted:
            if w in keys and out[keys.index(w)].startswith("_extra_"):
                out[keys.index(w)] = f
                break
        else:
            if f in explicit:
                raise ConfigError(f"{NAME}: {path}: column {explicit[f]!r} for {f} not found "
                                  f"(columns: {', '.join(header)})")
    absent = [r for r in required if r not in out]
    if absent:
        raise ConfigError(f"{NAME}: {path}: no {what} column for {', '.join(absent)} (columns: {', '.join(header)}; "
                          f"map one with --column NAME=COLUMN or ingest.order_lines_columns)")
    return out


# ------------------------------------------------------------------ reading
def _raw_names(path: str, header: Sequence[str]) -> List[str]:
    """Every column kept, named ``c_<normalised name>``; the mapping happens in validate."""
    keys = [f"c_{_key(h)}" for h in header]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{NAME}: {path}: repeated column names in {', '.join(header)}")
    return keys


def read(spark: SparkSession, files: Sequence[c.LandingFile]) -> DataFrame:
    csvs = [f for f in files if not f.path.endswith(".parquet")]
    groups = b.read_csv_files(spark, csvs, _raw_names) if csvs else []
    by_schema: Dict[str, List[str]] = {}
    for f in files:
        if f.path.endswith(".parquet"):
            by_schema.setdefault(b.read_parquet(spark, f.path).schema.json(), []).append(f.path)
    for paths in by_schema.values():
        names = _raw_names(paths[0], b.read_parquet(spark, paths[0]).columns)
        groups.append((tuple(names), b.read_parquet_group(spark, paths, names)))
    return b.union_all([df for _, df in groups] or [b.empty_rows(spark, [])])


def to_fields(rows: DataFrame, ic: IngestConf) -> DataFrame:
    """The canonical FIELDS from the columns read (preset, explicit mapping, aliases)."""
    explicit = _mapping(ic, "lines", FIELDS)
    have = {col[2:] for col in rows.columns if col.startswith("c_")}
    cols = []
    for f in FIELDS:
        wanted = [explicit[f]] if f in explicit else [_key(f), *_ALIASES[f]]
        found = next((w for w in wanted if w in have), None)
        if found is None and f in explicit and have:
            raise ConfigError(f"key 'ingest.order_lines_columns.{f}': column {explicit[f]!r} not in the lines "
                              f"(columns: {', '.join(sorted(have))})")
        if found is None and f in REQUIRED and have:
            raise ConfigError(f"{NAME}: no column for {f} (columns: {', '.join(sorted(have))}); map one with "
                              f"--column {f}=COLUMN or ingest.order_lines_columns.{f}")
        cols.append(F.col(f"c_{found}").alias(f) if found else F.lit(None).cast("string").alias(f))
    return rows.select("source_file", "_rid", "_raw", "_corrupt", *cols)


# ------------------------------------------------------------------ validation
def parse_time(col: Column) -> Column:
    """A line's time as a timestamp: ISO, US "12/1/2009 7:45", a date, or epoch nanoseconds; else null."""
    return F.coalesce(b.iso_timestamp(col), b.us_timestamp(col), b.iso_date(col).cast("timestamp"),
                      b.epoch_nanos(col))


def validate(rows: DataFrame, run_date: dt.date, ic: IngestConf, key: bytes) -> DataFrame:
    """Rules in order, first failure wins, then the per-item outlier rule; adds
    order_id, line_no and user_key, and drops the raw customer id."""
    rows = to_fields(rows, ic)
    earliest, latest = c.time_window(run_date, ic.history_days, ic.max_future_minutes)
    given_order = b.nonblank(F.col("order_id"))
    customer = b.nonblank(F.regexp_replace(F.trim("customer_id"), r"^(\d+)\.0*$", "$1"))
    order_id = F.coalesce(given_order, F.concat(F.lit("t"), F.sha2(F.concat_ws(
        "\u0001", F.trim("time"), F.coalesce(customer, F.lit(""))), 256).substr(1, 24)))
    in_order = Window.partitionBy("source_file", "order_id").orderBy("_rid")
    df = (rows
          .withColumn("_time", parse_time(F.col("time")))
          .withColumn("_qty", F.when(b.blank(F.col("quantity")), F.lit(1)).otherwise(b.to_int(F.col("quantity"))))
          .withColumn("_price", b.to_double(F.col("price")))
          .withColumn("_line", b.to_int(F.col("line_no")))
          .withColumn("_item", b.nonblank(F.col("item_id")))
          .withColumn("order_id", order_id)
          .withColumn("_line", F.coalesce(F.col("_line"), F.when(b.blank(F.col("line_no")),
                                                                  F.row_number().over(in_order))))
          .withColumn("_uid", customer)
          .transform(lambda d: c.with_user_key(d, key, src="_uid")))
    qty = F.col("_qty")
    rules = [
        c.Rule(c.INVALID_ENCODING, c.has_bad_encoding(["_raw"]), F.lit("invalid UTF-8 bytes")),
        c.Rule(c.RECORD_TOO_LARGE, F.length("_raw") > c.MAX_RECORD_CHARS,
               F.concat(F.lit("chars="), F.length("_raw").cast("string"))),
        c.Rule(c.MALFORMED, F.col("_corrupt").isNotNull(), F.lit("field count differs from the header")),
        c.missing("item_id"), c.missing("time"), c.missing("price"),
        c.bad_cast("time", F.col("_time")), c.bad_cast("quantity", qty), c.bad_cast("price", F.col("_price")),
        c.bad_cast("line_no", b.to_int(F.col("line_no"))),
        c.Rule(c.BAD_QUANTITY, qty < 1, F.concat(F.lit("quantity="), qty.cast("string"))),
        c.Rule(c.BAD_QUANTITY, F.col("_line") < 0, F.concat(F.lit("line_no="), F.col("_line").cast("string"))),
        c.Rule(c.BAD_PRICE, (F.col("_price") <= 0) | (F.col("_price") > ic.max_price),
               F.concat(F.lit("price="), F.col("_price").cast("string"))),
        c.Rule(c.FUTURE_TIME, F.col("_time") > F.lit(latest), F.col("time")),
        c.Rule(c.TOO_OLD, F.col("_time") < F.lit(earliest), F.col("time")),
    ]
    reason, detail = c.first_failure(rules)
    return (df.withColumn("_reason", reason).withColumn("_detail", detail)
            .transform(lambda d: b.with_item_outliers(d, item="_item", qty="_qty", standing=F.lit(True), ic=ic))
            .transform(lambda d: b.without_raw_id(d, "customer_id")))


# ------------------------------------------------------------------ output
def to_orders(good: DataFrame, run_date: dt.date) -> DataFrame:
    """One row per (order_id, line_no), the first copy in file order; keeps source_file and _rid."""
    first = Window.partitionBy("order_id", "_line").orderBy("source_file", "_rid")
    return (good.withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1)
            .select("order_id", F.col("_line").alias("line_no"), F.col("_time").alias("order_time"),
                    F.to_date("_time").alias("order_date"), "user_key", F.col("_item").alias("item_id"),
                    F.col("_qty").alias("quantity"), F.col("_price").alias("unit_price"),
                    F.lit(None).cast("string").alias("channel"), F.lit("completed").alias("status"),
                    F.col("_time").alias("status_time"), "source_file",
                    b.run_date_col(run_date).alias("ingest_run_date"), b.nonblank(F.col("seller_id")).alias("seller_id"),
                    "_rid"))


def to_purchase_events(orders: DataFrame) -> DataFrame:
    """A purchase event per line of a known customer (guest lines make none)."""
    return (orders.where(F.col("user_key").isNotNull())
            .select(F.sha2(F.concat_ws("\u0001", F.lit(NAME), "order_id", F.col("line_no").cast("string")), 256)
                    .alias("event_id"),
                    F.col("order_time").alias("event_time"), F.col("order_date").alias("event_date"),
                    F.lit("purchase").alias("event_type"), "user_key", F.lit(None).cast("string").alias("session_id"),
                    "item_id", F.col("unit_price").alias("price"), "quantity",
                    F.lit(None).cast("string").alias("query"), "channel", "source_file", "ingest_run_date"))


def read_items(spark: SparkSession, ic: IngestConf) -> DataFrame:
    """The items file: item_id, category, subcategory, brand, title, attributes (one row per item)."""
    path = ic.items_file
    if path.rstrip("/").endswith(".parquet"):
        df = b.read_parquet(spark, path)
    else:
        df = spark.read.option("header", True).option("inferSchema", True).option("escape", '"').csv(path)
    names = map_columns(path, df.columns, _mapping(ic, "items", ITEM_FIELDS), _ITEM_ALIASES, ITEM_FIELDS,
                        ("item_id",), "item id")
    numeric = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)
    attrs = [f.name for f, n in zip(df.schema.fields, names)
             if n.startswith("_extra_") and isinstance(f.dataType, numeric)]
    col = lambda f: F.col(f"`{df.columns[names.index(f)]}`") if f in names else F.lit(None)  # noqa: E731
    pairs = [F.when(F.col(f"`{a}`").isNotNull() & ~F.isnan(F.col(f"`{a}`").cast("double")),
                    F.struct(F.lit(a).alias("k"), F.col(f"`{a}`").cast("double").alias("v"))) for a in attrs]
    entries = F.map_from_entries(F.filter(F.array(*pairs), lambda p: p.isNotNull())) if pairs else None
    attributes = (F.when(F.size(entries) > 0, F.to_json(entries)) if pairs else F.lit(None).cast("string"))
    out = df.select(F.trim(col("item_id").cast("string")).alias("item_id"),
                    *[b.nonblank(col(f).cast("string")).alias(f"_i_{f}") for f in ITEM_FIELDS[1:]],
                    attributes.alias("attributes"))
    one = Window.partitionBy("item_id").orderBy(F.to_json(F.struct(*[c for c in out.columns if c != "item_id"])))
    return (out.where(F.col("item_id").isNotNull() & (F.col("item_id") != ""))
            .withColumn("_n", F.row_number().over(one)).where(F.col("_n") == 1).drop("_n"))


def to_catalog_items(spark: SparkSession, good: DataFrame, ic: IngestConf) -> DataFrame:
    """Per item with lines: latest unit price, attributes and category from the items file; brand
    from the items file, else the seller of the item's latest line (a marketplace's vendor: its
    past launches are what the forecaster's seller/brand history learns from)."""
    latest = Window.partitionBy("item_id").orderBy(F.col("_time").desc(), F.col("source_file").desc(),
                                                   F.col("_rid").desc())
    priced = (good.withColumn("item_id", F.col("_item"))
              .withColumn("_n", F.row_number().over(latest)).where(F.col("_n") == 1)
              .select("item_id", F.col("_price").alias("price"), "source_file",
                      b.nonblank(F.col("seller_id")).alias("_seller")))
    if not ic.items_file:
        return priced.select("item_id", *[(F.col("_seller") if f == "brand" else F.lit(None).cast("string")).alias(f)
                                          for f in ITEM_FIELDS[1:]],
                             "price", "source_file", F.lit(None).cast("string").alias("attributes"))
    items = read_items(spark, ic)
    return (priced.join(items, on="item_id", how="left")
            .select("item_id", *[(F.coalesce(F.col("_i_brand"), F.col("_seller")) if f == "brand"
                                  else F.col(f"_i_{f}")).alias(f) for f in ITEM_FIELDS[1:]],
                    "price", "source_file", "attributes"))


def plan(spark: SparkSession, conf: Config, good: DataFrame, run_date: dt.date) -> List[b.Write]:
    orders = to_orders(good, run_date)
    events = to_purchase_events(orders)
    return [
        b.Write("bronze.orders", b.changed_rows(spark, conf, "bronze.orders", orders), schemas.ORDERS, counted=True),
        b.Write("bronze.events", b.changed_rows(spark, conf, "bronze.events", events), schemas.EVENTS),
        b.catalog_write(spark, conf, to_catalog_items(spark, good, conf.ingest), run_date),
    ]


# ------------------------------------------------------------------ a backtest's candidates
def first_sold_candidates(spark: SparkSession, conf: Config, good: DataFrame, *, start: dt.date,
                          end: dt.date) -> DataFrame:
    """Candidate rows (schemas.CANDIDATE_FIELDS) for a backtest on an export's own history: the
    items whose first accepted line (``good``: validate's rows without a reason) falls in
    [start, end), as debut would have been asked about them on ``start``.

    - price: the launch price, the mean unit price of the item's lines on its first day;
    - category, subcategory, brand, title: from the items file, renamed and derived exactly as
      its catalog rows are (debut.ingest.categories.assign); brand, when the file has none, the
      seller of the first day's lines, as in the catalog;
    - unit_cost: launch price x ingest.unit_cost_share (required: an export has no costs);
    - min_order_qty: empty (optimize.min_order_qty applies).
    Bounded by the candidates: one row per item first sold in the window."""
    from debut.ingest import categories

    share = conf.ingest.unit_cost_share
    if share is None:
        raise ConfigError("key 'ingest.unit_cost_share': must be set to derive candidates from an export "
                          "(it has no unit costs; e.g. 0.6 for a 40% gross margin)")
    day = F.to_date("_time")
    first = good.groupBy("_item").agg(F.min(day).alias("_first"))
    launch = (good.join(first, on="_item", how="inner").where(day == F.col("_first"))
              .where((F.col("_first") >= F.lit(start)) & (F.col("_first") < F.lit(end)))
              .groupBy("_item").agg(F.round(F.avg("_price"), 4).alias("price"),
                                    F.min(b.nonblank(F.col("seller_id"))).alias("_seller"))
              .withColumnRenamed("_item", "item_id"))
    if conf.ingest.items_file:
        items = read_items(spark, conf.ingest).select(
            "item_id", *[F.col(f"_i_{f}").alias(f) for f in ITEM_FIELDS[1:]])
        launch = launch.join(items, on="item_id", how="left")
    else:
        launch = launch.select("item_id", "price", "_seller",
                               *[F.lit(None).cast("string").alias(f) for f in ITEM_FIELDS[1:]])
    launch = launch.withColumn("brand", F.coalesce(F.col("brand"), F.col("_seller"))).drop("_seller")
    rows = categories.assign(spark, conf, launch)
    return rows.select(
        F.col("item_id").alias("candidate_id"), "category", "subcategory", "brand", "title",
        *[F.lit(None).cast("string").alias(f) for f in ("colour", "material", "style")],
        "price", F.round(F.col("price") * F.lit(share), 4).alias("unit_cost"),
        F.lit(None).cast("int").alias("min_order_qty"))


ADAPTER = b.Adapter(NAME, (".csv", ".csv.gz", ".parquet"), read, validate, plan)
