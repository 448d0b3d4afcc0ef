"""Job level: simulate -> ingest -> aggregate on temporary Delta tables.

The simulator's dirty manifest says how many bad rows of each kind it wrote;
ingest must quarantine exactly those, with the matching reason, and count the
injected copies as duplicates. A second run changes no table.
"""
from __future__ import annotations

import collections
import datetime as dt
import json
import os
import re

import pytest

from debut import io
from debut.cli import available_jobs, run_job

RUN = dt.date(2026, 10, 1)

# simulator dirty kind -> the reason ingest must give
EXPECTED_REASON = {
    "absurd_price": "bad_price", "ancient_time": "too_old", "future_time": "future_time",
    "huge_field": "record_too_large", "malformed_json": "malformed_record", "malformed_row": "malformed_record",
    "missing_event_id": "missing_field", "missing_event_time": "missing_field", "missing_user_id": "missing_field",
    "missing_item_id": "missing_field", "missing_order_id": "missing_field", "negative_quantity": "bad_quantity",
    "non_utf8": "invalid_encoding", "unknown_event_type": "unknown_event_type",
    "wrong_type_price": "bad_type", "wrong_type_quantity": "bad_type",
}


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory):
    from tests.conftest import make_conf
    conf = make_conf(tmp_path_factory.mktemp("logs-job")).replace(**{"simulate.dirty_rate": 0.03})
    stages = [j for j in ("simulate", "ingest", "aggregate") if j in available_jobs()]
    for job in stages:
        run_job(job, conf, RUN, spark=spark)
    return conf, stages


def test_quarantine_matches_the_injected_dirt_exactly(spark, lake):
    conf, _ = lake
    manifest = json.load(open(os.path.join(conf.paths.truth_dir, "dirty_manifest.json")))
    log = {r.source: r for r in io.read(spark, conf, "ops.run_log").collect()}
    quarantine = collections.Counter((r.source, r.reason) for r in
                                     io.read(spark, conf, "quarantine.records").select("source", "reason").collect())
    for source in ("events", "orders"):
        m = manifest[source]
        expected = collections.Counter()
        for kind, n in m["dirty"].items():
            if kind != "duplicate" and n:
                expected[(source, EXPECTED_REASON[kind])] += n
        assert {k: v for k, v in quarantine.items() if k[0] == source} == dict(expected)
        row = log[source]
        assert (row.read, row.accepted, row.quarantined, row.duplicates) == (
            m["lines"], m["clean"], m["dirty_total"] - m["dirty"].get("duplicate", 0), m["dirty"].get("duplicate", 0))


def test_no_raw_user_id_reaches_bronze(spark, lake):
    conf, _ = lake
    for table in ("bronze.events", "bronze.orders"):
        assert "user_id" not in io.read(spark, conf, table).columns
        keys = io.read(spark, conf, table).where("user_key is not null").select("user_key").distinct().collect()
        assert all(len(r.user_key) == 64 for r in keys)


def test_quarantine_keeps_no_raw_user_id(spark, lake):
    """Quarantined lines keep their text, with the customer id replaced by its user_key."""
    import pandas as pd

    conf, _ = lake
    ids = set(pd.read_parquet(os.path.join(conf.paths.truth_dir, "user_segments.parquet"))["user_id"])
    raws = [r.raw for r in io.read(spark, conf, "quarantine.records")
            .where("source in ('events', 'orders')").select("raw").collect()]
    assert raws, "the dirty simulator wrote no bad event/order rows"
    leaked = [raw for raw in raws if any(tok.strip('" ') in ids for tok in re.split(r"[,:{}]", raw))]
    assert leaked == []
    assert any(re.search(r'"user_id"\s*:\s*"[0-9a-f]{64}"', raw) for raw in raws)


@pytest.mark.slow   # a second whole ingest of the simulated logs, ~35 s
def test_second_run_changes_no_table(spark, lake):
    conf, stages = lake
    tables = [t for t in io.TABLES if io.exists(spark, conf, t)]
    before = {t: sorted(map(tuple, io.read(spark, conf, t).collect())) for t in tables}
    for job in stages:
        run_job(job, conf, RUN, spark=spark)
    after = {t: sorted(map(tuple, io.read(spark, conf, t).collect())) for t in tables}
    assert after == before
