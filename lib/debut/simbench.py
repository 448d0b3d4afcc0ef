"""``python -m debut.simbench``: the forecaster and the optimizer on many simulated marketplaces.

One simulated marketplace has about a hundred past launches and 120 candidates,
and on that many a handful of launch decisions moves the plan's share of the
oracle by ten points: a forecasting change cannot be judged on one. This runs,
for each seed, the simulator's history in memory (no Spark, no files), derives
what debut's tables would hold (the launch history: each launch's first weeks
of units sold; silver.category_daily's units and active items per category and
day; the candidates' attributes), fits the global forecaster on it, plans
every category with the optimizer's MILP (debut.core.policies) and plays the
plan, the oracle, the attribute ceiling and the naive policies against the
simulator's truth (every candidate live, uncensored, as evaluate_truth does).
Signals that need the Spark stages (audiences, embeddings, the demand net,
text embeddings) are not used; the launch table's own attributes and titles,
the catalog items' sales rates and the market are.

    python -m debut.simbench [--seeds 6] [--set forecast.market=never] [--variants 'never;always;auto']

Prints one line per seed and variant and the mean over seeds of: the plan's
profit as % of the oracle and of the attribute ceiling (profit_pct_attainable),
units stocked and sold, the forecast mean's total against the candidates'
expected demand, and its Spearman against it.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from debut.config import Config, load_config


def _tables(conf: Config, run_date: dt.date, seed: int):
    """(launch table, candidates, truth, marketplace) of the simulated marketplace with ``seed``."""
    from debut.simulate import landing
    from debut.simulate.market import Marketplace

    mp = Marketplace(conf.simulate, run_date, seed=seed)
    h = conf.forecast.horizon_weeks
    items = mp.items
    launched = np.flatnonzero(items.launch_day >= 0)
    units = np.zeros((items.n, mp.days))
    on_sale = np.zeros((items.n, mp.days), dtype=bool)       # live and not sold out at the day's start
    cat_rows = []
    index = {i: j for j, i in enumerate(items.ids)}
    for s in mp.history():
        sold = np.bincount(s.a_item, weights=s.a_sold, minlength=mp.pool.n)[:items.n]
        units[:, s.day] = sold
        ledger = s.ledger[s.ledger["stock_start"] > 0]
        on_sale[ledger["item_id"].map(index).to_numpy(), s.day] = True
        touched = np.unique(s.v_item[s.v_item < items.n])
        cat_units = np.bincount(items.cat, weights=sold, minlength=len(mp.categories))
        active = np.bincount(items.cat[touched], minlength=len(mp.categories))
        for c, cat in enumerate(mp.categories):
            cat_rows.append((cat.name, pd.Timestamp(s.date), float(cat_units[c]), float(active[c])))
    daily = pd.DataFrame(cat_rows, columns=["category", "date", "units", "active_items"])
    attrs = landing._product_frame(mp, items).iloc[launched].reset_index(drop=True)
    attrs["price"], attrs["unit_cost"] = attrs["price"].astype(float), attrs["unit_cost"].astype(float)
    table = attrs.assign(launch_date=[pd.Timestamp(mp.date_of(int(d))) for d in items.launch_day[launched]])
    for k in range(h):
        lo = items.launch_day[launched] + 7 * k
        cols = np.clip(lo[:, None] + np.arange(7)[None, :], 0, mp.days - 1)
        week = units[launched[:, None], cols].sum(axis=1)
        table[f"week_{k + 1}"] = np.where(lo + 7 <= mp.days, week, np.nan)
    table = table[table["week_1"].notna()].reset_index(drop=True)
    cands = landing.candidates_frame(mp).rename(columns={"candidate_id": "item_id"})
    cands["price"], cands["unit_cost"] = cands["price"].astype(float), cands["unit_cost"].astype(float)
    truth = mp.candidate_truth()
    # catalog items' sales rates (forecast.inputs.catalog_rates): not past launches, 14+ days on sale
    catalog = np.setdiff1d(np.arange(items.n), launched)
    days = on_sale[catalog].sum(axis=1)
    sold = (units[catalog] * on_sale[catalog]).sum(axis=1)
    ok = days >= 14
    rates = landing._product_frame(mp, items).iloc[catalog[ok]].reset_index(drop=True)
    rates["price"] = rates["price"].astype(float)
    rates["log_rate"] = np.log1p(sold[ok] / days[ok] * 7 * h)
    return table, cands, truth, daily, rates


def _attainable(rows: pd.DataFrame, conf: Config, run_date: dt.date, truth: pd.DataFrame) -> float:
    """Profit of the plan from the demand the attributes imply (evaluate_truth's ceiling_attributes)."""
    from debut.core import policies
    from debut.simulate.truth_eval import ceiling_plans
    from debut.schemas import POLICY_CEILING_ATTRIBUTES

    plan = ceiling_plans(rows, conf, run_date, conf.forecast.horizon_weeks)[POLICY_CEILING_ATTRIBUTES]
    return float(policies.realised_profit(plan, truth[["candidate_id", "week", "units"]], rows, conf)["profit"].sum())


def run_seed(conf: Config, run_date: dt.date, seed: int, variants: Sequence[str], say=print) -> List[Dict]:
    from debut.core import policies
    from debut.forecast import market, signals
    from debut.forecast.model import Signals
    from debut.forecast.global_model import GlobalForecaster, params_of
    from debut.forecast.output import forecast_frame, forecast_rows

    fc = conf.forecast
    t0 = time.time()
    table, cands, truth, daily, rates = _tables(conf, run_date, seed)
    launching = cands.assign(launch_date=pd.Timestamp(run_date))
    lv = market.levels_from_daily(daily, pd.concat([table[["category", "launch_date"]],
                                                    launching[["category", "launch_date"]]]))
    sig = Signals(catalog=rates if fc.use_content else None, market=lv if fc.market != "never" else None)
    hist_t, cand_t, used = signals.attach(table, launching, sig, use_content=fc.use_content,
                                          ridge_alpha=fc.content_ridge_alpha, min_items=fc.content_min_items,
                                          content_launches=fc.content_launches)
    expected = truth.groupby("candidate_id")["expected_units"].sum()
    t_sim = time.time() - t0
    out, attainable = [], None
    for v in variants:
        t1 = time.time()
        p = variant_params(params_of(fc), v)
        model = GlobalForecaster(p, fc.horizon_weeks).fit(hist_t)
        rows = forecast_frame(forecast_rows(model.predict(cand_t), cands, fc, plan_date=run_date, as_of=run_date), fc)
        if attainable is None:
            attainable = _attainable(rows, conf, run_date, truth)
        table_p = policies.compare_policies(rows, truth[["candidate_id", "week", "units"]], conf)
        every = table_p[table_p["category"] == "ALL"].set_index("policy")
        plan, oracle = every.loc["optimized"], every.loc["oracle"]
        mean = rows.set_index("candidate_id")["mean_units"]
        r = {"seed": seed, "variant": v, "launches": len(table),
             "pct_oracle": float(plan["pct_of_oracle"]),
             "pct_attainable": 100.0 * float(plan["profit"]) / attainable if attainable > 0 else np.nan,
             "stocked": float(plan["units"]), "sold": float(plan["units_sold"]),
             "oracle_profit": float(oracle["profit"]), "attainable_profit": attainable,
             "naive_p50": float(every.loc["naive_p50", "pct_of_oracle"]),
             "mean_vs_expected": float(mean.sum() / expected.sum()),
             "spearman": float(mean.corr(expected.reindex(mean.index), method="spearman")),
             "exposure": bool(model.use_exposure), "recal_slope": float(model.recal.slope),
             "level": f"gbm {model.level.blend:.2f} x {model.level.alpha}"}
        out.append(r)
        say(f"[simbench] seed {seed} {v:<12} plan {r['pct_oracle']:6.1f}% of oracle, {r['pct_attainable']:6.1f}% of "
            f"attainable; stocked {r['stocked']:5.0f} sold {r['sold']:5.0f}; mean/expected "
            f"{r['mean_vs_expected']:.2f}, Spearman {r['spearman']:.3f}; exposure "
            f"{'used' if r['exposure'] else 'not used'}; level {r['level']}, slope {r['recal_slope']:.2f}; "
            f"{len(table)} launches, signals {'+'.join(used) or '-'} "
            f"(simulated in {t_sim:.0f}s, forecast and plans in {time.time() - t1:.0f}s)")
    return out


def variant_params(base, spec: str):
    """ModelParams from ``base`` with a variant's overrides: "market=always,recalibrate=false" (a bare
    value is forecast.market's, for short: "always")."""
    changes = {}
    for part in [x.strip() for x in spec.split(",") if x.strip()]:
        key, _, value = part.partition("=") if "=" in part else ("market", "=", part)
        default = getattr(base, key)          # AttributeError names an unknown field
        if isinstance(default, bool):
            changes[key] = value.lower() in ("1", "true", "yes", "on")
        elif isinstance(default, (int, float)) and not isinstance(default, bool):
            changes[key] = type(default)(value)
        else:
            changes[key] = value
    return dataclasses.replace(base, **changes)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m debut.simbench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="local")
    ap.add_argument("--seeds", type=int, default=6, help="marketplaces: seeds 1..N")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--variants", default="auto",
                    help="forecaster variants to compare, separated by ';': ModelParams overrides "
                         "such as 'market=always,recalibrate=false' (a bare value sets market)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--csv", default=None)
    args = ap.parse_args(argv)
    conf = load_config(args.env, args.set)
    seeded = {s: load_config(args.env, args.set + [f"simulate.seed={s}"])
              for s in range(args.first_seed, args.first_seed + args.seeds)}
    run_date = dt.date.fromisoformat(conf.run_date)
    variants = [v.strip() for v in args.variants.split(";") if v.strip()]
    rows: List[Dict] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        rows += run_seed(seeded[seed], run_date, seed, variants)
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)
    cols = ["pct_oracle", "pct_attainable", "stocked", "sold", "naive_p50", "mean_vs_expected", "spearman"]
    summary = df.groupby("variant", sort=False)[cols].mean()
    summary["exposure_used"] = df.groupby("variant", sort=False)["exposure"].mean()
    summary["pooled_pct_attainable"] = (df.assign(p=df["pct_attainable"] * df["attainable_profit"] / 100.0)
                                        .groupby("variant", sort=False)[["p", "attainable_profit"]].sum()
                                        .pipe(lambda d: 100.0 * d["p"] / d["attainable_profit"]))
    print(f"[simbench] mean over {args.seeds} marketplace(s):")
    print(summary.round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
