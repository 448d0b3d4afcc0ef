"""The pipeline's backtest: the causal harness (``debut.forecast.harness``) on gold.launch_history.

Cutoffs step back ``backtest_step_days`` from the last launch whose horizon
is complete; cutoff c forecasts the launches of [c, c + step) that have a
complete horizon from the launches whose horizon had ended by c (strictly
causal; signals computed after the cutoff, the audience and the demand
network, are left out). Methods: debut's global model (written as ``blend``,
the name evaluate reads), kNN alone, the category mean and median, the
global median and gradient boosting on price alone.
"""
from __future__ import annotations

import datetime as dt
from typing import Dict, List, Tuple

import numpy as np
import pandas as pd

from debut.config import ForecastConf
from debut.forecast import harness
from debut.forecast.global_model import params_of
from debut.core import metrics as M
from debut.forecast.launches import DATE, week_cols
from debut.core.quantiles import quantile_name

METHODS = ("blend", "knn", "category_mean", "category_median", "global_median", "gbm_price")
COLUMNS = ["cutoff_date", "item_id", "method", "category", "launch_date", "actual", "p10", "p50", "p90",
           "mean_units", "n_train", "run_date"]


def cutoff_dates(table: pd.DataFrame, fc: ForecastConf) -> List[dt.date]:
    """Cutoffs, latest first: the last complete launch's date + 1 - k x step, k = 1..backtest_cutoffs."""
    h = fc.horizon_weeks
    done = table[np.isfinite(table[week_cols(h)].to_numpy(float)).all(axis=1)]
    if not len(done):
        return []
    last = pd.Timestamp(max(done[DATE])).date()
    return [last + dt.timedelta(days=1 - k * fc.backtest_step_days) for k in range(1, fc.backtest_cutoffs + 1)]


def why_none(table: pd.DataFrame, horizon: int) -> str:
    """Why a strictly causal backtest has nothing to score: the reason in one line."""
    d = pd.to_datetime(table[DATE]).dropna() if DATE in table.columns else pd.Series([], dtype="datetime64[ns]")
    weeks = table[week_cols(horizon)].to_numpy(float) if len(table) else np.zeros((0, horizon))
    complete = np.isfinite(weeks).all(axis=1) if len(weeks) else np.zeros(0, dtype=bool)
    if not len(d) or not complete.any():
        return f"no past launch has {horizon} complete weeks"
    first_done = (d.min() + pd.Timedelta(days=7 * horizon)).date()
    last_complete = pd.to_datetime(table.loc[complete, DATE]).max().date()
    if first_done > last_complete:
        return (f"the history is too short for a causal {horizon}-week backtest: the first launch's {horizon} weeks "
                f"end on {first_done}, after the last launch with {horizon} complete weeks began ({last_complete})")
    return "no past launch with a complete horizon after a cutoff"


def run_backtest(table: pd.DataFrame, fc: ForecastConf, run_date: dt.date, say=print) -> Tuple[pd.DataFrame, Dict]:
    """(rows of gold.forecast_backtest, record_metrics dict) from a launch table known at run_date."""
    cuts = sorted(cutoff_dates(table, fc))
    if not cuts:
        return pd.DataFrame(columns=COLUMNS), {}
    end = cuts[-1] + dt.timedelta(days=fc.backtest_step_days)
    rows = harness.run(table, cuts, horizon=fc.horizon_weeks, end=end, params=params_of(fc), say=say)
    rows["method"] = rows["method"].replace({"debut": "blend"})
    rows["run_date"] = run_date
    return rows[COLUMNS], summarise(rows, fc)


def summarise(df: pd.DataFrame, fc: ForecastConf) -> Dict:
    """record_metrics keys (metric, method, launches) over all cutoffs, plus blend WAPE per cutoff."""
    if not len(df):
        return {}
    qs = list(fc.quantiles)
    lo_n, hi_n = quantile_name(min(qs)), quantile_name(max(qs))
    out: Dict = {}
    for method in METHODS:
        d = df[df["method"] == method]
        if not len(d):
            continue
        a, n = d["actual"].to_numpy(float), len(d)
        out[("wape", method, n)] = M.wape(a, d["p50"])
        out[("mae", method, n)] = M.mae(a, d["p50"])
        out[("bias", method, n)] = M.bias(a, d["p50"])
        for q, col in ((min(qs), "p10"), (0.5, "p50"), (max(qs), "p90")):
            out[(f"pinball_{quantile_name(q)}", method, n)] = M.pinball(a, d[col], q)
        out[(f"coverage_{lo_n}_{hi_n}", method, n)] = M.coverage(a, d["p10"], d["p90"])
        out[("spearman", method, n)] = M.spearman(a, d["p50"])
        out[("spearman_mean", method, n)] = M.spearman(a, d["mean_units"])
        out[("bias_mean", method, n)] = M.bias(a, d["mean_units"])
    b, c = out.get(("wape", "blend", int((df["method"] == "blend").sum()))), None
    cm = df[df["method"] == "category_mean"]
    if len(cm):
        c = M.wape(cm["actual"], cm["p50"])
    if b is not None and c:
        out[("wape_gain_vs_category_mean", "blend", int((df["method"] == "blend").sum()))] = 1.0 - b / c
    cmed = df[df["method"] == "category_median"]
    if b is not None and len(cmed) and M.wape(cmed["actual"], cmed["p50"]):
        out[("wape_gain_vs_category_median", "blend", len(cmed))] = 1.0 - b / M.wape(cmed["actual"], cmed["p50"])
    for cutoff, d in df[df["method"] == "blend"].groupby("cutoff_date"):
        out[("wape", f"blend|cutoff={cutoff}", len(d))] = M.wape(d["actual"], d["p50"])
    return out


def table(metrics: Dict) -> str:
    """A short text table: methods as rows, the main metrics as columns."""
    names = sorted({k[0] for k in metrics if not k[1].count("|")} - {"wape_gain_vs_category_mean", "wape_gain_vs_category_median"})
    cols = [n for n in ("wape", "mae", "bias", "spearman") if n in names] + \
           [n for n in names if n.startswith("coverage")] + [n for n in names if n.startswith("pinball")]
    lines = ["method             n  " + " ".join(f"{c:>16}" for c in cols)]
    for method in METHODS:
        keys = {k[0]: (v, k[2]) for k, v in metrics.items() if k[1] == method}
        if not keys:
            continue
        n = next(iter(keys.values()))[1]
        lines.append(f"{method:<17}{n:>4}  " + " ".join(f"{keys.get(c, (float('nan'),))[0]:>16.3f}" for c in cols))
    return "\n".join(lines)
