"""Forecast accuracy on past launches: point error, quantile loss, coverage, ranking.

All functions take plain arrays (one value per launch) and return floats;
an empty input gives NaN.
"""
from __future__ import annotations

import numpy as np
from scipy import stats


def _arrays(*xs):
    return [np.asarray(x, dtype=np.float64) for x in xs]


def wape(actual, forecast) -> float:
    """sum |actual - forecast| / sum actual (NaN when nothing sold)."""
    a, f = _arrays(actual, forecast)
    total = a.sum()
    return float(np.abs(a - f).sum() / total) if len(a) and total > 0 else float("nan")


def mae(actual, forecast) -> float:
    a, f = _arrays(actual, forecast)
    return float(np.abs(a - f).mean()) if len(a) else float("nan")


def bias(actual, forecast) -> float:
    """sum (forecast - actual) / sum actual: > 0 over-forecasts."""
    a, f = _arrays(actual, forecast)
    total = a.sum()
    return float((f - a).sum() / total) if len(a) and total > 0 else float("nan")


def pinball(actual, forecast, q: float) -> float:
    """Mean quantile loss of ``forecast`` as the q-quantile: q (a - f) when a >= f, (1 - q)(f - a) below."""
    a, f = _arrays(actual, forecast)
    if not len(a):
        return float("nan")
    d = a - f
    return float(np.mean(np.maximum(q * d, (q - 1.0) * d)))


def coverage(actual, lower, upper) -> float:
    """Share of actuals inside [lower, upper]."""
    a, lo, hi = _arrays(actual, lower, upper)
    return float(np.mean((a >= lo) & (a <= hi))) if len(a) else float("nan")


def spearman(actual, forecast) -> float:
    """Spearman rank correlation (ties get average ranks); NaN below 3 launches or when constant."""
    a, f = _arrays(actual, forecast)
    if len(a) < 3 or np.all(a == a[0]) or np.all(f == f[0]):
        return float("nan")
    return float(stats.spearmanr(a, f).statistic)
