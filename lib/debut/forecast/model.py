"""The forecaster on the driver: past launches + optional signals -> calibrated quantiles.

Everything here is pandas/numpy on per-launch and per-candidate rows, bounded
by the number of past launches, catalog items and candidates (thousands, not
millions); the Spark side (``debut.forecast.inputs``) aggregates customers and
events down to that size first.

Components, each a log1p(units over the horizon) forecast per item:
  knn            similar past launches (``debut.forecast.knn``), always
  category_mean  the category's (shrunk) mean, always: the blend's anchor
  content        ridge of catalog items' sales rate on attributes, when given
  audience       ridge of launches' units on their audience strength, when given
  net            the demand network's median, when given
Out-of-sample predictions of past launches (leave-one-out for knn and the
category mean, k-fold for the audience map; the content model never sees a
past launch) train the blend weights and the calibration (``debut.forecast.blend``).
The demand network's predictions of past launches are in-sample (it was trained
on them), so its weight is optimistic; it is left out of the backtest.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional

import numpy as np
import pandas as pd

from debut.config import ForecastConf
from debut.forecast import blend, content, curves, knn
from debut.forecast import features as fx

EXTRA_COMPONENTS = ("content", "audience", "net")


@dataclass
class Signals:
    """Optional inputs beyond the launch history, all keyed by item_id."""
    embeddings: Mapping[str, np.ndarray] = field(default_factory=dict)
    catalog: Optional[pd.DataFrame] = None       # catalog items: attributes, price, log_rate (not past launches)
    audience: Optional[pd.DataFrame] = None      # item_id + content.AUDIENCE_FEATURES
    net: Optional[pd.DataFrame] = None           # item_id, net_log (log1p units, median)
    # launches before this date trained the demand network: its values for them are in-sample
    net_trained_before: Optional[dt.date] = None
    # per (category, launch_date): the category's recent daily units and active items (forecast.market)
    market: Optional[pd.DataFrame] = None


MIN_NET_LAUNCHES = 5       # out-of-sample launches the demand network needs to enter the blend


def launch_frame(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Long rows (item_id, week, units + attributes) -> one row per launch with ``weeks``:
    a float array of the horizon, NaN where the week is not known."""
    attrs = [c for c in history.columns if c not in ("week", "units")]
    h = history[(history["week"] >= 1) & (history["week"] <= horizon)]
    rows = []
    for item_id, part in h.groupby("item_id", sort=True):
        weeks = np.full(horizon, np.nan)
        weeks[part["week"].to_numpy(int) - 1] = part["units"].to_numpy(float)
        known = ~np.isnan(weeks)
        first_gap = int(np.argmin(known)) if not known.all() else horizon
        weeks[first_gap:] = np.nan                 # only a prefix of weeks counts as known
        row = part.iloc[0][attrs].to_dict()
        row["weeks"] = weeks
        rows.append(row)
    out = pd.DataFrame(rows, columns=attrs + ["weeks"])
    return out


class Forecaster:
    """Fit on past launches (``launch_frame`` rows), then forecast any items."""

    def __init__(self, fc: ForecastConf, signals: Optional[Signals] = None):
        self.fc = fc
        self.signals = signals or Signals()

    # ------------------------------------------------------------------ fit
    def fit(self, launches: pd.DataFrame) -> "Forecaster":
        fc = self.fc
        h = fc.horizon_weeks
        weeks = (np.stack(launches["weeks"].to_list()) if len(launches) else np.zeros((0, h)))
        cats = launches["category"].to_numpy(object)
        self.shapes = curves.category_shapes(cats, weeks, prior=max(1.0, fc.min_launches / 2))
        shape_rows = np.stack([self.shapes[c] for c in cats]) if len(cats) else np.zeros((0, h))
        totals = curves.extrapolated_totals(weeks, shape_rows)
        keep = np.isfinite(totals)
        self.train = launches[keep].reset_index(drop=True).copy()
        self.train["total"] = totals[keep]
        self.train["n_weeks_known"] = (~np.isnan(weeks[keep])).sum(axis=1) if keep.any() else 0
        n = len(self.train)
        if n == 0:
            raise ValueError("no past launch with a known week: nothing to forecast from "
                             "(gold.launch_history / the history file has no complete week 1..N rows)")
        self.y = np.log1p(self.train["total"].to_numpy(float))
        self.cat = self.train["category"].to_numpy(object)
        self.logp = np.log(np.where(self.train["price"].to_numpy(float) > 0, self.train["price"].to_numpy(float),
                                    np.nan))
        self.elasticity = (knn.elasticity(self.y, self.logp, self.cat, limit=fc.max_elasticity)
                           if fc.price_adjust else 0.0)
        self._levels()
        self._components_oos()
        return self

    def _levels(self) -> None:
        prior = 2.0
        self.global_level = float(self.y.mean())
        self.cat_sum = {c: float(self.y[self.cat == c].sum()) for c in set(self.cat)}
        self.cat_n = {c: int((self.cat == c).sum()) for c in set(self.cat)}
        self.level = {c: (self.cat_sum[c] + prior * self.global_level) / (self.cat_n[c] + prior)
                      for c in self.cat_sum}
        # leave-one-out level of each launch's own category
        s = np.array([self.cat_sum[c] for c in self.cat]) - self.y
        k = np.array([self.cat_n[c] for c in self.cat]) - 1
        self.level_loo = (s + prior * self.global_level) / (k + prior)

    def level_of(self, cats: np.ndarray) -> np.ndarray:
        return np.array([self.level.get(c, self.global_level) for c in cats])

    def _describe(self, df: pd.DataFrame, vocab=None):
        attr, vocab = fx.one_hot(fx.tokens(df), vocab)
        text, has = fx.embedding_matrix(df["item_id"].tolist(), self.signals.embeddings, self._emb_dim)
        z = fx.log_price_position(df["price"].to_numpy(float), df["category"].to_numpy(object),
                                  self.train["price"].to_numpy(float), self.cat)
        return attr, text, has, z, vocab

    def _similarity(self, a, b):
        fc = self.fc
        return fx.similarity(a[0], b[0], a[1], a[2], b[1], b[2], a[3], b[3], w_text=fc.knn_text_weight,
                             w_attr=fc.knn_attr_weight, w_price=fc.knn_price_weight,
                             price_scale=fc.knn_price_scale)

    def _knn(self, sim, target_cat, target_logp, target_level, exclude=None) -> knn.KnnResult:
        fc = self.fc
        return knn.knn_predict(sim, self.cat, self.y, self.logp, self.level_of(self.cat), target_cat,
                               target_logp, target_level, k=fc.knn_k,
                               temperature=fc.knn_temperature, elasticity=self.elasticity,
                               min_launches=fc.min_launches, exclude=exclude)

    def _components_oos(self) -> None:
        fc, n = self.fc, len(self.train)
        emb = self.signals.embeddings or {}
        self._emb_dim = next((len(v) for v in emb.values() if v is not None), 0)
        self._train_desc = self._describe(self.train)
        sim = self._similarity(self._train_desc, self._train_desc)
        res = self._knn(sim, self.cat, self.logp, self.level_loo, exclude=np.arange(n))
        self.knn_loo = res
        comps: Dict[str, np.ndarray] = {"knn": np.where(np.isfinite(res.pred), res.pred, self.level_loo),
                                        "category_mean": self.level_loo}
        folds = blend.fold_ids(n, fc.cv_folds, fc.seed)
        sig = self.signals
        self.content_model = None
        if fc.use_content and sig.catalog is not None and len(sig.catalog) >= 2:
            self.content_model = content.ContentModel(fc.content_ridge_alpha, fc.content_min_items).fit(sig.catalog)
            comps["content"] = self.content_model.predict(self.train)
        self.audience_map = None
        if fc.use_audience and sig.audience is not None and len(sig.audience):
            x = self._audience_x(self.train)
            ok = np.isfinite(x).all(axis=1)
            if ok.sum() >= max(5, x.shape[1] + 2):
                self.audience_mu, self.audience_sd = x[ok].mean(0), x[ok].std(0) + 1e-9
                xs = (x - self.audience_mu) / self.audience_sd
                pred = np.full(n, np.nan)
                pred[ok] = content.ridge_cv_predict(xs[ok], self.y[ok], folds[ok], 1.0)
                self.audience_map = content.ridge_fit(xs[ok], self.y[ok], 1.0)
                comps["audience"] = pred
        if fc.use_demand_net and sig.net is not None and len(sig.net):
            net = self._net(self.train)
            if sig.net_trained_before is not None and "launch_date" in self.train.columns:
                # the network has seen these launches: its fit to them would buy it a weight it
                # does not earn on new candidates, so the blend only learns from the others
                seen = pd.to_datetime(self.train["launch_date"]).dt.date.to_numpy() < sig.net_trained_before
                net = np.where(seen, np.nan, net)
            if np.isfinite(net).sum() >= MIN_NET_LAUNCHES:
                comps["net"] = net
        # a component without a value for a launch stands in with the category mean
        comps = {k: np.where(np.isfinite(v), v, self.level_loo) for k, v in comps.items()
                 if np.isfinite(v).any()}
        self.names = list(comps)
        x = np.column_stack([comps[k] for k in self.names])
        self.components_train = x
        self.weights, self.intercept = blend.fit_weights(x, self.y, fc.blend_prior_launches)
        cv = blend.cv_predict(x, self.y, folds=fc.cv_folds, seed=fc.seed, prior=fc.blend_prior_launches)
        self.blend_oos = cv
        self.spread_ref = float(np.nanmedian(res.spread)) if np.isfinite(res.spread).any() else np.nan
        factor = blend.spread_factors(res.spread, self.spread_ref, fc.min_scale)
        self.calibration = blend.Calibration.fit((self.y - cv) / factor, fc.quantiles, fc.target_coverage)
        knn_pred = comps["knn"]
        self.knn_calibration = blend.Calibration.fit((self.y - knn_pred) / factor, fc.quantiles,
                                                     fc.target_coverage)

    def _audience_x(self, df: pd.DataFrame) -> np.ndarray:
        aud = self.signals.audience
        merged = df[["item_id"]].merge(aud, on="item_id", how="left")
        return content.audience_design(merged)

    def _net(self, df: pd.DataFrame) -> np.ndarray:
        merged = df[["item_id"]].merge(self.signals.net[["item_id", "net_log"]], on="item_id", how="left")
        return merged["net_log"].to_numpy(float)

    # ------------------------------------------------------------------ predict
    def predict(self, targets: pd.DataFrame) -> pd.DataFrame:
        """One row per target: component and blend log forecasts, calibrated quantiles, curves."""
        fc = self.fc
        targets = targets.reset_index(drop=True)
        m = len(targets)
        tcat = targets["category"].to_numpy(object)
        tprice = targets["price"].to_numpy(float)
        tlogp = np.log(np.where(tprice > 0, tprice, np.nan))
        tlevel = self.level_of(tcat)
        # one vocabulary for both sides, so a target's unseen tokens lower its cosine
        vocab = {t: i for i, t in enumerate(sorted({t for r in fx.tokens(self.train) + fx.tokens(targets)
                                                     for t in r}))}
        train_desc = self._describe(self.train, vocab)
        target_desc = self._describe(targets, vocab)
        sim = self._similarity(target_desc, train_desc)
        res = self._knn(sim, tcat, tlogp, tlevel)
        comps = {"knn": np.where(np.isfinite(res.pred), res.pred, tlevel), "category_mean": tlevel}
        raw = {"knn": res.pred}
        if "content" in self.names:
            raw["content"] = comps["content"] = self.content_model.predict(targets)
        if "audience" in self.names:
            coef, b = self.audience_map
            x = (self._audience_x(targets) - self.audience_mu) / self.audience_sd
            raw["audience"] = comps["audience"] = b + x @ coef
        if "net" in self.names:
            raw["net"] = comps["net"] = self._net(targets)
        x = np.column_stack([np.where(np.isfinite(comps[k]), comps[k], tlevel) for k in self.names])
        center = self.intercept + x @ self.weights
        factor = blend.spread_factors(res.spread, self.spread_ref, fc.min_scale)
        levels = scenario_levels(fc.scenario_levels)
        q_units = self.calibration.units(center, factor, fc.quantiles)
        scen = self.calibration.units(center, factor, levels)
        knn_center = comps["knn"]
        extra = [k for k in self.names if k in EXTRA_COMPONENTS]
        shape = np.stack([self.shapes.get(c, self.shapes[None]) for c in tcat]) if m else np.zeros((0, 0))
        out = pd.DataFrame({"item_id": targets["item_id"].to_numpy(object), "category": tcat})
        out["center_log"] = center
        out["mean_units"] = scen.mean(axis=1)          # the mean of the scenarios the optimizer samples
        for j, q in enumerate(fc.quantiles):
            out[f"q{j}"] = q_units[:, j]
        out["quantile_units"] = list(scen)
        out["shape"] = list(shape)
        for k in ("knn", "content", "audience", "net"):
            v = raw.get(k)
            out[f"{k}_units"] = np.expm1(v) if v is not None else np.nan
        knn_q = self.knn_calibration.units(knn_center, factor, fc.quantiles)
        for j in range(len(fc.quantiles)):
            out[f"knn_q{j}"] = knn_q[:, j]
        out["knn_mean"] = self.knn_calibration.units(knn_center, factor, levels).mean(axis=1)
        out["method"] = np.where(res.fallback, "category_fallback", "blend" if extra else "knn_only")
        out["n_history"] = len(self.train)
        titles = self.train["title"].tolist() if "title" in self.train.columns else [None] * len(self.train)
        ids = self.train["item_id"].tolist()
        out["neighbours"] = [[{"item_id": ids[j], "title": titles[j], "similarity": s,
                               "units": float(np.expm1(a))} for j, s, a in nb[:3]] for nb in res.neighbours]
        weights = {k: float(w) for k, w in zip(self.names, self.weights)}
        weights["intercept"] = float(self.intercept)
        out["weights"] = [dict(weights) for _ in range(m)]
        return out


def scenario_levels(n: int) -> np.ndarray:
    """n evenly spaced levels 1/(n+1) .. n/(n+1)."""
    return np.arange(1, n + 1) / (n + 1.0)
