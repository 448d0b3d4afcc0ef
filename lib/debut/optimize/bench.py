"""Benchmark of the launch optimizer (on demand, not a test).

    .venv/bin/python -m debut.optimize.bench [--categories 200] [--candidates 100] [--scenarios 200]
                                             [--master local[2]] [--partitions 8] [--risk-weight 0]

Synthetic forecasts (lognormal demand grids, prices, costs, sub-categories and
price bands, seeded) for categories x candidates; the same per-category MILPs
solved (1) through ``groupBy("plan_date", "category").applyInPandas`` on the
given master and (2) in a loop on the driver. Prints wall times, their ratio
(goal >= 1.8x on local[2]), seconds per category, the solver statuses, and the
CPU seconds spent solving (per category, and per wall second: how many cores
the run actually got, which says how loaded the machine was).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from debut.core.category_plan import Params, optimize_category

PLAN_DATE = dt.date(2026, 10, 1)
LEVELS = np.arange(1, 20) / 20.0
Z = np.array([-1.645, -1.282, -1.036, -0.842, -0.674, -0.524, -0.385, -0.253, -0.126, 0.0,
              0.126, 0.253, 0.385, 0.524, 0.674, 0.842, 1.036, 1.282, 1.645])   # normal quantiles of LEVELS


def synthetic_forecast(categories: int, candidates: int, seed: int = 11) -> pd.DataFrame:
    """One forecast row per candidate, with the columns the optimizer reads."""
    rng = np.random.default_rng(seed)
    n = categories * candidates
    cat = np.repeat(np.arange(categories), candidates)
    price = np.round(np.exp(rng.normal(np.log(60), 0.6, n)), 2)
    cost = np.round(price * rng.uniform(0.4, 0.7, n), 2)
    median = np.exp(rng.normal(np.log(60), 0.9, n))
    sigma = rng.uniform(0.3, 0.9, n)
    grid = median[:, None] * np.exp(sigma[:, None] * Z[None, :])
    return pd.DataFrame({
        "plan_date": PLAN_DATE, "category": [f"cat{c:04d}" for c in cat],
        "candidate_id": [f"C{i:07d}" for i in range(n)],
        "subcategory": [f"sub{s}" for s in rng.integers(0, 4, n)], "price_band": rng.integers(1, 6, n),
        "price": price, "unit_cost": cost, "horizon_weeks": 8,
        "mean_units": median * np.exp(sigma ** 2 / 2), "units_p10": grid[:, 1], "units_p50": grid[:, 9],
        "units_p90": grid[:, 17], "quantile_levels": [LEVELS.tolist()] * n, "quantile_units": list(grid)})


def _timed(params: Params):
    """optimize_category plus the CPU seconds its process spent on the category (column cpu_s)."""
    def fn(pdf: pd.DataFrame) -> pd.DataFrame:
        t0 = time.process_time()
        out = optimize_category(pdf, params)
        return out.assign(cpu_s=time.process_time() - t0)
    return fn


def run_spark(pdf: pd.DataFrame, params: Params, master: str, partitions: int) -> dict:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from debut.core.category_plan import INPUT_COLUMNS, PLAN_SCHEMA

    schema = T.StructType(PLAN_SCHEMA.fields + [T.StructField("cpu_s", T.DoubleType())])

    def to_plan(df):           # what debut.optimize.job.to_plan does, with the CPU time kept
        return df.select(*INPUT_COLUMNS).groupBy("plan_date", "category").applyInPandas(_timed(params), schema)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master(master).appName("debut-optimize-bench")
             .config("spark.sql.shuffle.partitions", str(partitions))
             .config("spark.sql.execution.arrow.pyspark.enabled", "true")
             .config("spark.sql.adaptive.enabled", "false")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="debut-bench-"))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        df = spark.createDataFrame(pdf).repartition(partitions).cache()
        df.count()
        # warm-up: start the Python workers once, on a few categories
        few = pdf["category"].drop_duplicates().head(partitions).tolist()
        to_plan(df.where(F.col("category").isin(few))).agg(F.count("*")).collect()
        t0 = time.perf_counter()
        stats = (to_plan(df)
                 .groupBy("category").agg(F.first("solver_status").alias("solver_status"),
                                          F.sum(F.col("launch").cast("int")).alias("launches"),
                                          F.max("cpu_s").alias("cpu_s"))
                 .groupBy("solver_status").agg(F.count("*").alias("categories"), F.sum("launches").alias("launches"),
                                               F.sum("cpu_s").alias("cpu_s"))
                 .collect())
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "statuses": {r["solver_status"]: int(r["categories"]) for r in stats},
                "launches": sum(int(r["launches"] or 0) for r in stats),
                "cpu_s": sum(float(r["cpu_s"] or 0.0) for r in stats)}
    finally:
        spark.stop()


def run_loop(pdf: pd.DataFrame, params: Params) -> dict:
    t0, c0 = time.perf_counter(), time.process_time()
    statuses, launches = {}, 0
    for _, g in pdf.groupby(["plan_date", "category"], sort=True):
        out = optimize_category(g, params)
        s = out["solver_status"].iloc[0]
        statuses[s] = statuses.get(s, 0) + 1
        launches += int(out["launch"].sum())
    return {"seconds": time.perf_counter() - t0, "statuses": statuses, "launches": launches,
            "cpu_s": time.process_time() - c0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--categories", type=int, default=200)
    ap.add_argument("--candidates", type=int, default=100)
    ap.add_argument("--scenarios", type=int, default=200)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--partitions", type=int, default=8, help="shuffle partitions (Spark tasks)")
    ap.add_argument("--risk-weight", type=float, default=0.0)
    ap.add_argument("--skip-loop", action="store_true")
    args = ap.parse_args(argv)
    params = Params(scenarios=args.scenarios, risk_weight=args.risk_weight)
    pdf = synthetic_forecast(args.categories, args.candidates)
    print(f"[bench] {args.categories} categories x {args.candidates} candidates, {args.scenarios} scenarios, "
          f"risk_weight {args.risk_weight}, budget {params.category_budget:.0f}, max_launches {params.max_launches}; "
          f"{os.cpu_count()} cores seen, load average {os.getloadavg()[0]:.1f}", flush=True)
    spark = run_spark(pdf, params, args.master, args.partitions)
    per = spark["seconds"] / args.categories
    print(f"[bench] applyInPandas on {args.master} ({args.partitions} partitions): {spark['seconds']:.1f}s "
          f"({per * 1000:.0f} ms per category wall; solver CPU {spark['cpu_s'] / args.categories * 1000:.0f} ms per "
          f"category, {spark['cpu_s'] / spark['seconds']:.2f} CPU-s per wall-s), statuses {spark['statuses']}, "
          f"launches {spark['launches']}", flush=True)
    if args.skip_loop:
        return 0
    loop = run_loop(pdf, params)
    per_loop = loop["seconds"] / args.categories
    print(f"[bench] driver loop: {loop['seconds']:.1f}s ({per_loop * 1000:.0f} ms per category wall; CPU "
          f"{loop['cpu_s'] / args.categories * 1000:.0f} ms per category, {loop['cpu_s'] / loop['seconds']:.2f} CPU-s "
          f"per wall-s), statuses {loop['statuses']}, launches {loop['launches']}", flush=True)
    ratio = loop["seconds"] / spark["seconds"]
    print(f"[bench] speed-up applyInPandas vs driver loop: {ratio:.2f}x (goal >= 1.8x); load average now "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
