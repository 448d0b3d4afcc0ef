"""spark-submit of a job with the built wheel in --py-files, local mode."""
from __future__ import annotations

import glob
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), ROOT], check=True, cwd=str(out))
    [whl] = glob.glob(str(out / "debut-*.whl"))
    return whl


def spark_submit(args, env=None):
    spark_submit = os.path.join(os.path.dirname(sys.executable), "spark-submit")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable, **(env or {})}
    return subprocess.run([spark_submit, *args], capture_output=True, text=True, env=env, timeout=600)


def test_wheel_ships_the_conf_files(wheel):
    import zipfile
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"debut/_conf/base.yaml", "debut/_conf/envs/cluster.yaml", "debut/cli.py"} <= names


@pytest.mark.slow   # builds the wheel and spark-submits it, ~1.5 min
def test_spark_submit_runs_a_job_from_the_wheel(wheel, tmp_path):
    from tests.conftest import make_conf  # same paths as the in-process tests use
    conf = make_conf(tmp_path)
    sets = [f"--set=paths.{k}={getattr(conf.paths, k)}" for k in ("data_dir", "landing_dir", "truth_dir")]
    sim = spark_submit(["--master", "local[2]", "--py-files", wheel, os.path.join(ROOT, "jobs", "simulate.py"),
                        "--env", "test", *sets])
    assert sim.returncode == 0, sim.stderr[-3000:]
    assert f"loaded from {wheel}" in sim.stdout, sim.stdout[-2000:]
    # the test env says local[2]: spark-submit's --master must win
    ing = spark_submit(["--master", "local[1]", "--py-files", wheel, os.path.join(ROOT, "jobs", "ingest.py"),
                        "--env", "test", *sets], env={"DEBUT_CONF_DIR": ""})
    assert ing.returncode == 0, ing.stderr[-3000:]
    assert "master local[1]" in ing.stdout, ing.stdout[-2000:]
    assert os.path.isdir(os.path.join(conf.paths.data_dir, "bronze", "events", "_delta_log"))


def test_spark_submit_config_error_exits_2_and_writes_nothing(wheel, tmp_path):
    res = spark_submit(["--master", "local[1]", "--py-files", wheel, os.path.join(ROOT, "jobs", "ingest.py"),
                        "--env", "test", f"--set=paths.data_dir={tmp_path}/d", "--set", "ingest.max_price=cheap"])
    assert res.returncode == 2
    # spark-submit merges the Python driver's stderr into its stdout
    assert "configuration error: --set: key 'ingest.max_price' must be a number" in res.stdout + res.stderr
    assert not os.path.exists(tmp_path / "d")
