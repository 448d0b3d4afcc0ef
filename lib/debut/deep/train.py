"""Driver side of train_deep: validate -> Petastorm -> distributed training -> MLflow.

``train(spark, conf, df, "ctr" | "sequence" | "demand")`` trains one model on
a DataFrame that follows the task's contract (see :mod:`debut.deep.tasks`),
logs params, per-epoch metrics and the model (with signature and input
example) to the ``<prefix>/train_deep`` experiment and registers it under
``deep.<task>_model_name``.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from pyspark.sql import DataFrame, SparkSession

from debut.config import Config, flatten
from debut.deep.conf import DeepConf, deep_conf
from debut.deep.data import converters, min_shard_rows, steps_per_epoch, val_steps
from debut.deep.loop import TrainJob, horovod_train_fn, load_state, torch_distributor_train_fn
from debut.deep.models import ServingModel
from debut.deep.registry import JOB, log_model, model_spec
from debut.deep.tasks import get_task, validate_input

log = logging.getLogger(__name__)
MIN_BATCH_SIZE = 16          # smallest batch effective_batch_size chooses (unless the shard is smaller)


@dataclass(frozen=True)
class TrainResult:
    task: str
    model_name: Optional[str]
    version: Optional[int]               # registered version (None when register=False)
    run_id: Optional[str]
    best_epoch: int
    best_val_loss: float
    history: List[Dict[str, float]]
    dims: Dict[str, int]
    counts: Dict[str, int]
    model: ServingModel = field(repr=False)
    seconds: float = 0.0


def run_distributed(spark: SparkSession, job: TrainJob) -> Dict[str, Any]:
    """Run the loop on ``job.deep.num_proc`` processes with the configured backend; rank 0's result."""
    deep = job.deep
    if deep.backend == "horovod":
        import horovod.spark

        # petastorm's pyarrow deprecation warnings would flood the driver log from every rank
        env = {"PYTHONWARNINGS": "ignore::FutureWarning,ignore::DeprecationWarning"}
        results = horovod.spark.run(horovod_train_fn, args=(job,), num_proc=deep.num_proc,
                                    start_timeout=deep.start_timeout, env=env, verbose=0)
        return next(r for r in results if r["rank"] == 0)
    import pickle
    import shutil
    import tempfile

    from pyspark.ml.torch.distributor import TorchDistributor

    local = deep.distributor_local_mode
    use_gpu = _has_cuda() if local else spark.conf.get("spark.task.resource.gpu.amount", None) is not None
    distributor = TorchDistributor(num_processes=deep.num_proc, local_mode=local, use_gpu=use_gpu)
    if not local:
        return distributor.run(torch_distributor_train_fn, job)    # the task of partition 0 returns
    tmp = tempfile.mkdtemp(prefix="debut-deep-")
    try:
        job = dataclasses.replace(job, result_path=os.path.join(tmp, "rank0.pickle"))
        distributor.run(torch_distributor_train_fn, job)
        with open(job.result_path, "rb") as f:
            return pickle.load(f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def effective_batch_size(min_shard_rows: int, deep: DeepConf) -> int:
    """``deep.batch_size``, made smaller for small sets so that an epoch has at least
    ``deep.min_steps_per_epoch`` steps on the smallest shard (never below 16 rows, or the shard)."""
    floor = min(deep.batch_size, MIN_BATCH_SIZE, max(1, min_shard_rows))
    return max(floor, min(deep.batch_size, min_shard_rows // deep.min_steps_per_epoch))


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def train(spark: SparkSession, conf: Config, df: DataFrame, task: str, *,
          deep: Optional[DeepConf] = None, val_df: Optional[DataFrame] = None,
          run_date: Optional[str] = None, dims: Optional[Mapping[str, int]] = None,
          register: bool = True) -> TrainResult:
    """Train one deep model on ``df`` (and ``val_df``, else a random split of ``df``).

    ``dims`` overrides inferred dimensions (e.g. ``{"num_categories": 40}`` so
    the sequence model's vocabulary does not depend on the sample).
    """
    import mlflow

    started = time.perf_counter()
    deep = deep_conf(conf, deep)
    t = get_task(task)
    run_date = run_date or conf.run_date or "unknown"
    clean, model_dims, counts = validate_input(df, t, deep, dims)
    if val_df is None:
        train_df, valid_df = clean.randomSplit([1.0 - deep.val_fraction, deep.val_fraction], seed=deep.seed)
    else:
        train_df = clean
        valid_df, _, val_counts = validate_input(val_df, t, deep, model_dims)
        counts.update({f"val_{k}": v for k, v in val_counts.items()})

    with converters(spark, conf, deep, {"train": train_df, "val": valid_df}) as conv:
        train_rows = min_shard_rows(conv["train"], deep.num_proc)
        val_rows = min_shard_rows(conv["val"], deep.num_proc)
        batch = effective_batch_size(train_rows, deep)
        job = TrainJob(task=task, dims=dict(model_dims), deep=deep.replace(batch_size=batch),
                       train_converter=conv["train"], val_converter=conv["val"],
                       steps_per_epoch=steps_per_epoch(train_rows, batch), val_steps=val_steps(val_rows, batch))
        counts.update({"train_rows": len(conv["train"]), "val_rows": len(conv["val"]),
                       "min_shard_train_rows": train_rows, "min_shard_val_rows": val_rows,
                       "effective_batch_size": batch})
        log.info("train_deep %s: %s, %d steps/epoch on %d %s processes", task, counts, job.steps_per_epoch,
                 deep.num_proc, deep.backend)
        result = run_distributed(spark, job)
        example_pdf = valid_df.limit(5).toPandas()

    if result.get("state_dict") is None:
        raise RuntimeError(f"{task}: training returned no checkpoint (val loss never finite?): "
                           f"{result.get('history')}")
    model = load_state(t.build_model(model_dims, deep), result["state_dict"])
    serving = ServingModel(model)
    x_example, _ = t.pack_pandas(example_pdf, t.feature_widths(model))
    seconds = time.perf_counter() - started

    run_id = version = None
    name = deep.model_name(task) if register else None
    from debut import tracking

    exp_id = tracking.setup(conf, JOB)
    # inside the train_deep job's run, each model gets a nested run of its own
    with mlflow.start_run(experiment_id=exp_id, run_name=f"{JOB}-{task}-{run_date}",
                          nested=mlflow.active_run() is not None) as run:
        run_id = run.info.run_id
        mlflow.set_tags({"debut.job": JOB, "debut.run_date": run_date, "debut.env": conf.env,
                         "debut.deep.task": task, "debut.deep.backend": deep.backend})
        params = {f"deep.{k}": (json.dumps(v) if isinstance(v, (list, tuple)) else v)
                  for k, v in flatten(deep).items()}
        params.update({f"dims.{k}": v for k, v in model_dims.items()})
        params.update({"steps_per_epoch": job.steps_per_epoch, "val_steps": job.val_steps})
        mlflow.log_params(params)
        _log_history(result["history"])
        mlflow.log_metrics({"best_val_loss": result["best_val_loss"], "best_epoch": result["best_epoch"],
                            "train_seconds_total": seconds, **{k: float(v) for k, v in counts.items()}})
        info = log_model(serving, x_example, name, model_spec(task, model_dims, deep))
        if register:
            version = int(info.registered_model_version)
    return TrainResult(task=task, model_name=name, version=version, run_id=run_id,
                       best_epoch=result["best_epoch"], best_val_loss=result["best_val_loss"],
                       history=result["history"], dims=dict(model_dims), counts=counts, model=serving,
                       seconds=seconds)


def _log_history(history: List[Dict[str, float]]) -> None:
    import mlflow
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    metrics = [Metric(key, float(value), now, int(h["epoch"]))
               for h in history for key, value in h.items() if key != "epoch"]
    client = mlflow.tracking.MlflowClient()
    run_id = mlflow.active_run().info.run_id
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i:i + 500])
