"""debut.core.metrics: exact values on tiny arrays."""
import math

import pytest

from debut.core import metrics as M
from debut.core.quantiles import quantile_name, quantile_names


def test_wape_bias_mae_exact():
    a, f = [10, 0, 5], [8, 1, 5]
    assert M.wape(a, f) == pytest.approx(3 / 15)
    assert M.bias(a, f) == pytest.approx(-1 / 15)
    assert M.mae(a, f) == pytest.approx(1.0)


def test_nothing_sold_or_empty_is_nan():
    assert math.isnan(M.wape([0, 0], [1, 2]))
    assert math.isnan(M.mae([], []))
    assert math.isnan(M.pinball([], [], 0.5))
    assert math.isnan(M.coverage([], [], []))


def test_pinball_is_asymmetric():
    # under-forecast by 2 at q=0.9 costs 0.9*2; over-forecast by 2 costs 0.1*2
    assert M.pinball([10], [8], 0.9) == pytest.approx(1.8)
    assert M.pinball([10], [12], 0.9) == pytest.approx(0.2)
    assert M.mean_pinball([10], {0.1: [8], 0.9: [8]}) == pytest.approx((0.2 + 1.8) / 2)


def test_coverage_counts_closed_interval():
    assert M.coverage([1, 5, 9], [1, 6, 0], [2, 7, 9]) == pytest.approx(2 / 3)


def test_spearman_needs_three_varying_values():
    assert math.isnan(M.spearman([1, 2], [2, 1]))
    assert math.isnan(M.spearman([1, 1, 1], [1, 2, 3]))
    assert M.spearman([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)


def test_interval_calibration_sides():
    cal = M.interval_calibration([1, 5, 20], [2, 4, 4], [3, 5, 6], [4, 6, 8])
    assert cal == {"n": 3, "coverage": pytest.approx(1 / 3), "below": pytest.approx(1 / 3),
                   "above": pytest.approx(1 / 3), "wape": pytest.approx(16 / 26), "bias": pytest.approx(-12 / 26)}


def test_quantile_names():
    assert quantile_name(0.1) == "p10"
    assert quantile_name(0.975) == "p97_5"
    assert quantile_names((0.9, 0.1, 0.5, 0.25, 0.75)) == ("p10", "p50", "p90")
