"""Rolling-origin backtest on past launches.

Cutoffs step back ``backtest_step_days`` from the last launch whose horizon
is complete; cutoff c forecasts the launches of [c, c + step) (each launch is
forecast once) from what was known at c: launches before c with only their
weeks that had ended by c (later weeks hidden, totals extrapolated through the
category curve), and catalog sales before c. The audience and the demand
network are computed from data after the cutoff, so they are left out here:
the blend measured is kNN + category mean (+ catalog content). Baseline:
the category-mean curve (mean units of the category's past launches, its
P10/P90 the empirical quantiles of those launches); category_median is the
same with the median as its point forecast (a stronger baseline on skewed
sales).
"""
from __future__ import annotations

import datetime as dt
from typing import Callable, Dict, List, Tuple

import numpy as np
import pandas as pd

from debut.config import ForecastConf
from debut.forecast import metrics as M
from debut.forecast.model import Forecaster, Signals, launch_frame
from debut.forecast.schema import quantile_name

METHODS = ("blend", "knn", "category_mean", "category_median")


def cutoff_dates(launches: pd.DataFrame, fc: ForecastConf) -> List[dt.date]:
    """Cutoffs, latest first: the last complete launch's date + 1 - k x step, k = 1..backtest_cutoffs."""
    done = launches[launches["is_done"]]
    if not len(done):
        return []
    last = max(done["launch_date"])
    return [last + dt.timedelta(days=1 - k * fc.backtest_step_days) for k in range(1, fc.backtest_cutoffs + 1)]


def _truncate(long: pd.DataFrame, cutoff: dt.date) -> pd.DataFrame:
    ends = pd.to_datetime(long["launch_date"]) + pd.to_timedelta(long["week"] * 7, unit="D")
    return long[(pd.to_datetime(long["launch_date"]) < pd.Timestamp(cutoff)) & (ends <= pd.Timestamp(cutoff))]


def _baseline(train: pd.DataFrame, targets: pd.DataFrame, qs) -> np.ndarray:
    """(m, 1 + Q): category mean total and empirical quantiles of the category's totals."""
    out = []
    allv = train["total"].to_numpy(float)
    for cat in targets["category"]:
        v = train.loc[train["category"] == cat, "total"].to_numpy(float)
        v = v if len(v) >= 2 else allv
        out.append([v.mean(), *np.quantile(v, qs)])
    return np.array(out).reshape(len(targets), 1 + len(qs))


def run_backtest(long: pd.DataFrame, fc: ForecastConf, run_date: dt.date,
                 signals_at: Callable[[dt.date], Signals]) -> Tuple[pd.DataFrame, Dict]:
    """(rows of gold.forecast_backtest, record_metrics dict). ``long``: weekly rows known at run_date."""
    h = fc.horizon_weeks
    launches = launch_frame(long, h)
    launches["is_done"] = [bool(np.isfinite(w).all()) for w in launches["weeks"]]
    qs = list(fc.quantiles)
    lo, mid, hi = 0, int(np.argmin([abs(q - 0.5) for q in qs])), len(qs) - 1
    rows = []
    for cutoff in cutoff_dates(launches, fc):
        end = cutoff + dt.timedelta(days=fc.backtest_step_days)
        test = launches[launches["is_done"] & (launches["launch_date"] >= cutoff)
                        & (launches["launch_date"] < end)].reset_index(drop=True)
        known = launch_frame(_truncate(long, cutoff), h)
        if not len(test) or len(known) < 2:
            print(f"[forecast] backtest cutoff {cutoff}: {len(test)} launch(es) to forecast, "
                  f"{len(known)} known before it; skipped")
            continue
        model = Forecaster(fc, signals_at(cutoff)).fit(known)
        pred = model.predict(test)
        actual = np.array([float(np.sum(w)) for w in test["weeks"]])
        base = _baseline(model.train, test, qs)
        per = {"blend": (pred[[f"q{j}" for j in range(len(qs))]].to_numpy(), pred["mean_units"].to_numpy()),
               "knn": (pred[[f"knn_q{j}" for j in range(len(qs))]].to_numpy(), pred["knn_mean"].to_numpy()),
               "category_mean": (base[:, 1:], base[:, 0]),
               "category_median": (base[:, 1:], base[:, 0])}
        for method, (q, mean) in per.items():
            p50 = mean if method == "category_mean" else q[:, mid]
            for i, r in test.iterrows():
                rows.append({"cutoff_date": cutoff, "item_id": r["item_id"], "method": method,
                             "category": r["category"], "launch_date": r["launch_date"], "actual": actual[i],
                             "p10": float(q[i, lo]), "p50": float(p50[i]), "p90": float(q[i, hi]),
                             "mean_units": float(mean[i]), "n_train": int(len(model.train)),
                             "run_date": run_date})
    df = pd.DataFrame(rows, columns=["cutoff_date", "item_id", "method", "category", "launch_date", "actual",
                                     "p10", "p50", "p90", "mean_units", "n_train", "run_date"])
    return df, summarise(df, fc)


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
