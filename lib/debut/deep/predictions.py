"""gold.demand_net_predictions: the trained demand network's quantiles for past launches and candidates.

train_deep writes them right after registering the network, with the date its
training launches end before (``trained_before``), so forecast_launch reads a
table instead of re-scoring the model and guessing the split from config.
Every item is scored as of the run date (the plan date), the way the
forecaster uses the network. Rows are bounded by launches + candidates.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Optional, Sequence, Tuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from debut import io
from debut import schemas as S
from debut.config import Config

TABLE = "gold.demand_net_predictions"


def _quantile_column(q: float) -> str:
    from debut.deep.tasks import quantile_suffix

    return f"demand_{quantile_suffix(q)}"


def demand_items(launch_history_df: DataFrame, candidates_df: Optional[DataFrame], *, plan_date: dt.date) -> DataFrame:
    """(item_id, is_candidate, launch_date): every past launch and every candidate of ``plan_date``."""
    launches = (launch_history_df.groupBy("item_id").agg(F.min("launch_date").alias("launch_date"))
                .withColumn("is_candidate", F.lit(False)))
    if candidates_df is None:
        return launches.select("item_id", "is_candidate", "launch_date")
    cands = (candidates_df.where(F.col("plan_date") == F.lit(plan_date))
             .select(F.col("candidate_id").alias("item_id"), F.lit(True).alias("is_candidate"),
                     F.lit(None).cast("date").alias("launch_date")))
    both = launches.unionByName(cands)
    # an id that is both a past launch and a candidate counts as a candidate (it is planned)
    return (both.groupBy("item_id").agg(F.max("is_candidate").alias("is_candidate"),
                                         F.min("launch_date").alias("launch_date"))
            .select("item_id", "is_candidate", "launch_date"))


def to_demand_net_predictions(scored_df: DataFrame, *, run_date: dt.date, trained_before: dt.date,
                              model_name: str, model_version: int, quantiles: Sequence[float]) -> DataFrame:
    """The table's rows from scored items (item_id, is_candidate, launch_date, demand_q* columns)."""
    qs = [float(q) for q in quantiles]
    cols = [F.col(_quantile_column(q)) for q in qs]
    values = F.when(cols[0].isNull(), F.lit(None)).otherwise(F.array(*[c.cast("double") for c in cols]))
    out = scored_df.select(
        F.lit(run_date).cast("date").alias("run_date"), "item_id", "is_candidate", "launch_date",
        F.lit(run_date).cast("date").alias("as_of_date"), F.lit(trained_before).cast("date").alias("trained_before"),
        F.lit(model_name).alias("model_name"), F.lit(int(model_version)).cast("int").alias("model_version"),
        F.array(*[F.lit(q) for q in qs]).alias("quantile_levels"), values.alias("quantile_log1p"))
    return io.select_schema(out, S.DEMAND_NET_PREDICTIONS)


def write_demand_predictions(spark: SparkSession, conf: Config, run_date: dt.date, *, version: int,
                             trained_before: dt.date, model: Optional[Tuple[Any, Mapping[str, Any]]] = None) -> int:
    """Score every past launch and candidate with the registered network ``version`` (``model``: that
    version already in memory, with its spec); replace the run date's rows of
    gold.demand_net_predictions. Returns the number of rows written."""
    from debut.deep.datasets import demand_inputs
    from debut.deep.score import score

    cands = io.read(spark, conf, "bronze.candidates") if io.exists(spark, conf, "bronze.candidates") else None
    items = demand_items(io.read(spark, conf, "gold.launch_history"), cands, plan_date=run_date)
    launched = items.select("item_id", F.col("launch_date").alias("_launch_date"))
    inputs = demand_inputs(spark, conf, items.select("item_id", "is_candidate"), run_date)
    name = conf.deep.model_name("demand")
    scored = (score(inputs, conf, "demand", version=version, name=name, keep=["item_id", "is_candidate"],
                    model=model)
              .join(launched, on="item_id", how="left").withColumnRenamed("_launch_date", "launch_date"))
    rows = to_demand_net_predictions(scored, run_date=run_date, trained_before=trained_before, model_name=name,
                                     model_version=version, quantiles=conf.deep.quantiles)
    rows = rows.persist()
    try:
        n = rows.count()
        io.replace_where(rows, conf, TABLE, f"run_date = '{run_date.isoformat()}'")
    finally:
        rows.unpersist()
    return n
