"""Target encodings with shrinkage, for a category hierarchy and for plain keys.

A category path "home > kitchen > mugs" has levels "home", "home>kitchen",
"home>kitchen>mugs". Each level's encoding is the mean target of its launches
shrunk toward its parent's encoding with the weight of ``m`` launches
(the root: the global mean), so a category with one launch sits close to its
parent and an unseen one takes its parent's value: no fallback cliff.
Training rows are encoded out of fold (their own launch never counts).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import pandas as pd

SEP = ">"
MISSING = "(none)"


def path_levels(paths: Sequence, depth: Optional[int] = None) -> List[np.ndarray]:
    """Per level, the prefix key of every row ("a", "a>b", ...); rows with a shorter path repeat
    their last key, rows without a category get MISSING."""
    parts = [[p.strip().lower() for p in str(v).split(SEP) if p.strip()]
             if v is not None and not (isinstance(v, float) and np.isnan(v)) and str(v).strip() else [MISSING]
             for v in paths]
    d = depth if depth is not None else max((len(p) for p in parts), default=1)
    out = []
    for lvl in range(d):
        out.append(np.array([SEP.join(p[:lvl + 1]) for p in parts], dtype=object))
    return out


def _stats(keys: np.ndarray, y: np.ndarray):
    s = pd.DataFrame({"k": keys, "y": y}).groupby("k", sort=False)["y"].agg(["sum", "count"])
    return s["sum"], s["count"]


def shrunk(train_keys: np.ndarray, train_y: np.ndarray, keys: np.ndarray, prior: np.ndarray, m: float):
    """(encoding, count) of ``keys``: (sum + m prior) / (n + m) over the training rows with that key."""
    ssum, cnt = _stats(train_keys, train_y)
    k = pd.Series(keys)
    s = k.map(ssum).fillna(0.0).to_numpy(float)
    n = k.map(cnt).fillna(0.0).to_numpy(float)
    return (s + m * prior) / (n + m), n


def fold_ids(n: int, folds: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(n) % max(1, min(folds, n)))


class Encoder:
    """Fit on training keys and targets; encode training rows out of fold, other rows in full.

    ``chain``: a list of key arrays where level l is shrunk toward level l - 1 (a hierarchy, or a
    single plain key; level 0 toward the mean of the training rows). One column per level.
    """

    def __init__(self, m: float, folds: int = 5, seed: int = 7):
        self.m, self.folds, self.seed = m, folds, seed

    def _chain(self, train_chain, y, apply_chain, base: float):
        cols, counts = [], []
        prior = np.full(len(apply_chain[0]), base)
        for tk, ak in zip(train_chain, apply_chain):
            enc, n = shrunk(tk, y, ak, prior, self.m)
            cols.append(enc)
            counts.append(n)
            prior = enc
        return np.column_stack(cols), np.column_stack(counts)

    def fit_transform(self, chain: List[np.ndarray], y: np.ndarray):
        """Out-of-fold encodings (and counts of the other training rows) of the training rows."""
        y = np.asarray(y, float)
        self.train_chain, self.y = [np.asarray(c, object) for c in chain], y
        self.base = float(y.mean()) if len(y) else 0.0
        n = len(y)
        enc, cnt = np.zeros((n, len(chain))), np.zeros((n, len(chain)))
        ids = fold_ids(n, self.folds, self.seed)
        for f in np.unique(ids):
            te, tr = ids == f, ids != f
            if not tr.any():
                enc[te], cnt[te] = self.base, 0.0
                continue
            e, c = self._chain([k[tr] for k in self.train_chain], y[tr], [k[te] for k in self.train_chain],
                               float(y[tr].mean()))
            enc[te], cnt[te] = e, c
        return enc, cnt

    def transform(self, chain: List[np.ndarray]):
        return self._chain(self.train_chain, self.y, [np.asarray(c, object) for c in chain], self.base)
