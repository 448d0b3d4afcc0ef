"""Reference plans and realised profit: how good is the optimizer's plan once true demand arrives?

* ``oracle_plan``: the same MILP and constraints, solved with each candidate's
  true units as a single deterministic scenario (the best any plan could do).
* ``naive_mean_plan``: launch every candidate, stock its mean forecast (scaled
  down together when that overspends the budget; it ignores the shelf limit).
* ``naive_p50_plan``: the same, at the forecast P50.
* ``naive_topk_plan``: the max_launches candidates with the largest forecast
  P50, the same number of units each, as many as the budget buys.
* ``scenario_plan`` / ``ceiling_scenarios``: the same MILP from a better-informed
  forecaster's scenarios (exact expected demand; expected demand given the
  attributes only), which bound what a better forecast could add.
* ``realised_profit``: price x min(D, q) + salvage x leftover - unit_cost x q -
  launch cost, with D the true units over the candidate's horizon.

All are pandas over one plan date (bounded by the number of candidates); the
evaluate job feeds them later sales, the simulator's evaluate_truth stage its
truth (debut.core.plan_outcomes is the path both share). Candidate frames are gold.launch_forecast rows; the short
names the evaluate job uses (p50 for units_p50, demand for the true units) are
accepted too.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

import numpy as np
import pandas as pd

from debut.core.category_plan import Params, optimize_category

POLICY_COLUMNS = ["plan_date", "category", "candidate_id", "price", "unit_cost", "horizon_weeks",
                  "launch", "quantity"]
NAIVE_MEAN, NAIVE_P50, NAIVE_TOPK = "naive_mean", "naive_p50", "naive_topk"


# ------------------------------------------------------------------ truth
def true_totals(true_units_pdf: pd.DataFrame, horizons: Optional[pd.DataFrame] = None) -> Dict[str, float]:
    """candidate_id -> true units. Weekly truth (candidate_id, week, units) is totalled over weeks
    1..horizon_weeks of each candidate (``horizons``: candidate_id, horizon_weeks; all weeks when
    absent or null); totals given as ``true_units`` or ``demand`` are taken as they are."""
    for col in ("true_units", "demand"):
        if col in true_units_pdf.columns and "week" not in true_units_pdf.columns:
            return true_units_pdf.set_index("candidate_id")[col].astype(float).to_dict()
    t = true_units_pdf
    if horizons is not None and "horizon_weeks" in horizons.columns:
        h = horizons[["candidate_id", "horizon_weeks"]].drop_duplicates("candidate_id")
        t = t.merge(h, on="candidate_id", how="left")
        t = t[t["horizon_weeks"].isna() | (t["week"] <= t["horizon_weeks"])]
    return t.groupby("candidate_id")["units"].sum().astype(float).to_dict()


# ------------------------------------------------------------------ plans
def _per_category(candidates_pdf: pd.DataFrame, fn) -> pd.DataFrame:
    keys = [k for k in ("plan_date", "category") if k in candidates_pdf.columns]
    parts = [fn(g) for _, g in candidates_pdf.groupby(keys, sort=True, dropna=False)]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=POLICY_COLUMNS)
    with warnings.catch_warnings():      # all-null columns (no plan_date, no status row values) are expected
        warnings.simplefilter("ignore", FutureWarning)
        return pd.concat(parts, ignore_index=True)


def _with_plan_date(candidates_pdf: pd.DataFrame) -> pd.DataFrame:
    return candidates_pdf if "plan_date" in candidates_pdf.columns else candidates_pdf.assign(plan_date=None)


def optimized_plan(forecast_pdf: pd.DataFrame, conf: Any) -> pd.DataFrame:
    """The optimizer's plan, category by category on the driver (the job does the same on Spark)."""
    p = Params.of(conf)
    return _per_category(forecast_pdf, lambda g: optimize_category(g, p))


def oracle_plan(candidates_pdf: pd.DataFrame, truth_or_conf: Any, conf: Any = None) -> pd.DataFrame:
    """The plan that knows true demand: the same MILP and constraints, one scenario = the true units.

    ``oracle_plan(forecast, truth, conf)`` with weekly truth (or totals), or
    ``oracle_plan(candidates, conf)`` when the candidates carry their true units in ``demand``.
    Returns PLAN_SCHEMA rows; a candidate without truth is not planned.
    """
    if conf is None:
        conf, truth = truth_or_conf, candidates_pdf[["candidate_id", "demand"]]
    else:
        truth = truth_or_conf
    totals = true_totals(truth, candidates_pdf)
    return scenario_plan(candidates_pdf, {cid: np.array([u]) for cid, u in totals.items()}, conf)


def scenario_plan(candidates_pdf: pd.DataFrame, scenarios: Dict[str, np.ndarray], conf: Any) -> pd.DataFrame:
    """The optimizer's plan from given demand scenarios (candidate_id -> array of units) instead of
    the forecast's: the reference plans of a forecaster that knew more than ours."""
    p = Params.of(conf)
    return _per_category(_with_plan_date(candidates_pdf), lambda g: optimize_category(g, p, demand=scenarios))


def ceiling_scenarios(expected: np.ndarray, n_scenarios: int, seed: int,
                      noise_values: Optional[np.ndarray] = None, noise_sd: float = 0.0) -> np.ndarray:
    """(candidates x n_scenarios) Poisson demand draws around expected totals.

    ``expected`` is (candidates,) — a forecaster that knew each candidate's
    exact expected demand — or (candidates x len(noise_values)), the expected
    totals at those values of the unlearnable appeal: each scenario then draws
    the appeal noise ~ N(0, noise_sd), interpolates log expected units between
    the values, and draws Poisson units (the best forecast from attributes).
    """
    rng = np.random.default_rng(seed)
    e = np.asarray(expected, dtype=np.float64)
    if e.ndim == 1:
        lam = np.repeat(e[:, None], n_scenarios, axis=1)
    else:
        v = rng.normal(0.0, noise_sd, (len(e), n_scenarios))
        log_e = np.log(np.maximum(e, 1e-9))
        lam = np.exp(np.stack([np.interp(v[i], noise_values, log_e[i]) for i in range(len(e))])) \
            if len(e) else np.zeros((0, n_scenarios))
    return rng.poisson(np.maximum(lam, 0.0)).astype(np.float64)


def _policy_frame(g: pd.DataFrame, launch: np.ndarray, qty: np.ndarray) -> pd.DataFrame:
    out = g[[c for c in POLICY_COLUMNS if c in g.columns and c not in ("launch", "quantity")]].copy()
    qty = np.asarray(qty, dtype=np.float64)
    out["launch"] = np.asarray(launch, dtype=bool) & (qty > 0)
    out["quantity"] = np.where(out["launch"], qty, 0).astype(np.int64)
    return out.reset_index(drop=True)


def _plannable(g: pd.DataFrame) -> pd.DataFrame:
    ok = g["candidate_id"].notna() & (g["price"] > 0) & (g["unit_cost"] >= 0)
    return g[ok].drop_duplicates("candidate_id")


def _column(g: pd.DataFrame, *names: str) -> np.ndarray:
    for name in names:
        if name in g.columns:
            return g[name].fillna(0.0).to_numpy(dtype=np.float64)
    raise ValueError(f"candidates lack a forecast column (one of {', '.join(names)})")


def naive_mean_plan(candidates_pdf: pd.DataFrame, conf: Any) -> pd.DataFrame:
    """Launch everything at its mean forecast (P50 when no mean is given); scale all stock
    down together to fit the category budget. Ignores the shelf limit."""
    return _launch_all(candidates_pdf, conf, ("mean_units", "units_p50", "p50"))


def naive_p50_plan(candidates_pdf: pd.DataFrame, conf: Any) -> pd.DataFrame:
    """Launch everything at its forecast P50, scaled down together like ``naive_mean_plan``."""
    return _launch_all(candidates_pdf, conf, ("units_p50", "p50"))


def _launch_all(candidates_pdf: pd.DataFrame, conf: Any, columns) -> pd.DataFrame:
    p = Params.of(conf)

    def one(g: pd.DataFrame) -> pd.DataFrame:
        g = _plannable(g)
        if g.empty:
            return g
        q = np.rint(_column(g, *columns))
        spend = float((q * g["unit_cost"].to_numpy(dtype=float)).sum())
        budget = p.budget(str(g["category"].iloc[0]))
        if spend > budget:
            q = np.floor(q * budget / spend)
        return _policy_frame(g, np.ones(len(g), dtype=bool), q)
    return _per_category(candidates_pdf, one)


def naive_topk_plan(candidates_pdf: pd.DataFrame, conf: Any) -> pd.DataFrame:
    """The max_launches largest forecast P50s, the same units each, as many as the budget buys."""
    p = Params.of(conf)

    def one(g: pd.DataFrame) -> pd.DataFrame:
        g = _plannable(g)
        if g.empty:
            return g
        g = g.assign(_p50=_column(g, "units_p50", "p50")).sort_values(["_p50", "candidate_id"],
                                                                      ascending=[False, True])
        top = np.arange(len(g)) < p.max_launches
        cost = float(g["unit_cost"].to_numpy(dtype=float)[top].sum())
        each = np.floor(p.budget(str(g["category"].iloc[0])) / cost) if cost > 0 else 0.0
        return _policy_frame(g.drop(columns="_p50"), top, np.where(top, each, 0.0))
    return _per_category(candidates_pdf, one)


def baseline_plans(candidates_pdf: pd.DataFrame, conf: Any) -> Dict[str, pd.DataFrame]:
    """The naive policies by name: {"naive_mean": ..., "naive_p50": ..., "naive_topk": ...}."""
    return {NAIVE_MEAN: naive_mean_plan(candidates_pdf, conf), NAIVE_P50: naive_p50_plan(candidates_pdf, conf),
            NAIVE_TOPK: naive_topk_plan(candidates_pdf, conf)}


# ------------------------------------------------------------------ outcome
def realised_profit(plan_pdf: pd.DataFrame, true_units_pdf: pd.DataFrame, conf_or_candidates: Any,
                    conf: Any = None) -> pd.DataFrame:
    """Per planned candidate: the plan played against true demand.

    ``realised_profit(plan, truth, conf)``, or ``realised_profit(plan, truth, candidates, conf)``
    when the plan lacks category / price / unit_cost / horizon_weeks (taken from ``candidates``).
    ``truth``: weekly (candidate_id, week, units), totalled over each candidate's horizon, or
    totals (candidate_id, true_units | demand). A candidate without truth has no demand.
    Category status rows of a plan (no candidate_id) are dropped. Returns candidate_id, category,
    launch, launched, quantity, demand, units_sold, lost_units, leftover, revenue, stock_cost,
    fixed_cost, salvage, profit.
    """
    if conf is None:
        conf, candidates = conf_or_candidates, None
    else:
        candidates = conf_or_candidates
    p = Params.of(conf)
    plan = plan_pdf[plan_pdf["candidate_id"].notna()].copy()
    if candidates is not None:
        extra = [c for c in ("category", "price", "unit_cost", "horizon_weeks")
                 if c in candidates.columns and c not in plan.columns]
        plan = plan.merge(candidates[["candidate_id"] + extra].drop_duplicates("candidate_id"),
                          on="candidate_id", how="left")
    totals = true_totals(true_units_pdf, plan if "horizon_weeks" in plan.columns else None)
    d = plan["candidate_id"].map(totals).fillna(0.0).to_numpy(dtype=np.float64)
    launch = plan["launch"].fillna(False).to_numpy(dtype=bool)
    q = np.where(launch, plan["quantity"].fillna(0).to_numpy(dtype=np.float64), 0.0)
    price = plan["price"].to_numpy(dtype=np.float64)
    cost = plan["unit_cost"].to_numpy(dtype=np.float64)
    sold = np.minimum(d, q)
    left = q - sold
    out = pd.DataFrame({"candidate_id": plan["candidate_id"].to_numpy(),
                        "category": plan["category"].to_numpy() if "category" in plan.columns else None,
                        "launch": launch, "launched": launch, "quantity": q.astype(np.int64),
                        "demand": np.rint(d).astype(np.int64), "units_sold": np.rint(sold).astype(np.int64),
                        "lost_units": np.rint(d - sold).astype(np.int64), "leftover": np.rint(left).astype(np.int64),
                        "revenue": price * sold, "stock_cost": cost * q,
                        "fixed_cost": np.where(launch, p.launch_cost, 0.0),
                        "salvage": p.salvage_rate * cost * left})
    out["profit"] = out["revenue"] + out["salvage"] - out["stock_cost"] - out["fixed_cost"]
    return out


def compare_policies(forecast_pdf: pd.DataFrame, truth_pdf: pd.DataFrame, conf: Any,
                     plan_pdf: Optional[pd.DataFrame] = None) -> pd.DataFrame:
    """Realised profit per category and policy (optimized, oracle, naive_mean, naive_topk), with
    pct_of_oracle, plus an "ALL" row per policy. ``plan_pdf``: the optimizer's plan
    (gold.launch_plan) when already computed, else it is solved here on the driver."""
    plans = {"optimized": optimized_plan(forecast_pdf, conf) if plan_pdf is None else plan_pdf,
             "oracle": oracle_plan(forecast_pdf, truth_pdf, conf)}
    plans.update(baseline_plans(forecast_pdf, conf))
    frames = []
    for name, plan in plans.items():
        r = realised_profit(plan, truth_pdf, forecast_pdf, conf)
        agg = r.groupby("category", sort=True).agg(
            profit=("profit", "sum"), launches=("launch", "sum"), units=("quantity", "sum"),
            units_sold=("units_sold", "sum"), demand=("demand", "sum")).reset_index()
        agg.insert(0, "policy", name)
        frames.append(agg)
    out = pd.concat(frames, ignore_index=True)
    total = (out.groupby("policy", sort=False)[["profit", "launches", "units", "units_sold", "demand"]].sum()
             .reset_index().assign(category="ALL"))
    out = pd.concat([out, total[out.columns]], ignore_index=True)
    oracle = out[out["policy"] == "oracle"].set_index("category")["profit"]
    base = out["category"].map(oracle)
    out["pct_of_oracle"] = np.where(base > 0, 100.0 * out["profit"] / base.where(base > 0, 1.0), np.nan)
    return out
