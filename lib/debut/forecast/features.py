"""Item descriptions as numbers for the neighbour search and the content models.

Items (past launches, catalog items, candidates) are pandas rows with their
attributes. Attribute tokens ("brand=lumen") are one-hot over the tokens seen
in the data at hand (no fitted vocabulary to ship); the price position is the
log price against the median log price of the category's reference items.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

TOKEN_FIELDS = ("subcategory", "brand", "colour", "material", "style")


def tokens(df: pd.DataFrame, fields: Sequence[str] = TOKEN_FIELDS) -> List[List[str]]:
    """Per row: "field=value" tokens of its non-empty attributes (lower-cased)."""
    out = []
    cols = [f for f in fields if f in df.columns]
    for values in zip(*[df[f].tolist() for f in cols]) if cols else [()] * len(df):
        out.append([f"{f}={str(v).strip().lower()}" for f, v in zip(cols, values)
                    if v is not None and not (isinstance(v, float) and np.isnan(v)) and str(v).strip()])
    return out


def one_hot(rows: Sequence[Sequence[str]], vocab: Optional[Mapping[str, int]] = None
            ) -> Tuple[np.ndarray, Dict[str, int]]:
    """(n, V) 0/1 matrix over ``vocab`` (built from ``rows`` when None; unknown tokens dropped)."""
    if vocab is None:
        vocab = {t: i for i, t in enumerate(sorted({t for r in rows for t in r}))}
    x = np.zeros((len(rows), len(vocab)))
    for i, r in enumerate(rows):
        for t in r:
            j = vocab.get(t)
            if j is not None:
                x[i, j] = 1.0
    return x, dict(vocab)


def log_price_position(price: np.ndarray, category: np.ndarray, ref_price: np.ndarray,
                       ref_category: np.ndarray) -> np.ndarray:
    """log(price) - median log price of the reference items of the same category (all of them
    for a category without reference items); NaN for a missing or non-positive price."""
    lp = np.log(np.where(np.asarray(price, float) > 0, price, np.nan))
    ref_lp = np.log(np.where(np.asarray(ref_price, float) > 0, ref_price, np.nan))
    ref_category = np.asarray(ref_category, dtype=object)
    overall = np.nanmedian(ref_lp) if np.isfinite(ref_lp).any() else 0.0
    med = {}
    for c in set(ref_category):
        v = ref_lp[ref_category == c]
        med[c] = np.nanmedian(v) if np.isfinite(v).any() else overall
    return lp - np.array([med.get(c, overall) for c in np.asarray(category, dtype=object)])


def unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norm, out=np.zeros_like(x, dtype=np.float64), where=norm > 0)


def embedding_matrix(ids: Sequence[str], embeddings: Mapping[str, np.ndarray], dim: Optional[int] = None
                     ) -> Tuple[np.ndarray, np.ndarray]:
    """(unit-length rows, has_embedding mask) for ``ids``; rows without an embedding are 0."""
    if dim is None:
        dim = next((len(v) for v in embeddings.values() if v is not None), 0)
    x = np.zeros((len(ids), dim))
    has = np.zeros(len(ids), dtype=bool)
    for i, k in enumerate(ids):
        v = embeddings.get(k)
        if v is not None and len(v) == dim:
            x[i] = np.asarray(v, dtype=np.float64)
            has[i] = True
    return unit_rows(x), has


def similarity(a_attr: np.ndarray, b_attr: np.ndarray, a_text: np.ndarray, a_has: np.ndarray,
               b_text: np.ndarray, b_has: np.ndarray, a_z: np.ndarray, b_z: np.ndarray, *,
               w_text: float, w_attr: float, w_price: float, price_scale: float) -> np.ndarray:
    """(len(a), len(b)) similarity in [0, 1] (for non-negative one-hots): the weighted mean of
    text cosine, attribute cosine and price closeness over the parts both items have."""
    ua, ub = unit_rows(a_attr), unit_rows(b_attr)
    num = w_attr * (ua @ ub.T)
    den = np.full(num.shape, w_attr)
    both_text = np.outer(a_has, b_has)
    if w_text > 0 and both_text.any():
        num = num + np.where(both_text, w_text * (a_text @ b_text.T), 0.0)
        den = den + np.where(both_text, w_text, 0.0)
    if w_price > 0:
        dz = np.subtract.outer(np.asarray(a_z, float), np.asarray(b_z, float))
        ok = np.isfinite(dz)
        close = np.exp(-0.5 * (np.where(ok, dz, 0.0) / price_scale) ** 2)
        num = num + np.where(ok, w_price * close, 0.0)
        den = den + np.where(ok, w_price, 0.0)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)
