"""evaluate_truth: what only the simulator's truth can measure (the only stage that reads paths.truth_dir).

Run after evaluate. When ``<truth_dir>/candidate_demand.parquet`` exists for the
latest plan's date it
  (a) plays the plan, the oracle and the naive policies against the truth's
      demand (every candidate live, uncensored) through the evaluate job's own
      path (debut.core.plan_outcomes), plus two plans from better-informed
      forecasts that bound what forecasting can still add: each candidate's
      exact expected demand (ceiling_exact_mean) and the demand its attributes
      imply with the unlearnable part of its appeal integrated out
      (ceiling_attributes, the best any pre-launch forecast can do);
  (b) replays the launched candidates day by day (Marketplace.play_forward) and
      compares the static plan with the plan the adjust rules adjust
      (debut.simulate.closed_loop);
  (c) scores the forecast against the truth.
It also scores the customer segments against ``user_segments.parquet`` (ARI).
Writes gold.launch_outcomes (replaceWhere plan_date: the truth's outcomes take
the place of any scored from later sales) and the metrics under component
"evaluate" in gold.evaluation, with the names the evaluate job uses. Without
truth it prints one line and writes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import os
from typing import Dict, List, Optional

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from debut import io
from debut.config import Config, ConfigError
from debut.core import plan_outcomes as PO
from debut.core import policies
from debut.schemas import POLICY_ADJUSTED, POLICY_CEILING_ATTRIBUTES, POLICY_CEILING_MEAN, POLICY_STATIC
from debut.simulate import closed_loop, segment_recovery
from debut.simulate.catalog import APPEAL_SD, SIGNAL_SHARE
from debut.simulate.market import UNLIMITED, Marketplace
from debut.tracking import job_run, record_metrics

JOB = "evaluate_truth"
TRUTH_FILE = "candidate_demand.parquet"
NOISE_NODES = np.linspace(-3.0, 3.0, 7)      # unlearnable appeal, in standard deviations


def _note(msg: str) -> None:
    print(f"[{JOB}] {msg}", flush=True)


# ------------------------------------------------------------------ truth
def truth_demand(conf: Config, plan_date: dt.date) -> Optional[pd.DataFrame]:
    """The simulator's weekly candidate demand for the window starting at plan_date, or None (with a note)."""
    path = os.path.join(conf.paths.truth_dir, TRUTH_FILE)
    summary = os.path.join(conf.paths.truth_dir, "summary.json")
    if not os.path.exists(path):
        _note(f"no simulator truth ({path} is absent): nothing to score against the truth")
        return None
    if os.path.exists(summary):
        with open(summary) as fh:
            sim_date = json.load(fh).get("run_date")
        if sim_date and dt.date.fromisoformat(sim_date) != plan_date:
            _note(f"simulator truth is for {sim_date}, the plan for {plan_date}: truth not used")
            return None
    return pd.read_parquet(path)


def ceiling_plans(fc: pd.DataFrame, conf: Config, plan_date: dt.date, horizon_weeks: int) -> Dict[str, pd.DataFrame]:
    """The MILP's plans from the exact expected demand and from the expected demand given the
    attributes (the appeal noise integrated out), with the optimizer's scenario count."""
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


# ------------------------------------------------------------------ (b) closed loop
def closed_loop_outcomes(plan: pd.DataFrame, fc: pd.DataFrame, conf: Config, plan_date: dt.date,
                         horizon_days: int, metrics: Dict, summary: Dict) -> pd.DataFrame:
    """The launched candidates played forward day by day, static and adjusted."""
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
    weekly = closed_loop.weekly_sums(demand, "demand", horizon_days)
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


# ------------------------------------------------------------------ segments
def segment_ari(spark: SparkSession, conf: Config, metrics: Dict, summary: Dict) -> None:
    """ARI of gold.customer_profile's segments against the truth's (when both exist and a key is set)."""
    from debut.core.pseudonym import hash_key

    if not io.exists(spark, conf, "gold.customer_profile"):
        return
    try:
        key = hash_key(conf)
    except ConfigError:  # no key in this environment: nothing to match the truth's raw ids with
        return
    truth = segment_recovery.read_truth_segments(spark, conf, key)
    if truth is None:
        return
    profile = io.read(spark, conf, "gold.customer_profile").select("user_key", "segment")
    ari = segment_recovery.segment_recovery(profile, truth)
    if np.isfinite(ari):
        metrics[("segment_ari", "all", None)] = ari
        summary["segment_ari"] = ari


# ------------------------------------------------------------------ the job
def run(spark: SparkSession, conf: Config, run_date) -> Dict:
    run_date = PO.as_date(run_date)
    with job_run(conf, JOB, run_date.isoformat()):
        return _run(spark, conf, run_date)


def _run(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict:
    metrics: Dict = {}
    frames: List[pd.DataFrame] = []
    summary: Dict = {"run_date": run_date.isoformat()}
    plan = PO.latest_plan(spark, conf, run_date, _note)
    fc = truth = None
    if plan is not None:
        plan_date = PO.as_date(plan["plan_date"].iloc[0])
        summary["plan_date"] = plan_date.isoformat()
        fc = PO.plan_forecast(spark, conf, plan_date, _note)
    if fc is not None and not fc.empty:
        truth = truth_demand(conf, plan_date)
    if truth is not None:
        horizon_weeks = int(fc["horizon_weeks"].max())
        refs = ceiling_plans(fc, conf, plan_date, horizon_weeks)
        frames.append(PO.score_plan(plan, fc, truth, conf, horizon_weeks=horizon_weeks, source="truth",
                                    metrics=metrics, summary=summary, references=refs))
        PO.score_forecast(fc, truth, horizon_weeks=horizon_weeks, metrics=metrics, summary=summary)
        frames.append(closed_loop_outcomes(plan, fc, conf, plan_date, 7 * horizon_weeks, metrics, summary))
        PO.write_outcomes(spark, conf, frames, plan_date, run_date)
    segment_ari(spark, conf, metrics, summary)
    if metrics:
        record_metrics(spark, conf, run_date, PO.COMPONENT, metrics)
    _print_summary(summary)
    return summary


def _print_summary(s: Dict) -> None:
    if "profit" not in s and "segment_ari" not in s:
        return
    _note(f"run_date {s['run_date']}, plan {s.get('plan_date', '-')}, against the simulator's truth")
    for line in PO.summary_lines(s):
        _note(line)
    if "closed_loop" in s:
        c = s["closed_loop"]
        _note(f"  closed loop (simulator): static {PO.fmt(c['static'])}, adjusted {PO.fmt(c['adjusted'])} "
              f"({PO.fmt(c['adjusted'] - c['static'])}); decisions {c['actions']}")
    if "segment_ari" in s:
        _note(f"  segment recovery vs simulator truth: adjusted Rand index {s['segment_ari']:.3f}")
