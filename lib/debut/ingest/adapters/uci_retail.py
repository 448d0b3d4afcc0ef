"""UCI Online Retail (I and II) invoice lines (CSV) -> bronze.orders, purchase
events for bronze.events and derived bronze.catalog.

Columns: Invoice (or InvoiceNo), StockCode, Description, Quantity, InvoiceDate
("12/1/2009 7:45", month first, or "2009-12-01 07:45:00"), Price (or
UnitPrice), Customer ID (or CustomerID), Country. Export each sheet of the
original .xlsx as CSV.

- An invoice starting with "C" is a cancellation: order_id without the C,
  status cancelled, quantity stored positive. No purchase event.
- line_no is the position of the line within its invoice in the file (file
  order, all lines counted, quarantined ones too), so it is stable across
  re-imports; cancellation and sale lines of one number share the numbering.
  An invoice must not be split across files.
- An empty Customer ID is a guest: the order line has a null user_key and no
  event (bronze.events needs a user). "13085.0" (a float export) is "13085".
- channel is "web" (the retailer is online-only); Country is not kept.
- Catalog: item_id = StockCode, title = the latest Description, category
  "uncategorised" (the export has no category), price = the latest unit price.
"""
from __future__ import annotations

import datetime as dt
from typing import List, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from debut import schemas
from debut.config import Config, IngestConf
from debut.ingest import common as c
from debut.ingest.adapters import base as b

NAME = "uci_retail"
FIELDS = ("invoice", "stock_code", "description", "quantity", "invoice_date", "price", "customer_id", "country")
_ALIASES = {"invoice": "invoice", "invoiceno": "invoice", "stockcode": "stock_code", "description": "description",
            "quantity": "quantity", "invoicedate": "invoice_date", "price": "price", "unitprice": "price",
            "customerid": "customer_id", "country": "country"}

# Stock codes that are services, fees or bookkeeping rather than products.
# General rule: a code without a digit (POST, DOT, M, D, S, B, CRUK, PADS,
# BANK CHARGES, AMAZONFEE ...); plus these codes that do have digits.
NON_PRODUCT_CODES = r"^(C2|ADJUST\d*|TEST\w*|GIFT_\d+_\d+)$"
CHANNEL = "web"


def read(spark: SparkSession, files: Sequence[c.LandingFile]) -> DataFrame:
    groups = b.read_csv_files(spark, files, lambda path, header: b.map_header(NAME, path, header, _ALIASES, FIELDS))
    return b.union_all([df.select("source_file", "_rid", "_raw", "_corrupt", *FIELDS) for _, df in groups]
                       or [b.empty_rows(spark, FIELDS)])


def is_not_a_product(code: F.Column) -> F.Column:
    t = F.upper(F.trim(code))
    return ~t.rlike(r"\d") | t.rlike(NON_PRODUCT_CODES)


def validate(rows: DataFrame, run_date: dt.date, ic: IngestConf, key: bytes) -> DataFrame:
    """Rules in order, first failure wins; adds order_id, line_no, status and
    user_key, and drops the raw customer id."""
    earliest, latest = c.time_window(run_date, ic.history_days, ic.max_future_minutes)
    invoice = F.trim("invoice")
    in_file = Window.partitionBy("source_file", "order_id").orderBy("_rid")
    customer = F.regexp_replace(F.trim("customer_id"), r"^(\d+)\.0*$", "$1")
    df = (rows
          .withColumn("_cancel", F.coalesce(invoice.startswith("C") | invoice.startswith("c"), F.lit(False)))
          .withColumn("order_id", F.regexp_replace(invoice, "^[Cc]", ""))
          .withColumn("line_no", F.row_number().over(in_file))
          .withColumn("status", F.when(F.col("_cancel"), F.lit("cancelled")).otherwise(F.lit("completed")))
          .withColumn("_time", F.coalesce(b.us_timestamp(F.col("invoice_date")),
                                          b.iso_timestamp(F.col("invoice_date"))))
          .withColumn("_qty", b.to_int(F.col("quantity")))
          .withColumn("_price", b.to_double(F.col("price")))
          .withColumn("_uid", b.nonblank(customer))
          .transform(lambda d: c.with_user_key(d, key, src="_uid")))
    qty = F.col("_qty")
    rules = [
        c.Rule(c.INVALID_ENCODING, c.has_bad_encoding(["_raw"]), F.lit("invalid UTF-8 bytes")),
        c.Rule(c.RECORD_TOO_LARGE, F.length("_raw") > c.MAX_RECORD_CHARS,
               F.concat(F.lit("chars="), F.length("_raw").cast("string"))),
        c.Rule(c.MALFORMED, F.col("_corrupt").isNotNull(), F.lit(f"expected {len(FIELDS)} fields")),
        c.Rule(c.MISSING_FIELD, b.blank(F.col("order_id")), F.lit("invoice")),
        c.missing("stock_code"), c.missing("quantity"), c.missing("invoice_date"), c.missing("price"),
        c.bad_cast("invoice_date", F.col("_time")), c.bad_cast("quantity", qty), c.bad_cast("price", F.col("_price")),
        c.Rule(b.NOT_A_PRODUCT, is_not_a_product(F.col("stock_code")), F.trim("stock_code")),
        c.Rule(c.BAD_QUANTITY, (qty == 0) | ((qty < 0) & ~F.col("_cancel")) | (F.abs(qty) > ic.max_quantity),
               F.concat(F.lit("quantity="), qty.cast("string"))),
        c.Rule(c.BAD_PRICE, (F.col("_price") <= 0) | (F.col("_price") > ic.max_price),
               F.concat(F.lit("price="), F.col("_price").cast("string"))),
        c.Rule(c.FUTURE_TIME, F.col("_time") > F.lit(latest), F.col("invoice_date")),
        c.Rule(c.TOO_OLD, F.col("_time") < F.lit(earliest), F.col("invoice_date")),
    ]
    reason, detail = c.first_failure(rules)
    return (df.withColumn("_reason", reason).withColumn("_detail", detail)
            .transform(lambda d: b.without_raw_id(d, "customer_id")))


def to_orders(good: DataFrame, run_date: dt.date) -> DataFrame:
    """One row per (order_id, line_no), the first file's copy; keeps source_file and _rid."""
    first = Window.partitionBy("order_id", "line_no").orderBy("source_file", "_rid")
    return (good.withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1)
            .select("order_id", "line_no", F.col("_time").alias("order_time"), F.to_date("_time").alias("order_date"),
                    "user_key", F.trim("stock_code").alias("item_id"), F.abs("_qty").alias("quantity"),
                    F.col("_price").alias("unit_price"), F.lit(CHANNEL).alias("channel"), "status",
                    F.col("_time").alias("status_time"), "source_file",
                    b.run_date_col(run_date).alias("ingest_run_date"), "_rid"))


def to_purchase_events(orders: DataFrame) -> DataFrame:
    """A purchase event per completed order line of a known customer."""
    return (orders.where((F.col("status") == "completed") & F.col("user_key").isNotNull())
            .select(F.sha2(F.concat_ws("\u0001", "order_id", F.col("line_no").cast("string")), 256).alias("event_id"),
                    F.col("order_time").alias("event_time"), F.col("order_date").alias("event_date"),
                    F.lit("purchase").alias("event_type"), "user_key", F.lit(None).cast("string").alias("session_id"),
                    "item_id", F.col("unit_price").alias("price"), "quantity",
                    F.lit(None).cast("string").alias("query"), "channel", "source_file", "ingest_run_date"))


def to_catalog_items(good: DataFrame) -> DataFrame:
    """Per stock code: latest description and unit price, first date seen."""
    item = F.trim("stock_code")
    order = [F.col("_time").desc(), F.col("source_file").desc(), F.col("_rid").desc()]
    latest = Window.partitionBy("item_id").orderBy(*order)
    first_seen = good.groupBy(item.alias("item_id")).agg(F.min(F.to_date("_time")).alias("first_date"))
    titled = (good.where(~b.blank(F.col("description"))).withColumn("item_id", item)
              .withColumn("_n", F.row_number().over(latest)).where(F.col("_n") == 1)
              .select("item_id", F.trim("description").alias("title")))
    priced = (good.withColumn("item_id", item)
              .withColumn("_n", F.row_number().over(latest)).where(F.col("_n") == 1)
              .select("item_id", F.lit("uncategorised").alias("category"),
                      F.lit(None).cast("string").alias("subcategory"), F.lit(None).cast("string").alias("brand"),
                      F.col("_price").alias("price"), "source_file"))
    return (priced.join(titled, on="item_id", how="left").join(first_seen, on="item_id", how="inner")
            .select("item_id", "category", "subcategory", "brand", "title", "price", "first_date", "source_file"))


def plan(spark: SparkSession, conf: Config, good: DataFrame, run_date: dt.date) -> List[b.Write]:
    # Events from every good line, not only the new ones: a run cut short between
    # the two writes is completed by the next import.
    orders = to_orders(good, run_date)
    events = to_purchase_events(orders)
    return [
        b.Write("bronze.orders", b.changed_rows(spark, conf, "bronze.orders", orders), schemas.ORDERS, counted=True),
        b.Write("bronze.events", b.changed_rows(spark, conf, "bronze.events", events), schemas.EVENTS),
        b.catalog_write(spark, conf, to_catalog_items(good), run_date),
    ]


ADAPTER = b.Adapter(NAME, (".csv", ".csv.gz"), read, validate, plan)
