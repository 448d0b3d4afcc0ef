"""debut.simbench: the multi-marketplace forecasting bench (pandas + the simulator, no Spark)."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from debut.config import load_config
from debut.forecast.global_model import ModelParams
from debut.simbench import _tables, run_seed, variant_params

SMALL = ["simulate.users=400", "simulate.categories=2", "simulate.items_per_category=20",
         "simulate.launches_per_category=10", "simulate.candidates_per_category=5", "simulate.days=100"]


def test_variant_specs_override_model_params_by_name_and_type():
    base = ModelParams()
    p = variant_params(base, "always, pool_level=keep,signal_glm=false,signal_alpha=0.5,max_iter=40")
    assert (p.market, p.pool_level, p.signal_glm, p.signal_alpha, p.max_iter) == ("always", "keep", False, 0.5, 40)
    assert variant_params(base, "") == base
    with pytest.raises(AttributeError):
        variant_params(base, "no_such_field=1")


def test_a_small_marketplace_gives_the_tables_forecast_launch_reads_and_a_scored_plan():
    conf = load_config("local", SMALL + ["simulate.seed=3"])
    run_date = dt.date(2026, 10, 1)
    table, cands, truth, daily, rates = _tables(conf, run_date, 3)
    assert len(cands) == 10 and set(truth["candidate_id"]) == set(cands["item_id"])
    assert table["launch_date"].max() < pd.Timestamp(run_date)
    assert table["week_1"].notna().all() and (table.filter(like="week_") >= 0).all().all()
    # the category-daily rows cover every day of the history for both categories
    assert len(daily) == 2 * 100 and (daily["active_items"] > 0).all()
    assert rates["log_rate"].notna().all() and not set(rates["item_id"]) & set(table["item_id"])
    rows = run_seed(conf, run_date, 3, ["never", "always"], say=lambda s: None)
    assert [r["variant"] for r in rows] == ["never", "always"]
    assert rows[1]["exposure"] and not rows[0]["exposure"]
    for r in rows:
        assert r["stocked"] >= r["sold"] >= 0 and r["oracle_profit"] > 0
