"""forecast_launch: demand quantiles for every candidate of the plan, and a backtest.

Reads gold.launch_history (and bronze.launch_history_input), bronze.candidates
and, when present, gold.item_features (embeddings, price bands),
silver.item_daily (catalog sales), gold.item_audience and train_deep's
gold.demand_net_predictions (with the date the network's training launches
end before); each is an optional column of the global model
(``debut.forecast.signals``). Computes everything first, then writes gold.launch_forecast
(replaceWhere plan_date = run_date) and gold.forecast_backtest (replaceWhere
run_date), each in one commit, and the backtest metrics to gold.evaluation
and MLflow (component "forecast").
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from debut import io, tracking
from debut.config import Config
from debut.core import status
from debut.forecast import backtest, inputs, signals as signal_cols
from debut.forecast.global_model import GlobalForecaster, params_of
from debut.forecast.launches import from_long
from debut.forecast.model import Signals
from debut.forecast.output import forecast_rows
from debut.forecast.schema import FORECAST_BACKTEST, launch_forecast_schema

JOB = "forecast"
NO_AUDIENCE = "no gold.item_audience: train_als wrote none (it needs customer ids)"
COMPONENT = "forecast"


def _say(msg: str) -> None:
    print(f"[{JOB}] {msg}", flush=True)


def _catalog(spark: SparkSession, conf: Config, before: dt.date, launch_ids) -> Optional[pd.DataFrame]:
    if not conf.forecast.use_content:
        return None
    rates = inputs.catalog_rates(spark, conf, before=before, exclude=launch_ids)
    if rates is None:
        tables = io.exists(spark, conf, "silver.item_daily") and io.exists(spark, conf, "gold.item_features")
        _say("content component skipped (" + (f"no catalog item outside the past launches with 14 days of sales "
                                              f"before {before}" if tables
                                              else "no silver.item_daily / gold.item_features") + ")")
    return rates


@dataclass
class ModelInputs:
    """What the global model is fitted and applied on at one plan date."""
    cands: pd.DataFrame          # the plan's candidates (bronze.candidates + price band)
    table: pd.DataFrame          # past launches, one row per launch with week_1..week_H
    embeddings: Dict             # item_id -> text embedding (catalog's, or titles embedded here)
    signals: Signals
    hist_t: pd.DataFrame         # ``table`` with the signal columns: the fit table
    cand_t: pd.DataFrame         # the candidates with the signal columns
    used: list                   # names of the signals used


def model_inputs(spark: SparkSession, conf: Config, run_date: dt.date) -> ModelInputs:
    """Read every table the forecast uses for plan_date = run_date (bounded by launches and
    candidates) and attach the optional signals; ValueError when there is no candidate."""
    fc = conf.forecast
    history = inputs.history_df(spark, conf, run_date)
    long = inputs.collect_history(history, horizon=fc.horizon_weeks, as_of=run_date)
    cands = inputs.candidates(spark, conf, run_date)
    if not len(cands):
        raise ValueError(f"bronze.candidates has no candidates for plan_date {run_date}: nothing to forecast")
    launch_ids = sorted(set(long["item_id"]))
    emb = inputs.embeddings(spark, conf, launch_ids + cands["item_id"].tolist())
    described = pd.concat([long.drop_duplicates("item_id")[["item_id", "title"]], cands[["item_id", "title"]]])
    emb.update(inputs.embed_titles(described, emb, conf))
    audience = inputs.audience(spark, conf) if fc.use_audience else None
    items = pd.concat([pd.DataFrame({"item_id": launch_ids}), cands[["item_id"]]])
    net, net_cutoff = inputs.demand_net(spark, conf, items, run_date) if fc.use_demand_net else (None, None)
    table = from_long(long, fc.horizon_weeks)
    launching = cands.assign(launch_date=pd.Timestamp(run_date))
    market = (inputs.market(spark, conf, pd.concat([table[["category", "launch_date"]],
                                                    launching[["category", "launch_date"]]]))
              if fc.market != "never" else None)
    signals = Signals(embeddings=emb, catalog=_catalog(spark, conf, run_date, launch_ids),
                      audience=audience, net=net, net_trained_before=net_cutoff, market=market)
    hist_t, cand_t, used = signal_cols.attach(table, launching, signals, use_content=fc.use_content,
                                              ridge_alpha=fc.content_ridge_alpha, min_items=fc.content_min_items,
                                              content_launches=fc.content_launches)
    if fc.market != "never" and "market" not in used:
        _say("market exposure not offered: silver.category_daily has no category with units (from events) "
             "in the 28 days before enough past launches")
    return ModelInputs(cands, table, emb, signals, hist_t, cand_t, used)


def run(spark: SparkSession, conf: Config, run_date: dt.date) -> Dict[str, int]:
    """Forecast the candidates of plan_date = run_date; returns row counts written."""
    fc = conf.forecast
    with tracking.job_run(conf, JOB, run_date.isoformat()):
        mi = model_inputs(spark, conf, run_date)
        cands, table, emb, hist_t, cand_t, used = mi.cands, mi.table, mi.embeddings, mi.hist_t, mi.cand_t, mi.used
        if fc.use_audience:  # none without customer ids: the forecast goes on without that component
            audience = mi.signals.audience
            status.record(spark, conf, "forecast_launch", run_date, [
                ("audience", status.OK, None, len(audience)) if audience is not None else
                ("audience", status.SKIPPED, NO_AUDIENCE, 0)])
        model = GlobalForecaster(params_of(fc), fc.horizon_weeks).fit(hist_t)
        pred = model.predict(cand_t)
        rows = forecast_rows(pred, cands, fc, plan_date=run_date, as_of=run_date)
        lo, hi = model.dist.levels_lo_hi
        _say(f"{len(rows)} candidates forecast by the global model from {len(model.train)} past launches; "
             f"signals: {', '.join(used) or 'launch history only'}; P10-P90 read at levels {lo:.2f}-{hi:.2f} "
             f"(calibrated out of time on {len(model.pool_y)} launches); mean/P50 at the median "
             f"{float(np.median(pred['mean_units'] / pred['q%d' % (len(fc.quantiles) // 2)].clip(lower=1e-9))):.2f}")

        # the backtest sees static item signals only (embeddings): the others are computed after its cutoffs
        bt_table = table.assign(embedding=[emb.get(i) for i in table["item_id"]]) if emb else table
        bt, metrics = backtest.run_backtest(bt_table, fc, run_date, say=_say)
        if len(bt):
            _say("backtest over %d cutoff(s), %d launches:\n%s" % (bt["cutoff_date"].nunique(),
                 bt["item_id"].nunique(), backtest.table(metrics)))
            gain = next((v for k, v in metrics.items() if k[0] == "wape_gain_vs_category_mean"), None)
            if gain is not None:
                _say(f"global model WAPE {gain:+.1%} vs the category-mean baseline (relative)")
        else:
            _say("backtest skipped: " + backtest.why_none(table, fc.horizon_weeks))

        forecast_df = spark.createDataFrame(rows, launch_forecast_schema(fc.quantiles))
        io.replace_where(forecast_df, conf, "gold.launch_forecast", f"plan_date = '{run_date.isoformat()}'")
        counts = {"gold.launch_forecast": len(rows), "gold.forecast_backtest": len(bt)}
        if len(bt):
            bt_df = spark.createDataFrame(bt[[f.name for f in FORECAST_BACKTEST.fields]].to_dict("records"),
                                          FORECAST_BACKTEST)
            io.replace_where(bt_df, conf, "gold.forecast_backtest", f"run_date = '{run_date.isoformat()}'")
            tracking.record_metrics(spark, conf, run_date, COMPONENT, metrics)
        return counts
