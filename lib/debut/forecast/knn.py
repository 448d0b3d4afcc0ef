"""Component (1): the outcomes of the most similar past launches.

Neighbours come from the candidate's own category when it has at least
``min_launches`` past launches; otherwise from every category, each
neighbour's outcome moved by the difference of the two categories' levels
(flagged as a fallback). A neighbour's log units are also moved by
``elasticity x`` the log price ratio (candidate / neighbour): a cheaper twin
of a past launch is expected to sell more. The neighbours' adjusted log units,
weighted by softmax(similarity / temperature), give the point forecast (their
weighted mean) and a spread (their weighted standard deviation).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np


@dataclass
class KnnResult:
    pred: np.ndarray                 # (m,) log1p units
    spread: np.ndarray               # (m,) weighted sd of the neighbours' log1p units (NaN: one neighbour)
    fallback: np.ndarray             # (m,) bool: neighbours from other categories
    neighbours: List[List[Tuple[int, float, float]]]   # per target: (train index, similarity, log1p units), best first


def knn_predict(sim: np.ndarray, train_cat: np.ndarray, train_y: np.ndarray, train_logp: np.ndarray,
                train_level: np.ndarray, target_cat: np.ndarray, target_logp: np.ndarray,
                target_level: np.ndarray, *, k: int, temperature: float, elasticity: float,
                min_launches: int, exclude: Optional[np.ndarray] = None) -> KnnResult:
    """Forecast ``m`` targets from ``n`` past launches.

    sim: (m, n) similarity; *_level: the category level (mean log1p units) of
    each row's category, used only across categories; exclude: per target a
    train index to leave out (itself, for out-of-sample predictions), -1 none.
    """
    m, n = sim.shape
    train_cat = np.asarray(train_cat, dtype=object)
    target_cat = np.asarray(target_cat, dtype=object)
    pred, spread = np.full(m, np.nan), np.full(m, np.nan)
    fallback = np.zeros(m, dtype=bool)
    neighbours: List[List[Tuple[int, float, float]]] = []
    for i in range(m):
        allowed = np.ones(n, dtype=bool)
        if exclude is not None and exclude[i] >= 0:
            allowed[exclude[i]] = False
        same = allowed & (train_cat == target_cat[i])
        if same.sum() >= min_launches:
            pool = same
        else:
            pool, fallback[i] = allowed, True
        idx = np.flatnonzero(pool)
        if not len(idx):
            neighbours.append([])
            continue
        top = idx[np.argsort(-sim[i, idx], kind="stable")[:k]]
        adj = train_y[top].copy()
        if np.isfinite(target_logp[i]):
            dp = target_logp[i] - train_logp[top]
            adj = adj + elasticity * np.where(np.isfinite(dp), dp, 0.0)
        if fallback[i]:
            adj = adj + (target_level[i] - train_level[top])
        adj = np.maximum(adj, 0.0)            # log1p units cannot go below 0
        s = sim[i, top]
        w = np.exp((s - s.max()) / temperature)
        w = w / w.sum()
        mu = float(w @ adj)
        pred[i] = mu
        if len(top) > 1:
            spread[i] = float(np.sqrt(w @ (adj - mu) ** 2 * len(top) / (len(top) - 1)))
        neighbours.append([(int(j), float(sj), float(a)) for j, sj, a in zip(top, s, adj)])
    return KnnResult(pred, spread, fallback, neighbours)


def elasticity(y: np.ndarray, logp: np.ndarray, category: np.ndarray, *, limit: float, min_rows: int = 10) -> float:
    """Pooled within-category slope of log1p units on log price, clipped to [-limit, 0].

    0 with fewer than ``min_rows`` usable launches or no price variation.
    """
    y, logp = np.asarray(y, float), np.asarray(logp, float)
    category = np.asarray(category, dtype=object)
    ok = np.isfinite(y) & np.isfinite(logp)
    if ok.sum() < min_rows:
        return 0.0
    xs, ys = [], []
    for c in set(category[ok]):
        rows = ok & (category == c)
        if rows.sum() < 2:
            continue
        xs.append(logp[rows] - logp[rows].mean())
        ys.append(y[rows] - y[rows].mean())
    if not xs:
        return 0.0
    x, yy = np.concatenate(xs), np.concatenate(ys)
    sxx = float(x @ x)
    if sxx <= 1e-12:
        return 0.0
    return float(np.clip((x @ yy) / sxx, -limit, 0.0))
