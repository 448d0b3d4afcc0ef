"""evaluate: score the plan, the forecast and the closed loop against the simulator's truth or later sales."""
