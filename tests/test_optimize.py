"""Launch optimizer: hand-checkable MILP instances, one applyInPandas run, the job twice, the policies."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from debut.core import milp, scenarios
from debut.core.category_plan import PLAN_COLUMNS, PLAN_SCHEMA, Params, optimize_category
from debut.core.policies import (ceiling_scenarios, naive_mean_plan, naive_topk_plan, oracle_plan, realised_profit, scenario_plan,
                                     true_totals)

PLAN_DATE = dt.date(2026, 10, 1)
LEVELS = np.arange(1, 20) / 20.0                 # the forecast's 19-level grid


def uniform_grid(lo: float, hi: float) -> np.ndarray:
    """Quantile units of demand uniform on [lo, hi]."""
    return lo + (hi - lo) * LEVELS


def cand(cid, *, price=10.0, cost=4.0, units=None, category="bags", sub="totes", band=1, p50=None):
    units = uniform_grid(50, 150) if units is None else np.asarray(units, dtype=float)
    return dict(plan_date=PLAN_DATE, category=category, candidate_id=cid, subcategory=sub, price_band=band,
                price=price, unit_cost=cost, horizon_weeks=8, mean_units=float(units.mean()),
                units_p10=float(units[1]), units_p50=float(units[9] if p50 is None else p50),
                units_p90=float(units[17]), quantile_levels=LEVELS, quantile_units=units)


def params(**kw) -> Params:
    base = dict(category_budget=1e9, max_launches=10, launch_cost=0.0, salvage_rate=0.25, min_order_qty=0,
                scenarios=200, mip_gap=0.0, time_limit_s=30.0, seed=3)
    base.update(kw)
    return Params(**base)


def by_id(out: pd.DataFrame) -> dict:
    return {r["candidate_id"]: r for r in out.to_dict("records")}


# ------------------------------------------------------------------ scenarios
def test_inverse_cdf_interpolates_and_has_tails():
    levels, units = np.array([0.25, 0.5, 0.75]), np.array([10.0, 20.0, 40.0])
    u = np.array([0.05, 0.25, 0.375, 0.5, 0.75, 0.875])
    got = scenarios.inverse_cdf(u, levels, units)
    # below: first slope 40/unit level down to 0 (clipped); above: exponential tail with slope 80 at 0.75
    expected = [2.0, 10.0, 15.0, 20.0, 40.0, 40.0 + 80.0 * 0.25 * math.log(0.25 / 0.125)]
    np.testing.assert_allclose(got, expected)


def test_scenarios_are_seeded_by_candidate_and_stratified():
    grid = scenarios.clean_grid(LEVELS, uniform_grid(0, 200))
    a = scenarios.sample_candidate(grid, 200, 7, "C1")
    np.testing.assert_array_equal(a, scenarios.sample_candidate(grid, 200, 7, "C1"))
    assert not np.array_equal(a, scenarios.sample_candidate(grid, 200, 7, "C2"))
    # one draw per 1/200 stratum: each sorted scenario lies in its stratum of U(0, 200) (+-0.5 rounding)
    s = np.sort(a)[:190]                             # below level 0.95 the grid is exactly 200 u
    k = np.arange(190)
    assert np.all((s >= k - 0.5) & (s <= k + 1 + 0.5))


# ------------------------------------------------------------------ hand-known optima
def test_single_item_newsvendor_stocks_the_critical_fractile():
    p = params()
    out = optimize_category(pd.DataFrame([cand("A")]), p)
    grid = scenarios.clean_grid(LEVELS, uniform_grid(50, 150))
    d = np.sort(scenarios.sample_candidate(grid, 200, p.seed, "A"))
    fractile = (10.0 - 4.0) / (10.0 - 1.0)             # (p - c) / (p - s), salvage 0.25 x 4 = 1
    expected_q = d[math.ceil(200 * fractile) - 1]        # smallest scenario with F(q) >= 2/3
    row = out.iloc[0]
    assert out["solver_status"].tolist() == ["optimal"]
    assert bool(row["launch"]) and row["quantity"] == expected_q
    assert abs(expected_q - (50 + 100 * fractile)) <= 2  # the fractile of U(50, 150), up to sampling
    sold = np.minimum(d, expected_q)
    profit = 10 * sold + 1 * (expected_q - sold) - 4 * expected_q
    assert row["expected_profit"] == pytest.approx(profit.mean())
    assert row["objective"] == pytest.approx(profit.mean())
    assert row["stockout_prob"] == pytest.approx((d > expected_q).mean())
    assert row["profit_p10"] == pytest.approx(np.quantile(profit, 0.1))
    assert row["margin_rate"] == pytest.approx(0.6)
    assert row["decision_rank"] == 1 and row["reason"].startswith("launched")


def test_scenario_formulation_agrees_with_piecewise():
    rows = [cand("A"), cand("B", price=12, cost=5, units=uniform_grid(0, 80)), cand("C", price=6, cost=5)]
    kw = dict(category_budget=900.0, max_launches=2, launch_cost=20.0, min_order_qty=5, mip_gap=0.0)
    pw = optimize_category(pd.DataFrame(rows), params(**kw))
    sc = optimize_category(pd.DataFrame(rows), params(formulation="scenario", **kw))
    assert set(pw["formulation"]) == {"piecewise"} and set(sc["formulation"]) == {"scenario"}
    assert pw["objective"].iloc[0] == pytest.approx(sc["objective"].iloc[0], rel=1e-6)
    assert pw["quantity"].sum() * 4 <= 900 and pw["launch"].sum() <= 2


def test_shelf_limit_of_one_picks_the_better_item():
    rows = [cand("LOW", price=8.0), cand("HIGH", price=12.0)]
    out = by_id(optimize_category(pd.DataFrame(rows), params(max_launches=1)))
    assert out["HIGH"]["launch"] and not out["LOW"]["launch"]
    assert out["LOW"]["quantity"] == 0 and "shelf limit of 1" in out["LOW"]["reason"]
    assert (out["HIGH"]["decision_rank"], out["LOW"]["decision_rank"]) == (1, 2)


def test_binding_budget_caps_the_stock():
    out = optimize_category(pd.DataFrame([cand("A")]), params(category_budget=200.0))
    row = out.iloc[0]
    assert bool(row["launch"]) and row["quantity"] == 50          # floor(200 / 4)
    assert row["spend"] == pytest.approx(200.0)
    assert "by the budget" in row["reason"]


def test_per_category_budget_override():
    p = params(category_budget=200.0, budgets={"bags": 120.0})
    assert optimize_category(pd.DataFrame([cand("A")]), p).iloc[0]["quantity"] == 30


def test_minimum_order_quantity_forces_no_launch():
    small = cand("A", units=uniform_grid(5, 25))
    assert optimize_category(pd.DataFrame([small]), params()).iloc[0]["launch"]
    row = optimize_category(pd.DataFrame([small]), params(min_order_qty=100)).iloc[0]
    # 100 units against <= 25 of demand: at most 25 x 10 + 75 x 1 - 400 < 0
    assert not row["launch"] and row["quantity"] == 0
    assert "minimum order quantity of 100" in row["reason"]


def test_candidate_min_order_qty_column_raises_the_floor():
    small = dict(cand("A", units=uniform_grid(5, 25)), min_order_qty=100)
    assert not optimize_category(pd.DataFrame([small]), params(min_order_qty=0)).iloc[0]["launch"]


def test_launch_cost_and_unprofitable_margin_skip_with_reason():
    rows = [cand("LOSS", price=4.5, cost=4.4), cand("OK")]
    out = by_id(optimize_category(pd.DataFrame(rows), params(launch_cost=50.0)))
    assert out["OK"]["launch"] and not out["LOSS"]["launch"]
    assert out["LOSS"]["reason"].startswith("not launched: negative expected profit")


def test_infeasible_category_gives_a_status_row():
    rows = [cand("A", band=1), cand("B", band=2)]
    out = optimize_category(pd.DataFrame(rows), params(min_per_price_band=2))
    status = out[out["candidate_id"].isna()]
    assert len(status) == 1 and status.iloc[0]["solver_status"] == "infeasible"
    assert "min_per_price_band=2" in status.iloc[0]["reason"] and "price band 1" in status.iloc[0]["reason"]
    cands = out[out["candidate_id"].notna()]
    assert sorted(cands["candidate_id"]) == ["A", "B"]
    assert not cands["launch"].any() and set(cands["solver_status"]) == {"infeasible"}


def test_conflicting_constraints_are_named():
    # one launch per band needs two launches at >= 30 units of cost 4 each: 240 > budget 200
    rows = [cand("A", band=1), cand("B", band=2)]
    out = optimize_category(pd.DataFrame(rows), params(min_per_price_band=1, min_order_qty=30,
                                                       category_budget=200.0))
    status = out[out["candidate_id"].isna()].iloc[0]
    assert status["solver_status"] == "infeasible" and "budget" in status["reason"]
    rows = [cand("A", band=1, sub="s"), cand("B", band=2, sub="s")]
    out = optimize_category(pd.DataFrame(rows), params(min_per_price_band=1, max_per_subcategory=1))
    status = out[out["candidate_id"].isna()].iloc[0]
    assert status["solver_status"] == "infeasible"
    assert "without max_per_subcategory or without min_per_price_band" in status["reason"]


def test_risk_aversion_lowers_the_stock_of_a_high_variance_item():
    wide = cand("WIDE", units=np.exp(np.log(100) + 1.2 * np.array(
        [-1.64, -1.28, -1.04, -0.84, -0.67, -0.52, -0.39, -0.25, -0.13, 0.0,
         0.13, 0.25, 0.39, 0.52, 0.67, 0.84, 1.04, 1.28, 1.64])))
    neutral = optimize_category(pd.DataFrame([wide]), params()).iloc[0]
    averse = optimize_category(pd.DataFrame([wide]), params(risk_weight=1.0, cvar_alpha=0.9)).iloc[0]
    assert averse["formulation"] == "scenario" and neutral["formulation"] == "piecewise"
    assert bool(averse["launch"]) and 0 < averse["quantity"] < 0.8 * neutral["quantity"]
    assert averse["profit_p10"] > neutral["profit_p10"]
    assert "risk penalty" in averse["reason"]


def test_bad_rows_do_not_crash_the_category():
    rows = [cand("A"), dict(cand("NOFC"), quantile_levels=None, quantile_units=None, units_p10=None,
                            units_p50=None, units_p90=None), dict(cand("NOPRICE"), price=None)]
    out = by_id(optimize_category(pd.DataFrame(rows), params()))
    assert out["A"]["launch"]
    assert "no usable demand forecast" in out["NOFC"]["reason"]
    assert "price or unit cost" in out["NOPRICE"]["reason"]
    assert not out["NOFC"]["launch"] and not out["NOPRICE"]["launch"]
    # only invalid candidates: every row kept, plus a status row
    out = optimize_category(pd.DataFrame(rows[1:]), params())
    assert out["solver_status"].tolist() == ["no_candidates"] * 3
    assert out["candidate_id"].isna().sum() == 1


def test_a_crash_becomes_an_error_row():
    out = optimize_category(pd.DataFrame([cand("A")]).drop(columns=["quantile_units"]), params())
    assert out["solver_status"].tolist() == ["error"]
    assert out["candidate_id"].isna().all() and "quantile_units" in out["reason"].iloc[0]
    assert list(out.columns) == PLAN_COLUMNS


def test_segments_drop_unprofitable_pieces_above_the_minimum_order():
    w, g = milp.segments(np.array([0, 10, 10, 20]), price=10, unit_cost=4, salvage=0, weight=0, min_qty=0)
    # pieces (0,10] P(D>=10)=3/4 -> 7.5-4, (10,20] P(D>=20)=1/4 -> 2.5-4 < 0: dropped
    np.testing.assert_allclose(w, [10.0])
    np.testing.assert_allclose(g, [3.5])
    w, g = milp.segments(np.array([0, 10, 10, 20]), price=10, unit_cost=4, salvage=0, weight=0, min_qty=25)
    np.testing.assert_allclose(w, [10.0, 10.0, 5.0])
    np.testing.assert_allclose(g, [3.5, -1.5, -4.0])


# ------------------------------------------------------------------ policies
def test_policies_and_realised_profit_by_hand():
    rows = [cand("A", units=uniform_grid(50, 150), p50=100), cand("B", price=12, units=uniform_grid(0, 40), p50=20),
            cand("C", price=5, units=uniform_grid(0, 40), p50=10)]
    fc = pd.DataFrame(rows)
    truth = pd.DataFrame({"candidate_id": ["A"] * 3 + ["B"] * 3 + ["C"] * 3, "week": [1, 2, 9] * 3,
                          "units": [40, 20, 1000, 10, 5, 1000, 0, 0, 1000]})
    assert true_totals(truth, fc) == {"A": 60.0, "B": 15.0, "C": 0.0}      # week 9 is past horizon 8
    p = params(max_launches=2, category_budget=400.0, launch_cost=10.0)
    oracle = by_id(oracle_plan(fc, truth, p))
    # true demand: A 60 (margin 6), B 15 (margin 8), C 0: stock exactly the demand of A and B (300 of 400)
    assert (oracle["A"]["quantity"], oracle["B"]["quantity"], oracle["C"]["launch"]) == (60, 15, False)
    res = realised_profit(oracle_plan(fc, truth, p), truth, p).set_index("candidate_id")
    assert res.loc["A", "profit"] == pytest.approx(60 * 6 - 10)
    assert res.loc["B", "profit"] == pytest.approx(15 * 8 - 10)
    assert res.loc["C", "profit"] == 0.0
    mean = naive_mean_plan(fc, p).set_index("candidate_id")["quantity"].to_dict()
    # means 100, 20, 20 cost 560 > 400: scaled by 400/560 and floored
    assert mean == {"A": 71, "B": 14, "C": 14}
    topk = naive_topk_plan(fc, p).set_index("candidate_id")
    assert topk["launch"].to_dict() == {"A": True, "B": True, "C": False}
    assert topk["quantity"].to_dict() == {"A": 50, "B": 50, "C": 0}     # 400 / (4 + 4)
    played = realised_profit(topk.reset_index(), truth, p).set_index("candidate_id")
    # A: sells 60 of 50 -> 50 x 10 - 200 - 10; B: sells 15, 35 left salvaged at 1
    assert played.loc["A", "profit"] == pytest.approx(500 - 200 - 10)
    assert played.loc["B", "profit"] == pytest.approx(15 * 12 + 35 * 1 - 200 - 10)
    assert (played.loc["B", "lost_units"], played.loc["B", "leftover"]) == (0, 35)


def test_scenario_plan_with_the_true_units_is_the_oracle():
    fc = pd.DataFrame([cand("A", units=uniform_grid(50, 150), p50=100), cand("B", price=12, units=uniform_grid(0, 40))])
    p = params(max_launches=2, category_budget=400.0, launch_cost=10.0)
    truth = pd.DataFrame({"candidate_id": ["A", "B"], "demand": [60.0, 15.0]})
    got = by_id(scenario_plan(fc, {"A": np.array([60.0]), "B": np.array([15.0])}, p))
    want = by_id(oracle_plan(fc, truth, p))
    assert {k: (v["launch"], v["quantity"]) for k, v in got.items()} == \
        {k: (v["launch"], v["quantity"]) for k, v in want.items()}


def test_ceiling_scenarios_draw_around_the_expected_demand():
    exact = ceiling_scenarios(np.array([4.0, 100.0]), 4000, seed=1)
    assert exact.shape == (2, 4000)
    np.testing.assert_allclose(exact.mean(axis=1), [4.0, 100.0], rtol=0.03)
    np.testing.assert_array_equal(exact, ceiling_scenarios(np.array([4.0, 100.0]), 4000, seed=1))
    # log-linear in the noise, E = 50 exp(v): the mean is 50 exp(sd^2 / 2) and the spread is lognormal
    values = np.linspace(-3.0, 3.0, 7) * 0.5
    table = 50.0 * np.exp(values)[None, :]
    draws = ceiling_scenarios(table, 20000, seed=2, noise_values=values, noise_sd=0.5)
    assert draws.mean() == pytest.approx(50.0 * np.exp(0.125), rel=0.03)
    assert draws.std() > np.sqrt(50.0) * 2           # far wider than Poisson alone


def test_realised_profit_takes_prices_from_candidates_and_totals():
    plan = pd.DataFrame({"candidate_id": ["A", None], "launch": [True, False], "quantity": [10, 0]})
    cands = pd.DataFrame({"candidate_id": ["A"], "category": ["bags"], "price": [10.0], "unit_cost": [4.0],
                          "demand": [7]})
    res = realised_profit(plan, cands[["candidate_id", "demand"]], cands, params(launch_cost=5.0))
    assert len(res) == 1
    assert res.iloc[0]["profit"] == pytest.approx(7 * 10 + 3 * 1 - 40 - 5)
    oracle = oracle_plan(cands, params(launch_cost=5.0))
    assert oracle["quantity"].tolist() == [7]


# ------------------------------------------------------------------ Spark
def _forecast_schema():
    from pyspark.sql import types as T
    d, s, arr = T.DoubleType(), T.StringType(), T.ArrayType(T.DoubleType())
    neighbour = T.StructType([T.StructField("item_id", s), T.StructField("title", s),
                              T.StructField("similarity", d), T.StructField("units", d)])
    return T.StructType([
        T.StructField("candidate_id", s, False), T.StructField("plan_date", T.DateType(), False),
        T.StructField("category", s, False), T.StructField("subcategory", s), T.StructField("brand", s),
        T.StructField("title", s), T.StructField("price", d), T.StructField("unit_cost", d),
        T.StructField("price_band", T.IntegerType()), T.StructField("horizon_weeks", T.IntegerType(), False),
        T.StructField("mean_units", d, False), T.StructField("units_p10", d, False),
        T.StructField("units_p50", d, False), T.StructField("units_p90", d, False),
        T.StructField("weekly_p10", arr, False), T.StructField("weekly_p50", arr, False),
        T.StructField("weekly_p90", arr, False), T.StructField("quantile_levels", arr, False),
        T.StructField("quantile_units", arr, False), T.StructField("knn_units", d),
        T.StructField("net_units", d), T.StructField("audience_units", d),
        T.StructField("weights", T.MapType(s, d)), T.StructField("neighbours", T.ArrayType(neighbour)),
        T.StructField("method", s, False), T.StructField("n_history", T.IntegerType(), False),
        T.StructField("as_of_date", T.DateType(), False)])


def _forecast_rows():
    rows = [cand("A"), cand("B", price=12.0, band=None), cand("C", price=4.5, cost=4.4, sub=None),
            cand("D", category="shoes", band=1), cand("E", category="shoes", price=9.0, band=1),
            cand("F", category="hats", band=1), cand("G", category="hats", price=9.0, band=2)]
    out = []
    for r in rows:
        out.append(dict(r, brand="b", title=f"title {r['candidate_id']}",
                        weekly_p10=[1.0] * 8, weekly_p50=[2.0] * 8, weekly_p90=[3.0] * 8,
                        quantile_levels=[float(x) for x in r["quantile_levels"]],
                        quantile_units=[float(x) for x in r["quantile_units"]],
                        knn_units=None, net_units=None, audience_units=None, weights={"knn": 1.0},
                        neighbours=[("I1", "old item", 0.9, 80.0)], method="blend", n_history=10,
                        as_of_date=PLAN_DATE))
    return out


def _spark_forecast(spark, rows):
    schema = _forecast_schema()
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)


def test_apply_in_pandas_matches_the_pandas_function(spark):
    from debut.optimize.job import to_plan
    p = params(max_launches=1, min_per_price_band=1)
    rows = _forecast_rows()
    got = to_plan(_spark_forecast(spark, rows), p).toPandas()
    assert got.shape[1] == len(PLAN_SCHEMA.fields)
    pdf = pd.DataFrame(rows)
    expected = pd.concat([optimize_category(g, p) for _, g in pdf.groupby("category")], ignore_index=True)
    key = ["category", "candidate_id"]
    got = got.sort_values(key, na_position="last").reset_index(drop=True)
    expected = expected.sort_values(key, na_position="last").reset_index(drop=True)
    assert got[key + ["launch", "quantity", "solver_status"]].astype(str).equals(
        expected[key + ["launch", "quantity", "solver_status"]].astype(str))
    np.testing.assert_allclose(got["expected_profit"].astype(float), expected["expected_profit"].astype(float))
    # hats has two bands but one shelf slot: infeasible, a null-candidate status row
    hats = got[got["category"] == "hats"]
    assert hats["candidate_id"].isna().sum() == 1 and set(hats["solver_status"]) == {"infeasible"}
    assert got.loc[got["candidate_id"] == "C", "stockout_prob"].isna().all()   # not launched: null, not NaN


def test_job_writes_the_plan_and_a_rerun_replaces_it(spark, conf):
    from debut import io
    from debut.optimize import job

    conf = conf.replace(**{"optimize.launch_cost": 0.0, "optimize.min_order_qty": 0,
                           "optimize.max_launches": 1, "optimize.mip_gap": 0.0})
    with pytest.raises(io.MissingTableError):
        job.run(spark, conf, PLAN_DATE)
    rows = _forecast_rows()
    other_day = [dict(r, plan_date=PLAN_DATE - dt.timedelta(days=7)) for r in rows[:2]]
    io.replace_where(_spark_forecast(spark, rows + other_day), conf, "gold.launch_forecast", "true")
    first = job.run(spark, conf, PLAN_DATE)
    version = io.version(spark, conf, "gold.launch_plan")
    second = job.run(spark, conf, PLAN_DATE)
    same = ("expected_profit", "launches", "units", "spend", "categories_solved", "categories_infeasible")
    assert {k: first[k] for k in same} == {k: second[k] for k in same}
    assert io.version(spark, conf, "gold.launch_plan") == version + 1
    plan = io.read(spark, conf, "gold.launch_plan").toPandas()
    assert set(plan["plan_date"]) == {PLAN_DATE}
    assert len(plan) == 7 and plan["candidate_id"].is_unique
    launched = plan[plan["launch"]].groupby("category")["candidate_id"].apply(sorted).to_dict()
    assert launched == {"bags": ["B"], "hats": ["F"], "shoes": ["D"]}   # B has the best margin
    assert first["categories_solved"] == 3 and first["launches"] == 3
    assert first["expected_profit"] == pytest.approx(plan["expected_profit"].sum())
    ev = io.read(spark, conf, "gold.evaluation").where("component = 'optimize'").toPandas()
    assert ev.set_index(["metric", "slice"]).loc[("categories_solved", "all"), "value"] == 3
    assert ev["metric"].value_counts()["expected_profit"] == 4            # all + one per category


def test_job_writes_category_status_rows_to_their_own_table(spark, conf):
    """hats has two price bands but one shelf slot: infeasible. Its status goes to
    gold.launch_plan_status; gold.launch_plan holds candidate rows only."""
    from debut import io
    from debut.optimize import job

    conf = conf.replace(**{"optimize.max_launches": 1, "optimize.min_per_price_band": 1})
    io.replace_where(_spark_forecast(spark, _forecast_rows()), conf, "gold.launch_forecast", "true")
    summary = job.run(spark, conf, PLAN_DATE)
    plan = io.read(spark, conf, "gold.launch_plan").toPandas()
    assert plan["candidate_id"].notna().all() and plan["candidate_id"].is_unique
    status = io.read(spark, conf, "gold.launch_plan_status").toPandas().set_index("category")
    assert sorted(status.index) == ["bags", "hats", "shoes"]
    assert status.loc["hats", "solver_status"] == "infeasible" and status.loc["hats", "reason"]
    assert status.loc["hats", "launches"] == 0
    assert (status["candidates"].sum(), summary["categories_infeasible"]) == (len(plan), 1.0)


def test_conf_rejects_an_unknown_formulation_and_piecewise_with_risk():
    from debut.config import ConfigError, load_config
    with pytest.raises(ConfigError, match="optimize.formulation"):
        load_config("test", ["optimize.formulation=exact"])
    with pytest.raises(ConfigError, match="piecewise"):
        load_config("test", ["optimize.formulation=piecewise", "optimize.risk_weight=0.5"])
    p = Params.of(load_config("test", ["optimize.budgets={bags: 5.0}"]))
    assert p.budget("bags") == 5.0 and p.budget("shoes") == p.category_budget
