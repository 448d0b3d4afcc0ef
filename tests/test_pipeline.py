"""The whole pipeline on the tiny test marketplace, then checks over every table.

- every stage of cli.JOBS runs, in order, through `debut pipeline`;
- no raw customer id appears in any silver or gold table (every string and
  array<string> column is joined against the simulator's list of user ids);
- the pseudonymisation key is in no file the run wrote (tables, MLflow store
  and artifacts, reports) and in nothing it printed.
"""
from __future__ import annotations

import datetime as dt
import os
import secrets

import pandas as pd
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from debut import io
from debut.cli import JOBS, available_jobs, main

RUN = dt.date(2026, 10, 1)
HASH_KEY = "k3y-" + secrets.token_hex(16)


# the whole pipeline on the tiny simulator: ~7 minutes on 2 cores (`make test-all`)
pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def pipeline(spark, tmp_path_factory):
    from tests.conftest import make_conf

    spark.catalog.clearCache()  # blocks other modules left cached
    root = tmp_path_factory.mktemp("pipeline")
    conf = make_conf(root)
    sets = []
    for key in ("data_dir", "landing_dir", "truth_dir", "reports_dir", "checkpoint_dir", "petastorm_cache"):
        sets += ["--set", f"paths.{key}={getattr(conf.paths, key)}"]
    old = os.environ.get("DEBUT_HASH_KEY")
    os.environ["DEBUT_HASH_KEY"] = HASH_KEY
    try:
        import contextlib
        import io as _io
        out, err = _io.StringIO(), _io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["pipeline", "--env", "test", "--run-date", RUN.isoformat(),
                         "--set", "ingest.allow_dev_hash_key=false", *sets])
    finally:
        if old is None:
            os.environ.pop("DEBUT_HASH_KEY", None)
        else:
            os.environ["DEBUT_HASH_KEY"] = old
    return conf, root, code, out.getvalue() + err.getvalue()


def test_every_stage_ran(pipeline):
    conf, _, code, printed = pipeline
    assert code == 0, printed[-3000:]
    assert available_jobs() == list(JOBS)
    for job in JOBS:
        assert f"stage {job} done" in printed, printed[-3000:]


def _string_columns(schema: T.StructType):
    for f in schema.fields:
        if isinstance(f.dataType, T.StringType):
            yield f.name, False
        elif isinstance(f.dataType, T.ArrayType) and isinstance(f.dataType.elementType, T.StringType):
            yield f.name, True


def test_no_raw_customer_id_in_any_silver_or_gold_table(spark, pipeline):
    conf, _, code, _ = pipeline
    assert code == 0
    ids = pd.read_parquet(os.path.join(conf.paths.truth_dir, "user_segments.parquet"))["user_id"].astype(str)
    raw_ids = F.broadcast(spark.createDataFrame(pd.DataFrame({"_id": ids})))
    checked, leaks = [], {}
    for name in sorted(io.TABLES):
        if not name.startswith(("silver.", "gold.")) or not io.exists(spark, conf, name):
            continue
        df = io.read(spark, conf, name)
        for col, is_array in _string_columns(df.schema):
            values = df.select(F.explode_outer(col).alias("_v") if is_array else F.col(col).alias("_v"))
            n = values.join(raw_ids, F.col("_v") == F.col("_id")).count()
            checked.append(f"{name}.{col}")
            if n:
                leaks[f"{name}.{col}"] = n
    assert len(checked) > 20, checked
    assert leaks == {}


def test_hash_key_is_never_written_or_printed(pipeline):
    conf, root, code, printed = pipeline
    assert code == 0
    assert HASH_KEY not in printed
    needle = HASH_KEY.encode()
    scanned = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fh:
                assert needle not in fh.read(), f"the hash key is in {path}"
            scanned += 1
    assert scanned > 50
