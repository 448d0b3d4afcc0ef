"""Forecaster predictions -> rows of gold.launch_forecast (pure Python values, schema order)."""
from __future__ import annotations

import datetime as dt
from typing import List, Optional

import numpy as np
import pandas as pd

from debut.config import ForecastConf
from debut.core.quantiles import quantile_name


def forecast_columns(quantiles) -> List[str]:
    """gold.launch_forecast's column names in schema order (no Spark import: files use this too)."""
    names = [quantile_name(q) for q in quantiles]
    return (["candidate_id", "plan_date", "category", "subcategory", "brand", "title", "price", "unit_cost",
             "price_band", "horizon_weeks", "mean_units"] + [f"units_{n}" for n in names]
            + [f"weekly_{n}" for n in names]
            + ["quantile_levels", "quantile_units", "knn_units", "net_units", "audience_units", "weights",
               "neighbours", "method", "n_history", "as_of_date"])


def _num(v) -> Optional[float]:
    return None if v is None or not np.isfinite(v) else float(v)


def _str(v) -> Optional[str]:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def forecast_rows(pred: pd.DataFrame, candidates: pd.DataFrame, fc: ForecastConf, *, plan_date: dt.date,
                  as_of: dt.date) -> List[tuple]:
    """One tuple per candidate in launch_forecast_schema(fc.quantiles) order."""
    cand = candidates.set_index("item_id")
    rows = []
    for r in pred.itertuples(index=False):
        c = cand.loc[r.item_id]
        levels = [float(x) for x in r.grid_levels]
        totals = [float(getattr(r, f"q{j}")) for j in range(len(fc.quantiles))]
        shape = np.asarray(r.shape, float)
        weekly = [[float(t * s) for s in shape] for t in totals]
        band = c.get("price_band") if "price_band" in cand.columns else None
        band = None if band is None or pd.isna(band) else int(band)
        rows.append((
            str(r.item_id), plan_date, _str(c.get("category")) or "", _str(c.get("subcategory")), _str(c.get("brand")),
            _str(c.get("title")), _num(c.get("price")), _num(c.get("unit_cost")), band,
            int(fc.horizon_weeks), float(r.mean_units), *totals, *weekly,
            levels, [float(v) for v in r.quantile_units],
            _num(r.knn_units), _num(getattr(r, "net_units", None)), _num(getattr(r, "audience_units", None)),
            {k: float(v) for k, v in r.weights.items()},
            [(str(n["item_id"]), _str(n["title"]), float(n["similarity"]), float(n["units"])) for n in r.neighbours],
            str(r.method), int(r.n_history), as_of,
        ))
    return rows


def forecast_frame(rows: List[tuple], fc: ForecastConf) -> pd.DataFrame:
    """The same rows as a pandas frame (for files), neighbours as lists of dicts."""
    pdf = pd.DataFrame(rows, columns=forecast_columns(fc.quantiles))
    pdf["neighbours"] = [[dict(zip(("item_id", "title", "similarity", "units"), n)) for n in ns]
                         for ns in pdf["neighbours"]]
    return pdf
