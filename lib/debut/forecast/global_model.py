"""The global demand model: one gradient-boosting model over every past launch.

Level: scikit-learn's HistGradientBoostingRegressor with Poisson loss on the
launch's units over the horizon, from what a launch table has (all optional
but the weeks): category-path encodings shrunk level by level
(``debut.forecast.encode``), seller/brand encodings and launch counts, other
attributes (native categoricals when few, encoded otherwise), numeric
attributes, log price and its position in the category, launch month and its
interaction with the top category, title components (TF-IDF + SVD, sklearn),
embedding components when an ``embedding`` column is given, and the analogs'
units (``debut.forecast.analogs``). Every encoding of a training row is out of
fold. Beside it, a ridge-penalised Poisson GLM (scikit-learn's PoissonRegressor)
over the compact columns (numeric attributes and signals, log price and its
position, the encodings' means and counts, the analogs' mean): on a few
hundred launches the boosting overfits and its out-of-time forecasts are too
extreme, where the GLM is steady. The level is the geometric blend of the two,
the weight and the GLM's penalty chosen by Poisson deviance on the out-of-time
calibration pool (weight 1, the boosting alone, when that pool is too small).
Distribution: ``debut.forecast.distribution`` on out-of-time forecasts
of the later past launches. Weekly curve: ``curves.hierarchy_shapes``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import mean_poisson_deviance
from threadpoolctl import threadpool_limits

from debut.forecast import analogs, curves, encode, market
from debut.forecast.distribution import LocalDistribution
from debut.forecast.launches import CATEGORY, DATE, ID, PRICE, WEEK, horizon_of, week_cols

GROUP_COLS = ("seller", "seller_id", "brand", "vendor", "supplier")
TEXT_COL, EMB_COL = "title", "embedding"
SKIP = {ID, DATE, CATEGORY, PRICE, TEXT_COL, EMB_COL, "unit_cost", "price_band", "is_done", "total",
        "candidate_id", "plan_date", "source_file", "ingest_date", *market.COLUMNS}
MAX_NATIVE_LEVELS = 60
FIRST_WEEK_DAYS = "first_week_days"       # optional: days on sale in week 1 (1-7), a partial first week
METHOD = "global_model"
CONTENT_COL = "content_log"               # the catalog ridge's signal (debut.forecast.signals)
LOG_SUFFIX = "_log"                        # a numeric column on a log scale already
SIGNAL = "signal"                         # the key of the signal GLM among the level model's parts


@dataclass
class ModelParams:
    quantiles: Sequence[float] = (0.1, 0.5, 0.9)
    grid_levels: int = 19                  # the scenario grid 1/(L+1) .. L/(L+1)
    target_coverage: float = 0.8
    shrink: float = 10.0                   # launches' weight of the parent in every encoding
    shape_prior: float = 10.0              # launches' weight of the parent curve
    k_analogs: int = 10
    max_iter: int = 300
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    l2: float = 1.0
    calibration_blocks: int = 3            # out-of-time blocks of later past launches
    min_fit: int = 30                      # launches a calibration model needs
    seed: int = 7
    threads: int = 1                       # OpenMP threads of the boosting: on a busy driver one is much faster
    glm_alphas: Sequence[float] = (0.01, 0.1, 1.0)   # the GLM's L2 penalties (standardised columns) tried
    blend_weights: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0)   # boosting's share of the log level tried
    recalibrate: bool = True               # the pool's log-linear fit of units on the level (LevelCalibration)
    market: str = "auto"                   # the market exposure (debut.forecast.market): auto | always | never
    pool_level: str = "auto"               # the pool's overall actual/forecast ratio: keep | neutral | auto (see _fit)
    signal_glm: bool = True                # a small GLM on the numeric signals and the category beside the others
    signal_alpha: float = 0.1
    # the signal GLM reads the category's launch encoding: auto = only without a content signal (the
    # catalog's ridge carries the category's level from many more items than its dozen launches) | true | false
    signal_category: str = "auto"
    keep_log_signals: bool = True          # numeric columns named *_log are log-scale: never log1p'd again


def params_of(fc) -> ModelParams:
    """The global model's parameters from conf.forecast (a ForecastConf)."""
    return ModelParams(quantiles=tuple(fc.quantiles), grid_levels=fc.scenario_levels,
                       target_coverage=fc.target_coverage, k_analogs=fc.knn_k, seed=fc.seed, market=fc.market)


def totals_and_weights(table: pd.DataFrame, shapes: np.ndarray) -> tuple:
    """Units over the horizon (extrapolated through each row's curve where weeks are unknown) and
    the share of the curve that was seen (the row's weight)."""
    h = shapes.shape[1]
    w = table[week_cols(h)].to_numpy(float)
    known = ~np.isnan(w)
    share = np.where(known, shapes, 0.0).sum(axis=1)
    seen = np.where(known, w, 0.0).sum(axis=1)
    total = np.where(share > 0, seen / np.maximum(share, 1e-12), np.nan)
    return total, np.clip(share, 0.0, 1.0)


class Featurizer:
    """Launch table -> the model's design matrix; encodings learnt on the training rows."""

    def __init__(self, p: ModelParams):
        self.p = p

    # ------------------------------------------------------------ column roles
    def _roles(self, df: pd.DataFrame) -> None:
        cols = [c for c in df.columns if c not in SKIP and not WEEK.match(c)]
        self.group_cols = [c for c in cols if c in GROUP_COLS]
        rest = [c for c in cols if c not in self.group_cols]
        self.num_cols = [c for c in rest if pd.api.types.is_numeric_dtype(df[c]) and not
                         pd.api.types.is_bool_dtype(df[c])]
        self.cat_cols = []
        for c in rest:
            if c in self.num_cols:
                continue
            if df[c].map(lambda v: isinstance(v, (list, tuple, np.ndarray, dict))).any():
                continue
            nun = df[c].nunique(dropna=True)
            if nun < 2:
                continue
            (self.group_cols if nun > 0.3 * len(df) and nun > MAX_NATIVE_LEVELS else self.cat_cols).append(c)
        self.has_cat = CATEGORY in df.columns and df[CATEGORY].notna().any()
        self.has_price = PRICE in df.columns and pd.to_numeric(df[PRICE], errors="coerce").notna().any()
        self.has_date = DATE in df.columns and df[DATE].notna().any()
        self.has_title = TEXT_COL in df.columns and df[TEXT_COL].notna().sum() >= 10
        self.has_emb = EMB_COL in df.columns and df[EMB_COL].map(
            lambda v: isinstance(v, (list, tuple, np.ndarray)) and len(v) > 0).sum() >= 10

    @staticmethod
    def _dates(df: pd.DataFrame) -> pd.Series:
        if DATE not in df.columns:
            return pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
        return pd.to_datetime(df[DATE], errors="coerce")

    @staticmethod
    def _col(df: pd.DataFrame, c: str, numeric: bool = False):
        if c not in df.columns:
            return np.full(len(df), np.nan) if numeric else np.full(len(df), None, dtype=object)
        v = df[c]
        if numeric:
            return pd.to_numeric(v, errors="coerce").to_numpy(float)
        return np.array([None if x is None or (isinstance(x, float) and np.isnan(x)) else str(x).strip().lower()
                         for x in v.tolist()], dtype=object)

    def _keys(self, df: pd.DataFrame) -> Dict[str, List[np.ndarray]]:
        """The key chains of every encoding."""
        chains: Dict[str, List[np.ndarray]] = {}
        if self.has_cat:
            chains["cat"] = encode.path_levels(self._col(df, CATEGORY), self.depth)
        top = chains["cat"][0] if self.has_cat else np.full(len(df), "all", dtype=object)
        if self.has_date:
            month = self._dates(df).dt.month.fillna(0).astype(int).astype(str).to_numpy(object)
            chains["month"] = [top, top + "|m" + month]
        for c in self.group_cols:
            chains[f"g:{c}"] = [np.where(pd.isna(k), encode.MISSING, k).astype(object)
                                for k in [self._col(df, c)]]
        for c in self.cat_cols:
            chains[f"a:{c}"] = [np.where(pd.isna(k), encode.MISSING, k).astype(object)
                                for k in [self._col(df, c)]]
        return chains

    def _text(self, df: pd.DataFrame, fit: bool) -> np.ndarray:
        blocks = []
        if self.has_title:
            from sklearn.decomposition import TruncatedSVD
            from sklearn.feature_extraction.text import TfidfVectorizer
            text = df[TEXT_COL].fillna("").astype(str).tolist() if TEXT_COL in df.columns else [""] * len(df)
            if fit:
                self.tfidf = TfidfVectorizer(min_df=2, ngram_range=(1, 2), max_features=20000, sublinear_tf=True)
                x = self.tfidf.fit_transform(text)
                k = int(min(8, max(1, x.shape[1] - 1)))
                self.svd = TruncatedSVD(k, random_state=self.p.seed).fit(x) if x.shape[1] > 1 else None
            x = self.tfidf.transform(text)
            blocks.append(self.svd.transform(x) if self.svd is not None else np.zeros((len(df), 1)))
        if self.has_emb:
            from sklearn.decomposition import PCA
            dim = self.emb_dim if not fit else max(len(v) for v in df[EMB_COL] if isinstance(
                v, (list, tuple, np.ndarray)))
            vals = df[EMB_COL] if EMB_COL in df.columns else pd.Series([None] * len(df))
            e = np.array([np.asarray(v, float) if isinstance(v, (list, tuple, np.ndarray)) and len(v) == dim
                          else np.full(dim, np.nan) for v in vals])
            if fit:
                self.emb_dim = dim
                ok = np.isfinite(e).all(axis=1)
                self.pca = PCA(min(8, dim, int(ok.sum()) - 1), random_state=self.p.seed).fit(e[ok])
            out = np.full((len(df), self.pca.n_components_), np.nan)
            ok = np.isfinite(e).all(axis=1)
            if ok.any():
                out[ok] = self.pca.transform(e[ok])
            blocks.append(out)
        return np.column_stack(blocks) if blocks else np.zeros((len(df), 0))

    def _numeric(self, df: pd.DataFrame) -> np.ndarray:
        cols = [self._col(df, c, numeric=True) for c in self.num_cols]
        return np.column_stack(cols) if cols else np.zeros((len(df), 0))

    def _log_price(self, df: pd.DataFrame) -> np.ndarray:
        p = self._col(df, PRICE, numeric=True)
        return np.log(np.where(p > 0, p, np.nan))

    def _price_position(self, df: pd.DataFrame, lp: np.ndarray) -> np.ndarray:
        """log price - the median log price of the deepest category level with 3+ priced launches."""
        if not self.has_cat:
            return lp - self.lp_median.get(None, np.nan)
        lv = encode.path_levels(self._col(df, CATEGORY), self.depth)
        ref = np.full(len(df), self.lp_median.get(None, np.nan))
        for keys in lv:
            m = pd.Series(keys).map(self.lp_median).to_numpy(float)
            ref = np.where(np.isfinite(m), m, ref)
        return lp - ref

    def _log_nonneg(self, num: np.ndarray) -> np.ndarray:
        """Numeric attributes with log1p on the columns that were never negative in training. The
        choice is the training rows', so a candidate's values are transformed as the launches' were
        (decided on the candidates themselves, one negative value among them would leave the whole
        column untransformed and off the scale the models learnt)."""
        numx = num.copy()
        if num.shape[1]:
            nonneg = self.nonneg
            numx[:, nonneg] = np.log1p(np.maximum(num[:, nonneg], 0.0))
        return numx

    def _analog_blocks(self, df: pd.DataFrame, num: np.ndarray, lp: np.ndarray, text: np.ndarray,
                       cat_enc: np.ndarray):
        """Numeric attributes (log1p when non-negative), log price, text, and the category's encodings
        (few dimensions, so the neighbour search stays a tree search)."""
        return [self._log_nonneg(num), lp[:, None] if self.has_price else np.zeros((len(df), 0)), text, cat_enc]

    # ------------------------------------------------------------ fit / transform
    def fit_transform(self, df: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        p = self.p
        self._roles(df)
        self.depth = max(len(k) for k in [encode.path_levels(self._col(df, CATEGORY))]) if self.has_cat else 0
        ly = np.log1p(y)
        hi = (y > np.median(y)).astype(float)
        self.encoders: Dict[str, tuple] = {}
        chains = self._keys(df)
        enc_cols, names = [], []
        for name, chain in chains.items():
            e1 = encode.Encoder(p.shrink, seed=p.seed)
            e2 = encode.Encoder(p.shrink, seed=p.seed + 1)
            a, _ = e1.fit_transform(chain, ly)
            b, _ = e2.fit_transform(chain, hi)
            counts = [pd.Series(k).map(pd.Series(k).value_counts()).to_numpy(float) - 1 for k in chain]
            self.encoders[name] = (e1, e2, [pd.Series(k).value_counts() for k in chain])
            enc_cols += [a, b, np.log1p(np.column_stack(counts))]
        self.lp_median: Dict = {}
        lp = self._log_price(df)
        if self.has_price:
            self.lp_median[None] = float(np.nanmedian(lp))
            if self.has_cat:
                for keys in encode.path_levels(self._col(df, CATEGORY), self.depth):
                    s = pd.DataFrame({"k": keys, "lp": lp}).dropna().groupby("k")["lp"].agg(["median", "count"])
                    self.lp_median.update(s.loc[s["count"] >= 3, "median"].to_dict())
        self.native: List[Dict[str, int]] = []
        for c in self.cat_cols:
            vals = pd.Series(self._col(df, c)).value_counts()
            self.native.append({v: i for i, v in enumerate(vals.index[:MAX_NATIVE_LEVELS])})
        num, text = self._numeric(df), self._text(df, fit=True)
        self.nonneg = (np.nanmin(np.where(np.isfinite(num), num, 0.0), axis=0) >= 0 if num.shape[1]
                       else np.zeros(0, dtype=bool))
        if self.p.keep_log_signals:
            # signals already on a log scale (content_log, net_log) stay as they are
            self.nonneg &= np.array([not c.endswith(LOG_SUFFIX) for c in self.num_cols], dtype=bool)
        blocks = self._analog_blocks(df, num, lp, text, self._cat_block(enc_cols, len(df)))
        self.space = analogs.Space([1.0, 1.0, 1.0, 2.0]).fit(blocks)
        self.train_space = self.space.transform(blocks)
        self.train_y = np.asarray(y, float)
        a = analogs.nearest(self.train_space, self.train_space, p.k_analogs, exclude_self=True)
        self.train_analogs = a
        return self._assemble(df, enc_cols, num, lp, text, analogs.features(a, self.train_y))

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        chains = self._keys(df)
        enc_cols = []
        for name, chain in chains.items():
            e1, e2, vcs = self.encoders[name]
            a, _ = e1.transform(chain)
            b, _ = e2.transform(chain)
            counts = [pd.Series(k).map(vc).fillna(0.0).to_numpy(float) for k, vc in zip(chain, vcs)]
            enc_cols += [a, b, np.log1p(np.column_stack(counts))]
        lp = self._log_price(df)
        num, text = self._numeric(df), self._text(df, fit=False)
        x = self.space.transform(self._analog_blocks(df, num, lp, text, self._cat_block(enc_cols, len(df))))
        a = analogs.nearest(self.train_space, x, self.p.k_analogs, exclude_self=False)
        self.last_analogs = a
        return self._assemble(df, enc_cols, num, lp, text, analogs.features(a, self.train_y))

    def _cat_block(self, enc_cols: List[np.ndarray], n: int) -> np.ndarray:
        """The deepest level's two category encodings (mean log units, share above the median)."""
        if not self.has_cat:
            return np.zeros((n, 0))
        return np.column_stack([enc_cols[0][:, -1], enc_cols[1][:, -1]])

    def _assemble(self, df, enc_cols, num, lp, text, knn) -> np.ndarray:
        self.last_compact = self._compact(df, enc_cols, num, lp, knn)
        self.last_signal = self._signal(enc_cols, num)
        cols = enc_cols + [num, text, knn]
        if self.has_price:
            cols += [lp[:, None], self._price_position(df, lp)[:, None]]
        if self.has_date:
            cols.append(self._dates(df).dt.month.to_numpy(float)[:, None])
        native = []
        for c, vocab in zip(self.cat_cols, self.native):
            native.append(pd.Series(self._col(df, c)).map(vocab).to_numpy(float))
        self.n_native = len(native)
        x = np.column_stack([c for c in cols if c.shape[1]] + ([np.column_stack(native)] if native else []))
        return x

    def _compact(self, df, enc_cols, num, lp, knn) -> np.ndarray:
        """The GLM's columns: numeric attributes and signals (log1p when non-negative), log price and its
        position, every encoding's mean log units and launch counts, the analogs' mean log units."""
        cols = [self._log_nonneg(num), knn[:, :1]] + [enc_cols[i] for i in range(len(enc_cols)) if i % 3 != 1]
        if self.has_price:
            cols += [lp[:, None], self._price_position(df, lp)[:, None]]
        return np.column_stack([c for c in cols if c.shape[1]])

    def _signal(self, enc_cols, num) -> np.ndarray:
        """The signal GLM's columns: the numeric attributes and signals (log1p when non-negative) and the
        deepest category level's mean log units; empty without a numeric column."""
        if not num.shape[1]:
            return np.zeros((num.shape[0], 0))
        cols = [self._log_nonneg(num)] + ([enc_cols[0][:, -1:]] if self.has_cat and self._signal_category() else [])
        return np.column_stack(cols)

    def _signal_category(self) -> bool:
        mode = str(self.p.signal_category).lower()
        if mode == "auto":
            return CONTENT_COL not in self.num_cols
        return mode in ("1", "true", "yes", "on")

    def native_mask(self, width: int) -> Optional[np.ndarray]:
        if not self.n_native:
            return None
        m = np.zeros(width, dtype=bool)
        m[width - self.n_native:] = True
        return m


def _gbm(p: ModelParams, n: int, categorical) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        loss="poisson", learning_rate=p.learning_rate, max_iter=p.max_iter, max_leaf_nodes=p.max_leaf_nodes,
        min_samples_leaf=int(np.clip(n // 50, 5, 40)), l2_regularization=p.l2,
        early_stopping=n >= 2000, validation_fraction=0.1, n_iter_no_change=20,
        categorical_features=categorical, random_state=p.seed)


class _Standardise:
    """Median imputation, clipping to the training range and unit variance, learnt on the training
    rows (the GLM's columns). The clip keeps a log-linear model from extrapolating: a candidate whose
    signal lies past every past launch's gets the forecast of the most extreme past launch's value,
    not an exponential beyond it."""

    def __init__(self, x: np.ndarray):
        with np.errstate(all="ignore"):
            fin = np.where(np.isfinite(x), x, np.nan)
            med = np.nanmedian(fin, axis=0) if len(x) else np.zeros(x.shape[1])
        self.fill = np.where(np.isfinite(med), med, 0.0)
        filled = np.where(np.isfinite(x), x, self.fill)
        self.lo = filled.min(axis=0) if len(x) else np.full(x.shape[1], -np.inf)
        self.hi = filled.max(axis=0) if len(x) else np.full(x.shape[1], np.inf)
        self.centre = filled.mean(axis=0) if len(x) else np.zeros(x.shape[1])
        sd = filled.std(axis=0) if len(x) else np.ones(x.shape[1])
        self.scale = np.where(sd > 1e-12, sd, 1.0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (np.clip(np.where(np.isfinite(x), x, self.fill), self.lo, self.hi) - self.centre) / self.scale


class LevelModel:
    """Featurizer + Poisson gradient boosting and Poisson GLMs: the mean units of a launch.

    ``predict`` gives the blend ``exp(blend x log gbm + (1 - blend) x log glm[alpha])``; the
    GlobalForecaster sets ``blend`` and ``alpha`` from its calibration pool (``parts`` gives each
    model's forecast separately)."""

    def __init__(self, p: ModelParams):
        self.p = p
        self.blend, self.alpha = 1.0, None

    def fit(self, df: pd.DataFrame, y: np.ndarray, weight: Optional[np.ndarray] = None) -> "LevelModel":
        self.feat = Featurizer(self.p)
        x = self.feat.fit_transform(df, y)
        self.constant = float(np.average(y, weights=weight)) if len(y) else 0.0
        self.gbm, self.glms = None, {}
        if len(y) >= 10 and np.ptp(y) > 0:
            self.gbm = _gbm(self.p, len(y), self.feat.native_mask(x.shape[1])).fit(x, y, sample_weight=weight)
            c = self.feat.last_compact
            self.std = _Standardise(c)
            for a in self.p.glm_alphas:
                self.glms[a] = PoissonRegressor(alpha=a, max_iter=300).fit(self.std(c), y, sample_weight=weight)
            sig = self.feat.last_signal
            if self.p.signal_glm and sig.shape[1]:
                self.sig_std = _Standardise(sig)
                self.glms[SIGNAL] = PoissonRegressor(alpha=self.p.signal_alpha, max_iter=300).fit(
                    self.sig_std(sig), y, sample_weight=weight)
        return self

    def parts(self, df: pd.DataFrame) -> Dict:
        """{"gbm": forecast, alpha: the GLM's forecast, ...} (only "gbm", the constant, when too few rows)."""
        x = self.feat.transform(df)
        if self.gbm is None:
            return {"gbm": np.full(len(df), max(self.constant, 1e-6))}
        out = {"gbm": np.maximum(self.gbm.predict(x), 1e-6)}
        if self.glms:
            c = self.std(self.feat.last_compact)
            with np.errstate(over="ignore"):
                for a, m in self.glms.items():
                    design = self.sig_std(self.feat.last_signal) if a == SIGNAL else c
                    out[a] = np.clip(m.predict(design), 1e-6, 1e12)
        return out

    @staticmethod
    def blend_of(parts: Dict, weight: float, alpha) -> np.ndarray:
        if alpha is None or alpha not in parts or weight >= 1.0:
            return parts["gbm"]
        return np.exp(weight * np.log(parts["gbm"]) + (1.0 - weight) * np.log(parts[alpha]))

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        return self.blend_of(self.parts(df), self.blend, self.alpha)


def choose_blend(parts: List[Dict], y: np.ndarray, p: ModelParams) -> tuple:
    """(boosting weight, GLM alpha, blended forecasts) with the least mean Poisson deviance on the
    pool; ties keep the larger boosting weight."""
    keys = set.intersection(*[set(d) for d in parts]) - {"gbm"} if parts else set()
    gbm = np.concatenate([d["gbm"] for d in parts])
    best = (mean_poisson_deviance(y, gbm), 1.0, None)
    for a in sorted(keys, key=str):
        glm = np.concatenate([d[a] for d in parts])
        for w in sorted(p.blend_weights, reverse=True):
            if w >= 1.0:
                continue
            dev = mean_poisson_deviance(y, np.exp(w * np.log(gbm) + (1.0 - w) * np.log(glm)))
            if dev < best[0] - 1e-12:
                best = (dev, w, a)
    _, w, a = best
    merged = {k: np.concatenate([d[k] for d in parts]) for k in (["gbm"] + ([a] if a is not None else []))}
    return w, a, LevelModel.blend_of(merged, w, a)


@dataclass
class LevelCalibration:
    """``exp(a) x mu^b``: units on the level model's forecast, a Poisson regression of the pool's actuals
    on the log of its out-of-time forecasts.

    A level model fit on a few dozen launches is too extreme: its highest forecasts are too high and
    its lowest too low (slope b < 1), and the optimizer, which launches the highest, stocks against
    the error. The windowed correction of LocalDistribution sees only the pool's own range in wide
    windows; this line carries the pool's shrinkage to every forecast. The slope is kept in
    [MIN_SLOPE, 1], so the level's ranking is never reversed or flattened away, and never sharpened."""
    intercept: float = 0.0
    slope: float = 1.0
    MIN_SLOPE = 0.2

    @classmethod
    def fit(cls, mu: np.ndarray, y: np.ndarray) -> "LevelCalibration":
        mu, y = np.asarray(mu, float), np.asarray(y, float)
        ok = np.isfinite(mu) & np.isfinite(y) & (mu > 0) & (y >= 0)
        x, y = np.log(mu[ok]), y[ok]
        if len(y) < 10 or np.ptp(x) <= 1e-9 or y.sum() <= 0:
            return cls()
        b = float(PoissonRegressor(alpha=0.0, max_iter=300).fit(x[:, None], y).coef_[0])
        b = float(np.clip(b, cls.MIN_SLOPE, 1.0))
        # the intercept refit with the slope held: the pool's total is kept exactly
        a = float(np.log(y.sum() / np.exp(b * x).sum()))
        return cls(a, b)

    def __call__(self, mu: np.ndarray) -> np.ndarray:
        mu = np.maximum(np.asarray(mu, float), 1e-9)
        if self.slope == 1.0 and self.intercept == 0.0:
            return mu
        return np.exp(self.intercept + self.slope * np.log(mu))


class GlobalForecaster:
    """Fit on a launch table (week_1..week_H); predict means, calibrated quantiles, grids, curves."""

    def __init__(self, p: Optional[ModelParams] = None, horizon: Optional[int] = None):
        self.p = p or ModelParams()
        self.horizon = horizon

    def fit(self, table: pd.DataFrame) -> "GlobalForecaster":
        with threadpool_limits(limits=self.p.threads):
            return self._fit(table)

    def _fit(self, table: pd.DataFrame) -> "GlobalForecaster":
        p = self.p
        h = self.horizon or horizon_of(table)
        self.horizon = h
        table = table.reset_index(drop=True)
        cats = table[CATEGORY].tolist() if CATEGORY in table.columns else [None] * len(table)
        weeks = table[week_cols(h)].to_numpy(float)
        days = self._first_week_days(table)
        full = days >= 7
        # curves from launches with a whole first week; a partial one is applied per item
        self.shapes = (curves.hierarchy_shapes([c for c, f in zip(cats, full) if f], weeks[full],
                                               prior=p.shape_prior) if full.any()
                       else curves.hierarchy_shapes(cats, weeks, prior=p.shape_prior))
        total, weight = totals_and_weights(table, curves.shape_rows(self.shapes, cats, h))
        keep = np.isfinite(total) & (weight > 0)
        if not keep.any():
            raise ValueError("no past launch with a known week: nothing to forecast from")
        self.train = table[keep].reset_index(drop=True)
        self.y, self.w = total[keep], weight[keep]
        self.market = (market.MarketExposure.fit(self.train) if p.market != "never" and market.has_market(self.train)
                       else None)
        self.train_exposure = self.market(self.train, training=True) if self.market is not None else None
        pool_mu, self.pool_y, choice = self._calibration_pool()
        self.use_exposure, blend, alpha = choice
        e = self.train_exposure if self.use_exposure else np.ones(len(self.y))
        self.level = LevelModel(p).fit(self.train, self.y / e, self.w * e)
        self.level.blend, self.level.alpha = blend, alpha
        # The pool's overall ratio of actuals to forecasts is a level correction only when the pool is out of
        # time (later launches forecast from earlier ones: the drift a candidate meets too). A k-fold pool
        # (no launch dates, or no launch finished before the later ones began) has no time in it: its
        # overall ratio is the folds' own artefact, and carried to the full model's forecasts it moved
        # every candidate's level by it. There the pool lends only the shape of its errors (the slope,
        # the windows' relative calibration, the intervals), its actuals scaled to its forecasts' total.
        self.pool_scale = 1.0
        if p.pool_level == "neutral" or (p.pool_level == "auto" and self.pool_kind != "time"):
            tot_y, tot_mu = float(np.sum(self.pool_y)), float(np.sum(pool_mu))
            self.pool_scale = tot_mu / tot_y if tot_y > 0 and tot_mu > 0 else 1.0
        pool_y = self.pool_y * self.pool_scale
        self.recal = LevelCalibration.fit(pool_mu, pool_y) if p.recalibrate else LevelCalibration()
        self.pool_mu = self.recal(pool_mu)
        self.dist = LocalDistribution.fit(self.pool_mu, pool_y, p.quantiles, p.target_coverage)
        return self

    @staticmethod
    def _first_week_days(df: pd.DataFrame) -> np.ndarray:
        """Days on sale in week 1 per row (7 when not given)."""
        if FIRST_WEEK_DAYS not in df.columns:
            return np.full(len(df), 7.0)
        d = pd.to_numeric(df[FIRST_WEEK_DAYS], errors="coerce").to_numpy(float)
        return np.clip(np.where(np.isfinite(d), d, 7.0), 1.0, 7.0)

    @staticmethod
    def _partial_first_week(shape: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Week 1's share scaled by its days on sale / 7, the curve renormalised to sum to 1."""
        out = shape.copy()
        if out.size:
            out[:, 0] = out[:, 0] * days / 7.0
            out = out / out.sum(axis=1, keepdims=True)
        return out

    def _calibration_pool(self):
        """Out-of-time forecasts of the later past launches: each block forecast by models fit on the
        launches whose horizon had ended when the block began (k-fold without launch dates). The
        variant (with or without the market exposure) and the boosting/GLM blend with the least
        deviance on them are the level model's: returns (pool forecasts, pool actuals,
        (use_exposure, boosting weight, GLM alpha))."""
        p, df, y = self.p, self.train, self.y
        done = self.w >= 1.0 - 1e-9
        variants = ([True] if p.market == "always" else [False, True]) if self.train_exposure is not None else [False]
        parts: Dict[bool, list] = {v: [] for v in variants}
        ys = []
        self.pool_kind = "time"

        def block(fit_rows: np.ndarray, rows: np.ndarray) -> None:
            for v in variants:
                e = self.train_exposure if v else np.ones(len(y))
                m = LevelModel(p).fit(df.iloc[fit_rows].reset_index(drop=True), y[fit_rows] / e[fit_rows],
                                      self.w[fit_rows] * e[fit_rows])
                out = m.parts(df.iloc[rows].reset_index(drop=True))
                parts[v].append({k: mu * e[rows] for k, mu in out.items()})
            ys.append(y[rows])

        if DATE in df.columns and df[DATE].notna().all():
            d = pd.to_datetime(df[DATE]).to_numpy()
            order = np.argsort(d, kind="stable")
            later = order[len(order) // 3:]
            for rows in np.array_split(later, p.calibration_blocks):
                rows = rows[done[rows]]
                if not len(rows):
                    continue
                start = d[rows].min()
                fit_rows = np.flatnonzero(d + np.timedelta64(7 * self.horizon, "D") <= start)
                if len(fit_rows) < p.min_fit:
                    continue
                block(fit_rows, rows)
        if sum(len(v) for v in ys) < p.min_fit:
            parts, ys, self.pool_kind = {v: [] for v in variants}, [], "kfold"
            folds = encode.fold_ids(len(y), 5, p.seed)
            for f in np.unique(folds):
                tr, te = folds != f, (folds == f) & done
                if tr.sum() < 2 or not te.any():
                    continue
                block(np.flatnonzero(tr), np.flatnonzero(te))
        if not ys:
            self.pool_kind = "none"
            return np.array([max(float(y.mean()), 1e-6)] * len(y)), y, (False, 1.0, None)
        ys = np.concatenate(ys)
        best, self.pool_deviance = None, {}
        for v in variants:
            w, a, mu = choose_blend(parts[v], ys, p)
            dev = self.pool_deviance[v] = float(mean_poisson_deviance(ys, mu))
            if best is None or dev < best[0] - 1e-12:
                best = (dev, mu, (v, w, a))
        return best[1], ys, best[2]

    def predict(self, targets: pd.DataFrame) -> pd.DataFrame:
        with threadpool_limits(limits=self.p.threads):
            return self._predict(targets)

    def _predict(self, targets: pd.DataFrame) -> pd.DataFrame:
        p, h = self.p, self.horizon
        targets = targets.reset_index(drop=True)
        mu = self.level.predict(targets)
        if self.use_exposure:
            mu = mu * self.market(targets)
        mu = self.recal(mu)
        levels = np.arange(1, p.grid_levels + 1) / (p.grid_levels + 1.0)
        mean, q, grid = self.dist.predict(mu, levels)
        cats = targets[CATEGORY].tolist() if CATEGORY in targets.columns else [None] * len(targets)
        shape = self._partial_first_week(curves.shape_rows(self.shapes, cats, h), self._first_week_days(targets))
        a = self.level.feat.last_analogs
        knn_mean, knn_q = analogs.units(a, self.level.feat.train_y, p.quantiles)
        out = pd.DataFrame({ID: targets[ID].to_numpy(object)})
        out["category"] = [c if c is not None else "" for c in cats]
        out["level_mean"] = mu
        out["mean_units"] = mean
        for j in range(q.shape[1]):
            out[f"q{j}"] = q[:, j]
        out["grid_levels"] = [levels] * len(out)
        out["quantile_units"] = list(grid)
        out["shape"] = list(shape)
        out["knn_units"] = knn_q[:, len(p.quantiles) // 2]
        out["knn_mean"] = knn_mean
        for j in range(knn_q.shape[1]):
            out[f"knn_q{j}"] = knn_q[:, j]
        ids = self.train[ID].tolist()
        titles = self.train[TEXT_COL].tolist() if TEXT_COL in self.train.columns else [None] * len(ids)
        out["neighbours"] = [[{"item_id": ids[j], "title": titles[j], "similarity": float(1.0 / (1.0 + dd)),
                               "units": float(self.y[j])} for j, dd in zip(row[:3], drow[:3])]
                             for row, drow in zip(a.index, a.dist)]
        out["method"] = METHOD
        out["n_history"] = len(self.train)
        lo, hi = self.dist.levels_lo_hi
        weights = {"global_model": 1.0, "gbm_share": float(self.level.blend), "interval_lo_level": lo,
                   "interval_hi_level": hi}
        if self.level.alpha == SIGNAL:
            weights["signal_glm"] = 1.0
        elif self.level.alpha is not None:
            weights["glm_alpha"] = float(self.level.alpha)
        weights["recal_slope"] = float(self.recal.slope)
        if self.market is not None:
            weights["market_exposure"] = float(self.use_exposure)
        out["weights"] = [weights] * len(out)
        return out
