"""``python -m debut.replay``: re-forecast a lake's plan date and score the plans against the
simulator's truth, without re-running the pipeline.

For forecasting work on the simulated marketplace: after one ``make demo`` the
tables hold everything forecast_launch read (gold.launch_history, bronze.candidates,
the embeddings, audiences, demand-net predictions and catalog sales rates). This
reads them once, fits the forecaster as forecast_launch does, plans every
category with the optimizer's MILP on the driver (debut.core.policies), and
plays that plan, the oracle and the naive policies against
``<truth_dir>/candidate_demand.parquet``. It prints the plan's share of the
oracle's profit, the units stocked and sold, and how the forecast's mean ranks
the candidates' expected demand. Nothing is written.

    python -m debut.replay [--env local] [--run-date 2026-10-01] [--set forecast.use_market=false]
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from typing import Optional, Sequence

import pandas as pd

from debut.config import load_config


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m debut.replay", description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="local")
    ap.add_argument("--run-date", default=None, help="the plan date (default: the env's run_date)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a config override, e.g. forecast.use_market=false (repeatable)")
    args = ap.parse_args(argv)
    conf = load_config(args.env, args.set)
    run_date = dt.date.fromisoformat(args.run_date or conf.run_date)
    truth_path = os.path.join(conf.paths.truth_dir, "candidate_demand.parquet")
    if not os.path.exists(truth_path):
        print(f"[replay] {truth_path} is absent: run `make demo` first", file=sys.stderr)
        return 3

    from debut.core import policies
    from debut.forecast.global_model import GlobalForecaster, params_of
    from debut.forecast.job import model_inputs
    from debut.forecast.output import forecast_frame, forecast_rows
    from debut.spark import get_spark

    fc = conf.forecast
    mi = model_inputs(get_spark(conf, app_name="debut-replay"), conf, run_date)   # what forecast_launch reads
    t0 = time.time()
    model = GlobalForecaster(params_of(fc), fc.horizon_weeks).fit(mi.hist_t)
    rows = forecast_frame(forecast_rows(model.predict(mi.cand_t), mi.cands, fc, plan_date=run_date, as_of=run_date),
                          fc)
    truth = pd.read_parquet(truth_path)
    table = policies.compare_policies(rows, truth[["candidate_id", "week", "units"]], conf)
    every = table[table["category"] == "ALL"].set_index("policy")
    expected = truth.groupby("candidate_id")["expected_units"].sum()
    mean = rows.set_index("candidate_id")["mean_units"]
    print(f"[replay] {len(rows)} candidates from {len(model.train)} past launches (signals: {', '.join(mi.used)}); "
          f"forecast and plans in {time.time() - t0:.1f}s; level: boosting share {model.level.blend:.2f}, "
          f"recalibration slope {model.recal.slope:.2f}, market exposure "
          f"{'used' if model.use_exposure else 'not used'} (pool deviance {model.pool_deviance})")
    for policy, r in every.iterrows():
        print(f"[replay]   {policy:<12} {r['pct_of_oracle']:7.1f}% of oracle  profit {r['profit']:>10,.0f}  "
              f"stocked {r['units']:>6,.0f}  sold {r['units_sold']:>6,.0f}")
    print(f"[replay]   mean_units: total {mean.sum():,.0f} vs {truth['units'].sum():,} sold (uncensored); "
          f"Spearman vs expected demand {mean.corr(expected.reindex(mean.index), method='spearman'):.3f}; "
          f"{mean.round(2).nunique()} distinct means")
    return 0


if __name__ == "__main__":
    sys.exit(main())
