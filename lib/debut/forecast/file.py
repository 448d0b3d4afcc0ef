"""``debut forecast-file`` and ``debut backtest-file``: launch-history files alone, without Spark.

History (CSV with a header, or Parquet): one record per past launch with
``week_1 .. week_N`` columns, or one per launch and week with ``week`` and
``units``. Required: item_id and the weeks; everything else is optional and
used when present: launch_date, category (a path "a > b > c" or a name),
price, seller/brand, title, unit_cost, any other attribute column.
Candidates: candidate_id (or item_id) and the same optional columns. Input is
checked row by row before anything heavy (``debut.forecast.launches``).
Output: the columns of gold.launch_forecast, as Parquet (``.parquet``) or CSV
(arrays, maps and neighbours as JSON text). Only pandas, pyarrow and
scikit-learn run here: these paths never import pyspark.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import List, Optional

import numpy as np
import pandas as pd

from debut.config import Config, ConfigError
from debut.forecast import harness
from debut.forecast.global_model import GlobalForecaster, params_of
from debut.forecast.launches import Cleaned, clean_candidates, clean_history, read_file
from debut.forecast.output import forecast_frame, forecast_rows


def _with_weeks(conf: Config, weeks: Optional[int]) -> Config:
    if weeks is None:
        return conf
    if weeks < 1:
        raise ConfigError(f"--weeks must be >= 1, got {weeks}")
    return conf.replace(**{"forecast.horizon_weeks": weeks})


def load_history(path: str, horizon: int) -> Cleaned:
    cleaned = clean_history(read_file(path), path, horizon)
    cleaned.report("history")
    return cleaned


def forecast_frames(history: pd.DataFrame, cands: pd.DataFrame, conf: Config, run_date: dt.date) -> pd.DataFrame:
    """gold.launch_forecast rows (pandas) of ``cands`` from a launch table."""
    fc = conf.forecast
    if "launch_date" not in cands.columns or cands["launch_date"].isna().all():
        cands = cands.assign(launch_date=pd.Timestamp(run_date))     # launched on the plan date
    model = GlobalForecaster(params_of(fc), fc.horizon_weeks).fit(history)
    pred = model.predict(cands)
    return forecast_frame(forecast_rows(pred, cands, fc, plan_date=run_date, as_of=run_date), fc)


def write(out: pd.DataFrame, path: str) -> None:
    if path.endswith(".parquet"):
        out.to_parquet(path, index=False)
        return
    text = out.copy()
    for c in text.columns:
        if text[c].map(lambda v: isinstance(v, (list, dict, np.ndarray))).any():
            text[c] = text[c].map(lambda v: json.dumps(v.tolist() if isinstance(v, np.ndarray) else v))
    text.to_csv(path, index=False)


def run_file(conf: Config, run_date: dt.date, history_path: str, candidates_path: str, out_path: str,
             weeks: Optional[int] = None) -> pd.DataFrame:
    """Read and check both files, forecast, write ``out_path``; returns the forecast frame."""
    conf = _with_weeks(conf, weeks)
    t0 = time.time()
    history = load_history(history_path, conf.forecast.horizon_weeks).table
    cands_clean = clean_candidates(read_file(candidates_path), candidates_path)
    cands_clean.report("candidates")
    out = forecast_frames(history, cands_clean.table, conf, run_date)
    write(out, out_path)
    print(f"[forecast-file] {len(out)} candidates forecast from {len(history)} past launches "
          f"({conf.forecast.horizon_weeks} weeks) in {time.time() - t0:.1f}s -> {out_path}")
    return out


def parse_cutoffs(text: str) -> List[pd.Timestamp]:
    out = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        try:
            out.append(pd.Timestamp(dt.date.fromisoformat(part)))
        except ValueError:
            raise ConfigError(f"--cutoffs: expected YYYY-MM-DD dates separated by commas, got {part!r}") from None
    if not out:
        raise ConfigError("--cutoffs: no dates given")
    return sorted(out)


def run_backtest_file(conf: Config, history_path: str, *, by: str = "month", cutoffs: Optional[str] = None,
                      weeks: Optional[int] = None, csv: Optional[str] = None) -> pd.DataFrame:
    """A strictly causal backtest of a history file: the table on stdout, optionally as CSV."""
    conf = _with_weeks(conf, weeks)
    h = conf.forecast.horizon_weeks
    if by != "month" and cutoffs is None:
        raise ConfigError(f"--by: only 'month' is known, got {by!r}")
    cuts = parse_cutoffs(cutoffs) if cutoffs else None
    table = load_history(history_path, h).table
    if "launch_date" not in table.columns or table["launch_date"].isna().all():
        raise ConfigError(f"history {history_path}: a backtest needs a launch_date column")
    if cuts is None:
        cuts = harness.monthly_cutoffs(table, h)
        if not cuts:
            raise ConfigError(f"history {history_path}: no month has both finished launches before it and "
                              f"launches with {h} complete weeks in it")
    params = params_of(conf.forecast)
    rows = harness.run(table, cuts, horizon=h, params=params)
    if not len(rows):
        raise ConfigError(f"history {history_path}: no cutoff had launches to forecast")
    summary = harness.summarise(rows, params.quantiles)
    print(f"[backtest-file] {len(cuts)} cutoff(s), {rows.loc[rows.method == 'debut', 'item_id'].nunique()} "
          f"launches forecast, {h} weeks; P50 for wape/mae/bias_p50, the mean for spearman/bias")
    print(harness.table_text(summary))
    for line in harness.verdict(summary):
        print("  " + line)
    if csv:
        summary.to_csv(csv, index=False)
        print(f"[backtest-file] table -> {csv}")
    return summary
