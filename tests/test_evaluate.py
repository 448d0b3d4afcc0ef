"""evaluate (and the simulator's evaluate_truth): closed-loop profit arithmetic, calibration, the plan replay,
and the jobs on tiny Delta tables."""
from __future__ import annotations

import datetime as dt
import json
import os

import numpy as np
import pandas as pd
import pytest

from debut.config import AdjustConf
from debut.core import plan_outcomes
from debut.evaluate import scoring
from debut.simulate import closed_loop
from tests.conftest import as_table

LAUNCH = 100.0
SALVAGE = 0.3


def _demand(rows):
    return pd.DataFrame([(c, d + 1, u) for c, us in rows.items() for d, u in enumerate(us)],
                        columns=["candidate_id", "day", "demand"])


PLAN = pd.DataFrame({"candidate_id": ["A", "B", "C"], "category": ["x", "x", "y"], "quantity": [10, 20, 20],
                     "price": [10.0, 10.0, 10.0], "unit_cost": [4.0, 4.0, 4.0]})
DEMAND = _demand({"A": [5, 5, 5, 5], "B": [0, 0, 3, 3], "C": [1, 0, 2, 2]})
CURVES = {"A": [7.0], "B": [70.0], "C": [14.0]}       # forecast 1, 10 and 2 units a day
ADJ = AdjustConf(early_days=2, review_every_days=100, lead_time_days=0, reorder_cost=0.0, min_expected_units=1.0,
                 markdown_discount=0.25, markdown_lift=0.3)


def test_static_profit_arithmetic():
    out = closed_loop.play_static(PLAN, DEMAND, 4, launch_cost=LAUNCH, salvage_rate=SALVAGE).set_index("candidate_id")
    # A: sells 10 of 20 wanted: 100 - 40 - 100 + 0 = -40
    assert out.loc["A", ["units_sold", "lost_units", "leftover", "profit"]].tolist() == [10, 10, 0, -40.0]
    # B: sells 6, 14 left: 60 - 80 - 100 + 0.3 x 4 x 14 = -103.2
    assert out.loc["B", "profit"] == pytest.approx(-103.2)
    assert out.loc["C", "profit"] == pytest.approx(50 - 80 - 100 + 1.2 * 15)


def test_adjusted_plan_delists_marks_down_and_reorders():
    out, dec = closed_loop.play_adjusted(PLAN, DEMAND, CURVES, 4, ADJ, launch_cost=LAUNCH, salvage_rate=SALVAGE)
    out = out.set_index("candidate_id")
    assert dec.set_index("candidate_id")["action"].to_dict() == {"A": "breakout", "B": "delist", "C": "markdown"}
    # B: no sale in 2 days against 20 forecast -> delisted, sells nothing, salvages 20: -80 - 100 + 24
    assert out.loc["B", ["units_sold", "leftover"]].tolist() == [0, 20]
    assert out.loc["B", "profit"] == pytest.approx(-156.0)
    # C: 1 sold at 10, then demand 2 x 1.3 -> 3 a day at 7.5 for 2 days; 13 left
    assert out.loc["C", ["units_sold", "demand", "leftover"]].tolist() == [7, 7, 13]
    assert out.loc["C", "profit"] == pytest.approx(10 + 45 - 80 - 100 + 1.2 * 13)
    # A: sold out on day 2 at 5x the forecast pace; the reorder arrives the next day (lead time 0)
    a = out.loc["A"]
    q = int(dec.set_index("candidate_id").loc["A", "reorder_qty"])
    assert q > 0 and a["reorder_units"] == q and a["reorders"] == 1
    assert a["units_sold"] == 10 + min(q, 10)
    assert a["profit"] == pytest.approx(10 * a["units_sold"] - 4 * (10 + q) - 100 + 1.2 * a["leftover"])
    assert a["actions"] == f"day 2: breakout {q}"


def test_review_days():
    assert closed_loop.review_days(56, AdjustConf(early_days=14, review_every_days=7)) == [14, 21, 28, 35, 42, 49]


def test_calibration_counts():
    df = pd.DataFrame({"actual": [5, 15, 30, 0], "p10": [4, 4, 4, 1], "p50": [10, 10, 10, 2], "p90": [20, 20, 20, 3]})
    cal = plan_outcomes.calibration(df)
    assert (cal["coverage_p10_p90"], cal["below_p10"], cal["above_p90"]) == (0.5, 0.25, 0.25)
    assert cal["wape"] == pytest.approx((5 + 5 + 20 + 2) / 50)
    assert cal["bias"] == pytest.approx((32 - 50) / 50)


def test_newsvendor_replay_against_what_sold():
    bt = pd.DataFrame({"cutoff_date": [dt.date(2026, 8, 1)], "item_id": ["I1"], "actual": [30.0],
                       "p10": [10.0], "p50": [20.0], "p90": [40.0], "price": [10.0], "unit_cost": [4.0]})
    r = scoring.newsvendor_replay(bt, salvage_rate=0.25, launch_cost=0.0).set_index("policy")
    # fractile 6 / (6 + 3) = 2/3 -> 20 + (2/3 - 0.5) / 0.4 x 20 = 28.33 -> 28 units, all sold: 168
    assert r.loc["newsvendor", "quantity"] == 28 and r.loc["newsvendor", "profit"] == pytest.approx(168.0)
    assert r.loc["p50", "profit"] == pytest.approx(120.0) and r.loc["oracle", "profit"] == pytest.approx(180.0)
    s = scoring.replay_summary(r.reset_index())
    assert s[("replay_profit_pct_oracle", "policy=newsvendor", 1)] == pytest.approx(100 * 168 / 180)


# ------------------------------------------------------------- the job
RUN = dt.date(2026, 10, 1)


@pytest.fixture(scope="module")
def market():
    from debut.config import load_config
    from debut.simulate.market import Marketplace

    mp = Marketplace(load_config("test").simulate, RUN)
    return mp, mp.candidate_truth()


def _inputs(spark, conf, mp, truth):
    from pyspark.sql import functions as F

    from debut import io
    from debut.forecast.schema import LAUNCH_FORECAST

    os.makedirs(conf.paths.truth_dir, exist_ok=True)
    truth.to_parquet(os.path.join(conf.paths.truth_dir, "candidate_demand.parquet"), index=False)
    with open(os.path.join(conf.paths.truth_dir, "summary.json"), "w") as fh:
        json.dump({"run_date": RUN.isoformat()}, fh)
    cats = [mp.categories[c].name for c in mp.candidates.cat]
    weeks = mp.conf.launch_window_weeks
    rows, plan = [], []
    for i, cid in enumerate(mp.candidates.ids):
        p50 = 12.0 + i
        rows.append({"candidate_id": str(cid), "plan_date": RUN, "category": cats[i], "subcategory": None,
                     "brand": None, "title": f"t{i}", "price": float(mp.candidates.price[i]),
                     "unit_cost": float(mp.candidates.unit_cost[i]), "price_band": 1, "horizon_weeks": weeks,
                     "mean_units": p50, "units_p10": p50 / 2, "units_p50": p50, "units_p90": p50 * 2,
                     "weekly_p10": [p50 / 2 / weeks] * weeks, "weekly_p50": [p50 / weeks] * weeks,
                     "weekly_p90": [p50 * 2 / weeks] * weeks, "quantile_levels": [0.1, 0.5, 0.9],
                     "quantile_units": [p50 / 2, p50, p50 * 2], "knn_units": None, "net_units": None,
                     "audience_units": None, "weights": None, "neighbours": None, "method": "blend",
                     "n_history": 5, "as_of_date": RUN})
        plan.append((cats[i], str(cid), RUN, i % 2 == 0, 15 if i % 2 == 0 else 0, 10.0))
    fc = spark.createDataFrame(pd.DataFrame(rows), LAUNCH_FORECAST)
    io.merge(fc, conf, "gold.launch_forecast")
    io.merge(as_table(spark.createDataFrame(plan, "category string, candidate_id string, plan_date date, "
                                                  "launch boolean, quantity int, expected_profit double")
                      .withColumn("reason", F.lit("test")), "gold.launch_plan"), conf, "gold.launch_plan")
    return pd.DataFrame(rows), pd.DataFrame(plan, columns=["category", "candidate_id", "plan_date", "launch",
                                                           "quantity", "expected_profit"])


def test_evaluate_then_evaluate_truth_on_the_simulator(spark, conf, market, capsys):
    from pyspark.sql import functions as F

    from debut import io
    from debut.evaluate import job
    from debut.simulate import truth_eval
    from debut.simulate.market import UNLIMITED

    mp, truth = market
    fc, plan = _inputs(spark, conf, mp, truth)
    job.run(spark, conf, RUN)
    # evaluate never reads the truth: at the plan date no sale has come yet
    assert not io.exists(spark, conf, "gold.launch_outcomes")
    assert "gold.launch_history is absent: no later sales to score the plan on" in capsys.readouterr().out
    summary = truth_eval.run(spark, conf, RUN)

    # (c) forecast calibration against the truth, by hand
    actual = truth.groupby("candidate_id")["units"].sum()
    a = fc["candidate_id"].map(actual).to_numpy(float)
    ev = io.read(spark, conf, "gold.evaluation").where(F.col("component") == "evaluate").toPandas()
    value = lambda m, s="all": float(ev[(ev.metric == m) & (ev.slice == s)]["value"].iloc[0])  # noqa: E731
    assert value("forecast_coverage_p10_p90") == pytest.approx(np.mean((a >= fc.units_p10) & (a <= fc.units_p90)))
    assert value("forecast_below_p10") == pytest.approx(np.mean(a < fc.units_p10))

    # (b) the static closed loop, recomputed from the simulator's own replay
    launched = plan[plan["launch"]].merge(fc[["candidate_id", "price", "unit_cost"]], on="candidate_id")
    horizon = 7 * mp.conf.launch_window_weeks
    demand = mp.play_forward(RUN, horizon, pd.DataFrame({"candidate_id": launched["candidate_id"], "stock": UNLIMITED}))
    total = demand.groupby("candidate_id")["demand"].sum()
    sold = np.minimum(launched["quantity"], launched["candidate_id"].map(total))
    expected_static = float((launched["price"] * sold - launched["unit_cost"] * launched["quantity"]
                             - conf.optimize.launch_cost
                             + conf.optimize.salvage_rate * launched["unit_cost"] * (launched["quantity"] - sold)).sum())
    assert value("closed_loop_profit", "policy=static") == pytest.approx(expected_static)
    assert summary["closed_loop"]["static"] == pytest.approx(expected_static)

    out = io.read(spark, conf, "gold.launch_outcomes").toPandas()
    loop = out[out["demand_source"] == "play_forward"]
    assert sorted(loop["policy"].unique()) == ["adjusted", "static"]
    assert len(loop) == 2 * len(launched)
    static = loop[loop["policy"] == "static"].set_index("candidate_id")
    assert static.loc[launched["candidate_id"], "weekly_demand"].map(sum).tolist() == \
        launched["candidate_id"].map(total).tolist()
    assert value("closed_loop_profit", "policy=adjusted") == pytest.approx(
        float(loop[loop["policy"] == "adjusted"]["profit"].sum()))

    # (a) the plan and the oracle against the truth (all candidates live)
    plan_rows = out[out["policy"] == "plan"].set_index("candidate_id")
    d = launched["candidate_id"].map(actual).to_numpy(float)
    q = launched["quantity"].to_numpy(float)
    s = np.minimum(d, q)
    expected_plan = float((launched["price"] * s - launched["unit_cost"] * q - conf.optimize.launch_cost
                           + conf.optimize.salvage_rate * launched["unit_cost"] * (q - s)).sum())
    assert plan_rows["profit"].sum() == pytest.approx(expected_plan)
    assert value("profit", "policy=plan") == pytest.approx(expected_plan)
    oracle = value("profit", "policy=oracle")
    assert oracle >= expected_plan - 1e-6
    assert value("profit_pct_oracle") == pytest.approx(100 * expected_plan / oracle)
    assert {"naive_mean", "naive_topk"} <= set(out["policy"])
    # the better-informed references: planned by the same MILP, never above the oracle
    ceil_attr = value("profit", "policy=ceiling_attributes")
    assert value("profit", "policy=ceiling_exact_mean") <= oracle + 1e-6 and ceil_attr <= oracle + 1e-6
    if ceil_attr > 0:
        assert value("profit_pct_attainable") == pytest.approx(100 * expected_plan / ceil_attr)

    # a rerun replaces the plan date's outcomes
    job.run(spark, conf, RUN)
    truth_eval.run(spark, conf, RUN)
    assert io.read(spark, conf, "gold.launch_outcomes").count() == len(out)


def test_evaluate_job_without_a_plan_notes_it(spark, conf, capsys):
    from debut.evaluate import job

    summary = job.run(spark, conf, RUN)
    assert "plan_date" not in summary
    assert "gold.launch_plan is absent" in capsys.readouterr().out


def test_evaluate_truth_without_the_simulators_truth_says_so_and_writes_nothing(spark, conf, market, capsys):
    from debut import io
    from debut.simulate import truth_eval

    mp, truth = market
    _inputs(spark, conf, mp, truth)
    os.remove(os.path.join(conf.paths.truth_dir, "candidate_demand.parquet"))
    summary = truth_eval.run(spark, conf, RUN)
    assert "profit" not in summary and "closed_loop" not in summary
    assert "[evaluate_truth] no simulator truth (" in capsys.readouterr().out
    assert not io.exists(spark, conf, "gold.launch_outcomes") and not io.exists(spark, conf, "gold.evaluation")


def test_evaluate_truth_scores_the_segments_against_the_simulators(spark, conf):
    from pyspark.sql import functions as F

    from debut import io
    from debut import schemas as S
    from debut.core.pseudonym import hash_key, hmac_reference
    from debut.simulate import truth_eval

    key = hash_key(conf)
    raw = [("U1", 0), ("U2", 0), ("U3", 1), ("U4", 1)]
    profile = spark.createDataFrame([(hmac_reference(key, u), 7 if s == 0 else 3) for u, s in raw],
                                    "user_key string, segment int")
    profile = profile.select(*[F.col(f.name) if f.name in profile.columns else F.lit(None).cast(f.dataType).alias(f.name)
                               for f in S.CUSTOMER_PROFILE.fields])
    io.overwrite(profile, conf, "gold.customer_profile")
    os.makedirs(conf.paths.truth_dir, exist_ok=True)
    pd.DataFrame({"user_id": [u for u, _ in raw] + ["U9"], "segment": [s for _, s in raw] + [1]}).to_parquet(
        os.path.join(conf.paths.truth_dir, "user_segments.parquet"))
    assert truth_eval.run(spark, conf, RUN)["segment_ari"] == 1.0
    ev = io.read(spark, conf, "gold.evaluation").where(F.col("metric") == "segment_ari").collect()
    assert [(r.component, r.slice, r.value) for r in ev] == [("evaluate", "all", 1.0)]


# ------------------------------------------------------------- real data: the plan against later sales
PLAN_DAY = dt.date(2026, 6, 1)


def _real_conf(conf):
    return conf.replace(**{"optimize.category_budget": 400.0, "optimize.max_launches": 2, "optimize.launch_cost": 10.0,
                           "optimize.salvage_rate": 0.5, "optimize.min_order_qty": 1,
                           "optimize.max_per_subcategory": 0, "optimize.min_per_price_band": 0,
                           "optimize.satisfaction_weight": 0.0, "optimize.risk_weight": 0.0,
                           "evaluate.launch_window_days": 30})


def _real_tables(spark, conf):
    """A plan of 5 candidates (2-week horizon) and gold.launch_history written after it."""
    from pyspark.sql import functions as F

    from debut import io, schemas
    from debut.forecast.schema import LAUNCH_FORECAST

    #       id   cost  p10 p50 p90 mean  launch, quantity
    cands = [("A", 4.0, 10, 20, 30, 22, True, 20), ("B", 4.0, 2, 5, 8, 6, True, 5),
             ("C", 8.0, 5, 10, 15, 10, False, 0), ("D", 4.0, 5, 10, 15, 10, True, 10),
             ("E", 4.0, 5, 10, 15, 10, False, 0)]
    rows = [{"candidate_id": c, "plan_date": PLAN_DAY, "category": "home", "subcategory": None, "brand": None,
             "title": c, "price": 10.0, "unit_cost": cost, "price_band": 1, "horizon_weeks": 2, "mean_units": float(m),
             "units_p10": float(lo), "units_p50": float(mid), "units_p90": float(hi),
             "weekly_p10": [lo / 2] * 2, "weekly_p50": [mid / 2] * 2, "weekly_p90": [hi / 2] * 2,
             "quantile_levels": [0.1, 0.5, 0.9], "quantile_units": [float(lo), float(mid), float(hi)],
             "knn_units": None, "net_units": None, "audience_units": None, "weights": None, "neighbours": None,
             "method": "blend", "n_history": 5, "as_of_date": PLAN_DAY}
            for c, cost, lo, mid, hi, m, _, _ in cands]
    io.merge(spark.createDataFrame(pd.DataFrame(rows), LAUNCH_FORECAST), conf, "gold.launch_forecast")
    io.merge(as_table(spark.createDataFrame([("home", c, PLAN_DAY, x, q, 0.0) for c, _, _, _, _, _, x, q in cands],
                                            "category string, candidate_id string, plan_date date, launch boolean, "
                                            "quantity int, expected_profit double")
                      .withColumn("reason", F.lit("test")), "gold.launch_plan"), conf, "gold.launch_plan")
    day = lambda n: PLAN_DAY + dt.timedelta(days=n)  # noqa: E731
    #           item, launch date, week units, week 2 complete
    history = [("A", day(3), [8, 7], True), ("B", day(10), [20, 10], True), ("C", day(0), [1, 1], True),
               ("E", day(20), [4, 4], False),            # its second week has not ended: not scored
               ("F", day(40), [9, 9], True),             # first sold after the window: not the plan's launch
               ("P", day(-30), [50, 50], True)]          # a past launch, not a candidate
    lh = [(item, "home", None, None, item, None, None, None, 10.0, 4.0, launch, False, w + 1,
           launch + dt.timedelta(days=7 * w), units[w], 0, w == 0 or complete, day(60))
          for item, launch, units, complete in history for w in range(2)]
    io.overwrite(spark.createDataFrame(lh, schemas.LAUNCH_HISTORY), conf, "gold.launch_history")


def test_evaluate_scores_a_past_plan_on_the_sales_that_came_after_it(spark, conf):
    from pyspark.sql import functions as F

    from debut import io
    from debut.evaluate import job

    conf = _real_conf(conf)
    _real_tables(spark, conf)
    summary = job.run(spark, conf, PLAN_DAY + dt.timedelta(days=60))
    # A, B, C launched in the window with 2 complete weeks (15, 30, 2 units); D never sold, E incomplete
    # plan     A 20 -> 150 - 80 - 10 + 0.5 x 4 x 5 = 70; B 5 -> 50 - 20 - 10 = 20; C not launched
    # oracle   A 15 -> 80; B 30 -> 170; C (2 x 2 - 10 < 0) not launched
    # mean     A 22 -> 66; B 6 -> 26; C 10 -> 20 - 80 - 10 + 0.5 x 8 x 8 = -38
    # p50      A 20 -> 70; B 5 -> 20; C 10 -> -38
    # top-2    A, C by P50, 400 / (4 + 8) = 33 each: A 150 - 132 - 10 + 36 = 44; C 20 - 264 - 10 + 124 = -130
    expected = {"plan": 90.0, "oracle": 250.0, "naive_mean": 54.0, "naive_p50": 52.0, "naive_topk": -86.0}
    assert summary["profit"] == pytest.approx(expected)
    ev = io.read(spark, conf, "gold.evaluation").where(F.col("component") == "evaluate").toPandas()
    value = lambda m, s="all": float(ev[(ev.metric == m) & (ev.slice == s)]["value"].iloc[0])  # noqa: E731
    for policy, profit in expected.items():
        assert value("profit", f"policy={policy}") == pytest.approx(profit)
    assert value("profit_pct_oracle") == pytest.approx(100 * 90 / 250)
    assert (value("units_stocked", "policy=plan"), value("units_sold", "policy=plan")) == (25.0, 20.0)
    assert (value("units_stocked", "policy=oracle"), value("units_sold", "policy=oracle")) == (45.0, 45.0)
    assert value("candidates_with_sales") == 3.0
    assert value("forecast_coverage_p10_p90") == pytest.approx(1 / 3)
    assert value("forecast_wape") == pytest.approx((5 + 25 + 8) / 47)
    out = io.read(spark, conf, "gold.launch_outcomes").where(F.col("policy") == "plan").toPandas()
    assert set(out["demand_source"]) == {"sales"}
    assert out.set_index("candidate_id")["weekly_demand"].map(list).to_dict() == {"A": [8, 7], "B": [20, 10],
                                                                                   "C": [1, 1]}


@pytest.mark.slow   # two evaluate runs on simulated tables, ~25 s
def test_evaluate_waits_for_the_planned_candidates_first_weeks(spark, conf, capsys):
    from debut import io
    from debut.evaluate import job

    conf = _real_conf(conf)
    _real_tables(spark, conf)
    summary = job.run(spark, conf, PLAN_DAY + dt.timedelta(days=60))
    capsys.readouterr()
    conf = conf.replace(**{"evaluate.launch_window_days": 2})       # only C, launched on the plan date
    assert job.run(spark, conf, PLAN_DAY + dt.timedelta(days=60))["profit"]["plan"] == 0.0
    assert "1 of 5 planned candidates launched within 2 days" in capsys.readouterr().out
    io.overwrite(io.read(spark, conf, "gold.launch_history").where("item_id = 'P'"), conf, "gold.launch_history")
    assert "profit" not in job.run(spark, conf, PLAN_DAY + dt.timedelta(days=60))
    assert "actual sales not available yet" in capsys.readouterr().out
    assert summary["plan_date"] == PLAN_DAY.isoformat()
