"""Driver side of train_deep: validate -> Petastorm -> distributed training -> MLflow.

``train(spark, conf, df, "ctr" | "sequence" | "demand")`` trains one model on
a DataFrame that follows the task's contract (see :mod:`debut.deep.tasks`),
logs params, per-epoch metrics and the model (with signature and input
example) to the ``<prefix>/train_deep`` experiment and registers it under
``deep.<task>_model_name``. ``prepare`` each model, then ``fit`` them together: one launch
of the training processes (process start, imports, rendezvous) trains them all in turn.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from pyspark.sql import DataFrame, SparkSession

from debut.config import Config, flatten
from debut.deep.conf import DeepConf, deep_conf
from debut.deep.data import converters, head_rows, min_shard_rows, steps_per_epoch, val_steps
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
    spec: Dict[str, Any] = field(default_factory=dict)   # what rebuilding the model needs besides its weights


def run_distributed(spark: SparkSession, job: Union[TrainJob, Sequence[TrainJob]]) -> Any:
    """Run the loop on ``deep.num_proc`` processes with the configured backend; rank 0's result
    (a list of results, one per job, when given several jobs: one launch trains them in turn)."""
    several = not isinstance(job, TrainJob)
    jobs = list(job) if several else [job]
    deep = jobs[0].deep
    if deep.backend == "horovod":
        import horovod.spark

        # petastorm's pyarrow deprecation warnings would flood the driver log from every rank
        env = {"PYTHONWARNINGS": "ignore::FutureWarning,ignore::DeprecationWarning"}
        results = horovod.spark.run(horovod_train_fn, args=(jobs if several else job,), num_proc=deep.num_proc,
                                    start_timeout=deep.start_timeout, env=env, verbose=0)
        return _rank0(results, several)
    import pickle
    import shutil
    import tempfile

    from pyspark.ml.torch.distributor import TorchDistributor

    local = deep.distributor_local_mode
    use_gpu = _has_cuda() if local else spark.conf.get("spark.task.resource.gpu.amount", None) is not None
    distributor = TorchDistributor(num_processes=deep.num_proc, local_mode=local, use_gpu=use_gpu)
    if not local:
        return distributor.run(torch_distributor_train_fn, jobs if several else job)   # partition 0's task returns
    tmp = tempfile.mkdtemp(prefix="debut-deep-")
    try:
        path = os.path.join(tmp, "rank0.pickle")
        jobs = [dataclasses.replace(j, result_path=path) for j in jobs]
        distributor.run(torch_distributor_train_fn, jobs if several else jobs[0])
        with open(path, "rb") as f:
            return pickle.load(f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _rank0(results: List[Any], several: bool) -> Any:
    for r in results:
        if (r[0] if several and r else r)["rank"] == 0:
            return r
    raise RuntimeError("no result from rank 0")


def effective_batch_size(min_shard_rows: int, deep: DeepConf) -> int:
    """``deep.batch_size``, made smaller for small sets so that an epoch has at least
    ``deep.min_steps_per_epoch`` steps on the smallest shard (never below 16 rows, or the shard)."""
    floor = min(deep.batch_size, MIN_BATCH_SIZE, max(1, min_shard_rows))
    return max(floor, min(deep.batch_size, min_shard_rows // deep.min_steps_per_epoch))


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@dataclass
class Prepared:
    """One model's validated sets, live Petastorm converters and training job, ready to launch."""
    task: str
    deep: DeepConf
    job: TrainJob
    dims: Dict[str, int]
    counts: Dict[str, int]
    example: Any                         # a few validation rows (pandas) for the logged model's signature
    seconds: float = 0.0                 # spent preparing (validation, Petastorm conversion)


def prepare(spark: SparkSession, conf: Config, df: DataFrame, task: str, stack: contextlib.ExitStack, *,
            deep: Optional[DeepConf] = None, val_df: Optional[DataFrame] = None,
            dims: Optional[Mapping[str, int]] = None) -> Prepared:
    """Validate ``df`` (and ``val_df``, else a random split of ``df``) and materialise them for Petastorm;
    the converters live (and are deleted) with ``stack``."""
    started = time.perf_counter()
    deep = deep_conf(conf, deep)
    t = get_task(task)
    clean, model_dims, counts = validate_input(df, t, deep, dims)
    if val_df is None:
        train_df, valid_df = clean.randomSplit([1.0 - deep.val_fraction, deep.val_fraction], seed=deep.seed)
    else:
        train_df = clean
        valid_df, _, val_counts = validate_input(val_df, t, deep, model_dims)
        counts.update({f"val_{k}": v for k, v in val_counts.items()})

    conv = stack.enter_context(converters(spark, conf, deep, {"train": train_df, "val": valid_df}))
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
    return Prepared(task=task, deep=deep, job=job, dims=dict(model_dims), counts=counts,
                    example=head_rows(conv["val"], 5), seconds=time.perf_counter() - started)


def fit(spark: SparkSession, conf: Config, prepared: Sequence[Prepared], *, run_date: Optional[str] = None,
        register: bool = True) -> List[TrainResult]:
    """Train every prepared model in one launch of the training processes, then log (and register)
    each in MLflow. ``TrainResult.seconds``: its preparation, its share of the launch and its logging."""
    if not prepared:
        return []
    if len({(p.deep.backend, p.deep.num_proc) for p in prepared}) > 1:
        raise ValueError("models trained in one launch need the same deep.backend and deep.num_proc")
    started = time.perf_counter()
    results = run_distributed(spark, [p.job for p in prepared])
    launch = time.perf_counter() - started
    own = [r.get("seconds", 0.0) for r in results]
    # the launch's overhead (process start, imports, rendezvous) is shared evenly
    overhead = max(0.0, launch - sum(own)) / len(prepared)
    return [_log_result(conf, p, r, run_date, register, p.seconds + s + overhead)
            for p, r, s in zip(prepared, results, own)]


def train(spark: SparkSession, conf: Config, df: DataFrame, task: str, *,
          deep: Optional[DeepConf] = None, val_df: Optional[DataFrame] = None,
          run_date: Optional[str] = None, dims: Optional[Mapping[str, int]] = None,
          register: bool = True) -> TrainResult:
    """Train one deep model on ``df`` (and ``val_df``, else a random split of ``df``).

    ``dims`` overrides inferred dimensions (e.g. ``{"num_categories": 40}`` so
    the sequence model's vocabulary does not depend on the sample).
    """
    with contextlib.ExitStack() as stack:
        p = prepare(spark, conf, df, task, stack, deep=deep, val_df=val_df, dims=dims)
        return fit(spark, conf, [p], run_date=run_date, register=register)[0]


def _log_result(conf: Config, p: Prepared, result: Mapping[str, Any], run_date: Optional[str], register: bool,
                seconds: float) -> TrainResult:
    """The trained model from rank 0's result, logged (and registered) in a run of its own."""
    import mlflow

    started = time.perf_counter()
    task, deep, job, model_dims, counts = p.task, p.deep, p.job, p.dims, p.counts
    t = get_task(task)
    run_date = run_date or conf.run_date or "unknown"
    if result.get("state_dict") is None:
        raise RuntimeError(f"{task}: training returned no checkpoint (val loss never finite?): "
                           f"{result.get('history')}")
    model = load_state(t.build_model(model_dims, deep), result["state_dict"])
    serving = ServingModel(model)
    x_example, _ = t.pack_pandas(p.example, t.feature_widths(model))
    seconds += time.perf_counter() - started

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
                       seconds=seconds, spec=model_spec(task, model_dims, deep))


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
