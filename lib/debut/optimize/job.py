"""optimize_launch: gold.launch_forecast (plan_date = run_date) -> gold.launch_plan + gold.launch_plan_status.

One MILP per category, solved on the executors by
``groupBy("plan_date", "category").applyInPandas``. Candidate rows go to
gold.launch_plan; the per-category outcome (solver status, the reason a
category has no plan, totals) to gold.launch_plan_status. Each table's plan
date partition is replaced in one commit (replaceWhere), so a rerun replaces
its rows and never duplicates them. Per-category totals are printed and
recorded (component "optimize") in gold.evaluation and MLflow.
"""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Union

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io, tracking
from debut.config import Config, flatten
from debut.core.category_plan import INPUT_COLUMNS, OPTIONAL_COLUMNS, PLAN_SCHEMA, REQUIRED_COLUMNS, make_udf
from debut.schemas import PLAN_STATUS

JOB = "optimize_launch"
SOURCE, TARGET, STATUS = "gold.launch_forecast", "gold.launch_plan", "gold.launch_plan_status"
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


def to_plan_status(plan: DataFrame) -> DataFrame:
    """PLAN_STATUS: one row per (plan_date, category) of the UDF's output.

    A category's status is its status row's (the UDF yields one, with a null
    candidate_id, when a whole category fails), else its candidates'.
    """
    cand = F.col("candidate_id").isNotNull()
    return (plan.groupBy("plan_date", "category")
            .agg(F.sum(F.when(cand & F.col("launch"), 1).otherwise(0)).cast("long").alias("launches"),
                 F.sum(F.when(cand, 1).otherwise(0)).cast("long").alias("candidates"),
                 F.sum("quantity").cast("long").alias("units"), F.sum("spend").alias("spend"),
                 F.sum(F.when(cand, F.col("expected_profit"))).alias("expected_profit"),
                 F.first(F.when(~cand, F.col("solver_status")), ignorenulls=True).alias("_status_row"),
                 F.first(F.when(cand, F.col("solver_status")), ignorenulls=True).alias("_status"),
                 F.first(F.when(~cand, F.col("reason")), ignorenulls=True).alias("reason"),
                 F.max("mip_gap").alias("mip_gap"), F.max("solve_time_s").alias("solve_time_s"))
            .withColumn("solver_status", F.coalesce("_status_row", "_status", F.lit("error")))
            .select([F.col(f.name).cast(f.dataType).alias(f.name) for f in PLAN_STATUS.fields]))


def summarise(status: DataFrame) -> List[Dict]:
    """Per-category totals from gold.launch_plan_status rows (one per category, collected)."""
    out = []
    for r in status.orderBy("category").collect():
        d = r.asDict()
        d["status"], d["problem"] = d.pop("solver_status"), d.pop("reason")
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
        # persisted: the MILPs run once for both tables (rows bounded by the candidates)
        plan = to_plan(forecast, conf).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            where = f"plan_date = '{day.isoformat()}'"
            io.replace_where(plan.where(F.col("candidate_id").isNotNull()), conf, TARGET, where)
            io.replace_where(to_plan_status(plan), conf, STATUS, where)
        finally:
            plan.unpersist()
        totals = summarise(io.read(spark, conf, STATUS).where(F.col("plan_date") == F.lit(day)))
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
