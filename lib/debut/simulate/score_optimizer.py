"""Score the optimizer on the simulator: realised profit of its plan against the oracle and the naive
policies (on demand; the evaluate_truth stage does the same inside the pipeline).

    .venv/bin/python -m debut.simulate.score_optimizer --env local --run-date 2026-10-01 --set paths.data_dir=... \
        --set paths.truth_dir=... [--stand-in-forecast --noise 0.5 --landing-dir ...]

Forecast: gold.launch_forecast for the run date, or with ``--stand-in-forecast``
a stand-in built from the simulator's truth, for measuring the optimizer
independently of the forecast stage: each candidate's expected units over the
window (truth's expected_units) times a lognormal forecast error of log-sd
``--noise`` is the forecaster's estimate; its predictive distribution is
Poisson demand around that estimate times the same lognormal uncertainty
(calibrated by construction). Prices and costs come from the landing candidates
file. Simulator side: it reads the truth.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time

import numpy as np
import pandas as pd

from debut.config import load_config
from debut.core.policies import compare_policies, optimized_plan
from debut.simulate.market import Marketplace

LEVELS = np.arange(1, 20) / 20.0           # the stand-in forecast's quantile grid (as the optimizer benchmark's)


def stand_in_forecast(truth: pd.DataFrame, candidates: pd.DataFrame, plan_date, horizon_weeks: int,
                      noise: float, dispersion: float = 1.6, seed: int = 5, draws: int = 4000) -> pd.DataFrame:
    """Forecast rows (the optimizer's input columns) from truth's expected units with noise.

    Demand around a mean m is negative binomial with variance ``dispersion`` x m (the
    simulator's orders carry 1-3 units, so its demand is over-dispersed against Poisson).
    """
    rng = np.random.default_rng(seed)
    exp = (truth[truth["week"] <= horizon_weeks].groupby("candidate_id")["expected_units"].sum())
    c = candidates.drop_duplicates("candidate_id").set_index("candidate_id").loc[exp.index].reset_index()
    mu = exp.to_numpy() * np.exp(noise * rng.standard_normal(len(exp)) - noise ** 2 / 2)
    lam = mu[:, None] * np.exp(noise * rng.standard_normal((len(exp), draws)) - noise ** 2 / 2)
    if dispersion > 1.0:
        sims = rng.negative_binomial(np.maximum(lam, 1e-9) / (dispersion - 1.0), 1.0 / dispersion).astype(np.float64)
    else:
        sims = rng.poisson(lam).astype(np.float64)
    q = np.quantile(sims, LEVELS, axis=1).T
    band = c.groupby("category")["price"].rank(pct=True).mul(5).apply(np.ceil).clip(1, 5).astype(int)
    return pd.DataFrame({
        "plan_date": plan_date, "category": c["category"], "candidate_id": c["candidate_id"],
        "subcategory": c.get("subcategory"), "price_band": band, "price": c["price"].astype(float),
        "unit_cost": c["unit_cost"].astype(float), "horizon_weeks": horizon_weeks, "mean_units": sims.mean(axis=1),
        "units_p10": q[:, 1], "units_p50": q[:, 9], "units_p90": q[:, 17],
        "quantile_levels": [LEVELS.tolist()] * len(c), "quantile_units": list(q)})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="local")
    ap.add_argument("--run-date", default="2026-10-01")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--stand-in-forecast", action="store_true")
    ap.add_argument("--noise", type=float, default=0.5, help="log-sd of the stand-in forecast's error")
    ap.add_argument("--dispersion", type=float, default=1.6, help="variance / mean of the stand-in's demand")
    ap.add_argument("--landing-dir", default=None, help="default: paths.landing_dir")
    ap.add_argument("--truth-seeds", type=int, default=0,
                    help="also score against this many more demand realisations (Marketplace.candidate_truth)")
    args = ap.parse_args(argv)
    conf = load_config(args.env, args.overrides)
    import datetime as dt
    day = dt.date.fromisoformat(args.run_date)
    truth = pd.read_parquet(os.path.join(conf.paths.truth_dir, "candidate_demand.parquet"))
    if args.stand_in_forecast:
        landing = args.landing_dir or conf.paths.landing_dir
        files = sorted(glob.glob(os.path.join(landing, "candidates", "*.csv")))
        cands = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
        fc = stand_in_forecast(truth, cands, day, conf.forecast.horizon_weeks, args.noise, args.dispersion)
        source = f"stand-in forecast from truth, noise {args.noise}, dispersion {args.dispersion}"
    else:
        from pyspark.sql import functions as F

        from debut import io
        from debut.core.category_plan import INPUT_COLUMNS
        from debut.spark import get_spark
        spark = get_spark(conf, app_name="debut-optimize-score")
        df = io.read(spark, conf, "gold.launch_forecast").where(F.col("plan_date") == F.lit(day))
        fc = df.select(*[c for c in INPUT_COLUMNS if c in df.columns]).toPandas()   # bounded by candidates
        source = "gold.launch_forecast"
    t0 = time.perf_counter()
    plan = optimized_plan(fc, conf)
    solve = time.perf_counter() - t0
    res = compare_policies(fc, truth, conf, plan_pdf=plan)
    pd.set_option("display.width", 200)
    print(f"[score] {day}: {len(fc)} candidates in {fc['category'].nunique()} categories, {source}; "
          f"plan solved in {solve:.1f}s on the driver")
    table = res.pivot_table(index="category", columns="policy", values="profit", aggfunc="sum")
    pct = res.pivot_table(index="category", columns="policy", values="pct_of_oracle", aggfunc="sum")
    print(table.round(0).to_string())
    print("% of oracle:")
    print(pct.round(1).to_string())
    total = res[res["category"] == "ALL"].set_index("policy")
    for policy, r in total.iterrows():
        print(f"[score] {policy:<11} profit {r['profit']:>10,.0f}  {r['pct_of_oracle']:6.1f}% of oracle  "
              f"launches {int(r['launches']):>3}  units {int(r['units']):>6}  sold {int(r['units_sold']):>6}")
    if args.truth_seeds:
        market = Marketplace(conf.simulate, day)
        pcts = {}
        for seed in range(1, args.truth_seeds + 1):
            other = compare_policies(fc, market.candidate_truth(seed=seed), conf, plan_pdf=plan)
            for policy, v in other[other["category"] == "ALL"].set_index("policy")["pct_of_oracle"].items():
                pcts.setdefault(policy, []).append(v)
        for policy, vals in pcts.items():
            print(f"[score] {policy:<11} over {len(vals)} more demand realisations: mean {np.mean(vals):6.1f}% of "
                  f"oracle (min {np.min(vals):.1f}, max {np.max(vals):.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
