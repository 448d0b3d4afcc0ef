"""train_deep: CTR/purchase, behaviour-sequence and new-product demand models.

Spark DataFrame (column contracts in :mod:`debut.deep.tasks`) -> Petastorm
cache (:mod:`debut.deep.data`) -> ``horovod.spark.run`` or TorchDistributor
processes running one loop (:mod:`debut.deep.loop`) -> MLflow model
registered by name (:mod:`debut.deep.registry`) -> batch scoring with
``mapInPandas`` (:mod:`debut.deep.score`). Settings: :class:`DeepConf`.
Training sets are assembled from the lakehouse by :mod:`debut.deep.datasets`
(time-based holdout; ``ctr_pairs`` and ``demand_inputs`` build the same
columns for scoring); the ``train_deep`` job is :mod:`debut.deep.job`.

    from debut.deep.train import train
    from debut.deep.score import score
    result = train(spark, conf, ctr_df, "ctr", deep=DeepConf())
    scored = score(candidates_df, conf, "ctr", version="latest")

    # the forecaster: candidates' demand quantiles from the registered demand net
    from debut.deep.datasets import demand_inputs
    q = score(demand_inputs(spark, conf, candidates_df, plan_date), conf, "demand")

Importing this package pulls in neither torch nor petastorm nor mlflow.
"""
from debut.deep.conf import DeepConf, deep_conf

__all__ = ["DeepConf", "deep_conf"]
