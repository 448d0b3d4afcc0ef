"""optimize_launch: gold.launch_forecast (plan_date = run_date) -> gold.launch_plan.

One MILP per category, solved on the executors by
``groupBy("plan_date", "category").applyInPandas``. The plan date's partition
of gold.launch_plan is replaced in one commit (replaceWhere), so a rerun
replaces its rows and never duplicates them. Per-category totals are printed
and recorded (component "optimize") in gold.evaluation and MLflow.
"""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Union

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io, tracking
from debut.config import Config, flatten
from debut.core.category_plan import INPUT_COLUMNS, OPTIONAL_COLUMNS, PLAN_SCHEMA, REQUIRED_COLUMNS, make_udf

JOB = "optimize_launch"
SOURCE, TARGET = "gold.launch_forecast", "gold.launch_plan"
PLANNED = ("optimal", "time_limit")        # solver statuses that produced a plan


def _log(msg: str) -> None:
    print(f"[{JOB}] {msg}", flush=True)


def to_plan(forecast: DataFrame, conf: Config) -> DataFrame:
    """One MILP per (plan_date, category) on the executors: PLAN_SCHEMA rows."""
    missing = [c for c in REQUIRED_COLUMNS if c not in forecast.columns]
    if missing:
        raise ValueError(f"{SOURCE} lacks column(s) {', '.join(missing)}")
    cols = [c for c in INPUT_COLUMNS + OPTIONAL_COLUMNS if c in forecast.columns]
    return (forecast.select(*cols)
            .groupBy("plan_date", "category")
            .applyInPandas(make_udf(conf), PLAN_SCHEMA))


def summarise(plan: DataFrame) -> List[Dict]:
    """Per-category totals (bounded by the number of categories, collected)."""
    cand = F.col("candidate_id").isNotNull()
    rows = (plan.groupBy("category")
            .agg(F.sum(F.when(cand & F.col("launch"), 1).otherwise(0)).alias("launches"),
                 F.sum(F.when(cand, 1).otherwise(0)).alias("candidates"),
                 F.sum("quantity").alias("units"), F.sum("spend").alias("spend"),
                 F.sum(F.when(cand, F.col("expected_profit"))).alias("expected_profit"),
                 F.first(F.when(~cand, F.col("solver_status")), ignorenulls=True).alias("_status_row"),
                 F.first(F.when(cand, F.col("solver_status")), ignorenulls=True).alias("_status"),
                 F.first(F.when(~cand, F.col("reason")), ignorenulls=True).alias("problem"),
                 F.max("mip_gap").alias("mip_gap"), F.max("solve_time_s").alias("solve_time_s"))
            .orderBy("category").collect())
    out = []
    for r in rows:
        d = r.asDict()
        d["status"] = d.pop("_status_row") or d.pop("_status") or "error"
        d.pop("_status", None)
        out.append(d)
    return out


def _print(totals: List[Dict], limit: int) -> None:
    _log(f"{'category':<20} {'status':<13} {'launch':>6} {'units':>8} {'spend':>11} {'exp.profit':>11} "
         f"{'gap':>7} {'secs':>6}")
    for t in totals[:limit]:
        gap = "-" if t["mip_gap"] is None else f"{t['mip_gap']:.2%}"
        _log(f"{t['category'][:20]:<20} {t['status']:<13} {t['launches']:>3}/{t['candidates']:<2} "
             f"{t['units'] or 0:>8,} {t['spend'] or 0:>11,.0f} {t['expected_profit'] or 0:>11,.0f} {gap:>7} "
             f"{t['solve_time_s'] or 0:>6.2f}")
        if t["problem"]:
            _log(f"{'':<20} {t['problem']}")
    if len(totals) > limit:
        _log(f"... and {len(totals) - limit} more categories (optimize.print_limit={limit})")


def run(spark: SparkSession, conf: Config, run_date: Union[str, dt.date]) -> Dict[str, float]:
    day = run_date if isinstance(run_date, dt.date) else dt.date.fromisoformat(str(run_date))
    params = {f"optimize.{k}": v for k, v in flatten(conf.optimize).items()}
    with tracking.job_run(conf, JOB, day.isoformat(), params=params, log_conf=False):
        forecast = io.read(spark, conf, SOURCE).where(F.col("plan_date") == F.lit(day))
        if forecast.limit(1).count() == 0:
            raise io.MissingTableError(f"{SOURCE} has no rows for plan_date {day}; run forecast_launch for "
                                       f"this date first")
        plan = to_plan(forecast, conf)
        io.replace_where(plan, conf, TARGET, f"plan_date = '{day.isoformat()}'")
        written = io.read(spark, conf, TARGET).where(F.col("plan_date") == F.lit(day))
        totals = summarise(written)
        _print(totals, conf.optimize.print_limit)
        solved = [t for t in totals if t["status"] in PLANNED]
        summary = {
            "expected_profit": float(sum(t["expected_profit"] or 0.0 for t in solved)),
            "launches": float(sum(t["launches"] for t in solved)),
            "units": float(sum(t["units"] or 0 for t in solved)),
            "spend": float(sum(t["spend"] or 0.0 for t in solved)),
            "categories": float(len(totals)),
            "categories_solved": float(len(solved)),
            "categories_infeasible": float(sum(t["status"] == "infeasible" for t in totals)),
            "categories_failed": float(sum(t["status"] not in PLANNED + ("infeasible",) for t in totals)),
            "categories_time_limit": float(sum(t["status"] == "time_limit" for t in totals)),
            "solve_time_s_total": float(sum(t["solve_time_s"] or 0.0 for t in totals)),
            "solve_time_s_max": float(max((t["solve_time_s"] or 0.0 for t in totals), default=0.0)),
        }
        metrics = dict(summary)
        for t in totals:
            metrics[("expected_profit", f"category={t['category']}", t["candidates"])] = t["expected_profit"]
        tracking.record_metrics(spark, conf, day, "optimize", metrics)
        _log(f"{day}: {int(summary['categories_solved'])}/{len(totals)} categories planned, "
             f"{int(summary['categories_infeasible'])} infeasible, {int(summary['launches'])} launches, "
             f"{int(summary['units']):,} units, spend {summary['spend']:,.0f}, expected profit "
             f"{summary['expected_profit']:,.0f}, solver time {summary['solve_time_s_total']:.1f}s")
        return summary
