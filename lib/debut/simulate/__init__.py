"""A seeded marketplace simulator with hidden truth.

`generate(sim_conf, landing_dir, truth_dir, run_date)` writes the landing files
(the contract in debut.schemas) for the `days` days before run_date plus the
truth that only the simulator's side reads (its evaluate_truth stage, truth_eval.py); `Marketplace.play_forward` plays a launch plan
forward with the same behaviour model. `debut.simulate.job.run` is the job.
"""
from debut.simulate.generate import generate
from debut.simulate.market import Marketplace

__all__ = ["generate", "Marketplace"]
