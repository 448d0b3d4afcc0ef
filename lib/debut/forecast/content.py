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


def _log_price_sd(category: np.ndarray, ref: pd.DataFrame) -> np.ndarray:
    """Per row, the sd of log price over the reference items of its category (over all of them
    for a category with fewer than 3 priced reference items or no spread)."""
    lp = np.log(np.where(ref["price"].to_numpy(float) > 0, ref["price"].to_numpy(float), np.nan))
    rc = ref["category"].to_numpy(object)
    overall = float(np.nanstd(lp)) if np.isfinite(lp).sum() > 1 else 0.0
    overall = overall if overall > 0 else 1.0
    sd = {}
    for c in set(rc):
        v = lp[rc == c]
        v = v[np.isfinite(v)]
        sd[c] = float(np.std(v)) if len(v) >= 3 and np.std(v) > 0 else overall
    return np.array([sd.get(c, overall) for c in np.asarray(category, dtype=object)])


class _PriceScale:
    """The standardised price position z of rows against one reference table: log price less the
    category's median log price (``fx.log_price_position``), over the category's sd
    (``_log_price_sd``). The per-category medians and sds are computed once per reference table
    and category (a model fits and predicts every category against the same reference: computing
    them per call was quadratic in the categories)."""

    def __init__(self, ref: pd.DataFrame):
        self.ref = ref
        self._per_category = {}

    def _learn(self, cats) -> None:
        todo = np.array(sorted(set(cats) - set(self._per_category), key=repr), dtype=object)
        if not len(todo):
            return
        # one pass over the reference for all of them: log 1 - median = -median
        neg_med = fx.log_price_position(np.ones(len(todo)), todo, self.ref["price"].to_numpy(float),
                                        self.ref["category"].to_numpy(object))
        sd = _log_price_sd(todo, self.ref)
        self._per_category.update({c: (-m, float(v)) for c, m, v in zip(todo, neg_med, sd)})

    def z(self, df: pd.DataFrame) -> np.ndarray:
        cats = df["category"].to_numpy(object)
        out = np.log(np.where(df["price"].to_numpy(float) > 0, df["price"].to_numpy(float), np.nan))
        if not self._per_category:
            self._learn(self.ref["category"].to_numpy(object))
        self._learn(cats)
        median, sd = np.array([self._per_category[c] for c in cats], dtype=float).reshape(-1, 2).T
        return np.nan_to_num((out - median) / sd)


def _design(df: pd.DataFrame, vocab, scale: _PriceScale, with_category: bool):
    """Attribute one-hots and the standardised price position z (log price less the category's
    median, over the category's sd) as z, z^2 and z^3 / 3: demand peaks at a price position
    (buyers have price levels) rather than moving linearly with price."""
    fields = fx.TOKEN_FIELDS + (("category",) if with_category else ())
    onehot, vocab = fx.one_hot(fx.tokens(df, fields), vocab)
    z = scale.z(df)
    return np.column_stack([onehot, z, z ** 2, z ** 3 / 3.0]), vocab


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
        self.scale = _PriceScale(self.ref)
        if len(items) >= 2:
            x, vocab = _design(items, None, self.scale, True)
            self.pooled = (vocab, *ridge_fit(x, items[target].to_numpy(float), self.alpha))
        for cat, part in items.groupby("category"):
            if len(part) >= self.min_items:
                x, vocab = _design(part, None, self.scale, False)
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
                x, _ = _design(part, vocab, self.scale, False)
            else:
                vocab, coef, b = self.pooled
                x, _ = _design(part, vocab, self.scale, True)
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


CONTENT_FIELDS = ("category", "subcategory", "brand", "colour", "material", "style", "price")


def launch_targets(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Past launches whose whole horizon is known, as content rows: the description columns and
    ``log_rate`` = log1p(units over the horizon), the scale of the catalog's rates."""
    w = _weeks(history, horizon)
    if w is None:
        return pd.DataFrame(columns=[*CONTENT_FIELDS, "log_rate"])
    done = np.isfinite(w).all(axis=1)
    out = history.loc[done].reindex(columns=list(CONTENT_FIELDS)).reset_index(drop=True)
    out["log_rate"] = np.log1p(np.maximum(w[done].sum(axis=1), 0.0))
    return out


def _weeks(history: pd.DataFrame, horizon: int) -> Optional[np.ndarray]:
    """The history's week_1..week_<horizon> units as floats (NaN: unknown); None without rows or columns."""
    weeks = [f"week_{k + 1}" for k in range(horizon)]
    if not len(history) or any(w not in history.columns for w in weeks):
        return None
    return history[weeks].apply(pd.to_numeric, errors="coerce").to_numpy(float)


def _with_launches(catalog: pd.DataFrame, launches: pd.DataFrame, alpha: float, min_items: int) -> ContentModel:
    """A content model on the catalog and the launches together, the launches' rates first moved by
    their mean gap to the catalog-only model's predictions (a new item sells on another level than
    an established one; the attributes' effects are the same)."""
    base = ContentModel(alpha, min_items).fit(catalog)
    if not len(launches):
        return base
    pred = base.predict(launches)
    ok = np.isfinite(pred)
    if not ok.any():
        return base
    shift = float(np.mean(launches["log_rate"].to_numpy(float)[ok] - pred[ok]))
    both = pd.concat([catalog.reindex(columns=[*CONTENT_FIELDS, "log_rate"]),
                      launches.assign(log_rate=launches["log_rate"] - shift)], ignore_index=True)
    return ContentModel(alpha, min_items).fit(both)


def content_log(history: pd.DataFrame, cands: pd.DataFrame, catalog: pd.DataFrame, *, alpha: float,
                min_items: int, horizon: int, folds: int = 5, seed: int = 7, min_launches: int = 10):
    """(history's, candidates') content predictions: a ridge of the log sales rate on the description
    fit on the catalog items and the past launches whose horizon is known (``min_launches`` at least,
    else on the catalog alone). A launch's own prediction is out of fold: the models the forecaster
    fits on these columns never see a launch's own units in them."""
    launches = launch_targets(history, horizon)
    if len(launches) < min_launches:
        model = ContentModel(alpha, min_items).fit(catalog)
        return model.predict(history), model.predict(cands)
    full = _with_launches(catalog, launches, alpha, min_items)
    cand_pred = full.predict(cands)
    done_rows = np.flatnonzero(np.isfinite(_weeks(history, horizon)).all(axis=1))   # the rows behind ``launches``
    # a row without its whole horizon is in no model's training: the model on every launch is out of sample
    hist_pred = full.predict(history)
    fold = _fold_ids(len(launches), folds, seed)
    for f in np.unique(fold):
        held = fold == f
        model = _with_launches(catalog, launches[~held].reset_index(drop=True), alpha, min_items)
        rows = done_rows[held]
        hist_pred[rows] = model.predict(history.iloc[rows])
    return hist_pred, cand_pred


def _fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(n) % max(1, min(folds, n)))
