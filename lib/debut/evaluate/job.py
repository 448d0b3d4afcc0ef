"""The evaluate job: score the latest plan and its forecast on what sold; gather the stages' metrics.

At run_date it takes the latest gold.launch_plan with plan_date <= run_date and
  (a) plays it, the oracle plan and the naive policies (debut.core.policies)
      against the candidates' realised demand: later sales in
      silver.item_daily once the horizon has passed (debut.core.plan_outcomes,
      the path the simulator's evaluate_truth stage shares with its truth);
  (c) scores the forecast per candidate: P10-P90 coverage, misses below / above,
      WAPE and bias of P50;
  (d) replays the stock decision over gold.forecast_backtest's historical
      cutoffs (newsvendor on the backtest quantiles vs what sold) and prints the
      recommend / forecast / deep metrics the stages already put in gold.evaluation.
What needs the simulator's truth (the oracle on uncensored demand, the ceilings
of a better-informed forecast, the closed loop played with the Marketplace) is
the evaluate_truth stage (debut.simulate.truth_eval), run after this one.
What is not replayed: ALS and the MILP are not re-fitted at past cutoffs (the
recommend stage scores itself on a time split; the forecast stage writes its
rolling-origin backtest); the replay in (d) is per launch, without the
category budget and shelf limits.

Writes gold.launch_outcomes (replaceWhere plan_date) and metrics under
component "evaluate" in gold.evaluation. Every table read is bounded by the
number of candidates, past launches or metrics; no customer-level data.
"""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Optional

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from debut import io
from debut.config import Config
from debut.core import plan_outcomes as PO
from debut.evaluate import scoring
from debut.tracking import job_run, record_metrics

COMPONENT = PO.COMPONENT
# the other stages' metrics printed in the summary (all of them stay in gold.evaluation and the report)
HEADLINE_STAGE_METRICS = ("ndcg@10", "recall@10", "coverage@10", "wape", "coverage_p10_p90", "bias", "spearman",
                          "auc", "intent_auc", "wape_p50", "expected_profit", "launches")


_as_date = PO.as_date


def _note(msg: str) -> None:
    print(f"[evaluate] {msg}", flush=True)


# ------------------------------------------------------------------ inputs
def latest_plan(spark: SparkSession, conf: Config, run_date: dt.date) -> Optional[pd.DataFrame]:
    """The plan rows (every candidate, launched or not) of the latest plan_date <= run_date."""
    return PO.latest_plan(spark, conf, run_date, _note)


def plan_forecast(spark: SparkSession, conf: Config, plan_date: dt.date) -> Optional[pd.DataFrame]:
    """gold.launch_forecast rows of the plan (one per candidate) with p10/p50/p90 and weekly_p50 aliases."""
    return PO.plan_forecast(spark, conf, plan_date, _note)


def sales_actuals(spark: SparkSession, conf: Config, plan_date: dt.date, run_date: dt.date,
                  horizon_days: int, ids: List[str]) -> Optional[pd.DataFrame]:
    """Weekly units of the candidates from silver.item_daily once their horizon has passed (real data)."""
    end = plan_date + dt.timedelta(days=horizon_days)
    if run_date < end or not io.exists(spark, conf, "silver.item_daily"):
        _note(f"the horizon ends {end}: actual sales not available yet")
        return None
    daily = (io.read(spark, conf, "silver.item_daily")
             .where(F.col("item_id").isin(ids) & (F.col("date") >= F.lit(plan_date)) & (F.col("date") < F.lit(end)))
             .groupBy("item_id", (F.floor(F.datediff("date", F.lit(plan_date)) / 7) + 1).alias("week"))
             .agg(F.sum("units").alias("units"))
             .withColumnRenamed("item_id", "candidate_id").toPandas())
    return daily


# ------------------------------------------------------------------ the job
def run(spark: SparkSession, conf: Config, run_date) -> Dict:
    run_date = _as_date(run_date)
    with job_run(conf, "evaluate", run_date.isoformat()):
        return _run(spark, conf, run_date)


def _run(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict:
    metrics: Dict = {}
    frames: List[pd.DataFrame] = []
    summary: Dict = {"run_date": run_date.isoformat()}
    plan = latest_plan(spark, conf, run_date)
    fc = None
    if plan is not None:
        plan_date = _as_date(plan["plan_date"].iloc[0])
        summary["plan_date"] = plan_date.isoformat()
        fc = plan_forecast(spark, conf, plan_date)
    if plan is not None and fc is not None and not fc.empty:
        horizon_weeks = int(fc["horizon_weeks"].max())
        sales = sales_actuals(spark, conf, plan_date, run_date, 7 * horizon_weeks, list(fc["candidate_id"]))
        if sales is not None:
            frames.append(PO.score_plan(plan, fc, sales, conf, horizon_weeks=horizon_weeks, source="sales",
                                        metrics=metrics, summary=summary))
            PO.score_forecast(fc, sales, horizon_weeks=horizon_weeks, metrics=metrics, summary=summary)
    _backtest_replay(spark, conf, metrics, summary)
    if frames:
        PO.write_outcomes(spark, conf, frames, plan_date, run_date)
    if metrics:
        record_metrics(spark, conf, run_date, COMPONENT, metrics)
    summary["stage_metrics"] = _stage_metrics(spark, conf, run_date)
    _print_summary(summary)
    return summary


def _backtest_replay(spark, conf, metrics, summary) -> None:
    """(d) the stock decision replayed at the forecast backtest's historical cutoffs."""
    if not (io.exists(spark, conf, "gold.forecast_backtest") and io.exists(spark, conf, "gold.launch_history")):
        _note("gold.forecast_backtest or gold.launch_history absent: no historical replay")
        return
    bt = io.read(spark, conf, "gold.forecast_backtest")
    latest = bt.agg(F.max("run_date")).first()[0]
    bt = bt.where((F.col("run_date") == F.lit(latest)) & (F.col("method") == "blend"))
    prices = (io.read(spark, conf, "gold.launch_history")
              .groupBy("item_id").agg(F.first("price").alias("price"), F.first("unit_cost").alias("unit_cost")))
    pdf = (bt.join(prices, on="item_id", how="inner")
           .where(F.col("unit_cost").isNotNull() & F.col("p10").isNotNull())
           .select("cutoff_date", "item_id", "actual", "p10", "p50", "p90", "price", "unit_cost").toPandas())
    if pdf.empty:
        _note("the forecast backtest has no blend rows with prices: no historical replay")
        return
    # every replayed policy launches the item, so its launch cost is left out: only the stock decision differs
    replay = scoring.newsvendor_replay(pdf, salvage_rate=conf.optimize.salvage_rate, launch_cost=0.0)
    rs = scoring.replay_summary(replay)
    metrics.update(rs)
    summary["replay"] = {k[1]: v for k, v in rs.items() if "cutoff" not in k[1]}
    summary["replay_cutoffs"] = int(pdf["cutoff_date"].nunique())


def _stage_metrics(spark, conf, run_date) -> List[Dict]:
    """(d) what the other stages recorded for this run_date (bounded: metrics, not rows of data)."""
    if not io.exists(spark, conf, "gold.evaluation"):
        return []
    rows = (io.read(spark, conf, "gold.evaluation")
            .where((F.col("run_date") == F.lit(run_date)) & (F.col("component") != COMPONENT))
            .select("component", "metric", "slice", "value", "n").orderBy("component", "metric", "slice").collect())
    return [r.asDict() for r in rows]


_fmt = PO.fmt


def _print_summary(s: Dict) -> None:
    _note(f"run_date {s['run_date']}, plan {s.get('plan_date', '-')}")
    for line in PO.summary_lines(s):
        _note(line)
    if "replay" in s:
        _note(f"  stock decision replayed at {s['replay_cutoffs']} backtest cutoffs: "
              + ", ".join(f"{k} {v:.1f}% of oracle" for k, v in s["replay"].items()))
    for r in s.get("stage_metrics", []):
        if r["slice"] in ("all", "warm", "cold", "blend") and r["metric"] in HEADLINE_STAGE_METRICS:
            _note(f"  {r['component']}.{r['metric']} [{r['slice']}] = {_fmt(r['value'])}")
