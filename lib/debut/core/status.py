"""ops.stage_status: what each part of a stage did with this run's inputs, and why it did not.

A stage whose input is missing (no customer ids in the export, so no profiles,
ALS or audiences) records the part as ``skipped`` with the reason, prints one
line and goes on; the report lists every part that did not run. A record replaces
the rows of its (job, run_date, part) keys in one commit (``replaceWhere`` on
those keys: no join against the table, as a MERGE would run): a rerun replaces
its own rows and writes the same ones.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable, Optional, Tuple

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from debut import io
from debut.config import Config
from debut.schemas import STAGE_STATUS

TABLE = "ops.stage_status"
OK, SKIPPED, FAILED = "ok", "skipped", "failed"

NO_EVENTS = "no customer ids: bronze.events does not exist"
NO_INTERACTIONS = "no customer ids: silver.user_item has no customer interaction"

# (part, status, reason, rows)
Part = Tuple[str, str, Optional[str], Optional[int]]


def missing_customers(spark: SparkSession, conf: Config) -> Optional[str]:
    """Why the customer parts cannot run (None when silver.user_item has a customer interaction).

    Reads at most one row: an export without customer ids (guest order lines
    only) makes no events, so no user-keyed interaction."""
    if not io.exists(spark, conf, "bronze.events"):
        return NO_EVENTS
    ui = io.read(spark, conf, "silver.user_item")        # missing: aggregate has not run (MissingTableError)
    if ui.where(F.col("user_key").isNotNull() & (F.col("weight") > 0)).limit(1).count() == 0:
        return NO_INTERACTIONS
    return None


def record(spark: SparkSession, conf: Config, job: str, run_date: dt.date, parts: Iterable[Part]) -> None:
    """Write the parts' rows into ops.stage_status (replacing the rows of the same job, run_date and
    part) and print one line per part not ok."""
    rows = [(job, run_date, part, status, reason, None if n is None else int(n))
            for part, status, reason, n in parts]
    for _, _, part, status, reason, _ in rows:
        if status not in (OK, SKIPPED, FAILED):
            raise ValueError(f"stage status {status!r} of {job}.{part}: expected ok, skipped or failed")
        if status != OK:
            print(f"[{job}] {part} {status.upper()}: {reason}", flush=True)
    if rows:
        io.replace_keys(spark.createDataFrame(rows, STAGE_STATUS), conf, TABLE, ("job", "run_date", "part"),
                        [r[:3] for r in rows])


def not_done(spark: SparkSession, conf: Config, run_date: dt.date):
    """The parts of run_date that were skipped or failed, as pandas (bounded by stages x parts); None if none."""
    if not io.exists(spark, conf, TABLE):
        return None
    pdf = (io.read(spark, conf, TABLE).where((F.col("run_date") == F.lit(run_date)) & (F.col("status") != OK))
           .select("job", "part", "status", "reason").orderBy("job", "part").toPandas())
    return pdf if len(pdf) else None
