"""Contracts of the tables the forecast stage writes.

gold.launch_forecast: one row per candidate of a plan (key candidate_id,
plan_date; partitioned by plan_date). The optimizer samples demand scenarios
from ``quantile_levels``/``quantile_units`` by inverse CDF; the report shows
``neighbours``. Quantile column names follow ``forecast.quantiles``
(0.1 -> units_p10, weekly_p10); the columns below are those of the defaults.
"""
from __future__ import annotations

from typing import Sequence

from pyspark.sql import types as T

NEIGHBOUR = T.StructType([
    T.StructField("item_id", T.StringType(), True),
    T.StructField("title", T.StringType(), True),
    T.StructField("similarity", T.DoubleType(), True),
    T.StructField("units", T.DoubleType(), True),          # its units over the horizon (as used)
])

METHODS = ("blend", "knn_only", "category_fallback")


def quantile_name(q: float) -> str:
    """0.1 -> 'p10', 0.975 -> 'p97_5'."""
    return "p" + f"{round(q * 100, 6):g}".replace(".", "_")


def launch_forecast_schema(quantiles: Sequence[float] = (0.1, 0.5, 0.9)) -> T.StructType:
    names = [quantile_name(q) for q in quantiles]
    return T.StructType([
        T.StructField("candidate_id", T.StringType(), False),
        T.StructField("plan_date", T.DateType(), False),
        T.StructField("category", T.StringType(), False),
        T.StructField("subcategory", T.StringType(), True),
        T.StructField("brand", T.StringType(), True),
        T.StructField("title", T.StringType(), True),
        T.StructField("price", T.DoubleType(), True),
        T.StructField("unit_cost", T.DoubleType(), True),
        T.StructField("price_band", T.IntegerType(), True),
        T.StructField("horizon_weeks", T.IntegerType(), False),
        T.StructField("mean_units", T.DoubleType(), False),     # mean of quantile_units (the scenario grid)
        *[T.StructField(f"units_{n}", T.DoubleType(), False) for n in names],
        *[T.StructField(f"weekly_{n}", T.ArrayType(T.DoubleType()), False) for n in names],
        T.StructField("quantile_levels", T.ArrayType(T.DoubleType()), False),   # 1/(L+1) .. L/(L+1)
        T.StructField("quantile_units", T.ArrayType(T.DoubleType()), False),    # total units, non-decreasing
        T.StructField("knn_units", T.DoubleType(), True),       # component P50s; null when absent
        T.StructField("net_units", T.DoubleType(), True),
        T.StructField("audience_units", T.DoubleType(), True),
        T.StructField("weights", T.MapType(T.StringType(), T.DoubleType()), True),
        T.StructField("neighbours", T.ArrayType(NEIGHBOUR), True),
        T.StructField("method", T.StringType(), False),          # METHODS
        T.StructField("n_history", T.IntegerType(), False),      # past launches the forecast learned from
        T.StructField("as_of_date", T.DateType(), False),
    ])


LAUNCH_FORECAST = launch_forecast_schema()

# gold.forecast_backtest: one row per cutoff, past launch and method.
FORECAST_BACKTEST = T.StructType([
    T.StructField("cutoff_date", T.DateType(), False),
    T.StructField("item_id", T.StringType(), False),
    T.StructField("method", T.StringType(), False),          # blend | knn | category_mean
    T.StructField("category", T.StringType(), False),
    T.StructField("launch_date", T.DateType(), False),
    T.StructField("actual", T.DoubleType(), False),          # units over the horizon
    T.StructField("p10", T.DoubleType(), True),              # lower / middle / upper forecast.quantiles
    T.StructField("p50", T.DoubleType(), True),
    T.StructField("p90", T.DoubleType(), True),
    T.StructField("mean_units", T.DoubleType(), True),
    T.StructField("n_train", T.IntegerType(), False),        # past launches known at the cutoff
    T.StructField("run_date", T.DateType(), False),
])
