# Databricks notebook source
# MAGIC %md
# MAGIC # 02 · Review the launch plan
# MAGIC Run forecast -> optimize -> evaluate -> adjust -> report for a run date and review the
# MAGIC decisions per category: why each candidate was launched or not, its closest past launches,
# MAGIC its predicted audience, its risk, and (on the simulator) how the plan did against the oracle
# MAGIC and how the adjusted plan compares with the static one.

# COMMAND ----------

import datetime as dt

import matplotlib.pyplot as plt
from pyspark.sql import functions as F

from debut import io
from debut.cli import run_job
from debut.config import load_config

ENV = "local"
RUN_DATE = dt.date(2026, 10, 1)
STAGES = ("train_als", "train_deep", "forecast_launch", "optimize_launch", "evaluate", "evaluate_truth", "adjust_launch", "report")
RUN_STAGES = True
conf = load_config(ENV)

try:
    spark  # noqa: F821 - defined on Databricks
except NameError:
    from debut.spark import get_spark
    spark = get_spark(conf, app_name="debut-notebook")

# COMMAND ----------

if RUN_STAGES:
    for stage in STAGES:
        print("running", stage)
        run_job(stage, conf, RUN_DATE, spark=spark)

# COMMAND ----------

# MAGIC %md ## The plan, per category, with its explanation

# COMMAND ----------

plan = io.read(spark, conf, "gold.launch_plan")
plan_date = plan.where(F.col("plan_date") <= F.lit(RUN_DATE)).agg(F.max("plan_date")).first()[0]
fc = (io.read(spark, conf, "gold.launch_forecast").where(F.col("plan_date") == F.lit(plan_date))
      .select("candidate_id", "title", "units_p10", "units_p50", "units_p90",
              F.expr("transform(slice(neighbours, 1, 3), n -> concat(n.title, ' (', round(n.units), ')'))")
              .alias("closest_past_launches")))
view = (plan.where(F.col("plan_date") == F.lit(plan_date))
        .join(fc, on="candidate_id", how="left")
        .select("category", "candidate_id", "title", "launch", "quantity", "expected_profit", "profit_p10",
                "stockout_prob", "margin_rate", "units_p10", "units_p50", "units_p90", "reason",
                "closest_past_launches")
        .orderBy("category", F.desc("launch"), "decision_rank"))
try:
    display(view)  # noqa: F821 - Databricks
except NameError:
    view.show(60, truncate=60)

# COMMAND ----------

# MAGIC %md ## Predicted audience segments of the launched candidates

# COMMAND ----------

launched = [r["candidate_id"] for r in view.where("launch").select("candidate_id").collect()]   # bounded by shelf slots
mix = (io.read(spark, conf, "gold.audience_segment_mix").where(F.col("candidate_id").isin(launched))
       .join(io.read(spark, conf, "gold.segments").select("segment", "label"), on="segment", how="left")
       .orderBy("candidate_id", F.desc("share")))
mix.show(60, truncate=False)

# COMMAND ----------

# MAGIC %md ## Profit against the oracle and the naive policies; static against adjusted

# COMMAND ----------

out = io.read(spark, conf, "gold.launch_outcomes").where(F.col("plan_date") == F.lit(plan_date))
totals = out.groupBy("demand_source", "policy").agg(F.sum("profit").alias("profit")).toPandas()
print(totals.sort_values(["demand_source", "profit"], ascending=[True, False]).to_string(index=False))
ax = totals.set_index("policy")["profit"].sort_values().plot.barh(figsize=(7, 3), title="realised profit")
plt.show()

# COMMAND ----------

# MAGIC %md ## Metrics of this run, and the report

# COMMAND ----------

io.read(spark, conf, "gold.evaluation").where(F.col("run_date") == F.lit(RUN_DATE)) \
    .select("component", "metric", "slice", "value", "n").orderBy("component", "metric", "slice").show(200, False)

from debut.report.job import report_path  # noqa: E402

print("report:", report_path(conf, RUN_DATE))
