"""A strictly causal backtest of any launch table, for debut and named baselines (pandas only).

For each cutoff c (month starts, or given dates) every method is fit on the
launches whose horizon had ended by c (launch_date + 7 x H <= c) and forecasts
the launches of [c, next cutoff) whose horizon is complete, from their
attributes alone (their weeks are dropped before any method sees them).
Methods: debut (``global_model``), kNN alone (the same model's analogs),
category_mean (the mean of the deepest category level with 2+ launches, its
empirical quantiles), category_median (the same, median as P50),
global_median, and gbm_price (Poisson gradient boosting on log price, when
prices exist). Point metrics use each method's P50; Spearman ranks by its
mean; bias is given for the mean (the total the optimizer stocks against) and
for the P50.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from debut.core import metrics as M
from debut.forecast import encode
from debut.forecast.global_model import GlobalForecaster, ModelParams
from debut.forecast.launches import CATEGORY, DATE, ID, PRICE, horizon_of, week_cols

METHODS = ("debut", "knn", "category_mean", "category_median", "global_median", "gbm_price")
BASELINES = ("knn", "category_mean", "global_median", "gbm_price")      # the named baselines
ROW_COLUMNS = ["cutoff_date", "item_id", "method", "category", "launch_date", "actual", "p10", "p50", "p90",
               "mean_units", "n_train"]


@dataclass
class Forecast:
    mean: np.ndarray         # (m,)
    q: np.ndarray            # (m, Q) at the sorted quantiles


def monthly_cutoffs(table: pd.DataFrame, horizon: int, start=None, end=None) -> List[pd.Timestamp]:
    """Month starts from ``start`` (default: the first month with a finished launch before it) to
    ``end`` (default: the last month whose launches all have a complete horizon)."""
    d = pd.to_datetime(table[DATE]).dropna()
    if not len(d):
        return []
    first = (d.min() + pd.Timedelta(days=7 * horizon)).to_period("M").to_timestamp() + pd.offsets.MonthBegin(1)
    last_full = (d.max() - pd.Timedelta(days=7 * horizon)).to_period("M").to_timestamp()
    lo = pd.Timestamp(start) if start is not None else first
    hi = pd.Timestamp(end) if end is not None else last_full
    return list(pd.date_range(lo, hi, freq="MS"))


def _totals(table: pd.DataFrame, h: int) -> np.ndarray:
    """Units over the known weeks (test launches have them all)."""
    return np.nansum(table[week_cols(h)].to_numpy(float), axis=1)


def _complete(table: pd.DataFrame, h: int) -> np.ndarray:
    return np.isfinite(table[week_cols(h)].to_numpy(float)).all(axis=1)


def _group_baseline(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, qs, use_median: bool) -> Forecast:
    """Mean (or median) and empirical quantiles of the deepest category level with 2+ launches."""
    out_mean, out_q = np.full(len(test), np.nanmean(y)), np.tile(np.quantile(y, qs), (len(test), 1))
    out_mid = np.full(len(test), np.median(y))
    if CATEGORY in train.columns and CATEGORY in test.columns:
        tr_lv = encode.path_levels(train[CATEGORY].tolist())
        te_lv = encode.path_levels(test[CATEGORY].tolist(), len(tr_lv))
        for tk, ek in zip(tr_lv, te_lv):
            g = pd.DataFrame({"k": tk, "y": y}).groupby("k")["y"]
            stats = pd.DataFrame({"n": g.size(), "mean": g.mean(), "median": g.median()})
            qv = g.quantile(list(qs)).unstack()
            ok_keys = stats.index[stats["n"] >= 2]
            hit = pd.Series(ek).isin(ok_keys).to_numpy()
            if hit.any():
                keys = ek[hit]
                out_mean[hit] = stats.loc[keys, "mean"].to_numpy()
                out_mid[hit] = stats.loc[keys, "median"].to_numpy()
                out_q[hit] = qv.loc[keys].to_numpy()
    mid = len(qs) // 2
    q = out_q.copy()
    q[:, mid] = out_mid if use_median else out_mean
    return Forecast(out_mean, np.sort(q, axis=1))


def _global_median(y: np.ndarray, m: int, qs) -> Forecast:
    med = float(np.median(y))
    q = np.tile(np.quantile(y, qs), (m, 1))
    return Forecast(np.full(m, med), q)


def _gbm_price(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, qs, seed: int) -> Optional[Forecast]:
    if PRICE not in train.columns or PRICE not in test.columns:
        return None
    lp = np.log(pd.to_numeric(train[PRICE], errors="coerce").to_numpy(float))
    if np.isfinite(lp).sum() < 10:
        return None
    m = HistGradientBoostingRegressor(loss="poisson", max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                      min_samples_leaf=20, random_state=seed).fit(lp[:, None], y)
    mu_tr = np.maximum(m.predict(lp[:, None]), 1e-6)
    ratio = np.quantile(y / mu_tr, qs)
    mu = np.maximum(m.predict(np.log(pd.to_numeric(test[PRICE], errors="coerce").to_numpy(float))[:, None]), 1e-6)
    q = mu[:, None] * ratio[None, :]
    q[:, len(qs) // 2] = mu
    return Forecast(mu, np.sort(q, axis=1))


def forecast_methods(train: pd.DataFrame, test: pd.DataFrame, h: int, params: ModelParams,
                     methods: Sequence[str] = METHODS) -> Dict[str, Forecast]:
    """Every method fit on ``train`` (a launch table) and applied to ``test`` (no weeks)."""
    qs = sorted(params.quantiles)
    y = _totals(train, h)
    out: Dict[str, Forecast] = {}
    if "debut" in methods or "knn" in methods:
        model = GlobalForecaster(params, h).fit(train)
        pred = model.predict(test)
        nq = len(qs)
        out["debut"] = Forecast(pred["mean_units"].to_numpy(float),
                                pred[[f"q{j}" for j in range(nq)]].to_numpy(float))
        out["knn"] = Forecast(pred["knn_mean"].to_numpy(float), pred[[f"knn_q{j}" for j in range(nq)]].to_numpy())
    if "category_mean" in methods:
        out["category_mean"] = _group_baseline(train, y, test, qs, use_median=False)
    if "category_median" in methods:
        f = _group_baseline(train, y, test, qs, use_median=True)
        out["category_median"] = Forecast(f.q[:, len(qs) // 2], f.q)
    if "global_median" in methods:
        out["global_median"] = _global_median(y, len(test), qs)
    if "gbm_price" in methods:
        f = _gbm_price(train, y, test, qs, params.seed)
        if f is not None:
            out["gbm_price"] = f
    return {k: out[k] for k in methods if k in out}


def run(table: pd.DataFrame, cutoffs: Sequence, *, horizon: Optional[int] = None, end=None,
        params: Optional[ModelParams] = None, methods: Sequence[str] = METHODS,
        fit: Callable = forecast_methods, say: Callable[[str], None] = print,
        test_view: Optional[Callable[[pd.DataFrame, pd.Timestamp], pd.DataFrame]] = None) -> pd.DataFrame:
    """Backtest rows (ROW_COLUMNS), one per cutoff, test launch and method.

    ``cutoffs``: sorted dates; cutoff i forecasts launches in [c_i, c_{i+1}) (the last one up to
    ``end``, default one month later). ``fit(train, test, h, params, methods)`` is the forecaster
    under test (``forecast_methods``; tests pass their own to check causality). ``test_view(test,
    cutoff)``, when given, replaces what the test launches' columns say by what was known at the cutoff
    (e.g. their category's market as of the cutoff rather than of their launch day).
    """
    params = params or ModelParams()
    h = horizon or horizon_of(table)
    if DATE not in table.columns:
        raise ValueError("a backtest needs launch dates (column launch_date)")
    table = table[pd.to_datetime(table[DATE]).notna()].reset_index(drop=True)
    dates = pd.to_datetime(table[DATE])
    ends = dates + pd.Timedelta(days=7 * h)
    complete = _complete(table, h)
    cuts = [pd.Timestamp(c) for c in cutoffs]
    qs = sorted(params.quantiles)
    lo, mid, hi = 0, len(qs) // 2, len(qs) - 1
    rows = []
    for i, c in enumerate(cuts):
        nxt = cuts[i + 1] if i + 1 < len(cuts) else (pd.Timestamp(end) if end is not None
                                                      else c + pd.offsets.MonthBegin(1))
        train = table[(ends <= c).to_numpy()].reset_index(drop=True)
        test = table[((dates >= c) & (dates < nxt)).to_numpy() & complete].reset_index(drop=True)
        if len(train) < 2 or not len(test):
            say(f"[backtest] cutoff {c.date()}: {len(train)} finished launch(es), {len(test)} to forecast; skipped")
            continue
        actual = _totals(test, h)
        features = test.drop(columns=week_cols(h))
        if test_view is not None:
            features = test_view(features, c)
        with threadpool_limits(limits=params.threads):
            res = fit(train, features, h, params, methods)
        for method, f in res.items():
            for j in range(len(test)):
                rows.append((c.date(), test.at[j, ID], method,
                             str(test.at[j, CATEGORY]) if CATEGORY in test.columns else "",
                             pd.Timestamp(test.at[j, DATE]).date(),
                             float(actual[j]), float(f.q[j, lo]), float(f.q[j, mid]), float(f.q[j, hi]),
                             float(f.mean[j]), int(len(train))))
        say(f"[backtest] cutoff {c.date()}: fit on {len(train)} finished launches, forecast {len(test)}")
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


def summarise(rows: pd.DataFrame, quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> pd.DataFrame:
    """One row per method: n, wape, mae, spearman, bias (mean), bias_p50, coverage, pinball, wape_mean."""
    qs = sorted(quantiles)
    out = []
    for method in [m for m in METHODS if m in set(rows["method"])] + sorted(set(rows["method"]) - set(METHODS)):
        d = rows[rows["method"] == method]
        a = d["actual"].to_numpy(float)
        out.append({"method": method, "n": len(d), "wape": M.wape(a, d["p50"]), "mae": M.mae(a, d["p50"]),
                    "spearman": M.spearman(a, d["mean_units"]), "bias": M.bias(a, d["mean_units"]),
                    "bias_p50": M.bias(a, d["p50"]), "coverage": M.coverage(a, d["p10"], d["p90"]),
                    "pinball": float(np.mean([M.pinball(a, d[c], q) for c, q in
                                              zip(("p10", "p50", "p90"), (qs[0], 0.5, qs[-1]))])),
                    "wape_mean": M.wape(a, d["mean_units"])})
    return pd.DataFrame(out)


def table_text(summary: pd.DataFrame) -> str:
    cols = ["n", "wape", "mae", "spearman", "bias", "bias_p50", "coverage", "pinball", "wape_mean"]
    lines = [f"{'method':<16}" + "".join(f"{c:>10}" for c in cols)]
    for r in summary.itertuples(index=False):
        vals = [f"{r.n:>10d}"] + [f"{getattr(r, c):>10.3f}" for c in cols[1:]]
        lines.append(f"{r.method:<16}" + "".join(vals))
    return "\n".join(lines)


def verdict(summary: pd.DataFrame) -> List[str]:
    """The issue's acceptance figures, as lines: WAPE gain vs the best named baseline, Spearman vs
    every baseline, bias of the mean, P10-P90 coverage."""
    s = summary.set_index("method")
    if "debut" not in s.index:
        return []
    d = s.loc["debut"]
    base = s.loc[[m for m in BASELINES if m in s.index]]
    lines = []
    if len(base):
        best = base["wape"].idxmin()
        gain = 1.0 - d["wape"] / base.loc[best, "wape"]
        lines.append(f"WAPE {d['wape']:.3f} vs best named baseline {best} {base.loc[best, 'wape']:.3f}: "
                     f"{gain:+.1%} better (target >= +10%)")
        sp = base["spearman"].dropna()
        if len(sp):
            lines.append(f"Spearman {d['spearman']:.3f} vs best baseline {sp.idxmax()} {sp.max():.3f} "
                         f"({'above' if d['spearman'] > sp.max() else 'NOT above'})")
    lines.append(f"total bias of the mean {d['bias']:+.1%} (target within +-10%); of the P50 {d['bias_p50']:+.1%}")
    lines.append(f"P10-P90 coverage {d['coverage']:.1%} (target 75-85%)")
    return lines
