"""forecast: metrics, curves, kNN, blending, calibration, the file command and the job."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from debut import io, schemas
from debut.aggregate import launch
from debut.config import ForecastConf
from debut.forecast import backtest, blend, curves, knn
from debut.core import metrics as M
from debut.forecast.file import forecast_frames
from debut.forecast.launches import clean_candidates, clean_history, from_long
from debut.forecast.model import Forecaster, launch_frame, scenario_levels

RUN = dt.date(2026, 10, 1)


# ------------------------------------------------------------------ metrics
def test_point_metrics_by_hand():
    a, f = [10, 20, 30], [12, 18, 33]
    assert M.wape(a, f) == pytest.approx(7 / 60)
    assert M.mae(a, f) == pytest.approx(7 / 3)
    assert M.bias(a, f) == pytest.approx(3 / 60)
    assert math.isnan(M.wape([0, 0], [1, 1]))


def test_pinball_penalises_each_side_by_its_level():
    # under by 2 at q=0.9 costs 0.9 x 2, over by 2 costs 0.1 x 2
    assert M.pinball([10, 10], [8, 12], 0.9) == pytest.approx((1.8 + 0.2) / 2)
    assert M.pinball([10], [10], 0.5) == 0.0


def test_coverage_and_spearman_by_hand():
    assert M.coverage([1, 5, 10], [0, 6, 9], [2, 8, 11]) == pytest.approx(2 / 3)
    # ranks [1,2,4,3] vs [1,2,3,4]: 1 - 6 x 2 / (4 x 15)
    assert M.spearman([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)
    assert math.isnan(M.spearman([1, 2], [1, 2]))


# ------------------------------------------------------------------ curves
def test_chain_shape_uses_launches_that_saw_both_weeks():
    weeks = np.array([[10.0, 5.0, np.nan], [20.0, 10.0, 5.0]])
    # ratios 1, 15/30, then 5/10 from the only launch that saw week 3: 1, .5, .25
    np.testing.assert_allclose(curves.chain_shape(weeks), [4 / 7, 2 / 7, 1 / 7])
    shapes = np.tile(curves.chain_shape(weeks), (2, 1))
    np.testing.assert_allclose(curves.extrapolated_totals(weeks, shapes), [15 / (6 / 7), 35.0])


def test_chain_shape_without_data_is_uniform():
    np.testing.assert_allclose(curves.chain_shape(np.zeros((0, 4))), [0.25] * 4)


# ------------------------------------------------------------------ kNN
def _knn(sim, train_cat, y, logp, target_cat, target_logp, *, elasticity=0.0, exclude=None, min_launches=1,
         levels=None):
    levels = levels or {}
    return knn.knn_predict(np.array(sim, float), np.array(train_cat, object), np.array(y, float),
                           np.array(logp, float), np.array([levels.get(c, 0.0) for c in train_cat]),
                           np.array(target_cat, object), np.array(target_logp, float),
                           np.array([levels.get(c, 0.0) for c in target_cat]), k=2, temperature=0.2,
                           elasticity=elasticity, min_launches=min_launches,
                           exclude=None if exclude is None else np.array(exclude))


def test_knn_softmax_weights_the_top_k():
    r = _knn([[0.9, 0.5, 0.1]], ["A"] * 3, [1, 2, 3], [0, 0, 0], ["A"], [0])
    w1 = math.exp(-0.4 / 0.2)
    assert r.pred[0] == pytest.approx((1 + 2 * w1) / (1 + w1))
    assert [n[0] for n in r.neighbours[0]] == [0, 1]
    assert not r.fallback[0]


def test_knn_price_adjustment_and_leaving_itself_out():
    # a neighbour twice the price, elasticity -1: + log 2 in log units
    r = _knn([[0.9, 0.5, 0.1]], ["A"] * 3, [1, 2, 3], [math.log(20), math.log(10), 0], ["A"], [math.log(10)],
             elasticity=-1.0, exclude=[1])
    assert [n[0] for n in r.neighbours[0]] == [0, 2]
    assert r.neighbours[0][0][2] == pytest.approx(1 + math.log(2))


def test_knn_falls_back_to_all_categories_moved_by_level():
    r = _knn([[0.9, 0.5]], ["A", "A"], [1, 2], [0, 0], ["B"], [0], min_launches=1, levels={"A": 1.5, "B": 3.0})
    assert r.fallback[0]
    assert [n[2] for n in r.neighbours[0]] == pytest.approx([2.5, 3.5])


def test_elasticity_is_within_category_and_clipped():
    logp = np.log([10, 20, 10, 20] * 3)
    y = np.array([3, 2, 5, 4] * 3, float)            # -1 per log(2) of price, levels differ by category
    cat = np.array(["A", "A", "B", "B"] * 3, object)
    assert knn.elasticity(y, logp, cat, limit=5) == pytest.approx(-1 / math.log(2))
    assert knn.elasticity(y, logp, cat, limit=0.5) == -0.5
    assert knn.elasticity(-y, logp, cat, limit=5) == 0.0   # a positive slope is not used


# ------------------------------------------------------------------ blend and calibration
def test_stacking_weights_are_exact_and_non_negative():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 2))
    w, b = blend.fit_weights(x, 1 + 2 * x[:, 0] + 0.5 * x[:, 1])
    np.testing.assert_allclose(w, [2.0, 0.5], atol=1e-9)
    assert b == pytest.approx(1.0)
    w, b = blend.fit_weights(x, 1 + 2 * x[:, 0] - 0.5 * x[:, 1])
    assert w[1] == 0.0 and w[0] > 0


def test_calibration_quantiles_by_hand():
    cal = blend.Calibration.fit(np.array([2.0, -1.0, 0.0, 1.0, -2.0]), (0.1, 0.5, 0.9), 0.8)
    # finite-sample correction: level 0.5 - 0.4 x 6/5 = 0.02 -> -2 + 0.02 x 4
    np.testing.assert_allclose(cal.residual_quantiles([0.1, 0.5, 0.9]), [-1.92, 0.0, 1.92])
    units = cal.units(np.array([math.log(10.0)]), np.array([1.0]), [0.5])
    assert units[0, 0] == pytest.approx(9.0)
    # a wider target stretches the levels
    wide = blend.Calibration.fit(cal.residuals, (0.1, 0.5, 0.9), 0.9)
    assert wide.residual_quantiles([0.1])[0] < -1.92


def test_calibrated_interval_covers_the_target_on_exchangeable_residuals():
    rng = np.random.default_rng(3)
    cal = blend.Calibration.fit(rng.normal(size=2000), (0.1, 0.5, 0.9), 0.8)
    lo, hi = cal.residual_quantiles([0.1, 0.9])
    fresh = rng.normal(size=5000)
    assert 0.77 < np.mean((fresh >= lo) & (fresh <= hi)) < 0.83


# ------------------------------------------------------------------ forecaster on tiny data
def synthetic_history(n_per_cat=12, cats=3, weeks=4, seed=0, start=dt.date(2026, 5, 1)):
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(cats):
        for i in range(n_per_cat):
            colour, brand = rng.choice(["red", "blue", "green"]), rng.choice(["a", "b"])
            appeal = (colour == "red") + 0.5 * (brand == "a") + rng.normal(0, 0.2)
            price = float(round(np.exp(rng.normal(3, 0.3)), 2))
            launched = start + dt.timedelta(days=5 * i)
            for w in range(1, weeks + 1):
                rows.append(dict(item_id=f"c{c}-{i:02d}", category=f"cat{c}", subcategory="s", brand=brand,
                                 title=f"{colour} thing by {brand}", colour=colour, material="m", style="x",
                                 price=price, unit_cost=price / 2, launch_date=launched, week=w,
                                 units=float(rng.poisson(np.exp(1.5 + 0.3 * c + appeal) * 0.9 ** w))))
    return pd.DataFrame(rows)


def test_forecast_quantiles_are_monotone_and_curves_sum_to_totals():
    fc = ForecastConf(horizon_weeks=4, min_launches=4, knn_k=5)
    hist = synthetic_history()
    model = Forecaster(fc).fit(launch_frame(hist, 4))
    pred = model.predict(hist.drop_duplicates("item_id").head(6))
    q = pred[["q0", "q1", "q2"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    assert all((np.diff(u) >= 0).all() and len(u) == fc.scenario_levels for u in pred["quantile_units"])
    assert all(len(s) == 4 and sum(s) == pytest.approx(1.0) for s in pred["shape"])
    assert set(pred["method"]) == {"knn_only"}
    assert model.names == ["knn", "category_mean"]


def test_demand_net_enters_the_blend_only_through_launches_it_did_not_train_on():
    from debut.forecast.model import MIN_NET_LAUNCHES, Signals

    fc = ForecastConf(horizon_weeks=4, min_launches=4, knn_k=5)
    launches = launch_frame(synthetic_history(), 4)
    y = np.log1p(np.nansum(np.stack(launches["weeks"].to_list()), axis=1))
    # a network that memorised its training launches: exact on them
    net = pd.DataFrame({"item_id": launches["item_id"], "net_log": y})
    dates = pd.to_datetime(launches["launch_date"]).dt.date
    assert "net" in Forecaster(fc, Signals(net=net)).fit(launches).names
    every = max(dates) + dt.timedelta(days=1)
    assert "net" not in Forecaster(fc, Signals(net=net, net_trained_before=every)).fit(launches).names
    split = sorted(dates)[-MIN_NET_LAUNCHES]
    model = Forecaster(fc, Signals(net=net, net_trained_before=split)).fit(launches)
    assert "net" in model.names
    seen = (dates < split).to_numpy()
    np.testing.assert_allclose(model.components_train[seen, model.names.index("net")], model.level_loo[seen])


def _net_predictions(spark, conf, rows):
    """gold.demand_net_predictions from (run_date, item_id, trained_before, median log1p or None)."""
    df = spark.createDataFrame(
        [(r, i, False, None, r, t, "debut_demand", 2, [0.1, 0.5, 0.9], None if m is None else [m - 1, m, m + 1])
         for r, i, t, m in rows], schemas.DEMAND_NET_PREDICTIONS)
    io.merge(df, conf, "gold.demand_net_predictions")


def test_forecast_reads_the_demand_net_and_its_training_cutoff_from_train_deeps_table(spark, conf, capsys):
    from debut.forecast import inputs

    early, split = RUN - dt.timedelta(days=7), RUN - dt.timedelta(days=70)
    _net_predictions(spark, conf, [(RUN, "a", split, 2.0), (RUN, "b", split, None), (RUN, "c", split, 3.0),
                                   (early, "a", early, 9.0), (RUN + dt.timedelta(days=1), "a", RUN, 7.0)])
    items = pd.DataFrame({"item_id": ["a", "b", "z"]})
    net, cutoff = inputs.demand_net(spark, conf, items, RUN)
    assert cutoff == split                                  # train_deep's recorded split, not conf's guess
    assert net.to_dict("records") == [{"item_id": "a", "net_log": 2.0}]
    net, cutoff = inputs.demand_net(spark, conf, items, RUN - dt.timedelta(days=1))
    assert (net.to_dict("records"), cutoff) == ([{"item_id": "a", "net_log": 9.0}], early)
    assert "predictions of train_deep's run " + early.isoformat() in capsys.readouterr().out


def test_forecast_goes_on_without_the_demand_net_when_train_deep_wrote_none(spark, conf, capsys):
    from debut.forecast import inputs

    items = pd.DataFrame({"item_id": ["a"]})
    assert inputs.demand_net(spark, conf, items, RUN) == (None, None)
    assert "demand network skipped (no gold.demand_net_predictions" in capsys.readouterr().out
    _net_predictions(spark, conf, [(RUN, "b", RUN, 1.0)])
    assert inputs.demand_net(spark, conf, items, RUN) == (None, None)
    assert "holds no prediction for these items" in capsys.readouterr().out


def test_scenario_levels_are_even():
    np.testing.assert_allclose(scenario_levels(3), [0.25, 0.5, 0.75])


def test_backtest_forecasts_each_launch_once_from_finished_launches_only():
    fc = ForecastConf(horizon_weeks=4, min_launches=2, knn_k=3, backtest_cutoffs=2, backtest_step_days=10)
    table = from_long(synthetic_history(n_per_cat=10, cats=2, weeks=4), 4)
    rows, metrics = backtest.run_backtest(table, fc, RUN, say=lambda s: None)
    blend_rows = rows[rows["method"] == "blend"]
    assert not blend_rows.duplicated(["item_id"]).any()
    # gbm_price needs 10 priced launches finished before a cutoff; these cutoffs have fewer
    assert set(rows["method"]) == {"blend", "knn", "category_mean", "category_median", "global_median"}
    # every test launch was launched on or after its cutoff, within one step
    d = (pd.to_datetime(rows["launch_date"]) - pd.to_datetime(rows["cutoff_date"])).dt.days
    assert d.between(0, 9).all()
    assert ("coverage_p10_p90", "blend", len(blend_rows)) in metrics
    assert list(rows.columns) == [f.name for f in schemas.FORECAST_BACKTEST.fields]


def test_backtest_summary_by_hand():
    c = dt.date(2026, 7, 1)
    rows = [(c, "a", m, "X", c, act, lo, p50, hi, p50, 5, RUN)
            for m, preds in (("blend", [(8, 10, 12), (15, 18, 30)]), ("category_mean", [(5, 15, 40), (5, 15, 40)]))
            for act, (lo, p50, hi) in zip((10.0, 20.0), preds)]
    df = pd.DataFrame(rows, columns=["cutoff_date", "item_id", "method", "category", "launch_date", "actual",
                                     "p10", "p50", "p90", "mean_units", "n_train", "run_date"])
    met = backtest.summarise(df, ForecastConf())
    assert met[("wape", "blend", 2)] == pytest.approx(2 / 30)
    assert met[("wape", "category_mean", 2)] == pytest.approx(10 / 30)
    assert met[("wape_gain_vs_category_mean", "blend", 2)] == pytest.approx(0.8)
    assert met[("coverage_p10_p90", "blend", 2)] == 1.0
    assert met[("bias", "blend", 2)] == pytest.approx(-2 / 30)


# ------------------------------------------------------------------ launch history only
def wide_history(n=10):
    rows = []
    for i in range(n):
        cat = "shoes" if i % 2 else "bags"
        units = [10 + i, 8 + i, 6 + i]
        rows.append({"Item_ID": f"h{i}", "Category": cat, "Title": f"item {i}", "Brand": "x" if i < 5 else "y",
                     "Price": str(20 + i), "Launch_Date": str(dt.date(2026, 6, 1) + dt.timedelta(days=3 * i)),
                     "week_1": str(units[0]), "week_2": str(units[1]), "week_3": "" if i == n - 1 else str(units[2])})
    return pd.DataFrame(rows)


def candidates_table():
    return pd.DataFrame({"candidate_id": ["n1", "n2", "n3"], "category": ["shoes", "bags", "hats"],
                         "price": [25.0, 22.0, 30.0], "brand": ["x", "y", None], "title": ["a", "b", "c"]})


def test_history_file_wide_form_reads_to_a_launch_table_with_empty_weeks_unknown():
    table = clean_history(wide_history()).table
    assert len(table) == 10
    assert set(table.columns) >= {"item_id", "category", "price", "week_1", "week_3", "launch_date"}
    assert table.loc[table["item_id"] == "h0", "week_2"].item() == 8
    assert np.isnan(table.loc[table["item_id"] == "h9", "week_3"].item())


def test_history_only_forecast_gives_one_monotone_row_per_candidate():
    from debut.config import load_config
    conf = load_config("test").replace(**{"forecast.horizon_weeks": 3, "forecast.min_launches": 3,
                                          "forecast.embed_titles": False})
    out = forecast_frames(clean_history(wide_history()).table, clean_candidates(candidates_table()).table,
                          conf, RUN)
    assert out["candidate_id"].tolist() == ["n1", "n2", "n3"]
    assert (out["units_p10"] <= out["units_p50"]).all() and (out["units_p50"] <= out["units_p90"]).all()
    assert all(len(w) == 3 for w in out["weekly_p50"])
    # hats has no history: the global model still forecasts it (no fallback)
    assert set(out["method"]) == {"global_model"}
    assert out["n_history"].tolist() == [10, 10, 10]
    assert list(out.columns) == [f.name for f in schemas.launch_forecast_schema(conf.forecast.quantiles).fields]


def test_history_file_errors_name_the_problem():
    from debut.config import ConfigError
    with pytest.raises(ConfigError, match="missing column item_id"):
        clean_history(wide_history().drop(columns=["Item_ID"]))
    with pytest.raises(ConfigError, match="no weeks"):
        clean_history(wide_history()[["Item_ID", "Category", "Price"]])


def test_forecast_file_command_end_to_end(tmp_path):
    from debut import cli
    hist, cands = tmp_path / "history.csv", tmp_path / "candidates.csv"
    wide_history().to_csv(hist, index=False)
    candidates_table().to_csv(cands, index=False)
    out = tmp_path / "forecast.parquet"
    rc = cli.main(["forecast-file", "--history", str(hist), "--candidates", str(cands), "--out", str(out),
                   "--weeks", "3", "--env", "test", "--run-date", "2026-10-01",
                   "--set", "forecast.embed_titles=false", "--set", "forecast.min_launches=3",
                   "--set", f"paths.data_dir={tmp_path / 'data'}"])
    assert rc == 0
    res = pd.read_parquet(out)
    assert res["candidate_id"].tolist() == ["n1", "n2", "n3"]
    assert res["horizon_weeks"].tolist() == [3, 3, 3]
    assert all((np.diff(u) >= 0).all() for u in res["quantile_units"])


# ------------------------------------------------------------------ aggregate: imported launches
def test_imported_history_adds_only_items_the_events_lack(spark):
    from debut.ingest.adapters import LAUNCH_HISTORY_INPUT
    d = dt.date(2026, 9, 1)
    gold = spark.createDataFrame([("i1", "A", None, None, None, None, None, None, 10.0, 5.0, d, False, 1, d, 3, 9,
                                   True, RUN)], schemas.LAUNCH_HISTORY)
    imp = spark.createDataFrame([
        ("i1", "A", None, None, None, None, None, None, 10.0, 5.0, d, 1, 99, "f.csv", RUN),     # events win
        ("i2", "B", None, None, "t", None, None, None, 12.0, None, d, 1, 4, "f.csv", RUN),
        ("i2", "B", None, None, "t", None, None, None, 12.0, None, d, 9, 4, "f.csv", RUN),      # beyond the weeks
        ("i3", "B", None, None, "t", None, None, None, 12.0, None, dt.date(2026, 9, 28), 1, 2, "f.csv", RUN),
    ], LAUNCH_HISTORY_INPUT)
    out = launch.with_imported_history(gold, imp, run_date=RUN, launch_weeks=8)
    got = sorted((r["item_id"], r["week"], r["units"], r["is_complete"]) for r in out.collect())
    assert got == [("i1", 1, 3, True), ("i2", 1, 4, True), ("i3", 1, 2, False)]


# ------------------------------------------------------------------ the job on the tiny simulator
@pytest.fixture(scope="module")
def sim_conf(spark, tmp_path_factory):
    from conftest import make_conf
    from debut.cli import run_job
    conf = make_conf(tmp_path_factory.mktemp("forecast-job")).replace(**{"forecast.horizon_weeks": 2,
                                                                         "forecast.min_launches": 2})
    for job in ("simulate", "ingest", "aggregate", "build_features"):
        run_job(job, conf, RUN, spark=spark)
    return conf


@pytest.mark.slow   # the fixture runs simulate, ingest, aggregate and build_features (embeddings)
def test_forecast_job_one_monotone_row_per_candidate_and_rerun_replaces(spark, sim_conf):
    from debut.forecast import job
    job.run(spark, sim_conf, RUN)
    first = io.read(spark, sim_conf, "gold.launch_forecast")
    n_cands = io.read(spark, sim_conf, "bronze.candidates").where(F.col("plan_date") == RUN).count()
    rows = first.collect()
    assert len(rows) == n_cands and len({r["candidate_id"] for r in rows}) == n_cands
    for r in rows:
        assert r["units_p10"] <= r["units_p50"] <= r["units_p90"]
        assert all(a <= b for a, b in zip(r["quantile_units"], r["quantile_units"][1:]))
        assert len(r["weekly_p50"]) == 2 and r["plan_date"] == RUN
        assert r["method"] == "global_model"
    job.run(spark, sim_conf, RUN)
    assert io.read(spark, sim_conf, "gold.launch_forecast").count() == n_cands


def test_catalog_rates_count_order_lines_where_there_are_no_events(spark, conf):
    """An export of order lines alone has no purchase events: its items sell through ordered_units."""
    from debut.forecast import inputs
    from tests.conftest import as_table

    start = dt.date(2026, 9, 1)
    rows = []
    for d in range(14):
        day = start + dt.timedelta(days=d)
        rows.append(("ev", day, 2, 2, 0))        # events: 2 units a day, orders of known customers 2
        rows.append(("or", day, 0, 3, 1))        # orders only: 3 ordered (1 returned later), no event
        rows.append(("new", day, 5, 5, 0))       # a past launch: excluded
    rows.append(("short", start, 9, 9, 0))       # one day on sale: below min_days
    daily = spark.createDataFrame(rows, "item_id string, date date, units long, ordered_units long, "
                                        "returned_units long").select(
        "*", F.lit(0).cast("long").alias("views"), F.lit(False).alias("is_stockout_suspected"),
        F.lit("c").alias("category"))
    io.overwrite(as_table(daily, "silver.item_daily"), conf, "silver.item_daily")
    feats = spark.createDataFrame([(i, False, "c", 10.0) for i in ("ev", "or", "new", "short")],
                                  "item_id string, is_candidate boolean, category string, price double")
    io.overwrite(as_table(feats, "gold.item_features"), conf, "gold.item_features")
    got = inputs.catalog_rates(spark, conf, before=dt.date(2026, 10, 1), exclude=["new"])
    rates = dict(zip(got["item_id"], got["log_rate"]))
    h = 7 * conf.forecast.horizon_weeks
    assert rates == {"ev": pytest.approx(np.log1p(2 * h)), "or": pytest.approx(np.log1p(3 * h))}
