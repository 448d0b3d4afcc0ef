"""Pure scoring helpers of the evaluate job: the stock decision replayed on the forecast backtest."""
from __future__ import annotations

from typing import Dict

import numpy as np
import pandas as pd

from debut.core.launch_rules import critical_fractile
from debut.core.plan_outcomes import pct_of_oracle


def interpolate_quantile(q: float, levels, values) -> float:
    """Piecewise-linear quantile at level q from (levels, values), flat beyond the ends."""
    levels = np.asarray(levels, dtype=np.float64)
    values = np.maximum.accumulate(np.asarray(values, dtype=np.float64))
    return float(np.interp(q, levels, values))


def newsvendor_replay(bt: pd.DataFrame, *, salvage_rate: float, launch_cost: float) -> pd.DataFrame:
    """Replay the stock decision on backtest launches: order the critical-fractile quantile of the forecast.

    bt: one row per cutoff x past launch with actual, p10, p50, p90, price, unit_cost.
    Policies per launch: ``newsvendor`` (critical fractile of the P10/P50/P90 curve),
    ``p50`` (order the median) and ``oracle`` (order exactly what sold). Profit is
    price x min(q, actual) + salvage x leftover - cost x q - launch_cost.
    """
    rows = []
    for r in bt.to_dict("records"):
        price, cost = float(r["price"]), float(r["unit_cost"])
        salvage = salvage_rate * cost
        cf = critical_fractile(price, cost, salvage)
        qs = {"newsvendor": round(interpolate_quantile(cf, (0.1, 0.5, 0.9), (r["p10"], r["p50"], r["p90"]))),
              "p50": round(float(r["p50"])), "oracle": round(float(r["actual"]))}
        for policy, q in qs.items():
            q = max(int(q), 0)
            sold = min(q, float(r["actual"]))
            profit = price * sold + salvage * (q - sold) - cost * q - launch_cost
            rows.append({"cutoff_date": r["cutoff_date"], "item_id": r["item_id"], "policy": policy,
                         "quantity": q, "profit": profit})
    return pd.DataFrame(rows, columns=["cutoff_date", "item_id", "policy", "quantity", "profit"])


def replay_summary(replay: pd.DataFrame) -> Dict[tuple, float]:
    """record_metrics keys: profit_pct_oracle per cutoff and policy, and over all cutoffs."""
    out: Dict[tuple, float] = {}
    if replay.empty:
        return out
    for cutoff, g in list(replay.groupby("cutoff_date")) + [("all", replay)]:
        totals = g.groupby("policy")["profit"].sum()
        oracle = totals.get("oracle")
        n = int(g["item_id"].nunique())
        for policy in ("newsvendor", "p50"):
            if policy in totals:
                pct = pct_of_oracle(float(totals[policy]), oracle)
                if pct is not None:
                    label = f"policy={policy}" + ("" if cutoff == "all" else f",cutoff={cutoff}")
                    out[("replay_profit_pct_oracle", label, n)] = pct
    return out
