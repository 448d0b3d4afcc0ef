# Databricks notebook source
# MAGIC %md
# MAGIC # 01 · Explore the marketplace
# MAGIC Simulate (or point at real landing data), ingest, aggregate and build features, then look at
# MAGIC what the marketplace sells: daily units per category, the first weeks of past launches,
# MAGIC and the customer segments. Every table is read through `debut.io`; nothing here collects
# MAGIC customer-level data to the driver (only aggregates are converted to pandas for plots).

# COMMAND ----------

import datetime as dt

import matplotlib.pyplot as plt
from pyspark.sql import functions as F

from debut import io
from debut.cli import run_job
from debut.config import load_config

ENV = "local"                     # "databricks" on a workspace (conf/envs/databricks.yaml)
RUN_DATE = dt.date(2026, 10, 1)
RUN_STAGES = True                 # False: only read tables an earlier run wrote
conf = load_config(ENV)

try:
    spark  # noqa: F821 - defined on Databricks
except NameError:
    from debut.spark import get_spark
    spark = get_spark(conf, app_name="debut-notebook")

# COMMAND ----------

if RUN_STAGES:
    for stage in ("simulate", "ingest", "aggregate", "build_features"):
        print("running", stage)
        run_job(stage, conf, RUN_DATE, spark=spark)

# COMMAND ----------

# MAGIC %md ## Tables and their sizes

# COMMAND ----------

for row in io.describe_tables(spark, conf):
    print(f"{row['table']:<28} {row['rows'] if row['rows'] is not None else '-':>10}  v{row['version']}")

# COMMAND ----------

# MAGIC %md ## Daily units per category

# COMMAND ----------

cat_daily = (io.read(spark, conf, "silver.category_daily")
             .groupBy("category", "date").agg(F.sum("units").alias("units"))
             .orderBy("date").toPandas())          # categories x days: bounded
pivot = cat_daily.pivot(index="date", columns="category", values="units").fillna(0)
ax = pivot.rolling(7, min_periods=1).mean().plot(figsize=(10, 4), title="units per day (7-day mean)")
ax.set_ylabel("units")
plt.show()

# COMMAND ----------

# MAGIC %md ## Past launches: units by week since launch

# COMMAND ----------

lh = (io.read(spark, conf, "gold.launch_history")
      .groupBy("category", "week").agg(F.avg("units").alias("mean_units"), F.count("*").alias("launches"))
      .orderBy("category", "week").toPandas())
fig, ax = plt.subplots(figsize=(8, 4))
for cat, g in lh.groupby("category"):
    ax.plot(g["week"], g["mean_units"], marker="o", label=cat)
ax.set_xlabel("week since launch")
ax.set_ylabel("mean units per launch")
ax.legend(fontsize=7)
plt.show()

# COMMAND ----------

# MAGIC %md ## Customer segments

# COMMAND ----------

seg = io.read(spark, conf, "gold.segments").orderBy("segment")
seg.select("segment", "label", "size", "share", "top_categories", "mean_price_sensitivity",
           "mean_frequency", "mean_monetary").show(truncate=False)
