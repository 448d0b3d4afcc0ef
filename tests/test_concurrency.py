"""Two runs at once, and a run killed between its data and its bookkeeping.

Runs that write hold the lake's lease (debut.lease): the second of two runs
started together refuses with exit code 4 and a line naming the holder, or (when
it starts after the first has finished) finds nothing new. Real processes
(``python -m debut.cli``) on real Delta tables; one small simulated landing dir.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import threading

import pytest
from pyspark.sql import functions as F

from debut import io, lease
from debut.cli import main, run_job
from debut.ingest import common as c
from tests.conftest import SHORT_JVM_ENV

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = dt.date(2026, 10, 1)
SMALL = {"simulate.users": 40, "simulate.days": 4, "simulate.categories": 2, "simulate.items_per_category": 6}


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    """A simulated landing dir (pure Python): 4 days of events and orders, a catalog, candidates."""
    from debut.simulate.job import run
    from tests.conftest import make_conf
    conf = make_conf(tmp_path_factory.mktemp("sim")).replace(**SMALL)
    run(None, conf, RUN)
    return conf.paths.landing_dir


@pytest.fixture
def lake(conf, landing):
    """A fresh lake whose landing dir is a copy of the simulated one."""
    shutil.copytree(landing, conf.paths.landing_dir)
    return conf


def cli_args(conf, *args, run_date=RUN):
    return [*args, "--env", "test", "--run-date", run_date.isoformat(),
            "--set", f"paths.data_dir={conf.paths.data_dir}", "--set", f"paths.landing_dir={conf.paths.landing_dir}"]


def start(conf, *args, env=None, run_date=RUN):
    """``python -m debut.cli <args>`` in its own process, with a small JVM."""
    cmd = [sys.executable, "-m", "debut.cli", *cli_args(conf, *args, run_date=run_date),
           "--set", "spark.master=local[1]", "--set", "spark.driver_memory=1g"]
    full_env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "lib"), PYSPARK_PYTHON=sys.executable,
                    **SHORT_JVM_ENV, **(env or {}))
    full_env.pop("PYSPARK_SUBMIT_ARGS", None)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env)


def race(*procs):
    """Wait for all; returns [(rc, stdout, stderr)]."""
    out = []
    for p in procs:
        so, se = p.communicate(timeout=600)
        out.append((p.returncode, so, se))
    return out


def assert_one_won(results, job):
    """One exits 0; the other exits 0 too (it came after) or 4 naming the holder."""
    rcs = sorted(r[0] for r in results)
    assert rcs in ([0, 0], [0, lease.EXIT_CODE]), [r[2][-2000:] for r in results]
    for rc, _, err in results:
        if rc == lease.EXIT_CODE:
            [line] = [ln for ln in err.splitlines() if ln.startswith("debut: ")]
            assert " is in use by " in line and "not started" in line and "run " in line, line


def bronze_reconciles(spark, conf):
    """bronze.events rows = distinct event ids = events accepted in ops.run_log."""
    ev = io.read(spark, conf, "bronze.events")
    rows, keys = ev.count(), ev.select("event_id").distinct().count()
    accepted = (io.read(spark, conf, "ops.run_log").where("job = 'ingest' AND source = 'events'")
                .agg(F.sum("accepted")).first()[0])
    return rows, keys, accepted


def versions(spark, conf, names):
    return {n: io.version(spark, conf, n) for n in names if io.exists(spark, conf, n)}


# ------------------------------------------------------------------ the lease itself
def test_second_claim_is_refused_naming_the_holder(spark, conf):
    first = lease.acquire(spark, conf, "ingest")
    with pytest.raises(lease.LeaseHeld) as err:
        lease.acquire(spark, conf, "aggregate")
    assert f"is in use by ingest (run {first.run_id}, {first.owner}, since " in str(err.value)
    lease.release(spark, conf, first)
    lease.release(spark, conf, lease.acquire(spark, conf, "aggregate"))  # free again once released


def test_claims_made_at_the_same_moment_give_one_holder(spark, conf):
    """Delta's optimistic concurrency is the arbiter: of simultaneous MERGEs one commits."""
    lease._ensure_table(spark, conf)
    barrier, got, refused = threading.Barrier(2), [], []

    def claim(job):
        barrier.wait()
        try:
            got.append(lease.acquire(spark, conf, job))
        except lease.LeaseHeld as exc:
            refused.append(exc)

    threads = [threading.Thread(target=claim, args=(f"job{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(got), len(refused)) == (1, 1)
    assert lease.holder(spark, conf).run_id == got[0].run_id


def test_lease_of_a_dead_process_or_expired_is_taken_over(spark, conf):
    lease._ensure_table(spark, conf)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    now = lease._now()
    for owner, expires in ((f"{lease.socket.gethostname()}:{dead.pid}", now + lease.TTL),
                           ("elsewhere:1", now - dt.timedelta(seconds=1))):
        stale = lease.Lease("ingest", "stale-run", owner, now, expires)
        lease._claim(spark, conf, stale, replacing=lease.holder(spark, conf).run_id
                     if lease.holder(spark, conf) else None)
        assert lease.holder(spark, conf).run_id == "stale-run"
        mine = lease.acquire(spark, conf, "aggregate")
        assert lease.holder(spark, conf).run_id == mine.run_id
        lease.release(spark, conf, mine)


def test_cli_exits_4_with_one_line_while_the_lake_is_held(spark, conf, capsys):
    os.makedirs(conf.paths.landing_dir)
    held = lease.acquire(spark, conf, "pipeline")
    rc = main(cli_args(conf, "run", "ingest"))
    err = capsys.readouterr().err
    lease.release(spark, conf, held)
    assert rc == lease.EXIT_CODE
    assert err.strip().splitlines() == [
        f"debut: the lake at {os.path.abspath(conf.paths.data_dir)} is in use by {held.describe()}; "
        "not started: run again when it has finished"]


# ------------------------------------------------------------------ two processes at once
def test_two_ingests_of_the_same_files_write_them_once(spark, lake):
    results = race(start(lake, "run", "ingest"), start(lake, "run", "ingest"))
    assert_one_won(results, "ingest")
    rows, keys, accepted = bronze_reconciles(spark, lake)
    assert rows == keys == accepted == 115
    tables = ("bronze.events", "bronze.orders", "quarantine.records", "ops.ingest_files", "ops.run_log")
    before = versions(spark, lake, tables)
    assert main(cli_args(lake, "run", "ingest")) == 0
    assert versions(spark, lake, tables) == before


def _silver(spark, conf):
    d = io.read(spark, conf, "silver.item_daily")
    return (d.count(), d.select("item_id", "date").distinct().count(),
            d.agg(F.sum("views"), F.sum("units")).first()[:])


@pytest.mark.slow   # two subprocess aggregates, ~3 min; the two-ingest race and the kill test stay in the default suite
def test_two_aggregates_at_once_write_each_day_once(spark, lake):
    run_job("ingest", lake, RUN, spark=spark)
    results = race(start(lake, "run", "aggregate"), start(lake, "run", "aggregate"))
    assert_one_won(results, "aggregate")
    raced = _silver(spark, lake)
    assert raced[0] == raced[1]
    run_job("aggregate", lake, RUN, spark=spark)
    assert _silver(spark, lake) == raced  # a rerun changes nothing


@pytest.mark.slow   # two subprocess jobs, ~3 min
def test_ingest_racing_aggregate_leaves_a_consistent_lake(spark, lake):
    run_job("ingest", lake, dt.date(2026, 9, 28), spark=spark)
    results = race(start(lake, "run", "ingest"), start(lake, "run", "aggregate"))
    rcs = sorted(r[0] for r in results)
    assert rcs in ([0, 0], [0, lease.EXIT_CODE]), [r[2][-2000:] for r in results]
    rows, keys, accepted = bronze_reconciles(spark, lake)
    assert rows == keys == accepted and rows in (57, 115)  # 57: the ingest lost the lease, nothing of it written
    run_job("ingest", lake, RUN, spark=spark)    # whichever lost: running both now completes the day
    run_job("aggregate", lake, RUN, spark=spark)
    raced = _silver(spark, lake)
    assert raced[0] == raced[1] and raced[2][0] == 89  # every view of the 4 days, once
    assert bronze_reconciles(spark, lake) == (115, 115, 115)


# ------------------------------------------------------------------ a crash between data and bookkeeping
def test_ingest_killed_after_its_data_commit_is_completed_by_the_next_run(spark, lake, capsys):
    [(rc, _, _)] = race(start(lake, "run", "ingest", env={c.KILL_AT_ENV: "ingest:after_data_commit"}))
    assert rc == -9
    assert io.read(spark, lake, "bronze.events").count() == 115      # the data committed ...
    assert not io.exists(spark, lake, "ops.ingest_files")            # ... its bookkeeping did not
    assert main(cli_args(lake, "run", "ingest")) == 0                # the dead run's lease is taken over
    out = capsys.readouterr().out
    assert "[ingest] events: completed the bookkeeping of 4 file(s) whose data committed at bronze.events" in out
    assert bronze_reconciles(spark, lake) == (115, 115, 115)
    files = io.read(spark, lake, "ops.ingest_files").where("source = 'events'")
    assert files.agg(F.count("*"), F.sum("read"), F.sum("accepted")).first()[:] == (4, 115, 115)
    orders = io.read(spark, lake, "bronze.orders")
    assert orders.count() == orders.select("order_id", "line_no").distinct().count() == 5


# ------------------------------------------------------------------ a driver JVM that dies
def test_a_dead_jvm_is_one_line_naming_the_stage_and_memory(conf):
    from py4j.protocol import Py4JNetworkError

    from debut import cli
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as exc:
            raise Py4JNetworkError("An error occurred while trying to connect to the Java server") from exc
    except Py4JNetworkError as exc:
        assert cli._jvm_died(exc)
    assert not cli._jvm_died(ValueError("a job error"))
    cli._current_stage[:] = ["train_deep"]
    msg = cli._jvm_death_message(conf.replace(**{"spark.driver_memory": "3g"}))
    cli._current_stage[:] = []
    assert msg.startswith("debut: the Spark driver JVM died during stage train_deep: most likely out of memory")
    assert "spark.driver.memory is 3g" in msg and "\n" not in msg
