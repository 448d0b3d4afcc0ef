"""An export without customer ids (guest order lines only, no events): every stage runs or says why not.

The lake is written with the project's bronze schemas: order lines whose user_key
is null, an empty bronze.events, a catalog, past launches given as a file and the
plan's candidates. The stages that need customers write a skipped row to
ops.stage_status; the plan and the report are still written. (Ingest already
accepts a guest line, an empty user_id, as an order with a null user_key:
tests/test_ingest.py::test_order_rules_and_latest_status.)
"""
from __future__ import annotations

import datetime as dt
import os

import pytest

from debut import io
from debut import schemas as S
from debut.cli import run_job
from debut.core import status

D = dt.date
RUN = D(2026, 10, 1)
START = D(2026, 9, 10)               # three weeks of order lines: enough for the content model's 14 days
LAUNCHED = D(2026, 6, 1)             # past launches before them, given as a file
SNAP = D(2026, 9, 30)
CATEGORIES = {"shoes": (80.0, "leather boot"), "bags": (40.0, "canvas tote")}
COLOURS = ("black", "red", "blue", "green", "white")


def _product(item_id, cat, i, price_shift=0.0):
    price, noun = CATEGORIES[cat]
    colour = COLOURS[i % len(COLOURS)]
    return (item_id, cat, "sub" + str(i % 2), "Lumen", f"{colour.title()} {noun} {i}", colour,
            "leather" if cat == "shoes" else "canvas", "classic", price + 5.0 * i + price_shift,
            (price + 5.0 * i) / 2)


def write_lake(spark, conf) -> dict:
    """Guest-only bronze tables; returns the candidate ids."""
    days = [START + dt.timedelta(days=k) for k in range((SNAP - START).days + 1)]
    catalog, orders, history = [], [], []
    n = 0
    for cat in CATEGORIES:
        for i in range(6):                                    # items selling every day since before the export
            item = f"{cat}-old-{i}"
            catalog.append(_product(item, cat, i) + (None, "active", SNAP, "catalog.csv", SNAP, "given", None))
            for d in days:
                n += 1
                orders.append((f"O{n}", 1, dt.datetime.combine(d, dt.time(12)), d, None, item, 1 + i % 3,
                               CATEGORIES[cat][0], "web", "completed", None, "orders.csv", SNAP, None))
        for i in range(5):                                    # past launches, given as a launch-history file
            item = f"{cat}-launch-{i}"
            launch = LAUNCHED + dt.timedelta(days=7 * i)
            catalog.append(_product(item, cat, i, 2.0) + (launch, "active", SNAP, "catalog.csv", SNAP, "given", None))
            for week in range(1, 9):
                history.append(_product(item, cat, i, 2.0) + (launch, week, 3 + i + week, "launches.csv", SNAP))
    cands = [_product(f"C-{cat}-{i}", cat, i, 1.0) + (10, RUN, "candidates.csv", SNAP)
             for cat in CATEGORIES for i in range(3)]
    io.merge(spark.createDataFrame(catalog, S.CATALOG), conf, "bronze.catalog")
    io.merge(spark.createDataFrame(orders, S.ORDERS), conf, "bronze.orders")
    io.merge(spark.createDataFrame([], S.EVENTS), conf, "bronze.events")
    io.merge(spark.createDataFrame(history, S.LAUNCH_HISTORY_INPUT), conf, "bronze.launch_history_input")
    io.merge(spark.createDataFrame(cands, S.CANDIDATES), conf, "bronze.candidates")
    return {"candidates": sorted(c[0] for c in cands)}


def _status_rows(spark, conf):
    return sorted(tuple(r) for r in io.read(spark, conf, status.TABLE)
                  .select("job", "part", "status", "reason", "rows").collect())


@pytest.mark.slow
def test_pipeline_without_customer_ids_skips_customer_parts_and_still_plans(spark, conf):
    """Minutes: aggregate, embeddings and the demand set are real (each guard alone is tested below)."""
    ids = write_lake(spark, conf)
    for job in ("aggregate", "build_features", "train_als", "train_deep", "forecast_launch", "optimize_launch",
                "evaluate", "report"):
        run_job(job, conf, RUN, spark=spark)

    rows = _status_rows(spark, conf)
    demand = [r for r in rows if r[:2] == ("train_deep", "demand")]
    assert [r for r in rows if r[:2] != ("train_deep", "demand")] == [
        ("build_features", "customers", "skipped", status.NO_INTERACTIONS, 0),
        ("build_features", "item_features", "ok", None, 12 + 10 + 6),
        ("forecast_launch", "audience", "skipped", "no gold.item_audience: train_als wrote none "
                                                   "(it needs customer ids)", 0),
        ("train_als", "als", "skipped", status.NO_INTERACTIONS, 0),
        ("train_deep", "ctr", "skipped", status.NO_INTERACTIONS, None),
        ("train_deep", "sequence", "skipped", status.NO_INTERACTIONS, None),
    ]
    # the demand net needs launch history only: attempted (10 launches are too few to train on)
    assert len(demand) == 1 and demand[0][2] == "skipped"
    assert demand[0][3].endswith("training rows, fewer than deep.min_train_rows=64")
    for name in ("gold.customer_profile", "gold.als_user_factors", "gold.launch_audience", "gold.item_audience"):
        assert not io.exists(spark, conf, name), name

    plan = io.read(spark, conf, "gold.launch_plan").where(f"plan_date = DATE'{RUN}'")
    assert sorted(r[0] for r in plan.where("candidate_id is not null").select("candidate_id").collect()) \
        == ids["candidates"]
    from debut.report.job import report_path
    with open(report_path(conf, RUN), encoding="utf-8") as fh:
        page = fh.read()
    assert "What this run could not do" in page and status.NO_INTERACTIONS in page


def test_missing_events_are_no_customers(spark, conf):
    assert status.missing_customers(spark, conf) == status.NO_EVENTS


def test_empty_user_item_is_no_customers(spark, conf):
    io.merge(spark.createDataFrame([], S.EVENTS), conf, "bronze.events")
    io.merge(spark.createDataFrame([], S.USER_ITEM), conf, "silver.user_item")
    assert status.missing_customers(spark, conf) == status.NO_INTERACTIONS


def test_record_merges_on_job_run_date_and_part(spark, conf):
    status.record(spark, conf, "train_als", RUN, [("als", status.SKIPPED, "no customer ids", 0)])
    status.record(spark, conf, "train_als", RUN, [("als", status.OK, None, None)])
    assert _status_rows(spark, conf) == [("train_als", "als", "ok", None, None)]
    assert status.not_done(spark, conf, RUN) is None


def test_record_replaces_only_its_own_keys(spark, conf):
    other_day = RUN - dt.timedelta(days=1)
    status.record(spark, conf, "train_als", RUN, [("als", status.OK, None, 5), ("lists", status.OK, None, 7)])
    status.record(spark, conf, "train_als", other_day, [("als", status.OK, None, 4)])
    status.record(spark, conf, "train_deep", RUN, [("it's", status.FAILED, "a quote", None)])
    status.record(spark, conf, "train_als", RUN, [("als", status.SKIPPED, "no customer ids", 0)])
    rows = sorted((r.job, r.run_date, r.part, r.status, r.rows) for r in io.read(spark, conf, status.TABLE).collect())
    assert rows == [("train_als", other_day, "als", "ok", 4), ("train_als", RUN, "als", "skipped", 0),
                    ("train_als", RUN, "lists", "ok", 7), ("train_deep", RUN, "it's", "failed", None)]


def test_record_metrics_replaces_only_its_own_keys(spark, conf):
    """gold.evaluation: a rerun replaces the rows of its (run_date, component, metric, slice) keys
    and keeps every other row; slices with quotes and backslashes are matched exactly."""
    from debut import tracking

    other_day = RUN - dt.timedelta(days=1)
    tracking.record_metrics(spark, conf, RUN, "deep.ctr", {"auc": 0.8, ("auc", "baseline=it's"): 0.6},
                            log_mlflow=False)
    tracking.record_metrics(spark, conf, other_day, "deep.ctr", {"auc": 0.7}, log_mlflow=False)
    tracking.record_metrics(spark, conf, RUN, "recommend", {("ndcg", "a\\b", 10): 0.3}, log_mlflow=False)
    tracking.record_metrics(spark, conf, RUN, "deep.ctr", {("auc", "baseline=it's", 9): 0.65}, log_mlflow=False)
    rows = sorted((r.run_date, r.component, r.metric, r.slice, r.value, r.n)
                  for r in io.read(spark, conf, "gold.evaluation").collect())
    assert rows == [(other_day, "deep.ctr", "auc", "all", 0.7, None),
                    (RUN, "deep.ctr", "auc", "all", 0.8, None),
                    (RUN, "deep.ctr", "auc", "baseline=it's", 0.65, 9),
                    (RUN, "recommend", "ndcg", "a\\b", 0.3, 10)]


def test_record_refuses_an_unknown_status(spark, conf):
    with pytest.raises(ValueError, match="train_als.als"):
        status.record(spark, conf, "train_als", RUN, [("als", "maybe", None, None)])


# ---------------------------------------------------------------- each guard alone
def _no_interactions(spark, conf):
    io.merge(spark.createDataFrame([], S.EVENTS), conf, "bronze.events")
    io.merge(spark.createDataFrame([], S.USER_ITEM), conf, "silver.user_item")


def test_build_features_without_customers_builds_item_features_only(spark, conf):
    from debut.features import job

    _no_interactions(spark, conf)
    io.merge(spark.createDataFrame([_product("shoes-old-0", "shoes", 0) + (None, "active", SNAP, "c.csv", SNAP, "given", None)],
                                   S.CATALOG), conf, "bronze.catalog")
    io.merge(spark.createDataFrame([_product("C-shoes-0", "shoes", 0, 1.0) + (10, RUN, "c.csv", SNAP)],
                                   S.CANDIDATES), conf, "bronze.candidates")
    out = job.run(spark, conf, RUN)
    assert (out["items"], out["customers"], out["skipped"]) == (2, 0, status.NO_INTERACTIONS)
    assert _status_rows(spark, conf) == [("build_features", "customers", "skipped", status.NO_INTERACTIONS, 0),
                                         ("build_features", "item_features", "ok", None, 2)]
    assert sorted(r[0] for r in io.read(spark, conf, "gold.item_features").select("item_id").collect()) == [
        "C-shoes-0", "shoes-old-0"]
    assert not io.exists(spark, conf, "gold.customer_profile")


def test_train_als_without_customers_writes_only_its_status(spark, conf):
    from debut.recommend import job

    _no_interactions(spark, conf)
    assert job.run(spark, conf, RUN) == {"skipped": status.NO_INTERACTIONS}
    assert _status_rows(spark, conf) == [("train_als", "als", "skipped", status.NO_INTERACTIONS, 0)]
    assert not io.exists(spark, conf, "gold.als_item_factors")


def test_train_deep_without_customers_skips_ctr_and_sequence_before_building_them(spark, conf):
    from debut.deep import job

    _no_interactions(spark, conf)
    out = job.run(spark, conf.replace(**{"deep.tasks": ["ctr", "sequence"]}), RUN)
    assert out == {"ctr": {"skipped": status.NO_INTERACTIONS}, "sequence": {"skipped": status.NO_INTERACTIONS}}
    assert _status_rows(spark, conf) == [("train_deep", "ctr", "skipped", status.NO_INTERACTIONS, None),
                                         ("train_deep", "sequence", "skipped", status.NO_INTERACTIONS, None)]


def test_forecast_without_an_audience_says_so_and_forecasts(spark, conf):
    from debut.forecast import job

    conf = conf.replace(**{"forecast.embed_titles": False, "forecast.use_demand_net": False})
    history = [_product(f"shoes-launch-{i}", "shoes", i) + (LAUNCHED + dt.timedelta(days=7 * i), w, 3 + i + w,
                                                             "l.csv", SNAP)
               for i in range(3) for w in range(1, 9)]
    io.merge(spark.createDataFrame(history, S.LAUNCH_HISTORY_INPUT), conf, "bronze.launch_history_input")
    io.merge(spark.createDataFrame([_product("C-shoes-0", "shoes", 0, 1.0) + (10, RUN, "c.csv", SNAP)],
                                   S.CANDIDATES), conf, "bronze.candidates")
    assert job.run(spark, conf, RUN)["gold.launch_forecast"] == 1
    assert _status_rows(spark, conf) == [("forecast_launch", "audience", "skipped", job.NO_AUDIENCE, 0)]


def test_report_lists_what_the_run_could_not_do():
    import pandas as pd

    from debut.report import build

    not_done = pd.DataFrame([("train_als", "als", "skipped", "no customer ids <none>")],
                            columns=["job", "part", "status", "reason"])
    page = build.render({"not_done": not_done}, RUN, RUN)
    assert "What this run could not do" in page and "no customer ids &lt;none&gt;" in page
    assert "What this run could not do" not in build.render({}, RUN, RUN)
