"""Contract of gold.launch_outcomes: each policy's plan played against realised demand.

One row per plan_date x policy x candidate (key). ``demand_source`` says what the
demand was: "truth" (the simulator's candidate_demand.parquet: every candidate
live, unlimited stock), "play_forward" (the simulator replaying only the plan's
launched candidates, for the static vs adjusted closed loop) or "sales" (the
candidates' real first weeks in gold.launch_history; censored by stock). Rows of candidates
a policy did not launch have launched=false, quantity 0 and the candidate's
demand, so the oracle rows double as the per-candidate actuals.
"""
from __future__ import annotations

from debut.schemas import (LAUNCH_OUTCOMES, POLICY_ADJUSTED, POLICY_CEILING_ATTRIBUTES,  # noqa: F401
                           POLICY_CEILING_MEAN, POLICY_ORACLE, POLICY_PLAN, POLICY_STATIC)
