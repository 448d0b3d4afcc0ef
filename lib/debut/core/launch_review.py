"""One launched item at one review: update, remaining quantiles, reorder and action in one record.

Shared by the adjust_launch job (real sales from silver.item_daily) and the
simulator's closed loop (simulate/closed_loop.py, the simulator's sales), so both apply the same rules.
"""
from __future__ import annotations

from typing import Dict, Sequence

import numpy as np

from debut.config import AdjustConf
from debut.core import launch_rules as rules

REMAINING_LEVELS = (0.1, 0.5, 0.9)        # remaining_p10 / p50 / p90


def assess_item(units: Sequence[float], censored: Sequence[bool], weekly_p50: Sequence[float],
                horizon_days: int, stock_on_hand: float, price: float, unit_cost: float,
                salvage_value: float, conf: AdjustConf) -> Dict:
    """Review an item after len(units) days of sales; returns the launch_adjustments fields it decides."""
    t = len(units)
    curve = rules.daily_curve(weekly_p50, max(horizon_days, t))
    upd = rules.update_rate(units, censored, curve[:t], conf.prior_weight_days, conf.min_prior_rate)
    lead_end = min(horizon_days, t + conf.lead_time_days)
    tau_rem = rules.exposure_days(curve[t:horizon_days], upd)
    tau_lead = rules.exposure_days(curve[t:lead_end], upd)
    tau_after = rules.exposure_days(curve[lead_end:horizon_days], upd)
    p10, p50, p90 = rules.demand_quantiles(upd.alpha, upd.beta, tau_rem, REMAINING_LEVELS)
    reorder = rules.reorder_quantity(upd, tau_lead, tau_after, stock_on_hand, price, unit_cost,
                                     salvage_value, conf.reorder_cost)
    decision = rules.decide(upd, stock_on_hand, p50, reorder, delist_ratio=conf.delist_ratio,
                            markdown_ratio=conf.markdown_ratio, breakout_ratio=conf.breakout_ratio,
                            min_expected_units=conf.min_expected_units,
                            markdown_discount=conf.markdown_discount)
    # only items on or above pace are restocked (a slow, delisted or marked-down one is not)
    reorder_qty = reorder.quantity if decision.action in ("reorder", "breakout") else 0
    pace = upd.pace
    boost = float(np.clip(pace, 1.0, conf.max_breakout_boost)) if decision.is_breakout and pace else 1.0
    return {
        "days_observed": t,
        "units_sold": upd.units_sold,
        "censored_days": upd.days_censored,
        "demand_estimate": float(upd.demand_estimate),
        "expected_units": float(upd.expected_units),
        "pace_ratio": None if pace is None else float(pace),
        "prior_rate": float(upd.prior_rate),
        "posterior_rate": float(upd.posterior_rate),
        "posterior_alpha": float(upd.alpha),
        "posterior_beta": float(upd.beta),
        "remaining_days": max(horizon_days - t, 0),
        "remaining_p10": p10,
        "remaining_p50": p50,
        "remaining_p90": p90,
        "stock_on_hand": float(stock_on_hand),
        "critical_fractile": float(reorder.fractile),
        "reorder_qty": int(reorder_qty),
        "action": decision.action,
        "is_breakout": bool(decision.is_breakout),
        "breakout_boost": boost,
        "reason": decision.reason,
    }
