"""forecast.market: the category's recent demand per item, and the crowd a launch arrives in (pandas only)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from debut.forecast import market
from debut.forecast.global_model import GlobalForecaster, ModelParams

FAST = ModelParams(max_iter=60, calibration_blocks=2, min_fit=20)


def _rows(spec):
    """(item_id, category, launch_date, market_units, market_items) tuples -> a launch table."""
    return pd.DataFrame(spec, columns=["item_id", "category", "launch_date", "market_units", "market_items"]).assign(
        launch_date=lambda d: pd.to_datetime(d["launch_date"]))


def test_batch_counts_launches_of_the_same_top_category_within_a_week():
    df = _rows([("a", "home > mugs", "2026-01-01", 10, 9),
                ("b", "home > bath", "2026-01-08", 10, 9),     # 7 days after a: inside the window
                ("c", "home", "2026-01-09", 10, 9),            # 8 days after a
                ("d", "toys", "2026-01-01", 10, 9),
                ("e", "toys", None, 10, 9)])                    # no date: a batch of itself
    assert market.batch_sizes(df).tolist() == [2.0, 3.0, 2.0, 1.0, 1.0]


def test_targets_count_each_other_and_the_past_week_only():
    past = _rows([("p1", "home", "2026-02-25", 1, 1), ("p2", "home", "2026-03-01", 1, 1),   # 5 days, same day
                  ("p3", "home", "2026-02-20", 1, 1), ("p4", "toys", "2026-02-28", 1, 1)])  # 10 days; other cat
    targets = _rows([("t1", "home", "2026-03-01", 1, 1), ("t2", "home > x", "2026-03-01", 1, 1),
                     ("t3", "toys", "2026-03-01", 1, 1)])
    # t1, t2: each other (2) + p1 (4 days before); p2 launched the same day is not "before"; p3 is too early
    assert market.batch_sizes(targets, before=past).tolist() == [3.0, 3.0, 2.0]


def test_exposure_is_the_level_relative_to_the_category_mean():
    hist = _rows([("a", "home", "2026-01-01", 20, 9), ("b", "home", "2026-03-01", 40, 9),
                  ("c", "toys", "2026-01-01", 5, 4)])
    m = market.MarketExposure.fit(hist)
    # levels: a 20/10, b 40/10, c 5/5; home's mean log level is log(2 x 4) / 2
    assert m.category_mean["home"] == pytest.approx(np.log(8.0) / 2)
    assert m(hist, training=True) == pytest.approx([np.sqrt(0.5), np.sqrt(2.0), 1.0])
    # a target of home at 40 units / 9 items, launched with 4 others (v too, whose market row is missing; b
    # launched the same day, which is not "before")
    t = _rows([(f"t{i}", "home", "2026-03-01", 40, 9) for i in range(4)] +
              [("u", "garden", "2026-03-01", 30, 2), ("v", "home", "2026-03-01", None, 9)])
    want_home = (40 / 14) / np.sqrt(8.0)
    want_garden = np.exp(np.log(30 / 3) - np.mean([np.log(2), np.log(4), np.log(1)]))   # unseen: the overall mean
    assert m(t) == pytest.approx([want_home] * 4 + [want_garden, 1.0])


def _crowded_history(n=240, seed=3, relevant=True):
    """Launches whose units follow their category's demand per item, which drifts over the year; when
    ``relevant`` is false the demand is steady and market_units is noise."""
    rng = np.random.default_rng(seed)
    cat = rng.choice(["home", "toys"], n)
    day = np.sort(rng.integers(0, 365, n))
    drift = np.exp(1.2 * np.sin(day / 58.0)) if relevant else np.ones(n)   # the category's demand over time
    items = np.where(cat == "home", 40.0, 20.0)
    units_per_day = np.where(cat == "home", 200.0, 60.0) * drift
    level = units_per_day / (items + 1) * 4.0
    y = rng.poisson(level)
    df = pd.DataFrame({"item_id": [f"i{j:03d}" for j in range(n)], "category": cat,
                       "launch_date": pd.Timestamp("2025-01-01") + pd.to_timedelta(day, unit="D"),
                       "colour": rng.choice(["red", "blue"], n),
                       "market_units": units_per_day if relevant else rng.uniform(50, 200, n),
                       "market_items": items})
    for k in range(1, 5):
        df[f"week_{k}"] = y / 4.0
    return df


def test_forecaster_uses_the_exposure_when_it_explains_the_pool_and_dilutes_a_batch():
    hist = _crowded_history()
    model = GlobalForecaster(FAST, 4).fit(hist)
    assert model.use_exposure
    assert model.pool_deviance[True] < model.pool_deviance[False]
    one = pd.DataFrame({"item_id": ["x"], "category": ["home"], "launch_date": [pd.Timestamp("2026-01-05")],
                        "colour": ["red"], "market_units": [200.0], "market_items": [40.0]})
    batch = pd.concat([one.assign(item_id=f"x{i}") for i in range(20)], ignore_index=True)
    solo, crowd = model.predict(one)["level_mean"].iloc[0], model.predict(batch)["level_mean"].to_numpy()
    # 20 launched together into 40 items: each sells about 41/60 of a lone launch
    assert crowd == pytest.approx(np.full(20, crowd[0]))
    assert crowd[0] / solo == pytest.approx(41 / 60, rel=0.05)
    assert model.predict(one)["weights"].iloc[0]["market_exposure"] == 1.0


def test_forecaster_leaves_a_market_column_that_explains_nothing():
    model = GlobalForecaster(FAST, 4).fit(_crowded_history(relevant=False))
    assert not model.use_exposure
    assert model.predict(_crowded_history(n=3, seed=9))["weights"].iloc[0]["market_exposure"] == 0.0


def test_without_market_columns_nothing_changes():
    hist = _crowded_history().drop(columns=list(market.COLUMNS))
    model = GlobalForecaster(FAST, 4).fit(hist)
    assert model.market is None and not model.use_exposure
    assert "market_exposure" not in model.predict(hist.head(2))["weights"].iloc[0]


def test_levels_from_daily_average_the_days_before_the_launch_only():
    daily = pd.DataFrame({"category": ["home"] * 10 + ["toys"] * 3,
                          "date": list(pd.date_range("2026-01-01", periods=10)) + list(pd.date_range("2026-01-01",
                                                                                                   periods=3)),
                          "units": list(range(1, 11)) + [5, 5, 5], "active_items": [4] * 10 + [2] * 3})
    keys = pd.DataFrame({"category": ["home", "home", "toys"],
                         "launch_date": pd.to_datetime(["2026-01-09", "2026-01-03", "2026-01-09"])})
    got = market.levels_from_daily(daily, keys, window_days=8, min_days=3)
    # home on the 9th: the 1st..8th (units 1..8; the 9th itself is not before); on the 3rd only 2 days
    # (left out); toys: its 3 days of 5
    assert got.sort_values("category").to_dict("records") == [
        {"category": "home", "launch_date": pd.Timestamp("2026-01-09"), "market_units": 4.5, "market_items": 4.0},
        {"category": "toys", "launch_date": pd.Timestamp("2026-01-09"), "market_units": 5.0, "market_items": 2.0}]
    table = pd.DataFrame({"item_id": ["a", "b", "c"], "category": ["home", "home", "toys"],
                          "launch_date": ["2026-01-09", "2026-01-03", "2026-01-09"], "market_units": [0.0] * 3})
    out = market.attach(table, got)
    assert out["item_id"].tolist() == ["a", "b", "c"]
    assert out["market_units"].tolist()[0::2] == [4.5, 5.0] and np.isnan(out["market_units"].iloc[1])
    assert out["market_items"].tolist()[0::2] == [4.0, 2.0]


def test_a_launch_file_with_market_columns_keeps_them_numeric_for_the_exposure():
    from debut.forecast.launches import clean_history
    hist = _crowded_history()
    cleaned = clean_history(hist.assign(launch_date=hist["launch_date"].dt.date.astype(str)), "launches.csv")
    assert len(cleaned.table) == len(hist)
    assert cleaned.table["market_units"].tolist() == pytest.approx(hist["market_units"].tolist())
    assert GlobalForecaster(FAST, 4).fit(cleaned.table).use_exposure
