"""Post-launch rules as pure functions: demand update, remaining-demand quantiles, reorder, action.

Demand model of one launched item. The forecast gives a daily curve f_d (its
weekly P50 / 7, so the novelty decay is kept). Daily demand is
D_d ~ Poisson(r * e_d) where e_d = f_d / mean(f over the observed days) is the
day's relative exposure (sum e_d = t over the t observed days) and r is the
daily rate over the observed days. The prior is r ~ Gamma(alpha0 = w * r0,
beta0 = w): mean r0 (the forecast's own rate over those days), worth w =
``adjust.prior_weight_days`` days of evidence. Observing n units over t days
gives the conjugate posterior Gamma(alpha0 + n, beta0 + t).

Censored days. A day on which the item sold out only says demand >= sales. Such
a day enters with its expected demand given that bound, E[D | D >= s] under the
current rate, and the rate is iterated to a fixed point. A day with no stock at
all (s = 0) then carries no information, exactly as if it were left out.

The remaining horizon has tau = F_rem / mean(f observed) "observed-day
equivalents" of exposure, and its demand under the posterior is negative
binomial: NB(alpha, beta / (beta + tau)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
from scipy import stats

ACTIONS = ("keep", "reorder", "markdown", "delist", "breakout")
FIXED_POINT_ITERATIONS = 200
FIXED_POINT_TOL = 1e-10
SUPPORT_MASS = 1e-9                       # NB tail mass left out when summing over the support


def daily_curve(weekly_units: Sequence[float], n_days: int) -> np.ndarray:
    """Daily expected units of days 1..n_days from weekly totals (a day past the last week: 0)."""
    weekly = np.asarray([0.0 if w is None else float(w) for w in (() if weekly_units is None else weekly_units)],
                        dtype=np.float64)
    days = np.arange(n_days)
    week = days // 7
    out = np.zeros(n_days)
    inside = week < len(weekly)
    out[inside] = np.maximum(weekly[week[inside]], 0.0) / 7.0
    return out


def expected_given_at_least(mu: float, s: int) -> float:
    """E[D | D >= s] for D ~ Poisson(mu): mu * P(D >= s - 1) / P(D >= s), and s when mu is tiny."""
    if s <= 0:
        return float(mu)
    if mu <= 0:
        return float(s)
    tail = stats.poisson.sf(s - 1, mu)              # P(D >= s)
    if tail <= 1e-300:
        return float(s)
    tail_below = stats.poisson.sf(s - 2, mu) if s >= 2 else 1.0   # P(D >= s - 1)
    return max(float(s), float(mu * tail_below / tail))


@dataclass(frozen=True)
class RateUpdate:
    """The Gamma posterior of an item's daily rate, and what went into it."""
    prior_rate: float          # r0: forecast daily rate over the observed days (floored)
    prior_alpha: float
    prior_beta: float
    alpha: float
    beta: float
    days_observed: int
    days_censored: int
    units_sold: int            # what was sold (censored days included as sold)
    demand_estimate: float     # units sold on uncensored days + expected demand on censored days
    expected_units: float      # forecast units over the observed days (r0 * t)
    exposure_scale: float      # mean forecast daily units over the observed days (0: flat exposure)

    @property
    def posterior_rate(self) -> float:
        return self.alpha / self.beta

    @property
    def pace(self) -> Optional[float]:
        """Observed (censoring-corrected) demand over the forecast for the same days."""
        return self.demand_estimate / self.expected_units if self.expected_units > 0 else None


def update_rate(units: Sequence[float], censored: Sequence[bool], curve: Sequence[float],
                prior_weight_days: float, min_prior_rate: float) -> RateUpdate:
    """Gamma-Poisson update of the daily rate from the observed days (see the module docstring)."""
    units = np.asarray(units, dtype=np.float64)
    censored = np.asarray(censored, dtype=bool)
    curve = np.asarray(curve, dtype=np.float64)
    t = len(units)
    if not (len(censored) == t == len(curve)):
        raise ValueError(f"units, censored and curve must have the same length, got {t}, {len(censored)}, {len(curve)}")
    w = float(prior_weight_days)
    scale = float(curve.mean()) if t else 0.0
    if scale >= min_prior_rate:
        r0, exposure = scale, curve / scale
    else:                                   # no usable forecast shape: flat exposure, floored rate
        r0, exposure, scale = float(min_prior_rate), np.ones(t), 0.0
    alpha0, beta0 = w * r0, w
    n_open = float(units[~censored].sum())
    cens_units = units[censored].astype(np.int64)
    cens_exposure = exposure[censored]
    beta = beta0 + t
    rate = (alpha0 + float(units.sum())) / beta
    imputed = float(cens_units.sum())
    for _ in range(FIXED_POINT_ITERATIONS if len(cens_units) else 0):
        imputed = sum(expected_given_at_least(rate * e, int(s)) for s, e in zip(cens_units, cens_exposure))
        new_rate = (alpha0 + n_open + imputed) / beta
        if abs(new_rate - rate) <= FIXED_POINT_TOL * max(1.0, rate):
            rate = new_rate
            break
        rate = new_rate
    return RateUpdate(prior_rate=r0, prior_alpha=alpha0, prior_beta=beta0, alpha=alpha0 + n_open + imputed,
                      beta=beta, days_observed=t, days_censored=int(censored.sum()),
                      units_sold=int(round(units.sum())), demand_estimate=n_open + imputed,
                      expected_units=r0 * t, exposure_scale=scale)


def exposure_days(curve_ahead: Sequence[float], upd: RateUpdate) -> float:
    """tau: exposure of future days in observed-day equivalents (flat days when the forecast had no shape)."""
    curve_ahead = np.asarray(curve_ahead, dtype=np.float64)
    if upd.exposure_scale > 0:
        return float(curve_ahead.sum() / upd.exposure_scale)
    return float(len(curve_ahead))


def predictive(alpha: float, beta: float, tau: float):
    """Posterior predictive of demand over tau exposure days: a frozen scipy NB, or None when tau <= 0."""
    if tau <= 0:
        return None
    return stats.nbinom(alpha, beta / (beta + tau))


def demand_quantiles(alpha: float, beta: float, tau: float, levels: Sequence[float]) -> Tuple[float, ...]:
    """Quantiles of the NB posterior predictive over tau exposure days (zeros when tau <= 0)."""
    dist = predictive(alpha, beta, tau)
    if dist is None:
        return tuple(0.0 for _ in levels)
    return tuple(float(dist.ppf(q)) for q in levels)


def _support(dist) -> Tuple[np.ndarray, np.ndarray]:
    hi = int(dist.ppf(1.0 - SUPPORT_MASS)) + 1
    k = np.arange(hi + 1)
    pmf = dist.pmf(k)
    return k, pmf


def expected_sales(dist, stock: float) -> float:
    """E[min(stock, D)] for D ~ dist (0 when dist is None)."""
    if dist is None or stock <= 0:
        return 0.0
    k, pmf = _support(dist)
    tail = max(0.0, 1.0 - float(pmf.sum()))
    return float((np.minimum(k, stock) * pmf).sum() + tail * stock)


def critical_fractile(price: float, unit_cost: float, salvage_value: float) -> float:
    """Newsvendor fractile: underage (price - cost) over underage + overage (cost - salvage)."""
    under, over = price - unit_cost, unit_cost - salvage_value
    if under <= 0:
        return 0.0
    if over <= 0:
        return 1.0
    return under / (under + over)


@dataclass(frozen=True)
class Reorder:
    quantity: int
    target: float              # order-up-to level over the period after the reorder arrives
    stock_at_arrival: float    # expected stock left when it arrives
    fractile: float
    expected_gain: float       # expected profit of ordering `quantity` vs nothing, after the reorder cost


def reorder_quantity(upd: RateUpdate, tau_lead: float, tau_after: float, stock_on_hand: float,
                     price: float, unit_cost: float, salvage_value: float, reorder_cost: float) -> Reorder:
    """Newsvendor reorder over the remaining horizon given stock on hand and the lead time.

    Stock at arrival is E[max(stock - D_lead, 0)]; the order tops it up to the
    critical-fractile quantile of the demand after arrival, and is placed only
    when its expected profit beats the fixed reorder cost.
    """
    cf = critical_fractile(price, unit_cost, salvage_value)
    lead = predictive(upd.alpha, upd.beta, tau_lead)
    stock = max(float(stock_on_hand), 0.0)
    at_arrival = stock - expected_sales(lead, stock) if lead is not None else stock
    after = predictive(upd.alpha, upd.beta, tau_after)
    if after is None or cf <= 0:
        return Reorder(0, 0.0, at_arrival, cf, 0.0)
    target = float(after.ppf(min(cf, 1.0 - SUPPORT_MASS)))
    qty = max(0, int(math.ceil(target - at_arrival - 1e-9)))
    if qty == 0:
        return Reorder(0, target, at_arrival, cf, 0.0)

    def value(x: float) -> float:
        sold = expected_sales(after, x)
        return price * sold + salvage_value * (x - sold)

    gain = value(at_arrival + qty) - value(at_arrival) - unit_cost * qty - reorder_cost
    if gain <= 0:
        return Reorder(0, target, at_arrival, cf, gain)
    return Reorder(qty, target, at_arrival, cf, gain)


@dataclass(frozen=True)
class Decision:
    action: str                # one of ACTIONS
    is_breakout: bool
    reason: str


def decide(upd: RateUpdate, stock_on_hand: float, remaining_p50: float, reorder: Reorder,
           *, delist_ratio: float, markdown_ratio: float, breakout_ratio: float,
           min_expected_units: float, markdown_discount: float) -> Decision:
    """keep / reorder / markdown / delist / breakout from the pace against the thresholds, with a reason."""
    t = upd.days_observed
    pace = upd.pace
    sold = f"{upd.units_sold} sold in {t} days vs {upd.expected_units:.1f} forecast"
    if upd.days_censored:
        sold += f" ({upd.days_censored} sold-out days counted as demand >= sales)"
    reorder_txt = (f"; reorder {reorder.quantity} (up to P{reorder.fractile * 100:.0f} of demand after the lead time, "
                   f"expected gain {reorder.expected_gain:.0f})") if reorder.quantity else ""
    if pace is None or upd.expected_units < min_expected_units:
        action = "reorder" if reorder.quantity else "keep"
        return Decision(action, False, f"{sold}: under {min_expected_units:g} units expected so far, "
                                       f"too early to judge the pace{reorder_txt}")
    pct = f"pace {pace:.0%} of forecast"
    if pace < delist_ratio:
        return Decision("delist", False, f"{sold}: {pct} is below the delist line {delist_ratio:.0%}; "
                                         f"stop selling and salvage {stock_on_hand:.0f} units")
    if pace < markdown_ratio:
        if stock_on_hand > remaining_p50:
            return Decision("markdown", False,
                            f"{sold}: {pct} is below the markdown line {markdown_ratio:.0%} and "
                            f"{stock_on_hand:.0f} units on hand exceed the {remaining_p50:.0f} expected to sell; "
                            f"cut the price {markdown_discount:.0%}")
        return Decision("keep", False, f"{sold}: {pct} is slow, but the {stock_on_hand:.0f} units on hand "
                                       f"do not exceed the {remaining_p50:.0f} expected to sell")
    if pace > breakout_ratio:
        return Decision("breakout", True, f"{sold}: {pct} is above the breakout line {breakout_ratio:.0%}; "
                                          f"boost in recommendations{reorder_txt}")
    if reorder.quantity:
        return Decision("reorder", False, f"{sold}: {pct}; stock runs short{reorder_txt}")
    return Decision("keep", False, f"{sold}: {pct}; stock on hand covers the expected demand")
