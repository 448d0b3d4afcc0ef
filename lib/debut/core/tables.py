"""Every Delta table's contract in one registry: schema, natural key, partitions, owning job.

``debut.io`` resolves names and locations from it and checks every write
against the schema (column names and types; nullability is not checked).
A table whose columns depend on the config (the forecast's quantile columns)
gives its schema as a function of the config.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple, Union

from pyspark.sql import types as T

from debut import schemas as S

ANY_STAGE = "*"                             # owner of a table every stage writes (ops.stage_status, ops.leases)

Schema = Union[T.StructType, Callable[[Any], T.StructType], None]


@dataclass(frozen=True)
class TableSpec:
    keys: Tuple[str, ...]                  # natural key: MERGE condition, uniqueness contract
    partition_by: Tuple[str, ...] = ()
    description: str = ""
    schema: Schema = None                  # None: not checked (scratch tables in tests)
    owner: str = ""                        # the job that writes it (debut.core.stages)

    def struct(self, conf: Any = None) -> Optional[T.StructType]:
        """The table's StructType (under ``conf`` where it depends on the config)."""
        if self.schema is None or isinstance(self.schema, T.StructType):
            return self.schema
        return self.schema(conf)


def _forecast(conf: Any) -> T.StructType:
    quantiles = conf.forecast.quantiles if conf is not None else (0.1, 0.5, 0.9)
    return S.launch_forecast_schema(quantiles)


def _t(owner: str, schema: Schema, keys: Tuple[str, ...], partition_by: Tuple[str, ...] = (),
       description: str = "") -> TableSpec:
    return TableSpec(keys, partition_by, description, schema, owner)


TABLES: Dict[str, TableSpec] = {
    # bronze: validated, deduplicated, pseudonymised landing data
    "bronze.events": _t("ingest", S.EVENTS, ("event_id",), ("event_date",),
                        "marketplace events (view/cart/purchase/search)"),
    "bronze.orders": _t("ingest", S.ORDERS, ("order_id", "line_no"), ("order_date",), "order lines with status"),
    "bronze.catalog": _t("ingest", S.CATALOG, ("item_id", "snapshot_date"), ("snapshot_date",),
                         "catalog snapshots"),
    "bronze.candidates": _t("ingest", S.CANDIDATES, ("candidate_id", "plan_date"), ("plan_date",),
                            "candidate products per plan"),
    "bronze.launch_history_input": _t("ingest", S.LAUNCH_HISTORY_INPUT, ("item_id", "week"), (),
                                      "launch history given as a file (debut import launch_history)"),
    "quarantine.records": _t("ingest", S.QUARANTINE, ("record_hash",), ("source",),
                             "rejected landing rows with a reason"),
    "ops.ingest_files": _t("ingest", S.INGEST_FILES, ("source_file",), (), "landing files already ingested"),
    "ops.run_log": _t("ingest", S.RUN_LOG, ("job", "run_date", "source"), (),
                      "read = accepted + quarantined + duplicates"),
    "ops.stage_status": _t(ANY_STAGE, S.STAGE_STATUS, ("job", "run_date", "part"), (),
                           "stage parts run, skipped or failed, with a reason (written by any stage)"),
    "ops.leases": _t(ANY_STAGE, S.LEASES, ("lease",), (), "the run that holds the lake (one writer at a time)"),
    # silver: behaviour aggregates
    "silver.sessions": _t("aggregate", S.SESSIONS, ("session_key",), ("session_date",),
                          "sessions by inactivity gap"),
    "silver.item_daily": _t("aggregate", S.ITEM_DAILY, ("item_id", "date"), ("date",),
                            "per item and day: funnel, units, revenue"),
    "silver.category_daily": _t("aggregate", S.CATEGORY_DAILY, ("category", "date"), (), "per category and day"),
    "silver.user_item": _t("aggregate", S.USER_ITEM, ("user_key", "item_id"), (),
                           "implicit feedback weights, time-decayed"),
    "gold.launch_history": _t("aggregate", S.LAUNCH_HISTORY, ("item_id", "week"), (),
                              "first weeks of every past launch"),
    # gold: features
    "gold.customer_profile": _t("build_features", S.CUSTOMER_PROFILE, ("user_key",), (),
                                "RFM, affinities, taste embedding, segment"),
    "gold.segments": _t("build_features", S.SEGMENTS, ("segment",), (), "segment descriptions"),
    "gold.item_features": _t("build_features", S.ITEM_FEATURES, ("item_id",), (),
                             "content features of catalog items and candidates"),
    "gold.behaviour_sequences": _t("build_features", S.BEHAVIOUR_SEQUENCES, ("user_key",), (),
                                   "last N interactions per customer"),
    "gold.purchase_intent": _t("build_features", S.PURCHASE_INTENT, ("user_key", "category", "cutoff_date"), (),
                               "intent labels"),
    # gold: recommender
    "gold.als_user_factors": _t("train_als", S.ALS_USER_FACTORS, ("user_key",), (), "ALS user factors"),
    "gold.als_item_factors": _t("train_als", S.ALS_ITEM_FACTORS, ("item_id",), (),
                                "ALS item factors (warm + cold-start mapped)"),
    "gold.launch_audience": _t("train_als", S.LAUNCH_AUDIENCE, ("candidate_id", "user_key"), (),
                               "top-K customers per candidate"),
    "gold.audience_segment_mix": _t("train_als", S.SEGMENT_MIX, ("candidate_id", "segment"), (),
                                    "segment mix of each candidate's audience"),
    "gold.item_audience": _t("train_als", S.ITEM_AUDIENCE, ("item_id",), (),
                             "audience strength of every item from content alone"),
    "gold.recommendations": _t("train_als", S.RECOMMENDATIONS, ("user_key", "rank"), (),
                               "recommendation lists with exploration slots"),
    # gold: deep models
    "gold.demand_net_predictions": _t("train_deep", S.DEMAND_NET_PREDICTIONS, ("run_date", "item_id"),
                                      ("run_date",),
                                      "train_deep's demand network on past launches and candidates, "
                                      "with the date its training launches end before"),
    # gold: forecasts and decisions
    "gold.forecast_backtest": _t("forecast_launch", S.FORECAST_BACKTEST,
                                 ("run_date", "cutoff_date", "item_id", "method"), (),
                                 "backtest forecasts against actuals"),
    "gold.launch_forecast": _t("forecast_launch", _forecast, ("candidate_id", "plan_date"), ("plan_date",),
                               "demand quantiles"),
    "gold.launch_plan": _t("optimize_launch", S.PLAN_SCHEMA, ("category", "candidate_id", "plan_date"),
                           ("plan_date",), "launch decisions, one row per candidate"),
    "gold.launch_plan_status": _t("optimize_launch", S.PLAN_STATUS, ("category", "plan_date"), ("plan_date",),
                                  "the optimizer's outcome per category (solver status, reason)"),
    "gold.launch_outcomes": _t("evaluate", S.LAUNCH_OUTCOMES, ("plan_date", "policy", "candidate_id"), (),
                               "plans played against realised demand: later sales, or the simulator's truth"),
    "gold.evaluation": _t("evaluate", S.EVALUATION, ("run_date", "component", "metric", "slice"), (),
                          "every stage's metrics (written through debut.tracking.record_metrics)"),
    "gold.launch_adjustments": _t("adjust_launch", S.LAUNCH_ADJUSTMENTS, ("candidate_id", "as_of_date"), (),
                                  "post-launch decisions"),
}


def spec(name: str) -> TableSpec:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table '{name}' (known: {', '.join(sorted(TABLES))})") from None
