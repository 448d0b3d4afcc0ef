"""MLflow: a run logged under the job's experiment can be read back."""
from __future__ import annotations

import os

from debut import tracking


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
