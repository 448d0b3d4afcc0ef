"""Spark side of the forecast: read what exists, aggregate to one row per item, collect.

Every collected frame is bounded by past launches x weeks, catalog items or
candidates (never customers or events): the audience is summed per item in
Spark by the recommend stage, catalog sales per item here. Inputs other than
the launch history are optional and detected at run time; each absence is
printed with what it costs.
"""
from __future__ import annotations

import datetime as dt
from typing import Dict, Iterable, Optional, Tuple

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io
from debut.config import Config
from debut.core import launch_history as launch_mod

ATTRS = ("item_id", "category", "subcategory", "brand", "title", "colour", "material", "style", "price",
         "unit_cost", "launch_date")
CANDIDATE_COLS = ("item_id", "category", "subcategory", "brand", "title", "colour", "material", "style",
                  "price", "unit_cost")


def _say(msg: str) -> None:
    print(f"[forecast] {msg}", flush=True)


def history_df(spark: SparkSession, conf: Config, run_date: dt.date) -> DataFrame:
    """Weekly units of past launches: gold.launch_history plus the bronze.launch_history_input
    items it lacks; MissingTableError when neither exists."""
    has_gold = io.exists(spark, conf, "gold.launch_history")
    has_input = io.exists(spark, conf, "bronze.launch_history_input")
    if not has_gold and not has_input:
        io.read(spark, conf, "gold.launch_history")        # raises MissingTableError naming the table
    weeks = max(conf.aggregate.launch_weeks, conf.forecast.horizon_weeks)
    imported = io.read(spark, conf, "bronze.launch_history_input") if has_input else None
    if not has_gold:
        return launch_mod.to_imported_history(imported, run_date=run_date, launch_weeks=weeks)
    gold = io.read(spark, conf, "gold.launch_history")
    if imported is None:
        return gold
    return launch_mod.with_imported_history(gold, imported, run_date=run_date, launch_weeks=weeks)


def known_weeks(history: DataFrame, *, horizon: int, as_of: dt.date) -> DataFrame:
    """Rows of weeks 1..horizon that ended before ``as_of`` (launch_date + 7 week <= as_of)."""
    ended = F.date_add(F.col("launch_date"), F.col("week") * 7) <= F.lit(as_of)
    if "is_complete" in history.columns:
        ended = ended & F.col("is_complete")
    return history.where(F.col("week").between(1, horizon) & ended)


def collect_history(history: DataFrame, *, horizon: int, as_of: dt.date) -> pd.DataFrame:
    """Long pandas rows (attributes, week, units) of the weeks known at ``as_of`` (launches x weeks)."""
    rows = known_weeks(history, horizon=horizon, as_of=as_of).select(*ATTRS, "week", "units")
    pdf = rows.toPandas()
    pdf["launch_date"] = pd.to_datetime(pdf["launch_date"]).dt.date
    return pdf


def candidates(spark: SparkSession, conf: Config, plan_date: dt.date) -> pd.DataFrame:
    """The plan's candidates (bronze.candidates) with their price band from gold.item_features."""
    cands = (io.read(spark, conf, "bronze.candidates").where(F.col("plan_date") == F.lit(plan_date))
             .withColumnRenamed("candidate_id", "item_id"))
    if io.exists(spark, conf, "gold.item_features"):
        bands = (io.read(spark, conf, "gold.item_features").where(F.col("is_candidate"))
                 .where(F.col("plan_date") == F.lit(plan_date)).select("item_id", "price_band"))
        cands = cands.join(bands, on="item_id", how="left")
    else:
        cands = cands.withColumn("price_band", F.lit(None).cast("int"))
    pdf = cands.select(*CANDIDATE_COLS, "price_band").toPandas()
    if pdf["item_id"].duplicated().any():
        raise ValueError(f"bronze.candidates holds duplicate candidate_id for plan_date {plan_date}")
    return pdf


def embeddings(spark: SparkSession, conf: Config, ids: Iterable[str]) -> Dict[str, np.ndarray]:
    """text_embedding of the given items from gold.item_features ({} when it is missing)."""
    if not io.exists(spark, conf, "gold.item_features"):
        return {}
    wanted = spark.createDataFrame([(i,) for i in sorted(set(ids))], "item_id string")
    rows = (io.read(spark, conf, "gold.item_features").where(F.col("text_embedding").isNotNull())
            .join(wanted, on="item_id", how="inner")
            .groupBy("item_id").agg(F.first("text_embedding").alias("text_embedding")).collect())
    return {r["item_id"]: np.asarray(r["text_embedding"], dtype=np.float64) for r in rows}


def embed_titles(items: pd.DataFrame, known: Dict[str, np.ndarray], conf: Config) -> Dict[str, np.ndarray]:
    """Embeddings of the titles of items without one (launch-history-only data); {} when the
    embedding model cannot be loaded here."""
    todo = items[~items["item_id"].isin(list(known)) & items["title"].notna()].drop_duplicates("item_id")
    if not len(todo) or not conf.forecast.embed_titles:
        return {}
    try:
        from debut.core import embed
        vecs = embed.encode(todo["title"].astype(str).tolist(), path=conf.features.embedding_model_path,
                            batch_size=conf.features.embedding_batch_size, dim=conf.features.embedding_dim)
    except Exception as exc:  # noqa: BLE001 - an optional signal: note it and go on without
        _say(f"titles not embedded ({type(exc).__name__}: {exc}); similarity uses attributes and price")
        return {}
    return dict(zip(todo["item_id"].tolist(), vecs.astype(np.float64)))


def catalog_rates(spark: SparkSession, conf: Config, *, before: dt.date, exclude: Iterable[str],
                  min_days: int = 14) -> Optional[pd.DataFrame]:
    """Catalog items (not past launches) with their sales before ``before``: one row per item,
    attributes + log_rate = log1p(units per non-stock-out day x 7 x horizon). None when
    silver.item_daily or the item attributes are missing.

    A day's units sold are the larger of the purchase events' units and the order lines' units
    not cancelled: an export of order lines alone (no events) sells through its orders, and guest
    order lines have no event."""
    if not (io.exists(spark, conf, "silver.item_daily") and io.exists(spark, conf, "gold.item_features")):
        return None
    horizon_days = 7 * conf.forecast.horizon_weeks
    daily = (io.read(spark, conf, "silver.item_daily").where(F.col("date") < F.lit(before))
             .where(~F.col("is_stockout_suspected")))
    per_item = (daily.groupBy("item_id")
                .agg(F.sum(F.greatest("units", "ordered_units")).alias("units"),
                     F.countDistinct("date").alias("days"))
                .where(F.col("days") >= min_days))
    attrs = (io.read(spark, conf, "gold.item_features").where(~F.col("is_candidate"))
             .select("item_id", "category", "subcategory", "brand", "colour", "material", "style", "price"))
    excluded = spark.createDataFrame([(i,) for i in sorted(set(exclude))] or [("",)], "item_id string")
    pdf = (per_item.join(attrs, on="item_id", how="inner").join(excluded, on="item_id", how="left_anti")
           .toPandas())
    if not len(pdf):
        return None
    pdf["log_rate"] = np.log1p(pdf["units"].to_numpy(float) / pdf["days"].to_numpy(float) * horizon_days)
    return pdf


def market(spark: SparkSession, conf: Config, launches: pd.DataFrame, *, window_days: int = 28,
           min_days: int = 7) -> Optional[pd.DataFrame]:
    """Per (category, launch_date) of ``launches``: the category's mean daily units and mean daily
    active items over the ``window_days`` before that date, from silver.category_daily (rows with
    fewer than ``min_days`` days of data are left out); None without the table. Bounded by
    categories x launch dates (``debut.forecast.market``)."""
    if not io.exists(spark, conf, "silver.category_daily"):
        return None
    keys = launches[["category", "launch_date"]].dropna().drop_duplicates()
    if not len(keys):
        return None
    wanted = spark.createDataFrame(
        [(str(c), pd.Timestamp(d).date()) for c, d in keys.itertuples(index=False)],
        "category string, launch_date date")
    daily = (io.read(spark, conf, "silver.category_daily").where(F.col("category").isNotNull())
             .select("category", "date", "units", "active_items"))
    joined = wanted.join(daily, on="category", how="inner").where(
        (F.col("date") < F.col("launch_date")) & (F.col("date") >= F.date_sub(F.col("launch_date"), window_days)))
    pdf = (joined.groupBy("category", "launch_date")
           .agg(F.avg("units").alias("market_units"), F.avg("active_items").alias("market_items"),
                F.countDistinct("date").alias("days"))
           .where(F.col("days") >= min_days).drop("days").toPandas())
    if not len(pdf):
        return None
    pdf["launch_date"] = pd.to_datetime(pdf["launch_date"])
    return pdf


def audience(spark: SparkSession, conf: Config) -> Optional[pd.DataFrame]:
    """gold.item_audience per item (None when train_als has not written it)."""
    if not io.exists(spark, conf, "gold.item_audience"):
        return None
    from debut.forecast.content import AUDIENCE_FEATURES
    df = io.read(spark, conf, "gold.item_audience")
    cols = [c for c in AUDIENCE_FEATURES if c in df.columns]
    return df.select("item_id", *cols).dropDuplicates(["item_id"]).toPandas()


def demand_net(spark: SparkSession, conf: Config, items: pd.DataFrame,
               as_of: dt.date) -> Tuple[Optional[pd.DataFrame], Optional[dt.date]]:
    """(item_id, net_log: log1p units, the network's median) for ``items`` and the date the network's
    training launches end before, from train_deep's gold.demand_net_predictions of the latest run
    on or before ``as_of``; (None, None) with a note when there is none."""
    table = "gold.demand_net_predictions"
    if not io.exists(spark, conf, table):
        _say(f"demand network skipped (no {table}: train_deep has not scored the network)")
        return None, None
    preds = io.read(spark, conf, table).where(F.col("run_date") <= F.lit(as_of))
    latest = preds.agg(F.max("run_date")).first()[0]
    if latest is None:
        _say(f"demand network skipped ({table} has no predictions dated on or before {as_of})")
        return None, None
    wanted = spark.createDataFrame([(i,) for i in sorted(set(items["item_id"]))] or [("",)], "item_id string")
    rows = (preds.where(F.col("run_date") == F.lit(latest)).where(F.col("quantile_log1p").isNotNull())
            .join(wanted, on="item_id", how="inner")
            .select("item_id", "trained_before", "model_version", "quantile_levels", "quantile_log1p")
            .toPandas())                                   # bounded by launches + candidates
    if not len(rows):
        _say(f"demand network skipped ({table} of {latest} holds no prediction for these items)")
        return None, None
    levels = list(rows["quantile_levels"].iloc[0])
    if 0.5 not in levels:
        _say(f"demand network skipped (its quantiles {levels} have no median)")
        return None, None
    trained_before = rows["trained_before"].min()
    trained_before = pd.Timestamp(trained_before).date()
    if latest != as_of:
        _say(f"demand network: predictions of train_deep's run {latest} (model v{int(rows['model_version'].max())})")
    pdf = pd.DataFrame({"item_id": rows["item_id"],
                        "net_log": [float(v[levels.index(0.5)]) for v in rows["quantile_log1p"]]})
    return pdf.dropna().drop_duplicates("item_id").reset_index(drop=True), trained_before
