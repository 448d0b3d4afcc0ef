"""One category's launch plan: a pure pandas function with its Spark output schema.

``optimize_category(pdf, conf)`` takes the category's rows of
gold.launch_forecast and returns one PLAN_SCHEMA row per candidate, plus one
status row (candidate_id null) when the category is infeasible, has no
plannable candidate, or the solver failed. It never raises: a failure becomes
a status row with the reason. Runs as
``df.groupBy("plan_date", "category").applyInPandas(make_udf(conf), PLAN_SCHEMA)``.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np
import pandas as pd

from debut.config import OptimizeConf
from debut.core import milp, scenarios
from debut.core.milp import CountLimit, Problem, Solution
from debut.schemas import PLAN_SCHEMA

PLAN_COLUMNS = [f.name for f in PLAN_SCHEMA.fields]
_INT_COLUMNS = {"price_band": "Int32", "horizon_weeks": "Int32", "quantity": "int32",
                "decision_rank": "Int32", "n_scenarios": "Int32"}

# columns of gold.launch_forecast the optimizer reads
INPUT_COLUMNS = ("plan_date", "category", "candidate_id", "subcategory", "price_band", "price", "unit_cost",
                 "horizon_weeks", "mean_units", "units_p10", "units_p50", "units_p90",
                 "quantile_levels", "quantile_units")
OPTIONAL_COLUMNS = ("min_order_qty",)      # the supplier's minimum order, when the input carries it
REQUIRED_COLUMNS = ("plan_date", "category", "candidate_id", "price", "unit_cost",
                    "quantile_levels", "quantile_units")


# The optimizer's parameters are conf.optimize itself: a frozen pydantic model that
# pickles, so applyInPandas ships it as is. ``Params.of(conf)`` takes a Config,
# an OptimizeConf or a mapping of its keys.
Params = OptimizeConf


def _min_qty(p: Params, row: Mapping[str, Any]) -> float:
    """Least stock of a launch: conf's minimum order, the candidate's own (an optional
    ``min_order_qty`` input column) when larger, and at least one unit."""
    own = row.get("min_order_qty")
    return float(max(p.min_order_qty, 1, int(own) if _finite(own) else 0))


def make_udf(conf: Any):
    """The applyInPandas function for ``conf`` (closes over conf.optimize only)."""
    params = Params.of(conf)

    def fn(pdf: pd.DataFrame) -> pd.DataFrame:
        return optimize_category(pdf, params)
    return fn


def optimize_category(pdf: pd.DataFrame, conf: Any,
                      demand: Optional[Mapping[str, Any]] = None) -> pd.DataFrame:
    """Plan one category (one plan_date): PLAN_SCHEMA rows, never an exception.

    ``demand`` (candidate_id -> scenario array) replaces the sampled scenarios: the
    oracle passes each candidate's true units as a single scenario.
    """
    t0 = time.perf_counter()
    try:
        params = Params.of(conf)
        return _plan(pdf, params, t0, demand)
    except Exception as exc:  # noqa: BLE001 - a failed category becomes a status row, not a failed job
        return _frame([_status_row(pdf, "error", f"optimizer failed: {type(exc).__name__}: {exc}", t0)]
                      if len(pdf) else [])


# ------------------------------------------------------------------ plan
@dataclass
class _Cand:
    row: Dict[str, Any]
    scen: Optional[np.ndarray] = None
    grid: Optional[Tuple[np.ndarray, np.ndarray]] = None
    problem: str = ""                      # why it cannot be planned


def _finite(v) -> bool:
    """A real number (not None, NaN, NA or inf)."""
    try:
        return v is not None and bool(np.isfinite(float(v)))
    except (TypeError, ValueError):
        return False


def _candidates(pdf: pd.DataFrame, p: Params, demand: Optional[Mapping[str, Any]] = None) -> List[_Cand]:
    required = REQUIRED_COLUMNS if demand is None else ("category", "candidate_id", "price", "unit_cost")
    missing = [c for c in required if c not in pdf.columns]
    if missing:
        raise ValueError(f"launch forecast lacks column(s) {', '.join(missing)}")
    out, seen = [], set()
    for row in pdf.to_dict("records"):
        cid = row.get("candidate_id")
        if cid is None or (isinstance(cid, float) and np.isnan(cid)) or cid in seen:
            continue                        # no id (cannot be keyed) or a duplicate of one already planned
        seen.add(cid)
        cand = _Cand(row)
        grid = scenarios.forecast_grid(row)
        price, cost = row.get("price"), row.get("unit_cost")
        if not (_finite(price) and price > 0 and _finite(cost) and cost >= 0):
            cand.problem = "not launched: price or unit cost missing or invalid"
        elif demand is not None:
            given = demand.get(cid)
            if given is None or np.size(given) == 0:
                cand.problem = "not launched: no demand given"
            else:
                cand.scen = np.maximum(np.asarray(given, dtype=np.float64).ravel(), 0.0)
        elif grid is None:
            cand.problem = "not launched: no usable demand forecast (quantile grid and P10/P50/P90 missing)"
        else:
            cand.scen = scenarios.sample_candidate(grid, p.scenarios, p.seed, cid)
            cand.grid = grid
        out.append(cand)
    return out


def _resample(cands: List[_Cand], p: Params, n: int) -> List[np.ndarray]:
    """Fewer scenarios per candidate (same seeds) for the scenario formulation."""
    return [scenarios.sample_candidate(c.grid, n, p.seed, c.row["candidate_id"]) for c in cands]


def _limits(ok: List[_Cand], p: Params) -> List[CountLimit]:
    limits = []
    if p.max_per_subcategory > 0:
        for sub, idx in _groups(ok, "subcategory").items():
            limits.append(CountLimit(milp.SUBCATEGORY, f"subcategory {sub!r}", idx, hi=p.max_per_subcategory))
    if p.min_per_price_band > 0:
        for band, idx in _groups(ok, "price_band").items():
            limits.append(CountLimit(milp.PRICE_BAND, f"price band {band}", idx, lo=p.min_per_price_band))
    return limits


def _groups(ok: List[_Cand], col: str) -> Dict[Any, Tuple[int, ...]]:
    groups: Dict[Any, List[int]] = {}
    for i, c in enumerate(ok):
        v = c.row.get(col)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            continue
        groups.setdefault(int(v) if col == "price_band" else v, []).append(i)
    return {k: tuple(v) for k, v in sorted(groups.items(), key=lambda kv: str(kv[0]))}


def _problem(ok: List[_Cand], p: Params, budget: float, scen: List[np.ndarray]) -> Problem:
    price = np.array([float(c.row["price"]) for c in ok])
    cost = np.array([float(c.row["unit_cost"]) for c in ok])
    return Problem(price=price, unit_cost=cost, salvage=p.salvage_rate * cost, scenarios=scen,
                   launch_cost=p.launch_cost, min_qty=np.array([_min_qty(p, c.row) for c in ok]), budget=budget, max_launches=p.max_launches,
                   limits=_limits(ok, p), satisfaction_weight=p.satisfaction_weight,
                   risk_weight=p.risk_weight, cvar_alpha=p.cvar_alpha)


def _precheck(prob: Problem, p: Params) -> Optional[str]:
    """The binding constraint of an obviously infeasible category, named; None if none found."""
    bands = [lim for lim in prob.limits if lim.kind == milp.PRICE_BAND]
    for lim in bands:
        if len(lim.members) < lim.lo:
            return (f"min_per_price_band={lim.lo} but {lim.label} has only {len(lim.members)} "
                    f"plannable candidate(s)")
    need = sum(lim.lo for lim in bands)
    if need > prob.max_launches:
        return (f"min_per_price_band={p.min_per_price_band} over {len(bands)} price bands needs {need} launches "
                f"but max_launches={prob.max_launches}")
    least = prob.unit_cost * prob.min_qty                  # spend of a launch at its minimum order
    cheapest = sum(np.sort(least[list(lim.members)])[:lim.lo].sum() for lim in bands)
    if cheapest > prob.budget:
        return (f"min_per_price_band={p.min_per_price_band} needs at least {cheapest:.0f} of stock at the "
                f"minimum order quantities but the budget is {prob.budget:.0f}")
    return None


def _diagnose(prob: Problem, p: Params) -> str:
    """Which constraint groups, left out one (then two) at a time, make the category feasible."""
    groups = [milp.BUDGET, milp.SHELF] + sorted({lim.kind for lim in prob.limits})
    kw = dict(formulation="piecewise", time_limit_s=p.time_limit_s, mip_gap=1.0, feasibility_only=True)
    risk_free = dataclasses.replace(prob, risk_weight=0.0)
    single = [g for g in groups if milp.solve(risk_free, drop=(g,), **kw).has_plan]
    if single:
        return "constraints in conflict; feasible without " + " or without ".join(single)
    pairs = [f"{a} + {b}" for i, a in enumerate(groups) for b in groups[i + 1:]
             if milp.solve(risk_free, drop=(a, b), **kw).has_plan]
    if pairs:
        return "constraints in conflict; feasible only without " + " or without ".join(pairs)
    return "no combination of launches satisfies the constraints"


def _plan(pdf: pd.DataFrame, p: Params, t0: float, demand: Optional[Mapping[str, Any]]) -> pd.DataFrame:
    if pdf.empty:
        return _frame([])
    # the same plan whatever order the rows arrive in (the shuffle does not keep one)
    pdf = pdf.sort_values("candidate_id", kind="stable", na_position="last")
    cands = _candidates(pdf, p, demand)
    ok = [c for c in cands if c.scen is not None]
    category = str(pdf["category"].iloc[0])
    budget = p.budget(category)
    if not ok:
        rows = [_skipped_row(c, "no_candidates", t0) for c in cands]
        rows.append(_status_row(pdf, "no_candidates", "no candidate with a usable forecast, price and cost", t0))
        return _frame(rows)
    full = [c.scen for c in ok]
    n_full = len(full[0]) if len({len(s) for s in full}) == 1 else None
    risk = p.risk_weight > 0 or p.formulation == "scenario"
    n_opt = n_full
    if risk and demand is None:
        n_opt = min(p.scenarios, max(1, p.risk_scenario_vars // len(ok)))
    elif risk and n_full is None:
        raise ValueError("the scenario formulation needs the same number of given scenarios per candidate")
    prob = _problem(ok, p, budget, _resample(ok, p, n_opt) if n_opt != n_full else full)
    why = _precheck(prob, p)
    if why is None:
        sol = milp.solve(prob, formulation=p.formulation, time_limit_s=p.time_limit_s, mip_gap=p.mip_gap)
        if sol.status == "infeasible":
            why = _diagnose(prob, p)
    else:
        sol = _no_plan("infeasible", why, prob.n)
    if not sol.has_plan:
        label = "infeasible" if sol.status == "infeasible" else sol.status
        why = why or f"solver found no plan: {sol.message}"
        rows = [_skipped_row(c, label, t0, f"not launched: category {label}: {why}") for c in cands]
        rows.append(_status_row(pdf, label, f"category {label}: {why}", t0))
        return _frame(rows)
    rows = _plan_rows(ok, p, prob, sol, full, budget, n_opt)
    rows += [_skipped_row(c, sol.status, t0) for c in cands if c.scen is None]
    seconds = time.perf_counter() - t0
    for r in rows:
        r["solve_time_s"] = seconds
    return _frame(rows)


def _no_plan(status: str, message: str, n: int) -> Solution:
    return Solution(status, np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64), None, None, message,
                    "", 0, 0, 0.0)


def _standalone(scen, price, cost, salvage, p: Params, min_qty: float) -> Tuple[int, float]:
    """Best whole-unit stock and expected profit of launching this candidate alone, stock >= min_qty."""
    widths, gains = milp.segments(scen, price, cost, salvage, p.satisfaction_weight, min_qty)
    if widths.size == 0:
        return 0, -p.launch_cost
    cum_q, cum_v = np.cumsum(widths), np.cumsum(widths * gains)
    feasible = cum_q >= min_qty - 1e-9
    k = int(np.argmax(np.where(feasible, cum_v, -np.inf)))
    return int(round(cum_q[k])), float(cum_v[k] - p.launch_cost)


def _plan_rows(ok: List[_Cand], p: Params, prob: Problem, sol: Solution, full: List[np.ndarray],
               budget: float, n_opt: int) -> List[Dict[str, Any]]:
    q = sol.quantity.astype(np.float64)
    launch = sol.launch
    sat = prob.salvage
    spend_total = float((prob.unit_cost * q).sum())
    n_launched = int(launch.sum())
    sub_count: Dict[Any, int] = {}
    for c, x in zip(ok, launch):
        if x:
            sub_count[c.row.get("subcategory")] = sub_count.get(c.row.get("subcategory"), 0) + 1
    rows = []
    for i, c in enumerate(ok):
        price, cost, salvage = prob.price[i], prob.unit_cost[i], sat[i]
        moq = prob.min_qty[i]
        q_std, v_std = _standalone(full[i], price, cost, salvage, p, moq)
        q_free, v_free = _standalone(full[i], price, cost, salvage, p, 0.0)
        r = _base_row(c.row)
        d = full[i]
        r.update(launch=bool(launch[i]), quantity=int(q[i]), spend=float(cost * q[i]),
                 expected_demand=float(d.mean()), solver_status=sol.status, mip_gap=sol.mip_gap,
                 objective=sol.objective, formulation=sol.formulation, n_scenarios=n_opt)
        if launch[i]:
            sold = np.minimum(d, q[i])
            left = q[i] - sold
            profit = price * sold + salvage * left - cost * q[i] - p.launch_cost
            r.update(expected_units_sold=float(sold.mean()), expected_leftover=float(left.mean()),
                     expected_profit=float(profit.mean()), profit_p10=float(np.quantile(profit, 0.1)),
                     stockout_prob=float((d > q[i]).mean()))
            r["reason"] = _launch_reason(r, p, q_std, v_std, q_free, moq)
            r["_score"] = (1, r["expected_profit"])
        else:
            r.update(expected_units_sold=0.0, expected_leftover=0.0, expected_profit=0.0, profit_p10=0.0,
                     stockout_prob=None)
            r["reason"] = _skip_reason(c.row, p, cost, moq, q_std, v_std, q_free, v_free, n_launched,
                                       budget - spend_total, budget, sub_count)
            r["_score"] = (0, v_std)
        rows.append(r)
    order = sorted(range(len(rows)), key=lambda k: rows[k]["_score"], reverse=True)
    for rank, k in enumerate(order, 1):
        rows[k]["decision_rank"] = rank
        del rows[k]["_score"]
    return rows


def _launch_reason(r: Dict[str, Any], p: Params, q_std: int, v_std: float, q_free: int, moq: float) -> str:
    text = (f"launched: expected profit {r['expected_profit']:.0f} on {r['quantity']} units "
            f"(stock-out probability {r['stockout_prob']:.0%})")
    q = r["quantity"]
    if v_std <= 0 and p.min_per_price_band > 0:
        text += f"; kept to meet min_per_price_band={p.min_per_price_band} despite a negative stand-alone profit"
    if q < q_std:
        cause = "the risk penalty" if p.risk_weight > 0 else "the budget"
        text += f"; stock cut from {q_std} to {q} units by {cause}"
    elif q == int(moq) and q_free < q:
        text += f"; stocked at the minimum order quantity (newsvendor stock {q_free})"
    return text


def _skip_reason(row, p: Params, cost: float, moq: float, q_std: int, v_std: float, q_free: int, v_free: float,
                 n_launched: int, remaining: float, budget: float, sub_count: Dict[Any, int]) -> str:
    if v_free <= 0:
        if q_free == 0:
            return ("not launched: negative expected profit; no stock level covers the unit cost "
                    f"and the launch cost of {p.launch_cost:.0f}")
        return f"not launched: negative expected profit (best stock {q_free} units earns {v_free:.0f})"
    if v_std <= 0:
        return (f"not launched: the minimum order quantity of {int(moq)} units turns expected profit "
                f"negative ({v_std:.0f}; {q_free} units would earn {v_free:.0f})")
    why = []
    if n_launched >= p.max_launches:
        why.append(f"lost to a better candidate under the shelf limit of {p.max_launches} launches")
    sub = row.get("subcategory")
    if p.max_per_subcategory > 0 and sub_count.get(sub, 0) >= p.max_per_subcategory:
        why.append(f"subcategory {sub!r} already has its maximum of {p.max_per_subcategory} launches")
    need = cost * q_std
    if remaining < need:
        why.append(f"budget-bound: {max(remaining, 0.0):.0f} of {budget:.0f} left, its {q_std} units need "
                   f"{need:.0f}")
    if not why:
        why.append("dropped by the CVaR risk penalty" if p.risk_weight > 0
                   else "a better use of budget and shelf exists within the MIP gap")
    return f"not launched (stand-alone expected profit {v_std:.0f}): " + "; ".join(why)


# ------------------------------------------------------------------ rows
def _base_row(row: Dict[str, Any]) -> Dict[str, Any]:
    price, cost = row.get("price"), row.get("unit_cost")
    margin = (price - cost) / price if _finite(price) and _finite(cost) and price > 0 else None
    band = row.get("price_band")
    hw = row.get("horizon_weeks")
    return {"plan_date": row.get("plan_date"), "category": row.get("category"),
            "candidate_id": row.get("candidate_id"), "subcategory": row.get("subcategory"),
            "price_band": None if not _finite(band) else int(band),
            "price": float(price) if _finite(price) else None,
            "unit_cost": float(cost) if _finite(cost) else None,
            "horizon_weeks": None if not _finite(hw) else int(hw), "margin_rate": margin}


def _skipped_row(c: _Cand, status: str, t0: float, reason: Optional[str] = None) -> Dict[str, Any]:
    r = _base_row(c.row)
    r.update(launch=False, quantity=0, spend=0.0, solver_status=status, reason=reason or c.problem,
             solve_time_s=time.perf_counter() - t0)
    if c.scen is not None:
        r["expected_demand"] = float(c.scen.mean())
    return r


def _status_row(pdf: pd.DataFrame, status: str, reason: str, t0: float) -> Dict[str, Any]:
    first = pdf.iloc[0]
    return {"plan_date": first.get("plan_date"), "category": first.get("category"), "candidate_id": None,
            "launch": False, "quantity": 0, "spend": 0.0, "solver_status": status, "reason": reason,
            "solve_time_s": time.perf_counter() - t0}


def _frame(rows: List[Dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    for col, dtype in _INT_COLUMNS.items():
        df[col] = df[col].astype(dtype)
    df["launch"] = df["launch"].astype(bool)
    return df
