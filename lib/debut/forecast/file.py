"""``debut forecast-file``: forecasts from a launch-history file alone, no lakehouse needed.

History (CSV with a header, or Parquet): one record per past launch with
``week_1 .. week_N`` columns, or one per launch and week with ``week`` and
``units`` (the ``debut import launch_history`` layout). Required: item_id,
category, price and the weeks; optional: subcategory, brand, title, colour,
material, style, unit_cost, launch_date (without it there is no backtest).
Candidates: candidate_id (or item_id), category, price; the same optional
attributes. Titles are embedded for the neighbour search when the embedding
model is installed. Output: the columns of gold.launch_forecast, as Parquet
(``.parquet``) or CSV (arrays, maps and neighbours as JSON text).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Optional, Tuple

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession

from debut.config import Config, ConfigError
from debut.forecast import backtest, inputs
from debut.forecast.model import Forecaster, Signals, launch_frame
from debut.forecast.output import forecast_frame, forecast_rows

_WEEK = re.compile(r"^week_?(\d+)$")
OPTIONAL = ("subcategory", "brand", "title", "colour", "material", "style", "unit_cost", "launch_date")


def read_table(spark: SparkSession, path: str) -> DataFrame:
    """A CSV (header row, every column as text) or Parquet file/directory."""
    if path.rstrip("/").endswith(".parquet"):
        return spark.read.parquet(path)
    return spark.read.option("header", True).option("inferSchema", False).csv(path)


def _lower(pdf: pd.DataFrame, what: str, path: str) -> pd.DataFrame:
    names = [str(c).strip().lower() for c in pdf.columns]
    if len(set(names)) != len(names):
        raise ConfigError(f"{what} {path}: repeated column names")
    pdf.columns = names
    return pdf


def _require(pdf: pd.DataFrame, cols, what: str, path: str) -> None:
    missing = [c for c in cols if c not in pdf.columns]
    if missing:
        raise ConfigError(f"{what} {path}: missing column(s) {', '.join(missing)} (has {', '.join(pdf.columns)})")


def _attrs(pdf: pd.DataFrame) -> pd.DataFrame:
    for c in OPTIONAL:
        if c not in pdf.columns:
            pdf[c] = None
    for c in ("price", "unit_cost"):
        pdf[c] = pd.to_numeric(pdf[c], errors="coerce")
    pdf["launch_date"] = pd.to_datetime(pdf["launch_date"], errors="coerce").dt.date
    for c in ("item_id", "category"):
        pdf[c] = pdf[c].astype(str).str.strip()
    return pdf


def history_frame(pdf: pd.DataFrame, path: str = "history") -> pd.DataFrame:
    """A history table (wide or long) -> long rows item_id, attributes, week, units."""
    pdf = _lower(pdf.copy(), "history", path)
    weeks = {c: int(_WEEK.match(c).group(1)) for c in pdf.columns if _WEEK.match(c)}
    _require(pdf, ("item_id", "category", "price"), "history", path)
    if weeks and "week" in pdf.columns:
        raise ConfigError(f"history {path}: both week_N columns and a week column")
    if weeks:
        pdf = pdf.melt(id_vars=[c for c in pdf.columns if c not in weeks], value_vars=list(weeks),
                       var_name="week", value_name="units")
        pdf["week"] = pdf["week"].map(weeks)
    elif not {"week", "units"} <= set(pdf.columns):
        raise ConfigError(f"history {path}: no weeks (week_1 .. week_N columns, or week and units)")
    pdf["week"] = pd.to_numeric(pdf["week"], errors="coerce")
    pdf["units"] = pd.to_numeric(pdf["units"], errors="coerce")
    pdf = _attrs(pdf)
    bad = pdf["price"].isna() | (pdf["price"] <= 0) | pdf["week"].isna() | (pdf["week"] < 1) | (pdf["units"] < 0)
    if bad.any():
        raise ConfigError(f"history {path}: {int(bad.sum())} row(s) with a missing or non-positive price, a bad "
                          f"week or negative units (first: item_id {pdf.loc[bad, 'item_id'].iloc[0]})")
    pdf = pdf[pdf["units"].notna()].copy()           # an empty week is not observed
    pdf["week"] = pdf["week"].astype(int)
    return pdf.drop_duplicates(["item_id", "week"])


def candidates_frame(pdf: pd.DataFrame, path: str = "candidates") -> pd.DataFrame:
    pdf = _lower(pdf.copy(), "candidates", path)
    if "candidate_id" in pdf.columns:
        pdf = pdf.drop(columns=[c for c in ("item_id",) if c in pdf.columns]).rename(
            columns={"candidate_id": "item_id"})
    _require(pdf, ("item_id", "category", "price"), "candidates", path)
    pdf = _attrs(pdf)
    if pdf["price"].isna().any() or (pdf["price"] <= 0).any():
        raise ConfigError(f"candidates {path}: every candidate needs a positive price")
    if pdf["item_id"].duplicated().any():
        raise ConfigError(f"candidates {path}: repeated candidate ids")
    pdf["price_band"] = None
    return pdf.reset_index(drop=True)


def forecast_frames(history: pd.DataFrame, cands: pd.DataFrame, conf: Config, run_date: dt.date,
                    embeddings: Optional[dict] = None) -> Tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(forecast rows as gold.launch_forecast columns, backtest rows, metrics) from pandas frames."""
    fc = conf.forecast
    signals = Signals(embeddings=embeddings or {})
    model = Forecaster(fc, signals).fit(launch_frame(history, fc.horizon_weeks))
    pred = model.predict(cands)
    out = forecast_frame(forecast_rows(pred, cands, fc, plan_date=run_date, as_of=run_date), fc)
    bt, metrics = pd.DataFrame(), {}
    if history["launch_date"].notna().all():
        bt, metrics = backtest.run_backtest(history, fc, run_date, lambda cutoff: signals)
    return out, bt, metrics


def write(out: pd.DataFrame, path: str) -> None:
    if path.endswith(".parquet"):
        out.to_parquet(path, index=False)
        return
    text = out.copy()
    for c in text.columns:
        if text[c].map(lambda v: isinstance(v, (list, dict, np.ndarray))).any():
            text[c] = text[c].map(lambda v: json.dumps(v.tolist() if isinstance(v, np.ndarray) else v))
    text.to_csv(path, index=False)


def run_file(spark: SparkSession, conf: Config, run_date: dt.date, history_path: str, candidates_path: str,
             out_path: str, weeks: Optional[int] = None) -> pd.DataFrame:
    """Read both files, forecast, write ``out_path``; returns the forecast frame."""
    if weeks is not None:
        if weeks < 1:
            raise ConfigError(f"--weeks must be >= 1, got {weeks}")
        conf = conf.replace(**{"forecast.horizon_weeks": weeks})
    history = history_frame(read_table(spark, history_path).toPandas(), history_path)
    cands = candidates_frame(read_table(spark, candidates_path).toPandas(), candidates_path)
    emb = inputs.embed_titles(pd.concat([history.drop_duplicates("item_id")[["item_id", "title"]],
                                         cands[["item_id", "title"]]]), {}, conf)
    out, bt, metrics = forecast_frames(history, cands, conf, run_date, emb)
    write(out, out_path)
    print(f"[forecast-file] {len(out)} candidates forecast from {history['item_id'].nunique()} past launches "
          f"({conf.forecast.horizon_weeks} weeks) -> {out_path}")
    if metrics:
        print(backtest.table(metrics))
    return out
