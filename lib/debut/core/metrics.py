"""Forecast and ranking metrics: the one implementation every stage uses.

All functions take plain arrays (one value per launch, candidate or week) and
return floats; an empty input (or a zero denominator) gives NaN. Where
scikit-learn or scipy has the metric it is used; WAPE and total bias are
ratios of sums that scikit-learn does not offer.
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
from scipy import stats
from sklearn.metrics import mean_absolute_error, mean_pinball_loss


def _arrays(*xs):
    return [np.asarray(x, dtype=np.float64) for x in xs]


def wape(actual, forecast) -> float:
    """sum |actual - forecast| / sum actual (NaN when nothing sold)."""
    a, f = _arrays(actual, forecast)
    total = a.sum()
    return float(np.abs(a - f).sum() / total) if len(a) and total > 0 else float("nan")


def mae(actual, forecast) -> float:
    a, f = _arrays(actual, forecast)
    return float(mean_absolute_error(a, f)) if len(a) else float("nan")


def bias(actual, forecast) -> float:
    """sum (forecast - actual) / sum actual: > 0 over-forecasts."""
    a, f = _arrays(actual, forecast)
    total = a.sum()
    return float((f - a).sum() / total) if len(a) and total > 0 else float("nan")


def pinball(actual, forecast, q: float) -> float:
    """Mean quantile loss of ``forecast`` as the q-quantile: q (a - f) when a >= f, (1 - q)(f - a) below."""
    a, f = _arrays(actual, forecast)
    return float(mean_pinball_loss(a, f, alpha=q)) if len(a) else float("nan")


def mean_pinball(actual, forecasts: Dict[float, Sequence[float]]) -> float:
    """Pinball loss averaged over the quantile levels of ``forecasts`` (level -> values)."""
    if not forecasts:
        return float("nan")
    return float(np.mean([pinball(actual, f, q) for q, f in forecasts.items()]))


def coverage(actual, lower, upper) -> float:
    """Share of actuals inside [lower, upper]."""
    a, lo, hi = _arrays(actual, lower, upper)
    return float(np.mean((a >= lo) & (a <= hi))) if len(a) else float("nan")


def spearman(actual, forecast) -> float:
    """Spearman rank correlation (ties get average ranks); NaN below 3 values or when constant."""
    a, f = _arrays(actual, forecast)
    if len(a) < 3 or np.all(a == a[0]) or np.all(f == f[0]):
        return float("nan")
    return float(stats.spearmanr(a, f).statistic)


def interval_calibration(actual, lower, middle, upper) -> Dict[str, float]:
    """Interval and point scores of one set of forecasts.

    coverage = share of actuals inside [lower, upper]; below / above the misses on
    each side (a calibrated P10-P90 has about 10% each); wape and bias of the middle.
    """
    a, lo, mid, hi = _arrays(actual, lower, middle, upper)
    n = len(a)
    if n == 0:
        return {"n": 0}
    return {
        "n": n,
        "coverage": coverage(a, lo, hi),
        "below": float(np.mean(a < lo)),
        "above": float(np.mean(a > hi)),
        "wape": wape(a, mid),
        "bias": bias(a, mid),
    }
