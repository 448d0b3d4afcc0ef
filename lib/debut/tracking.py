"""MLflow plumbing: tracking URI from conf, one experiment per job (names in debut.core.stages).

Locally the default is a sqlite file under the data dir and artifacts under
``<data_dir>/mlartifacts`` (never ./mlruns of whatever directory you ran from).
Open the UI with::

    .venv/bin/mlflow ui --backend-store-uri sqlite:///data/mlflow.db
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Dict, Iterator, Optional

from debut.config import Config, flatten
from debut.core.stages import stage


def tracking_uri(conf: Config) -> str:
    if conf.mlflow.tracking_uri:
        return conf.mlflow.tracking_uri
    return "sqlite:///" + os.path.abspath(os.path.join(conf.paths.data_dir, "mlflow.db"))


def artifact_root(conf: Config) -> str:
    root = conf.mlflow.artifact_root or os.path.join(conf.paths.data_dir, "mlartifacts")
    return root if "://" in root else os.path.abspath(root)


def experiment_name(conf: Config, job: str) -> str:
    """``<prefix>/<the stage's experiment>`` for a job (or package) name; other names as given."""
    try:
        name = stage(job).experiment
    except KeyError:
        name = job
    return f"{conf.mlflow.experiment_prefix}/{name}"


def stage_params(conf: Config, job: str) -> Dict[str, Any]:
    """The stage's settings as MLflow params: ``<section>.<key>`` for each of its config sections."""
    out: Dict[str, Any] = {}
    for section in stage(job).sections:
        out.update({f"{section}.{k}": v for k, v in flatten(getattr(conf, section)).items()})
    return out


def setup(conf: Config, job: str) -> str:
    """Point MLflow at conf's tracking server and return the job's experiment id."""
    import mlflow

    uri = tracking_uri(conf)
    if uri.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(uri[len("sqlite:///"):]) or ".", exist_ok=True)
    mlflow.set_tracking_uri(uri)
    if conf.mlflow.registry_uri:
        mlflow.set_registry_uri(conf.mlflow.registry_uri)
    name = experiment_name(conf, job)
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = artifact_root(conf)
    location = root if "://" in root else "file://" + os.path.join(root, name.rsplit("/", 1)[-1])
    return mlflow.create_experiment(name, artifact_location=location)


@contextlib.contextmanager
def job_run(conf: Config, job: str, run_date: str, params: Optional[Dict[str, Any]] = None,
            log_conf: bool = True) -> Iterator[Any]:
    """An MLflow run for one job execution, tagged with the run date and env.

    ``job`` is a job or package name (debut.core.stages); ``log_conf`` logs the
    stage's config sections as params (``recommend.rank`` for train_als).
    """
    import mlflow

    exp_id = setup(conf, job)
    with mlflow.start_run(experiment_id=exp_id, run_name=f"{job}-{run_date}") as run:
        mlflow.set_tags({"debut.job": stage(job).job, "debut.run_date": run_date, "debut.env": conf.env})
        if log_conf:
            mlflow.log_params(stage_params(conf, job))
        if params:
            mlflow.log_params(params)
        yield run


def record_metrics(spark, conf: Config, run_date, component: str,
                   metrics: Dict[Any, Any], log_mlflow: bool = True) -> None:
    """Write metrics to gold.evaluation (a rerun replaces the rows of its keys) and the active MLflow run.

    ``metrics`` maps ``metric`` or ``(metric, slice)`` or ``(metric, slice, n)``
    keys to values (n: how many rows/users/launches the number is over).
    MLflow gets ``<metric>`` for slice "all", else ``<metric>.<slice>`` with
    characters MLflow rejects replaced by "_".
    """
    record_components(spark, conf, run_date, {component: metrics}, log_mlflow=log_mlflow)


def record_components(spark, conf: Config, run_date, metrics_by_component: Dict[str, Dict[Any, Any]],
                      log_mlflow: bool = True) -> None:
    """``record_metrics`` of several components in one commit to gold.evaluation."""
    import datetime as dt
    import re

    from debut import io
    from debut.schemas import EVALUATION

    day = run_date if isinstance(run_date, dt.date) else dt.date.fromisoformat(str(run_date))
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    rows = []
    for component, metrics in metrics_by_component.items():
        for key, value in metrics.items():
            k = (key,) if isinstance(key, str) else tuple(key)
            metric, slice_, n = (k + ("all", None)[len(k) - 1:])[:3]
            rows.append((day, component, str(metric), str(slice_), None if value is None else float(value),
                         None if n is None else int(n), now))
    if not rows:
        return
    # replaces the rows of these keys, as a MERGE on them would, without joining the table
    io.replace_keys(spark.createDataFrame(rows, EVALUATION), conf, "gold.evaluation",
                    ("run_date", "component", "metric", "slice"), [r[:4] for r in rows])
    if log_mlflow:
        import mlflow

        if mlflow.active_run() is not None:
            clean = {}
            for (_, component, metric, slice_, value, _, _) in rows:
                if value is None:
                    continue
                name = metric if slice_ == "all" else f"{metric}.{slice_}"
                clean[re.sub(r"[^A-Za-z0-9_\-. /]", "_", f"{component}.{name}")] = value
            mlflow.log_metrics(clean)
