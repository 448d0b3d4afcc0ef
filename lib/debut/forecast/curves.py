"""Launch curves: the share of a launch's first-N-week units that falls in each week.

Past launches are a matrix of weekly units with NaN where a week is not known
yet (a recent launch, or a backtest cutoff hiding later weeks); known weeks
always form a prefix. The shape of a category is estimated by chaining week
ratios over the launches that saw both weeks (sum of week k / sum of week
k-1), so recent launches help the early weeks without dragging later weeks
down; weeks nobody saw keep the level of the week before. Small categories are
shrunk towards the shape of all launches.
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np
import pandas as pd


def chain_shape(weeks: np.ndarray) -> np.ndarray:
    """(n, H) weekly units, NaN unknown -> (H,) shares summing to 1 (uniform when nothing is known)."""
    weeks = np.atleast_2d(np.asarray(weeks, dtype=np.float64))
    h = weeks.shape[1]
    ratio = np.ones(h)
    for k in range(1, h):
        both = ~np.isnan(weeks[:, k]) & ~np.isnan(weeks[:, k - 1])
        prev, cur = weeks[both, k - 1].sum(), weeks[both, k].sum()
        step = cur / prev if both.any() and prev > 0 else 1.0
        ratio[k] = ratio[k - 1] * step
    total = ratio.sum()
    return ratio / total if total > 0 else np.full(h, 1.0 / h)


def category_shapes(categories: Sequence[str], weeks: np.ndarray, *, prior: float) -> Dict[str, np.ndarray]:
    """Shape per category, shrunk to the overall shape with the weight of ``prior`` launches.

    Key None holds the overall shape (for a category without launches).
    """
    categories = np.asarray(categories, dtype=object)
    overall = chain_shape(weeks)
    out: Dict = {None: overall}
    for cat in sorted(set(categories)):
        rows = categories == cat
        n = int(rows.sum())
        shape = chain_shape(weeks[rows])
        out[cat] = (n * shape + prior * overall) / (n + prior)
    return out


def extrapolated_totals(weeks: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """Horizon totals: known units / the shape's share of the known weeks (NaN without a known week).

    ``shapes`` is (n, H): each launch's own category shape.
    """
    weeks = np.asarray(weeks, dtype=np.float64)
    known = ~np.isnan(weeks)
    seen = np.where(known, weeks, 0.0).sum(axis=1)
    share = np.where(known, shapes, 0.0).sum(axis=1)
    out = np.full(len(weeks), np.nan)
    ok = known.any(axis=1) & (share > 0)
    out[ok] = seen[ok] / share[ok]
    return out


def hierarchy_shapes(paths: Sequence, weeks: np.ndarray, *, prior: float) -> Dict:
    """Shape of every level of the category hierarchy ("a", "a>b", ...), each shrunk toward its
    parent's with the weight of ``prior`` launches; key None holds the shape of all launches."""
    from debut.forecast.encode import path_levels

    weeks = np.atleast_2d(np.asarray(weeks, dtype=np.float64))
    out: Dict = {None: chain_shape(weeks)}
    if not len(weeks):
        return out
    parent = np.array([None] * len(weeks), dtype=object)
    for keys in path_levels(paths):
        for key in sorted(set(keys) - set(out)):       # a short path repeats its parent's key
            rows = keys == key
            par = out[parent[rows][0]]
            n = int(rows.sum())
            out[key] = (n * chain_shape(weeks[rows]) + prior * par) / (n + prior)
        parent = keys
    return out


def shape_rows(shapes: Dict, paths: Sequence, horizon: int) -> np.ndarray:
    """(n, H) the shape of each row's deepest known category level (all launches' when none)."""
    from debut.forecast.encode import path_levels

    n = len(paths)
    out = np.tile(shapes[None], (n, 1)) if n else np.zeros((0, horizon))
    names = [k for k in shapes if k is not None]
    pos = {k: i for i, k in enumerate(names)}
    table = np.stack([shapes[k] for k in names]) if names else np.zeros((0, horizon))
    for keys in path_levels(paths) if n else []:
        j = pd.Series(keys).map(pos)
        ok = j.notna().to_numpy()
        out[ok] = table[j[ok].astype(int).to_numpy()]
    return out
