"""Faults a job must survive: killed mid-write, misconfigured runs.

(Bad-input corpora are in test_ingest.py and test_logs_job.py; a worker killed
mid-stage is checked on a real standalone cluster by `python -m debut.cluster faults`.)
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from debut import io
from debut.cli import main
from tests.conftest import SHORT_JVM_ENV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A child process: version 0 of a table (4 rows), then an overwrite with 8
# partitions whose tasks are slow, so the test can kill it after the first data
# files of the new version are on disk but before Delta commits.
WRITER = textwrap.dedent("""
    import sys, time
    from pyspark.sql import functions as F
    from debut.config import load_config
    from debut.spark import get_spark
    from debut import io
    io.TABLES["scratch.kv"] = io.TableSpec(("k",), (), "a scratch table (no schema check)")
    data_dir = sys.argv[1]
    conf = load_config("test").replace(**{"paths.data_dir": data_dir, "spark.master": "local[1]"})
    spark = get_spark(conf, app_name="killed-writer")
    base = spark.range(4).select(F.col("id").cast("string").alias("k"), F.lit(0).cast("long").alias("v"))
    io.merge(base, conf, "scratch.kv", keys=["k"])
    print("V0", flush=True)

    @F.udf("long")
    def slow(x):
        time.sleep(1.0)
        return x

    big = (spark.range(0, 80, 1, 8).select(F.col("id").cast("string").alias("k"), slow(F.col("id")).alias("v")))
    io.overwrite(big, conf, "scratch.kv")
    print("COMMITTED", flush=True)
""")


def _parquet_files(path):
    return {f for f in os.listdir(path) if f.endswith(".parquet")} if os.path.isdir(path) else set()


def test_job_killed_mid_write_leaves_previous_version_and_rerun_is_exact(spark, conf, tmp_path, monkeypatch):
    monkeypatch.setitem(io.TABLES, "scratch.kv", io.TableSpec(("k",), (), "a scratch table (no schema check)"))
    data_dir = str(tmp_path / "lake")
    child_conf = conf.replace(**{"paths.data_dir": data_dir})
    table_dir = io.location(child_conf, "scratch.kv")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "lib"), PYSPARK_PYTHON=sys.executable, **SHORT_JVM_ENV)
    log = open(tmp_path / "writer.log", "w")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, data_dir], stdout=log, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    try:
        deadline = time.time() + 240
        v0_files = None
        while time.time() < deadline:
            if v0_files is None and "V0" in (tmp_path / "writer.log").read_text():
                v0_files = _parquet_files(table_dir)  # version 0 committed
            if v0_files is not None and _parquet_files(table_dir) - v0_files:
                break  # the overwrite has written data files, and has not committed (tasks sleep)
            assert proc.poll() is None, "the writer ended early: " + (tmp_path / "writer.log").read_text()[-3000:]
            time.sleep(0.2)
        else:
            pytest.fail("the overwrite never started writing")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    assert _parquet_files(table_dir) - v0_files, "expected orphan files of the killed write"
    assert io.version(spark, child_conf, "scratch.kv") == 0
    assert sorted(r.k for r in io.read(spark, child_conf, "scratch.kv").collect()) == ["0", "1", "2", "3"]
    # The rerun (no sleep) commits once; the orphaned files never show up as rows.
    from pyspark.sql import functions as F
    io.overwrite(spark.range(0, 80, 1, 8).select(F.col("id").cast("string").alias("k"), F.col("id").alias("v")),
                 child_conf, "scratch.kv")
    rows = io.read(spark, child_conf, "scratch.kv")
    assert io.version(spark, child_conf, "scratch.kv") == 1
    assert rows.count() == 80 and rows.select("k").distinct().count() == 80


def _run_cli(args, capsys):
    code = main(args)
    return code, capsys.readouterr().err


def test_missing_input_table_exits_3_and_names_the_table(conf, capsys, tmp_path):
    data_dir = tmp_path / "empty-lake"
    code, err = _run_cli(["run", "aggregate", "--env", "test", "--set", f"paths.data_dir={data_dir}"], capsys)
    assert code == 3
    assert "bronze.events" in err and "does not exist" in err
    written = [p for p in data_dir.rglob("*") if p.is_file()] if data_dir.exists() else []
    assert [p for p in written if "_delta_log" in str(p)] == []


def test_wrong_landing_path_exits_2_and_names_the_key(conf, capsys, tmp_path):
    code, err = _run_cli(["run", "ingest", "--env", "test", "--set", f"paths.data_dir={tmp_path / 'lake'}",
                          "--set", f"paths.landing_dir={tmp_path / 'no-such-dir'}"], capsys)
    assert code == 2
    assert "paths.landing_dir" in err and "--set" in err and "does not exist" in err
    assert not (tmp_path / "lake" / "bronze").exists()


@pytest.mark.parametrize("override, key", [
    ("optimize.mip_gap=-1", "optimize.mip_gap"),
    ("forecast.quantiles=[0.9, 0.1]", "forecast.quantiles"),
    ("recommend.cold_map=deep", "recommend.cold_map"),
    ("simulate.users=many", "simulate.users"),
    ("optimize.no_such_key=1", "optimize.no_such_key"),
])
def test_bad_value_exits_2_naming_key_and_source(override, key, capsys, tmp_path):
    code, err = _run_cli(["run", "ingest", "--env", "test", "--set", f"paths.data_dir={tmp_path / 'lake'}",
                          "--set", override], capsys)
    assert code == 2
    assert key in err and "--set" in err
    assert not (tmp_path / "lake").exists()
