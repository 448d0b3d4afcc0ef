"""A past plan against the demand that came after it: the one scoring path of the evaluation.

The evaluate job (realised demand from later sales: gold.launch_history of the
planned candidates) and the simulator's evaluate_truth stage (realised demand
from the simulator's truth) both call :func:`score_plan` and
:func:`score_forecast` on a weekly demand frame (candidate_id, week, units):
the plan, the oracle and the naive policies (debut.core.policies) are played
against the same demand and scored with the same metric names under
component "evaluate" in gold.evaluation:

  profit             [policy=<p>]    realised profit of each policy's plan
  profit_pct_oracle  [all | policy=<p> | category=<c>]  plan (or policy) profit as % of the oracle's
  units_stocked      [policy=<p>]    units each policy stocks
  units_sold         [policy=<p>]    units of those stock that sold
  forecast_coverage_p10_p90, forecast_below_p10, forecast_above_p90, forecast_wape, forecast_bias
                     [all | category=<c>]  the plan's forecast against the realised demand

Everything here is pandas over one plan date (bounded by its candidates).
"""
from __future__ import annotations

import datetime as dt
from typing import Callable, Dict, List, Mapping, Optional

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from debut import io
from debut.config import Config
from debut.core import metrics as M
from debut.core import policies
from debut.core.quantiles import quantile_names
from debut.schemas import LAUNCH_OUTCOMES, POLICY_CEILING_ATTRIBUTES, POLICY_ORACLE, POLICY_PLAN

COMPONENT = "evaluate"
PLAN_COLUMNS = ["category", "candidate_id", "plan_date", "launch", "quantity", "expected_profit"]
Note = Callable[[str], None]


def as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


# ------------------------------------------------------------------ inputs
def latest_plan(spark: SparkSession, conf: Config, run_date: dt.date, note: Note) -> Optional[pd.DataFrame]:
    """The plan rows (every candidate, launched or not) of the latest plan_date <= run_date."""
    if not io.exists(spark, conf, "gold.launch_plan"):
        note("gold.launch_plan is absent: no plan to score")
        return None
    plans = io.read(spark, conf, "gold.launch_plan").where(F.col("plan_date") <= F.lit(run_date))
    last = plans.agg(F.max("plan_date")).first()[0]
    if last is None:
        note(f"gold.launch_plan has no plan dated on or before {run_date}")
        return None
    return plans.where(F.col("plan_date") == F.lit(last)).select(*PLAN_COLUMNS).toPandas()


def plan_forecast(spark: SparkSession, conf: Config, plan_date: dt.date, note: Note) -> Optional[pd.DataFrame]:
    """gold.launch_forecast rows of the plan (one per candidate) with p10/p50/p90 and weekly_p50 aliases."""
    if not io.exists(spark, conf, "gold.launch_forecast"):
        note("gold.launch_forecast is absent: no forecast to score")
        return None
    lo, mid, hi = quantile_names(conf.forecast.quantiles)
    f = io.read(spark, conf, "gold.launch_forecast").where(F.col("plan_date") == F.lit(plan_date))
    keep = [c for c in f.columns if c not in ("neighbours", "weights") and not c.startswith("weekly_")]
    return f.select(*keep, F.col(f"units_{lo}").alias("p10"), F.col(f"units_{mid}").alias("p50"),
                    F.col(f"units_{hi}").alias("p90"), F.col(f"weekly_{mid}").alias("weekly_p50")).toPandas()


# ------------------------------------------------------------------ scoring
def pct_of_oracle(profit: float, oracle_profit: float) -> Optional[float]:
    """Profit as a percentage of the oracle's (None when the oracle makes no profit)."""
    if oracle_profit is None or not np.isfinite(oracle_profit) or oracle_profit <= 0:
        return None
    return 100.0 * profit / oracle_profit


def policy_outcomes(plan: pd.DataFrame, fc: pd.DataFrame, weekly: pd.DataFrame, conf: Config,
                    references: Optional[Mapping[str, pd.DataFrame]] = None) -> pd.DataFrame:
    """Outcome rows of the plan, the naive policies, the oracle and any ``references`` plans
    against the weekly demand (the same MILP and constraints for the oracle; every plan is
    scored by its realised profit)."""
    truth = weekly[["candidate_id", "week", "units"]]
    plans = {POLICY_PLAN: plan[plan["candidate_id"].notna()]}
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


def score_plan(plan: pd.DataFrame, fc: pd.DataFrame, weekly: pd.DataFrame, conf: Config, *, horizon_weeks: int,
               source: str, metrics: Dict, summary: Dict,
               references: Optional[Mapping[str, pd.DataFrame]] = None) -> pd.DataFrame:
    """gold.launch_outcomes rows of every policy against ``weekly`` demand; their metrics go to
    ``metrics`` (record_metrics keys) and the totals to ``summary``."""
    res = policy_outcomes(plan, fc, weekly, conf, references)
    res["demand_source"] = source
    w = weekly[weekly["week"] <= horizon_weeks].sort_values("week").groupby("candidate_id")["units"].agg(list)
    res["weekly_demand"] = res["candidate_id"].map(w)
    totals = res.groupby("policy")["profit"].sum()
    oracle = float(totals.get(POLICY_ORACLE, np.nan))
    summary["profit"] = {k: float(v) for k, v in totals.items()}
    n = int(res["candidate_id"].nunique())
    units = res.groupby("policy")[["quantity", "units_sold"]].sum()
    summary["units"] = {k: (int(r["quantity"]), int(r["units_sold"])) for k, r in units.iterrows()}
    for policy, value in totals.items():
        metrics[("profit", f"policy={policy}", n)] = float(value)
        metrics[("units_stocked", f"policy={policy}", n)] = int(units.loc[policy, "quantity"])
        metrics[("units_sold", f"policy={policy}", n)] = int(units.loc[policy, "units_sold"])
        pct = pct_of_oracle(float(value), oracle)
        if pct is not None:
            metrics[("profit_pct_oracle", f"policy={policy}", n)] = pct
            if policy == POLICY_PLAN:
                metrics[("profit_pct_oracle", "all", n)] = pct
    attainable = pct_of_oracle(float(totals.get(POLICY_PLAN, 0.0)),
                               float(totals.get(POLICY_CEILING_ATTRIBUTES, np.nan)))
    if attainable is not None:
        metrics[("profit_pct_attainable", "all", n)] = attainable
        summary["pct_attainable"] = attainable
    for cat, g in res[res["policy"].isin([POLICY_PLAN, POLICY_ORACLE])].groupby("category"):
        t = g.groupby("policy")["profit"].sum()
        pct = pct_of_oracle(float(t.get(POLICY_PLAN, 0.0)), float(t.get(POLICY_ORACLE, np.nan)))
        if pct is not None:
            metrics[("profit_pct_oracle", f"category={cat}", int(g["candidate_id"].nunique()))] = pct
    return res


def calibration(df: pd.DataFrame) -> Dict[str, float]:
    """Interval and point scores of total-horizon forecasts (df: actual, p10, p50, p90 per candidate):
    coverage_p10_p90, the misses below_p10 / above_p90, wape and bias of P50."""
    c = M.interval_calibration(df["actual"], df["p10"], df["p50"], df["p90"])
    if not c["n"]:
        return {"n": 0}
    return {"n": c["n"], "coverage_p10_p90": c["coverage"], "below_p10": c["below"], "above_p90": c["above"],
            "wape": c["wape"], "bias": c["bias"]}


def score_forecast(fc: pd.DataFrame, weekly: pd.DataFrame, *, horizon_weeks: int, metrics: Dict,
                   summary: Dict, candidates: Optional[List[str]] = None) -> None:
    """The plan's forecast of each candidate (or only of ``candidates``) against its realised
    units over the horizon: forecast_* metrics overall and per category."""
    actual = weekly[weekly["week"] <= horizon_weeks].groupby("candidate_id")["units"].sum()
    df = fc[["candidate_id", "category", "p10", "p50", "p90"]].copy()
    if candidates is not None:
        df = df[df["candidate_id"].isin(candidates)]
    df["actual"] = df["candidate_id"].map(actual).fillna(0.0)
    for label, g in [("all", df)] + [(f"category={c}", g) for c, g in df.groupby("category")]:
        cal = calibration(g)
        for key in ("coverage_p10_p90", "below_p10", "above_p90", "wape", "bias"):
            if np.isfinite(cal.get(key, np.nan)):
                metrics[(f"forecast_{key}", label, cal["n"])] = cal[key]
    summary["forecast"] = calibration(df)


# ------------------------------------------------------------------ output
def outcomes_frame(frames: List[pd.DataFrame], plan_date: dt.date, run_date: dt.date) -> Optional[pd.DataFrame]:
    """LAUNCH_OUTCOMES-shaped pandas rows (plain Python values) of the non-empty ``frames``."""
    frames = [f for f in frames if f is not None and not f.empty]
    if not frames:
        return None
    out = pd.concat(frames, ignore_index=True)
    out["plan_date"] = plan_date
    out["run_date"] = run_date
    cols = [f.name for f in LAUNCH_OUTCOMES.fields]
    for c in cols:
        if c not in out.columns:
            out[c] = None
    out = out[cols].astype(object).where(pd.notna(out[cols]), None)
    out["weekly_demand"] = [None if not isinstance(v, (list, np.ndarray)) else [int(x) for x in v]
                            for v in out["weekly_demand"]]
    return out


def write_outcomes(spark: SparkSession, conf: Config, frames: List[pd.DataFrame], plan_date: dt.date,
                   run_date: dt.date) -> int:
    """Replace the plan date's gold.launch_outcomes with ``frames``; returns the rows written."""
    out = outcomes_frame(frames, plan_date, run_date)
    if out is None:
        return 0
    df = io.select_schema(spark.createDataFrame(out), LAUNCH_OUTCOMES)
    io.replace_where(df, conf, "gold.launch_outcomes", f"plan_date = '{plan_date.isoformat()}'")
    return len(out)


def fmt(v) -> str:
    return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:,.2f}"


def summary_lines(s: Mapping) -> List[str]:
    """The printed lines of a scored plan: each policy's profit (and % of oracle), the forecast."""
    lines = []
    if "profit" in s:
        oracle = s["profit"].get(POLICY_ORACLE)
        for k, v in sorted(s["profit"].items(), key=lambda kv: -kv[1]):
            pct = pct_of_oracle(v, oracle)
            stock = s.get("units", {}).get(k)
            lines.append(f"  profit {k:<22} {fmt(v):>12}" + (f"  ({pct:.1f}% of oracle)" if pct is not None else "")
                         + (f"  stocked {stock[0]:,}, sold {stock[1]:,}" if stock else ""))
    if "pct_attainable" in s:
        lines.append(f"  the plan makes {s['pct_attainable']:.1f}% of the profit of the best forecast from attributes "
                     f"({POLICY_CEILING_ATTRIBUTES}); no pre-launch forecast can see the rest of the oracle's")
    if "forecast" in s and s["forecast"].get("n"):
        f = s["forecast"]
        lines.append(f"  forecast over {f['n']} candidates: P10-P90 coverage {f['coverage_p10_p90']:.0%} "
                     f"(below {f['below_p10']:.0%}, above {f['above_p90']:.0%}), WAPE {fmt(f['wape'])}, "
                     f"bias {fmt(f['bias'])}")
    return lines
