"""The evaluate job: score the latest plan and its forecast on what sold; gather the stages' metrics.

At run_date it takes the latest gold.launch_plan with plan_date <= run_date and
  (a) backtests it on real later sales: the planned candidates whose first sale
      falls within evaluate.launch_window_days of the plan date and whose first
      horizon weeks are complete in gold.launch_history are the realised demand;
      the plan, the oracle (the same MILP knowing that demand) and the naive
      policies (launch all at P50, all at the mean, top-k; debut.core.policies)
      are planned on those candidates and played against it (debut.core.plan_outcomes,
      the path the simulator's evaluate_truth stage shares with its truth):
      profit of each, % of the oracle, units stocked and sold;
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
from pyspark.sql import DataFrame, SparkSession
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


def to_realised_demand(history_df: DataFrame, ids_df: DataFrame, *, plan_date: dt.date, window_days: int,
                       horizon_weeks: int) -> DataFrame:
    """(candidate_id, launch_date, week, units) of the planned candidates (``ids_df``: candidate_id)
    whose launch in gold.launch_history falls in [plan_date, plan_date + window_days) and whose
    weeks 1..horizon_weeks are all complete: their real first weeks, what the plan is scored on."""
    end = plan_date + dt.timedelta(days=window_days)
    rows = (history_df.join(ids_df.withColumnRenamed("candidate_id", "item_id"), on="item_id", how="inner")
            .where((F.col("launch_date") >= F.lit(plan_date)) & (F.col("launch_date") < F.lit(end))
                   & F.col("week").between(1, horizon_weeks)))
    done = (rows.groupBy("item_id").agg(F.count(F.when(F.col("is_complete"), F.lit(1))).alias("_complete"))
            .where(F.col("_complete") == horizon_weeks).select("item_id"))
    return (rows.join(done, on="item_id", how="inner")
            .select(F.col("item_id").alias("candidate_id"), "launch_date", "week",
                    F.col("units").cast("long").alias("units")))


def sales_after_plan(spark: SparkSession, conf: Config, plan_date: dt.date, horizon_weeks: int,
                     ids: List[str]) -> Optional[pd.DataFrame]:
    """Weekly realised units (candidate_id, week, units) of the planned candidates that launched in
    the plan's window with a complete horizon, from gold.launch_history; None (with a note) when
    none has. Bounded by candidates x weeks."""
    window = conf.evaluate.launch_window_days
    if not io.exists(spark, conf, "gold.launch_history"):
        _note("gold.launch_history is absent: no later sales to score the plan on")
        return None
    ids_df = spark.createDataFrame([(i,) for i in sorted(set(ids))] or [("",)], "candidate_id string")
    weekly = to_realised_demand(io.read(spark, conf, "gold.launch_history"), ids_df, plan_date=plan_date,
                                window_days=window, horizon_weeks=horizon_weeks).toPandas()
    n = weekly["candidate_id"].nunique()
    if n == 0:
        _note(f"no planned candidate launched within {window} days of {plan_date} with {horizon_weeks} complete "
              f"weeks in gold.launch_history: actual sales not available yet")
        return None
    _note(f"{n} of {len(set(ids))} planned candidates launched within {window} days of {plan_date} with "
          f"{horizon_weeks} complete weeks: the plan is scored on their real first weeks")
    return weekly[["candidate_id", "week", "units"]]


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
        sales = sales_after_plan(spark, conf, plan_date, horizon_weeks, list(fc["candidate_id"]))
        if sales is not None:
            # every policy is planned and scored on the same candidates: those whose sales are known
            seen = set(sales["candidate_id"])
            fc_seen, plan_seen = fc[fc["candidate_id"].isin(seen)], plan[plan["candidate_id"].isin(seen)]
            metrics[("candidates_with_sales", "all", int(fc["candidate_id"].nunique()))] = len(seen)
            frames.append(PO.score_plan(plan_seen, fc_seen, sales, conf, horizon_weeks=horizon_weeks,
                                        source="sales", metrics=metrics, summary=summary))
            PO.score_forecast(fc_seen, sales, horizon_weeks=horizon_weeks, metrics=metrics, summary=summary)
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
