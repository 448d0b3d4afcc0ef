"""Ingest: validation reasons, pseudonymisation, dedup and exact reconciliation."""
from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from debut import io
from debut.config import ConfigError
from debut.ingest import common as c
from debut.ingest import events as ev
from debut.ingest import job
from debut.ingest import tabular as tb

RUN = dt.date(2026, 10, 1)
KEY = b"test-key"


def event(**kw):
    base = dict(event_id="e1", event_time="2026-09-30T10:00:00Z", event_type="view", user_id="u1",
                session_id="s1", item_id="I1", price=10.0, quantity=1, query=None, channel="web")
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not ...})


def reasons(spark, conf, lines):
    lines_df = spark.createDataFrame([("f1", line) for line in lines], "source_file string, _raw string")
    out = ev.validate_events(lines_df, RUN, conf.ingest).select("_raw", "_reason", "_detail").collect()
    by_raw = {r["_raw"]: (r["_reason"], r["_detail"]) for r in out}
    return [by_raw[line] for line in lines]


def test_event_rules_give_one_reason_each(spark, conf):
    lines = [
        event(),
        event(event_type="search", item_id=None, price=None, quantity=None, query="red shoes"),
        '{"event_id": "e3", broken',
        '[1, 2, 3]',
        event(event_id=...),
        event(user_id=""),
        event(event_time="yesterday"),
        event(event_type="like"),
        event(event_type="purchase", item_id=None),
        event(price="abc"),
        event(quantity="two"),
        event(event_type="purchase", quantity=None),
        event(event_type="cart", quantity=-2),
        event(event_type="purchase", price=None),
        event(price=2e6),
        event(channel="fax"),
        event(event_time="2026-10-03T00:00:00Z"),
        event(event_time="2010-01-01T00:00:00Z"),
        event(query="x" * 70000),
        event(quantity=2.0),
    ]
    assert reasons(spark, conf, lines) == [
        (None, None),
        (None, None),
        ("malformed_record", "not a JSON object"),
        ("malformed_record", "not a JSON object"),
        ("missing_field", "event_id"),
        ("missing_field", "user_id"),
        ("bad_type", "event_time=yesterday"),
        ("unknown_event_type", "like"),
        ("missing_field", "item_id"),
        ("bad_type", "price=abc"),
        ("bad_type", "quantity=two"),
        ("missing_field", "quantity"),
        ("bad_quantity", "quantity=-2"),
        ("missing_field", "price"),
        ("bad_price", "price=2000000.0"),
        ("unknown_value", "channel=fax"),
        ("future_time", "2026-10-03T00:00:00Z"),
        ("too_old", "2010-01-01T00:00:00Z"),
        ("record_too_large", f"chars={len(lines[18])}"),
        (None, None),
    ]


def test_user_key_is_hmac_sha256_and_raw_id_is_gone(spark):
    df = spark.createDataFrame([("u1",), ("ü-42",), (None,), ("",)], "user_id string")
    out = c.with_user_key(df, KEY)
    assert out.columns == ["user_key"]
    got = [r.user_key for r in out.collect()]
    assert got == [c.hmac_reference(KEY, "u1"), c.hmac_reference(KEY, "ü-42"), None, None]


def test_hash_key_never_appears_in_the_plan(spark, capsys):
    secret = b"s3cr3t-pepper-value"
    df = c.with_user_key(spark.createDataFrame([("u1",)], "user_id string"), secret)
    df.explain(extended=True)
    plan = capsys.readouterr().out
    assert "user_key" in plan and "s3cr3t" not in plan and secret.hex() not in plan


def test_missing_hash_key_is_a_clear_error(conf, monkeypatch):
    monkeypatch.delenv("DEBUT_HASH_KEY", raising=False)
    strict = conf.replace(**{"ingest.allow_dev_hash_key": False})
    with pytest.raises(ConfigError, match="environment variable DEBUT_HASH_KEY is not set"):
        c.hash_key(strict)
    monkeypatch.setenv("DEBUT_HASH_KEY", "abc")
    assert c.hash_key(strict) == b"abc"


def test_events_dedup_keeps_earliest_copy(spark, conf):
    lines = spark.createDataFrame([
        ("f2", event(event_id="e1", event_time="2026-09-30T11:00:00Z")),
        ("f1", event(event_id="e1", event_time="2026-09-30T10:00:00Z")),
        ("f1", event(event_id="e2", user_id="u2", channel=None)),
    ], "source_file string, _raw string")
    good = ev.validate_events(lines, RUN, conf.ingest).where("_reason is null")
    out = ev.to_bronze_events(good, KEY, RUN).select("event_id", "event_time", "user_key", "channel", "source_file")
    expected = spark.createDataFrame([
        ("e1", dt.datetime(2026, 9, 30, 10), c.hmac_reference(KEY, "u1"), "web", "f1"),
        ("e2", dt.datetime(2026, 9, 30, 10), c.hmac_reference(KEY, "u2"), None, "f1"),
    ], "event_id string, event_time timestamp, user_key string, channel string, source_file string")
    assert_df_equality(out, expected, ignore_row_order=True, ignore_nullable=True)


ORDER_HEADER = ",".join(("order_id", "line_no", "order_time", "user_id", "item_id", "quantity",
                         "unit_price", "channel", "status", "status_time"))


def write(path, text: bytes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(text)


def test_order_rules_and_latest_status(spark, conf, tmp_path):
    rows = [
        "o1,1,2026-09-30T10:00:00Z,u1,I1,2,10.5,web,completed,2026-09-30T10:00:00Z",
        "o1,1,2026-09-30T10:00:00Z,u1,I1,2,10.5,web,returned,2026-09-30T12:00:00Z",
        "o2,1,2026-09-30T10:00:00Z,,I2,1,5,store,completed,",
        "o3,1,2026-09-30T10:00:00Z,u3,I3,-1,5,web,completed,",
        "o4,1,2026-09-30T10:00:00Z,u4,I4,1,5,web,lost,",
        "o5,1,2026-09-30T10:00:00Z,u5,I5,1",
        "o6,x,2026-09-30T10:00:00Z,u6,I6,1,5,web,completed,",
    ]
    path = str(tmp_path / "orders.csv")
    write(path, ("\n".join([ORDER_HEADER] + rows) + "\n").encode())
    validated = tb.validate_orders(tb.read_csv(spark, [path], tb.schemas.ORDER_FIELDS), RUN, conf.ingest)
    got = sorted((r["order_id"], r["_reason"], r["_detail"]) for r in
                 validated.select("order_id", "_reason", "_detail").collect())
    assert got == [("o1", None, None), ("o1", None, None), ("o2", None, None),
                   ("o3", "bad_quantity", "quantity=-1"), ("o4", "unknown_value", "status=lost"),
                   ("o5", "malformed_record", "expected 10 fields"), ("o6", "bad_type", "line_no=x")]
    bronze = tb.to_bronze_orders(validated.where("_reason is null"), KEY, RUN)
    assert sorted((r.order_id, r.status, r.user_key is None) for r in bronze.collect()) == [
        ("o1", "returned", False), ("o2", "completed", True)]


def test_candidate_and_catalog_rules(spark, conf, tmp_path):
    cand = str(tmp_path / "candidates" / "candidates-2026-10-01.csv")
    write(cand, ("candidate_id,category,subcategory,brand,title,colour,material,style,price,unit_cost,min_order_qty\n"
                 "C1,shoes,boots,Acme,Red boot,red,leather,classic,80,40,10\n"
                 "C2,shoes,boots,Acme,Blue boot,blue,leather,classic,80,,10\n"
                 "C3,,boots,Acme,Blue boot,blue,leather,classic,80,30,10\n"
                 "C4,shoes,boots,Acme,Blue boot,blue,leather,classic,0,30,10\n").encode())
    v = tb.validate_candidates(tb.read_csv(spark, [cand], tb.schemas.CANDIDATE_FIELDS), RUN, conf.ingest)
    assert sorted((r.candidate_id, r._reason, r._detail) for r in v.select("candidate_id", "_reason", "_detail").collect()) == [
        ("C1", None, None), ("C2", "missing_field", "unit_cost"), ("C3", "missing_field", "category"),
        ("C4", "bad_price", "price=0.0")]
    [row] = tb.to_bronze_candidates(v.where("_reason is null"), KEY, RUN).collect()
    assert (row.candidate_id, row.plan_date, row.price, row.min_order_qty) == ("C1", dt.date(2026, 10, 1), 80.0, 10)
    cat = str(tmp_path / "catalog" / "catalog-2026-10-01.csv")
    write(cat, ("item_id,category,subcategory,brand,title,colour,material,style,price,unit_cost,launch_date,status\n"
                "I1,shoes,boots,Acme,Red boot,red,leather,classic,80,40,2026-01-05,active\n"
                "I2,shoes,boots,Acme,Red boot,red,leather,classic,80,40,someday,active\n"
                "I3,shoes,boots,Acme,Red boot,red,leather,classic,80,40,2026-01-05,gone\n").encode())
    v = tb.validate_catalog(tb.read_csv(spark, [cat], tb.schemas.CATALOG_FIELDS), RUN, conf.ingest)
    assert sorted((r.item_id, r._reason, r._detail) for r in v.select("item_id", "_reason", "_detail").collect()) == [
        ("I1", None, None), ("I2", "bad_type", "launch_date=someday"), ("I3", "unknown_value", "status=gone")]


def landing_events(conf, day: str, lines, extra: bytes = b"", n: int = 0):
    path = os.path.join(conf.paths.landing_dir, "events", f"date={day}", f"events-{day}-{n:03d}.jsonl")
    write(path, ("\n".join(lines) + "\n").encode() + extra)
    return path


def test_job_reconciles_quarantines_and_reruns_change_nothing(spark, conf):
    landing_events(conf, "2026-09-30", [
        event(event_id="e1"), event(event_id="e1"), event(event_id="e2", price="abc"),
        '{"event_id": "e3", broken', event(event_id="e5", event_type="search", item_id=None, quantity=None),
    ], extra=b'{"event_id": "e6", "event_time": "2026-09-30T10:00:00Z", "x": "\xff\xfe"}\n')
    landing_events(conf, "2026-10-02", [event(event_id="e9", event_time="2026-10-02T10:00:00Z")])  # after run_date
    res = job.run(spark, conf, RUN)
    assert res == {"events": {"source": "events", "files": 1, "read": 6, "accepted": 2, "quarantined": 3,
                              "duplicates": 1}}
    q = io.read(spark, conf, "quarantine.records").select("reason").collect()
    assert sorted(r.reason for r in q) == ["bad_type", "invalid_encoding", "malformed_record"]
    versions = {t: io.version(spark, conf, t) for t in ("bronze.events", "quarantine.records", "ops.run_log")}
    assert job.run(spark, conf, RUN) == {}
    assert {t: io.version(spark, conf, t) for t in versions} == versions
    [log] = io.read(spark, conf, "ops.run_log").collect()
    assert (log.read, log.accepted, log.quarantined, log.duplicates, log.files) == (6, 2, 3, 1, 1)


def test_files_whose_paths_need_escaping_reconcile_under_their_listed_path(spark, conf):
    plain = landing_events(conf, "2026-09-30", [event(event_id="p1")])
    odd = os.path.join(conf.paths.landing_dir, "events", "date=2026-09-30", "late delivery 100%.jsonl")
    write(odd, (event(event_id="o1") + "\n" + event(event_id="o2") + "\n").encode())
    res = job.run(spark, conf, RUN)
    assert (res["events"]["read"], res["events"]["accepted"]) == (3, 3)
    files = {os.path.basename(r.source_file): (r.read, r.accepted)
             for r in io.read(spark, conf, "ops.ingest_files").collect()}
    assert files == {os.path.basename(plain): (1, 1), "late delivery 100%.jsonl": (2, 2)}
    src = {r.event_id: os.path.basename(r.source_file) for r in io.read(spark, conf, "bronze.events").collect()}
    assert src == {"p1": os.path.basename(plain), "o1": "late delivery 100%.jsonl", "o2": "late delivery 100%.jsonl"}


def test_local_listing_names_files_as_hadoop_does(spark, tmp_path):
    root = tmp_path / "landing" / "events"
    names = ["date=2026-09-30/a.jsonl", "date=2026-09-30/late delivery 100%.jsonl", "date=2026-09-30/ü+#x.jsonl",
             "events-2026-09-29-000.jsonl", "sub/deeper/b.jsonl", "_tmp.jsonl", ".hidden.jsonl", "notes.txt"]
    for n in names:
        write(str(root / n), b"{}\n")
    os.symlink(root / "sub", root / "linked")
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(str(root))
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    assert sorted(c._walk_local(str(root))) == sorted(c._list_hadoop(fs, path))
    listed = c.list_landing_files(spark, str(root), (".jsonl",))
    assert [(os.path.relpath(f.path[len("file:"):], root), f.size, f.date) for f in listed] == [
        ("date=2026-09-30/a.jsonl", 3, dt.date(2026, 9, 30)),
        ("date=2026-09-30/late delivery 100%.jsonl", 3, dt.date(2026, 9, 30)),
        ("date=2026-09-30/ü+#x.jsonl", 3, dt.date(2026, 9, 30)),
        ("events-2026-09-29-000.jsonl", 3, dt.date(2026, 9, 29)),
        ("linked/deeper/b.jsonl", 3, None), ("sub/deeper/b.jsonl", 3, None)]
    one = c.list_landing_files(spark, str(root / "events-2026-09-29-000.jsonl"), (".jsonl",))
    assert [f.path for f in one] == [f"file:{root}/events-2026-09-29-000.jsonl"]


def test_late_file_for_an_earlier_day_is_merged_without_duplicates(spark, conf):
    landing_events(conf, "2026-09-29", [event(event_id="a1", event_time="2026-09-29T09:00:00Z")])
    job.run(spark, conf, dt.date(2026, 9, 30))
    landing_events(conf, "2026-09-29", [event(event_id="a1", event_time="2026-09-29T09:00:00Z"),
                                        event(event_id="a2", event_time="2026-09-29T23:59:00Z")], n=1)
    res = job.run(spark, conf, RUN)
    assert (res["events"]["read"], res["events"]["accepted"], res["events"]["duplicates"]) == (2, 1, 1)
    ids = sorted(r.event_id for r in io.read(spark, conf, "bronze.events").select("event_id").collect())
    assert ids == ["a1", "a2"]
    days = io.read(spark, conf, "ops.run_log").orderBy("run_date").select("run_date", "accepted").collect()
    assert [(r.run_date, r.accepted) for r in days] == [(dt.date(2026, 9, 30), 1), (RUN, 1)]


def test_order_status_update_counts_as_accepted_and_reread_as_duplicate(spark, conf):
    d = os.path.join(conf.paths.landing_dir, "orders")
    write(os.path.join(d, "date=2026-09-29", "orders-2026-09-29-000.csv"),
          (ORDER_HEADER + "\no1,1,2026-09-29T10:00:00Z,u1,I1,1,10,web,completed,2026-09-29T10:00:00Z\n").encode())
    job.run(spark, conf, dt.date(2026, 9, 29))
    write(os.path.join(d, "date=2026-09-30", "orders-2026-09-30-000.csv"),
          (ORDER_HEADER + "\no1,1,2026-09-29T10:00:00Z,u1,I1,1,10,web,returned,2026-09-30T08:00:00Z\n"
                          "o1,1,2026-09-29T10:00:00Z,u1,I1,1,10,web,completed,2026-09-29T10:00:00Z\n").encode())
    res = job.run(spark, conf, RUN)["orders"]
    assert (res["read"], res["accepted"], res["quarantined"], res["duplicates"]) == (2, 1, 0, 1)
    [row] = io.read(spark, conf, "bronze.orders").collect()
    assert (row.status, row.status_time) == ("returned", dt.datetime(2026, 9, 30, 8))


def test_bookkeeping_marks_are_read_in_both_formats():
    one_run = {job.RECORDED: [{"source": "events", "data_version": 3}, {"source": "orders", "data_version": 1}]}
    older = {job.RECORDED: {"source": "events", "data_version": 2}}
    assert job._recorded_marks(one_run) == one_run[job.RECORDED]
    assert job._recorded_marks(older) == [{"source": "events", "data_version": 2}]
    assert job._recorded_marks({}) == [] and job._recorded_marks({job.RECORDED: ["junk"]}) == []
