"""One predictive distribution per item, conformalised on out-of-time residuals.

The calibration pool is past launches forecast out of time (a model fit only
on launches whose horizon had ended before theirs began): pairs of forecast
mean mu_j and actual units y_j. An item with mean mu gets as its distribution
the relative errors y_j / mu_j of the pool's K launches nearest in log mu,
each scaled to mu, and then all by one factor so that the sample's mean is mu
x (sum y / sum mu over those K): the window's aggregate calibration, not the
mean of its ratios, which a few small forecasts that sold well would inflate.
Its quantiles are those of that sample, so a model that is off on launches
like this one (too high, too low, too narrow) is corrected by what it did out
of time, and two items with different means never share one distribution
(with a pool of a hundred launches, K = 40 windows would otherwise give every
candidate above the pool's top 40 forecasts the same quantiles and mean, and
the optimizer could not tell them apart). The outer quantiles (the P10-P90
interval) are then set at the levels that made the pool's own leave-one-out
intervals cover ``target_coverage``: with counts (most launches selling 1
unit) the nominal levels would over-cover.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

_GRID = np.round(np.arange(0.01, 1.0, 0.01), 2)


def _windows(sorted_log_mu: np.ndarray, log_mu: np.ndarray, k: int, exclude: np.ndarray = None) -> np.ndarray:
    """(m, k) pool rows (in sorted order) nearest in log mu: a window around each position."""
    n = len(sorted_log_mu)
    pos = np.searchsorted(sorted_log_mu, log_mu)
    width = k + (1 if exclude is not None else 0)
    width = min(width, n)
    start = np.clip(pos - width // 2, 0, n - width)
    win = start[:, None] + np.arange(width)[None, :]
    if exclude is not None:
        # leave the row itself out (it is in its own window); keep the k others
        keep = win != exclude[:, None]
        order = np.argsort(~keep, axis=1, kind="stable")[:, :width - 1]
        win = np.take_along_axis(win, order, axis=1)
    return win


@dataclass
class LocalDistribution:
    mu: np.ndarray           # pool forecast means, sorted
    y: np.ndarray            # pool actuals in the same order
    k: int
    quantiles: Tuple[float, ...]
    levels_lo_hi: Tuple[float, float]

    @classmethod
    def fit(cls, mu: np.ndarray, y: np.ndarray, quantiles: Sequence[float], target_coverage: float,
            k: int = 0) -> "LocalDistribution":
        mu, y = np.asarray(mu, float), np.asarray(y, float)
        ok = np.isfinite(mu) & np.isfinite(y) & (mu > 0)
        mu, y = mu[ok], y[ok]
        order = np.argsort(mu, kind="stable")
        mu, y = mu[order], y[order]
        n = len(mu)
        if not k:
            k = int(np.clip(n // 8, 40, 300))
        k = max(1, min(k, n - 1)) if n > 1 else 1
        qs = tuple(sorted(quantiles))
        d = cls(mu, y, k, qs, (qs[0], qs[-1]))
        if n >= 10 and len(qs) >= 2:
            d.levels_lo_hi = d._calibrate_levels(target_coverage)
        return d

    def samples(self, mu: np.ndarray, loo: bool = False) -> np.ndarray:
        """(m, K) demand samples for forecast means ``mu`` (the pool's own rows left out with loo)."""
        mu = np.maximum(np.asarray(mu, float), 1e-9)
        if not len(self.mu):
            return mu[:, None]
        win = _windows(np.log(self.mu), np.log(mu), self.k, np.arange(len(mu)) if loo else None)
        y, m = self.y[win], self.mu[win]
        rel = y / m                                         # each neighbour's actual / forecast
        # one factor per item: the sample mean is mu x (sum y / sum mu) of its window
        aggregate = y.sum(axis=1) / m.sum(axis=1)
        scale = np.where(rel.mean(axis=1) > 0, aggregate / np.maximum(rel.mean(axis=1), 1e-12), 0.0)
        return rel * (mu * scale)[:, None]

    def _calibrate_levels(self, target: float) -> Tuple[float, float]:
        """Outer levels whose leave-one-out intervals cover ``target`` of the pool, lower side first
        (as close to half the misses as ties allow), the upper side taking the rest."""
        s = self.samples(self.mu, loo=True)
        q = np.quantile(s, _GRID, axis=1).T                    # (n, G)
        below = (self.y[:, None] < q).mean(axis=0)              # share of the pool under each level's value
        above = (self.y[:, None] > q).mean(axis=0)
        miss = 1.0 - target
        lo_ok = np.flatnonzero((below <= miss / 2 + 1e-12) & (_GRID < 0.5))
        lo = int(lo_ok[-1]) if len(lo_ok) else 0
        need = miss - below[lo]
        hi_ok = np.flatnonzero((above <= need + 1e-12) & (_GRID > 0.5))
        hi = int(hi_ok[0]) if len(hi_ok) else len(_GRID) - 1
        return float(_GRID[lo]), float(_GRID[hi])

    def forecast_levels(self) -> np.ndarray:
        """The levels the configured quantiles are read at: the outer pair calibrated."""
        lv = np.array(self.quantiles, float)
        lv[0], lv[-1] = self.levels_lo_hi
        return lv

    def predict(self, mu: np.ndarray, grid_levels: Sequence[float]):
        """(mean, (m, Q) calibrated quantiles, (m, L) quantiles at ``grid_levels``) for means ``mu``."""
        s = self.samples(mu)
        mean = s.mean(axis=1)
        q = np.quantile(s, self.forecast_levels(), axis=1).T
        grid = np.quantile(s, np.asarray(grid_levels, float), axis=1).T
        return mean, np.maximum.accumulate(q, axis=1), np.maximum.accumulate(grid, axis=1)
