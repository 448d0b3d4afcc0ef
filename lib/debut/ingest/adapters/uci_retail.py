"""UCI Online Retail (I and II) invoice lines (CSV) -> bronze.orders, purchase
events for bronze.events and derived bronze.catalog.

Columns: Invoice (or InvoiceNo), StockCode, Description, Quantity, InvoiceDate
("12/1/2009 7:45", month first, or "2009-12-01 07:45:00"), Price (or
UnitPrice), Customer ID (or CustomerID), Country. Export each sheet of the
original .xlsx as CSV, and import the files of one period together (netting
and the per-item rule work within one import).

Ids: item_id is the StockCode trimmed and upper-cased ("85123a" and "85123A"
are one item); a Customer ID "13085.0" (a float export) is "13085".

- An invoice starting with "C" is a cancellation (a credit note): order_id
  without the C, status cancelled, quantity stored positive; it counts nowhere.
  It nets its original line: the latest earlier sale line of the same item,
  customer and quantity not netted yet (a guest line nets nothing). That line
  takes status "cancelled" when the credit is on its own day (the order never
  stood), else "returned" (sold, then came back), with the credit's time as
  status_time. A credit matching no sale (a partial one, or its sale before
  the export) nets nothing.
- A sale line far above its item's own typical line (ingest.outlier_ratio x
  the item's median line quantity, and above ingest.outlier_min_quantity) is
  quarantined as outlier_quantity; netted lines are exempt (the credit already
  undoes them). There is no global quantity cap: wholesale lines stay.
- line_no is the position of the line within its invoice in the file (file
  order, all lines counted, quarantined ones too), so it is stable across
  re-imports; cancellation and sale lines of one number share the numbering.
  An invoice must not be split across files.
- An empty Customer ID is a guest: the order line has a null user_key and no
  event (bronze.events needs a user); its units are still demand.
- channel is "web" (the retailer is online-only); Country is not kept.
- Catalog: item_id as above, title = the latest Description, category from
  ingest.categories_file else derived from the titles (the export has none,
  see debut.ingest.categories), price = the latest unit price.
"""
from __future__ import annotations

import datetime as dt
from typing import List, Sequence

import pandas as pd
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


def item_id(code: F.Column) -> F.Column:
    """The format's id normalisation: trimmed, upper case."""
    return F.upper(F.trim(code))


_PAIRS = "c_file string, c_rid long, s_file string, s_rid long, c_time timestamp"


def _match_group(pdf: pd.DataFrame) -> pd.DataFrame:
    """Pair each credit with the latest earlier unmatched sale of its group (a stack)."""
    pdf = pdf.sort_values(["t", "is_cancel", "file", "rid"], kind="mergesort")
    stack, out = [], []
    for file, rid, t, is_cancel in zip(pdf["file"], pdf["rid"], pdf["t"], pdf["is_cancel"]):
        if not is_cancel:
            stack.append((file, rid))
        elif stack:
            s_file, s_rid = stack.pop()
            out.append((file, rid, s_file, s_rid, t))
    return pd.DataFrame(out, columns=["c_file", "c_rid", "s_file", "s_rid", "c_time"])


def with_netting(df: DataFrame) -> DataFrame:
    """Good sale lines netted by a credit line get ``_net_time`` (the credit's time)."""
    lines = (df.where(F.col("_reason").isNull() & F.col("user_key").isNotNull())
             .select(F.col("_item").alias("item"), F.col("user_key").alias("user"),
                     F.abs("_qty").alias("qty"), F.col("source_file").alias("file"), F.col("_rid").alias("rid"),
                     F.col("_time").alias("t"), F.col("_cancel").alias("is_cancel")))
    keys = ["item", "user", "qty"]
    both = (lines.groupBy(*keys).agg(F.max("is_cancel").alias("_c"), F.min("is_cancel").alias("_s"))
            .where(F.col("_c") & ~F.col("_s")).select(*keys))
    pairs = (lines.join(both, on=keys, how="left_semi").groupBy(*keys).applyInPandas(_match_group, _PAIRS))
    netted = pairs.select(F.col("s_file").alias("source_file"), F.col("s_rid").alias("_rid"),
                          F.col("c_time").alias("_net_time"))
    return df.join(netted, on=["source_file", "_rid"], how="left")


def validate(rows: DataFrame, run_date: dt.date, ic: IngestConf, key: bytes) -> DataFrame:
    """Rules in order, first failure wins; then cancellation netting and the per-item
    outlier rule across the import. Adds order_id, line_no, status, status time and
    user_key, and drops the raw customer id."""
    earliest, latest = c.time_window(run_date, ic.history_days, ic.max_future_minutes)
    invoice = F.trim("invoice")
    in_file = Window.partitionBy("source_file", "order_id").orderBy("_rid")
    customer = F.regexp_replace(F.trim("customer_id"), r"^(\d+)\.0*$", "$1")
    df = (rows
          .withColumn("_cancel", F.coalesce(invoice.startswith("C") | invoice.startswith("c"), F.lit(False)))
          .withColumn("order_id", F.regexp_replace(invoice, "^[Cc]", ""))
          .withColumn("line_no", F.row_number().over(in_file))
          .withColumn("_item", item_id(F.col("stock_code")))
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
        c.Rule(c.BAD_QUANTITY, (qty == 0) | ((qty < 0) & ~F.col("_cancel")),
               F.concat(F.lit("quantity="), qty.cast("string"))),
        c.Rule(c.BAD_PRICE, (F.col("_price") <= 0) | (F.col("_price") > ic.max_price),
               F.concat(F.lit("price="), F.col("_price").cast("string"))),
        c.Rule(c.FUTURE_TIME, F.col("_time") > F.lit(latest), F.col("invoice_date")),
        c.Rule(c.TOO_OLD, F.col("_time") < F.lit(earliest), F.col("invoice_date")),
    ]
    reason, detail = c.first_failure(rules)
    netted = F.col("_net_time").isNotNull()
    same_day = F.to_date("_net_time") == F.to_date("_time")
    return (df.withColumn("_reason", reason).withColumn("_detail", detail)
            .transform(with_netting)
            .withColumn("status", F.when(F.col("_cancel"), F.lit("cancelled"))
                        .when(netted & same_day, F.lit("cancelled")).when(netted, F.lit("returned"))
                        .otherwise(F.lit("completed")))
            .withColumn("_status_time", F.coalesce(F.col("_net_time"), F.col("_time")))
            .transform(lambda d: b.with_item_outliers(d, item="_item", qty="_qty",
                                                      standing=F.col("status") == "completed", ic=ic))
            .transform(lambda d: b.without_raw_id(d, "customer_id")))


def to_orders(good: DataFrame, run_date: dt.date) -> DataFrame:
    """One row per (order_id, line_no), the first file's copy; keeps source_file and _rid."""
    first = Window.partitionBy("order_id", "line_no").orderBy("source_file", "_rid")
    return (good.withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1)
            .select("order_id", "line_no", F.col("_time").alias("order_time"), F.to_date("_time").alias("order_date"),
                    "user_key", F.col("_item").alias("item_id"), F.abs("_qty").alias("quantity"),
                    F.col("_price").alias("unit_price"), F.lit(CHANNEL).alias("channel"), "status",
                    F.col("_status_time").alias("status_time"), "source_file",
                    b.run_date_col(run_date).alias("ingest_run_date"), F.lit(None).cast("string").alias("seller_id"),
                    "_rid"))


def to_purchase_events(orders: DataFrame) -> DataFrame:
    """A purchase event per completed order line of a known customer."""
    return (orders.where((F.col("status") == "completed") & F.col("user_key").isNotNull())
            .select(F.sha2(F.concat_ws("\u0001", "order_id", F.col("line_no").cast("string")), 256).alias("event_id"),
                    F.col("order_time").alias("event_time"), F.col("order_date").alias("event_date"),
                    F.lit("purchase").alias("event_type"), "user_key", F.lit(None).cast("string").alias("session_id"),
                    "item_id", F.col("unit_price").alias("price"), "quantity",
                    F.lit(None).cast("string").alias("query"), "channel", "source_file", "ingest_run_date"))


def to_catalog_items(good: DataFrame) -> DataFrame:
    """Per item: latest description and unit price; no category (the export has none)."""
    order = [F.col("_time").desc(), F.col("source_file").desc(), F.col("_rid").desc()]
    latest = Window.partitionBy("item_id").orderBy(*order)
    titled = (good.where(~b.blank(F.col("description"))).withColumn("item_id", F.col("_item"))
              .withColumn("_n", F.row_number().over(latest)).where(F.col("_n") == 1)
              .select("item_id", F.trim("description").alias("title")))
    priced = (good.withColumn("item_id", F.col("_item"))
              .withColumn("_n", F.row_number().over(latest)).where(F.col("_n") == 1)
              .select("item_id", F.lit(None).cast("string").alias("category"),
                      F.lit(None).cast("string").alias("subcategory"), F.lit(None).cast("string").alias("brand"),
                      F.col("_price").alias("price"), "source_file"))
    return (priced.join(titled, on="item_id", how="left")
            .select("item_id", "category", "subcategory", "brand", "title", "price", "source_file"))


def plan(spark: SparkSession, conf: Config, good: DataFrame, run_date: dt.date) -> List[b.Write]:
    # Events from every good line, not only the new ones: a run cut short between
    # the two writes is completed by the next import.
    orders = to_orders(good, run_date)
    events = to_purchase_events(orders)
    return [
        b.Write("bronze.orders", b.changed_rows(spark, conf, "bronze.orders", orders), schemas.ORDERS, counted=True),
        b.Write("bronze.events", b.changed_rows(spark, conf, "bronze.events", events), schemas.EVENTS),
        b.catalog_write(spark, conf, to_catalog_items(good), run_date, id_norm=item_id),
    ]


ADAPTER = b.Adapter(NAME, (".csv", ".csv.gz"), read, validate, plan)
