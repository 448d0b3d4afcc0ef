"""Combining the components and calibrating the spread, on log1p units.

Weights: non-negative least squares with a free intercept on the components'
out-of-sample predictions of past launches (stacking), so a component that
only echoes its own training data earns no weight. Calibration: the blend's
out-of-sample residuals (cross-validated over launches, weights refit per
fold), each divided by its launch's spread factor, form an empirical
distribution; a forecast's quantile at level q is
``blend + spread x residual quantile`` (a split-conformal style interval with
the finite-sample correction), levels stretched so that the outer pair of
``forecast.quantiles`` covers ``target_coverage``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np
from scipy.optimize import nnls


def fit_weights(x: np.ndarray, y: np.ndarray, prior: float = 0.0) -> Tuple[np.ndarray, float]:
    """(weights >= 0, intercept) minimising ||y - intercept - x w||^2 + prior sum_j var(x_j) w_j^2.

    Centring frees the intercept. ``prior`` (in launches) shrinks the weights
    towards 0, i.e. towards the mean: a few past launches cannot buy a steep blend.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(y) == 0:
        return np.zeros(x.shape[1]), 0.0
    xm, ym = x.mean(axis=0), float(y.mean())
    if len(y) < 2:
        return np.zeros(x.shape[1]), ym
    a, b = x - xm, y - ym
    if prior > 0:
        a = np.vstack([a, np.diag(np.sqrt(prior * x.var(axis=0)))])
        b = np.concatenate([b, np.zeros(x.shape[1])])
    w, _ = nnls(a, b)
    return w, float(ym - w @ xm)


def fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    """A fold number per row, balanced and shuffled with ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(n) % max(1, min(folds, n)))


def cv_predict(x: np.ndarray, y: np.ndarray, *, folds: int, seed: int, prior: float = 0.0) -> np.ndarray:
    """Out-of-fold blend predictions (weights refit without the fold)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    out = np.full(len(y), np.nan)
    ids = fold_ids(len(y), folds, seed)
    for f in np.unique(ids):
        test = ids == f
        if (~test).sum() == 0:
            out[test] = 0.0
            continue
        w, b = fit_weights(x[~test], y[~test], prior)
        out[test] = b + x[test] @ w
    return out


def stretch(levels: Sequence[float], quantiles: Sequence[float], target_coverage: float) -> np.ndarray:
    """Levels moved away from 0.5 so that the outer configured quantiles cover ``target_coverage``."""
    levels = np.asarray(levels, float)
    nominal = float(max(quantiles) - min(quantiles))
    if nominal <= 0:
        return levels
    return np.clip(0.5 + (levels - 0.5) * target_coverage / nominal, 0.0, 1.0)


@dataclass
class Calibration:
    """The empirical distribution of normalised out-of-sample residuals."""
    residuals: np.ndarray            # sorted, (y - blend) / spread factor
    quantiles: Tuple[float, ...]
    target_coverage: float

    @classmethod
    def fit(cls, residuals: np.ndarray, quantiles: Sequence[float], target_coverage: float) -> "Calibration":
        r = np.asarray(residuals, float)
        r = np.sort(r[np.isfinite(r)])
        if not len(r):
            r = np.zeros(1)
        return cls(r, tuple(quantiles), float(target_coverage))

    def residual_quantiles(self, levels: Sequence[float]) -> np.ndarray:
        """Residual quantiles at (stretched, finite-sample corrected) levels; non-decreasing in level."""
        n = len(self.residuals)
        lv = stretch(levels, self.quantiles, self.target_coverage)
        lv = np.clip(0.5 + (lv - 0.5) * (n + 1) / max(n, 1), 0.0, 1.0)
        return np.quantile(self.residuals, lv)

    def units(self, center: np.ndarray, scale: np.ndarray, levels: Sequence[float]) -> np.ndarray:
        """(m, L) units at ``levels`` for log1p centres and spread factors; non-decreasing along L."""
        rq = self.residual_quantiles(levels)
        logu = np.asarray(center, float)[:, None] + np.asarray(scale, float)[:, None] * rq[None, :]
        return np.maximum(np.expm1(logu), 0.0)


def spread_factors(spread: np.ndarray, reference: float, min_scale: float) -> np.ndarray:
    """Per-forecast spread relative to the typical one, clipped to [min_scale, 1 / min_scale];
    1 where unknown."""
    s = np.asarray(spread, float)
    if not np.isfinite(reference) or reference <= 0 or min_scale >= 1.0:
        return np.ones(len(s))
    f = np.where(np.isfinite(s), s / reference, 1.0)
    return np.clip(f, min_scale, 1.0 / min_scale)
