"""evaluate: score the plan and its forecast against later sales; the stages' metrics in one place.

The simulator's side (debut.simulate.truth_eval) scores the same way against its truth.
"""
