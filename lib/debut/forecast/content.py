"""Ridge regressions on item descriptions (attribute tokens + price position).

Used for component (4), what items with these attributes sell in the current
catalog (trained on catalog items that are not past launches, so its
predictions for past launches are out of sample), and to map the audience
strength of past launches to their units.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from debut.forecast import features as fx


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float):
    """(coef, intercept) of ridge regression with centred columns (the intercept is not shrunk)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    xm, ym = x.mean(axis=0), float(y.mean())
    xc = x - xm
    coef = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (y - ym))
    return coef, float(ym - xm @ coef)


def ridge_cv_predict(x: np.ndarray, y: np.ndarray, folds: np.ndarray, alpha: float) -> np.ndarray:
    """Out-of-fold ridge predictions for every row (fold ids from blend.fold_ids)."""
    out = np.full(len(y), np.nan)
    for f in np.unique(folds):
        test = folds == f
        if (~test).sum() < 2:
            out[test] = float(np.mean(y)) if len(y) else np.nan
            continue
        coef, b = ridge_fit(x[~test], y[~test], alpha)
        out[test] = b + x[test] @ coef
    return out


def _design(df: pd.DataFrame, vocab, ref: pd.DataFrame, with_category: bool):
    fields = fx.TOKEN_FIELDS + (("category",) if with_category else ())
    onehot, vocab = fx.one_hot(fx.tokens(df, fields), vocab)
    z = fx.log_price_position(df["price"].to_numpy(float), df["category"].to_numpy(object),
                              ref["price"].to_numpy(float), ref["category"].to_numpy(object))
    return np.column_stack([onehot, np.nan_to_num(z)]), vocab


class ContentModel:
    """Per-category ridge of an item's log sales rate on its description; a pooled model
    (category as a token) for categories with fewer than ``min_items`` training items."""

    def __init__(self, alpha: float, min_items: int):
        self.alpha, self.min_items = alpha, min_items
        self.models = {}
        self.pooled = None
        self.ref: Optional[pd.DataFrame] = None

    def fit(self, items: pd.DataFrame, target: str = "log_rate") -> "ContentModel":
        items = items[np.isfinite(items[target].to_numpy(float))].reset_index(drop=True)
        self.ref = items[["category", "price"]]
        if len(items) >= 2:
            x, vocab = _design(items, None, self.ref, True)
            self.pooled = (vocab, *ridge_fit(x, items[target].to_numpy(float), self.alpha))
        for cat, part in items.groupby("category"):
            if len(part) >= self.min_items:
                x, vocab = _design(part, None, self.ref, False)
                self.models[cat] = (vocab, *ridge_fit(x, part[target].to_numpy(float), self.alpha))
        return self

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        out = np.full(len(df), np.nan)
        if self.pooled is None or not len(df):
            return out
        df = df.reset_index(drop=True)
        cats = df["category"].to_numpy(object)
        for cat in set(cats):
            rows = np.flatnonzero(cats == cat)
            part = df.iloc[rows]
            if cat in self.models:
                vocab, coef, b = self.models[cat]
                x, _ = _design(part, vocab, self.ref, False)
            else:
                vocab, coef, b = self.pooled
                x, _ = _design(part, vocab, self.ref, True)
            out[rows] = b + x @ coef
        return out


AUDIENCE_FEATURES = ("audience_score_sum", "audience_score_mean", "audience_reach", "top_segment_share")


def audience_design(df: pd.DataFrame, columns: Sequence[str] = AUDIENCE_FEATURES) -> np.ndarray:
    """Audience strength as regressors: log1p of sums and counts, means and shares as they are."""
    cols = []
    for c in columns:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(float) if c in df.columns else np.full(len(df), np.nan)
        cols.append(np.log1p(np.maximum(v, 0.0)) if c in ("audience_score_sum", "audience_reach") else v)
    return np.column_stack(cols) if cols else np.zeros((len(df), 0))
