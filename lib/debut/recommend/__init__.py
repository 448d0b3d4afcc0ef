"""train_als: implicit ALS recommendations, cold-start factors for never-sold items, launch audiences.

Modules, one idea each:
  data       id tables (zipWithIndex), the time-based validation split, cold hold-out items
  als        Spark ML ALS fit and factor tables
  coldstart  item content -> ALS item factors (ridge with leave-one-out alpha, or a small MLP)
  scoring    top-N items per customer (exploration slots) and top-K customers per item, mapInPandas
  metrics    precision / recall / NDCG / MAP @k and coverage as Spark aggregations
  audience   gold.launch_audience, gold.item_audience and gold.audience_segment_mix rows
  job        run(spark, conf, run_date)
  bench      on-demand benchmark: Spark ALS against the `implicit` library

Importing this package pulls in neither Spark ML nor mlflow.
"""
