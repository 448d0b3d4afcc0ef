"""The closed loop: a launch plan played day by day against daily demand, static or adjusted.

Both policies see the same daily demand of each launched candidate (the
simulator's play_forward with unlimited stock: its demand draws do not depend
on stock). Sales on a day are min(demand, stock on hand).

static    the plan's quantity, nothing else; leftover salvaged at the end.
adjusted  the adjust rules (debut.core.launch_review, as adjust_launch) run at day early_days and then every
          review_every_days on what the item sold so far (a day that ended with
          no stock counts as censored). Their actions are applied:
          reorder   the units arrive lead_time_days after the review (their unit
                    cost plus a fixed reorder_cost per order);
          delist    no sales after the review; stock on hand is salvaged;
          markdown  from the next day the price is cut by markdown_discount and
                    daily demand is scaled by (1 + markdown_lift), rounded. The
                    simulator has no price response for a live item, so the lift
                    is an assumption taken from conf, not a measurement;
          breakout  flagged (and reordered like "reorder" when short).
          A marked-down or delisted item is not reviewed again.

Profit of a candidate = revenue - unit_cost x (quantity + reordered units)
- reorder_cost x orders - launch_cost + salvage_rate x unit_cost x leftover,
the same accounting as the optimizer's realised profit plus the reorders.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
import pandas as pd

from debut.core.launch_review import assess_item
from debut.config import AdjustConf

OUTCOME_COLUMNS = ["candidate_id", "category", "policy", "launched", "quantity", "reorder_units", "reorders",
                   "demand", "units_sold", "lost_units", "leftover", "revenue", "stock_cost", "fixed_cost",
                   "salvage", "profit", "actions"]


def _demand_matrix(demand: pd.DataFrame, ids: Sequence[str], horizon_days: int) -> np.ndarray:
    """candidate x day (1..horizon_days) matrix of units wanted; a missing day is 0."""
    out = np.zeros((len(ids), horizon_days), dtype=np.int64)
    if not len(ids) or demand.empty:
        return out
    pos = {c: i for i, c in enumerate(ids)}
    d = demand[demand["candidate_id"].isin(pos) & (demand["day"] >= 1) & (demand["day"] <= horizon_days)]
    rows = d["candidate_id"].map(pos).to_numpy()
    np.add.at(out, (rows, d["day"].to_numpy(dtype=np.int64) - 1), d["demand"].to_numpy(dtype=np.int64))
    return out


def _outcome(row: Mapping, policy: str, quantity: int, reorder_units: int, reorders: int, demand: int,
             sold: int, revenue: float, leftover: int, launch_cost: float, reorder_cost: float,
             salvage_rate: float, actions: str) -> Dict:
    cost = float(row["unit_cost"])
    stock_cost = cost * (quantity + reorder_units)
    fixed = launch_cost + reorder_cost * reorders
    salvage = salvage_rate * cost * leftover
    return {"candidate_id": row["candidate_id"], "category": row["category"], "policy": policy,
            "launched": True, "quantity": int(quantity), "reorder_units": int(reorder_units),
            "reorders": int(reorders), "demand": int(demand), "units_sold": int(sold),
            "lost_units": int(demand - sold), "leftover": int(leftover), "revenue": float(revenue),
            "stock_cost": stock_cost, "fixed_cost": fixed, "salvage": salvage,
            "profit": float(revenue - stock_cost - fixed + salvage), "actions": actions}


def play_static(plan: pd.DataFrame, demand: pd.DataFrame, horizon_days: int, *, launch_cost: float,
                salvage_rate: float, policy: str = "static") -> pd.DataFrame:
    """Outcome of each launched row of ``plan`` (candidate_id, category, quantity, price, unit_cost)."""
    ids = list(plan["candidate_id"])
    D = _demand_matrix(demand, ids, horizon_days)
    rows = []
    for i, row in enumerate(plan.to_dict("records")):
        q = int(row["quantity"])
        total = int(D[i].sum())
        sold = min(q, total)
        rows.append(_outcome(row, policy, q, 0, 0, total, sold, float(row["price"]) * sold, q - sold,
                             launch_cost, 0.0, salvage_rate, ""))
    return pd.DataFrame(rows, columns=OUTCOME_COLUMNS)


def review_days(horizon_days: int, conf: AdjustConf) -> List[int]:
    """Days (1-based, end of day) on which the adjust rules run."""
    return list(range(conf.early_days, horizon_days, conf.review_every_days))


def play_adjusted(plan: pd.DataFrame, demand: pd.DataFrame, weekly_p50: Mapping[str, Sequence[float]],
                  horizon_days: int, conf: AdjustConf, *, launch_cost: float, salvage_rate: float,
                  policy: str = "adjusted") -> Tuple[pd.DataFrame, pd.DataFrame]:
    """(outcomes, decisions): the plan played with the adjust rules applied at each review day."""
    ids = list(plan["candidate_id"])
    D = _demand_matrix(demand, ids, horizon_days)
    reviews = set(review_days(horizon_days, conf))
    outcomes, decisions = [], []
    for i, row in enumerate(plan.to_dict("records")):
        price, cost = float(row["price"]), float(row["unit_cost"])
        salvage_value = salvage_rate * cost
        stock = int(row["quantity"])
        arrivals: Dict[int, int] = {}
        sold_daily = np.zeros(horizon_days, dtype=np.int64)
        censored = np.zeros(horizon_days, dtype=bool)
        revenue, demand_total, reorder_units, reorders = 0.0, 0, 0, 0
        state, actions = "live", []
        for d in range(1, horizon_days + 1):
            stock += arrivals.pop(d, 0)
            want = int(D[i, d - 1])
            if state == "markdown":
                want = int(round(want * (1.0 + conf.markdown_lift)))
            demand_total += want
            if state != "delisted":
                sold = min(want, stock)
                stock -= sold
                sold_daily[d - 1] = sold
                censored[d - 1] = stock == 0
                unit_price = price * (1.0 - conf.markdown_discount) if state == "markdown" else price
                revenue += unit_price * sold
            if d in reviews and state == "live":
                pending = sum(arrivals.values())
                rec = assess_item(sold_daily[:d], censored[:d], weekly_p50.get(row["candidate_id"], []), horizon_days,
                                  stock + pending, price, cost, salvage_value, conf)
                rec.update({"candidate_id": row["candidate_id"], "category": row["category"], "day": d,
                            "stock_at_review": stock, "on_order": pending})
                decisions.append(rec)
                if rec["reorder_qty"] > 0:
                    due = d + conf.lead_time_days + 1
                    if due <= horizon_days:
                        arrivals[due] = arrivals.get(due, 0) + rec["reorder_qty"]
                        reorder_units += rec["reorder_qty"]
                        reorders += 1
                if rec["action"] in ("delist", "markdown"):
                    state = "delisted" if rec["action"] == "delist" else "markdown"
                if rec["action"] != "keep":
                    label = rec["action"] + (f" {rec['reorder_qty']}" if rec["reorder_qty"] else "")
                    actions.append(f"day {d}: {label}")
        leftover = stock + sum(arrivals.values())
        outcomes.append(_outcome(row, policy, int(row["quantity"]), reorder_units, reorders, demand_total,
                                 int(sold_daily.sum()), revenue, leftover, launch_cost, conf.reorder_cost,
                                 salvage_rate, "; ".join(actions)))
    return pd.DataFrame(outcomes, columns=OUTCOME_COLUMNS), pd.DataFrame(decisions)


def weekly_sums(daily: pd.DataFrame, value: str, horizon_days: int) -> Mapping[str, list]:
    """candidate_id -> list of weekly totals of ``value`` over days 1..horizon_days."""
    d = daily[(daily["day"] >= 1) & (daily["day"] <= horizon_days)].copy()
    d["week"] = (d["day"] - 1) // 7
    n_weeks = (horizon_days + 6) // 7
    out = {}
    for cid, g in d.groupby("candidate_id"):
        w = np.zeros(n_weeks, dtype=np.int64)
        np.add.at(w, g["week"].to_numpy(), g[value].to_numpy(dtype=np.int64))
        out[cid] = [int(x) for x in w]
    return out
