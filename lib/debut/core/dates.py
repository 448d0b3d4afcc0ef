"""Dates as Spark columns and the as-of cut: "as of" a date means data strictly before it.

A run on run_date then never sees a partial day, and labels for
[cutoff, run_date) are fully observable.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Union

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

AS_OF = "as_of_date"
AsOf = Union[dt.date, Column]     # one cut-off, or each row's own (several cut-offs in one pass)


def lit_date(d: dt.date) -> Column:
    return F.lit(d.isoformat()).cast("date")


def as_of_col(as_of: AsOf) -> Column:
    """The cut-off as a column: a date as a literal, a column as it is."""
    return as_of if isinstance(as_of, Column) else lit_date(as_of)


def filter_before(df: DataFrame, *, date_col: str, as_of: AsOf) -> DataFrame:
    """Rows dated strictly before ``as_of`` (a date, or a column of each row's own cut-off)."""
    return df.where(F.col(date_col) < as_of_col(as_of))


def explode_as_of(df: DataFrame, *, date_col: str, as_ofs: Iterable[dt.date]) -> DataFrame:
    """One copy of each row per cut-off of ``as_ofs`` it is dated before, that cut-off in ``as_of_date``.

    Several as-of cuts then come out of one aggregation grouped by (key, as_of_date)
    instead of one aggregation per date: the same rows, far fewer Spark jobs."""
    dates = sorted(set(as_ofs))
    return (df.withColumn(AS_OF, F.explode(F.array(*[lit_date(d) for d in dates])))
            .where(F.col(date_col) < F.col(AS_OF)))


def days_between(later: Column, earlier: Column) -> Column:
    return F.datediff(later, earlier).cast("int")
