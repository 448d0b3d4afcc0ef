"""The evaluate job: score the latest plan, its forecast and the closed loop; gather the stages' metrics.

At run_date it takes the latest gold.launch_plan with plan_date <= run_date and
  (a) plays it, the oracle plan and the naive policies (debut.optimize.policies)
      against the realised demand of every candidate: the simulator's truth
      (paths.truth_dir/candidate_demand.parquet) when it exists for that plan
      date, else later sales in silver.item_daily once the horizon has passed;
      On the simulator it also plans from two better-informed forecasts, to
      bound what forecasting can still add: each candidate's exact expected
      demand, and the demand its attributes imply with the unlearnable part
      of its appeal integrated out (the best any pre-launch forecast can do);
  (b) on the simulator only: replays the launched candidates day by day
      (Marketplace.play_forward) and compares the static plan with the plan
      adjusted by the adjust rules (debut.evaluate.closed_loop);
  (c) scores the forecast per candidate: P10-P90 coverage, misses below / above,
      WAPE and bias of P50;
  (d) replays the stock decision over gold.forecast_backtest's historical
      cutoffs (newsvendor on the backtest quantiles vs what sold) and prints the
      recommend / forecast / deep metrics the stages already put in gold.evaluation.
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
import json
import os
from typing import Dict, List, Optional

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from debut import io
from debut.config import Config
from debut.evaluate import closed_loop, scoring
from debut.evaluate.schema import (LAUNCH_OUTCOMES, POLICY_ADJUSTED, POLICY_CEILING_ATTRIBUTES,
                                   POLICY_CEILING_MEAN, POLICY_ORACLE, POLICY_PLAN, POLICY_STATIC)
from debut.tracking import job_run, record_metrics

COMPONENT = "evaluate"
# the other stages' metrics printed in the summary (all of them stay in gold.evaluation and the report)
HEADLINE_STAGE_METRICS = ("ndcg@10", "recall@10", "coverage@10", "wape", "coverage_p10_p90", "bias", "spearman",
                          "auc", "intent_auc", "wape_p50", "expected_profit", "launches")


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _note(msg: str) -> None:
    print(f"[evaluate] {msg}", flush=True)


# ------------------------------------------------------------------ inputs
def latest_plan(spark: SparkSession, conf: Config, run_date: dt.date) -> Optional[pd.DataFrame]:
    """The plan rows (every candidate, launched or not) of the latest plan_date <= run_date."""
    if not io.exists(spark, conf, "gold.launch_plan"):
        _note("gold.launch_plan is absent: no plan to score")
        return None
    plans = io.read(spark, conf, "gold.launch_plan").where(F.col("plan_date") <= F.lit(run_date))
    last = plans.agg(F.max("plan_date")).first()[0]
    if last is None:
        _note(f"gold.launch_plan has no plan dated on or before {run_date}")
        return None
    cols = ["category", "candidate_id", "plan_date", "launch", "quantity", "expected_profit"]
    return plans.where(F.col("plan_date") == F.lit(last)).select(*cols).toPandas()


def plan_forecast(spark: SparkSession, conf: Config, plan_date: dt.date) -> Optional[pd.DataFrame]:
    """gold.launch_forecast rows of the plan (one per candidate) with p10/p50/p90 and weekly_p50 aliases."""
    if not io.exists(spark, conf, "gold.launch_forecast"):
        _note("gold.launch_forecast is absent: no forecast to score, no closed loop")
        return None
    lo, mid, hi = quantile_names(conf)
    f = io.read(spark, conf, "gold.launch_forecast").where(F.col("plan_date") == F.lit(plan_date))
    keep = [c for c in f.columns if c not in ("neighbours", "weights") and not c.startswith("weekly_")]
    return f.select(*keep, F.col(f"units_{lo}").alias("p10"), F.col(f"units_{mid}").alias("p50"),
                    F.col(f"units_{hi}").alias("p90"), F.col(f"weekly_{mid}").alias("weekly_p50")).toPandas()


def quantile_names(conf: Config):
    """Suffixes of the lowest, middle and highest forecast quantile columns (p10, p50, p90 by default)."""
    from debut.forecast.schema import quantile_name
    qs = tuple(conf.forecast.quantiles)
    return quantile_name(qs[0]), quantile_name(qs[len(qs) // 2]), quantile_name(qs[-1])


def truth_demand(conf: Config, plan_date: dt.date) -> Optional[pd.DataFrame]:
    """The simulator's weekly candidate demand for the window starting at plan_date, or None."""
    path = os.path.join(conf.paths.truth_dir, "candidate_demand.parquet")
    summary = os.path.join(conf.paths.truth_dir, "summary.json")
    if not os.path.exists(path):
        return None
    if os.path.exists(summary):
        with open(summary) as fh:
            sim_date = json.load(fh).get("run_date")
        if sim_date and dt.date.fromisoformat(sim_date) != plan_date:
            _note(f"simulator truth is for {sim_date}, the plan for {plan_date}: truth not used")
            return None
    return pd.read_parquet(path)


def sales_actuals(spark: SparkSession, conf: Config, plan_date: dt.date, run_date: dt.date,
                  horizon_days: int, ids: List[str]) -> Optional[pd.DataFrame]:
    """Weekly units of the candidates from silver.item_daily once their horizon has passed (real data)."""
    end = plan_date + dt.timedelta(days=horizon_days)
    if run_date < end or not io.exists(spark, conf, "silver.item_daily"):
        _note(f"no truth and the horizon ends {end}: actual sales not available yet")
        return None
    daily = (io.read(spark, conf, "silver.item_daily")
             .where(F.col("item_id").isin(ids) & (F.col("date") >= F.lit(plan_date)) & (F.col("date") < F.lit(end)))
             .groupBy("item_id", (F.floor(F.datediff("date", F.lit(plan_date)) / 7) + 1).alias("week"))
             .agg(F.sum("units").alias("units"))
             .withColumnRenamed("item_id", "candidate_id").toPandas())
    return daily


# ------------------------------------------------------------------ (a) policies
def policy_outcomes(plan: pd.DataFrame, fc: pd.DataFrame, weekly: pd.DataFrame, conf: Config,
                    references: Optional[Dict[str, pd.DataFrame]] = None) -> pd.DataFrame:
    """Outcome rows of the plan, the oracle, the naive policies and any ``references`` plans
    against the weekly demand.

    The oracle and naive plans come from debut.optimize.policies (same MILP and
    constraints, or the naive rules); every plan is scored by its realised_profit.
    """
    from debut.optimize import policies

    truth = weekly[["candidate_id", "week", "units"]]
    plans = {POLICY_PLAN: plan}          # gold.launch_plan holds candidate rows only
    plans.update(policies.baseline_plans(fc, conf))
    plans[POLICY_ORACLE] = policies.oracle_plan(fc, truth, conf)
    plans.update(references or {})
    out = []
    for name, p in plans.items():
        p = p[p["candidate_id"].notna()][["candidate_id", "launch", "quantity"]]
        res = policies.realised_profit(p, truth, fc, conf)
        res["policy"] = name
        out.append(res.drop(columns=["launch"]))
    return pd.concat(out, ignore_index=True)


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
        horizon_days = 7 * horizon_weeks
        truth = truth_demand(conf, plan_date)
        source = "truth"
        if truth is None:
            truth = sales_actuals(spark, conf, plan_date, run_date, horizon_days, list(fc["candidate_id"]))
            source = "sales"
        if truth is not None:
            frames.append(_score_plan(plan, fc, truth, conf, plan_date, horizon_weeks, source, metrics, summary))
            frames.append(_score_forecast(fc, truth, horizon_weeks, metrics, summary))
        if source == "truth" and truth is not None:
            frames.append(_closed_loop(plan, fc, conf, plan_date, horizon_days, metrics, summary))
    _backtest_replay(spark, conf, metrics, summary)
    frames = [f for f in frames if f is not None and not f.empty]
    if frames:
        out = pd.concat(frames, ignore_index=True)
        out["plan_date"] = plan_date
        out["run_date"] = run_date
        df = io.select_schema(spark.createDataFrame(_for_spark(out)), LAUNCH_OUTCOMES)
        io.replace_where(df, conf, "gold.launch_outcomes", f"plan_date = '{plan_date.isoformat()}'")
    if metrics:
        record_metrics(spark, conf, run_date, COMPONENT, metrics)
    summary["stage_metrics"] = _stage_metrics(spark, conf, run_date)
    _print_summary(summary)
    return summary


def _for_spark(out: pd.DataFrame) -> pd.DataFrame:
    cols = [f.name for f in LAUNCH_OUTCOMES.fields]
    for c in cols:
        if c not in out.columns:
            out[c] = None
    out = out[cols].astype(object).where(pd.notna(out[cols]), None)
    out["weekly_demand"] = [None if not isinstance(v, (list, np.ndarray)) else [int(x) for x in v]
                            for v in out["weekly_demand"]]
    return out


NOISE_NODES = np.linspace(-3.0, 3.0, 7)      # unlearnable appeal, in standard deviations


def ceiling_plans(fc: pd.DataFrame, conf: Config, plan_date: dt.date, horizon_weeks: int) -> Dict[str, pd.DataFrame]:
    """Simulator only: the MILP's plans from the exact expected demand and from the expected
    demand given the attributes (the appeal noise integrated out), the same scenario count."""
    from debut.optimize import policies
    from debut.simulate.catalog import APPEAL_SD, SIGNAL_SHARE
    from debut.simulate.market import Marketplace

    fc = fc[fc["candidate_id"].notna()].drop_duplicates("candidate_id")
    ids = list(fc["candidate_id"])
    if not ids:
        return {}
    mp = Marketplace(conf.simulate, plan_date)
    days = 7 * horizon_weeks
    exact = (mp.expected_demand(plan_date, days, ids).groupby("candidate_id")["expected_units"].sum()
             .reindex(ids).to_numpy())
    sd = float(np.sqrt(1.0 - SIGNAL_SHARE) * APPEAL_SD)
    values = NOISE_NODES * sd
    by_noise = mp.expected_totals_by_noise(plan_date, days, ids, values)
    n, seed = conf.optimize.scenarios, conf.evaluate.play_forward_seed or 0
    out = {}
    for name, scen in ((POLICY_CEILING_MEAN, policies.ceiling_scenarios(exact, n, seed)),
                       (POLICY_CEILING_ATTRIBUTES, policies.ceiling_scenarios(by_noise, n, seed, values, sd))):
        out[name] = policies.scenario_plan(fc, dict(zip(ids, scen)), conf)
    return out


def _score_plan(plan, fc, truth, conf, plan_date, horizon_weeks, source, metrics, summary) -> pd.DataFrame:
    try:
        refs = ceiling_plans(fc, conf, plan_date, horizon_weeks) if source == "truth" else {}
        res = policy_outcomes(plan, fc, truth, conf, refs)
    except ImportError:
        _note("debut.optimize.policies is not available: plan not scored against the oracle")
        return pd.DataFrame()
    res["demand_source"] = source
    weekly = truth[truth["week"] <= horizon_weeks].sort_values("week").groupby("candidate_id")["units"].agg(list)
    res["weekly_demand"] = res["candidate_id"].map(weekly)
    totals = res.groupby("policy")["profit"].sum()
    oracle = float(totals.get(POLICY_ORACLE, np.nan))
    summary["profit"] = {k: float(v) for k, v in totals.items()}
    n = int(res["candidate_id"].nunique())
    for policy, value in totals.items():
        metrics[("profit", f"policy={policy}", n)] = float(value)
        pct = scoring.pct_of_oracle(float(value), oracle)
        if pct is not None:
            metrics[("profit_pct_oracle", f"policy={policy}", n)] = pct
            if policy == POLICY_PLAN:
                metrics[("profit_pct_oracle", "all", n)] = pct
    attainable = scoring.pct_of_oracle(float(totals.get(POLICY_PLAN, 0.0)),
                                       float(totals.get(POLICY_CEILING_ATTRIBUTES, np.nan)))
    if attainable is not None:
        metrics[("profit_pct_attainable", "all", n)] = attainable
        summary["pct_attainable"] = attainable
    for cat, g in res[res["policy"].isin([POLICY_PLAN, POLICY_ORACLE])].groupby("category"):
        t = g.groupby("policy")["profit"].sum()
        pct = scoring.pct_of_oracle(float(t.get(POLICY_PLAN, 0.0)), float(t.get(POLICY_ORACLE, np.nan)))
        if pct is not None:
            metrics[("profit_pct_oracle", f"category={cat}", int(g["candidate_id"].nunique()))] = pct
    return res


def _score_forecast(fc, truth, horizon_weeks, metrics, summary) -> pd.DataFrame:
    actual = truth[truth["week"] <= horizon_weeks].groupby("candidate_id")["units"].sum()
    df = fc[["candidate_id", "category", "p10", "p50", "p90"]].copy()
    df["actual"] = df["candidate_id"].map(actual).fillna(0.0)
    for label, g in [("all", df)] + [(f"category={c}", g) for c, g in df.groupby("category")]:
        cal = scoring.calibration(g)
        for key in ("coverage_p10_p90", "below_p10", "above_p90", "wape", "bias"):
            if np.isfinite(cal.get(key, np.nan)):
                metrics[(f"forecast_{key}", label, cal["n"])] = cal[key]
    summary["forecast"] = scoring.calibration(df)
    return pd.DataFrame()


def _closed_loop(plan, fc, conf, plan_date, horizon_days, metrics, summary) -> pd.DataFrame:
    from debut.simulate.market import UNLIMITED, Marketplace

    launched = plan[plan["launch"].astype(bool) & (plan["quantity"] > 0)].merge(
        fc[["candidate_id", "price", "unit_cost", "weekly_p50"]], on="candidate_id", how="inner")
    if launched.empty:
        _note("the plan launches nothing: no closed loop to play")
        return pd.DataFrame()
    mp = Marketplace(conf.simulate, plan_date)
    seed = conf.evaluate.play_forward_seed or None
    demand = mp.play_forward(plan_date, horizon_days,
                             pd.DataFrame({"candidate_id": launched["candidate_id"], "stock": UNLIMITED}), seed=seed)
    opt = conf.optimize
    static = closed_loop.play_static(launched, demand, horizon_days, launch_cost=opt.launch_cost,
                                     salvage_rate=opt.salvage_rate, policy=POLICY_STATIC)
    curves = dict(zip(launched["candidate_id"], launched["weekly_p50"]))
    adjusted, decisions = closed_loop.play_adjusted(launched, demand, curves, horizon_days, conf.adjust,
                                                    launch_cost=opt.launch_cost, salvage_rate=opt.salvage_rate,
                                                    policy=POLICY_ADJUSTED)
    out = pd.concat([static, adjusted], ignore_index=True)
    out["demand_source"] = "play_forward"
    weekly = scoring.weekly_sums(demand, "demand", horizon_days)
    out["weekly_demand"] = out["candidate_id"].map(weekly)
    p_static, p_adj = float(static["profit"].sum()), float(adjusted["profit"].sum())
    n = len(launched)
    metrics[("closed_loop_profit", "policy=static", n)] = p_static
    metrics[("closed_loop_profit", "policy=adjusted", n)] = p_adj
    metrics[("closed_loop_uplift", "adjusted_minus_static", n)] = p_adj - p_static
    if p_static > 0:
        metrics[("closed_loop_uplift_pct", "all", n)] = 100.0 * (p_adj - p_static) / p_static
    counts = decisions["action"].value_counts() if not decisions.empty else pd.Series(dtype=int)
    for action, c in counts.items():
        metrics[("closed_loop_decisions", f"action={action}", n)] = int(c)
    summary["closed_loop"] = {"static": p_static, "adjusted": p_adj,
                              "actions": {k: int(v) for k, v in counts.items()}}
    return out


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


def _fmt(v) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:,.2f}"


def _print_summary(s: Dict) -> None:
    _note(f"run_date {s['run_date']}, plan {s.get('plan_date', '-')}")
    if "profit" in s:
        oracle = s["profit"].get(POLICY_ORACLE)
        for k, v in sorted(s["profit"].items(), key=lambda kv: -kv[1]):
            pct = scoring.pct_of_oracle(v, oracle)
            _note(f"  profit {k:<22} {_fmt(v):>12}" + (f"  ({pct:.1f}% of oracle)" if pct is not None else ""))
    if "pct_attainable" in s:
        _note(f"  the plan makes {s['pct_attainable']:.1f}% of the profit of the best forecast from attributes "
              f"({POLICY_CEILING_ATTRIBUTES}); no pre-launch forecast can see the rest of the oracle's")
    if "forecast" in s and s["forecast"].get("n"):
        f = s["forecast"]
        _note(f"  forecast over {f['n']} candidates: P10-P90 coverage {f['coverage_p10_p90']:.0%} "
              f"(below {f['below_p10']:.0%}, above {f['above_p90']:.0%}), WAPE {_fmt(f['wape'])}, "
              f"bias {_fmt(f['bias'])}")
    if "closed_loop" in s:
        c = s["closed_loop"]
        _note(f"  closed loop (simulator): static {_fmt(c['static'])}, adjusted {_fmt(c['adjusted'])} "
              f"({_fmt(c['adjusted'] - c['static'])}); decisions {c['actions']}")
    if "replay" in s:
        _note(f"  stock decision replayed at {s['replay_cutoffs']} backtest cutoffs: "
              + ", ".join(f"{k} {v:.1f}% of oracle" for k, v in s["replay"].items()))
    for r in s.get("stage_metrics", []):
        if r["slice"] in ("all", "warm", "cold", "blend") and r["metric"] in HEADLINE_STAGE_METRICS:
            _note(f"  {r['component']}.{r['metric']} [{r['slice']}] = {_fmt(r['value'])}")
