"""adjust: Gamma-Poisson update, censored days, NB quantiles, newsvendor reorder, actions; the job."""
from __future__ import annotations

import datetime as dt
import math

import pytest

from debut.core import launch_rules as rules
from debut.core.launch_review import assess_item
from debut.config import AdjustConf
from tests.conftest import as_table

W = 7.0            # prior weight in days
FLOOR = 0.01


def _poisson_tail(mu: float, s: int) -> float:
    """P(D >= s) for D ~ Poisson(mu), by hand."""
    return 1.0 - sum(math.exp(-mu) * mu ** k / math.factorial(k) for k in range(s))


# ------------------------------------------------------------- the update
def test_gamma_poisson_update_hand_case():
    # forecast 1 unit/day -> prior Gamma(7, 7); 6 units in 4 days -> Gamma(13, 11)
    upd = rules.update_rate([2, 0, 1, 3], [False] * 4, [1.0] * 4, W, FLOOR)
    assert (upd.prior_rate, upd.prior_alpha, upd.prior_beta) == (1.0, 7.0, 7.0)
    assert (upd.alpha, upd.beta) == (13.0, 11.0)
    assert upd.posterior_rate == pytest.approx(13 / 11)
    assert upd.pace == pytest.approx(6 / 4)
    assert upd.expected_units == pytest.approx(4.0)


def test_prior_mean_follows_the_weekly_p50_curve():
    curve = rules.daily_curve([14.0, 7.0], 10)
    assert list(curve) == pytest.approx([2.0] * 7 + [1.0] * 3)
    # 4 observed days at 2/day forecast: r0 = 2, prior Gamma(14, 7); 4 units -> Gamma(18, 11)
    upd = rules.update_rate([1, 1, 1, 1], [False] * 4, curve[:4], W, FLOOR)
    assert (upd.prior_rate, upd.alpha, upd.beta) == (2.0, 18.0, 11.0)
    assert upd.pace == pytest.approx(0.5)
    # the rest of the horizon: 3 days at 2 + 3 days at 1 = 9 forecast units = 4.5 observed-day equivalents
    assert rules.exposure_days(curve[4:], upd) == pytest.approx(4.5)


def test_zero_forecast_uses_the_floor_and_flat_exposure():
    upd = rules.update_rate([0, 2], [False, False], [0.0, 0.0], W, 0.5)
    assert (upd.prior_rate, upd.alpha, upd.beta) == (0.5, 3.5 + 2, 9.0)
    assert rules.exposure_days([0.0, 0.0, 0.0], upd) == 3.0


def test_a_day_with_no_stock_carries_no_information():
    # a censored day that sold 0 (no stock) gives the same posterior as leaving the day out
    with_day = rules.update_rate([2, 0, 1, 3, 0], [False] * 4 + [True], [1.0] * 5, W, FLOOR)
    assert with_day.posterior_rate == pytest.approx(13 / 11, rel=1e-8)
    assert with_day.days_censored == 1


def test_a_sold_out_day_is_a_lower_bound():
    # day 5 sold 3 and sold out: demand >= 3. The fixed point r satisfies
    # r = (7 + 6 + E[D | D >= 3; r]) / 12 with E[D | D >= 3] = r P(D >= 2) / P(D >= 3)
    upd = rules.update_rate([2, 0, 1, 3, 3], [False] * 4 + [True], [1.0] * 5, W, FLOOR)
    r = upd.posterior_rate
    imputed = r * _poisson_tail(r, 2) / _poisson_tail(r, 3)
    assert r == pytest.approx((7 + 6 + imputed) / 12, rel=1e-8)
    assert upd.demand_estimate == pytest.approx(6 + imputed, rel=1e-8)
    uncensored = rules.update_rate([2, 0, 1, 3, 3], [False] * 5, [1.0] * 5, W, FLOOR)
    assert r > uncensored.posterior_rate == pytest.approx(16 / 12)


def test_expected_given_at_least():
    assert rules.expected_given_at_least(2.0, 0) == 2.0
    # Poisson(1) given D >= 1: 1 / (1 - e^-1)
    assert rules.expected_given_at_least(1.0, 1) == pytest.approx(1 / (1 - math.exp(-1)))


# ------------------------------------------------------------- predictive and reorder
def test_negative_binomial_quantiles_geometric_case():
    # alpha = 1, beta = 1, tau = 9: NB(1, 0.1) is geometric, P(D <= k) = 1 - 0.9^(k+1)
    p50, p90 = rules.demand_quantiles(1.0, 1.0, 9.0, (0.5, 0.9))
    assert (p50, p90) == (6.0, 21.0)   # 0.9^7 = 0.478 <= 0.5 < 0.9^6; 0.9^22 = 0.098 <= 0.1 < 0.9^21
    assert rules.demand_quantiles(1.0, 1.0, 0.0, (0.5,)) == (0.0,)


def test_critical_fractile():
    assert rules.critical_fractile(10.0, 4.0, 1.0) == pytest.approx(2 / 3)
    assert rules.critical_fractile(4.0, 4.0, 1.0) == 0.0


def _geometric_update() -> rules.RateUpdate:
    return rules.RateUpdate(prior_rate=1.0, prior_alpha=1.0, prior_beta=1.0, alpha=1.0, beta=1.0, days_observed=0,
                            days_censored=0, units_sold=0, demand_estimate=0.0, expected_units=0.0,
                            exposure_scale=1.0)


def test_reorder_newsvendor_hand_case():
    # demand after arrival geometric(0.1); fractile 2/3 -> order up to 10 (0.9^11 = 0.314 <= 1/3 < 0.9^10)
    # 3 on hand, no lead time: order 7. E[min(x, D)] = 9 (1 - 0.9^x); gain of 7 more units:
    #   10 (m(10) - m(3)) + 1 (7 - (m(10) - m(3))) - 4 x 7 = 9.806046352
    r = rules.reorder_quantity(_geometric_update(), 0.0, 9.0, 3, 10.0, 4.0, 1.0, 5.0)
    m = lambda x: 9 * (1 - 0.9 ** x)  # noqa: E731
    gain = 10 * (m(10) - m(3)) + (7 - (m(10) - m(3))) - 28 - 5
    assert (r.quantity, r.target, r.stock_at_arrival) == (7, 10.0, 3.0)
    assert r.expected_gain == pytest.approx(gain, rel=1e-6) and gain == pytest.approx(4.806046352)


def test_reorder_not_worth_its_fixed_cost():
    r = rules.reorder_quantity(_geometric_update(), 0.0, 9.0, 3, 10.0, 4.0, 1.0, 50.0)
    assert r.quantity == 0 and r.expected_gain == pytest.approx(9.806046352 - 50.0, rel=1e-6)


def test_reorder_stock_during_lead_time():
    # lead time with geometric(0.5) demand: E[max(3 - D, 0)] = 3 - (0.5 + 0.25 + 0.125) = 2.125 at arrival;
    # order up to 10 -> ceil(10 - 2.125) = 8
    r = rules.reorder_quantity(_geometric_update(), 1.0, 9.0, 3, 10.0, 4.0, 1.0, 0.0)
    assert r.stock_at_arrival == pytest.approx(2.125)
    assert r.quantity == 8


def test_no_reorder_when_the_horizon_ends_before_arrival():
    assert rules.reorder_quantity(_geometric_update(), 9.0, 0.0, 0, 10.0, 4.0, 1.0, 0.0).quantity == 0


# ------------------------------------------------------------- actions
def _upd(pace: float, expected: float = 14.0) -> rules.RateUpdate:
    return rules.RateUpdate(prior_rate=1.0, prior_alpha=7.0, prior_beta=7.0, alpha=7.0 + pace * expected,
                            beta=21.0, days_observed=14, days_censored=0, units_sold=int(pace * expected),
                            demand_estimate=pace * expected, expected_units=expected, exposure_scale=1.0)


NO_REORDER = rules.Reorder(0, 0.0, 0.0, 0.5, 0.0)
REORDER = rules.Reorder(12, 20.0, 8.0, 0.5, 30.0)
THRESH = dict(delist_ratio=0.2, markdown_ratio=0.5, breakout_ratio=1.5, min_expected_units=5.0,
              markdown_discount=0.25)


@pytest.mark.parametrize("pace,stock,p50,reorder,action,breakout", [
    (0.1, 40, 5, NO_REORDER, "delist", False),
    (0.19, 40, 5, REORDER, "delist", False),
    (0.3, 40, 5, NO_REORDER, "markdown", False),
    (0.3, 4, 5, NO_REORDER, "keep", False),          # slow, but no excess stock
    (1.0, 40, 5, NO_REORDER, "keep", False),
    (1.0, 4, 15, REORDER, "reorder", False),
    (1.6, 4, 30, REORDER, "breakout", True),
    (1.5, 4, 30, REORDER, "reorder", False),         # the line itself is not a breakout
])
def test_action_thresholds(pace, stock, p50, reorder, action, breakout):
    d = rules.decide(_upd(pace), stock, p50, reorder, **THRESH)
    assert (d.action, d.is_breakout) == (action, breakout)
    assert d.reason


def test_too_little_expected_demand_is_not_judged():
    d = rules.decide(_upd(0.0, expected=4.0), 40, 5, NO_REORDER, **THRESH)
    assert d.action == "keep" and "too early" in d.reason


def test_assess_item_breakout_record():
    conf = AdjustConf(reorder_cost=0.0)
    rec = assess_item([2] * 14, [False] * 14, [7.0] * 4, 28, 72, 20.0, 8.0, 2.4, conf)
    assert rec["posterior_rate"] == pytest.approx(35 / 21)
    assert (rec["action"], rec["is_breakout"], rec["breakout_boost"]) == ("breakout", True, 2.0)
    assert rec["reorder_qty"] == 0 and rec["remaining_days"] == 14


# ------------------------------------------------------------- the job
PLAN_DATE = dt.date(2026, 9, 1)
RUN_DATE = dt.date(2026, 9, 15)


def _write_inputs(spark, conf, sales):
    from pyspark.sql import types as T

    from debut import io
    from debut.schemas import ITEM_DAILY

    plan = spark.createDataFrame(
        [("bags", "C1", PLAN_DATE, True, 100), ("bags", "C2", PLAN_DATE, True, 50),
         ("bags", "C3", PLAN_DATE, True, 10), ("bags", "C4", PLAN_DATE, False, 0)],
        "category string, candidate_id string, plan_date date, launch boolean, quantity int")
    io.merge(as_table(plan, "gold.launch_plan"), conf, "gold.launch_plan")
    fc_schema = T.StructType([T.StructField("candidate_id", T.StringType()), T.StructField("plan_date", T.DateType()),
                              T.StructField("price", T.DoubleType()), T.StructField("unit_cost", T.DoubleType()),
                              T.StructField("horizon_weeks", T.IntegerType()),
                              T.StructField("weekly_p50", T.ArrayType(T.DoubleType()))])
    fc = spark.createDataFrame([(c, PLAN_DATE, 20.0, 8.0, 4, [7.0] * 4) for c in ("C1", "C2", "C3", "C4")], fc_schema)
    io.merge(as_table(fc, "gold.launch_forecast", conf), conf, "gold.launch_forecast")
    rows = [(item, PLAN_DATE + dt.timedelta(days=d), "bags", 10, 1, 1, u, 20.0 * u, u, 0, u, None, None, None,
             False, RUN_DATE) for item, d, u in sales]
    io.merge(spark.createDataFrame(rows, ITEM_DAILY), conf, "silver.item_daily")


@pytest.mark.slow   # the job on simulated tables, ~1 min
def test_adjust_job_reviews_launched_items(spark, conf):
    from debut import io
    from debut.adjust import job

    sales = ([("C1", d, 2) for d in range(14)]                         # twice the forecast pace
             + [("C3", 0, 5), ("C3", 1, 5)]                             # sold out on day 2
             + [("C4", d, 3) for d in range(14)]                        # not launched: ignored
             + [("C1", 14, 9)])                                         # run_date itself: not yet observed
    _write_inputs(spark, conf, sales)
    result = job.run(spark, conf, RUN_DATE)
    assert result["reviewed"] == 3
    out = {r["candidate_id"]: r.asDict() for r in io.read(spark, conf, "gold.launch_adjustments").collect()}
    assert sorted(out) == ["C1", "C2", "C3"]
    c1, c2, c3 = out["C1"], out["C2"], out["C3"]
    assert (c1["units_sold"], c1["days_observed"], c1["stock_on_hand"]) == (28, 14, 72.0)
    assert c1["posterior_rate"] == pytest.approx(35 / 21)
    assert (c1["action"], c1["is_breakout"], c1["breakout_boost"]) == ("breakout", True, 2.0)
    assert (c2["units_sold"], c2["action"], c2["pace_ratio"]) == (0, "delist", 0.0)
    # C3: day 1 open, day 2 sold out with 5, days 3..14 without stock
    assert (c3["units_sold"], c3["censored_days"], c3["stock_on_hand"]) == (10, 13, 0.0)
    upd = rules.update_rate([5, 5] + [0] * 12, [False] + [True] * 13, [1.0] * 14, W, conf.adjust.min_prior_rate)
    assert c3["posterior_rate"] == pytest.approx(upd.posterior_rate)
    assert c3["pace_ratio"] > 10 / 14 and c3["as_of_date"] == RUN_DATE
    # sold out in two days: a breakout that needs stock
    assert (c3["action"], c3["is_breakout"]) == ("breakout", True) and c3["reorder_qty"] > 0
    assert sorted(r["item_id"] for r in job.breakouts(spark, conf, RUN_DATE).collect()) == ["C1", "C3"]
    # a rerun replaces that day's rows
    job.run(spark, conf, RUN_DATE)
    assert io.read(spark, conf, "gold.launch_adjustments").count() == 3


def test_adjust_job_without_an_old_enough_plan_writes_nothing(spark, conf, capsys):
    from debut import io
    from debut.adjust import job

    _write_inputs(spark, conf, [("C1", 0, 1)])
    assert job.run(spark, conf, PLAN_DATE + dt.timedelta(days=5)) == {"reviewed": 0}
    assert "nothing to review" in capsys.readouterr().out
    assert not io.exists(spark, conf, "gold.launch_adjustments")
