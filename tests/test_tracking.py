"""MLflow: a run logged under the job's experiment can be read back."""
from __future__ import annotations

import os

import pytest

from debut import tracking
from debut.core.stages import STAGES
from debut.core.stages import stage as stage_of


def test_job_run_logs_and_reads_back(conf):
    import mlflow

    with tracking.job_run(conf, "simulate", "2026-10-01", params={"extra": 5}) as run:
        mlflow.log_metric("wape", 0.25)
        run_id = run.info.run_id
    assert tracking.tracking_uri(conf) == "sqlite:///" + os.path.join(conf.paths.data_dir, "mlflow.db")
    client = mlflow.tracking.MlflowClient(tracking.tracking_uri(conf))
    got = client.get_run(run_id)
    assert got.data.metrics == {"wape": 0.25}
    assert got.data.params["extra"] == "5"
    assert got.data.params["simulate.users"] == str(conf.simulate.users)
    assert got.data.tags["debut.run_date"] == "2026-10-01"
    exp = client.get_experiment(got.info.experiment_id)
    assert exp.name == "debut/simulate"
    assert exp.artifact_location == "file://" + os.path.join(conf.paths.data_dir, "mlartifacts", "simulate")


def test_setup_reuses_the_experiment(conf):
    assert tracking.setup(conf, "ingest") == tracking.setup(conf, "ingest")


def _run_params(conf, name):
    import mlflow

    with tracking.job_run(conf, name, "2026-10-01") as run:
        run_id = run.info.run_id
    got = mlflow.tracking.MlflowClient(tracking.tracking_uri(conf)).get_run(run_id)
    return got, mlflow.tracking.MlflowClient(tracking.tracking_uri(conf)).get_experiment(got.info.experiment_id)


def test_train_als_run_carries_the_recommend_settings(conf):
    got, exp = _run_params(conf, "train_als")
    assert got.data.params["recommend.rank"] == str(conf.recommend.rank)
    assert got.data.params["recommend.cold_map"] == str(conf.recommend.cold_map)
    assert exp.name == "debut/train_als"


@pytest.mark.parametrize("stage", [s for s in STAGES if s.sections], ids=lambda s: s.job)
def test_every_stage_run_carries_its_sections_as_params(conf, stage):
    """By job name and by package name (jobs call job_run with either): same experiment, same params."""
    from debut.config import flatten

    want = {f"{sec}.{k}": str(v) for sec in stage.sections for k, v in flatten(getattr(conf, sec)).items()}
    # a package's name stands for its stage only where run() is in its job module (not simulate/truth_eval)
    for name in {stage.job} | ({stage.package} if stage.entry == "job" else set()):
        got, exp = _run_params(conf, name)
        assert {k: got.data.params.get(k) for k in want} == want
        assert exp.name == f"debut/{stage.experiment}"
        assert got.data.tags["debut.job"] == stage.job


def test_every_job_module_names_a_known_stage():
    import importlib

    for stage in STAGES:
        module = importlib.import_module(stage.module)
        name = getattr(module, "JOB", stage.job)
        assert stage_of(name) == stage, stage.job
