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
"""
from __future__ import annotations

import zlib
from typing import Optional, Sequence, Tuple

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


def inverse_cdf(u: np.ndarray, levels: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Units at probability levels ``u`` (0 < u < 1) from a monotone quantile grid, with tails."""
    u = np.asarray(u, dtype=np.float64)
    if levels.size == 1:                       # a single point: no spread known, a point mass
        return np.full_like(u, units[0])
    out = np.interp(u, levels, units)
    lo_slope = (units[1] - units[0]) / (levels[1] - levels[0])
    hi_slope = (units[-1] - units[-2]) / (levels[-1] - levels[-2])
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


def sample(grid: Tuple[np.ndarray, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` stratified demand scenarios (whole units >= 0) from a cleaned quantile grid."""
    return np.rint(inverse_cdf(strata(n, rng), *grid))


def sample_candidate(grid: Tuple[np.ndarray, np.ndarray], n: int, seed: int, candidate_id: str) -> np.ndarray:
    """The candidate's ``n`` scenarios: the same on every run, executor and call."""
    return sample(grid, n, candidate_rng(seed, candidate_id))


def forecast_grid(row) -> Optional[tuple]:
    """The candidate's quantile grid: quantile_levels/quantile_units, else units_p10/p50/p90."""
    grid = clean_grid(row.get("quantile_levels"), row.get("quantile_units"))
    if grid is not None:
        return grid
    fallback = [row.get(c) for c in ("units_p10", "units_p50", "units_p90")]
    if all(v is not None and np.isfinite(v) for v in fallback):
        return clean_grid(FALLBACK_LEVELS, fallback)
    return None
