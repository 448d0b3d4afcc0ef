"""train_deep: CTR/purchase, behaviour-sequence and new-product demand models.

Spark DataFrame (column contracts in :mod:`debut.deep.tasks`) -> Petastorm
cache (:mod:`debut.deep.data`) -> ``horovod.spark.run`` or TorchDistributor
processes running one loop (:mod:`debut.deep.loop`) -> MLflow model
registered by name (:mod:`debut.deep.registry`) -> batch scoring with
``mapInPandas`` (:mod:`debut.deep.score`). Settings: :class:`DeepConf`.

    from debut.deep.train import train
    from debut.deep.score import score
    result = train(spark, conf, ctr_df, "ctr", deep=DeepConf())
    scored = score(candidates_df, conf, "ctr", version="latest")

Importing this package pulls in neither torch nor petastorm nor mlflow.
"""
from debut.deep.conf import DeepConf, deep_conf

__all__ = ["DeepConf", "deep_conf"]
