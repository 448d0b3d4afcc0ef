"""Analog launches: the k most similar past launches of an item, in a standardised feature space.

Used twice: as features of the global model (the neighbours' units, not the
only answer) and, alone, as the kNN baseline. The space holds the numeric
attributes (log1p where skewed), the log price, the category levels as
one-hot columns and text components; every block is standardised so none
dominates by its units. Training rows never count themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np
from sklearn.neighbors import NearestNeighbors


@dataclass
class Analogs:
    index: np.ndarray        # (m, k) training row numbers, nearest first
    dist: np.ndarray         # (m, k) distances


class Space:
    """Standardise blocks on training rows; the same transform for any rows."""

    def __init__(self, weights: Optional[List[float]] = None):
        self.weights = weights

    def fit(self, blocks: List[np.ndarray]) -> "Space":
        self.mu = [np.nanmean(b, axis=0) if b.size else np.zeros(b.shape[1]) for b in blocks]
        self.sd = []
        for b, mu in zip(blocks, self.mu):
            sd = np.nanstd(b, axis=0) if b.size else np.ones(b.shape[1])
            self.sd.append(np.where(np.isfinite(sd) & (sd > 1e-9), sd, 1.0))
        return self

    def transform(self, blocks: List[np.ndarray]) -> np.ndarray:
        cols = []
        for j, (b, mu, sd) in enumerate(zip(blocks, self.mu, self.sd)):
            if not b.shape[1]:
                continue
            z = (b - np.where(np.isfinite(mu), mu, 0.0)) / sd
            z = np.where(np.isfinite(z), z, 0.0)
            w = 1.0 if self.weights is None else self.weights[j]
            cols.append(w * z / np.sqrt(b.shape[1]))      # a block weighs the same whatever its width
        return np.column_stack(cols) if cols else np.zeros((len(blocks[0]) if blocks else 0, 1))


def nearest(train_x: np.ndarray, x: np.ndarray, k: int, *, exclude_self: bool) -> Analogs:
    """k nearest training rows of each row of ``x`` (x is train_x itself when exclude_self)."""
    n = len(train_x)
    k_eff = max(1, min(k, n - 1 if exclude_self else n))
    nn = NearestNeighbors(n_neighbors=min(n, k_eff + int(exclude_self))).fit(train_x)
    dist, idx = nn.kneighbors(x)
    if exclude_self:
        rows = np.arange(len(x))[:, None]
        keep = idx != rows
        # drop self (or, with exact duplicates, the last column) so every row has k_eff neighbours
        order = np.argsort(~keep, axis=1, kind="stable")[:, :k_eff]
        idx = np.take_along_axis(idx, order, axis=1)
        dist = np.take_along_axis(dist, order, axis=1)
    return Analogs(idx[:, :k_eff], dist[:, :k_eff])


def features(a: Analogs, train_y: np.ndarray) -> np.ndarray:
    """(m, 4): mean and max of the neighbours' log1p units, the nearest one's, the mean distance."""
    ly = np.log1p(np.asarray(train_y, float))[a.index]
    return np.column_stack([ly.mean(axis=1), ly.max(axis=1), ly[:, 0], a.dist.mean(axis=1)])


def units(a: Analogs, train_y: np.ndarray, quantiles) -> tuple:
    """kNN alone: (mean units, (m, Q) empirical quantiles) of the neighbours' units."""
    y = np.asarray(train_y, float)[a.index]
    return y.mean(axis=1), np.quantile(y, list(quantiles), axis=1).T
