"""Launch optimizer: the optimize_launch job (debut.optimize.job) runs the per-category MILP
(debut.core.category_plan, shared with the evaluation's oracle) on Spark, and an on-demand
benchmark (debut.optimize.bench)."""
