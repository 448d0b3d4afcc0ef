"""forecast: the global model, files as they come, the causal backtest and the scenario mean (pandas only)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from debut.config import ConfigError
from debut.forecast import content, encode, harness
from debut.forecast.distribution import LocalDistribution
from debut.forecast.global_model import GlobalForecaster, LevelCalibration, ModelParams, choose_blend
from debut.forecast.launches import clean_candidates, clean_history, week_cols
from debut.core import scenarios

FAST = ModelParams(max_iter=60, calibration_blocks=2, min_fit=20)


def launch_table(n=120, weeks=4, seed=0, price=True, cats=None):
    """Launches over a year: units ~ Poisson(level of the category x colour), a category path."""
    rng = np.random.default_rng(seed)
    cats = cats or ["home > kitchen", "home > bath", "toys > dolls"]
    cat = np.array(cats, dtype=object)[rng.integers(0, len(cats), n)]
    colour = rng.choice(["red", "blue"], n)
    level = np.where(pd.Series(cat).str.startswith("home"), 6.0, 2.0) * np.where(colour == "red", 2.0, 1.0)
    df = pd.DataFrame({"item_id": [f"i{j:03d}" for j in range(n)], "category": cat, "colour": colour,
                       "launch_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 365, n)),
                                                                                     unit="D")})
    if price:
        df["price"] = np.round(np.exp(rng.normal(3, 0.3, n)), 2)
    shape = np.array([0.4, 0.3, 0.2, 0.1])[:weeks]
    units = rng.poisson(level[:, None] * shape[None, :] * 2)
    for k in range(weeks):
        df[f"week_{k + 1}"] = units[:, k].astype(float)
    return df


# ------------------------------------------------------------------ files as they come
def test_history_without_price_forecasts_every_candidate():
    table = launch_table(price=False)
    model = GlobalForecaster(FAST, 4).fit(table)
    cands = table.drop(columns=week_cols(4)).head(5)
    pred = model.predict(cands)
    assert pred["item_id"].tolist() == cands["item_id"].tolist()
    q = pred[["q0", "q1", "q2"]].to_numpy()
    assert np.isfinite(q).all() and (np.diff(q, axis=1) >= 0).all()
    assert set(pred["method"]) == {"global_model"}
    assert all(len(s) == 4 and s.sum() == pytest.approx(1.0) for s in pred["shape"])


def test_a_partial_first_week_lowers_week_1s_share_only_for_that_item():
    table = launch_table(n=120)
    table["first_week_days"] = 7
    table.loc[:29, "first_week_days"] = 1                # launched on week 1's last day
    table.loc[:29, "week_1"] = 0.0
    model = GlobalForecaster(FAST, 4).fit(table)
    one = table.drop(columns=week_cols(4)).iloc[[40]]
    cands = pd.concat([one, one]).assign(item_id=["a", "b"], first_week_days=[7, 3.5])
    s = np.stack(model.predict(cands)["shape"].to_list())
    assert s[0, 0] > 0.35                                # the curve of whole first weeks (true share 0.4)
    half = np.array([s[0, 0] / 2, *s[0, 1:]])
    np.testing.assert_allclose(s[1], half / half.sum())


def test_negative_weeks_are_clipped_and_counted_missing_weeks_stay_unknown():
    raw = pd.DataFrame({"Item_ID": ["a", "b", "c"], "week_1": ["3", "-2", "1"], "week_2": ["", "4", "-1"],
                        "week_3": ["1", "2", "0"]})
    got = clean_history(raw, "h.csv")
    assert got.negatives == 2
    assert got.table["week_1"].tolist() == [3.0, 0.0, 1.0]
    assert np.isnan(got.table.loc[0, "week_2"]) and got.table.loc[2, "week_2"] == 0.0
    assert got.left_out == 0 and len(got.table) == 3


def test_rows_with_a_bad_value_are_reported_and_left_out():
    raw = pd.DataFrame({"item_id": ["a", "b", "", "a", "e"], "price": ["10", "abc", "5", "5", "-1"],
                        "launch_date": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "someday"],
                        "week_1": ["1", "2", "3", "4", "5"]})
    got = clean_history(raw, "h.csv")
    assert got.table["item_id"].tolist() == ["a"]
    assert [(i.row, i.column) for i in got.issues] == [(2, "price"), (3, "item_id"), (4, "item_id"),
                                                       (5, "launch_date"), (5, "price")]
    assert got.left_out == 4


def test_a_file_with_no_usable_row_is_an_error():
    with pytest.raises(ConfigError, match="no usable rows"):
        clean_history(pd.DataFrame({"item_id": ["a"], "week_1": ["x"]}), "h.csv")
    with pytest.raises(ConfigError, match="no weeks"):
        clean_history(pd.DataFrame({"item_id": ["a"]}), "h.csv")


def test_long_history_pivots_to_weeks():
    raw = pd.DataFrame({"item_id": ["a", "a", "b"], "week": ["1", "2", "1"], "units": ["2", "-1", "5"],
                        "category": ["x", "x", "y"]})
    got = clean_history(raw, "h.csv")
    assert got.table.set_index("item_id")[["week_1", "week_2"]].fillna(-9).values.tolist() == [[2, 0], [5, -9]]
    assert got.negatives == 1


def test_candidates_without_price_are_kept_repeated_ids_reported():
    got = clean_candidates(pd.DataFrame({"candidate_id": ["n1", "n1", "n2"], "category": ["a", "a", None]}))
    assert got.table["item_id"].tolist() == ["n1", "n2"]
    assert [(i.row, i.column) for i in got.issues] == [(2, "item_id")]


# ------------------------------------------------------------------ sparse categories
def test_an_unseen_category_takes_its_parents_encoding():
    keys = encode.path_levels(["a > x", "a > x", "a > y", "b > z"])
    assert keys[1].tolist() == ["a>x", "a>x", "a>y", "b>z"]
    y = np.array([4.0, 2.0, 3.0, 1.0])
    enc = encode.Encoder(m=2.0)
    enc.fit_transform(keys, y)
    got, _ = enc.transform(encode.path_levels(["a > new", "a > x"], 2))
    parent_a = (9.0 + 2.0 * 2.5) / (3 + 2.0)
    assert got[0, 0] == pytest.approx(parent_a) and got[0, 1] == pytest.approx(parent_a)
    assert got[1, 1] == pytest.approx((6.0 + 2.0 * parent_a) / (2 + 2.0))


def test_400_sparse_categories_get_smooth_model_predictions():
    rng = np.random.default_rng(4)
    rows, depts = [], {d: rng.normal(0, 0.8) for d in range(20)}
    for d in range(20):
        for t in range(20):
            for _ in range(rng.integers(1, 4)):
                rows.append((f"d{d} > t{t}", d))
    n = len(rows)
    cat = [r[0] for r in rows]
    lvl = np.exp(1.5 + np.array([depts[r[1]] for r in rows]))
    table = pd.DataFrame({"item_id": [f"i{j}" for j in range(n)], "category": cat,
                          "launch_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D")})
    table["week_1"] = rng.poisson(lvl).astype(float)
    model = GlobalForecaster(FAST, 1).fit(table)
    # candidates: one per department in a type nobody launched, and one in a seen sparse type
    cands = pd.DataFrame({"item_id": [f"n{d}" for d in range(20)] + ["s0"],
                          "category": [f"d{d} > unseen" for d in range(20)] + ["d0 > t0"],
                          "launch_date": pd.Timestamp("2025-12-01")})
    pred = model.predict(cands)
    assert set(pred["method"]) == {"global_model"} and np.isfinite(pred["mean_units"]).all()
    truth = np.exp(1.5 + np.array([depts[d] for d in range(20)]))
    from scipy.stats import spearmanr
    assert spearmanr(pred["level_mean"][:20], truth).statistic > 0.7
    # a seen sparse category is close to its department's unseen sibling: no cliff between them
    assert pred["level_mean"][20] / pred["level_mean"][0] == pytest.approx(1.0, abs=0.5)


# ------------------------------------------------------------------ calibration
def test_blend_weight_goes_to_the_model_with_the_smaller_pool_deviance():
    y = np.array([1.0, 2.0, 4.0, 8.0])
    exact, off = y.copy(), np.array([4.0, 4.0, 4.0, 4.0])
    p = ModelParams(blend_weights=(0.0, 0.5, 1.0))
    w, a, mu = choose_blend([{"gbm": off[:2], 0.1: exact[:2]}, {"gbm": off[2:], 0.1: exact[2:]}], y, p)
    assert (w, a) == (0.0, 0.1)
    np.testing.assert_allclose(mu, exact)
    w, a, mu = choose_blend([{"gbm": exact, 0.1: off}], y, p)
    assert (w, a) == (1.0, None)
    np.testing.assert_allclose(mu, exact)
    # halfway: the geometric mean of the two forecasts when that is closest
    w, a, mu = choose_blend([{"gbm": y * 2.0, 0.1: y / 2.0}], y, p)
    assert (w, a) == (0.5, 0.1)
    np.testing.assert_allclose(mu, y)


def test_a_small_log_linear_history_takes_the_glm_into_its_level():
    rng = np.random.default_rng(3)
    n = 150
    x = rng.normal(0, 1, n)
    df = pd.DataFrame({"item_id": [f"i{j:03d}" for j in range(n)], "signal": x,
                       "launch_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(np.arange(n) * 2, unit="D")})
    df["week_1"] = rng.poisson(np.exp(1.5 + 0.8 * x)).astype(float)
    m = GlobalForecaster(ModelParams(max_iter=60, min_fit=20), 1).fit(df)
    assert m.level.blend < 1.0 and m.level.alpha in m.level.glms
    out = m.predict(pd.DataFrame({"item_id": ["lo", "hi"], "signal": [-1.0, 1.0],
                                  "launch_date": pd.Timestamp("2025-12-01")}))
    assert out.loc[1, "level_mean"] > 2.5 * out.loc[0, "level_mean"]
    assert out.loc[0, "weights"]["gbm_share"] == m.level.blend


def test_level_calibration_recovers_the_shrinkage_of_a_too_extreme_level():
    rng = np.random.default_rng(3)
    mu = np.exp(rng.uniform(-1, 4, 4000))                  # the level model's forecasts
    y = rng.poisson(2.0 * mu ** 0.5)                        # the truth: half as extreme
    cal = LevelCalibration.fit(mu, y)
    assert abs(cal.slope - 0.5) < 0.03
    assert np.isclose(cal(mu).sum(), y.sum())               # the pool's total is kept
    # the slope is held in [MIN_SLOPE, 1]: never reversed, never sharpened
    assert LevelCalibration.fit(mu, rng.poisson(30.0 / mu ** 0.5)).slope == LevelCalibration.MIN_SLOPE
    assert LevelCalibration.fit(mu, rng.poisson(0.1 * mu ** 1.5)).slope == 1.0
    # too few pool rows, or one forecast for all: the level is kept as it is
    assert LevelCalibration.fit(mu[:9], y[:9]) == LevelCalibration()
    assert LevelCalibration.fit(np.full(50, 3.0), y[:50]) == LevelCalibration()
    assert np.array_equal(LevelCalibration()(mu), mu)


def test_the_forecaster_records_its_calibration_slope_and_can_go_without():
    import dataclasses

    hist = launch_table(200, seed=5)
    cands = launch_table(20, seed=6).drop(columns=week_cols(4))
    on = GlobalForecaster(FAST, 4).fit(hist)
    off = GlobalForecaster(dataclasses.replace(FAST, recalibrate=False), 4).fit(hist)
    assert off.recal == LevelCalibration()
    got = on.predict(cands)
    assert got["weights"].iloc[0]["recal_slope"] == on.recal.slope
    np.testing.assert_allclose(got["level_mean"], on.recal(on.level.predict(cands)))


def test_local_distribution_quantiles_cover_nominal_on_known_quantiles():
    rng = np.random.default_rng(0)

    def draw(n):
        mu = np.exp(rng.uniform(0, 3, n))
        return mu, mu * rng.lognormal(-0.125, 0.5, n)         # mean mu, known log-normal quantiles

    pool_mu, pool_y = draw(4000)
    d = LocalDistribution.fit(pool_mu, pool_y, (0.1, 0.5, 0.9), 0.8)
    mu, y = draw(4000)
    mean, q, grid = d.predict(mu, np.arange(1, 20) / 20)
    assert 0.77 < np.mean((y >= q[:, 0]) & (y <= q[:, 2])) < 0.83
    assert 0.47 < np.mean(y <= q[:, 1]) < 0.53
    assert mean.sum() / y.sum() == pytest.approx(1.0, abs=0.04)
    true_p90 = mu * np.exp(-0.125 + 0.5 * 1.2816)
    assert np.median(grid[:, -2] / true_p90) == pytest.approx(1.0, abs=0.08)   # level 0.9 of the grid


def test_interval_levels_shrink_for_counts_that_mostly_sell_one():
    rng = np.random.default_rng(1)

    def draw(n):                       # every launch sells 1, some more: like Olist's products
        mu = rng.uniform(1.1, 4.0, n)
        return mu, (1 + rng.poisson(mu - 1.0)).astype(float)

    d = LocalDistribution.fit(*draw(4000), (0.1, 0.5, 0.9), 0.8)
    mu, y = draw(4000)
    _, q, _ = d.predict(mu, [0.5])
    assert d.levels_lo_hi[1] < 0.9
    assert 0.75 <= np.mean((y >= q[:, 0]) & (y <= q[:, 2])) <= 0.85


# ------------------------------------------------------------------ causal backtest
def test_backtest_fits_only_on_launches_finished_before_the_cutoff():
    table = launch_table(n=200)
    seen = []

    def spy(train, test, h, params, methods):
        seen.append((train["launch_date"].max() + pd.Timedelta(days=7 * h), test["launch_date"].min(),
                     [c for c in test.columns if c.startswith("week_")]))
        m = len(test)
        return {"debut": harness.Forecast(np.ones(m), np.ones((m, 3)))}

    cuts = pd.date_range("2025-04-01", "2025-09-01", freq="MS")
    rows = harness.run(table, cuts, horizon=4, fit=spy, say=lambda s: None)
    assert len(seen) == len(cuts)
    for (train_end, first_test, test_weeks), c in zip(seen, cuts):
        assert train_end <= c <= first_test and test_weeks == []
    assert not rows.duplicated(["item_id"]).any()


def test_backtest_forecasts_do_not_change_when_later_launches_change():
    table = launch_table(n=200)
    cut = pd.Timestamp("2025-07-01")
    kw = dict(horizon=4, params=FAST, methods=("debut", "category_mean", "gbm_price"), say=lambda s: None)
    base = harness.run(table, [cut], **kw)
    leak = table.copy()
    later = (leak["launch_date"] + pd.Timedelta(days=28)) > cut          # horizon not over at the cutoff
    leak.loc[later, week_cols(4)] = leak.loc[later, week_cols(4)] * 50 + 7
    moved = harness.run(leak, [cut], **kw)
    cols = ["item_id", "method", "p10", "p50", "p90", "mean_units"]
    pd.testing.assert_frame_equal(base[cols], moved[cols])
    assert not np.allclose(base["actual"], moved["actual"])              # the planted change is real


def test_backtest_test_view_rewrites_the_test_launches_as_of_each_cutoff():
    table = launch_table(n=200).assign(signal=1.0)
    got = []

    def view(test, cutoff):
        return test.assign(signal=float(cutoff.month))     # what was known at the cutoff

    def spy(train, test, h, params, methods):
        got.append((test["launch_date"].min(), set(test["signal"]), set(train["signal"])))
        return {"debut": harness.Forecast(np.ones(len(test)), np.ones((len(test), 3)))}

    cuts = pd.date_range("2025-05-01", "2025-07-01", freq="MS")
    harness.run(table, cuts, horizon=4, fit=spy, say=lambda s: None, test_view=view)
    assert [(first >= c, sig, tr) for (first, sig, tr), c in zip(got, cuts)] == [
        (True, {5.0}, {1.0}), (True, {6.0}, {1.0}), (True, {7.0}, {1.0})]


def test_a_history_too_short_for_a_causal_backtest_says_why():
    from debut.forecast.backtest import why_none

    short = pd.DataFrame({"item_id": ["a", "b"], "launch_date": pd.to_datetime(["2026-06-10", "2026-08-01"]),
                          "week_1": [1.0, 2.0], "week_2": [1.0, np.nan]})
    assert why_none(short, 2) == ("the history is too short for a causal 2-week backtest: the first launch's 2 weeks "
                                  "end on 2026-06-24, after the last launch with 2 complete weeks began (2026-06-10)")
    assert why_none(short.assign(week_2=np.nan), 2) == "no past launch has 2 complete weeks"


def test_backtest_summary_by_hand():
    rows = pd.DataFrame({"method": ["debut"] * 3, "actual": [1.0, 2.0, 5.0], "p10": [1, 1, 1],
                         "p50": [1.0, 2.0, 2.0], "p90": [2, 3, 4], "mean_units": [1.0, 2.0, 4.0]})
    s = harness.summarise(rows).set_index("method").loc["debut"]
    assert s["wape"] == pytest.approx(3 / 8)
    assert s["bias"] == pytest.approx(-1 / 8) and s["bias_p50"] == pytest.approx(-3 / 8)
    assert s["coverage"] == pytest.approx(2 / 3)
    assert s["spearman"] == pytest.approx(1.0)


# ------------------------------------------------------------------ scenarios the optimizer samples
def test_scenario_tail_is_set_so_the_distribution_has_the_forecast_mean():
    levels = np.arange(1, 20) / 20
    units = np.quantile(np.random.default_rng(0).lognormal(0, 1, 100000), levels)
    grid = scenarios.forecast_grid({"quantile_levels": levels, "quantile_units": units, "mean_units": 1.8})
    assert len(grid) == 3
    assert scenarios.grid_mean(grid[0], grid[1], grid[2]) == pytest.approx(1.8)
    u = (np.arange(100000) + 0.5) / 100000
    assert scenarios.inverse_cdf(u, *grid).mean() == pytest.approx(1.8, rel=1e-3)
    # without a mean the last segment's slope continues, as before
    assert len(scenarios.forecast_grid({"quantile_levels": levels, "quantile_units": units})) == 2


# ------------------------------------------------------------------ commands without Spark
def _cli(tmp_path, *args):
    code = ("import sys; from debut import cli; rc = cli.main(sys.argv[1:]); "
            "print('PYSPARK', 'pyspark' in sys.modules); sys.exit(rc)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([p for p in sys.path if p]))
    return subprocess.run([sys.executable, "-c", code, *args, "--env", "test"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=600)


def test_backtest_file_and_forecast_file_run_without_spark(tmp_path):
    table = launch_table(n=160, price=False)
    table.loc[3, "week_2"] = -1.0
    table.loc[5, "week_1"] = np.nan
    hist = tmp_path / "history.csv"
    out = table.copy()
    out["launch_date"] = out["launch_date"].dt.date.astype(str)
    out.loc[7, "launch_date"] = "not a date"
    out.to_csv(hist, index=False)
    res = _cli(tmp_path, "backtest-file", "--history", str(hist), "--weeks", "4", "--cutoffs",
               "2025-06-01,2025-08-01", "--csv", str(tmp_path / "bt.csv"))
    assert res.returncode == 0, res.stderr
    assert "PYSPARK False" in res.stdout
    assert "1 negative weekly value(s)" in res.stdout and "row 8, column launch_date" in res.stdout
    bt = pd.read_csv(tmp_path / "bt.csv")
    assert {"debut", "knn", "category_mean", "global_median"} <= set(bt["method"])
    assert "gbm_price" not in set(bt["method"])                         # no price in this history
    cands = tmp_path / "cands.csv"
    pd.DataFrame({"candidate_id": ["n1", "n2"], "category": ["home > kitchen", "garden"],
                  "colour": ["red", "blue"]}).to_csv(cands, index=False)
    res = _cli(tmp_path, "forecast-file", "--history", str(hist), "--candidates", str(cands), "--out",
               str(tmp_path / "f.parquet"), "--weeks", "4", "--run-date", "2026-01-05")
    assert res.returncode == 0, res.stderr
    assert "PYSPARK False" in res.stdout
    f = pd.read_parquet(tmp_path / "f.parquet")
    assert f["candidate_id"].tolist() == ["n1", "n2"] and (f["units_p10"] <= f["units_p90"]).all()


# ------------------------------------------------------------------ level model: signals, scales, the pool's level
def _signal_history(n=200, seed=4, dated=True, col="content_log"):
    """Units driven by one numeric signal (a catalog sales rate, say) beside attributes that are noise."""
    rng = np.random.default_rng(seed)
    signal = rng.uniform(0.2, 3.0, n)              # never negative: log1p-transformed unless named *_log
    df = pd.DataFrame({"item_id": [f"s{j:03d}" for j in range(n)],
                       "category": rng.choice(["a", "b", "c", "d"], n), "colour": rng.choice(list("pqrstuvw"), n),
                       "material": rng.choice(list("klmnoxyz"), n), col: signal})
    if dated:
        df["launch_date"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 700, n)), unit="D")
    y = rng.poisson(np.exp(signal))
    for k in range(1, 5):
        df[f"week_{k}"] = y / 4.0
    return df


def test_the_signal_glm_is_chosen_when_one_signal_explains_the_units():
    hist = _signal_history()
    model = GlobalForecaster(FAST, 4).fit(hist)
    assert model.level.alpha == "signal"
    new = _signal_history(n=60, seed=5)
    pred = model.predict(new.drop(columns=week_cols(4)))
    assert pred["level_mean"].corr(np.exp(new["content_log"]), method="spearman") > 0.9
    assert pred["weights"].iloc[0]["signal_glm"] == 1.0
    # without it the level comes from the boosting and the full GLM only
    off = GlobalForecaster(ModelParams(max_iter=60, calibration_blocks=2, min_fit=20, signal_glm=False), 4).fit(hist)
    assert off.level.alpha != "signal" and "signal_glm" not in off.predict(new.head(1))["weights"].iloc[0]


def test_numeric_columns_are_transformed_as_in_training_whatever_the_candidates_hold():
    model = GlobalForecaster(FAST, 4).fit(_signal_history(col="sales_rate"))
    assert model.level.feat.nonneg.tolist() == [True]          # a rate: log1p-transformed
    cands = _signal_history(n=5, seed=6, col="sales_rate").drop(columns=week_cols(4))
    alone = model.predict(cands)["level_mean"].to_numpy()
    with_negative = pd.concat([cands, cands.head(1).assign(item_id="neg", sales_rate=-0.5)], ignore_index=True)
    assert model.predict(with_negative)["level_mean"].to_numpy()[:5] == pytest.approx(alone)


def test_the_glm_does_not_extrapolate_past_the_training_range():
    hist = _signal_history()
    model = GlobalForecaster(FAST, 4).fit(hist)
    top = hist.loc[[hist["content_log"].idxmax()]].drop(columns=week_cols(4))
    far = top.assign(item_id="far", content_log=float(hist["content_log"].max()) * 20)
    parts_top, parts_far = model.level.parts(top), model.level.parts(far)
    for key in parts_top:          # the analogs may differ a little; the GLMs see the training maximum
        if key != "gbm":
            assert parts_far[key] == pytest.approx(parts_top[key], rel=0.25)


def test_a_k_fold_pool_lends_its_error_shape_but_not_its_level():
    undated = GlobalForecaster(FAST, 4).fit(_signal_history(dated=False))
    assert undated.pool_kind == "kfold"
    # the pool's actuals are scaled to its forecasts' total before the recalibration (which keeps the
    # total it is given) and the distribution
    assert undated.pool_scale != 1.0
    assert undated.pool_mu.sum() == pytest.approx(undated.pool_scale * undated.pool_y.sum(), rel=1e-6)
    assert np.sort(undated.dist.y) == pytest.approx(np.sort(undated.pool_y * undated.pool_scale))
    dated = GlobalForecaster(FAST, 4).fit(_signal_history())
    assert dated.pool_kind == "time" and dated.pool_scale == 1.0
    kept = GlobalForecaster(ModelParams(max_iter=60, calibration_blocks=2, min_fit=20, pool_level="keep"), 4).fit(
        _signal_history(dated=False))
    assert kept.pool_scale == 1.0 and kept.pool_mu.sum() == pytest.approx(kept.pool_y.sum(), rel=1e-6)


def test_log_scale_signals_are_not_log1p_transformed_again():
    on = GlobalForecaster(FAST, 4).fit(_signal_history())
    assert on.level.feat.num_cols == ["content_log"] and on.level.feat.nonneg.tolist() == [False]
    off = GlobalForecaster(ModelParams(max_iter=60, calibration_blocks=2, min_fit=20, keep_log_signals=False),
                           4).fit(_signal_history())
    assert off.level.feat.nonneg.tolist() == [True]


def test_the_signal_glm_leaves_the_category_encoding_to_the_content_signal():
    hist = _signal_history()
    # auto: with content_log the signal GLM reads it alone; without a content signal the category too
    assert GlobalForecaster(FAST, 4).fit(hist).level.feat.last_signal.shape[1] == 1
    rate = _signal_history(col="sales_rate")
    assert GlobalForecaster(FAST, 4).fit(rate).level.feat.last_signal.shape[1] == 2
    forced = ModelParams(max_iter=60, calibration_blocks=2, min_fit=20, signal_category="true")
    assert GlobalForecaster(forced, 4).fit(hist).level.feat.last_signal.shape[1] == 2


# ------------------------------------------------------------------ the content ridge with past launches
def _content_tables():
    """Catalog: red items sell log-rate 1, blue 2. Launches (2 weeks): red log1p(units) 1.5, blue 2.5,
    green (no catalog item) 3.5, two of each; one launch whose second week is not known yet."""
    catalog = pd.DataFrame({"item_id": [f"c{j}" for j in range(4)], "category": "a",
                            "colour": ["red", "red", "blue", "blue"], "price": 10.0,
                            "log_rate": [1.0, 1.0, 2.0, 2.0]})
    colours = ["red", "red", "blue", "blue", "green", "green", "blue"]
    total = np.expm1([1.5, 1.5, 2.5, 2.5, 3.5, 3.5, 0.0])
    hist = pd.DataFrame({"item_id": [f"l{j}" for j in range(7)], "category": "a", "colour": colours,
                         "price": 10.0, "week_1": total / 2, "week_2": total / 2})
    hist.loc[6, "week_2"] = np.nan
    cands = pd.DataFrame({"item_id": ["n1", "n2", "n3"], "category": "a", "colour": ["red", "blue", "green"],
                          "price": 10.0})
    return catalog, hist, cands


def test_launch_targets_are_the_whole_horizons_log_units():
    _, hist, _ = _content_tables()
    t = content.launch_targets(hist, 2)
    assert len(t) == 6 and t["colour"].tolist() == ["red", "red", "blue", "blue", "green", "green"]
    assert t["log_rate"].to_numpy() == pytest.approx([1.5, 1.5, 2.5, 2.5, 3.5, 3.5])
    assert t["subcategory"].isna().all()          # description columns the table lacks are empty


def test_the_content_ridge_learns_from_launches_moved_to_the_catalogs_level():
    catalog, hist, cands = _content_tables()
    h, c = content.content_log(hist, cands, catalog, alpha=1e-9, min_items=1, horizon=2, min_launches=2)
    # catalog-only model: red 1, blue 2, green (unseen) the mean 1.5; the launches sit 1.0 above it on
    # average ((0.5 + 0.5 + 2.0) / 3), so their targets move to red 0.5, blue 1.5, green 2.5, and the
    # model on both gives the group means: red 0.75, blue 1.75, green 2.5
    assert c == pytest.approx([0.75, 1.75, 2.5], abs=1e-6)
    # the unfinished launch is in no model's training: it gets the model on every launch
    assert h[6] == pytest.approx(1.75, abs=1e-6)
    # too few launches: the catalog alone
    h0, c0 = content.content_log(hist, cands, catalog, alpha=1e-9, min_items=1, horizon=2, min_launches=7)
    assert c0 == pytest.approx([1.0, 2.0, 1.5], abs=1e-6)


def test_a_launchs_own_content_prediction_does_not_see_its_own_units():
    catalog, hist, cands = _content_tables()
    kw = dict(alpha=1.0, min_items=1, horizon=2, folds=3, min_launches=2)
    h, c = content.content_log(hist, cands, catalog, **kw)
    changed = hist.copy()
    changed.loc[0, ["week_1", "week_2"]] = [500.0, 500.0]
    h2, c2 = content.content_log(changed, cands, catalog, **kw)
    assert h2[0] == pytest.approx(h[0], abs=1e-12)
    assert c2[0] > c[0] + 0.1                     # the candidates' model learnt from it


def test_the_content_ridge_fits_a_peaked_price_response_on_the_standardised_price_position():
    # log price positions -1 .. 1 (sd sqrt(0.5)); the rate peaks at the median price: 2 - z^2 with
    # z = position / sd, which the z, z^2, z^3 / 3 columns fit exactly
    pos = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    z = pos / np.sqrt(0.5)
    catalog = pd.DataFrame({"category": "a", "colour": "red", "price": 10.0 * np.exp(pos), "log_rate": 2.0 - z ** 2})
    model = content.ContentModel(1e-9, 1).fit(catalog)
    new = pd.DataFrame({"category": ["a", "a"], "colour": ["red", "red"], "price": 10.0 * np.exp([0.25, -0.75])})
    assert model.predict(new) == pytest.approx([2.0 - 0.125, 2.0 - 1.125], abs=1e-6)


def test_the_price_sd_falls_back_to_all_reference_items():
    ref = pd.DataFrame({"category": ["a", "a", "a", "b"], "price": np.exp([0.0, 1.0, 2.0, 5.0])})
    sd = content._log_price_sd(np.array(["a", "b", "c"], dtype=object), ref)
    assert sd == pytest.approx([np.std([0.0, 1.0, 2.0]), np.std([0.0, 1.0, 2.0, 5.0]), np.std([0.0, 1.0, 2.0, 5.0])])
