"""Contracts of the tables the forecast stage writes (defined in debut.schemas).

gold.launch_forecast: one row per candidate of a plan (key candidate_id,
plan_date; partitioned by plan_date); gold.forecast_backtest: one row per
cutoff, past launch and method.
"""
from debut.schemas import (FORECAST_BACKTEST, LAUNCH_FORECAST, METHODS, NEIGHBOUR,  # noqa: F401
                           launch_forecast_schema, quantile_name)
