"""Demand scenarios of one candidate, sampled from its forecast's quantile grid.

The forecast gives total units at evenly spaced levels (``quantile_levels`` /
``quantile_units``, monotone). The inverse CDF interpolates linearly between
them; below the first level it extends the first segment's slope down to
level 0, clipped at 0 units; above the last level it uses an exponential tail
whose density matches the last segment (Q(u) = Q(l_n) + s (1 - l_n) ln((1 - l_n)
/ (1 - u)), s the last slope), so the right tail is open but light. Levels are
stratified (one uniform draw in each of S equal strata, in random order), which
keeps the sample average close to the distribution's mean with S = 200.
Scenarios are rounded to whole units: demand is a count, and integer
breakpoints keep the optimal stock an exact scenario value.
When the forecast gives its mean (``mean_units``, the predictive mean that
the forecast's backtest checks for bias), the tail's slope is set so that the
distribution's mean is that mean: the grid fixes the quantiles, the mean fixes
how heavy the tail above the last level is.
"""
from __future__ import annotations

import zlib
from typing import Optional, Sequence

import numpy as np

FALLBACK_LEVELS = (0.1, 0.5, 0.9)      # units_p10 / units_p50 / units_p90 when the grid is missing


def candidate_rng(seed: int, candidate_id: str) -> np.random.Generator:
    """Generator seeded by the optimizer seed and the candidate: same draws on every run and executor."""
    return np.random.default_rng([int(seed), zlib.crc32(str(candidate_id).encode("utf-8"))])


def clean_grid(levels: Optional[Sequence[float]], units: Optional[Sequence[float]]):
    """(levels, units) as float arrays with levels in (0, 1) strictly increasing and units monotone,
    or None when fewer than one usable point remains."""
    if levels is None or units is None:
        return None
    lv = np.asarray(levels, dtype=np.float64).ravel()
    un = np.asarray(units, dtype=np.float64).ravel()
    if lv.size == 0 or lv.size != un.size:
        return None
    ok = np.isfinite(lv) & np.isfinite(un) & (lv > 0.0) & (lv < 1.0)
    lv, un = lv[ok], un[ok]
    if lv.size == 0:
        return None
    order = np.argsort(lv, kind="stable")
    lv, un = lv[order], np.maximum.accumulate(np.maximum(un[order], 0.0))
    keep = np.concatenate([[True], np.diff(lv) > 0])
    return lv[keep], un[keep]


def _lower_tail(levels: np.ndarray, units: np.ndarray) -> float:
    """Slope of the extension below the first level."""
    return float((units[1] - units[0]) / (levels[1] - levels[0]))


def grid_mean(levels: np.ndarray, units: np.ndarray, tail_slope: Optional[float] = None) -> float:
    """The mean of ``inverse_cdf`` over (0, 1), exactly: lower extension, linear body, exponential tail."""
    if levels.size == 1:
        return float(units[0])
    body = float(np.sum(np.diff(levels) * (units[1:] + units[:-1]) / 2.0))
    s_lo, l0, u0 = _lower_tail(levels, units), float(levels[0]), float(units[0])
    if u0 - s_lo * l0 >= 0:
        low = l0 * (u0 - s_lo * l0 / 2.0)
    else:                                       # the extension reaches 0 units before level 0
        low = u0 * u0 / (2.0 * s_lo)
    tail = 1.0 - float(levels[-1])
    s = float((units[-1] - units[-2]) / (levels[-1] - levels[-2])) if tail_slope is None else tail_slope
    return body + low + tail * (float(units[-1]) + s * tail)


def tail_for_mean(levels: np.ndarray, units: np.ndarray, mean: float) -> Optional[float]:
    """The tail slope that gives the distribution ``mean`` (>= 0; None when the grid has one point)."""
    if levels.size < 2 or not np.isfinite(mean):
        return None
    tail = 1.0 - float(levels[-1])
    rest = grid_mean(levels, units, 0.0)
    return float(max((mean - rest) / (tail * tail), 0.0))


def inverse_cdf(u: np.ndarray, levels: np.ndarray, units: np.ndarray,
                tail_slope: Optional[float] = None) -> np.ndarray:
    """Units at probability levels ``u`` (0 < u < 1) from a monotone quantile grid, with tails
    (the upper one with ``tail_slope`` when given, else the last segment's slope)."""
    u = np.asarray(u, dtype=np.float64)
    if levels.size == 1:                       # a single point: no spread known, a point mass
        return np.full_like(u, units[0])
    out = np.interp(u, levels, units)
    lo_slope = _lower_tail(levels, units)
    hi_slope = (units[-1] - units[-2]) / (levels[-1] - levels[-2]) if tail_slope is None else tail_slope
    low = u < levels[0]
    out[low] = np.maximum(units[0] - lo_slope * (levels[0] - u[low]), 0.0)
    high = u > levels[-1]
    tail = 1.0 - levels[-1]
    out[high] = units[-1] + hi_slope * tail * np.log(tail / (1.0 - u[high]))
    return out


def strata(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` probability levels, one uniform draw in each of n equal strata, in random order."""
    u = (rng.permutation(n) + rng.uniform(0.0, 1.0, n)) / n
    return np.clip(u, 1e-9, 1.0 - 1e-9)


def sample(grid: tuple, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` stratified demand scenarios (whole units >= 0) from a cleaned quantile grid
    (levels, units[, tail slope])."""
    return np.rint(inverse_cdf(strata(n, rng), *grid))


def sample_candidate(grid: tuple, n: int, seed: int, candidate_id: str) -> np.ndarray:
    """The candidate's ``n`` scenarios: the same on every run, executor and call."""
    return sample(grid, n, candidate_rng(seed, candidate_id))


def forecast_grid(row) -> Optional[tuple]:
    """The candidate's quantile grid: quantile_levels/quantile_units, else units_p10/p50/p90; with
    the tail slope that matches its mean_units when the row has one."""
    grid = clean_grid(row.get("quantile_levels"), row.get("quantile_units"))
    mean = row.get("mean_units")
    if grid is not None:
        if mean is not None and np.isfinite(mean) and grid[0].size >= 2:
            return (*grid, tail_for_mean(grid[0], grid[1], float(mean)))
        return grid
    fallback = [row.get(c) for c in ("units_p10", "units_p50", "units_p90")]
    if all(v is not None and np.isfinite(v) for v in fallback):
        return clean_grid(FALLBACK_LEVELS, fallback)
    return None
