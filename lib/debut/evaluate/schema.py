"""Contract of gold.launch_outcomes: each policy's plan played against realised demand.

One row per plan_date x policy x candidate (key). ``demand_source`` says what the
demand was: "truth" (the simulator's candidate_demand.parquet: every candidate
live, unlimited stock), "play_forward" (the simulator replaying only the plan's
launched candidates, for the static vs adjusted closed loop) or "sales" (later
sales in silver.item_daily on real data; censored by stock). Rows of candidates
a policy did not launch have launched=false, quantity 0 and the candidate's
demand, so the oracle rows double as the per-candidate actuals.
"""
from __future__ import annotations

from pyspark.sql import types as T

POLICY_PLAN = "plan"                 # the optimizer's gold.launch_plan
POLICY_ORACLE = "oracle"             # best plan knowing the realised demand
POLICY_CEILING_MEAN = "ceiling_exact_mean"     # simulator only: the MILP fed each candidate's exact
                                                #   expected demand (what no forecast can beat on average)
POLICY_CEILING_ATTRIBUTES = "ceiling_attributes"  # simulator only: the MILP fed the demand the attributes
                                                #   imply, noise integrated out (the best pre-launch forecast)
POLICY_STATIC = "static"             # closed loop: the plan, never adjusted
POLICY_ADJUSTED = "adjusted"         # closed loop: the plan with the adjust rules

LAUNCH_OUTCOMES = T.StructType([
    T.StructField("plan_date", T.DateType(), False),
    T.StructField("policy", T.StringType(), False),
    T.StructField("candidate_id", T.StringType(), False),
    T.StructField("category", T.StringType(), True),
    T.StructField("demand_source", T.StringType(), False),
    T.StructField("launched", T.BooleanType(), False),
    T.StructField("quantity", T.IntegerType(), False),      # initial stock
    T.StructField("reorder_units", T.IntegerType(), False),
    T.StructField("reorders", T.IntegerType(), False),
    T.StructField("demand", T.LongType(), True),            # units wanted over the horizon
    T.StructField("weekly_demand", T.ArrayType(T.LongType()), True),
    T.StructField("units_sold", T.LongType(), True),
    T.StructField("lost_units", T.LongType(), True),
    T.StructField("leftover", T.LongType(), True),
    T.StructField("revenue", T.DoubleType(), True),
    T.StructField("stock_cost", T.DoubleType(), True),
    T.StructField("fixed_cost", T.DoubleType(), True),      # launch cost + reorder costs
    T.StructField("salvage", T.DoubleType(), True),
    T.StructField("profit", T.DoubleType(), True),
    T.StructField("actions", T.StringType(), True),         # adjusted policy: "day 14: reorder 30; ..."
    T.StructField("run_date", T.DateType(), False),
])
