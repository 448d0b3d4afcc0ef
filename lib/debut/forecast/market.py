"""The market a launch meets: its category's recent demand shared among the items on sale.

A launch sells a share of what its category sells. That share shrinks when the
category holds more items, and most of all when many new items arrive at once:
a candidate launched with fourteen others in its category competes with all of
them, where each past launch in the history arrived nearly alone. A model fit
on the history alone cannot see that, because the history has no batch of that
size; the market level carries it as an exposure (an offset of the Poisson
models, ``debut.forecast.global_model``):

    level_i = U_c(t_i) / (N_c(t_i) + B_i)

U: the category's mean daily units over the ``window`` days before the launch,
N: its mean daily active items over those days (both from silver.category_daily,
the optional columns ``market_units`` and ``market_items``), B: the launches in
the same top category within ``batch_days`` of this one, the launch itself
included (for a forecast target: the other targets of its category launched
within those days, plus the past launches of the days before it).

The exposure is ``level_i`` relative to its category's mean log level over the
history, so the category encodings keep meaning "how much does this category's
launch sell" and the exposure carries only what moves within a category: its
demand over time and the crowd a launch arrives in. A launch without a market
row (too early in the data, or a category with no daily rows) has exposure 1.
Whether the exposure is used at all is chosen on the out-of-time calibration
pool (Poisson deviance), as the boosting / GLM blend is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np
import pandas as pd

from debut.forecast import encode
from debut.forecast.launches import CATEGORY, DATE

UNITS, ITEMS = "market_units", "market_items"
COLUMNS = (UNITS, ITEMS)
BATCH_DAYS = 7
MIN_ROWS = 10          # past launches with a market row the exposure needs


def has_market(df: pd.DataFrame) -> bool:
    """Whether ``df`` carries market columns with enough usable rows to fit an exposure on."""
    if not all(c in df.columns for c in COLUMNS) or DATE not in df.columns:
        return False
    return int(np.isfinite(_raw_log_level(df, np.ones(len(df)))).sum()) >= MIN_ROWS


def _top(df: pd.DataFrame) -> np.ndarray:
    if CATEGORY not in df.columns:
        return np.full(len(df), encode.MISSING, dtype=object)
    return encode.path_levels(df[CATEGORY].tolist(), 1)[0]


def _days(df: pd.DataFrame) -> np.ndarray:
    """Launch dates as day numbers (NaN where unknown)."""
    d = pd.to_datetime(df[DATE], errors="coerce")
    return (d - pd.Timestamp("1970-01-01")).dt.days.to_numpy(float)


def _raw_log_level(df: pd.DataFrame, batch: np.ndarray) -> np.ndarray:
    u = pd.to_numeric(df[UNITS], errors="coerce").to_numpy(float)
    n = pd.to_numeric(df[ITEMS], errors="coerce").to_numpy(float)
    with np.errstate(all="ignore"):
        lv = np.log(u / (np.where(np.isfinite(n), n, np.nan) + batch))
    return np.where((u > 0) & np.isfinite(lv), lv, np.nan)


def batch_sizes(df: pd.DataFrame, days: int = BATCH_DAYS, before: Optional[pd.DataFrame] = None) -> np.ndarray:
    """Per row of ``df``: rows of ``df`` in the same top category launched within ``days`` of it (itself
    included), plus the rows of ``before`` in that category launched in the ``days`` before it."""
    cat, d = _top(df), _days(df)
    out = np.ones(len(df))
    frame = pd.DataFrame({"c": cat, "d": d, "i": np.arange(len(df))})
    for _, g in frame.dropna(subset=["d"]).groupby("c", sort=False):
        dd = np.sort(g["d"].to_numpy())
        lo = np.searchsorted(dd, g["d"].to_numpy() - days, side="left")
        hi = np.searchsorted(dd, g["d"].to_numpy() + days, side="right")
        out[g["i"].to_numpy()] = hi - lo
    if before is not None and len(before) and DATE in before.columns:
        bframe = pd.DataFrame({"c": _top(before), "d": _days(before)}).dropna(subset=["d"])
        for c, g in frame.dropna(subset=["d"]).groupby("c", sort=False):
            past = np.sort(bframe.loc[bframe["c"] == c, "d"].to_numpy())
            if not len(past):
                continue
            t = g["d"].to_numpy()
            lo = np.searchsorted(past, t - days, side="left")
            hi = np.searchsorted(past, t, side="left")          # strictly before the target's day
            out[g["i"].to_numpy()] += hi - lo
    return out


@dataclass
class MarketExposure:
    """Fit on the training launches; ``__call__`` gives each row's exposure (1 without a market row)."""
    category_mean: Dict[str, float] = field(default_factory=dict)
    overall: float = 0.0
    train: Optional[pd.DataFrame] = None

    @classmethod
    def fit(cls, df: pd.DataFrame) -> "MarketExposure":
        lv = _raw_log_level(df, batch_sizes(df))
        cat = _top(df)
        s = pd.DataFrame({"c": cat, "lv": lv}).dropna().groupby("c")["lv"].mean()
        overall = float(np.nanmean(lv)) if np.isfinite(lv).any() else 0.0
        keep = [c for c in (CATEGORY, DATE) if c in df.columns]
        return cls(s.to_dict(), overall, df[keep].copy())

    def relative_log(self, df: pd.DataFrame, *, training: bool = False) -> np.ndarray:
        """log exposure per row: the row's log level minus its category's mean over the history."""
        batch = batch_sizes(df) if training else batch_sizes(df, before=self.train)
        lv = _raw_log_level(df, batch)
        ref = pd.Series(_top(df)).map(self.category_mean).to_numpy(float)
        ref = np.where(np.isfinite(ref), ref, self.overall)
        rel = lv - ref
        return np.where(np.isfinite(rel), rel, 0.0)

    def __call__(self, df: pd.DataFrame, *, training: bool = False) -> np.ndarray:
        return np.exp(self.relative_log(df, training=training))


def levels_from_daily(daily: pd.DataFrame, keys: pd.DataFrame, *, window_days: int = 28,
                      min_days: int = 7) -> pd.DataFrame:
    """The pandas twin of ``debut.forecast.inputs.market``: for each (category, launch_date) of ``keys``,
    the mean daily ``units`` and ``active_items`` of ``daily`` (category, date, units, active_items) over
    the ``window_days`` before that date; keys with fewer than ``min_days`` days of rows are left out."""
    k = keys[[CATEGORY, DATE]].dropna().drop_duplicates().assign(**{DATE: lambda d: pd.to_datetime(d[DATE])})
    d = daily.assign(date=pd.to_datetime(daily["date"]))
    j = k.merge(d.rename(columns={"category": CATEGORY}), on=CATEGORY, how="inner")
    j = j[(j["date"] < j[DATE]) & (j["date"] >= j[DATE] - pd.Timedelta(days=window_days))]
    g = j.groupby([CATEGORY, DATE]).agg(**{UNITS: ("units", "mean"), ITEMS: ("active_items", "mean"),
                                           "days": ("date", "nunique")}).reset_index()
    return g[g["days"] >= min_days].drop(columns="days").reset_index(drop=True)


def attach(table: pd.DataFrame, levels: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its market columns (replaced where present) from ``levels`` by (category, launch_date)."""
    base = table.drop(columns=[c for c in COLUMNS if c in table.columns])
    keyed = base.assign(_c=base[CATEGORY].astype(str), _d=pd.to_datetime(base[DATE]))
    lv = levels.rename(columns={CATEGORY: "_c", DATE: "_d"}).assign(_c=lambda d: d["_c"].astype(str))
    return keyed.merge(lv, on=["_c", "_d"], how="left").drop(columns=["_c", "_d"])
