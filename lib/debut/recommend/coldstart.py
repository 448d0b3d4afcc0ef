"""Cold start: a map from item content to ALS item factors, fitted on warm items.

A never-sold item has no interactions, so ALS gives it no factors. Its content
(gold.item_features: hashed attribute one-hots, the text embedding, the
category, the price position) does exist, and on warm items it predicts their
ALS factors: fit that map, apply it to the item, and the item gets a predicted
affinity for every customer (user factors . mapped factors).

Items are bounded by the catalog, so the design matrix (items x features) is
built and fitted on the driver with numpy; customers never come here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import pandas as pd

BLOCK_ROWS = 8192          # items per design-matrix block: a 100k-item catalog never becomes one dense matrix

# gold.item_features columns the design matrix reads
CONTENT_COLUMNS = ("item_id", "category_index", "attribute_vector", "text_embedding", "relative_price",
                   "price_band")


def content_matrix(items: pd.DataFrame, *, n_categories: int, price_bands: int,
                   cross_category: bool = True, sparse: bool = False):
    """Design matrix, one row per item of ``items`` (CONTENT_COLUMNS), float64.

    Blocks: category one-hot (by category_index; a null index is all zeros),
    attribute one-hots, the L2-normalised text embedding (zeros when missing),
    log relative price and its square, price-band one-hot; with
    ``cross_category`` also category x attribute one-hots, since what a colour
    or style is worth differs from one category to the next. ``sparse``
    returns a scipy CSR matrix (the cross block is mostly zeros).
    """
    n = len(items)
    cat = np.zeros((n, n_categories))
    idx = pd.to_numeric(items["category_index"], errors="coerce").to_numpy()
    ok = ~np.isnan(idx) & (idx >= 0) & (idx < n_categories)
    cat[np.flatnonzero(ok), idx[ok].astype(int)] = 1.0
    attrs = _stack(items["attribute_vector"], n)
    text = _stack(items["text_embedding"], n)
    norms = np.linalg.norm(text, axis=1, keepdims=True)
    text = np.divide(text, norms, out=np.zeros_like(text), where=norms > 0)
    rel = pd.to_numeric(items["relative_price"], errors="coerce").to_numpy(dtype=float)
    logp = np.where(np.isfinite(rel) & (rel > 0), np.log(np.where(rel > 0, rel, 1.0)), 0.0)
    band = np.zeros((n, price_bands))
    b = pd.to_numeric(items["price_band"], errors="coerce").to_numpy()
    okb = ~np.isnan(b) & (b >= 1) & (b <= price_bands)
    band[np.flatnonzero(okb), b[okb].astype(int) - 1] = 1.0
    blocks = [cat, attrs, text, logp[:, None], (logp ** 2)[:, None], band]
    if not sparse:
        if cross_category and attrs.shape[1]:
            blocks.append((cat[:, :, None] * attrs[:, None, :]).reshape(n, -1))
        return np.hstack(blocks)
    from scipy import sparse as sp

    parts = [sp.csr_matrix(b) for b in blocks]
    if cross_category and attrs.shape[1]:
        rows, cols = np.nonzero(attrs * ok[:, None])
        c = idx[rows].astype(int)
        parts.append(sp.csr_matrix((attrs[rows, cols], (rows, c * attrs.shape[1] + cols)),
                                   shape=(n, n_categories * attrs.shape[1])))
    return sp.hstack(parts, format="csr")


def _stack(col: pd.Series, n: int) -> np.ndarray:
    """array<float> column -> (n, width) matrix; null rows are zeros (width from the first non-null)."""
    width = next((len(v) for v in col if v is not None and len(v)), 0)
    out = np.zeros((n, width))
    for i, v in enumerate(col):
        if v is not None and len(v) == width and width:
            out[i] = np.asarray(v, dtype=float)
    return out


@dataclass
class RidgeMap:
    """Multi-output ridge regression X -> Y with an intercept; alpha by leave-one-out error.

    Leave-one-out residuals of ridge have a closed form through the SVD of the
    centred X (r_i / (1 - h_ii)), so choosing alpha costs one SVD.
    """
    alphas: Sequence[float] = (1.0,)
    alpha: float = field(default=float("nan"), init=False)
    loo_mse: dict = field(default_factory=dict, init=False)
    coef: Optional[np.ndarray] = field(default=None, init=False)
    x_mean: Optional[np.ndarray] = field(default=None, init=False)
    y_mean: Optional[np.ndarray] = field(default=None, init=False)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "RidgeMap":
        X = np.asarray(X, float)
        if len(X) > X.shape[1]:
            return self.fit_blocks(lambda: iter([X]), Y)
        return self._fit_svd(X, Y)

    def _fit_svd(self, X: np.ndarray, Y: np.ndarray) -> "RidgeMap":
        """Fewer items than features: the thin SVD of the centred X (n x n work)."""
        X, Y = np.asarray(X, float), np.asarray(Y, float)
        if len(X) < 2:
            raise ValueError(f"the cold-start map needs at least 2 warm items, got {len(X)}")
        self.x_mean, self.y_mean = X.mean(axis=0), Y.mean(axis=0)
        Xc, Yc = X - self.x_mean, Y - self.y_mean
        U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
        UtY = U.T @ Yc
        n = len(X)
        for a in self.alphas:
            d = s ** 2 / (s ** 2 + a)
            fitted = U @ (d[:, None] * UtY)
            h = (U ** 2) @ d + 1.0 / n                     # leverage, the intercept included
            loo = (Yc - fitted) / np.maximum(1.0 - h, 1e-9)[:, None]
            self.loo_mse[float(a)] = float(np.mean(loo ** 2))
        self.alpha = min(self.loo_mse, key=lambda a: (self.loo_mse[a], a))
        self.coef = Vt.T @ ((s / (s ** 2 + self.alpha))[:, None] * UtY)
        return self

    def fit_blocks(self, blocks: Callable[[], Iterator[np.ndarray]], Y: np.ndarray) -> "RidgeMap":
        """The same fit from row blocks of X (``blocks()`` yields them in order, and is called twice).

        Memory is features^2 plus one block, whatever the number of items: the
        eigen-decomposition of the centred Gram matrix X'X replaces the SVD of X
        (same coefficients and the same closed-form leave-one-out errors), so a
        100k-item catalog never becomes one dense (items x features) matrix.
        """
        Y = np.asarray(Y, float)
        n = len(Y)
        if n < 2:
            raise ValueError(f"the cold-start map needs at least 2 warm items, got {n}")
        sx, sxx, sxy, rows = None, None, None, 0
        for B in blocks():
            B = _as_matrix(B)
            m = B.shape[0]
            Yb = Y[rows:rows + m]
            if sx is None:
                sx, sxx, sxy = np.zeros(B.shape[1]), np.zeros((B.shape[1],) * 2), np.zeros((B.shape[1], Y.shape[1]))
            sx += np.asarray(B.sum(axis=0)).ravel()
            sxx += _dense(B.T @ B)
            sxy += _dense(B.T @ Yb)
            rows += m
        if rows != n:
            raise ValueError(f"the design blocks hold {rows} rows for {n} targets")
        self.x_mean, self.y_mean = sx / n, Y.mean(axis=0)
        gram = sxx - n * np.outer(self.x_mean, self.x_mean)            # Xc'Xc
        cross = sxy - n * np.outer(self.x_mean, self.y_mean)           # Xc'Yc
        lam, V = np.linalg.eigh(gram)
        lam = np.maximum(lam, 0.0)
        VtC = V.T @ cross
        sq_err = {float(a): 0.0 for a in self.alphas}
        rows = 0
        mean_v = self.x_mean @ V
        for B in blocks():
            B = _as_matrix(B)
            Z = _dense(B @ V) - mean_v                                      # U s, block rows
            Yc = Y[rows:rows + B.shape[0]] - self.y_mean
            rows += B.shape[0]
            for a in self.alphas:
                inv = 1.0 / (lam + a)
                fitted = Z @ (inv[:, None] * VtC)
                h = (Z ** 2) @ inv + 1.0 / n
                loo = (Yc - fitted) / np.maximum(1.0 - h, 1e-9)[:, None]
                sq_err[float(a)] += float((loo ** 2).sum())
        self.loo_mse = {a: e / (n * Y.shape[1]) for a, e in sq_err.items()}
        self.alpha = min(self.loo_mse, key=lambda a: (self.loo_mse[a], a))
        self.coef = V @ ((1.0 / (lam + self.alpha))[:, None] * VtC)
        return self

    def predict(self, X) -> np.ndarray:
        X = _as_matrix(X)
        return _dense(X @ self.coef) - self.x_mean @ self.coef + self.y_mean


def _as_matrix(X):
    """A scipy sparse matrix as it is; anything else as a float64 ndarray."""
    return X if hasattr(X, "tocsr") else np.asarray(X, float)


def _dense(X) -> np.ndarray:
    return X.toarray() if hasattr(X, "toarray") else np.asarray(X)


@dataclass
class MlpMap:
    """A small MLP (scikit-learn) X -> Y on standardised inputs, seeded, early-stopped."""
    hidden: int = 64
    max_iter: int = 500
    l2: float = 1e-3
    seed: int = 7
    model: object = field(default=None, init=False)

    def fit(self, X: np.ndarray, Y: np.ndarray) -> "MlpMap":
        from sklearn.neural_network import MLPRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if len(X) < 10:
            raise ValueError(f"the MLP cold-start map needs at least 10 warm items, got {len(X)}")
        self.model = make_pipeline(StandardScaler(), MLPRegressor(
            hidden_layer_sizes=(self.hidden,), alpha=self.l2, max_iter=self.max_iter, random_state=self.seed,
            early_stopping=True, validation_fraction=0.15, n_iter_no_change=20))
        self.model.fit(np.asarray(X, float), np.asarray(Y, float))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(np.asarray(X, float))).reshape(len(X), -1)


def make_map(kind: str, *, alphas: Sequence[float], hidden: int = 64, max_iter: int = 500, seed: int = 7):
    """The configured map: ``ridge`` (alpha from ``alphas`` by leave-one-out) or ``mlp``."""
    if kind == "ridge":
        return RidgeMap(alphas=tuple(alphas))
    if kind == "mlp":
        return MlpMap(hidden=hidden, max_iter=max_iter, seed=seed)
    raise ValueError(f"unknown cold-start map {kind!r} (known: ridge, mlp)")


def content_blocks(items: pd.DataFrame, *, n_categories: int, price_bands: int, cross_category: bool,
                   rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
    """content_matrix of ``items`` in blocks of ``rows`` items, in order."""
    for start in range(0, len(items), rows):
        yield content_matrix(items.iloc[start:start + rows], n_categories=n_categories, price_bands=price_bands,
                             cross_category=cross_category, sparse=True)


def predict_items(fitted, items: pd.DataFrame, *, n_categories: int, price_bands: int, cross_category: bool,
                  rows: int = BLOCK_ROWS) -> np.ndarray:
    """The map's factors for every row of ``items``, one design block at a time."""
    blocks = content_blocks(items, n_categories=n_categories, price_bands=price_bands,
                            cross_category=cross_category, rows=rows)
    parts = [fitted.predict(B if isinstance(fitted, RidgeMap) else _dense(B)) for B in blocks]
    return np.vstack(parts) if parts else np.zeros((0, 0))


def fit_map(kind: str, items: pd.DataFrame, factors: np.ndarray, *, n_categories: int, price_bands: int,
            cross_category: bool, alphas: Sequence[float], hidden: int = 64, max_iter: int = 500, seed: int = 7,
            rows: int = BLOCK_ROWS):
    """Fit the map on warm ``items`` (CONTENT_COLUMNS) whose ALS factors are the rows of ``factors``.

    The ridge map reads the design matrix in blocks of ``rows`` items; the MLP needs it whole."""
    kw = dict(n_categories=n_categories, price_bands=price_bands, cross_category=cross_category)
    model = make_map(kind, alphas=alphas, hidden=hidden, max_iter=max_iter, seed=seed)
    if isinstance(model, RidgeMap):
        width = content_matrix(items.iloc[:1], **kw).shape[1]
        if len(items) > width:
            return model.fit_blocks(lambda: content_blocks(items, rows=rows, **kw), factors)
    return model.fit(content_matrix(items, **kw), factors)


def r2_score(Y: np.ndarray, P: np.ndarray) -> float:
    """Share of the factors' variance (summed over dimensions) that predictions explain."""
    Y, P = np.asarray(Y, float), np.asarray(P, float)
    tot = float(((Y - Y.mean(axis=0)) ** 2).sum())
    return float("nan") if tot == 0 else 1.0 - float(((Y - P) ** 2).sum()) / tot
