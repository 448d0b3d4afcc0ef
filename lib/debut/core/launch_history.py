"""Launch histories given as a file (bronze.launch_history_input) as gold.launch_history rows.

Shared by aggregate (which joins them to the event-derived launches) and the
forecast (which reads them directly when gold.launch_history is absent).
Their weeks are the ones the file lists (a missing week stays missing, not 0),
``views`` is 0 (a file has none) and ``is_complete`` says whether the week
ended before run_date.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from debut import io, schemas


def to_imported_history(imported: DataFrame, *, run_date: dt.date, launch_weeks: int) -> DataFrame:
    """bronze.launch_history_input -> LAUNCH_HISTORY rows: the weeks 1..launch_weeks the file
    gives that started before run_date."""
    week_start = F.expr("date_add(launch_date, (week - 1) * 7)")
    return (
        imported
        .where(F.col("week").between(1, launch_weeks) & (week_start < F.lit(run_date)))
        .withColumn("is_launch_date_inferred", F.lit(False))
        .withColumn("week_start", week_start)
        .withColumn("views", F.lit(0).cast("long"))
        .withColumn("is_complete", F.date_add(F.col("week_start"), 6) < F.lit(run_date))
        .withColumn("as_of_date", F.lit(run_date))
        .transform(lambda df: io.select_schema(df, schemas.LAUNCH_HISTORY))
    )


def with_imported_history(history: DataFrame, imported: DataFrame, *, run_date: dt.date,
                          launch_weeks: int) -> DataFrame:
    """LAUNCH_HISTORY rows plus those of imported items that ``history`` does not hold."""
    extra = (to_imported_history(imported, run_date=run_date, launch_weeks=launch_weeks)
             .join(history.select("item_id").distinct(), on="item_id", how="left_anti"))
    return history.unionByName(extra)
