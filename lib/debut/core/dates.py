"""Dates as Spark columns and the as-of cut: "as of" a date means data strictly before it.

A run on run_date then never sees a partial day, and labels for
[cutoff, run_date) are fully observable.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def lit_date(d: dt.date) -> Column:
    return F.lit(d.isoformat()).cast("date")


def filter_before(df: DataFrame, *, date_col: str, as_of: dt.date) -> DataFrame:
    """Rows dated strictly before ``as_of``."""
    return df.where(F.col(date_col) < lit_date(as_of))


def days_between(later: Column, earlier: Column) -> Column:
    return F.datediff(later, earlier).cast("int")
