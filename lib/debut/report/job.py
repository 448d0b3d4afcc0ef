"""The report job: reports/<run_date>/index.html under paths.reports_dir, self-contained.

Reads only small slices (the plan's candidates, their segment mix, segments,
metrics, outcomes, the latest review, the backtest summarised per cutoff); a
missing table leaves its section with a note. The file is written beside its
target and renamed into place, so a reader never sees half a report.
"""
from __future__ import annotations

import datetime as dt
import os
from typing import Dict, Optional

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from debut import io
from debut.config import Config
from debut.core.quantiles import quantile_names
from debut.core import status
from debut.report.build import render


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def report_path(conf: Config, run_date) -> str:
    return os.path.abspath(os.path.join(conf.paths.reports_dir, _as_date(run_date).isoformat(), "index.html"))


def _read(spark, conf, name):
    if not io.exists(spark, conf, name):
        print(f"[report] {name} is absent: its section is omitted", flush=True)
        return None
    return io.read(spark, conf, name)


def _latest(df, col: str, run_date: dt.date):
    """The latest ``col`` on or before run_date (None when there is none)."""
    return df.where(F.col(col) <= F.lit(run_date)).agg(F.max(col)).first()[0]


def gather(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict[str, Optional[pd.DataFrame]]:
    """The report's frames; each bounded by candidates, segments, metrics or cutoffs."""
    d: Dict[str, Optional[pd.DataFrame]] = {k: None for k in (
        "plan", "forecast", "segment_mix", "segments", "outcomes", "evaluation", "adjustments", "backtest")}
    plan_date = None
    plan = _read(spark, conf, "gold.launch_plan")
    if plan is not None:
        plan_date = _latest(plan, "plan_date", run_date)
        if plan_date is not None:
            d["plan"] = plan.where(F.col("plan_date") == F.lit(plan_date)).toPandas()
    fc = _read(spark, conf, "gold.launch_forecast")
    if fc is not None:
        if plan_date is None:
            plan_date = _latest(fc, "plan_date", run_date)
        lo, mid, hi = quantile_names(conf.forecast.quantiles)
        cols = [c for c in ("candidate_id", "category", "title", "brand", "price", "unit_cost", "method",
                            "neighbours") if c in fc.columns]
        d["forecast"] = (fc.where(F.col("plan_date") == F.lit(plan_date))
                         .select(*cols, F.col(f"units_{lo}").alias("p10"), F.col(f"units_{mid}").alias("p50"),
                                 F.col(f"units_{hi}").alias("p90")).toPandas())
        if "neighbours" in d["forecast"]:
            d["forecast"]["neighbours"] = d["forecast"]["neighbours"].map(
                lambda v: None if v is None else [n.asDict() if hasattr(n, "asDict") else dict(n) for n in v])
    ids = None
    for key in ("plan", "forecast"):
        if d[key] is not None:
            ids = list(d[key]["candidate_id"])
            break
    mix = _read(spark, conf, "gold.audience_segment_mix")
    if mix is not None and ids:
        d["segment_mix"] = mix.where(F.col("candidate_id").isin(ids)).toPandas()
    seg = _read(spark, conf, "gold.segments")
    if seg is not None:
        d["segments"] = seg.toPandas()
    out = _read(spark, conf, "gold.launch_outcomes")
    if out is not None and plan_date is not None:
        d["outcomes"] = out.where(F.col("plan_date") == F.lit(plan_date)).toPandas()
    ev = _read(spark, conf, "gold.evaluation")
    if ev is not None:
        d["evaluation"] = ev.where(F.col("run_date") == F.lit(run_date)).drop("recorded_at").toPandas()
    adj = _read(spark, conf, "gold.launch_adjustments")
    if adj is not None:
        last = _latest(adj, "as_of_date", run_date)
        if last is not None:
            d["adjustments"] = adj.where(F.col("as_of_date") == F.lit(last)).toPandas()
    bt = _read(spark, conf, "gold.forecast_backtest")
    if bt is not None:
        latest = bt.agg(F.max("run_date")).first()[0]
        d["backtest"] = (
            bt.where(F.col("run_date") == F.lit(latest))
            .groupBy("cutoff_date", "method")
            .agg(F.count("*").alias("launches"),
                 (F.sum(F.abs(F.col("actual") - F.col("p50"))) / F.sum("actual")).alias("wape"),
                 F.avg(((F.col("actual") >= F.col("p10")) & (F.col("actual") <= F.col("p90"))).cast("double"))
                 .alias("coverage_p10_p90"))
            .orderBy("cutoff_date", "method").toPandas())
    d["not_done"] = status.not_done(spark, conf, run_date)     # stage parts skipped or failed, with why
    d["_plan_date"] = plan_date
    return d


def write_report(text: str, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def run(spark: SparkSession, conf: Config, run_date) -> str:
    run_date = _as_date(run_date)
    d = gather(spark, conf, run_date)
    plan_date = d.pop("_plan_date")
    text = render(d, run_date, plan_date, dpi=conf.evaluate.report_dpi, page_rows=conf.evaluate.max_report_candidates)
    path = report_path(conf, run_date)
    write_report(text, path)
    print(f"[report] {path} ({len(text) / 1024:.0f} KiB)", flush=True)
    return path
