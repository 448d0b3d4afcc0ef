"""Forecaster predictions -> rows of gold.launch_forecast (pure Python values, schema order)."""
from __future__ import annotations

import datetime as dt
from typing import List, Optional

import numpy as np
import pandas as pd

from debut.config import ForecastConf
from debut.forecast.model import scenario_levels
from debut.forecast.schema import launch_forecast_schema


def _num(v) -> Optional[float]:
    return None if v is None or not np.isfinite(v) else float(v)


def _str(v) -> Optional[str]:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


def forecast_rows(pred: pd.DataFrame, candidates: pd.DataFrame, fc: ForecastConf, *, plan_date: dt.date,
                  as_of: dt.date) -> List[tuple]:
    """One tuple per candidate in launch_forecast_schema(fc.quantiles) order."""
    cand = candidates.set_index("item_id")
    levels = [float(x) for x in scenario_levels(fc.scenario_levels)]
    rows = []
    for r in pred.itertuples(index=False):
        c = cand.loc[r.item_id]
        totals = [float(getattr(r, f"q{j}")) for j in range(len(fc.quantiles))]
        shape = np.asarray(r.shape, float)
        weekly = [[float(t * s) for s in shape] for t in totals]
        band = c.get("price_band") if "price_band" in cand.columns else None
        band = None if band is None or pd.isna(band) else int(band)
        rows.append((
            str(r.item_id), plan_date, str(c["category"]), _str(c.get("subcategory")), _str(c.get("brand")),
            _str(c.get("title")), _num(c.get("price")), _num(c.get("unit_cost")), band,
            int(fc.horizon_weeks), float(r.mean_units), *totals, *weekly,
            levels, [float(v) for v in r.quantile_units],
            _num(r.knn_units), _num(r.net_units), _num(r.audience_units),
            {k: float(v) for k, v in r.weights.items()},
            [(n["item_id"], n["title"], float(n["similarity"]), float(n["units"])) for n in r.neighbours],
            str(r.method), int(r.n_history), as_of,
        ))
    return rows


def forecast_frame(rows: List[tuple], fc: ForecastConf) -> pd.DataFrame:
    """The same rows as a pandas frame (for files), neighbours as lists of dicts."""
    schema = launch_forecast_schema(fc.quantiles)
    pdf = pd.DataFrame(rows, columns=[f.name for f in schema.fields])
    pdf["neighbours"] = [[dict(zip(("item_id", "title", "similarity", "units"), n)) for n in ns]
                         for ns in pdf["neighbours"]]
    return pdf
