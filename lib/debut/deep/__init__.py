"""train_deep: CTR/purchase, behaviour-sequence and new-product demand models.

Spark DataFrame (contract in :mod:`debut.deep.tasks`) -> Petastorm cache ->
``horovod.spark.run`` (or TorchDistributor) processes running one loop
(:mod:`debut.deep.loop`) -> MLflow model registered by name -> batch scoring
with ``mapInPandas`` (:mod:`debut.deep.score`). Settings: :class:`DeepConf`.

Modules: conf (settings), models (torch modules, no Spark), tasks (column
contracts, losses, score columns), data (Petastorm), loop (per-process
training), train (driver), registry (MLflow), score (Spark scoring), bench.
"""
from debut.deep.conf import DeepConf, deep_conf

__all__ = ["DeepConf", "deep_conf", "train", "score", "load_registered"]


def __getattr__(name):  # lazy: importing debut.deep must not pull in torch/mlflow/petastorm
    if name == "train":
        from debut.deep.train import train
        return train
    if name == "score":
        from debut.deep.score import score
        return score
    if name == "load_registered":
        from debut.deep.registry import load_registered
        return load_registered
    raise AttributeError(name)
