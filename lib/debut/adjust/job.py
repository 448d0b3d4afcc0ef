"""The adjust_launch job: review launched items after their first days of sales.

Inputs
  gold.launch_plan      the latest plan_date <= run_date - adjust.early_days; launched rows
  gold.launch_forecast  price, unit_cost, horizon and weekly P50 curve (the prior)
  silver.item_daily     sales since plan_date. Contract: a launched candidate sells
                        under item_id = candidate_id (the marketplace lists it with
                        the id it had as a candidate); units = purchase-event units;
                        is_stockout_suspected marks suspected sold-out days.
  gold.launch_adjustments  earlier reviews of the same plan: their reorders add to stock
                        (arrived when as_of_date + lead_time_days <= the day)

Output gold.launch_adjustments (key candidate_id, as_of_date = run_date), one
commit, replacing that date's rows on a rerun. A day counts as censored when the
stock ran out (cumulative sales reached the stock received so far) or the
aggregate flagged a suspected stock-out.

Breakouts for recommendations: rows with is_breakout = true carry
breakout_boost (pace over forecast, capped at adjust.max_breakout_boost); the
recommend stage reads ``breakouts(spark, conf, run_date)`` -> item_id,
breakout_boost, as_of_date (the latest review on or before run_date) and
multiplies those items' scores.
"""
from __future__ import annotations

import datetime as dt
from typing import Dict, Optional

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io
from debut.core.assess import assess_item
from debut.config import Config
from debut.schemas import LAUNCH_ADJUSTMENTS
from debut.tracking import job_run, record_metrics

# one row per launched candidate and observed day, built in Spark and reviewed per candidate
_DAILY = ["candidate_id", "plan_date", "category", "quantity", "price", "unit_cost", "horizon_weeks",
          "weekly_p50", "date", "units", "stockout_flag", "reorders_in", "on_order"]


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def review_group(pdf: pd.DataFrame, as_of: dt.date, conf: Config) -> pd.DataFrame:
    """applyInPandas body: one launched candidate's daily rows -> its launch_adjustments row."""
    pdf = pdf.sort_values("date")
    first = pdf.iloc[0]
    horizon_days = 7 * int(first["horizon_weeks"])
    received = float(first["quantity"]) + np.cumsum(pdf["reorders_in"].to_numpy(dtype=np.float64))
    sold = pdf["units"].to_numpy(dtype=np.float64)
    cum_sold = np.cumsum(sold)
    censored = (cum_sold >= received) | pdf["stockout_flag"].to_numpy(dtype=bool)
    on_order = float(first["on_order"])
    stock = float(max(received[-1] - cum_sold[-1], 0.0))
    salvage_value = conf.optimize.salvage_rate * float(first["unit_cost"])
    rec = assess_item(sold, censored, list(first["weekly_p50"]), horizon_days, stock + on_order,
                      float(first["price"]), float(first["unit_cost"]), salvage_value, conf.adjust)
    rec.update({"candidate_id": first["candidate_id"], "as_of_date": as_of, "plan_date": first["plan_date"],
                "category": first["category"]})
    return pd.DataFrame([rec])[[f.name for f in LAUNCH_ADJUSTMENTS.fields]]


def plan_to_review(spark: SparkSession, conf: Config, run_date: dt.date) -> Optional[DataFrame]:
    """Launched rows of the latest plan old enough to judge, with their forecast; None when there is none."""
    cutoff = run_date - dt.timedelta(days=conf.adjust.early_days)
    plans = io.read(spark, conf, "gold.launch_plan").where(F.col("plan_date") <= F.lit(cutoff))
    last = plans.agg(F.max("plan_date")).first()[0]
    if last is None:
        return None
    from debut.core.quantiles import quantile_names
    mid = quantile_names(conf.forecast.quantiles)[1]
    fc = (io.read(spark, conf, "gold.launch_forecast").where(F.col("plan_date") == F.lit(last))
          .select("candidate_id", "plan_date", "price", "unit_cost", "horizon_weeks",
                  F.col(f"weekly_{mid}").alias("weekly_p50")))
    return (plans.where((F.col("plan_date") == F.lit(last)) & F.col("launch") & (F.col("quantity") > 0))
            .select("candidate_id", "plan_date", "category", "quantity")
            .join(fc, on=["candidate_id", "plan_date"], how="inner"))


def daily_sales(spark: SparkSession, conf: Config, launched: DataFrame, run_date: dt.date) -> DataFrame:
    """Every day from plan_date to min(run_date, end of horizon) - 1 per launched candidate, zero-filled."""
    days = (launched
            .withColumn("last_day", F.least(F.date_sub(F.lit(run_date), 1),
                                            F.date_add("plan_date", F.col("horizon_weeks") * 7 - 1)))
            .withColumn("date", F.explode(F.sequence("plan_date", "last_day"))))
    sales = (io.read(spark, conf, "silver.item_daily")
             .select(F.col("item_id").alias("candidate_id"), "date", "units",
                     F.col("is_stockout_suspected").alias("stockout_flag")))
    out = days.join(sales, on=["candidate_id", "date"], how="left")
    if io.exists(spark, conf, "gold.launch_adjustments"):
        prior = (io.read(spark, conf, "gold.launch_adjustments")
                 .where((F.col("as_of_date") < F.lit(run_date)) & (F.col("reorder_qty") > 0))
                 .select("candidate_id", "plan_date",
                         F.date_add("as_of_date", conf.adjust.lead_time_days).alias("date"),
                         F.col("reorder_qty").alias("reorders_in")))
        on_order = (prior.where(F.col("date") >= F.lit(run_date))
                    .groupBy("candidate_id", "plan_date").agg(F.sum("reorders_in").alias("on_order")))
        out = (out.join(prior, on=["candidate_id", "plan_date", "date"], how="left")
               .join(on_order, on=["candidate_id", "plan_date"], how="left"))
    else:
        out = out.withColumn("reorders_in", F.lit(None).cast("long")).withColumn("on_order", F.lit(None).cast("long"))
    return out.select(
        "candidate_id", "plan_date", "category", "quantity", "price", "unit_cost", "horizon_weeks", "weekly_p50",
        "date", F.coalesce("units", F.lit(0)).cast("long").alias("units"),
        F.coalesce("stockout_flag", F.lit(False)).alias("stockout_flag"),
        F.coalesce("reorders_in", F.lit(0)).cast("long").alias("reorders_in"),
        F.coalesce("on_order", F.lit(0)).cast("long").alias("on_order"))


def run(spark: SparkSession, conf: Config, run_date) -> Dict:
    run_date = _as_date(run_date)
    with job_run(conf, "adjust", run_date.isoformat()):
        launched = plan_to_review(spark, conf, run_date)
        if launched is None:
            print(f"[adjust_launch] no launch plan dated on or before {run_date - dt.timedelta(days=conf.adjust.early_days)}"
                  f" ({conf.adjust.early_days} days of sales needed): nothing to review", flush=True)
            return {"reviewed": 0}
        daily = daily_sales(spark, conf, launched, run_date)
        schema = LAUNCH_ADJUSTMENTS

        def body(pdf: pd.DataFrame) -> pd.DataFrame:
            return review_group(pdf, run_date, conf)

        out = daily.groupBy("candidate_id").applyInPandas(body, schema=schema)
        out = io.select_schema(out, schema).cache()
        counts = {r["action"]: r["n"] for r in out.groupBy("action").agg(F.count("*").alias("n")).collect()}
        io.replace_where(out, conf, "gold.launch_adjustments", f"as_of_date = '{run_date.isoformat()}'")
        n = sum(counts.values())
        record_metrics(spark, conf, run_date, "adjust",
                       {("items_reviewed", "all", n): n,
                        **{("actions", f"action={a}", n): c for a, c in counts.items()}})
        out.unpersist()
        print(f"[adjust_launch] {run_date}: reviewed {n} launched items: "
              + ", ".join(f"{a} {c}" for a, c in sorted(counts.items())), flush=True)
        return {"reviewed": n, "actions": counts}


def breakouts(spark: SparkSession, conf: Config, run_date) -> DataFrame:
    """item_id, breakout_boost, as_of_date of the breakouts in the latest review on or before run_date."""
    run_date = _as_date(run_date)
    adj = io.read(spark, conf, "gold.launch_adjustments").where(F.col("as_of_date") <= F.lit(run_date))
    last = adj.agg(F.max("as_of_date")).first()[0]
    return (adj.where((F.col("as_of_date") == F.lit(last)) & F.col("is_breakout"))
            .select(F.col("candidate_id").alias("item_id"), "breakout_boost", "as_of_date"))
